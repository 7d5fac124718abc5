"""Maximizing the ELBO with optax recovers targets the guide's family can (or cannot) reach."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import numpyro.distributions as dist
import optax
import pytest

from scribe.guides import JointLowRank, MeanFieldConstrained, MeanFieldUnconstrained, ParamSpec
from scribe.guides._factors import LowRankNormalFactor, NormalFactor
from scribe.parameterizations import Beta, BetaPrime

N_STEPS = 1500
N_DRAWS = 16


def fit(guide, log_target, *, lr, key):
    """Adam on the negative ELBO, every step inside one compiled ``lax.scan``."""
    params, static = eqx.partition(guide, eqx.is_inexact_array)
    # Decaying the step size shrinks the Monte Carlo jitter of the final iterate.
    optimizer = optax.adam(optax.cosine_decay_schedule(lr, N_STEPS, alpha=0.02))

    def negative_elbo(params, key):
        guide = eqx.combine(params, static)
        keys = jax.random.split(key, N_DRAWS)
        draws, log_q = jax.vmap(lambda k: guide.sample_and_log_prob(key=k))(keys)
        return -jnp.mean(jax.vmap(log_target)(draws) - log_q)

    @jax.jit
    def run(params, key):
        def step(carry, key):
            params, state = carry
            grads = jax.grad(negative_elbo)(params, key)
            updates, state = optimizer.update(grads, state, params)
            return (optax.apply_updates(params, updates), state), None

        carry = (params, optimizer.init(params))
        return jax.lax.scan(step, carry, jax.random.split(key, N_STEPS))[0][0]

    return eqx.combine(run(params, key), static)


def _softplus(x):
    return np.logaddexp(0.0, x)


# ---- a family that contains the target recovers it ------------------------------------

P_TARGET = (2.0, 6.0)  # Beta(a, b)
R_TARGET = (np.array([-0.5, 1.0, 2.5]), np.array([0.2, 0.5, 0.3]))  # LogNormal(loc, scale)
PHI_TARGET = (np.array([3.0, 8.0]), np.array([5.0, 4.0]))  # BetaPrime(a, b)


def _constrained_target(x):
    return (
        Beta(*P_TARGET).log_prob(x["p"])
        + dist.LogNormal(*R_TARGET).log_prob(x["r"]).sum()
        + BetaPrime(*PHI_TARGET).log_prob(x["phi"]).sum()
    )


def test_mean_field_constrained_recovers_a_target_in_its_family():
    specs = [
        ParamSpec(name="p", shape=()),
        ParamSpec(name="r", shape=(3,)),
        ParamSpec(name="phi", shape=(2,)),
    ]
    guide = fit(MeanFieldConstrained(specs), _constrained_target, lr=0.05, key=jax.random.key(0))
    p, r, phi = guide.factors
    # The ELBO is flat along a + b (the spread) and steep along a / b (the location).
    for beta, (a, b) in ((p, P_TARGET), (phi, PHI_TARGET)):
        np.testing.assert_allclose(np.exp(beta.log_concentration1), a, rtol=0.15)
        np.testing.assert_allclose(np.exp(beta.log_concentration0), b, rtol=0.15)
    median = guide.median()
    np.testing.assert_allclose(median["p"], P_TARGET[0] / sum(P_TARGET), rtol=0.03)
    np.testing.assert_allclose(median["phi"], PHI_TARGET[0] / PHI_TARGET[1], rtol=0.03)
    np.testing.assert_allclose(r.loc, R_TARGET[0], atol=0.03)
    np.testing.assert_allclose(_softplus(r.raw_scale), R_TARGET[1], rtol=0.1)


# ---- correlated unconstrained coordinates: joint low rank vs mean field ---------------

LOC = np.array([0.5, -0.3])
SD = np.array([0.4, 0.6])
RHO = 0.8
COV = np.outer(SD, SD) * np.array([[1.0, RHO], [RHO, 1.0]])
PAIR = [ParamSpec(name="mu", shape=(1,)), ParamSpec(name="phi", shape=(1,))]


def _correlated_target(x):
    # Normal on the softplus-unconstrained (mu, phi), as a density over (mu, phi).
    law = dist.TransformedDistribution(
        dist.MultivariateNormal(jnp.asarray(LOC), jnp.asarray(COV)),
        dist.transforms.SoftplusTransform(),
    )
    return law.log_prob(jnp.concatenate([x["mu"], x["phi"]]))


def unconstrained_moments(guide) -> tuple[np.ndarray, np.ndarray]:
    """Mean and dense covariance of the guide's unconstrained coordinates."""
    locs, blocks = [], []
    for factor in guide.factors:
        scale = _softplus(np.asarray(factor.raw_scale)).ravel()
        locs.append(np.asarray(factor.loc).ravel())
        if isinstance(factor, LowRankNormalFactor):
            w = np.asarray(factor.cov_factor)
            blocks.append(w @ w.T + np.diag(scale**2))
        else:
            assert isinstance(factor, NormalFactor)
            blocks.append(np.diag(scale**2))
    dim = sum(len(b) for b in blocks)
    cov, at = np.zeros((dim, dim)), 0
    for block in blocks:
        cov[at : at + len(block), at : at + len(block)] = block
        at += len(block)
    return np.concatenate(locs), cov


@pytest.fixture(scope="module")
def fitted_pair():
    key = jax.random.key(1)
    joint = fit(JointLowRank(PAIR, ("mu", "phi"), 1), _correlated_target, lr=0.03, key=key)
    mean_field = fit(MeanFieldUnconstrained(PAIR), _correlated_target, lr=0.03, key=key)
    return unconstrained_moments(joint), unconstrained_moments(mean_field)


def _correlation(cov):
    return cov[0, 1] / np.sqrt(cov[0, 0] * cov[1, 1])


def test_joint_low_rank_recovers_the_correlation(fitted_pair):
    loc, cov = fitted_pair[0]
    assert abs(_correlation(cov) - RHO) < 0.05
    np.testing.assert_allclose(loc, LOC, atol=0.05)
    np.testing.assert_allclose(np.diag(cov), SD**2, rtol=0.15)


def test_mean_field_cannot_and_shrinks_the_variances(fitted_pair):
    loc, cov = fitted_pair[1]
    assert abs(_correlation(cov)) < 0.05
    np.testing.assert_allclose(loc, LOC, atol=0.05)
    # The reverse-KL mean-field optimum matches the target's conditional precision:
    # var_i = 1 / (Σ⁻¹)_ii = sd_i² (1 - ρ²), far below sd_i² at ρ = 0.8.
    np.testing.assert_allclose(np.diag(cov), SD**2 * (1.0 - RHO**2), rtol=0.15)
