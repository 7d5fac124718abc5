"""Amortized capture: a small MLP from each cell's log total UMI to its capture posterior."""

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray

from ..data import Batch
from ._abstract import AbstractEncoder, scale_from_raw


class CaptureEncoder(AbstractEncoder):
    """``log1p(total UMI) -> (loc, scale)`` of each capture latent, by an MLP.

    Because it reads only the cell's total, it applies to cells never seen in training.

    Parameters
    ----------
    names
        The local latents, usually ``("p_capture",)`` or ``("phi_capture",)``.
    width, depth
        Hidden layer width and number of hidden layers.
    centre
        Subtracted from ``log1p(total UMI)`` (a fit uses its data's mean); not trained.
    key
        Initialisation key.
    """

    names: tuple[str, ...] = eqx.field(static=True)
    positive_transform: str = eqx.field(static=True)
    mlp: eqx.nn.MLP
    # An array, so that it is saved with the weights (a fit's centre is its data's);
    # held fixed in training by a stop-gradient.
    centre: Float[Array, ""]

    def __init__(
        self,
        names: tuple[str, ...],
        *,
        key: PRNGKeyArray,
        width: int = 32,
        depth: int = 2,
        centre: float = 0.0,
        positive_transform: str = "softplus",
    ):
        self.names = tuple(names)
        self.positive_transform = positive_transform
        self.centre = jnp.asarray(centre, jnp.result_type(float))
        self.mlp = eqx.nn.MLP(1, 2 * len(self.names), width, depth, jax.nn.softplus, key=key)

    def unconstrained_params(self, batch: Batch):
        x = (jnp.log1p(batch.total_counts) - jax.lax.stop_gradient(self.centre))[:, None]
        out = jax.vmap(self.mlp)(x.astype(jnp.result_type(float)))
        return {
            n: (out[:, 2 * i], scale_from_raw(out[:, 2 * i + 1])) for i, n in enumerate(self.names)
        }
