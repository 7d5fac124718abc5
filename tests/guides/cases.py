"""Every concrete guide on one small spec set, with independent numpy/scipy oracles.

Add a guide to ``GUIDES`` and every invariant in ``test_invariants.py`` runs on it.
"""

import jax
import numpy as np
import numpyro.distributions as dist
import scipy.special
import scipy.stats

from scribe.guides import (
    JointLowRank,
    LowRank,
    MeanFieldConstrained,
    MeanFieldUnconstrained,
    ParamSpec,
)
from scribe.guides._factors import BetaFactor, LowRankNormalFactor, NormalFactor
from scribe.parameterizations import BetaPrime

SPECS = (
    ParamSpec(name="p", shape=()),
    ParamSpec(name="r", shape=(5,)),
    ParamSpec(name="mu", shape=(5,), transform="exp"),
    ParamSpec(name="phi", shape=(5,)),
    ParamSpec(name="gate", shape=(5,)),
)
INIT = {
    "p": 0.3,
    "r": np.array([0.5, 1.0, 2.0, 5.0, 20.0]),
    "mu": np.array([0.1, 1.0, 3.0, 30.0, 300.0]),
    "phi": np.array([0.2, 0.5, 1.0, 1.5, 2.0]),
    "gate": np.array([0.02, 0.1, 0.3, 0.6, 0.9]),
}

# name -> builder(specs, init); the names double as test ids.
GUIDES = {
    "MeanFieldConstrained": lambda specs, init: MeanFieldConstrained(specs, init),
    "MeanFieldUnconstrained": lambda specs, init: MeanFieldUnconstrained(specs, init),
    "LowRank": lambda specs, init: LowRank(specs, 2, init),
    "JointLowRank": lambda specs, init: JointLowRank(specs, ("mu", "phi"), 3, init),
}
CONCRETE = (MeanFieldConstrained, MeanFieldUnconstrained, LowRank, JointLowRank)


def perturbed(guide, seed: int = 0, size: float = 0.3):
    """The guide with every variational parameter moved by ``size`` N(0, 1) noise.

    Starting values are too regular (equal scales, tiny low-rank factors) for an oracle
    comparison to catch a mix-up between parameters. Gaussian scales are also widened
    from 0.1 to about 0.7, so that E[f] depends on them strongly enough for their
    gradients to stand out of the Monte Carlo noise.
    """
    rng = np.random.default_rng(seed)

    def move(path, x):
        widen = 1.0 if path[-1].name == "raw_scale" else 0.0
        return x + widen + size * rng.standard_normal(np.shape(x))

    return jax.tree_util.tree_map_with_path(move, guide)


# ---- oracles -------------------------------------------------------------------------


def _softplus(x):
    return np.logaddexp(0.0, x)


def unconstrained(bijection: str, y):
    """Inverse of the bijection and ``log |dz/dy|``, written out in numpy."""
    y = np.asarray(y, dtype=np.float64)
    if bijection == "sigmoid":
        return scipy.special.logit(y), -np.log(y) - np.log1p(-y)
    if bijection == "softplus":
        return np.log(np.expm1(y)), -np.log(-np.expm1(-y))
    if bijection == "exp":
        return np.log(y), -np.log(y)
    raise AssertionError(bijection)


def _factor_oracle(factor, values) -> np.ndarray:
    """log q of a batch of draws (leading axis) under one factor, in scipy."""
    if isinstance(factor, BetaFactor):
        name = factor.spec.name
        a = np.exp(np.asarray(factor.log_concentration1))
        b = np.exp(np.asarray(factor.log_concentration0))
        family = scipy.stats.betaprime if factor.odds else scipy.stats.beta
        lp = family.logpdf(np.asarray(values[name]), a, b)
        return lp.reshape(lp.shape[0], -1).sum(-1)
    if isinstance(factor, NormalFactor):
        loc, scale = np.asarray(factor.loc), _softplus(np.asarray(factor.raw_scale))
        y = np.asarray(values[factor.spec.name])
        if factor.bijection == "exp":
            lp = scipy.stats.lognorm.logpdf(y, s=scale, scale=np.exp(loc))
        else:
            z, log_dz_dy = unconstrained(factor.bijection, y)
            lp = scipy.stats.norm.logpdf(z, loc, scale) + log_dz_dy
        return lp.reshape(lp.shape[0], -1).sum(-1)
    assert isinstance(factor, LowRankNormalFactor)
    w = np.asarray(factor.cov_factor)
    cov = w @ w.T + np.diag(_softplus(np.asarray(factor.raw_scale)) ** 2)
    blocks = [unconstrained(s.bijection, values[s.name]) for s in factor.specs]
    n = blocks[0][0].shape[0]
    z = np.concatenate([zb.reshape(n, -1) for zb, _ in blocks], axis=1)
    jac = sum(jb.reshape(n, -1).sum(-1) for _, jb in blocks)
    return scipy.stats.multivariate_normal(np.asarray(factor.loc), cov).logpdf(z) + jac


def oracle_log_prob(guide, values) -> np.ndarray:
    """log q of draws with one leading sample axis, factor by factor, in scipy."""
    return sum(_factor_oracle(f, values) for f in guide.factors)


def _quadrature_moments(base_loc, base_scale, forward):
    nodes, weights = np.polynomial.hermite_e.hermegauss(100)
    weights = weights / np.sqrt(2.0 * np.pi)
    x = forward(np.asarray(base_loc)[..., None] + np.asarray(base_scale)[..., None] * nodes)
    mean = (weights * x).sum(-1)
    return mean, (weights * (x - mean[..., None]) ** 2).sum(-1)


def marginal_moments(marginal: dist.Distribution) -> tuple[np.ndarray, np.ndarray]:
    """Mean and variance of a guide's marginal, from scipy or Gauss-Hermite quadrature."""
    if isinstance(marginal, BetaPrime | dist.Beta):
        family = scipy.stats.betaprime if isinstance(marginal, BetaPrime) else scipy.stats.beta
        a, b = np.asarray(marginal.concentration1), np.asarray(marginal.concentration0)
        return family.stats(a, b, moments="mv")
    if isinstance(marginal, dist.LogNormal):
        base = marginal.base_dist
        law = scipy.stats.lognorm(s=np.asarray(base.scale), scale=np.exp(np.asarray(base.loc)))
        return law.mean(), law.var()
    assert isinstance(marginal, dist.TransformedDistribution)
    (transform,) = marginal.transforms
    forward = {
        "SigmoidTransform": scipy.special.expit,
        "SoftplusTransform": _softplus,
        "ExpTransform": np.exp,
    }[type(transform).__name__]
    base = marginal.base_dist
    return _quadrature_moments(base.loc, base.scale, forward)


def _derivatives(bijection, z):
    """First and second derivatives of the bijection at ``z``, in numpy."""
    if bijection == "exp":
        return np.exp(z), np.exp(z)
    s = scipy.special.expit(z)
    if bijection == "softplus":
        return s, s * (1.0 - s)
    assert bijection == "sigmoid"
    return s * (1.0 - s), s * (1.0 - s) * (1.0 - 2.0 * s)


def _expected_derivatives(bijection, loc, var):
    """E[f'(z)] and E[f''(z)] for z ~ Normal(loc, var), by Gauss-Hermite quadrature."""
    nodes, weights = np.polynomial.hermite_e.hermegauss(100)
    z = loc[..., None] + np.sqrt(var)[..., None] * nodes
    d1, d2 = _derivatives(bijection, z)
    weights = weights / np.sqrt(2.0 * np.pi)
    return (weights * d1).sum(-1), (weights * d2).sum(-1)


def expected_gradients(factor) -> dict[str, np.ndarray]:
    """d E[sum of the factor's draws] / d each variational array.

    Gaussian coordinates use Price's theorem: d E[f(z)] / d var(z) = E[f''(z)] / 2.
    """
    if isinstance(factor, BetaFactor):
        a = np.exp(np.asarray(factor.log_concentration1))
        b = np.exp(np.asarray(factor.log_concentration0))
        if factor.odds:  # E = a / (b - 1)
            da, db = 1.0 / (b - 1.0), -a / (b - 1.0) ** 2
        else:  # E = a / (a + b)
            da, db = b / (a + b) ** 2, -a / (a + b) ** 2
        # chain rule through log a = L + log σ(ℓ), log b = L + log σ(-ℓ), where ℓ is
        # logit_mean and L log_concentration
        grad_log_a, grad_log_b = da * a, db * b
        return {
            "logit_mean": (grad_log_a * b - grad_log_b * a) / (a + b),
            "log_concentration": grad_log_a + grad_log_b,
        }
    raw_scale = np.asarray(factor.raw_scale)
    scale = _softplus(raw_scale)
    loc = np.asarray(factor.loc)
    if isinstance(factor, NormalFactor):
        d1, d2 = _expected_derivatives(factor.bijection, loc, scale**2)
        return {"loc": d1, "raw_scale": d2 * scale * scipy.special.expit(raw_scale)}
    assert isinstance(factor, LowRankNormalFactor)
    w = np.asarray(factor.cov_factor)
    var = (w**2).sum(-1) + scale**2
    bijections = np.concatenate([[s.bijection] * s.size for s in factor.specs])
    d1, d2 = np.empty_like(loc), np.empty_like(loc)
    for name in set(bijections):
        at = bijections == name
        d1[at], d2[at] = _expected_derivatives(name, loc[at], var[at])
    return {
        "loc": d1,
        "cov_factor": d2[:, None] * w,
        "raw_scale": d2 * scale * scipy.special.expit(raw_scale),
    }
