"""``amortize_capture=True``: the capture MLP trains and applies to cells it never saw."""

import jax
import numpy as np
import pytest
from scipy.stats import spearmanr

import scribe
from scribe.data import load_counts

N_CELLS, N_GENES = 400, 40


def _simulate(rng, n_cells, r, p):
    # Capture drives library size, which is all the amortized encoder reads.
    nu = rng.uniform(0.2, 0.9, n_cells)
    p_hat = p * nu[:, None] / (1 - p * (1 - nu[:, None]))
    return nu, rng.negative_binomial(r[None], 1 - p_hat)


@pytest.fixture(scope="module")
def fitted():
    rng = np.random.default_rng(7)
    r, p = rng.uniform(1.0, 4.0, N_GENES), 0.7
    nu, counts = _simulate(rng, N_CELLS, r, p)
    new_nu, new_counts = _simulate(rng, 200, r, p)
    results = scribe.fit(
        counts,
        model="nbvcp",
        parameterization="mean_odds",
        svi=scribe.SviConfig(amortize_capture=True),
        n_steps=1500,
        batch_size=100,
        learning_rate=0.02,
        progress=False,
    )
    return results, nu, new_nu, new_counts


def test_capture_ranks_cells_like_the_truth(fitted):
    """Only odds(p) · ν is identified, so ν is compared by rank (Spearman ≥ 0.9: library
    size, which the encoder reads, has rank correlation ~0.95 with ν here)."""
    results, nu, *_ = fitted
    estimate = np.asarray(results.get_map()["p_capture"])
    assert spearmanr(estimate, nu).statistic > 0.9
    assert np.all((estimate > 0) & (estimate < 1))


def test_encoder_applies_to_new_cells(fitted):
    """Cells never seen in training get captures as well ranked as the training cells'."""
    results, _, new_nu, new_counts = fitted
    batch = load_counts(new_counts).to_device().full_batch()
    natural = results.model.capture.to_natural(results.encoder.median(batch))
    estimate = np.asarray(natural["p_capture"])
    assert estimate.shape == (new_counts.shape[0],)
    assert spearmanr(estimate, new_nu).statistic > 0.9
    # The loss went down: the MLP was trained, not left at its initialisation.
    history = np.asarray(results.loss_history)
    assert history[-100:].mean() < history[:100].mean()
    assert jax.numpy.isfinite(history).all()
