"""The pytrees one training step sees: a minibatch and its padded nonzero entries."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Bool, Float, Int


class DistinctPairs(eqx.Module):
    """The distinct (gene, count) pairs of a matrix's nonzeros, and the pair of each slot.

    Real count matrices repeat a few thousand (gene, count) pairs across ~10⁶ nonzeros
    (the bundled 10x subset: 3,198 pairs for 691,914 nonzeros), so a term that depends on
    an entry only through its count and per-gene parameters (the NB normaliser
    ``log Γ(u + r_g) / (Γ(r_g) u!)``) is evaluated once per pair and gathered.

    Parameters
    ----------
    index
        The pair of each slot of the `PaddedNonzeros` (0 at padding).
    genes
        The gene of each pair.
    counts
        The count of each pair.
    """

    index: Int[Array, " capacity"]
    genes: Int[Array, " pairs"]
    counts: Float[Array, " pairs"]


class PaddedNonzeros(eqx.Module):
    """The nonzero counts of a minibatch in padded COO layout, with a fixed `capacity`.

    A fixed capacity keeps every shape static, so one compiled step serves every minibatch.
    Padding entries have ``rows = cols = 0``, ``values = 0`` and ``mask = False``; a consumer
    must mask whatever it computes from them (see `sum_by_row`).

    Parameters
    ----------
    rows
        Row of each entry within the batch, in ``[0, batch_size)``.
    cols
        Gene index of each entry.
    values
        The count (float, exact for integers below 2**24).
    mask
        True for real entries, False for padding.
    pairs
        The distinct (gene, count) pairs and each slot's pair, when there are fewer
        pairs than slots (None otherwise).

    Examples
    --------
    >>> import numpy as np
    >>> from scribe.data import load_counts
    >>> counts = load_counts(np.array([[0, 2], [1, 0]])).to_device()
    >>> nz = counts.full_batch().nonzeros
    >>> nz.sum_by_row(nz.values, 2)
    Array([2., 1.], dtype=float32)
    """

    rows: Int[Array, " capacity"]
    cols: Int[Array, " capacity"]
    values: Float[Array, " capacity"]
    mask: Bool[Array, " capacity"]
    pairs: DistinctPairs | None = None

    @property
    def capacity(self) -> int:
        """Number of slots, real and padding."""
        return self.values.shape[0]

    def sum_by_row(self, term: Float[Array, " capacity"], n_rows: int) -> Float[Array, " batch"]:
        """Sum a per-entry `term` over each row, ignoring padding.

        Parameters
        ----------
        term
            One value per slot (e.g. a log-probability of each nonzero count).
        n_rows
            The batch size (static).

        Returns
        -------
        Per-row sums; rows without nonzeros get 0.
        """
        # where(), not term * mask: a padding term may be inf or NaN (log of a zero count).
        masked = jnp.where(self.mask, term, jnp.zeros((), term.dtype))
        return jax.ops.segment_sum(masked, self.rows, num_segments=n_rows)

    def to_dense(self, n_rows: int, n_genes: int) -> Float[Array, "batch genes"]:
        """Scatter the entries into a dense ``(n_rows, n_genes)`` matrix (padding adds 0)."""
        dense = jnp.zeros((n_rows, n_genes), self.values.dtype)
        return dense.at[self.rows, self.cols].add(jnp.where(self.mask, self.values, 0))


class Batch(eqx.Module):
    """One minibatch of cells: which cells, their UMI totals, and their counts.

    The counts come dense (`counts`), sparse (`nonzeros`) or both; at least one is present.
    Build batches with `DeviceCounts.batch`, `DeviceCounts.sample_batch` or
    `DeviceCounts.full_batch` rather than by hand.

    Parameters
    ----------
    cell_index
        Global index of each cell in the batch (row of the loaded `CountData`).
    total_counts
        Total UMI count of each cell.
    n_genes
        Number of genes (static).
    counts
        Dense counts of the batch, or None.
    nonzeros
        Padded nonzero entries of the batch, or None.

    Examples
    --------
    >>> import numpy as np, jax
    >>> from scribe.data import load_counts
    >>> counts = load_counts(np.array([[0, 2], [1, 0], [3, 3]])).to_device()
    >>> batch = counts.sample_batch(2, key=jax.random.key(0))
    >>> batch.batch_size, batch.n_genes
    (2, 2)
    """

    cell_index: Int[Array, " batch"]
    total_counts: Float[Array, " batch"]
    n_genes: int = eqx.field(static=True)
    counts: Float[Array, "batch genes"] | None = None
    nonzeros: PaddedNonzeros | None = None

    def __check_init__(self):
        if self.counts is None and self.nonzeros is None:
            raise ValueError("A Batch needs `counts`, `nonzeros` or both; found neither.")

    @property
    def batch_size(self) -> int:
        """Number of cells in the batch."""
        return self.cell_index.shape[0]
