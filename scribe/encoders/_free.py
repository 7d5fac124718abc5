"""The non-amortized guide of per-cell latents, as a (degenerate) encoder."""

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, Float

from ..data import Batch
from ._abstract import AbstractEncoder, raw_from_scale, scale_from_raw


class FreeEncoder(AbstractEncoder):
    """A table of per-cell variational parameters, indexed by ``batch.cell_index``.

    It ignores the counts: this is SVI's non-amortized guide written as an encoder, so
    that SVI, VAE and MCMC share one ``log_joint``. Optimizer policy (see
    ``scribe.inference``): rows of cells outside the minibatch, and their Adam moments,
    are left untouched by a step.

    Parameters
    ----------
    names
        The local latents (e.g. ``("p_capture",)``).
    n_cells
        Rows of the table.
    init
        Initial unconstrained location of each latent: ``(n_cells,)`` (0 by default), or
        ``(n_cells, dim)`` for a vector latent such as ``"z"`` (which needs one).
    positive_transform
        ``"softplus"`` or ``"exp"`` for positive latents.
    init_scale
        Initial scale of every Normal (``scale_from_raw`` of the stored raw scale).
    """

    names: tuple[str, ...] = eqx.field(static=True)
    positive_transform: str = eqx.field(static=True)
    loc: dict[str, Float[Array, "cells ..."]]
    raw_scale: dict[str, Float[Array, "cells ..."]]

    def __init__(
        self,
        names: tuple[str, ...],
        n_cells: int,
        *,
        init: dict[str, Array] | None = None,
        positive_transform: str = "softplus",
        init_scale: float = 0.1,
    ):
        init = init or {}
        self.names = tuple(names)
        self.positive_transform = positive_transform
        self.loc = {n: jnp.asarray(init.get(n, jnp.zeros(n_cells)), float) for n in self.names}
        for name, loc in self.loc.items():
            if loc.ndim not in (1, 2) or loc.shape[0] != n_cells:
                raise ValueError(
                    f"init[{name!r}] must have shape ({n_cells},) or ({n_cells}, dim); "
                    f"found {loc.shape}."
                )
        raw = raw_from_scale(init_scale)
        self.raw_scale = {n: jnp.full(loc.shape, raw) for n, loc in self.loc.items()}

    def unconstrained_params(self, batch: Batch):
        return {
            n: (
                self.loc[n][batch.cell_index],
                scale_from_raw(self.raw_scale[n][batch.cell_index]),
            )
            for n in self.names
        }
