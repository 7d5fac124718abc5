"""What scribe 0.1 wrote still works: its saved results load, with the values scribe 0.1
itself reported, and its training checkpoints are refused with a message that names the
version, leaving them as they were.

The files in ``_golden/scribe_0_1`` were written by scribe 0.1.0 (commit db116d0) with
``_golden/scribe_0_1/make_v1.py``, which also recorded ``expected.json``.
"""

import json
import shutil
import warnings
from pathlib import Path

import jax
import numpy as np
import pytest

import scribe

GOLDEN = Path(__file__).parent / "_golden" / "scribe_0_1"
EXPECTED = json.loads((GOLDEN / "expected.json").read_text())


@pytest.fixture(scope="module")
def counts():
    return np.load(GOLDEN / "counts.npy")


@pytest.mark.parametrize(
    "fit, method",
    # meanfield: Beta factors, saved as (log a, log b) and optimised since 0.2 in the
    # logit of the mean and the log of a + b
    [("svi", "svi"), ("vae", "vae"), ("mcmc", "mcmc"), ("meanfield", "svi")],
)
def test_results_of_scribe_0_1_load_with_their_values(fit, method, tmp_path):
    # A copy: loading must not need (or change) anything but what was written.
    path = shutil.copytree(GOLDEN / f"results_{fit}", tmp_path / "run")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no data or checkpoint warnings either
        results = scribe.load(path)
    expected = EXPECTED[fit]
    np.testing.assert_array_equal(results.loss_history, expected["loss_history"])
    point = results.get_map()
    assert sorted(point) == sorted(expected["map"])
    for name, value in expected["map"].items():
        np.testing.assert_allclose(point[name], value, rtol=1e-6, err_msg=name)
    if method == "vae":
        np.testing.assert_allclose(
            results.get_latent_embeddings(), expected["embeddings"], rtol=1e-6
        )
    assert results.config.inference_method == method


def test_a_scribe_0_1_config_becomes_the_same_fit_config():
    svi = scribe.load(GOLDEN / "results_svi").config
    assert svi.model.model == "nbvcp" and svi.model.parameterization == "mean_odds"
    assert svi.guide_rank == 1 and svi.n_steps == 30 and svi.seed == 3
    assert svi.model.priors == (("mu", "LogNormal(loc=1.0, scale=2.0)"),)
    assert svi.svi == scribe.SviConfig(steps_per_dispatch=100) and svi.mcmc is None
    vae = scribe.load(GOLDEN / "results_vae").config
    assert vae.latent_dim == 2 and vae.vae == scribe.VaeConfig()
    mcmc = scribe.load(GOLDEN / "results_mcmc").config
    assert (mcmc.n_warmup, mcmc.n_samples, mcmc.n_chains) == (20, 10, 2)
    assert mcmc.mcmc == scribe.McmcConfig() and mcmc.svi is None


def test_results_of_scribe_0_1_answer_like_new_ones(counts):
    """Loaded old results are results like any other: their log-likelihood per draw is
    scipy's at the same draws (checked in the results tests), so here: it is finite and
    the draws are the old MCMC run's own."""
    mcmc = scribe.load(GOLDEN / "results_mcmc")
    assert mcmc.draws.globals_["r"].shape == (2, 10, 5)
    values = np.asarray(mcmc.log_likelihood(counts))
    assert values.shape == (20, counts.shape[0]) and np.all(np.isfinite(values))
    svi = scribe.load(GOLDEN / "results_svi")
    draws = svi.get_posterior_samples(4, key=jax.random.key(0))
    assert draws["p_capture"].shape == (4, counts.shape[0])


def test_amortized_capture_results_of_scribe_0_1_are_refused_saying_why():
    with pytest.raises(ValueError, match=r"saved by scribe 0\.1 .* did not save its capture"):
        scribe.load(GOLDEN / "results_amortized")


def test_a_checkpoint_of_scribe_0_1_is_refused_naming_the_version(counts, tmp_path):
    directory = shutil.copytree(GOLDEN / "checkpoint_svi", tmp_path / "checkpoints")
    before = {p: p.read_bytes() for p in directory.rglob("*") if p.is_file()}
    message = r"written by scribe 0\.1\.0 \(format scribe-checkpoint-1\).*cannot resume them"
    with pytest.raises(ValueError, match=message):
        scribe.fit(
            counts,
            model="nbdm",
            n_steps=40,
            checkpoint_every=10,
            seed=3,
            progress=False,
            checkpoint_dir=directory,
        )
    assert {p: p.read_bytes() for p in directory.rglob("*") if p.is_file()} == before
