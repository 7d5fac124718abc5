"""``ScribeResults``: posterior draws, predictive, per-draw log-likelihood, denoising."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.stats

import scribe
from scribe.results._denoise import denoise_mean

N_CELLS, N_GENES = 300, 12


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    r, p = rng.uniform(1.0, 4.0, N_GENES), 0.7
    nu = rng.uniform(0.3, 0.9, N_CELLS)
    p_hat = p * nu[:, None] / (1 - p * (1 - nu[:, None]))
    return rng.negative_binomial(r[None], 1 - p_hat)


@pytest.fixture(scope="module")
def results(data):
    return scribe.fit(
        data,
        model="zinbvcp",
        parameterization="mean_odds",
        n_steps=600,
        learning_rate=0.05,
        progress=False,
    )


def test_posterior_samples_are_consistent(results):
    draws = results.get_posterior_samples(50, key=jax.random.key(1))
    assert draws["mu"].shape == (50, N_GENES) and draws["p_capture"].shape == (50, N_CELLS)
    np.testing.assert_allclose(draws["r"], draws["mu"] * draws["phi"][:, None], rtol=1e-6)
    np.testing.assert_allclose(draws["p"], 1 / (1 + draws["phi"]), rtol=1e-6)
    assert np.all((draws["p_capture"] > 0) & (draws["p_capture"] < 1))
    # Draws vary (a posterior, not a point) but stay near the MAP.
    assert np.all(np.std(draws["mu"], axis=0) > 0)
    np.testing.assert_allclose(np.median(draws["mu"], 0), results.get_map()["mu"], rtol=0.1)


def test_per_draw_log_likelihood_sums_agree(results):
    by_cell = results.log_likelihood(return_by="cell", n_samples=5, key=jax.random.key(2))
    by_gene = results.log_likelihood(return_by="gene", n_samples=5, key=jax.random.key(2))
    assert by_cell.shape == (5, N_CELLS) and by_gene.shape == (5, N_GENES)
    np.testing.assert_allclose(by_cell.sum(1), by_gene.sum(1), rtol=1e-5)
    assert np.all(np.std(by_cell.sum(1)) > 0)


def test_posterior_predictive_reproduces_gene_means(results, data):
    predicted = np.asarray(results.get_predictive_samples(20, key=jax.random.key(3)))
    assert predicted.shape == (20, N_CELLS, N_GENES)
    observed = data.mean(axis=0)
    # 20 × 300 draws per gene: the mean's standard error is below 5% of it for these genes.
    np.testing.assert_allclose(predicted.mean(axis=(0, 1)), observed, rtol=0.15)


def _denoise_oracle(u, r, p, nu, gate):
    """E[m | u] by summing Bayes' rule over m (independent of the closed form)."""
    m = np.arange(u, u + 3000)
    prior = scipy.stats.nbinom.pmf(m, r, 1 - p)
    keep = scipy.stats.binom.pmf(u, m, nu)
    posterior = prior * ((1 - gate) * keep + gate * (u == 0))
    return (m * posterior).sum() / posterior.sum()


@pytest.mark.parametrize("gate", [0.0, 0.3])
def test_denoised_mean_matches_bayes_rule(gate):
    r, p = np.array([0.8, 2.5, 6.0]), 0.6
    nu = np.array([0.2, 0.5, 0.9])
    counts = np.array([[0, 3, 1], [5, 0, 2], [0, 0, 12]], float)
    natural = {"r": jnp.asarray(r), "p": jnp.asarray(p), "p_capture": jnp.asarray(nu)}
    if gate:
        natural["gate"] = jnp.full(3, gate)
    found = np.asarray(denoise_mean(jnp.asarray(counts), natural))
    expected = np.array(
        [[_denoise_oracle(counts[c, g], r[g], p, nu[c], gate) for g in range(3)] for c in range(3)]
    )
    np.testing.assert_allclose(found, expected, rtol=1e-8)


def test_denoise_map_and_samples(results, data):
    mean = np.asarray(results.denoise_counts(method="map"))
    assert mean.shape == data.shape and np.all(mean >= data)
    draws = np.asarray(results.denoise_counts(method="sample", n_samples=30))
    assert draws.shape == (30, *data.shape)
    # Pre-capture counts are integers and never fewer than the molecules observed.
    assert np.all(draws >= data[None]) and np.all(draws == np.round(draws))
    # Each cell's capture posterior is wide, so compare the total over all cells, where
    # the MAP mean and the average over posterior draws must agree within 5%.
    np.testing.assert_allclose(draws.mean(0).sum(), mean.sum(), rtol=0.05)


def test_denoise_needs_capture(data):
    results = scribe.fit(data, model="nbdm", n_steps=5, progress=False)
    with pytest.raises(
        ValueError,
        match=r"needs a variable-capture Negative Binomial model \(nbvcp, zinbvcp\), found 'nbdm'",
    ):
        results.denoise_counts()


def test_to_adata_writes_scverse_keys(results, data):
    import anndata

    adata = anndata.AnnData(X=data.astype(np.float32))
    adata.var_names = [f"gene_{i}" for i in range(N_GENES)]
    point = results.get_map()
    assert results.to_adata(adata) is adata
    np.testing.assert_allclose(adata.var["scribe_mu"], point["mu"], rtol=1e-6)
    np.testing.assert_allclose(adata.obs["scribe_p_capture"], point["p_capture"], rtol=1e-6)
    assert adata.uns["scribe"]["config"]["model"]["model"] == "zinbvcp"
    other = anndata.AnnData(X=data[:, ::-1].astype(np.float32))
    other.var_names = [f"gene_{i}" for i in reversed(range(N_GENES))]
    with pytest.raises(ValueError, match=r"fitted genes in order, found 12 genes \(12 of"):
        results.to_adata(other)
    with pytest.raises(ValueError, match="300 fitted cells, found 10"):
        results.to_adata(adata[:10].copy())


def test_save_and_load_round_trip(results, tmp_path):
    path = tmp_path / "run"
    results.save(path)
    loaded = scribe.load(path)
    np.testing.assert_array_equal(loaded.loss_history, results.loss_history)
    for name, value in results.get_map().items():
        np.testing.assert_array_equal(loaded.get_map()[name], value)
    a = results.get_posterior_samples(5, key=jax.random.key(7))
    b = loaded.get_posterior_samples(5, key=jax.random.key(7))
    for name in a:
        np.testing.assert_array_equal(a[name], b[name])
    assert loaded.gene_names == results.gene_names
    with pytest.raises(ValueError, match="new or empty directory"):
        results.save(path)  # never overwrites


def test_results_saved_in_float32_load_as_float32_under_x64(results, tmp_path):
    """Results fitted without x64 (float32 leaves) load in a process that has it on
    (the test session does) with their own dtype and values."""
    from scribe.results import persist

    cast_floats = persist.cast_floats

    single = dataclasses.replace(
        results,
        guide=cast_floats(results.guide, "float32"),
        encoder=cast_floats(results.encoder, "float32"),
    )
    single.save(tmp_path / "run")
    loaded = scribe.load(tmp_path / "run")
    for a, b in zip(jax.tree.leaves(loaded.guide), jax.tree.leaves(single.guide), strict=True):
        assert a.dtype == b.dtype == np.float32
        np.testing.assert_array_equal(a, b)


def test_save_load_keeps_custom_priors_and_low_rank_guides(data, tmp_path):
    import numpyro.distributions as dist

    fitted = scribe.fit(
        data,
        model="nbdm",
        parameterization="mean_odds",
        priors={"mu": dist.LogNormal(1.0, 2.0)},
        guide_rank=2,
        svi=scribe.SviConfig(joint_params=["mu", "phi"]),
        n_steps=20,
        progress=False,
    )
    fitted.save(tmp_path / "run")
    loaded = scribe.load(tmp_path / "run")
    prior = loaded.model.global_priors["mu"]
    assert float(prior.loc) == 1.0 and float(prior.scale) == 2.0
    for name, value in fitted.get_map().items():
        np.testing.assert_array_equal(loaded.get_map()[name], value)


def test_load_refuses_what_it_cannot_read(results, tmp_path):
    with pytest.raises(ValueError, match="holds no scribe results"):
        scribe.load(tmp_path)
    results.save(tmp_path / "run")
    import anndata

    other = anndata.AnnData(X=np.zeros((2, 3), np.float32))
    with pytest.raises(ValueError, match="var_names must be the 12 genes"):
        scribe.load(tmp_path / "run", adata=other)
