"""The analysis API on VAE results: posterior and predictive samples, per-draw
log-likelihoods and save/load, checked against scipy and against the fitted model."""

import jax
import numpy as np
import pytest
import scipy.stats

import scribe

from .conftest import N_CELLS, N_GENES

N_DRAWS = 40


@pytest.fixture(scope="module")
def draws(fitted):
    return fitted.get_posterior_samples(N_DRAWS, key=jax.random.key(1))


def test_posterior_samples_of_z_centre_on_the_embeddings(fitted, draws):
    """Draws of z: shape (draws, cells, latent); their mean is each cell's posterior
    mean within 5 Monte Carlo standard errors."""
    z = np.asarray(draws["z"])
    assert z.shape == (N_DRAWS, N_CELLS, 2)
    error = np.abs(z.mean(axis=0) - fitted.get_latent_embeddings())
    standard_error = z.std(axis=0, ddof=1) / np.sqrt(N_DRAWS)
    assert np.all(error < 5 * standard_error + 1e-6)


def test_posterior_samples_of_r_follow_the_guide(fitted, draws):
    """Each gene's r draws against the guide's marginal (KS, p > 0.001 for all but at
    most 2 of the 40 genes)."""
    marginal = fitted.get_distributions()["r"]
    r = np.asarray(draws["r"])
    assert r.shape == (N_DRAWS, N_GENES)
    cdf = np.asarray(jax.vmap(marginal.cdf)(r))  # (draws, genes): columns uniform
    p_values = [scipy.stats.kstest(cdf[:, g], "uniform").pvalue for g in range(N_GENES)]
    assert sum(p < 0.001 for p in p_values) <= 2


def test_decoded_draws_are_the_decoder_at_the_drawn_z(fitted, draws):
    """mu of each draw is the decoder at that draw's z: each cell's means sum to its
    observed total (library-size conditioning)."""
    mu = np.asarray(draws["mu"])
    assert mu.shape == (N_DRAWS, N_CELLS, N_GENES)
    totals = np.asarray(fitted.counts.total_counts, dtype=float)
    np.testing.assert_allclose(
        mu.sum(axis=2), np.broadcast_to(totals, (N_DRAWS, N_CELLS)), rtol=1e-4
    )


def test_log_likelihood_per_draw_matches_scipy(fitted, draws):
    """``log_likelihood`` with the same key uses the same draws: per cell and per gene it
    equals scipy's NB log-pmf at each draw's (r, mu)."""
    counts = fitted.counts.dense()
    r, mu = np.asarray(draws["r"], float)[:, None, :], np.asarray(draws["mu"], float)
    expected = scipy.stats.nbinom.logpmf(counts[None], r, r / (r + mu))
    by_cell = fitted.log_likelihood(n_samples=N_DRAWS, key=jax.random.key(1))
    by_gene = fitted.log_likelihood(return_by="gene", n_samples=N_DRAWS, key=jax.random.key(1))
    np.testing.assert_allclose(by_cell, expected.sum(axis=2), rtol=1e-4)
    np.testing.assert_allclose(by_gene, expected.sum(axis=1), rtol=1e-4)
    with pytest.raises(ValueError, match="fitted cells"):
        fitted.log_likelihood(counts[:10], n_samples=2)


def test_predictive_samples_match_the_decoded_means(fitted, draws):
    """Posterior predictive counts: each gene's mean over draws and cells within 5
    standard errors of the mean of the decoded means (the NB mean is mu)."""
    samples = np.asarray(fitted.get_predictive_samples(N_DRAWS, key=jax.random.key(2)))
    assert samples.shape == (N_DRAWS, N_CELLS, N_GENES)
    assert np.all(samples >= 0) and np.all(samples == np.round(samples))
    expected = np.asarray(draws["mu"]).mean(axis=(0, 1))
    found = samples.mean(axis=(0, 1))
    standard_error = samples.std(axis=(0, 1)) / np.sqrt(N_DRAWS * N_CELLS)
    # The predictive draws use their own key: expected differs by its own MC error too.
    assert np.all(np.abs(found - expected) < 5 * standard_error + 0.02 * expected)


def test_save_and_load_give_the_same_answers(fitted, tmp_path):
    """Orbax arrays + JSON: embeddings, decoded parameters, the importance-sampled
    marginal likelihood and posterior samples are identical after a round trip."""
    fitted.save(tmp_path / "run")
    loaded = scribe.load(tmp_path / "run")
    assert loaded.is_vae and loaded.config == fitted.config
    np.testing.assert_array_equal(loaded.get_latent_embeddings(), fitted.get_latent_embeddings())
    key = jax.random.key(5)
    np.testing.assert_array_equal(
        loaded.log_marginal_likelihood(n_samples=10, key=key),
        fitted.log_marginal_likelihood(n_samples=10, key=key),
    )
    a, b = loaded.get_posterior_samples(3, key=key), fitted.get_posterior_samples(3, key=key)
    assert sorted(a) == sorted(b)
    for name in a:
        np.testing.assert_array_equal(a[name], b[name])
    with pytest.raises(ValueError, match="new or empty directory"):
        fitted.save(tmp_path / "run")


def test_methods_that_do_not_apply_say_why(fitted):
    with pytest.raises(ValueError, match="results\\[genes\\] does not apply to VAE results"):
        fitted[["gene_0"]]
    with pytest.raises(ValueError, match="denoise_counts does not apply to VAE results"):
        fitted.denoise_counts()
