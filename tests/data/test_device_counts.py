"""DeviceCounts: minibatches cut under jit match scipy's row slicing exactly."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.sparse as sp

from scribe._warnings import DataWarning
from scribe.data import Batch, load_counts

N_CELLS, N_GENES, BATCH = 60, 25, 8
EMPTY_ROWS = [3, 10, 11, 40]


@pytest.fixture(scope="module")
def matrix():
    rng = np.random.default_rng(0)
    # Row densities from 2% to 90% so rows differ widely in nnz; some rows are empty.
    density = rng.uniform(0.02, 0.9, size=(N_CELLS, 1))
    counts = rng.integers(1, 20, size=(N_CELLS, N_GENES)) * (
        rng.random((N_CELLS, N_GENES)) < density
    )
    counts[EMPTY_ROWS] = 0
    counts[0] = np.maximum(counts[0], 1)  # every gene nonzero somewhere
    return sp.csr_array(counts.astype(np.float32))


@pytest.fixture(scope="module")
def device(matrix):
    with pytest.warns(DataWarning, match=f"{len(EMPTY_ROWS)} of {N_CELLS} cells and 0 of"):
        return load_counts(matrix).to_device()


@pytest.fixture(scope="module")
def capacity(device):
    return device.batch_capacity(BATCH)


@pytest.fixture(scope="module")
def jitted_batch(capacity):
    # One compilation serves every test of the module (same shapes, same capacity).
    return jax.jit(lambda counts, index: counts.batch(index, capacity=capacity, dense=True))


def _subsets():
    rng = np.random.default_rng(1)
    subsets = [rng.choice(N_CELLS, BATCH, replace=False) for _ in range(15)]
    subsets.append(np.array([3, 0, 10, 11, 40, 1, 2, 5]))  # mostly empty rows
    subsets.append(np.array(EMPTY_ROWS + [4, 5, 6, 7]))  # empty rows first
    return subsets


@pytest.mark.parametrize("subset", range(len(_subsets())))
def test_gather_under_jit_matches_scipy(matrix, device, jitted_batch, capacity, subset):
    index = _subsets()[subset]
    batch = jitted_batch(device, jnp.asarray(index))
    nz = batch.nonzeros
    expected = matrix[index].tocoo()  # row-major, columns sorted within a row
    n = expected.nnz
    assert nz.capacity == capacity
    np.testing.assert_array_equal(nz.mask, np.arange(capacity) < n)
    np.testing.assert_array_equal(nz.rows[:n], expected.row)
    np.testing.assert_array_equal(nz.cols[:n], expected.col)
    np.testing.assert_array_equal(nz.values[:n], expected.data)
    for padding in (nz.rows, nz.cols, nz.values):
        assert not np.any(padding[n:])
    np.testing.assert_array_equal(batch.counts, matrix[index].toarray())
    np.testing.assert_array_equal(batch.cell_index, index)
    np.testing.assert_array_equal(batch.total_counts, matrix[index].sum(axis=1))
    np.testing.assert_array_equal(nz.sum_by_row(nz.values, BATCH), batch.total_counts)


def _largest_rows(matrix):
    return np.argsort(np.diff(matrix.indptr))[-BATCH:]


def test_capacity_is_tight_for_the_largest_rows(matrix, device, jitted_batch, capacity):
    index = _largest_rows(matrix)
    assert matrix[index].nnz == capacity
    batch = jitted_batch(device, jnp.asarray(index))
    assert bool(batch.nonzeros.mask.all())
    np.testing.assert_array_equal(batch.counts, matrix[index].toarray())


def test_too_small_capacity_raises_instead_of_dropping(matrix, device, capacity):
    gather = eqx.filter_jit(lambda counts, index: counts.gather(index, capacity - 1))
    smallest = np.argsort(np.diff(matrix.indptr))[:BATCH]
    assert int(gather(device, jnp.asarray(smallest)).mask.sum()) == matrix[smallest].nnz
    with pytest.raises(eqx.EquinoxRuntimeError, match="more nonzeros than `capacity`"):
        jax.block_until_ready(gather(device, jnp.asarray(_largest_rows(matrix))))


def test_bad_cell_index(device, capacity):
    gather = eqx.filter_jit(lambda counts, index: counts.gather(index, capacity))
    with pytest.raises(eqx.EquinoxRuntimeError, match=r"`cell_index` out of \[0, n_cells\)"):
        jax.block_until_ready(gather(device, jnp.arange(BATCH) + N_CELLS - 2))
    with pytest.raises(eqx.EquinoxRuntimeError, match=r"`cell_index` out of"):
        jax.block_until_ready(gather(device, jnp.arange(BATCH) - 1))
    with pytest.raises(TypeError, match=r"`cell_index` must hold integers; found dtype float"):
        device.gather(jnp.ones(BATCH), capacity)
    with pytest.raises(ValueError, match=r"`cell_index` must be 1-D.*found shape \(2, 4\)"):
        device.gather(jnp.zeros((2, 4), int), capacity)
    with pytest.raises(TypeError, match=r"`capacity` must be a \(static\) int; found float"):
        device.gather(jnp.arange(BATCH), 10.0)


def test_full_batch_covers_every_nonzero_once(matrix, device):
    batch = jax.jit(lambda counts: counts.full_batch(dense=True))(device)
    nz = batch.nonzeros
    expected = matrix.tocoo()
    assert nz.capacity == matrix.nnz and bool(nz.mask.all())
    np.testing.assert_array_equal(nz.rows, expected.row)
    np.testing.assert_array_equal(nz.cols, expected.col)
    np.testing.assert_array_equal(nz.values, expected.data)
    assert len(set(zip(nz.rows.tolist(), nz.cols.tolist(), strict=True))) == matrix.nnz
    np.testing.assert_array_equal(batch.counts, matrix.toarray())
    np.testing.assert_array_equal(batch.cell_index, np.arange(N_CELLS))


def test_sample_batch_draws_distinct_cells_uniformly(matrix, device, capacity):
    sample = jax.jit(
        jax.vmap(
            lambda counts, key: counts.sample_batch(BATCH, key=key, capacity=capacity),
            in_axes=(None, 0),
        )
    )
    keys = jax.random.split(jax.random.key(3), 300)
    batches = sample(device, keys)
    index = np.asarray(batches.cell_index)
    assert all(len(set(row)) == BATCH for row in index)
    # 300 draws of 8 of 60 cells: each cell expected 40 times; all appear, none dominates.
    times = np.bincount(index.ravel(), minlength=N_CELLS)
    assert times.min() > 15 and times.max() < 70
    # The counts travel with the indices drawn.
    first = jax.tree.map(lambda leaf: leaf[0], batches)
    np.testing.assert_array_equal(
        first.nonzeros.to_dense(BATCH, N_GENES), matrix[index[0]].toarray()
    )
    with pytest.raises(ValueError, match=r"`batch_size` must be in \[1, 60\].*found 61"):
        device.sample_batch(N_CELLS + 1, key=jax.random.key(0))


def test_default_capacity_needs_no_host_work(matrix, device):
    batch = eqx.filter_jit(lambda counts, index: counts.batch(index))(device, jnp.arange(BATCH))
    assert batch.nonzeros.capacity == min(BATCH * device.max_row_nnz, device.nnz)
    assert batch.counts is None
    np.testing.assert_array_equal(
        batch.nonzeros.to_dense(BATCH, N_GENES), matrix[np.arange(BATCH)].toarray()
    )


def test_batch_capacity_refuses_to_run_under_jit(device):
    with pytest.raises(TypeError, match="call it outside jit"):
        eqx.filter_jit(lambda counts: counts.batch_capacity(2))(device)


def test_all_zero_matrix_gives_all_padding():
    with pytest.warns(DataWarning):
        device = load_counts(np.zeros((4, 3))).to_device()
    batch = jax.jit(lambda c: c.batch(jnp.array([0, 2]), capacity=5, dense=True))(device)
    assert not bool(batch.nonzeros.mask.any())
    np.testing.assert_array_equal(batch.counts, np.zeros((2, 3)))


def test_batch_needs_counts_or_nonzeros():
    with pytest.raises(ValueError, match="found neither"):
        Batch(cell_index=jnp.arange(2), total_counts=jnp.ones(2), n_genes=3)
