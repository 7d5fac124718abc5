"""Counts on the accelerator as CSR arrays, and minibatches cut from them inside jit."""

from __future__ import annotations

from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float, Int, PRNGKeyArray

from ._batch import Batch, DistinctPairs, PaddedNonzeros


def batch_capacity(row_nnz: np.ndarray, batch_size: int) -> int:
    """Sum of the `batch_size` largest entries of `row_nnz`: enough for any distinct cells."""
    n_cells = row_nnz.shape[0]
    check_batch_size(batch_size, n_cells)
    largest = np.partition(row_nnz, n_cells - batch_size)[n_cells - batch_size :]
    return int(largest.sum())


def sampling_capacity(
    row_nnz: np.ndarray, batch_size: int, *, overflow_probability: float = 1e-12
) -> int:
    """Slots that hold a uniformly drawn batch except with probability `overflow_probability`.

    The nonzeros ``S`` of ``B`` cells drawn without replacement exceed their mean ``B m`` by
    ``t`` with probability at most ``exp(-t² / (2 (B σ² + M t / 3)))`` (Bernstein; sampling
    without replacement obeys every bound proved for sampling with replacement, Hoeffding
    1963, Thm. 4), with ``σ²`` the variance of the row sizes and ``M = max - m``. Solving
    for ``t`` at ``log(1 / overflow_probability)`` gives the capacity, never more than the
    exact worst case `batch_capacity`. On the bundled 10x subset at B = 512 this is 41.8k
    slots instead of 71.6k.
    """
    if not 0.0 < overflow_probability < 1.0:
        raise ValueError(
            f"`overflow_probability` must be in (0, 1); found {overflow_probability}."
        )
    worst = batch_capacity(row_nnz, batch_size)
    row_nnz = np.asarray(row_nnz, dtype=float)
    log_inverse = np.log(1.0 / overflow_probability)
    excess = log_inverse * (row_nnz.max() - row_nnz.mean()) / 3.0
    t = excess + np.sqrt(excess**2 + 2.0 * log_inverse * batch_size * row_nnz.var())
    return min(worst, int(np.ceil(batch_size * row_nnz.mean() + t)))


def check_batch_size(batch_size: int, n_cells: int) -> None:
    """Batch sizes are static shapes: check them when tracing, not at run time."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, int | np.integer):
        raise TypeError(f"`batch_size` must be an int; found {type(batch_size).__name__}.")
    if not 1 <= batch_size <= n_cells:
        raise ValueError(f"`batch_size` must be in [1, {n_cells}] (n_cells); found {batch_size}.")


class DeviceCounts(eqx.Module):
    """A count matrix held on device in CSR form, from which minibatches are cut.

    Create it with `CountData.to_device`. Every method works under `jax.jit` with a traced
    `cell_index` (its length, the batch size, is static). Minibatch nonzeros are gathered
    into a `PaddedNonzeros` of fixed `capacity`; a capacity too small for the selected cells
    raises at run time (`eqx.error_if`) rather than dropping counts, as does a `cell_index`
    outside ``[0, n_cells)``; under `eqx.filter_jit` these surface as a readable
    `eqx.EquinoxRuntimeError`.

    Parameters
    ----------
    indptr, indices, data
        The CSR arrays (int32 offsets and gene indices, float counts).
    total_counts
        Total UMI count of every cell.
    n_cells, n_genes
        The matrix shape (static).
    max_row_nnz
        The most nonzeros in any one cell (static); bounds the default capacity.
    pair_index, pair_genes, pair_counts
        The distinct (gene, count) pairs of the nonzeros and each nonzero's pair (see
        `DistinctPairs`); batches carry them when there are fewer pairs than slots.

    Examples
    --------
    >>> import numpy as np, jax
    >>> from scribe.data import load_counts
    >>> counts = load_counts(np.array([[0, 2], [1, 0], [3, 3]])).to_device()
    >>> capacity = counts.batch_capacity(2)
    >>> step = jax.jit(lambda c, i: c.batch(i, capacity=capacity, dense=True).counts)
    >>> step(counts, np.array([2, 0]))
    Array([[3., 3.],
           [0., 2.]], dtype=float32)
    """

    indptr: Int[Array, " cells_plus_1"]
    indices: Int[Array, " nnz"]
    data: Float[Array, " nnz"]
    total_counts: Float[Array, " cells"]
    n_cells: int = eqx.field(static=True)
    n_genes: int = eqx.field(static=True)
    max_row_nnz: int = eqx.field(static=True)
    pair_index: Int[Array, " nnz"]
    pair_genes: Int[Array, " pairs"]
    pair_counts: Float[Array, " pairs"]

    @property
    def nnz(self) -> int:
        """Number of stored nonzero counts."""
        return self.data.shape[0]

    def batch_capacity(self, batch_size: int) -> int:
        """The smallest capacity that holds the nonzeros of any `batch_size` distinct cells.

        Computed on the host (outside jit) from the row sizes: pass the result as the static
        `capacity` of `gather`, `batch` or `sample_batch`. Duplicate cells in one batch can
        need more; ``batch_size * max_row_nnz`` always suffices.
        """
        return batch_capacity(self._host_row_nnz("batch_capacity"), batch_size)

    def sampling_capacity(self, batch_size: int, *, overflow_probability: float = 1e-12) -> int:
        """Capacity for `sample_batch` that a random batch exceeds with tiny probability.

        See `scribe.data.sampling_capacity`; computed on the host, outside jit.
        """
        return sampling_capacity(
            self._host_row_nnz("sampling_capacity"),
            batch_size,
            overflow_probability=overflow_probability,
        )

    def _host_row_nnz(self, method: str) -> np.ndarray:
        try:
            indptr = np.asarray(self.indptr)
        except jax.errors.TracerArrayConversionError:
            raise TypeError(
                f"`{method}` reads row sizes on the host; call it outside jit and pass the "
                "result as the static `capacity`."
            ) from None
        return np.diff(indptr)

    def default_capacity(self, batch_size: int) -> int:
        """A capacity that needs no host work: ``min(batch_size * max_row_nnz, nnz)``."""
        return min(batch_size * self.max_row_nnz, self.nnz)

    def gather(self, cell_index: Int[ArrayLike, " batch"], capacity: int) -> PaddedNonzeros:
        """Gather the nonzeros of the cells `cell_index` into `capacity` padded slots.

        Parameters
        ----------
        cell_index
            Indices of the cells (rows), in ``[0, n_cells)``; may be traced.
        capacity
            Number of slots (static). Must be at least the selected cells' total nonzeros:
            ``batch_capacity(batch_size)`` guarantees it; less raises at run time.

        Returns
        -------
        The nonzeros, row-major: slot ``j`` of row ``b`` follows all slots of rows ``< b``.
        """
        return self._gather(self._checked_index(cell_index), capacity)

    def batch(
        self,
        cell_index: Int[ArrayLike, " batch"],
        *,
        capacity: int | None = None,
        dense: bool = False,
    ) -> Batch:
        """Build the `Batch` of the cells `cell_index`.

        Parameters
        ----------
        cell_index
            Indices of the cells, in ``[0, n_cells)``; may be traced.
        capacity
            Static number of nonzero slots; defaults to `default_capacity`.
        dense
            Also fill `Batch.counts` with the batch's dense counts.

        Returns
        -------
        A Batch with `nonzeros` always set and `counts` when `dense` is True.
        """
        cell_index = self._checked_index(cell_index)
        batch_size = cell_index.shape[0]
        if capacity is None:
            capacity = self.default_capacity(batch_size)
        nonzeros = self._gather(cell_index, capacity)
        return Batch(
            cell_index=cell_index,
            total_counts=self.total_counts[cell_index],
            n_genes=self.n_genes,
            counts=nonzeros.to_dense(batch_size, self.n_genes) if dense else None,
            nonzeros=nonzeros,
        )

    def full_batch(self, *, dense: bool = False) -> Batch:
        """All cells in order, with capacity exactly `nnz` (no padding)."""
        cell_index = jnp.arange(self.n_cells, dtype=jnp.int32)
        rows = jnp.repeat(cell_index, jnp.diff(self.indptr), total_repeat_length=self.nnz)
        nonzeros = PaddedNonzeros(
            rows=rows,
            cols=self.indices,
            values=self.data,
            mask=jnp.ones(self.nnz, dtype=bool),
            pairs=self._pairs(lambda: self.pair_index, self.nnz),
        )
        return Batch(
            cell_index=cell_index,
            total_counts=self.total_counts,
            n_genes=self.n_genes,
            counts=nonzeros.to_dense(self.n_cells, self.n_genes) if dense else None,
            nonzeros=nonzeros,
        )

    def sample_batch(
        self,
        batch_size: int,
        *,
        key: PRNGKeyArray,
        capacity: int | None = None,
        dense: bool = False,
        max_draws: int = 100,
    ) -> Batch:
        """Draw `batch_size` distinct cells uniformly at random and build their `Batch`.

        The cells are those holding the `batch_size` largest of ``n_cells`` iid uniform
        keys (``lax.top_k``): a uniformly random subset, ten times cheaper on CPU than the
        full permutation behind ``jax.random.choice(..., replace=False)``. A draw whose
        cells need more than `capacity` slots is redrawn with a fresh key, so a
        `sampling_capacity` (which a draw exceeds with probability ≤ 1e-12) distorts the
        distribution by at most that much; after `max_draws` draws it raises.

        Parameters
        ----------
        batch_size
            Number of cells (static).
        key
            A PRNG key.
        capacity, dense
            As in `batch`.
        max_draws
            Draws to try before raising (static).
        """
        check_batch_size(batch_size, self.n_cells)
        if capacity is None:
            capacity = self.default_capacity(batch_size)

        def draw(attempt: Array) -> Int[Array, " batch"]:
            keys = jax.random.uniform(jax.random.fold_in(key, attempt), (self.n_cells,))
            return jax.lax.top_k(keys, batch_size)[1].astype(jnp.int32)

        def too_many(index: Int[Array, " batch"]) -> Array:
            return jnp.sum(self.indptr[index + 1] - self.indptr[index]) > capacity

        def redraw(carry):
            attempt, _ = carry
            return attempt + 1, draw(attempt + 1)

        def again(carry):
            attempt, index = carry
            return too_many(index) & (attempt + 1 < max_draws)

        _, cell_index = jax.lax.while_loop(again, redraw, (jnp.int32(0), draw(jnp.int32(0))))
        return self.batch(cell_index, capacity=capacity, dense=dense)

    def _checked_index(self, cell_index: Int[ArrayLike, " batch"]) -> Int[Array, " batch"]:
        cell_index = jnp.asarray(cell_index)
        if not jnp.issubdtype(cell_index.dtype, jnp.integer):
            raise TypeError(f"`cell_index` must hold integers; found dtype {cell_index.dtype}.")
        if cell_index.ndim != 1 or cell_index.shape[0] == 0:
            raise ValueError(
                f"`cell_index` must be 1-D and non-empty; found shape {cell_index.shape}."
            )
        # JAX clamps out-of-range indices silently; a wrong cell is worse than an error.
        out_of_range = (cell_index < 0) | (cell_index >= self.n_cells)
        cell_index = eqx.error_if(cell_index, out_of_range, "`cell_index` out of [0, n_cells).")
        return cell_index.astype(jnp.int32)

    def _gather(self, cell_index: Int[Array, " batch"], capacity: int) -> PaddedNonzeros:
        if isinstance(capacity, bool) or not isinstance(capacity, int | np.integer):
            raise TypeError(f"`capacity` must be a (static) int; found {type(capacity).__name__}.")
        if capacity < 0:
            raise ValueError(f"`capacity` must be >= 0; found {capacity}.")
        batch_size = cell_index.shape[0]
        start = self.indptr[cell_index]
        row_nnz = self.indptr[cell_index + 1] - start
        row_end = jnp.cumsum(row_nnz)
        row_end = eqx.error_if(
            row_end,
            row_end[-1] > capacity,
            "The selected cells have more nonzeros than `capacity`; pass a capacity of at "
            "least DeviceCounts.batch_capacity(batch_size) (or batch_size * max_row_nnz "
            "when cells repeat).",
        )
        row_start = row_end - row_nnz
        slot = jnp.arange(capacity, dtype=row_end.dtype)
        mask = slot < row_end[-1]
        # Each slot's row: count the row starts at or before it (empty rows share their
        # start with the next row, so the count lands on the last, non-empty one).
        starts = jnp.zeros(capacity, row_end.dtype).at[row_start].add(1, mode="drop")
        row = jnp.clip(jnp.cumsum(starts) - 1, 0, batch_size - 1)
        position = start[row] + slot - row_start[row]
        # An all-zero matrix has nothing to index; every slot is padding then.
        if self.nnz == 0:
            mask = jnp.zeros(capacity, dtype=bool)
            cols = jnp.zeros(capacity, dtype=jnp.int32)
            values = jnp.zeros(capacity, dtype=self.data.dtype)
        else:
            position = jnp.where(mask, position, 0)
            cols = jnp.where(mask, self.indices[position], 0)
            values = jnp.where(mask, self.data[position], 0)
        return PaddedNonzeros(
            rows=jnp.where(mask, row, 0).astype(jnp.int32),
            cols=cols.astype(jnp.int32),
            values=values.astype(self.data.dtype),
            mask=mask,
            pairs=self._pairs(lambda: jnp.where(mask, self.pair_index[position], 0), capacity),
        )

    def _pairs(self, slot_pairs: Callable[[], Array], capacity: int) -> DistinctPairs | None:
        """The batch's `DistinctPairs` when it has fewer pairs than slots (else None)."""
        if not 0 < self.pair_genes.shape[0] < capacity:
            return None
        return DistinctPairs(index=slot_pairs(), genes=self.pair_genes, counts=self.pair_counts)
