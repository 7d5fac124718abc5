"""``scribe.fit(inference_method="mcmc")``: every model family and parameterization
through the API, chains started from SVI, diagnostics warnings and bad input.

The density of every (model, parameterization) pair is checked exactly in
``test_potential.py``; here every NB model, every NB parameterization and the two-state
promoter with capture go through ``fit`` (a Latin square rather than the full product,
to compile NUTS fewer times), and the posterior predictive mean of every gene must match
the simulated data.
"""

import warnings

import jax
import numpy as np
import pytest

import scribe
from scribe.build import make_model
from scribe.config import FitConfig, ModelConfig
from scribe.inference import McmcDraws, chain_starts
from scribe.inference._mcmc import constrain
from scribe.results import warn_on_diagnostics

from .conftest import simulate_nbvcp

CASES = [
    ("nbdm", "canonical", False),
    ("zinb", "mean_prob", False),
    ("nbvcp", "mean_odds", False),
    ("zinbvcp", "canonical", True),  # unconstrained priors
    # twostate without capture runs the same path (its density: test_potential.py)
    ("twostatevcp", "two_state_mean_fano", False),
]


def _simulated(model: str) -> np.ndarray:
    """40 cells × 2 genes of well-expressed counts (zeros added for ZI models)."""
    rng = np.random.default_rng(1)
    data = simulate_nbvcp(1, n_cells=40, n_genes=2)["counts"] * 3
    if model.startswith("zi"):
        data[rng.random(data.shape) < 0.2] = 0
        data[:, 0] += data[:, 0] == 0
    return data


@pytest.mark.parametrize(("model", "parameterization", "unconstrained"), CASES)
def test_posterior_predictive_means_match_the_data(model, parameterization, unconstrained):
    counts = _simulated(model)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", scribe.McmcWarning)
        results = scribe.fit(
            counts,
            model=model,
            parameterization=parameterization,
            unconstrained=unconstrained,
            inference_method="mcmc",
            n_warmup=100,
            n_samples=60,
            seed=3,
            progress=False,
        )
    assert results.config.model.parameterization == parameterization
    samples = results.get_posterior_samples()
    for name in results.model.parameterization.sampled:
        assert np.all(np.isfinite(samples[name])), name
    predictive = np.asarray(results.get_predictive_samples(60, key=jax.random.key(0)))
    predicted, observed = predictive.mean(axis=(0, 1)), counts.mean(axis=0)
    # 60 predictive draws of 40 cells: Monte Carlo and posterior spread of ~10%
    np.testing.assert_allclose(predicted, observed, rtol=0.25)


def test_every_chain_starts_at_the_svi_map_or_around_it(nbvcp_data):
    counts = nbvcp_data["counts"]
    svi = scribe.fit(
        counts, model="nbvcp", parameterization="mean_odds", n_steps=300, progress=False
    )
    point = svi.get_map()
    with jax.enable_x64(True):
        from scribe.data import load_counts

        data = load_counts(counts)
        model = make_model(FitConfig(model=ModelConfig(model="nbvcp")), data)
        starts = chain_starts(model, data, 3, jax.random.key(0), point)
        batch = data.to_device().full_batch()
        first = jax.tree.map(lambda x: x[0], starts)
        globals_, locals_, _ = constrain(model, first, batch)
        # the mean_odds MAP, converted to canonical through r and p
        np.testing.assert_allclose(globals_["r"], point["r"], rtol=1e-5)
        np.testing.assert_allclose(globals_["p"], point["p"], rtol=1e-5)
        np.testing.assert_allclose(locals_["p_capture"], point["p_capture"], rtol=1e-5)
        r = np.asarray(starts.globals_["r"])
        spread = r[1:] - r[0]
        assert np.all(np.abs(spread) <= 1.0) and np.all(np.abs(spread) > 0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", scribe.McmcWarning)
        mcmc = scribe.fit(
            counts,
            model="nbvcp",
            inference_method="mcmc",
            n_warmup=50,
            n_samples=20,
            svi_init=svi,
            progress=False,
        )
    assert mcmc.draws.n_draws == 20


def test_starts_are_clamped_inside_the_supports(nbvcp_data):
    counts = nbvcp_data["counts"]
    svi = scribe.fit(counts, model="nbvcp", n_steps=5, progress=False)
    # a MAP on the boundary of its support (capture 1, p 0) still starts finite chains
    encoder = svi.encoder
    at_one = jax.tree.map(lambda x: x.at[:].set(1e6), encoder.loc)
    svi = __import__("dataclasses").replace(
        svi, encoder=type(encoder)(encoder.names, encoder.loc["p_capture"].shape[0], init=at_one)
    )
    with jax.enable_x64(True):
        from scribe.data import load_counts

        data = load_counts(counts)
        model = make_model(FitConfig(model=ModelConfig(model="nbvcp")), data)
        starts = chain_starts(model, data, 2, jax.random.key(1), svi.get_map())
        for leaf in jax.tree.leaves(starts):
            assert np.all(np.isfinite(leaf))
        _, locals_, _ = constrain(
            model, jax.tree.map(lambda x: x[0], starts), data.to_device().full_batch()
        )
        np.testing.assert_allclose(locals_["p_capture"], 1 - 1e-6, rtol=1e-9)


def _draws(values: np.ndarray, **changes) -> McmcDraws:
    chains, n = values.shape
    draws = McmcDraws(
        globals_={"p": values},
        locals_={},
        log_joint=np.zeros((chains, n)),
        diverging=np.zeros((chains, n), bool),
        num_steps=np.full((chains, n), 7),
        accept_prob=np.full((chains, n), 0.8),
        step_size=np.full(chains, 0.5),
        max_tree_depth=10,
    )
    for name, value in changes.items():
        getattr(draws, name)[...] = value
    return draws


def _summary(draws: McmcDraws):
    """What ``warn_on_diagnostics`` reads: the summary of a scalar ``p``'s draws."""
    import pandas as pd

    from scribe.inference import ess_bulk, ess_tail, split_rhat

    x = draws.globals_["p"]
    frame = pd.DataFrame(
        {"r_hat": [split_rhat(x)], "ess_bulk": [ess_bulk(x)], "ess_tail": [ess_tail(x)]},
        index=["p"],
    )
    frame.attrs["sampler"] = draws.sampler_statistics()
    return frame


def test_warnings_name_each_failed_diagnostic_and_only_those():
    rng = np.random.default_rng(0)
    good = rng.normal(size=(2, 1000))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warn_on_diagnostics(_summary(_draws(good)))
    cases = {
        "R-hat > 1.01": _draws(good + np.array([[0.0], [1.0]])),
        "ess_bulk < 100 per chain": _draws(np.cumsum(good, axis=1)),
        "6 divergent transitions": _draws(good, diverging=np.arange(1000) < 3),
        "trajectories reached max_tree_depth": _draws(good, num_steps=1023),
    }
    for message, draws in cases.items():
        with pytest.warns(scribe.McmcWarning, match=message):
            warn_on_diagnostics(_summary(draws))


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"n_samples": 0}, ValueError, "n_samples must be >= 1, found 0"),
        ({"n_chains": 0}, ValueError, "n_chains must be >= 1, found 0"),
        ({"n_warmup": -1}, ValueError, "n_warmup must be >= 0, found -1"),
        ({"n_samples": 2.5}, TypeError, "n_samples must be an int"),
        (
            {"mcmc": lambda: scribe.McmcConfig(target_accept_prob=1.0)},
            ValueError,
            "target_accept_prob must lie in",
        ),
        ({"mcmc": lambda: scribe.McmcConfig(max_tree_depth=30)}, ValueError, "max_tree_depth"),
        ({"guide_rank": 2}, ValueError, "guide_rank chooses an SVI guide"),
        ({"svi": scribe.SviConfig}, ValueError, "configures inference_method 'svi' or 'vae'"),
        ({"svi_init": "results"}, TypeError, "svi_init must be ScribeResults or None"),
        ({"parameterization": "mean_odds", "model": "twostate"}, ValueError, "does not apply"),
    ],
)
def test_bad_input_is_refused_before_anything_runs(nbvcp_data, tmp_path, options, error, message):
    with pytest.raises(error, match=message):
        # A config is built here: a bad one is refused by its own constructor.
        options = {"model": "nbvcp", **{k: v() if callable(v) else v for k, v in options.items()}}
        scribe.fit(
            nbvcp_data["counts"],
            inference_method="mcmc",
            progress=False,
            checkpoint_dir=tmp_path / "run",
            **options,
        )
    assert not (tmp_path / "run").exists()


def test_an_svi_init_of_another_model_genes_or_cells_is_refused(nbvcp_data):
    counts = nbvcp_data["counts"]
    quick = {"n_steps": 3, "progress": False}
    other_model = scribe.fit(counts, model="nbdm", **quick)
    other_genes = scribe.fit(counts[:, :3], model="nbvcp", **quick)
    other_cells = scribe.fit(counts[:30], model="nbvcp", **quick)
    vae = scribe.fit(counts, model="nbvcp", inference_method="vae", latent_dim=2, **quick)
    for init, message in [
        (other_model, "svi_init was fitted with model 'nbdm'; this MCMC fit is of model"),
        (other_genes, "svi_init was fitted to 3 genes that are not the 4 genes"),
        (other_cells, "svi_init was fitted to 30 cells that are not the 40 cells"),
        (vae, "svi_init must be results of a non-amortized fit"),
    ]:
        with pytest.raises(ValueError, match=message):
            scribe.fit(
                counts, model="nbvcp", inference_method="mcmc", svi_init=init, progress=False
            )
    with pytest.raises(ValueError, match="svi_init starts MCMC chains"):
        scribe.fit(counts, model="nbvcp", svi_init=other_cells, **quick)
    with pytest.raises(ValueError, match="is fitted by MCMC only"):
        scribe.fit(counts, model="twostate", **quick)
