"""The density NUTS targets equals an independent reference, for every model and
parameterization MCMC fits.

Each reference is a numpyro model of the priors, written here with MATH.md's maps by hand
(not scribe's parameterization maps) as deterministic sites; numpyro's
``potential_energy`` at the same unconstrained point (numpyro maps Beta, BetaPrime and
LogNormal sites through the sigmoid and exp, as scribe does) gives the priors with their
Jacobians, and scipy adds the likelihood at the deterministic sites: ``scipy.stats.nbinom``
(numpyro's own NegativeBinomialProbs is 1e-8 off in float64 here) with a zero-inflation
mixture written out, and ``scipy.integrate.quad`` of the Poisson-Beta mixture for the
two-state models. The sum must equal ``log_density`` to 1e-10 (1e-8 with quadrature).
"""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist
import pytest
import scipy.integrate
import scipy.stats
from numpyro.infer.util import constrain_fn, potential_energy

from scribe.data import load_counts
from scribe.inference._mcmc import Position, log_density
from scribe.model import ScribeModel
from scribe.parameterizations import BetaPrime, get_parameterization

N_CELLS, N_GENES = 7, 3
NB_CASES = list(
    itertools.product(
        ("nbdm", "zinb", "nbvcp", "zinbvcp"), ("canonical", "mean_prob", "mean_odds")
    )
)
TWO_STATE_CASES = list(
    itertools.product(
        ("twostate", "twostatevcp"),
        ("two_state_natural", "two_state_ratio", "two_state_mean_fano", "two_state_moment_delta"),
    )
)


def _counts() -> np.ndarray:
    counts = np.random.default_rng(3).negative_binomial(2.0, 0.4, (N_CELLS, N_GENES))
    counts[0, :] = 0  # an all-zero cell and many zeros: the sparse path's closed form
    counts[1, 0] = 40
    return counts


def _nb_reference(model: str, parameterization: str):
    """numpyro's NB-family priors; r, each cell's p̂ and the gate as deterministic sites."""

    def reference():
        lognormal = dist.LogNormal(0.0, 1.0)
        if parameterization == "canonical":
            p = numpyro.sample("p", dist.Beta(1.0, 1.0))
            r = numpyro.sample("r", lognormal.expand([N_GENES]).to_event(1))
        elif parameterization == "mean_prob":
            p = numpyro.sample("p", dist.Beta(1.0, 1.0))
            mu = numpyro.sample("mu", lognormal.expand([N_GENES]).to_event(1))
            r = mu * (1 - p) / p
        else:
            phi = numpyro.sample("phi", BetaPrime(1.0, 1.0))
            mu = numpyro.sample("mu", lognormal.expand([N_GENES]).to_event(1))
            p, r = 1 / (1 + phi), mu * phi
        probs = jnp.full((N_CELLS, 1), p)
        if model.endswith("vcp"):
            with numpyro.plate("cells", N_CELLS):
                if parameterization == "mean_odds":
                    nu = 1 / (1 + numpyro.sample("phi_capture", BetaPrime(1.0, 1.0)))
                else:
                    nu = numpyro.sample("p_capture", dist.Beta(1.0, 1.0))
            probs = p * nu[:, None] / (1 - p + p * nu[:, None])
        numpyro.deterministic("natural_r", r)
        numpyro.deterministic("natural_probs", probs)
        gate = jnp.zeros(N_GENES)
        if model.startswith("zi"):
            gate = numpyro.sample("gate", dist.Beta(1.0, 9.0).expand([N_GENES]).to_event(1))
        numpyro.deterministic("natural_gate", gate)

    return reference


def _nb_log_likelihood(counts, sites) -> float:
    r, probs, gate = (np.asarray(sites[f"natural_{n}"]) for n in ("r", "probs", "gate"))
    # scipy's nbinom counts failures with success probability 1 - p (numpyro's probs = p)
    nb = np.exp(scipy.stats.nbinom.logpmf(counts, r[None, :], 1 - probs))
    return float(np.sum(np.log(gate * (counts == 0) + (1 - gate) * nb)))


def _two_state_prior(model: str, parameterization: str):
    """numpyro's two-state priors (the likelihood is added by quadrature)."""
    names = get_parameterization(parameterization).sampled

    def reference():
        for name in names:
            lognormal = dist.LogNormal(0.0, 1.0).expand([N_GENES]).to_event(1)
            prior = dist.Beta(1.0, 1.0).expand([N_GENES]).to_event(1)
            numpyro.sample(name, prior if name == "delta" else lognormal)
        if model.endswith("vcp"):
            with numpyro.plate("cells", N_CELLS):
                numpyro.sample("p_capture", dist.Beta(1.0, 1.0))

    return reference


def _two_state_natural(parameterization: str, v: dict) -> tuple:
    """(rate, alpha, beta) from the sampled values: MATH.md's maps."""
    mu = v["mu"]
    if parameterization == "two_state_natural":
        return mu + v["b"] * v["k_off"], mu / v["b"], v["k_off"]
    if parameterization == "two_state_ratio":
        k_on = mu / v["b"]
        return mu * (1 + v["s"]), k_on, v["s"] * k_on
    if parameterization == "two_state_mean_fano":
        d = mu + v["F"] * (v["kappa"] + 1)
        return d, v["kappa"] * mu / d, v["kappa"] * v["F"] * (v["kappa"] + 1) / d
    d = mu * v["delta"] + v["F"]
    return d / v["delta"], mu * (1 - v["delta"]) / d, v["F"] * (1 - v["delta"]) / (v["delta"] * d)


def _poisson_beta_log_pmf(u: int, rate: float, alpha: float, beta: float) -> float:
    def integrand(x):
        return scipy.stats.poisson.pmf(u, rate * x) * scipy.stats.beta.pdf(x, alpha, beta)

    value, _ = scipy.integrate.quad(integrand, 0, 1, limit=200, epsabs=0, epsrel=1e-11)
    return float(np.log(value))


def _point(model: ScribeModel, key) -> tuple[Position, dict]:
    """A random unconstrained position and the same values by numpyro site name."""
    sites = {n: s for n, s in model.global_shapes.items()}
    if model.capture is not None:
        sites |= {n: (N_CELLS,) for n in model.local_priors}
    keys = jax.random.split(key, len(sites))
    values = {
        n: 0.7 * jax.random.normal(k, s) for (n, s), k in zip(sites.items(), keys, strict=True)
    }
    table = None
    if model.capture is not None:
        from scribe.encoders import PointEncoder

        names = tuple(model.local_priors)
        table = PointEncoder(names, {n: values[n] for n in names}, positive_transform="exp")
    globals_ = {n: values[n] for n in model.global_shapes}
    return Position(globals_=globals_, locals_=table), values


@pytest.mark.parametrize(("model_name", "parameterization"), NB_CASES + TWO_STATE_CASES)
def test_log_density_is_numpyros_negative_potential(model_name, parameterization):
    counts = _counts()
    with jax.enable_x64(True):
        model = ScribeModel(
            model_name,
            get_parameterization(parameterization),
            n_cells=N_CELLS,
            n_genes=N_GENES,
        )
        batch = load_counts(counts).to_device(dtype=jnp.float64).full_batch()
        position, values = _point(model, jax.random.key(len(model_name) + len(parameterization)))
        ours = float(log_density(model, batch, position))
        # numpyro's Beta stacks its concentrations against a lower-rank array
        allow = jax.numpy_rank_promotion("allow")
        if model_name.startswith("twostate"):
            reference = _two_state_prior(model_name, parameterization)
            with allow:
                theirs = -float(potential_energy(reference, (), {}, values))
            constrained = {
                n: np.asarray(get_parameterization(parameterization).unconstrained_transform(n)(v))
                for n, v in values.items()
                if n != "p_capture"
            }
            rate, alpha, beta = _two_state_natural(parameterization, constrained)
            nu = (
                scipy.special.expit(np.asarray(values["p_capture"]))
                if "p_capture" in values
                else np.ones(N_CELLS)
            )
            theirs += sum(
                _poisson_beta_log_pmf(counts[c, g], rate[g] * nu[c], alpha[g], beta[g])
                for c in range(N_CELLS)
                for g in range(N_GENES)
            )
        else:
            reference = _nb_reference(model_name, parameterization)
            with allow:
                theirs = -float(potential_energy(reference, (), {}, values))
            with allow:
                sites = constrain_fn(reference, (), {}, values, return_deterministic=True)
            theirs += _nb_log_likelihood(counts, sites)
    # quad's relative error bound 1e-11 per entry, and float64 rounding otherwise
    tolerance = 1e-8 if model_name.startswith("twostate") else 1e-10
    np.testing.assert_allclose(ours, theirs, rtol=tolerance)
