"""MCMC's degenerate encoder: each cell's latents as a point that NUTS moves."""

from collections.abc import Mapping

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float, PRNGKeyArray

from ..data import Batch
from ._abstract import AbstractEncoder, _sum_event


class PointEncoder(AbstractEncoder):
    """A table of each cell's latents as points in their unconstrained coordinates.

    The MCMC state of the local latents: NUTS moves ``values`` together with the global
    parameters through the same ``ScribeModel.log_joint`` that SVI optimizes (with
    ``FreeEncoder``, a table of a Normal per cell) and a VAE evaluates (with an amortized
    encoder). As a distribution it is a point mass: ``unconstrained_params`` gives scale
    0, ``median`` the point on its domain, and ``constrained`` the point with the log
    Jacobian that a density over the unconstrained table needs. It has no density to
    sample from, so ``sample_and_log_prob`` raises ``TypeError``.

    Parameters
    ----------
    names
        The local latents (e.g. ``("p_capture",)``).
    values
        Unconstrained value of each latent, ``(n_cells,)`` or ``(n_cells, dim)``.
    positive_transform
        ``"softplus"`` or ``"exp"`` for positive latents.

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> from scribe.data import load_counts
    >>> batch = load_counts(jnp.array([[1, 0], [2, 3]])).to_device().full_batch()
    >>> point = PointEncoder(("p_capture",), {"p_capture": jnp.array([0.0, 2.0])})
    >>> [round(float(nu), 4) for nu in point.median(batch)["p_capture"]]
    [0.5, 0.8808]
    """

    names: tuple[str, ...] = eqx.field(static=True)
    positive_transform: str = eqx.field(static=True)
    values: dict[str, Float[Array, "cells ..."]]

    def __init__(
        self,
        names: tuple[str, ...],
        values: Mapping[str, ArrayLike],
        *,
        positive_transform: str = "softplus",
    ):
        self.names = tuple(names)
        self.positive_transform = positive_transform
        missing = sorted(set(self.names) - set(values))
        if missing:
            raise ValueError(f"values must hold every latent in names; missing {missing}")
        self.values = {n: jnp.asarray(values[n], jnp.result_type(float)) for n in self.names}
        rows = {v.shape[0] if v.ndim in (1, 2) else None for v in self.values.values()}
        if len(rows) > 1 or None in rows:
            shapes = {n: v.shape for n, v in self.values.items()}
            raise ValueError(
                f"values must be (n_cells,) or (n_cells, dim) arrays with one n_cells; "
                f"found shapes {shapes}"
            )

    def unconstrained_params(self, batch: Batch):
        at = {n: self.values[n][batch.cell_index] for n in self.names}
        return {n: (v, jnp.zeros_like(v)) for n, v in at.items()}

    def sample_and_log_prob_by_name(self, batch: Batch, *, key: PRNGKeyArray):
        raise TypeError(
            "a PointEncoder is a point, not a distribution: it has no density to sample "
            "from (constrained(batch) gives the values and their log Jacobian)"
        )

    def constrained(
        self, batch: Batch
    ) -> tuple[dict[str, Float[Array, "batch ..."]], Float[Array, " batch"]]:
        """Each latent of the batch's cells on its domain, and per cell the summed
        ``log |d constrained / d unconstrained|`` over its latents and their dimensions."""
        values, log_det = {}, jnp.zeros(batch.batch_size)
        for name in self.names:
            raw = self.values[name][batch.cell_index]
            transform = self._transform(name)
            values[name] = transform(raw)
            log_det = log_det + _sum_event(transform.log_abs_det_jacobian(raw, values[name]))
        return values, log_det
