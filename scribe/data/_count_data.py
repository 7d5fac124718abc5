"""Host-side count data: the validated matrix every model is fitted to."""

from __future__ import annotations

import dataclasses
import warnings
from dataclasses import dataclass
from typing import Any

import jax.numpy as jnp
import numpy as np
import scipy.sparse as sp
from jaxtyping import Float, Int

from .._warnings import DataWarning
from ._device import DeviceCounts, batch_capacity, sampling_capacity
from ._validate import read_checked_csr, resolve_source


@dataclass(frozen=True, eq=False, repr=False)
class CountData:
    """A validated cells × genes UMI count matrix, kept on the host as sparse CSR.

    Build it with `load_counts`. Counts are stored as float32 (what JAX computes in); they
    are exact because `load_counts` admits only integers below 2**24. The arrays are
    read-only: derive new data (`drop_empty`) instead of editing it.

    Parameters
    ----------
    matrix
        Canonical CSR (sorted indices, no duplicates, no stored zeros), float32 values.
    cell_names, gene_names
        One string per cell (row) and per gene (column).
    total_counts
        Total UMI count of each cell, float64 (exact).
    kept_cells, kept_genes
        Position of each cell and gene in the data as first loaded (``arange`` until
        `drop_empty` removes some).

    Examples
    --------
    >>> import numpy as np
    >>> from scribe.data import load_counts
    >>> data = load_counts(np.array([[0, 2, 1], [1, 0, 0]]))
    >>> data.n_cells, data.n_genes, data.nnz
    (2, 3, 3)
    """

    matrix: sp.csr_array
    cell_names: np.ndarray
    gene_names: np.ndarray
    total_counts: Float[np.ndarray, " cells"]
    kept_cells: Int[np.ndarray, " cells"]
    kept_genes: Int[np.ndarray, " genes"]

    def __post_init__(self):
        n_cells, n_genes = self.matrix.shape
        for name, size in [
            ("cell_names", n_cells),
            ("total_counts", n_cells),
            ("kept_cells", n_cells),
            ("gene_names", n_genes),
            ("kept_genes", n_genes),
        ]:
            array = getattr(self, name)
            if array.shape != (size,):
                raise ValueError(
                    f"CountData.{name} must have shape ({size},) to match the "
                    f"{n_cells} × {n_genes} matrix; found {array.shape}."
                )
            array.flags.writeable = False
        for array in (self.matrix.data, self.matrix.indices, self.matrix.indptr):
            array.flags.writeable = False

    @property
    def n_cells(self) -> int:
        """Number of cells (rows)."""
        return self.matrix.shape[0]

    @property
    def n_genes(self) -> int:
        """Number of genes (columns)."""
        return self.matrix.shape[1]

    @property
    def nnz(self) -> int:
        """Number of nonzero counts."""
        return self.matrix.nnz

    @property
    def row_nnz(self) -> Int[np.ndarray, " cells"]:
        """Number of nonzero counts of each cell."""
        return np.diff(self.matrix.indptr)

    def __repr__(self) -> str:
        density = self.nnz / (self.n_cells * self.n_genes)
        return (
            f"CountData(n_cells={self.n_cells}, n_genes={self.n_genes}, nnz={self.nnz}, "
            f"density={density:.3g})"
        )

    def dense(self) -> Float[np.ndarray, "cells genes"]:
        """The counts as a dense float32 numpy array: for small data only."""
        return self.matrix.toarray()

    def batch_capacity(self, batch_size: int) -> int:
        """Nonzero slots that hold any `batch_size` distinct cells (see `DeviceCounts`)."""
        return batch_capacity(self.row_nnz, batch_size)

    def sampling_capacity(self, batch_size: int, *, overflow_probability: float = 1e-12) -> int:
        """Nonzero slots for randomly drawn batches (see `DeviceCounts.sample_batch`)."""
        return sampling_capacity(
            self.row_nnz, batch_size, overflow_probability=overflow_probability
        )

    def take_cells(self, cells: Int[np.ndarray, " kept"]) -> CountData:
        """A new CountData of the rows ``cells`` (in that order), every gene kept."""
        return dataclasses.replace(
            self,
            matrix=sp.csr_array(self.matrix[cells]),
            cell_names=self.cell_names[cells],
            total_counts=self.total_counts[cells],
            kept_cells=self.kept_cells[cells],
        )

    def drop_empty(self) -> CountData:
        """A new CountData without all-zero cells and genes.

        One pass suffices: removing all-zero genes cannot empty a cell, nor the reverse.
        `kept_cells` and `kept_genes` record which of the originally loaded rows and
        columns remain.

        Examples
        --------
        >>> import numpy as np
        >>> from scribe.data import load_counts
        >>> import warnings
        >>> with warnings.catch_warnings(record=True) as caught:
        ...     warnings.simplefilter("always")
        ...     data = load_counts(np.array([[0, 2, 0], [0, 0, 0]]))
        >>> str(caught[0].message).split(";")[0]
        '`data` has 1 of 2 cells and 2 of 3 genes with no counts at all'
        >>> kept = data.drop_empty()
        >>> kept.kept_cells, kept.kept_genes
        (array([0]), array([1]))
        """
        cells = np.flatnonzero(self.row_nnz)
        genes = np.flatnonzero(_gene_nnz(self.matrix))
        matrix = sp.csr_array(self.matrix[cells][:, genes])
        matrix.sort_indices()
        return CountData(
            matrix=matrix,
            cell_names=self.cell_names[cells],
            gene_names=self.gene_names[genes],
            total_counts=self.total_counts[cells],
            kept_cells=self.kept_cells[cells],
            kept_genes=self.kept_genes[genes],
        )

    def to_device(self, *, dtype: Any = jnp.float32) -> DeviceCounts:
        """Copy the counts to the default device as a `DeviceCounts`.

        Parameters
        ----------
        dtype
            Float dtype of the counts on device (float32, or float64 with x64 enabled).

        Examples
        --------
        >>> import numpy as np
        >>> from scribe.data import load_counts
        >>> counts = load_counts(np.array([[0, 2], [1, 0]])).to_device()
        >>> counts.full_batch(dense=True).counts
        Array([[0., 2.],
               [1., 0.]], dtype=float32)
        """
        if self.nnz >= 2**31:
            raise ValueError(
                f"DeviceCounts indexes nonzeros with int32, so at most 2**31 - 1; "
                f"this data has {self.nnz}. Stream it in parts instead."
            )
        row_nnz = self.row_nnz
        pair_index, pair_genes, pair_counts = distinct_pairs(self.matrix.indices, self.matrix.data)
        return DeviceCounts(
            indptr=jnp.asarray(self.matrix.indptr, dtype=jnp.int32),
            indices=jnp.asarray(self.matrix.indices, dtype=jnp.int32),
            data=jnp.asarray(self.matrix.data, dtype=dtype),
            total_counts=jnp.asarray(self.total_counts, dtype=dtype),
            n_cells=self.n_cells,
            n_genes=self.n_genes,
            max_row_nnz=int(row_nnz.max()),
            pair_index=jnp.asarray(pair_index, dtype=jnp.int32),
            pair_genes=jnp.asarray(pair_genes, dtype=jnp.int32),
            pair_counts=jnp.asarray(pair_counts, dtype=dtype),
        )


def distinct_pairs(
    genes: Int[np.ndarray, " nnz"], counts: Float[np.ndarray, " nnz"]
) -> tuple[Int[np.ndarray, " nnz"], Int[np.ndarray, " pairs"], Float[np.ndarray, " pairs"]]:
    """The distinct (gene, count) pairs of the nonzeros, and which pair each nonzero is.

    Returns
    -------
    index, pair_genes, pair_counts
        ``(pair_genes[index], pair_counts[index]) == (genes, counts)`` entry by entry.
    """
    order = np.lexsort((counts, genes))
    sorted_genes, sorted_counts = genes[order], counts[order]
    new = np.ones(order.shape[0], dtype=bool)
    new[1:] = (np.diff(sorted_genes) != 0) | (np.diff(sorted_counts) != 0)
    index = np.empty(order.shape[0], dtype=np.int64)
    index[order] = np.cumsum(new) - 1
    return index, sorted_genes[new], sorted_counts[new]


def load_counts(data: Any, *, layer: str | None = None, argument: str = "data") -> CountData:
    """Validate raw UMI counts and return them as a `CountData`.

    Accepts an `anndata.AnnData` (counts in ``X`` or in ``layers[layer]``; a backed one is
    read without loading a dense X whole), a numpy or JAX array, any scipy sparse matrix or
    array, or a pandas DataFrame with numeric columns. Sparse input is never densified: every
    check reads only the stored entries. The input is never modified.

    Parameters
    ----------
    data
        Counts, cells × genes.
    layer
        AnnData layer holding the counts (None: ``X``).
    argument
        Name of the argument in the caller's API, used in error messages.

    Returns
    -------
    The counts as canonical float32 CSR with cell and gene names (from ``obs_names`` and
    ``var_names``, a DataFrame's index and columns, else ``cell_0``, ``gene_0``, ...).

    Raises
    ------
    TypeError
        Unsupported input type; a dtype that is not integer or float (bool, complex,
        strings, objects); a DataFrame with sparse columns.
    ValueError
        Not 2-D; no cells or no genes; negative, non-integer, NaN, infinite or too large
        (>= 2**24) values; `layer` missing from the AnnData, or given for non-AnnData input.

    Examples
    --------
    >>> import anndata, numpy as np
    >>> from scribe.data import load_counts
    >>> adata = anndata.AnnData(np.array([[0, 2, 1], [4, 0, 3]], dtype=np.float32))
    >>> data = load_counts(adata)
    >>> data.total_counts
    array([3., 7.])
    """
    if isinstance(data, CountData):
        if layer is not None:
            raise ValueError(f"`layer` does not apply: `{argument}` is already a CountData.")
        return data
    source = resolve_source(data, layer, argument)
    matrix = read_checked_csr(source)
    n_cells, n_genes = matrix.shape
    counts = CountData(
        matrix=matrix,
        cell_names=_names(source.cell_names, "cell", n_cells),
        gene_names=_names(source.gene_names, "gene", n_genes),
        total_counts=np.asarray(matrix.sum(axis=1, dtype=np.float64)).reshape(n_cells),
        kept_cells=np.arange(n_cells),
        kept_genes=np.arange(n_genes),
    )
    _warn_empty(counts, source.where)
    return counts


def _names(names: np.ndarray | None, prefix: str, size: int) -> np.ndarray:
    if names is None:
        return np.array([f"{prefix}_{i}" for i in range(size)], dtype=str)
    return names


def _gene_nnz(matrix: sp.csr_array) -> Int[np.ndarray, " genes"]:
    return np.bincount(matrix.indices, minlength=matrix.shape[1])


def _warn_empty(counts: CountData, where: str) -> None:
    empty_cells = int(np.sum(counts.row_nnz == 0))
    empty_genes = int(np.sum(_gene_nnz(counts.matrix) == 0))
    if empty_cells or empty_genes:
        warnings.warn(
            f"`{where}` has {empty_cells} of {counts.n_cells} cells and {empty_genes} of "
            f"{counts.n_genes} genes with no counts at all; they are kept. Call "
            "`.drop_empty()` on the result to remove them.",
            DataWarning,
            stacklevel=3,
        )
