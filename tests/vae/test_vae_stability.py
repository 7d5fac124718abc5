"""The VAE trains without a non-finite step and scores every cell finitely, on every
bundled data set, at Adam's default learning rate: its decoders hand the likelihood
log-means, which do not underflow where the means would.

Before (decoded means, logged by the model), at these settings: on the mouse cells with
library_size=True 332 of 2,000 steps had a non-finite loss and 21 cells a marginal
likelihood of -inf; on the 200 PBMCs of the 5k set (library_size=True) and of the 10k set
(library_size=False) every cell had.
"""

import warnings

import jax
import numpy as np
import pytest

import scribe

# (data set, library_size, steps): the mouse cells take longest to diverge.
CASES = [
    ("mouse_10x_10k_subset", True, 2000),
    ("pbmc68k_reduced", True, 500),
    ("pbmc_5k_protein", True, 300),
    ("pbmc_10k_protein", False, 300),
]


@pytest.mark.slow
@pytest.mark.parametrize(("name", "library_size", "steps"), CASES, ids=[c[0] for c in CASES])
def test_no_step_is_skipped_and_no_cell_scores_minus_infinity(name, library_size, steps):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", scribe.DataWarning)
        data = scribe.data.load_counts(getattr(scribe.datasets, name)()).drop_empty()
        warnings.simplefilter("error", scribe.TrainingWarning)
        results = scribe.fit(
            data.matrix,
            model="nbdm",
            inference_method="vae",
            latent_dim=10,
            vae=scribe.VaeConfig(library_size=library_size),
            n_steps=steps,
            batch_size=128,
            learning_rate=0.01,
            seed=0,
            progress=False,
        )
    assert results.skipped_steps == 0
    assert np.all(np.isfinite(results.loss_history))
    scores = results.log_marginal_likelihood(n_samples=20, key=jax.random.key(0))
    assert np.all(np.isfinite(scores)), f"{int(np.sum(~np.isfinite(scores)))} cells"
