"""MCMC results answer the SVI results' questions from their own draws, each draw's
globals and per-cell latents together; checked against scipy and the recorded draws."""

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.stats

import scribe


def _scipy_log_joint(counts, p, r, capture) -> float:
    """log p(p, r, ν, counts) of nbvcp with its default priors, by scipy."""
    p_hat = p * capture[:, None] / (1 - p * (1 - capture[:, None]))
    likelihood = scipy.stats.nbinom.logpmf(counts, r[None, :], 1 - p_hat).sum()
    prior = scipy.stats.lognorm.logpdf(r, 1.0).sum() + scipy.stats.beta.logpdf(p, 1, 1)
    return float(likelihood + prior + scipy.stats.beta.logpdf(capture, 1, 1).sum())


def test_draws_are_float64_and_every_recorded_log_joint_is_its_draws(nbvcp_mcmc, nbvcp_data):
    draws = nbvcp_mcmc.draws
    assert draws.globals_["r"].dtype == np.float64
    assert draws.globals_["r"].shape == (2, 200, 4)
    assert draws.locals_["p_capture"].shape == (2, 200, 40)
    for chain, i in [(0, 0), (0, 117), (1, 199)]:
        expected = _scipy_log_joint(
            nbvcp_data["counts"],
            draws.globals_["p"][chain, i],
            draws.globals_["r"][chain, i],
            draws.locals_["p_capture"][chain, i],
        )
        np.testing.assert_allclose(draws.log_joint[chain, i], expected, rtol=1e-10)


def test_get_map_is_the_draw_of_highest_log_joint(nbvcp_mcmc):
    point = nbvcp_mcmc.get_map()
    chain, i = np.unravel_index(np.argmax(nbvcp_mcmc.draws.log_joint), (2, 200))
    np.testing.assert_allclose(point["r"], nbvcp_mcmc.draws.globals_["r"][chain, i], rtol=1e-6)
    np.testing.assert_allclose(
        point["p_capture"], nbvcp_mcmc.draws.locals_["p_capture"][chain, i], rtol=1e-6
    )
    p, r = point["p"], point["r"]
    np.testing.assert_allclose(point["mu"], r * p / (1 - p), rtol=1e-6)


def test_posterior_samples_pair_each_draws_globals_and_locals(nbvcp_mcmc):
    grouped = nbvcp_mcmc.get_posterior_samples(group_by_chain=True)
    flat = nbvcp_mcmc.get_posterior_samples()
    assert grouped["r"].shape == (2, 200, 4) and flat["r"].shape == (400, 4)
    assert grouped["p_capture"].shape == (2, 200, 40)
    np.testing.assert_array_equal(flat["p_capture"][200:], grouped["p_capture"][1])
    # a random subset keeps each draw's globals with its own locals: its log-joint
    subset = nbvcp_mcmc.get_posterior_samples(7, key=jax.random.key(5))
    log_joint = nbvcp_mcmc.draws.log_joint.reshape(-1)
    globals_, locals_ = nbvcp_mcmc.draws.flat()
    for k in range(7):
        (index,) = np.flatnonzero(np.isclose(globals_["p"], subset["p"][k], rtol=1e-6))
        np.testing.assert_allclose(locals_["p_capture"][index], subset["p_capture"][k], 1e-6)
        assert np.isfinite(log_joint[index])
    with pytest.raises(ValueError, match="n_samples must be <= the 400 MCMC draws"):
        nbvcp_mcmc.get_posterior_samples(401)
    with pytest.raises(ValueError, match="group_by_chain=True needs MCMC results and"):
        nbvcp_mcmc.get_posterior_samples(10, group_by_chain=True)


def test_log_likelihood_per_draw_matches_scipy(nbvcp_mcmc, nbvcp_data):
    by_cell = nbvcp_mcmc.log_likelihood()
    by_gene = nbvcp_mcmc.log_likelihood(return_by="gene")
    assert by_cell.shape == (400, 40) and by_gene.shape == (400, 4)
    samples = nbvcp_mcmc.get_posterior_samples()
    for d in (0, 399):
        p, r, nu = (np.asarray(samples[n][d], np.float64) for n in ("p", "r", "p_capture"))
        p_hat = p * nu[:, None] / (1 - p * (1 - nu[:, None]))
        expected = scipy.stats.nbinom.logpmf(nbvcp_data["counts"], r, 1 - p_hat)
        np.testing.assert_allclose(by_cell[d], expected.sum(axis=1), rtol=2e-5)
        np.testing.assert_allclose(by_gene[d], expected.sum(axis=0), rtol=2e-5)


def test_predictive_counts_match_the_data_on_average(nbvcp_mcmc, nbvcp_data):
    predictive = np.asarray(nbvcp_mcmc.get_predictive_samples(50, key=jax.random.key(2)))
    assert predictive.shape == (50, 40, 4)
    counts = nbvcp_data["counts"]
    # per gene, the observed total lies inside the 1%-99% range of predicted totals
    totals = predictive.sum(axis=1)
    low, high = np.quantile(totals, [0.01, 0.99], axis=0)
    assert np.all((low <= counts.sum(axis=0)) & (counts.sum(axis=0) <= high))


def test_denoised_counts_are_at_least_the_observed_ones(nbvcp_mcmc, nbvcp_data):
    counts = nbvcp_data["counts"]
    point = {n: np.asarray(v, np.float64) for n, v in nbvcp_mcmc.get_map().items()}
    # the missed molecules m - u | u ~ NB(r + u, q = p (1 - ν)) (MATH.md, Denoising)
    q = point["p"] * (1 - point["p_capture"][:, None])
    expected = counts + (counts + point["r"][None, :]) * q / (1 - q)
    denoised = np.asarray(nbvcp_mcmc.denoise_counts())
    np.testing.assert_allclose(denoised, expected, rtol=1e-5)
    drawn = np.asarray(nbvcp_mcmc.denoise_counts(method="sample", n_samples=3))
    assert drawn.shape == (3, 40, 4) and np.all(drawn >= counts)


def test_gene_subset_keeps_every_draw_at_those_genes(nbvcp_mcmc):
    subset = nbvcp_mcmc[["gene_3", "gene_1"]]
    r = nbvcp_mcmc.draws.globals_["r"]
    np.testing.assert_array_equal(subset.draws.globals_["r"], r[..., [3, 1]])
    np.testing.assert_array_equal(subset.draws.globals_["p"], nbvcp_mcmc.draws.globals_["p"])
    np.testing.assert_allclose(
        subset.get_map()["r"], np.asarray(nbvcp_mcmc.get_map()["r"])[[3, 1]]
    )
    assert subset.log_likelihood().shape == (400, 40)


def test_summary_reports_diagnostics_and_matches_the_draws(nbvcp_mcmc):
    table = nbvcp_mcmc.summary()
    r = nbvcp_mcmc.draws.globals_["r"][..., 2]
    row = table.loc["r[gene_2]"]
    np.testing.assert_allclose(row["mean"], r.mean(), rtol=1e-12)
    np.testing.assert_allclose(row["sd"], r.std(ddof=1), rtol=1e-12)
    np.testing.assert_allclose(row["q95"], np.quantile(r, 0.95), rtol=1e-12)
    assert {"r_hat", "ess_bulk", "ess_tail"} <= set(table.columns)
    assert {"p", "r[gene_0]", "mu[gene_3]", "p_capture[cell_39]"} <= set(table.index)
    sampler = table.attrs["sampler"]
    assert sampler["n_chains"] == 2 and sampler["max_tree_depth"] == 10
    assert len(sampler["divergences"]) == 2 and len(sampler["step_size"]) == 2
    assert nbvcp_mcmc.diagnostics == sampler
    with pytest.raises(ValueError, match="get_distributions does not apply to MCMC"):
        nbvcp_mcmc.get_distributions()


def test_to_adata_writes_the_map_draw_and_sampler_statistics(nbvcp_mcmc):
    import anndata

    adata = anndata.AnnData(
        np.asarray(nbvcp_mcmc.counts.dense()),
    )
    adata.var_names = list(nbvcp_mcmc.gene_names)
    adata.obs_names = [str(c) for c in nbvcp_mcmc.counts.cell_names]
    nbvcp_mcmc.to_adata(adata)
    np.testing.assert_allclose(adata.var["scribe_r"], nbvcp_mcmc.get_map()["r"], rtol=1e-6)
    assert adata.uns["scribe"]["mcmc"]["n_draws"] == 200


def test_save_and_load_round_trip_every_draw(nbvcp_mcmc, tmp_path):
    nbvcp_mcmc.save(tmp_path / "run")
    loaded = scribe.load(tmp_path / "run")
    assert loaded.is_mcmc and loaded.draws.max_tree_depth == 10
    for name, value in nbvcp_mcmc.draws.arrays().items():
        if isinstance(value, dict):
            for key, array in value.items():
                np.testing.assert_array_equal(loaded.draws.arrays()[name][key], array)
                assert loaded.draws.arrays()[name][key].dtype == np.float64
        else:
            np.testing.assert_array_equal(loaded.draws.arrays()[name], value, err_msg=name)
    np.testing.assert_array_equal(loaded.get_map()["r"], nbvcp_mcmc.get_map()["r"])
    assert repr(loaded) == repr(nbvcp_mcmc)


def test_float64_is_scoped_to_the_sampler(nbvcp_data):
    """The test session enables x64 globally; a user's default (float32) is restored here."""
    counts = nbvcp_data["counts"][:10, :2]
    with jax.enable_x64(False), warnings.catch_warnings():
        warnings.simplefilter("ignore", scribe.McmcWarning)
        mcmc = scribe.fit(
            counts,
            model="nbdm",
            inference_method="mcmc",
            n_warmup=10,
            n_samples=10,
            progress=False,
        )
        assert mcmc.draws.globals_["r"].dtype == np.float64
        assert jnp.zeros(()).dtype == jnp.float32
        assert mcmc.get_posterior_samples()["r"].dtype == jnp.float32
        svi = scribe.fit(counts, model="nbdm", n_steps=5, progress=False)
        assert svi.get_map()["r"].dtype == jnp.float32
