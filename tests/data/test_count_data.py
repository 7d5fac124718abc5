"""CountData: read-only, drop_empty keeps track of what it keeps, capacities are tight."""

import dataclasses

import jax.numpy as jnp
import numpy as np
import pytest

from scribe._warnings import DataWarning
from scribe.data import CountData, load_counts


@pytest.fixture
def with_empties():
    counts = np.array(
        [
            [0, 0, 0, 0],
            [1, 0, 0, 2],
            [0, 0, 0, 0],
            [3, 0, 4, 0],
        ]
    )
    with pytest.warns(DataWarning, match=r"2 of 4 cells and 1 of 4 genes"):
        return load_counts(counts), counts


def test_drop_empty_removes_and_records(with_empties):
    loaded, counts = with_empties
    kept = loaded.drop_empty()
    np.testing.assert_array_equal(kept.kept_cells, [1, 3])
    np.testing.assert_array_equal(kept.kept_genes, [0, 2, 3])
    np.testing.assert_array_equal(kept.dense(), counts[np.ix_([1, 3], [0, 2, 3])])
    assert list(kept.cell_names) == ["cell_1", "cell_3"]
    assert list(kept.gene_names) == ["gene_0", "gene_2", "gene_3"]
    np.testing.assert_array_equal(kept.total_counts, [3, 7])
    assert kept.matrix.has_canonical_format
    again = kept.drop_empty()
    assert again.matrix.shape == kept.matrix.shape
    np.testing.assert_array_equal(again.kept_cells, kept.kept_cells)


def test_count_data_is_read_only(with_empties):
    loaded, _ = with_empties
    with pytest.raises(dataclasses.FrozenInstanceError):
        loaded.matrix = None
    with pytest.raises(ValueError, match="read-only"):
        loaded.matrix.data[0] = 99
    with pytest.raises(ValueError, match="read-only"):
        loaded.total_counts[0] = 99


def test_inconsistent_fields_are_rejected(with_empties):
    loaded, _ = with_empties
    with pytest.raises(ValueError, match=r"CountData.gene_names must have shape \(4,\).*\(3,\)"):
        dataclasses.replace(loaded, gene_names=loaded.gene_names[:3])


def test_batch_capacity_is_the_sum_of_the_largest_rows():
    counts = np.zeros((5, 10))
    for row, nnz in enumerate([3, 0, 7, 1, 5]):
        counts[row, :nnz] = 1
    with pytest.warns(DataWarning, match="1 of 5 cells and 3 of 10 genes"):
        loaded = load_counts(counts)
    assert [loaded.batch_capacity(b) for b in range(1, 6)] == [7, 12, 15, 16, 16]
    assert loaded.to_device().batch_capacity(2) == 12
    with pytest.raises(ValueError, match=r"`batch_size` must be in \[1, 5\].*found 6"):
        loaded.batch_capacity(6)


def test_to_device_dtype_and_repr():
    loaded = load_counts(np.array([[1, 0], [0, 2]]))
    device = loaded.to_device(dtype=jnp.float64)
    assert device.data.dtype == jnp.float64 and device.indices.dtype == jnp.int32
    assert (device.n_cells, device.n_genes, device.max_row_nnz, device.nnz) == (2, 2, 1, 2)
    assert repr(loaded) == "CountData(n_cells=2, n_genes=2, nnz=2, density=0.5)"
    assert load_counts(loaded) is loaded
    assert isinstance(loaded, CountData)
