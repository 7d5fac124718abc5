"""Simulated counts from a known 2-D latent and the VAEs fitted to them, shared by the
VAE test modules (package scope: each fit is made once)."""

import numpy as np
import pytest

import scribe

N_CELLS, N_GENES, N_GROUPS = 600, 40, 3
FIT = dict(model="nbdm", inference_method="vae", batch_size=128, learning_rate=0.01)


def _simulate(rng, n_cells, centres, weights, latent_noise=0.3):
    """Counts from a low-dimensional latent: groups around ``centres`` in z, composition
    softmax(z W), log-normal library sizes, NB with size 3."""
    labels = rng.integers(0, N_GROUPS, n_cells)
    z = centres[labels] + latent_noise * rng.normal(size=(n_cells, centres.shape[1]))
    logits = z @ weights
    composition = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    library = rng.lognormal(np.log(500.0), 0.3, n_cells)
    mean = composition * library[:, None]
    return labels, rng.negative_binomial(3.0, 3.0 / (3.0 + mean))


@pytest.fixture(scope="package")
def simulated():
    rng = np.random.default_rng(0)
    centres = rng.normal(0.0, 2.0, (N_GROUPS, 2))
    weights = rng.normal(0.0, 1.0, (2, N_GENES))
    labels, counts = _simulate(rng, N_CELLS, centres, weights)
    held_labels, held_out = _simulate(rng, 200, centres, weights)
    return {"labels": labels, "counts": counts, "held_out": held_out}


@pytest.fixture(scope="package", params=["normal", "maf"])
def fitted(request, simulated):
    return scribe.fit(
        simulated["counts"],
        latent_dim=2,
        vae=scribe.VaeConfig(prior=request.param, library_size=True),
        n_steps=2000,
        progress=False,
        **FIT,
    )
