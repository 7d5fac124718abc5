"""LNM / LNMVCP through the VAE: an NB total and a multinomial composition whose ALR
coordinates are decoded linearly from a low-dimensional latent."""

import jax
import numpy as np
import pytest
import scipy.optimize
import scipy.stats

import scribe
from scribe.build import reference_gene
from scribe.data import load_counts
from scribe.decoders import LinearALRDecoder
from scribe.metrics import knn_accuracy

N_CELLS, N_GENES, N_GROUPS = 600, 30, 3
TOTAL_R, TOTAL_MEAN = 20.0, 300.0


@pytest.fixture(scope="module")
def simulated():
    """Three groups in a 2-D latent; ALR = z W + b against gene 0; NB totals."""
    rng = np.random.default_rng(0)
    labels = rng.integers(0, N_GROUPS, N_CELLS)
    z = rng.normal(0.0, 2.0, (N_GROUPS, 2))[labels] + 0.3 * rng.normal(size=(N_CELLS, 2))
    alr = z @ rng.normal(0.0, 1.0, (2, N_GENES - 1)) + rng.normal(0.0, 0.5, N_GENES - 1)
    logits = np.concatenate([np.zeros((N_CELLS, 1)), alr], axis=1)
    composition = np.exp(logits - logits.max(axis=1, keepdims=True))
    composition /= composition.sum(axis=1, keepdims=True)
    totals = rng.negative_binomial(TOTAL_R, TOTAL_R / (TOTAL_R + TOTAL_MEAN), N_CELLS)
    counts = np.stack([rng.multinomial(t, c) for t, c in zip(totals, composition, strict=True)])
    return {"labels": labels, "counts": counts, "composition": composition, "totals": totals}


@pytest.fixture(scope="module", params=["lnm", "lnmvcp"])
def fitted(request, simulated):
    return scribe.fit(
        simulated["counts"],
        model=request.param,
        inference_method="vae",
        latent_dim=2,
        n_steps=1500,
        batch_size=128,
        seed=0,
        progress=False,
    )


def _nb_mle(totals: np.ndarray) -> tuple[float, float]:
    """Maximum-likelihood (r, mean) of an NB, by scipy (the oracle)."""

    def loss(x):
        r, mean = np.exp(x)
        return -scipy.stats.nbinom.logpmf(totals, r, r / (r + mean)).sum()

    x = scipy.optimize.minimize(loss, np.log([5.0, totals.mean()]), method="Nelder-Mead").x
    return tuple(np.exp(x))


def test_embedding_separates_groups_and_composition_is_recovered(fitted, simulated):
    """kNN (k = 15, 5-fold) accuracy of the generating groups ≥ 0.9 in the learned 2-D z,
    and each cell's decoded composition is within 0.25 in |log ρ| (median over cells and
    genes) of the true one; a composition shared by all cells is 0.9 off here."""
    assert knn_accuracy(fitted.get_latent_embeddings(), simulated["labels"]) >= 0.9
    decoded = fitted.get_decoded_params()
    truth = simulated["composition"]
    assert decoded["composition"].shape == (N_CELLS, N_GENES)
    np.testing.assert_allclose(decoded["composition"].sum(axis=1), 1.0, rtol=1e-5)
    error = np.median(np.abs(np.log(decoded["composition"]) - np.log(truth)))
    shared = np.median(np.abs(np.log(truth.mean(axis=0)) - np.log(truth)))
    assert shared > 0.5
    assert error < 0.25, (error, shared)


def test_total_matches_the_nb_maximum_likelihood_of_the_totals(fitted, simulated):
    """Without capture, the total's (r, mean) at the posterior median is within 15% / 2%
    of scipy's maximum-likelihood fit to the totals (600 cells: r's standard error is
    ~7%). With capture only the thinned totals are identified (each cell's ν trades
    with r and p): their average mean r·p·ν̄/(1-p) is within 10% of the totals' mean."""
    point = fitted.get_map()
    r, p = float(point["r"]), float(point["p"])
    r_mle, mean_mle = _nb_mle(simulated["totals"])
    if fitted.model.capture is None:
        assert abs(np.log(r / r_mle)) < 0.15, (r, r_mle)
        assert abs(np.log(r * p / (1 - p) / mean_mle)) < 0.02
    else:
        capture = np.asarray(point["p_capture"])
        assert np.all((capture > 0) & (capture < 1))
        thinned = np.mean(r * p * capture / (1 - p))  # odds(p̂) = odds(p) ν
        assert abs(np.log(thinned / mean_mle)) < 0.1


def test_reference_gene_follows_the_documented_rule():
    """Against a direct evaluation of the rule on dense counts: among genes above the
    median mean, the least variable log((u + 0.5) / total) across cells."""
    rng = np.random.default_rng(3)
    counts = rng.negative_binomial(3, 0.2, (200, 25)) * rng.integers(1, 4, 25)
    counts[5] = 0  # an empty cell is ignored
    kept = counts[counts.sum(axis=1) > 0]
    means = kept.mean(axis=0)
    candidates = np.flatnonzero(means > np.median(means))
    log_proportions = np.log(kept + 0.5) - np.log(kept.sum(axis=1, keepdims=True))
    expected = candidates[np.argmin(log_proportions[:, candidates].var(axis=0))]
    with pytest.warns(scribe.DataWarning):
        data = load_counts(counts)
    assert reference_gene(data) == expected
    assert reference_gene(data, block=4) == expected  # blocks do not change the answer


def test_default_decoder_uses_the_data_driven_reference(fitted, simulated):
    expected = reference_gene(load_counts(simulated["counts"]))
    family = fitted.model.likelihood
    family = getattr(family, "base", family)
    assert family.reference_gene == fitted.model.decoder.reference_gene == expected


def test_log_marginal_likelihood_beats_a_shared_composition(fitted, simulated):
    """Importance-sampled log p(u_c) per cell is above the exact log-likelihood of the
    best latent-free model (one composition for all cells, NB total at its MLE)."""
    r_mle, mean_mle = _nb_mle(simulated["totals"])
    counts = simulated["counts"]
    shared = counts.sum(axis=0) / counts.sum()
    baseline = scipy.stats.multinomial.logpmf(counts, counts.sum(axis=1), shared) + (
        scipy.stats.nbinom.logpmf(simulated["totals"], r_mle, r_mle / (r_mle + mean_mle))
    )
    found = fitted.log_marginal_likelihood(n_samples=50, key=jax.random.key(0))
    assert found.shape == (N_CELLS,)
    assert found.mean() > baseline.mean() + 5.0, (found.mean(), baseline.mean())


def test_lnm_bad_arguments(simulated):
    counts = simulated["counts"][:50]
    with pytest.raises(ValueError, match="inference_method='vae'"):
        scribe.fit(counts, model="lnm", n_steps=1, progress=False)
    with pytest.raises(ValueError, match="library_size=True does not apply to 'lnm'"):
        scribe.fit(
            counts,
            model="lnm",
            inference_method="vae",
            vae=scribe.VaeConfig(library_size=True),
            progress=False,
        )

    decoder = LinearALRDecoder(2, N_GENES, 0, key=jax.random.key(0))
    object.__setattr__(decoder, "reference_gene", "first")  # a user's broken decoder

    with pytest.raises(TypeError, match="int attribute reference_gene, found 'first'"):
        scribe.fit(
            counts,
            model="lnm",
            inference_method="vae",
            latent_dim=2,
            decoder=decoder,
            n_steps=1,
            progress=False,
        )


def test_lnm_results_sample_and_round_trip(fitted, simulated, tmp_path):
    """Posterior draws hold each cell's composition (rows sum to 1) and the total's
    shared r and p; the per-draw log-likelihood is per cell only; save/load keeps the
    reference gene (a stand-in matrix would choose another) and every answer."""
    key = jax.random.key(3)
    draws = fitted.get_posterior_samples(4, key=key)
    assert draws["composition"].shape == (4, N_CELLS, N_GENES)
    np.testing.assert_allclose(draws["composition"].sum(axis=2), 1.0, rtol=1e-5)
    assert draws["r"].shape == draws["p"].shape == (4,)
    assert fitted.log_likelihood(n_samples=4, key=key).shape == (4, N_CELLS)
    with pytest.raises(ValueError, match="return_by='gene' is undefined"):
        fitted.log_likelihood(return_by="gene", n_samples=2)
    fitted.save(tmp_path / "run")
    loaded = scribe.load(tmp_path / "run")
    assert loaded.model.decoder.reference_gene == fitted.model.decoder.reference_gene
    np.testing.assert_array_equal(
        loaded.get_decoded_params()["composition"], fitted.get_decoded_params()["composition"]
    )
    np.testing.assert_array_equal(
        loaded.log_likelihood(n_samples=4, key=key), fitted.log_likelihood(n_samples=4, key=key)
    )
