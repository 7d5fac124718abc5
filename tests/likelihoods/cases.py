"""Every concrete likelihood family with parameters and an independent numpy/scipy oracle.

Add a family here and every invariant in ``test_families.py`` runs on it.
"""

import dataclasses
from collections.abc import Callable
from typing import Any

import jax.numpy as jnp
import numpy as np
import scipy.integrate
import scipy.special
import scipy.stats

from scribe.likelihoods import (
    CaptureParams,
    LNMParams,
    LogisticNormalMultinomial,
    Mixture,
    MixtureParams,
    NBLogMeanParams,
    NBParams,
    NegativeBinomial,
    NegativeBinomialLogMean,
    PoissonBeta,
    PoissonBetaParams,
    PoissonLogRate,
    PoissonParams,
    VariableCapture,
    ZeroInflated,
    ZIParams,
)


@dataclasses.dataclass(frozen=True)
class Case:
    """A family, a parameter draw (numpy float64 leaves) and its oracle."""

    name: str
    likelihood: Any
    draw: Callable[[np.random.Generator, int, int], Any]
    oracle: Callable[[np.ndarray, Any], np.ndarray]
    per_cell: bool = False  # log_prob reduces over genes
    max_sample_mean: float = 50.0


def cast(params, dtype):
    """Numpy float64 parameter pytree -> jax arrays of ``dtype``."""
    import jax

    return jax.tree.map(lambda x: jnp.asarray(x, dtype=dtype), params)


# ---- oracles -------------------------------------------------------------------------


def nb_oracle(u, r, p):
    return scipy.stats.nbinom.logpmf(u, r, 1.0 - p)


def thinned_nb_oracle(u, r, p, nu):
    """``Σ_m NB(m | r, p) Binomial(u | m, ν)``: binomial thinning summed directly."""
    u, r, p, nu = np.broadcast_arrays(u, r, p, nu)
    out = np.empty(u.shape)
    for idx in np.ndindex(u.shape):
        m = np.arange(u[idx], u[idx] + 4000)
        terms = scipy.stats.nbinom.logpmf(m, r[idx], 1 - p[idx]) + scipy.stats.binom.logpmf(
            u[idx], m, nu[idx]
        )
        out[idx] = scipy.special.logsumexp(terms)
    return out


def zi_oracle(u, base_logpmf, gate):
    pmf = (1 - gate) * np.exp(base_logpmf) + gate * (u == 0)
    return np.log(pmf)


def poisson_beta_oracle(u, rate, alpha, beta):
    """``∫ Poisson(u | rate x) Beta(x | α, β) dx`` by adaptive quadrature (QUADPACK)."""
    u, rate, alpha, beta = np.broadcast_arrays(u, rate, alpha, beta)
    out = np.empty(u.shape)
    for idx in np.ndindex(u.shape):
        k, lam, a, b = u[idx], rate[idx], alpha[idx], beta[idx]
        mode = min(max(k / lam, 1e-12), 1.0)
        shift = k * np.log(lam * mode) - lam * mode if k > 0 else 0.0

        def integrand(x, k=k, lam=lam, shift=shift):
            return np.exp(scipy.special.xlogy(k, lam * x) - lam * x - shift)

        value, _ = scipy.integrate.quad(
            integrand,
            0,
            1,
            weight="alg",
            wvar=(a - 1, b - 1),
            limit=200,
            epsabs=0,
            epsrel=1e-12,
            points=None,
        )
        out[idx] = (
            np.log(value) + shift - scipy.special.gammaln(k + 1) - scipy.special.betaln(a, b)
        )
    return out


# ---- parameter draws (2-D leaves broadcasting to (cells, genes)) -----------------------


def _r(rng, g):
    return rng.uniform(0.3, 5.0, size=(1, g))


def _p(rng):
    return rng.uniform(0.2, 0.8, size=(1, 1))


def _gate(rng, g):
    return rng.uniform(0.05, 0.5, size=(1, g))


def _capture(rng, c):
    return rng.uniform(0.2, 0.9, size=(c,))


def _pb(rng, c, g):
    return PoissonBetaParams(
        rate=rng.uniform(2.0, 30.0, size=(1, g)),
        alpha=rng.uniform(0.3, 3.0, size=(1, g)),
        beta=rng.uniform(0.3, 3.0, size=(1, g)),
    )


def _mixture_draw(rng, c, g):
    k = 3
    return MixtureParams(
        components=NBParams(
            r=rng.uniform(0.3, 5.0, size=(k, 1, g)), p=rng.uniform(0.2, 0.8, size=(k, 1, 1))
        ),
        weights=rng.dirichlet(np.ones(k)),
    )


def _mixture_oracle(u, params):
    per = np.stack(
        [
            nb_oracle(u, params.components.r[k], params.components.p[k]).sum(axis=1)
            for k in range(params.weights.shape[0])
        ]
    )
    return scipy.special.logsumexp(per + np.log(params.weights)[:, None], axis=0)


def _lnm_draw(rng, c, g):
    return LNMParams(
        total=NBParams(r=rng.uniform(2.0, 6.0, size=(1, 1)), p=rng.uniform(0.8, 0.95, (1, 1))),
        alr=rng.normal(0.0, 1.0, size=(c, g - 1)),
    )


def _lnm_oracle(u, params, reference=1):
    alr = params.alr
    full = np.concatenate([alr[:, :reference], np.zeros((alr.shape[0], 1)), alr[:, reference:]], 1)
    rho = scipy.special.softmax(full, axis=1)
    total = u.sum(axis=1)
    composition = np.array(
        [scipy.stats.multinomial.logpmf(u[i], total[i], rho[i]) for i in range(u.shape[0])]
    )
    return composition + nb_oracle(total, params.total.r[0, 0], params.total.p[0, 0])


CASES = [
    Case(
        "NegativeBinomial",
        NegativeBinomial(),
        lambda rng, c, g: NBParams(r=_r(rng, g), p=_p(rng)),
        lambda u, q: nb_oracle(u, q.r, q.p),
    ),
    Case(
        "NegativeBinomial[gene p]",
        NegativeBinomial(),
        lambda rng, c, g: NBParams(r=_r(rng, g), p=rng.uniform(0.2, 0.8, size=(1, g))),
        lambda u, q: nb_oracle(u, q.r, q.p),
    ),
    Case(
        "NegativeBinomialLogMean",
        NegativeBinomialLogMean(),
        lambda rng, c, g: NBLogMeanParams(r=_r(rng, g), log_mean=rng.normal(1.0, 1.0, (c, g))),
        lambda u, q: scipy.stats.nbinom.logpmf(u, q.r, q.r / (q.r + np.exp(q.log_mean))),
    ),
    Case(
        "PoissonLogRate",
        PoissonLogRate(),
        lambda rng, c, g: PoissonParams(log_rate=rng.normal(1.0, 1.0, (c, g))),
        lambda u, q: scipy.stats.poisson.logpmf(u, np.exp(q.log_rate)),
    ),
    Case(
        "PoissonBeta",
        PoissonBeta(),
        _pb,
        lambda u, q: poisson_beta_oracle(u, q.rate, q.alpha, q.beta),
    ),
    Case(
        "ZeroInflated(NB)",
        ZeroInflated(NegativeBinomial()),
        lambda rng, c, g: ZIParams(base=NBParams(r=_r(rng, g), p=_p(rng)), gate=_gate(rng, g)),
        lambda u, q: zi_oracle(u, nb_oracle(u, q.base.r, q.base.p), q.gate),
    ),
    Case(
        "ZeroInflated(PoissonBeta)",
        ZeroInflated(PoissonBeta()),
        lambda rng, c, g: ZIParams(base=_pb(rng, c, g), gate=_gate(rng, g)),
        lambda u, q: zi_oracle(
            u, poisson_beta_oracle(u, q.base.rate, q.base.alpha, q.base.beta), q.gate
        ),
    ),
    Case(
        "VariableCapture(NB)",
        VariableCapture(NegativeBinomial()),
        lambda rng, c, g: CaptureParams(NBParams(r=_r(rng, g), p=_p(rng)), _capture(rng, c)),
        lambda u, q: thinned_nb_oracle(u, q.base.r, q.base.p, q.capture[:, None]),
    ),
    Case(
        "VariableCapture(ZeroInflated(NB))",
        VariableCapture(ZeroInflated(NegativeBinomial())),
        lambda rng, c, g: CaptureParams(
            ZIParams(NBParams(r=_r(rng, g), p=_p(rng)), _gate(rng, g)), _capture(rng, c)
        ),
        lambda u, q: zi_oracle(
            u, thinned_nb_oracle(u, q.base.base.r, q.base.base.p, q.capture[:, None]), q.base.gate
        ),
    ),
    Case(
        "VariableCapture(PoissonBeta)",
        VariableCapture(PoissonBeta()),
        lambda rng, c, g: CaptureParams(_pb(rng, c, g), _capture(rng, c)),
        lambda u, q: poisson_beta_oracle(
            u, q.base.rate * q.capture[:, None], q.base.alpha, q.base.beta
        ),
    ),
    Case(
        "VariableCapture(PoissonLogRate)",
        VariableCapture(PoissonLogRate()),
        lambda rng, c, g: CaptureParams(
            PoissonParams(log_rate=rng.normal(1.0, 1.0, (c, g))), _capture(rng, c)
        ),
        lambda u, q: scipy.stats.poisson.logpmf(u, np.exp(q.base.log_rate) * q.capture[:, None]),
    ),
    Case("Mixture(NB, 3)", Mixture(NegativeBinomial(), 3), _mixture_draw, _mixture_oracle, True),
    Case(
        "LogisticNormalMultinomial",
        LogisticNormalMultinomial(reference_gene=1),
        _lnm_draw,
        _lnm_oracle,
        True,
    ),
]
