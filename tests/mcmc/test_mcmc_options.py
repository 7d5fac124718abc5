"""MCMC's memory and hardware options: thinning, per-cell summaries instead of per-cell
draws, and vectorized chains, each checked against an unthinned, fully kept, sequential
run of the same chains."""

import shutil
import warnings

import numpy as np
import pytest

import scribe

THIN = 3
RUN = dict(model="nbvcp", inference_method="mcmc", n_warmup=60, n_samples=45, n_chains=2)


def _fit(counts, **options):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", scribe.McmcWarning)
        return scribe.fit(counts, seed=4, progress=False, **RUN, **options)


@pytest.fixture(scope="module")
def runs(nbvcp_data):
    counts = nbvcp_data["counts"]
    return {
        "every": _fit(counts),
        "thinned": _fit(counts, mcmc=scribe.McmcConfig(thinning=THIN)),
        "summarised": _fit(counts, mcmc=scribe.McmcConfig(thinning=THIN, keep_cell_draws=False)),
    }


def test_thinning_keeps_every_kth_draw_of_the_same_chains(runs):
    every, thinned = runs["every"].draws, runs["thinned"].draws
    assert thinned.n_draws == RUN["n_samples"] // THIN
    # the draw after each group of THIN transitions
    for name, values in every.globals_.items():
        np.testing.assert_array_equal(thinned.globals_[name], values[:, THIN - 1 :: THIN])
    np.testing.assert_array_equal(
        thinned.locals_["p_capture"], every.locals_["p_capture"][:, THIN - 1 :: THIN]
    )
    groups = (RUN["n_chains"], thinned.n_draws, THIN)
    # a kept draw's statistics cover the transitions since the previous one
    np.testing.assert_array_equal(thinned.diverging, every.diverging.reshape(groups).any(-1))
    np.testing.assert_array_equal(thinned.num_steps, every.num_steps.reshape(groups).max(-1))
    np.testing.assert_allclose(
        thinned.accept_prob, every.accept_prob.reshape(groups).mean(-1), rtol=1e-12
    )


def test_a_run_without_cell_draws_keeps_their_moments_and_the_map(runs):
    kept, summarised = runs["thinned"], runs["summarised"]
    assert summarised.draws.locals_ == {}
    assert summarised.draws.cells["total"]["p_capture"].shape == (RUN["n_chains"], 40)
    for name, values in kept.draws.globals_.items():
        np.testing.assert_array_equal(summarised.draws.globals_[name], values)
    for name, value in kept.get_map().items():
        np.testing.assert_allclose(summarised.get_map()[name], value, rtol=1e-6, err_msg=name)
    draws = kept.draws.locals_["p_capture"].reshape(-1, 40)
    table, full = summarised.summary(), kept.summary()
    rows = [f"p_capture[{c}]" for c in kept.counts.cell_names]
    np.testing.assert_allclose(table.loc[rows, "mean"], draws.mean(0), rtol=1e-10)
    np.testing.assert_allclose(table.loc[rows, "sd"], draws.std(0, ddof=1), rtol=1e-8)
    assert table.loc[rows, ["q5", "r_hat", "ess_bulk"]].isna().all().all()
    # the globals' rows are those of the run that kept everything
    np.testing.assert_allclose(table.loc["r[gene_0]"], full.loc["r[gene_0]"], rtol=1e-10)


@pytest.mark.parametrize(
    "ask",
    [
        lambda r: r.log_likelihood(),
        lambda r: r.get_predictive_samples(2),
        lambda r: r.denoise_counts(method="sample", n_samples=2),
    ],
)
def test_what_needs_every_cell_draw_is_refused_without_them(runs, ask):
    with pytest.raises(ValueError, match="did not keep"):
        ask(runs["summarised"])


def test_vectorized_chains_run_the_same_transitions(nbvcp_data):
    """vmapped chains differ from sequential ones by floating-point rounding only: over
    a short run the same trajectories (leapfrog counts) and draws to 1e-6."""
    short = dict(n_warmup=20, n_samples=20)
    options = {**RUN, **short}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", scribe.McmcWarning)
        counts = nbvcp_data["counts"]
        runs = [
            scribe.fit(
                counts, seed=4, progress=False, **options, mcmc=scribe.McmcConfig(chain_method=m)
            )
            for m in ("sequential", "vectorized")
        ]
    sequential, vectorized = (r.draws for r in runs)
    np.testing.assert_array_equal(vectorized.num_steps, sequential.num_steps)
    for name, values in sequential.globals_.items():
        np.testing.assert_allclose(vectorized.globals_[name], values, rtol=1e-6)
    np.testing.assert_allclose(
        vectorized.locals_["p_capture"], sequential.locals_["p_capture"], rtol=1e-6
    )


def test_a_resumed_thinned_summarised_run_matches_an_uninterrupted_one(nbvcp_data, tmp_path):
    """Checkpoints every 20 iterations (not a multiple of the thinning: the sampling
    blocks round up to whole groups); the last checkpoint removed, the run resumes from
    the one before and ends where the uninterrupted run did, summaries included."""
    counts = nbvcp_data["counts"]
    config = scribe.McmcConfig(thinning=THIN, keep_cell_draws=False)
    directory = tmp_path / "run"
    straight = _fit(counts, mcmc=config, checkpoint_dir=directory, checkpoint_every=20)
    steps = sorted(int(p.name) for p in directory.iterdir() if p.name.isdigit())
    assert steps[-1] == RUN["n_warmup"] + RUN["n_samples"]
    shutil.rmtree(directory / str(steps[-1]))
    resumed = _fit(counts, mcmc=config, checkpoint_dir=directory, checkpoint_every=20)
    for name in ("log_joint", "num_steps"):
        np.testing.assert_array_equal(getattr(resumed.draws, name), getattr(straight.draws, name))
    for field in ("total", "total_sq", "at_best"):
        for name, value in straight.draws.cells[field].items():
            np.testing.assert_array_equal(resumed.draws.cells[field][name], value)
