"""load_counts: bad input is rejected with a clear message; good input is read exactly."""

import copy
import warnings

import anndata
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from scribe._warnings import DataWarning
from scribe.data import load_counts


def _adata_with_layer():
    return anndata.AnnData(X=np.ones((3, 2), np.float32), layers={"raw": np.ones((3, 2))})


def _dense(values, dtype=np.float64):
    return np.array(values, dtype=dtype)


# (id, factory of bad input, keyword arguments, exception, pattern naming argument and finding)
BAD_INPUTS = [
    ("list", lambda: [[1, 2], [3, 4]], {}, TypeError, r"`data` must be an AnnData.*found list"),
    ("strings", lambda: np.array([["1", "2"]]), {}, TypeError, r"`data` .*found dtype <U1"),
    ("object", lambda: np.array([[1, None]]), {}, TypeError, r"`data` .*found dtype object"),
    ("bool", lambda: np.eye(2, dtype=bool), {}, TypeError, r"`data` .*found dtype bool"),
    ("complex", lambda: np.ones((2, 2), complex), {}, TypeError, r"`data` .*found complex"),
    (
        "sparse bool",
        lambda: sp.csr_array(np.eye(3, dtype=bool)),
        {},
        TypeError,
        r"`data` .*found dtype bool",
    ),
    ("1-D", lambda: np.ones(5), {}, ValueError, r"`data` must be 2-D.*found 1-D.*\(5,\)"),
    ("3-D", lambda: np.ones((2, 3, 4)), {}, ValueError, r"`data` must be 2-D.*found 3-D"),
    ("no cells", lambda: np.ones((0, 4)), {}, ValueError, r"`data` .*found 0 cells × 4 genes"),
    ("no genes", lambda: sp.csr_array((3, 0)), {}, ValueError, r"`data` .*found 3 cells × 0"),
    (
        "negative",
        lambda: _dense([[0, 1, 2], [3, 4, -1]]),
        {},
        ValueError,
        r"`data` must hold non-negative counts; found 1 negative .*cell 1, gene 2: -1",
    ),
    (
        "negative sparse int",
        lambda: sp.coo_matrix(([5, -2], ([0, 3], [1, 0])), shape=(4, 2)),
        {},
        ValueError,
        r"`data` .*non-negative.*found 1 negative.*cell 3, gene 0: -2",
    ),
    (
        "non-integer",
        lambda: _dense([[0, 1.5], [2, 2.25]]),
        {},
        ValueError,
        r"`data` must hold integer counts.*found 2 non-integer .*cell 0, gene 1: 1.5",
    ),
    (
        "nan",
        lambda: sp.csr_array(_dense([[0, np.nan], [2, 0]])),
        {},
        ValueError,
        r"`data` must hold finite counts; found 1 NaN or inf.*nan",
    ),
    ("inf", lambda: _dense([[np.inf, 1]]), {}, ValueError, r"`data` .*finite.*: inf"),
    ("too large", lambda: _dense([[2.0**24, 0]]), {}, ValueError, r"`data` .*too large"),
    (
        "missing layer",
        _adata_with_layer,
        {"layer": "counts"},
        ValueError,
        r"`layer='counts'` is not a layer of `data`; layers found: \['raw'\]",
    ),
    (
        "layer on array",
        lambda: np.ones((2, 2)),
        {"layer": "raw"},
        ValueError,
        r"`layer` applies only to AnnData input, but `data` is a ndarray",
    ),
    (
        "bad layer values",
        lambda: anndata.AnnData(X=np.ones((2, 2)), layers={"raw": -np.ones((2, 2))}),
        {"layer": "raw"},
        ValueError,
        r"`data.layers\['raw'\]` must hold non-negative counts; found 4 negative",
    ),
    (
        "anndata without X",
        lambda: anndata.AnnData(obs=pd.DataFrame(index=["a", "b"])),
        {},
        ValueError,
        r"`data` is an AnnData without X",
    ),
    (
        "dataframe text column",
        lambda: pd.DataFrame({"g1": [1, 2], "g2": ["x", "y"]}),
        {},
        TypeError,
        r"`data\['g2'\]` must hold integer or float counts; found dtype object",
    ),
    (
        "sparse dataframe",
        lambda: pd.DataFrame({"g1": pd.arrays.SparseArray([0, 1])}),
        {},
        TypeError,
        r"`data` is a DataFrame with sparse column 'g1'.*sparse.to_coo",
    ),
    (
        "custom argument name",
        lambda: anndata.AnnData(X=_dense([[0.5, 1]])),
        {"argument": "adata"},
        ValueError,
        r"`adata.X` must hold integer counts",
    ),
]


@pytest.mark.parametrize(
    ("factory", "kwargs", "error", "pattern"),
    [case[1:] for case in BAD_INPUTS],
    ids=[case[0] for case in BAD_INPUTS],
)
def test_bad_input_is_rejected_with_a_clear_message(factory, kwargs, error, pattern):
    with pytest.raises(error, match=pattern):
        load_counts(factory(), **kwargs)


def test_error_location_is_global_across_dense_blocks(monkeypatch):
    # Force blocks of 2 rows so the bad entry sits in the fourth block.
    monkeypatch.setattr("scribe.data._validate.DENSE_BLOCK_ENTRIES", 6)
    counts = np.ones((10, 3))
    counts[7, 1] = 0.5
    with pytest.raises(ValueError, match=r"cell 7, gene 1: 0.5"):
        load_counts(counts)


def test_empty_cells_and_genes_warn_with_counts():
    counts = np.zeros((5, 6))
    counts[[0, 2, 4], 1] = 3
    counts[0, [0, 4]] = 1
    with pytest.warns(DataWarning, match=r"2 of 5 cells and 3 of 6 genes with no counts"):
        load_counts(counts)


def test_clean_data_does_not_warn():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_counts(np.array([[1, 0], [0, 2]]))


def _snapshot(value):
    """Everything about an input that loading must not change."""
    if isinstance(value, anndata.AnnData):
        return {
            "X": _snapshot(value.X),
            "layers": {k: _snapshot(v) for k, v in value.layers.items()},
            "obs_names": list(value.obs_names),
        }
    if sp.issparse(value):
        arrays = {k: getattr(value, k, None) for k in ("data", "indices", "indptr", "row", "col")}
        return {
            "type": type(value),
            "dtype": value.dtype,
            "arrays": {k: v.copy() for k, v in arrays.items() if v is not None},
        }
    return {"type": type(value), "dtype": value.dtype, "values": value.copy()}


def _non_canonical_csr():
    # Unsorted column indices, a duplicate entry and an explicit zero: canonicalizing this
    # in place would be a visible change to the caller's matrix.
    data = np.array([2, 1, 0, 4, 3], dtype=np.int64)
    indices = np.array([2, 0, 1, 2, 2], dtype=np.int32)
    indptr = np.array([0, 3, 3, 5], dtype=np.int32)
    return sp.csr_matrix((data, indices, indptr), shape=(3, 3))


UNCHANGED_INPUTS = {
    "dense int64": lambda: np.array([[0, 3], [1, 0]], dtype=np.int64),
    "dense float32": lambda: np.array([[0, 3], [1, 0]], dtype=np.float32),
    "csr non-canonical": _non_canonical_csr,
    "csc uint16": lambda: sp.csc_array(np.array([[0, 3], [1, 0]], dtype=np.uint16)),
    "coo duplicates": lambda: sp.coo_matrix(([1, 2, 5], ([0, 0, 1], [1, 1, 0])), shape=(2, 2)),
    "anndata layer": lambda: anndata.AnnData(
        X=sp.csr_matrix(np.array([[1.0, 0], [0, 2]])),
        layers={"counts": _non_canonical_csr()[:2, :2]},
    ),
}


@pytest.mark.parametrize("name", list(UNCHANGED_INPUTS))
def test_input_is_never_modified(name):
    value = UNCHANGED_INPUTS[name]()
    kwargs = {"layer": "counts"} if isinstance(value, anndata.AnnData) else {}
    before = copy.deepcopy(_snapshot(value))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        loaded = load_counts(value, **kwargs)
    after = _snapshot(value)
    np.testing.assert_equal(after, before)
    source = value.layers["counts"] if kwargs else value
    if sp.issparse(source):
        assert not np.shares_memory(loaded.matrix.data, source.data)


def test_sparse_formats_are_read_exactly_and_canonically():
    with pytest.warns(DataWarning, match="1 of 3 cells and 1 of 3 genes"):
        loaded = load_counts(_non_canonical_csr())
    matrix = loaded.matrix
    assert isinstance(matrix, sp.csr_array)
    assert matrix.dtype == np.float32
    assert matrix.has_canonical_format
    assert matrix.nnz == 3  # the explicit zero is gone, the duplicates are summed
    np.testing.assert_array_equal(loaded.dense(), [[1, 0, 2], [0, 0, 0], [0, 0, 7]])
    np.testing.assert_array_equal(loaded.total_counts, [3, 0, 7])
    assert loaded.total_counts.dtype == np.float64


def test_integral_floats_and_large_integers_are_exact():
    counts = np.array([[3.0, 0.0], [2.0**24 - 1, 1.0]])
    loaded = load_counts(counts)
    np.testing.assert_array_equal(loaded.dense().astype(np.float64), counts)
    assert loaded.total_counts[1] == 2.0**24


def test_names_come_from_anndata_dataframe_or_defaults():
    adata = anndata.AnnData(X=np.array([[1, 2]]))
    adata.obs_names, adata.var_names = ["c"], ["g1", "g2"]
    assert list(load_counts(adata).gene_names) == ["g1", "g2"]
    assert list(load_counts(adata).cell_names) == ["c"]
    frame = pd.DataFrame({"a": [1, 0], "b": [0, 2]}, index=["x", "y"])
    loaded = load_counts(frame)
    assert list(loaded.gene_names) == ["a", "b"] and list(loaded.cell_names) == ["x", "y"]
    np.testing.assert_array_equal(loaded.dense(), frame.to_numpy())
    plain = load_counts(np.array([[1, 2]]))
    assert list(plain.gene_names) == ["gene_0", "gene_1"] and list(plain.cell_names) == ["cell_0"]


def test_layer_is_read_instead_of_x():
    adata = anndata.AnnData(
        X=np.ones((2, 2), np.float32), layers={"raw": np.array([[5, 0], [0, 7]])}
    )
    np.testing.assert_array_equal(load_counts(adata, layer="raw").dense(), [[5, 0], [0, 7]])
    np.testing.assert_array_equal(load_counts(adata).dense(), np.ones((2, 2)))


@pytest.mark.parametrize("fmt", ["csr", "csc", "coo"])
def test_huge_sparse_input_is_never_densified(fmt, monkeypatch):
    # Dense, this is 1e10 entries (40 GB): only a sparse path can load it.
    rng = np.random.default_rng(0)
    rows, cols = rng.integers(200_000, size=1000), rng.integers(50_000, size=1000)
    huge = sp.coo_array((np.ones(1000), (rows, cols)), shape=(200_000, 50_000)).asformat(fmt)

    def refuse(*args, **kwargs):
        raise AssertionError("a sparse input was densified")

    monkeypatch.setattr(sp._base._spbase, "toarray", refuse)
    monkeypatch.setattr(sp._base._spbase, "todense", refuse)
    with pytest.warns(DataWarning):
        loaded = load_counts(huge)
    assert loaded.matrix.shape == (200_000, 50_000)
    assert loaded.nnz == len(set(zip(rows.tolist(), cols.tolist(), strict=True)))
    assert loaded.total_counts.sum() == 1000


@pytest.mark.parametrize("sparse", [True, False])
def test_backed_anndata_matches_in_memory(tmp_path, monkeypatch, sparse):
    monkeypatch.setattr("scribe.data._validate.DENSE_BLOCK_ENTRIES", 40)  # several blocks
    rng = np.random.default_rng(1)
    counts = rng.poisson(0.7, size=(50, 8)).astype(np.int32)
    counts[:, 0] += 1  # no empty cells
    counts[0, :] += 1  # no empty genes
    adata = anndata.AnnData(X=sp.csr_matrix(counts) if sparse else counts)
    adata.write_h5ad(tmp_path / "counts.h5ad")
    backed = anndata.read_h5ad(tmp_path / "counts.h5ad", backed="r")
    try:
        loaded = load_counts(backed)
    finally:
        backed.file.close()
    np.testing.assert_array_equal(loaded.dense(), counts)
    assert loaded.matrix.has_canonical_format
