"""The factory, the KL warm-up weight, the class hierarchy and clear errors on bad input."""

import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import scribe.latent_priors as latent_priors
from scribe.latent_priors import (
    LATENT_PRIORS,
    AbstractLatentPrior,
    FlowPrior,
    StandardNormalPrior,
    kl_weight,
    make_latent_prior,
)

from ..networks.cases import PRIORS, SMALL_FLOW
from ..test_abstract_or_final import test_abstract_or_final as check_abstract_or_final

KEY = jax.random.key(0)


@pytest.mark.parametrize("name", ["AbstractLatentPrior", "StandardNormalPrior", "FlowPrior"])
def test_abstract_or_final(name):
    check_abstract_or_final(getattr(latent_priors, name))
    assert issubclass(getattr(latent_priors, name), AbstractLatentPrior)


def test_factory_builds_each_prior():
    """The list's priors are ``make_latent_prior``'s: read what it built for them."""
    assert LATENT_PRIORS == ("normal", "maf", "spline")
    built = {case.name: case.module for case in PRIORS}
    normal = built["normal-5d"]
    assert isinstance(normal, StandardNormalPrior) and normal.latent_dim == 5
    for name, transformer in [("maf", "affine"), ("spline", "spline")]:
        prior = built[f"{name}-5d"]
        assert isinstance(prior, FlowPrior)
        assert (prior.latent_dim, prior.kind, prior.transformer) == (5, name, transformer)
    prior = built["maf-2d-transformer=spline"]
    assert (prior.latent_dim, prior.kind, prior.transformer) == (2, "maf", "spline")


def test_factory_rejects_unknown_names_and_options():
    with pytest.raises(ValueError, match=re.escape("('normal', 'maf', 'spline'); found 'iaf'")):
        make_latent_prior("iaf", 2, key=KEY)
    with pytest.raises(ValueError, match=r"takes no options; found \['width'\]"):
        make_latent_prior("normal", 2, key=KEY, width=3)
    with pytest.raises(TypeError, match="n_hidden"):
        make_latent_prior("maf", 2, key=KEY, n_hidden=3)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (dict(latent_dim=1), "latent_dim must be >= 2 for a flow prior"),
        (dict(latent_dim=1, kind="maf"), "latent_dim must be >= 2 for a flow prior"),
        (dict(latent_dim=0), "latent_dim must be an integer >= 2; found 0"),
        (dict(latent_dim=2.0), "latent_dim must be an integer >= 2; found 2.0"),
        (dict(latent_dim=True), "latent_dim must be an integer >= 2; found True"),
        (dict(kind="iaf"), "kind must be one of ('maf', 'spline'); found 'iaf'"),
        (dict(transformer="tanh"), "transformer must be one of ('affine', 'spline'); found"),
        (dict(n_layers=0), "n_layers must be an integer >= 1; found 0"),
        (dict(width=0), "width must be an integer >= 1; found 0"),
        (dict(depth=-1), "depth must be an integer >= 0; found -1"),
        (dict(knots=0), "knots must be an integer >= 1; found 0"),
        (dict(interval=0.0), "interval must be a finite number > 0; found 0.0"),
        (dict(interval=float("inf")), "interval must be a finite number > 0; found inf"),
        (dict(init_scale=-0.1), "init_scale must be a finite number >= 0; found -0.1"),
    ],
)
def test_flow_rejects_bad_options(options, message):
    options = {"latent_dim": 2, "kind": "spline", **options}
    latent_dim = options.pop("latent_dim")
    with pytest.raises(ValueError, match=re.escape(message)):
        FlowPrior(latent_dim, key=KEY, **options)


@pytest.mark.parametrize("latent_dim", [0, -1, 1.5, "2"])
def test_normal_rejects_bad_latent_dim(latent_dim):
    with pytest.raises(ValueError, match="latent_dim must be an integer >= 1"):
        StandardNormalPrior(latent_dim)


@pytest.mark.parametrize("prior", [StandardNormalPrior(2), FlowPrior(2, key=KEY, **SMALL_FLOW)])
def test_bad_latent_and_posterior_shapes(prior):
    with pytest.raises(ValueError, match=re.escape("z must have shape (..., 2)")):
        prior.log_prob(jnp.zeros((4, 3)))
    with pytest.raises(ValueError, match=re.escape("found shape ()")):
        prior.log_prob(jnp.zeros(()))
    good = jnp.ones((4, 2))
    with pytest.raises(ValueError, match=re.escape("loc must have shape (batch, 2); found")):
        prior.kl_divergence(jnp.ones(2), jnp.ones(2), key=KEY)
    with pytest.raises(ValueError, match=re.escape("scale must have shape (batch, 2); found")):
        prior.kl_divergence(good, jnp.ones((4, 3)), key=KEY)
    with pytest.raises(ValueError, match="loc and scale must have the same shape"):
        prior.kl_divergence(good, jnp.ones((5, 2)), key=KEY)
    with pytest.raises(ValueError, match="n_samples must be an integer >= 1; found 0"):
        prior.kl_divergence(good, good, key=KEY, n_samples=0)


def test_kl_weight_warms_up_linearly():
    steps = jnp.arange(0, 301, 50)
    weights = jax.jit(jax.vmap(lambda s: kl_weight(s, warmup_steps=200)))(steps)
    np.testing.assert_allclose(weights, [0.0, 0.25, 0.5, 0.75, 1.0, 1.0, 1.0])
    assert kl_weight(jnp.int32(100), warmup_steps=200).shape == ()

    def body(total, step):
        return total + kl_weight(step, warmup_steps=4), None

    total, _ = jax.lax.scan(body, jnp.zeros(()), jnp.arange(8))
    assert float(total) == pytest.approx(0 + 0.25 + 0.5 + 0.75 + 4 * 1.0)


@pytest.mark.parametrize("warmup_steps", [0, None])
def test_kl_weight_without_warmup_is_one(warmup_steps):
    assert float(jax.jit(lambda s: kl_weight(s, warmup_steps=warmup_steps))(0)) == 1.0


@pytest.mark.parametrize("warmup_steps", [-1, 2.5])
def test_kl_weight_rejects_bad_warmup(warmup_steps):
    with pytest.raises(ValueError, match="warmup_steps must be an integer >= 0"):
        kl_weight(3, warmup_steps=warmup_steps)
