"""Skipped steps are counted for every module, not the guide's alone, and reported."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import scribe
from scribe.build import make_vae_networks
from scribe.encoders import AbstractEncoder


@jax.custom_vjp
def _nan_gradient(x):
    return x


def _forward(x):
    return x, None


def _backward(_, cotangent):
    return (jnp.full_like(cotangent, jnp.nan),)


_nan_gradient.defvjp(_forward, _backward)


class BrokenGradientEncoder(AbstractEncoder):
    """A user's encoder whose values are fine and whose gradient is NaN: only its own
    optimizer sees a non-finite update; the loss, the guide's and the decoder's updates
    stay finite."""

    names: tuple[str, ...] = eqx.field(static=True)
    positive_transform: str = eqx.field(static=True)
    n_latent: int = eqx.field(static=True)
    weight: jax.Array

    def __init__(self, n_genes: int, n_latent: int):
        self.names, self.positive_transform, self.n_latent = ("z",), "softplus", n_latent
        self.weight = jnp.full((n_genes, n_latent), 0.01)

    def unconstrained_params(self, batch):
        counts = batch.nonzeros.to_dense(batch.batch_size, batch.n_genes)
        loc = jnp.log1p(counts) @ _nan_gradient(self.weight)
        return {"z": (loc, jnp.full_like(loc, 0.5))}


def test_an_encoders_skipped_steps_are_counted_and_reported():
    counts = np.random.default_rng(0).poisson(3.0, (40, 6))
    encoder = BrokenGradientEncoder(6, 2)
    with pytest.warns(scribe.TrainingWarning, match=r"20 of 20 training steps were skipped"):
        results = scribe.fit(
            counts,
            model="nbdm",
            inference_method="vae",
            encoder=encoder,
            n_steps=20,
            progress=False,
        )
    assert np.all(np.isfinite(results.loss_history))
    assert results.skipped_steps == 20
    # Its updates were skipped; the rest trained away from where the fit started.
    np.testing.assert_array_equal(results.encoder.weight, encoder.weight)
    data = scribe.data.load_counts(counts)
    _, start = make_vae_networks(results.config, data, encoder=encoder)
    trained, initial = (
        results.model.decoder.net.layers[0].weight,
        start.decoder.net.layers[0].weight,
    )
    assert np.all(np.isfinite(trained)) and not np.allclose(trained, initial)


def test_an_encoders_skipped_updates_are_named_by_module():
    counts = np.random.default_rng(0).poisson(3.0, (40, 6))
    with pytest.warns(scribe.TrainingWarning, match=r"guide 0, encoder 5, networks 0"):
        scribe.fit(
            counts,
            model="nbdm",
            inference_method="vae",
            encoder=BrokenGradientEncoder(6, 2),
            n_steps=5,
            progress=False,
        )
