"""Configs: validated once, JSON round trips, scribe 0.1's configs translated, priors
written as JSON and rebuilt."""

import dataclasses
import json

import jax
import jax.numpy as jnp
import numpy as np
import numpyro.distributions as dist
import pytest

import scribe
from scribe.config import (
    RESUMABLE,
    FitConfig,
    McmcConfig,
    ModelConfig,
    SviConfig,
    VaeConfig,
    config_from_json,
    config_from_v1,
    config_to_json,
    describe_prior,
    prior_from_json,
    prior_to_json,
    resumable_view,
)
from scribe.parameterizations import Beta, informed_capture_prior

CONFIGS = {
    "svi": FitConfig(
        model=ModelConfig(model="zinbvcp", parameterization="linked", unconstrained=True),
        guide_rank=3,
        batch_size=64,
        checkpoint_every=500,
        svi=SviConfig(joint_params=("mu", "p"), early_stopping_patience=200),
    ),
    "vae": FitConfig(
        model=ModelConfig(model="lnmvcp", priors=(("r", "LogNormal(loc=1.0, scale=2.0)"),)),
        inference_method="vae",
        latent_dim=4,
        decoder="MyDecoder",
        vae=VaeConfig(prior="spline", kl_warmup_steps=300),
    ),
    "mcmc": FitConfig(
        model=ModelConfig(model="twostatevcp", parameterization="two_state_ratio"),
        inference_method="mcmc",
        n_samples=600,
        n_chains=4,
        mcmc=McmcConfig(thinning=3, keep_cell_draws=False, chain_method="vectorized"),
    ),
}


@pytest.mark.parametrize("method", sorted(CONFIGS))
def test_a_config_survives_json(method):
    config = CONFIGS[method]
    text = json.dumps(config_to_json(config))
    assert config_from_json(json.loads(text)) == config


def test_defaults_are_resolved_once_and_stored():
    config = FitConfig(model=ModelConfig(model="twostate"), inference_method="mcmc")
    assert config.model.parameterization == "two_state_natural"
    assert config.svi is None and config.vae is None and config.mcmc == McmcConfig()
    config = FitConfig(inference_method="vae", checkpoint_every=250)
    assert config.latent_dim == 10 and config.svi.steps_per_dispatch == 50
    assert config.model.parameterization == "canonical" and config.vae == VaeConfig()
    assert CONFIGS["svi"].model.parameterization == "mean_prob"  # the alias, resolved


def test_the_resumable_view_leaves_out_exactly_the_resumable_settings():
    config = CONFIGS["svi"]
    view = resumable_view(config)
    full = config_to_json(config)
    assert "n_steps" not in view and "early_stopping_patience" not in view["svi"]
    assert "early_stopping_min_delta" not in view["svi"]
    for path in RESUMABLE:
        *parents, leaf = path.split(".")
        holder = full
        for parent in parents:
            holder = holder[parent]
        del holder[leaf]
    assert view == full


def test_scribe_0_1_configs_map_every_setting_to_its_place():
    model = {
        "model": "nbdm",
        "parameterization": "mean_odds",
        "unconstrained": True,
        "priors": [["mu", "LogNormal(loc=1.0, scale=2.0)"]],
        "guide_rank": 2,
        "joint_params": ["mu", "phi"],
        "amortize_capture": False,
        "latent_dim": None,
        "latent_prior": "normal",
        "library_size": False,
        "encoder": None,
        "decoder": None,
    }
    inference = {
        "method": "svi",
        "n_steps": 700,
        "batch_size": 32,
        "learning_rate": 0.003,
        "seed": 5,
        "steps_per_dispatch": 50,
        "checkpoint_every": 100,
        "early_stopping_patience": 40,
        "early_stopping_min_delta": 0.01,
        "kl_warmup_steps": None,
        "n_samples": 2000,
        "n_warmup": 1000,
        "n_chains": 1,
        "target_accept_prob": 0.8,
        "max_tree_depth": 10,
        "dense_mass": False,
    }
    config = config_from_v1(model, inference)
    assert config == FitConfig(
        model=ModelConfig(
            model="nbdm",
            parameterization="mean_odds",
            unconstrained=True,
            priors=(("mu", "LogNormal(loc=1.0, scale=2.0)"),),
        ),
        n_steps=700,
        batch_size=32,
        learning_rate=0.003,
        seed=5,
        guide_rank=2,
        checkpoint_every=100,
        svi=SviConfig(
            joint_params=("mu", "phi"),
            early_stopping_patience=40,
            early_stopping_min_delta=0.01,
            steps_per_dispatch=50,
        ),
    )
    vae_model = {**model, "parameterization": "canonical", "latent_dim": 3, "guide_rank": None}
    vae_model |= {"joint_params": None, "latent_prior": "maf", "library_size": True}
    vae = config_from_v1(vae_model, {**inference, "method": "vae", "kl_warmup_steps": 9})
    assert vae.latent_dim == 3 and vae.vae == VaeConfig(
        prior="maf", library_size=True, kl_warmup_steps=9
    )
    mcmc_model = {**model, "guide_rank": None, "joint_params": None}
    mcmc_inference = {**inference, "method": "mcmc", "n_samples": 30, "dense_mass": True}
    mcmc = config_from_v1(mcmc_model, {**mcmc_inference, "max_tree_depth": 7})
    assert mcmc.mcmc == McmcConfig(max_tree_depth=7, dense_mass=True) and mcmc.svi is None


BAD = [
    (lambda: McmcConfig(chain_method="parallel"), ValueError, "chain_method must be one of"),
    (lambda: McmcConfig(thinning=0), ValueError, "thinning must be >= 1"),
    (lambda: McmcConfig(keep_cell_draws=1), TypeError, "keep_cell_draws must be True or"),
    (lambda: VaeConfig(kl_warmup_steps=-1), ValueError, "kl_warmup_steps must be >= 0"),
    (lambda: SviConfig(joint_params="mu"), TypeError, "joint_params must be a sequence"),
    (lambda: SviConfig(early_stopping_min_delta=-1.0), ValueError, "min_delta must be"),
    (
        lambda: FitConfig(inference_method="mcmc", n_samples=100, mcmc=McmcConfig(thinning=3)),
        ValueError,
        r"n_samples \(100\) must be a multiple of mcmc.thinning \(3\)",
    ),
    (
        lambda: FitConfig(checkpoint_every=150, svi=SviConfig(steps_per_dispatch=100)),
        ValueError,
        r"checkpoint_every \(150\) must be a multiple of svi.steps_per_dispatch \(100\)",
    ),
    (
        lambda: FitConfig(inference_method="vae", svi=SviConfig(amortize_capture=True)),
        ValueError,
        "amortize_capture does not apply to a VAE",
    ),
    (lambda: FitConfig(model="nbdm"), TypeError, "model must be a scribe.ModelConfig"),
    (lambda: FitConfig(latent_dim=3), ValueError, "go with inference_method='vae'"),
    (lambda: FitConfig(model=ModelConfig(model="lnm")), ValueError, "inference_method='vae'"),
]


@pytest.mark.parametrize(("build", "error", "match"), BAD, ids=[b[2][:30] for b in BAD])
def test_bad_settings_are_refused_with_the_setting_named(build, error, match):
    with pytest.raises(error, match=match):
        build()


PRIORS = {
    "beta": Beta(1.0, 9.0),
    "lognormal per gene": dist.LogNormal(jnp.linspace(0.0, 1.0, 20), 1.5),
    "informed capture": informed_capture_prior(jnp.array([800.0, 2e3, 5e3]), m0=1e4),
    "transformed": dist.TransformedDistribution(
        dist.Normal(0.3, 2.0), dist.transforms.SigmoidTransform()
    ),
    "gamma": dist.Gamma(jnp.array([2.0, 3.0]), 0.5),
}


@pytest.mark.parametrize("name", sorted(PRIORS))
def test_a_prior_is_rebuilt_from_its_json(name):
    prior = PRIORS[name]
    rebuilt = prior_from_json(json.loads(json.dumps(prior_to_json(prior))))
    assert type(rebuilt) is type(prior) and rebuilt.batch_shape == prior.batch_shape
    for seed in range(3):
        x = prior.sample(jax.random.key(seed))
        np.testing.assert_allclose(rebuilt.log_prob(x), prior.log_prob(x), rtol=1e-6)


def test_descriptions_differ_where_the_priors_do():
    a = dist.LogNormal(jnp.linspace(0.0, 1.0, 20), 1.0)
    b = dist.LogNormal(jnp.linspace(0.0, 1.0, 20).at[7].add(1e-3), 1.0)
    assert describe_prior(a) != describe_prior(b)
    assert describe_prior(a) == describe_prior(dist.LogNormal(jnp.linspace(0.0, 1.0, 20), 1.0))
    assert describe_prior(Beta(1.0, 9.0)) == "Beta(concentration1=1.0, concentration0=9.0)"


def test_json_naming_another_packages_class_is_refused():
    spec = {"class": "os:system", "params": {}}
    with pytest.raises(ValueError, match="outside numpyro and scribe"):
        prior_from_json(spec)


def test_the_public_configs_are_the_same_classes():
    assert scribe.FitConfig is FitConfig and scribe.McmcConfig is McmcConfig
    assert dataclasses.is_dataclass(scribe.SviConfig) and scribe.VaeConfig is VaeConfig
