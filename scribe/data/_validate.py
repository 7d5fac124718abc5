"""Turn what a user hands us into one checked, canonical float32 CSR matrix.

Every check runs on the stored entries of a CSR block (its ``.data``): zeros are always valid
counts, so a sparse input is validated without ever being densified, and a dense input is
converted to CSR one block of rows at a time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import anndata
import h5py
import jax
import numpy as np
import pandas as pd
import scipy.sparse as sp
from anndata.abc import CSCDataset, CSRDataset

# float32 holds every integer below 2**24 exactly; counts are stored as float32 for JAX.
MAX_COUNT = 2**24
# Dense input is converted block by block so temporaries stay near this many entries.
DENSE_BLOCK_ENTRIES = 2**24

_EXPECTED = (
    "an AnnData, a numpy array, a scipy sparse matrix/array or a pandas DataFrame "
    "of raw UMI counts (cells × genes)"
)


@dataclass(frozen=True)
class Source:
    """The matrix to read, where it came from (for messages) and any names it carries."""

    matrix: Any
    where: str
    cell_names: np.ndarray | None = None
    gene_names: np.ndarray | None = None


def resolve_source(data: Any, layer: str | None, argument: str) -> Source:
    """Pick the count matrix out of `data`, rejecting unsupported types and misused `layer`."""
    if isinstance(data, anndata.AnnData):
        return _anndata_source(data, layer, argument)
    if layer is not None:
        raise ValueError(
            f"`layer` applies only to AnnData input, but `{argument}` is a "
            f"{type(data).__name__}; pass the layer's matrix directly or leave `layer=None`."
        )
    if sp.issparse(data):
        return Source(data, argument)
    if isinstance(data, np.ndarray | jax.Array):
        return Source(data, argument)
    if isinstance(data, pd.DataFrame):
        return _dataframe_source(data, argument)
    raise TypeError(f"`{argument}` must be {_EXPECTED}; found {type(data).__name__}.")


def _anndata_source(adata: anndata.AnnData, layer: str | None, argument: str) -> Source:
    if layer is None:
        matrix, where = adata.X, f"{argument}.X"
        if matrix is None:
            raise ValueError(
                f"`{argument}` is an AnnData without X; put counts in X or pass "
                f"`layer=` (layers found: {sorted(adata.layers.keys())})."
            )
    elif layer not in adata.layers:
        raise ValueError(
            f"`layer={layer!r}` is not a layer of `{argument}`; "
            f"layers found: {sorted(adata.layers.keys())}."
        )
    else:
        matrix, where = adata.layers[layer], f"{argument}.layers[{layer!r}]"
    return Source(
        matrix,
        where,
        cell_names=np.asarray(adata.obs_names, dtype=str),
        gene_names=np.asarray(adata.var_names, dtype=str),
    )


def _dataframe_source(frame: pd.DataFrame, argument: str) -> Source:
    for column, dtype in frame.dtypes.items():
        # Sparse columns would be densified by to_numpy(); make the user choose the layout.
        if isinstance(dtype, pd.SparseDtype):
            raise TypeError(
                f"`{argument}` is a DataFrame with sparse column {column!r}; pass "
                f"`{argument}.sparse.to_coo()` (a scipy sparse matrix) instead."
            )
        check_dtype(np.dtype(dtype), f"{argument}[{column!r}]")
    return Source(
        frame.to_numpy(),
        argument,
        cell_names=np.asarray(frame.index.astype(str), dtype=str),
        gene_names=np.asarray(frame.columns.astype(str), dtype=str),
    )


def check_dtype(dtype: np.dtype, where: str) -> None:
    """Reject dtypes that cannot hold counts (bool, complex, strings, objects, dates)."""
    if dtype == np.bool_:
        raise TypeError(
            f"`{where}` must hold numeric counts; found dtype bool. If these really are "
            "0/1 counts, convert them with `.astype(np.int32)`."
        )
    if np.issubdtype(dtype, np.complexfloating):
        raise TypeError(f"`{where}` must hold real counts; found complex dtype {dtype}.")
    if not (np.issubdtype(dtype, np.integer) or np.issubdtype(dtype, np.floating)):
        raise TypeError(f"`{where}` must hold integer or float counts; found dtype {dtype}.")


def check_shape(shape: tuple[int, ...], where: str) -> None:
    """Require a 2-D matrix with at least one cell and one gene."""
    if len(shape) != 2:
        raise ValueError(
            f"`{where}` must be 2-D (cells × genes); found {len(shape)}-D with shape {shape}."
        )
    if shape[0] == 0 or shape[1] == 0:
        raise ValueError(
            f"`{where}` must have at least one cell and one gene; "
            f"found {shape[0]} cells × {shape[1]} genes."
        )


def read_checked_csr(source: Source) -> sp.csr_array:
    """Read `source.matrix` into a new canonical float32 CSR array, checking every entry."""
    matrix, where = source.matrix, source.where
    check_shape(tuple(matrix.shape), where)
    check_dtype(np.dtype(matrix.dtype), where)
    if isinstance(matrix, CSRDataset | CSCDataset):
        # A backed sparse X is read as sparse: memory grows with nnz, never cells × genes.
        return _checked_block(sp.csr_array(matrix.to_memory()), 0, where)
    if sp.issparse(matrix):
        # copy=True: sum_duplicates/eliminate_zeros below work in place and csr_array(x)
        # otherwise shares the user's arrays.
        return _checked_block(sp.csr_array(matrix, copy=True), 0, where)
    return _read_dense_in_blocks(matrix, where)


def _read_dense_in_blocks(matrix: Any, where: str) -> sp.csr_array:
    """Convert a dense (numpy, jax or backed h5py) matrix to CSR a block of rows at a time."""
    if not isinstance(matrix, h5py.Dataset):
        matrix = np.asarray(matrix)
    n_cells, n_genes = matrix.shape
    step = max(1, DENSE_BLOCK_ENTRIES // n_genes)
    blocks = []
    for start in range(0, n_cells, step):
        block = np.asarray(matrix[start : start + step])
        if block.dtype == np.float16:  # scipy.sparse has no float16; the upcast is exact
            block = block.astype(np.float32)
        blocks.append(_checked_block(sp.csr_array(block), start, where))
    if len(blocks) == 1:
        return blocks[0]
    return sp.csr_array(sp.vstack(blocks, format="csr"))


def _checked_block(block: sp.csr_array, row_offset: int, where: str) -> sp.csr_array:
    """Validate the stored entries of a CSR block we own and return it as float32."""
    block.sum_duplicates()
    _check_values(block, row_offset, where)
    block.data = block.data.astype(np.float32)
    block.eliminate_zeros()
    return block


def _check_values(block: sp.csr_array, row_offset: int, where: str) -> None:
    values = block.data
    if np.issubdtype(values.dtype, np.floating):
        _reject(~np.isfinite(values), block, row_offset, where, "finite counts", "NaN or inf")
        _reject(values < 0, block, row_offset, where, "non-negative counts", "negative")
        _reject(
            values != np.floor(values),
            block,
            row_offset,
            where,
            "integer counts (raw UMIs, not normalized or log values)",
            "non-integer",
        )
    else:
        _reject(values < 0, block, row_offset, where, "non-negative counts", "negative")
    _reject(
        values >= MAX_COUNT,
        block,
        row_offset,
        where,
        f"counts below 2**24 = {MAX_COUNT} (stored exactly as float32)",
        "too large",
    )


def _reject(
    bad: np.ndarray,
    block: sp.csr_array,
    row_offset: int,
    where: str,
    expected: str,
    found: str,
) -> None:
    """Raise a ValueError naming how many entries are bad and where the first one is."""
    if not bad.any():
        return
    first = int(np.flatnonzero(bad)[0])
    row = int(np.searchsorted(block.indptr, first, side="right")) - 1 + row_offset
    raise ValueError(
        f"`{where}` must hold {expected}; found {int(bad.sum())} {found} value(s), "
        f"the first at cell {row}, gene {int(block.indices[first])}: {block.data[first].item()}."
    )
