"""``scribe.fit(inference_method="vae")``: embeddings that separate known groups, an
importance-sampled marginal likelihood checked by quadrature, exact resume, custom
encoders, and clear errors."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.stats

import scribe
from scribe.data import Batch
from scribe.encoders import AbstractEncoder
from scribe.metrics import knn_accuracy

from .conftest import FIT, N_CELLS, N_GENES, _simulate


def test_embeddings_separate_the_generating_groups(fitted, simulated):
    """kNN (k = 15) accuracy of the generating group labels ≥ 0.9 in the learned z; a
    random 2-D embedding would score ~1/3."""
    embedding = fitted.get_latent_embeddings()
    assert embedding.shape == (N_CELLS, 2)
    assert knn_accuracy(embedding, simulated["labels"], folds=None) >= 0.9
    adata = fitted.to_adata(_anndata(simulated["counts"], fitted.gene_names))
    np.testing.assert_array_equal(adata.obsm["X_scribe"], embedding)


def test_new_cells_are_embedded_through_the_encoder(fitted, simulated):
    """The encoder maps cells it never saw next to training cells of their group."""
    rng = np.random.default_rng(5)
    train = fitted.get_latent_embeddings()
    new = fitted.get_latent_embeddings(simulated["held_out"])
    assert new.shape == (200, 2)
    assert np.all(np.isfinite(new))
    draws = fitted.get_latent_samples(50, key=jax.random.key(0))
    assert draws.shape == (50, N_CELLS, 2)
    # Posterior draws scatter around the posterior mean.
    np.testing.assert_allclose(draws.mean(0), train, atol=4 * draws.std(0).max() / np.sqrt(50))
    del rng


def test_decoded_means_follow_the_library_size(fitted, simulated):
    decoded = fitted.get_decoded_params()
    totals = simulated["counts"].sum(1)
    np.testing.assert_allclose(decoded["mu"].sum(1), totals, rtol=1e-4)
    assert decoded["r"].shape == decoded["mu"].shape == (N_CELLS, N_GENES)


def test_held_out_marginal_likelihood_rises_with_training(simulated, tmp_path):
    """The importance-sampled log p(u) of 200 held-out cells, after 100 steps and after
    the same run resumed to 2,000: higher by more than 1 nat per cell and more than four
    standard errors of the paired mean (measured: -124.6 then -121.7)."""
    key = jax.random.key(1)
    early = scribe.fit(
        simulated["counts"],
        latent_dim=2,
        vae=scribe.VaeConfig(library_size=True),
        n_steps=100,
        checkpoint_dir=tmp_path,
        checkpoint_every=100,
        progress=False,
        **FIT,
    )
    late = scribe.fit(
        simulated["counts"],
        latent_dim=2,
        vae=scribe.VaeConfig(library_size=True),
        n_steps=2000,
        checkpoint_dir=tmp_path,
        checkpoint_every=100,
        progress=False,
        **FIT,
    )
    before = early.log_marginal_likelihood(simulated["held_out"], n_samples=20, key=key)
    after = late.log_marginal_likelihood(simulated["held_out"], n_samples=20, key=key)
    gain = after - before  # paired by cell: the same cells, proposals and keys
    assert gain.mean() > max(1.0, 4 * gain.std() / np.sqrt(gain.size))


def test_resume_is_bit_exact(simulated, tmp_path):
    kwargs = dict(latent_dim=2, checkpoint_every=100, progress=False, **FIT)
    kwargs["vae"] = scribe.VaeConfig(prior="maf")
    straight = scribe.fit(simulated["counts"], n_steps=400, **kwargs)
    scribe.fit(simulated["counts"], n_steps=200, checkpoint_dir=tmp_path, **kwargs)
    resumed = scribe.fit(simulated["counts"], n_steps=400, checkpoint_dir=tmp_path, **kwargs)
    np.testing.assert_array_equal(resumed.loss_history, straight.loss_history)
    np.testing.assert_array_equal(
        resumed.get_latent_embeddings(), straight.get_latent_embeddings()
    )


def test_marginal_likelihood_matches_quadrature():
    """With a 1-D latent the marginal p(u_c) = ∫ NB(u_c | μ(z), r) N(z) dz is a 1-D
    integral: trapezoid on a fine grid with scipy's NB, against the importance-sampled
    estimate (2,000 samples) of the trained model."""
    rng = np.random.default_rng(3)
    centres = np.array([[-1.5], [0.0], [1.5]])
    _, counts = _simulate(rng, 300, centres, rng.normal(0.0, 1.0, (1, 10)))
    results = scribe.fit(
        counts,
        latent_dim=1,
        vae=scribe.VaeConfig(library_size=True),
        n_steps=500,
        progress=False,
        **FIT,
    )
    estimate = results.log_marginal_likelihood(n_samples=2000, key=jax.random.key(2))
    grid = np.linspace(-8.0, 8.0, 4001)
    batch = scribe.data.load_counts(counts).to_device().full_batch()
    r = np.asarray(results.get_map()["r"])
    for cell in range(0, 300, 60):
        # The decoder reads the cell's total (library size): one copy per grid point.
        many = Batch(
            cell_index=jnp.zeros(grid.size, jnp.int32),
            total_counts=jnp.full((grid.size,), batch.total_counts[cell]),
            n_genes=batch.n_genes,
            counts=jnp.zeros((grid.size, batch.n_genes)),
        )
        log_mean = results.model.decoder(jnp.asarray(grid[:, None]), many)["log_mu"]
        mean = np.exp(np.asarray(log_mean, np.float64))
        log_lik = scipy.stats.nbinom.logpmf(counts[cell][None], r[None], r / (r + mean)).sum(1)
        log_joint = log_lik + scipy.stats.norm.logpdf(grid)
        peak = log_joint.max()
        quadrature = peak + np.log(np.trapezoid(np.exp(log_joint - peak), grid))
        assert abs(estimate[cell] - quadrature) < 0.05, (cell, estimate[cell], quadrature)


class LinearEncoder(AbstractEncoder):
    """A user's encoder: z from a linear map of log1p counts (no MLP, no subclassing of
    anything but the interface)."""

    names: tuple[str, ...] = eqx.field(static=True)
    positive_transform: str = eqx.field(static=True)
    n_latent: int = eqx.field(static=True)
    weight: jax.Array
    raw_scale: jax.Array

    def __init__(self, n_genes, n_latent, *, key):
        self.names, self.positive_transform, self.n_latent = ("z",), "softplus", n_latent
        self.weight = 0.01 * jax.random.normal(key, (n_genes, n_latent))
        self.raw_scale = jnp.zeros(n_latent)

    def unconstrained_params(self, batch):
        x = jnp.log1p(batch.nonzeros.to_dense(batch.batch_size, batch.n_genes))
        loc = x @ self.weight
        return {"z": (loc, jnp.broadcast_to(jax.nn.softplus(self.raw_scale), loc.shape))}


def test_a_custom_encoder_trains_and_changes_results(simulated, fitted, tmp_path):
    """It trains, separates the groups, and its results save and load back into a
    module of the user's class (a load without one says what to pass)."""
    encoder = LinearEncoder(N_GENES, 2, key=jax.random.key(0))
    results = scribe.fit(
        simulated["counts"],
        encoder=encoder,
        vae=scribe.VaeConfig(library_size=True),
        n_steps=1500,
        progress=False,
        **FIT,
    )
    assert isinstance(results.encoder, LinearEncoder)
    assert not np.allclose(results.encoder.weight, encoder.weight)  # it trained
    assert results.config.encoder == "LinearEncoder"
    embedding = results.get_latent_embeddings()
    assert knn_accuracy(embedding, simulated["labels"], folds=None) >= 0.9
    assert not np.allclose(embedding, fitted.get_latent_embeddings())
    results.save(tmp_path / "run")
    with pytest.raises(ValueError, match="pass encoder=<a LinearEncoder of the same shapes>"):
        scribe.load(tmp_path / "run")
    with pytest.raises(TypeError, match="encoder must be a LinearEncoder"):
        scribe.load(tmp_path / "run", encoder=fitted.encoder)
    skeleton = LinearEncoder(N_GENES, 2, key=jax.random.key(9))
    loaded = scribe.load(tmp_path / "run", encoder=skeleton)
    np.testing.assert_array_equal(loaded.get_latent_embeddings(), embedding)


def _anndata(counts, gene_names):
    import anndata
    import pandas as pd

    return anndata.AnnData(X=counts.astype(np.float32), var=pd.DataFrame(index=gene_names))


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"encoder": object()}, TypeError, "AbstractEncoder"),
        ({"decoder": "mlp", "latent_dim": 2}, TypeError, "AbstractDecoder"),
        ({"vae": {"prior": "flow"}, "latent_dim": 2}, ValueError, "prior must be one of"),
        ({"latent_dim": 0}, ValueError, "latent_dim must be >= 1"),
        (
            {"latent_dim": 2, "model": "nbvcp", "vae": {"library_size": True}},
            ValueError,
            "replaces",
        ),
        ({"latent_dim": 2, "parameterization": "mean_odds"}, ValueError, "does not apply"),
        ({"latent_dim": 2, "inference_method": "svi"}, ValueError, "inference_method='vae'"),
    ],
)
def test_bad_vae_arguments(simulated, kwargs, error, match):
    args = {**FIT, "n_steps": 10, "progress": False, **kwargs}
    with pytest.raises(error, match=match):
        if "vae" in args:  # built here: a bad config is refused by its own constructor
            args["vae"] = scribe.VaeConfig(**args["vae"])
        scribe.fit(simulated["counts"], **args)


@pytest.mark.parametrize("model", ["zinb", "nbvcp", "zinbvcp"])
def test_every_nb_model_trains_as_a_vae(simulated, model):
    """Zero inflation decodes a gate per cell and gene; capture adds a per-cell ν from
    the encoder's capture head. The loss falls and the embeddings still separate the
    groups (capture takes the library size, which the composition does not need)."""
    results = scribe.fit(
        simulated["counts"],
        **{**FIT, "model": model},
        latent_dim=2,
        n_steps=1500,
        progress=False,
    )
    history = results.loss_history
    assert history[-100:].mean() < 0.85 * history[:100].mean()
    decoded = results.get_decoded_params()
    if model.startswith("zi"):
        assert np.all((decoded["gate"] > 0) & (decoded["gate"] < 1))
    if "vcp" in model:
        capture = decoded["p_capture"]
        assert capture.shape == (N_CELLS,) and np.all((capture > 0) & (capture < 1))
        assert results.get_map()["p_capture"].shape == (N_CELLS,)
    assert knn_accuracy(results.get_latent_embeddings(), simulated["labels"], folds=None) >= 0.9
