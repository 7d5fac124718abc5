"""Bundled datasets: load offline, hold raw integer counts, have the documented shapes."""

import numpy as np
import pytest
import scipy.sparse as sp

import scribe.datasets as datasets
from scribe._warnings import DataWarning
from scribe.data import load_counts

SHAPES = {
    "mouse_10x_10k_subset": (10000, 1000),
    "pbmc68k_reduced": (700, 765),
    "pbmc_5k_protein": (200, 16581),
    "pbmc_10k_protein": (200, 16727),
}


def test_available_lists_every_loader():
    listing = datasets.available()
    assert set(listing) == set(SHAPES)
    for name, summary in listing.items():
        assert callable(getattr(datasets, name))
        n_cells, n_genes = SHAPES[name]
        assert f"{n_cells} cells × {n_genes} genes" in summary


@pytest.mark.parametrize("name", list(SHAPES))
def test_dataset_holds_raw_integer_counts(name):
    adata = getattr(datasets, name)()
    assert adata.shape == SHAPES[name]
    assert sp.issparse(adata.X) and np.issubdtype(adata.X.dtype, np.integer)
    assert adata.X.data.min() >= 0 and adata.X.nnz > 0
    assert adata.var_names.is_unique and adata.obs_names.is_unique


def test_each_call_returns_a_fresh_copy():
    first = datasets.pbmc68k_reduced()
    first.X.data[:] = 0
    first.obs["bulk_labels"] = "changed"
    second = datasets.pbmc68k_reduced()
    assert second.X.data.min() > 0
    assert second.obs["bulk_labels"].nunique() == 10


def test_mouse_subset_drops_to_9999_by_715():
    with pytest.warns(DataWarning, match=r"1 of 10000 cells and 285 of 1000 genes"):
        loaded = load_counts(datasets.mouse_10x_10k_subset())
    kept = loaded.drop_empty()
    assert (kept.n_cells, kept.n_genes) == (9999, 715)
    assert kept.nnz == loaded.nnz
    np.testing.assert_array_equal(kept.total_counts, loaded.total_counts[kept.kept_cells])
