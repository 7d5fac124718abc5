"""Invariants every latent prior satisfies, driven by the list in ``cases.py``."""

import functools

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.stats

from scribe.latent_priors import StandardNormalPrior

from .cases import CASES, N_DRAWS, gaussian_posterior, log_prob, perturbed, sample

FLOWS = [case for case in CASES if case.is_flow]


@functools.cache
def _priors(case_id: str):
    """``(prior as initialised, prior with randomly perturbed parameters)``, built once.

    Every test reuses the same two objects so ``eqx.filter_jit`` compiles each function
    once per case (a rebuilt flow holds new function leaves and would recompile).
    """
    case = next(case for case in CASES if case.id == case_id)
    prior = case.build()
    return prior, perturbed(prior) if case.is_flow else prior


@pytest.fixture(params=CASES, ids=[case.id for case in CASES])
def built(request):
    """``(case, prior as initialised, prior with randomly perturbed parameters)``."""
    return request.param, *_priors(request.param.id)


def _wide_proposal(latent_dim, *, seed):
    """``N_DRAWS`` draws from ``N(0, 2**2 I)`` and their log-density."""
    x = 2.0 * np.random.default_rng(seed).normal(size=(N_DRAWS, latent_dim))
    return jnp.asarray(x), scipy.stats.norm.logpdf(x, scale=2.0).sum(-1)


@pytest.mark.parametrize("sample_shape", [(), (3,), (2, 3)])
def test_shapes(built, sample_shape):
    case, _, prior = built
    d = case.latent_dim
    draws = eqx.filter_eval_shape(prior.sample, jax.random.key(0), sample_shape)
    assert draws.shape == (*sample_shape, d)
    assert eqx.filter_eval_shape(prior.log_prob, draws).shape == sample_shape


def test_perturbation_leaves_the_normal(built):
    """The perturbed flows (used below) are far from N(0, I), so the checks mean something."""
    case, _, prior = built
    z, _ = _wide_proposal(case.latent_dim, seed=0)
    normal = scipy.stats.norm.logpdf(np.asarray(z)).sum(-1)
    gap = np.abs(np.asarray(log_prob(prior, z)) - normal)[np.abs(z).max(-1) < 2.0]
    assert np.all(np.isfinite(gap))
    assert gap.max() > 1.0 if case.is_flow else gap.max() < 1e-10


def test_jit_paths_agree(built):
    """``eqx.filter_jit`` and ``jax.jit`` over the prior's arrays agree."""
    case, _, prior = built
    z, _ = _wide_proposal(case.latent_dim, seed=0)
    arrays, static = eqx.partition(prior, eqx.is_array)

    @jax.jit
    def from_arrays(arrays, z):
        return eqx.combine(arrays, static).log_prob(z)

    np.testing.assert_allclose(from_arrays(arrays, z[:5]), log_prob(prior, z)[:5], rtol=1e-10)


@eqx.filter_jit
def _kl_and_gradients(prior, loc, scale, *, key):
    """Each cell's Monte Carlo KL (1,000 draws) and the total's gradients."""

    def total(inputs):
        prior, loc, scale = inputs
        kl = prior.kl_divergence(loc, scale, key=key, n_samples=1000)
        return jnp.sum(kl), kl

    (_, kl), grads = eqx.filter_value_and_grad(total, has_aux=True)((prior, loc, scale))
    return kl, grads


def test_kl_gradients_finite(built):
    """The KL's gradients reach ``loc``, ``scale`` and every parameter of the prior."""
    case, _, prior = built
    loc, scale = gaussian_posterior(case.latent_dim)
    _, (g_prior, g_loc, g_scale) = _kl_and_gradients(prior, loc, scale, key=jax.random.key(3))
    for g in (g_loc, g_scale):
        assert np.all(np.isfinite(g)) and np.any(g != 0)
    leaves = jax.tree.leaves(eqx.filter(g_prior, eqx.is_inexact_array))
    assert all(np.all(np.isfinite(x)) for x in leaves)
    assert (len(leaves) > 0) == case.is_flow
    assert all(np.any(x != 0) for x in leaves)


@pytest.mark.parametrize("case", FLOWS, ids=[case.id for case in FLOWS])
def test_kl_at_initialisation_is_the_normals(case):
    """A flow starts near N(0, I): its Monte Carlo KL is the Normal's closed form.

    With the same draws the Normal's own Monte Carlo estimate differs from the flow's
    only by ``log N(z) - log p(z)``, so the comparison is nearly free of sampling noise.
    """
    prior, _ = _priors(case.id)
    loc, scale = gaussian_posterior(case.latent_dim)
    key = jax.random.key(4)
    kl, _ = _kl_and_gradients(prior, loc, scale, key=key)
    normal = StandardNormalPrior(case.latent_dim)
    same_draws = normal.monte_carlo_kl_divergence(loc, scale, key=key, n_samples=1000)
    closed = normal.kl_divergence(loc, scale, key=key)
    np.testing.assert_allclose(kl, same_draws, rtol=0.02, atol=0.01)
    np.testing.assert_allclose(kl, closed, rtol=0.15)


def test_density_normalises(built):
    """``E_q[p / q] = 1`` under a wide Gaussian proposal ``q``, within 5 standard errors."""
    case, _, prior = built
    x, log_q = _wide_proposal(case.latent_dim, seed=1)
    ratio = np.exp(np.asarray(log_prob(prior, x)) - log_q)
    standard_error = ratio.std() / np.sqrt(N_DRAWS)
    assert standard_error < 0.03
    assert abs(ratio.mean() - 1.0) < 5 * standard_error


def test_samples_agree_with_log_prob(built):
    """Sample averages equal the averages ``log_prob`` implies (importance-weighted).

    Bounded test functions (``tanh z``, ``exp(-z**2 / 2)``) keep both estimates'
    variances finite whatever the flow's tails.
    """
    case, _, prior = built
    samples = np.asarray(sample(prior, jax.random.key(5), (N_DRAWS,)))
    assert samples.shape == (N_DRAWS, case.latent_dim)
    x, log_q = _wide_proposal(case.latent_dim, seed=2)
    log_w = np.asarray(log_prob(prior, x)) - log_q
    w = np.exp(log_w - log_w.max())
    w = w / w.sum()
    x = np.asarray(x)
    for f in (np.tanh, lambda v: np.exp(-0.5 * v**2)):
        from_samples = f(samples).mean(0)
        se_samples = f(samples).std(0) / np.sqrt(N_DRAWS)
        from_density = (w[:, None] * f(x)).sum(0)
        # the self-normalised estimate's delta-method standard error
        se_density = np.sqrt((w[:, None] ** 2 * (f(x) - from_density) ** 2).sum(0))
        tolerance = 5 * np.sqrt(se_samples**2 + se_density**2)
        np.testing.assert_array_less(np.abs(from_samples - from_density), tolerance)
