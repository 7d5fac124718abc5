"""The Normal prior's KL against oracles; a zero-initialised flow is the Normal."""

import jax
import jax.numpy as jnp
import numpy as np
import numpyro.distributions as dist
import pytest
from numpyro.distributions.kl import kl_divergence as numpyro_kl

from scribe.latent_priors import FlowPrior, StandardNormalPrior

from ..networks.cases import N_DRAWS, SMALL_FLOW, gaussian_posterior, log_prob


def _monte_carlo(kl, loc, scale, n_keys=4000):
    """Per-cell mean and standard error of ``n_keys`` single-draw estimates by ``kl``."""

    @jax.jit
    def draws(keys):
        return jax.vmap(lambda k: kl(loc, scale, key=k, n_samples=1))(keys)

    values = np.asarray(draws(jax.random.split(jax.random.key(0), n_keys)))
    return values.mean(0), values.std(0) / np.sqrt(n_keys)


@pytest.mark.parametrize("latent_dim", [1, 2, 5])
def test_normal_closed_form_matches_numpyro(latent_dim):
    loc, scale = gaussian_posterior(latent_dim)
    found = StandardNormalPrior(latent_dim).kl_divergence(loc, scale, key=jax.random.key(0))
    expected = numpyro_kl(
        dist.Normal(loc, scale).to_event(1),
        dist.Normal(jnp.zeros_like(loc), jnp.ones_like(scale)).to_event(1),
    )
    np.testing.assert_allclose(found, expected, rtol=1e-10)


@pytest.mark.parametrize("latent_dim", [2, 5])
def test_normal_closed_form_matches_monte_carlo(latent_dim):
    prior = StandardNormalPrior(latent_dim)
    loc, scale = gaussian_posterior(latent_dim)
    closed = prior.kl_divergence(loc, scale, key=jax.random.key(0))
    mean, standard_error = _monte_carlo(prior.monte_carlo_kl_divergence, loc, scale)
    np.testing.assert_array_less(np.abs(mean - closed), 5 * standard_error)
    # n_samples draws are averaged: one call with many draws is as close
    many = jax.jit(prior.monte_carlo_kl_divergence, static_argnames="n_samples")(
        loc, scale, key=jax.random.key(1), n_samples=4000
    )
    np.testing.assert_array_less(np.abs(many - closed), 5 * standard_error)


@pytest.mark.parametrize("kind", ["maf", "spline"])
def test_flow_with_zero_init_scale_is_the_normal(kind):
    prior = FlowPrior(5, kind=kind, init_scale=0.0, key=jax.random.key(0), **SMALL_FLOW)
    z = 3.0 * jax.random.normal(jax.random.key(1), (N_DRAWS, 5))
    expected = StandardNormalPrior(5).log_prob(z)
    np.testing.assert_allclose(log_prob(prior, z), expected, rtol=1e-10, atol=1e-10)
