"""Calibration: the low-rank guide's 90% intervals of ``r_g`` cover the truth about 90% of
the time on a data set large enough for the check to mean something."""

import jax
import numpy as np
import numpyro.distributions as dist
import pytest

import scribe

N_CELLS, N_GENES, P = 2000, 200, 0.6


@pytest.fixture(autouse=True)
def _release_compiled_programs():
    """Drop the fit's compiled programs once the test is done (peak memory)."""
    yield
    jax.clear_caches()


@pytest.mark.slow
def test_low_rank_guide_intervals_of_r_cover_the_truth():
    """Central 90% intervals of ``r_g`` (1,000 draws of a rank-4 guide) cover 80-98% of genes.

    nbdm, because there ``r_g`` is identified gene by gene through the one shared ``p``
    with no per-cell latents: in nbvcp the capture of each cell has its own mean-field
    guide, which would mix its calibration into that of the global guide checked here
    (on a similar nbvcp data set the coverage is 0.92). Canonical, so that ``r`` is a
    coordinate of the guide rather than a product of two. ``r_g`` spans 0.3-5
    (log-uniform). An exact grid posterior (``p`` on a grid, ``r_g`` per gene) covers
    0.965 of these genes, and 0.895 on each of three other seeds: a data set's fraction
    scatters by a few points around 0.9 (binomial sd 0.02 for 200 genes, plus the shared
    ``p``), hence the band.

    The prior on ``r`` is LogNormal(0, 1), the documented constrained default, passed
    explicitly. The unconstrained default, Normal(0, 1) through softplus, has a Gaussian
    tail in ``r`` itself: at ``r`` of 3-5 it pulls ``r`` down and, since
    ``mu = r odds(p)`` is what the counts fix, ``p`` up, by about 3 posterior standard
    deviations of ``p``. With it the exact posterior's intervals cover only 0.84-0.87 of
    genes (four seeds), and the fit's interval of ``p`` excludes the truth.

    Measured here: coverage 0.97 (the exact posterior's 0.965), z-scores of the truth
    with mean 0.02 and sd 0.78 (median interval width 9% of ``r``, the exact one's 7%);
    the test takes under 20 s.
    """
    rng = np.random.default_rng(0)
    r = np.exp(rng.uniform(np.log(0.3), np.log(5.0), N_GENES))
    counts = rng.negative_binomial(r[None], 1 - P, size=(N_CELLS, N_GENES))
    results = scribe.fit(
        counts,
        model="nbdm",
        parameterization="canonical",
        unconstrained=True,
        priors={"r": dist.LogNormal(0.0, 1.0)},
        guide_rank=4,
        n_steps=5000,
        learning_rate=0.01,
        progress=False,
    )
    draws = np.asarray(results.get_posterior_samples(1000, key=jax.random.key(1))["r"])
    low, high = np.quantile(draws, [0.05, 0.95], axis=0)
    coverage = np.mean((low <= r) & (r <= high))
    assert 0.80 <= coverage <= 0.98, f"coverage of the 90% intervals of r: {coverage:.3f}"
