"""Random minibatches: the Bernstein sampling capacity, redraws, and (gene, count) pairs."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from scribe.data import load_counts
from scribe.data._count_data import distinct_pairs
from scribe.data._device import batch_capacity, sampling_capacity

N_CELLS, N_GENES, BATCH = 200, 30, 20


@pytest.fixture(scope="module")
def counts():
    rng = np.random.default_rng(0)
    density = rng.uniform(0.05, 0.8, size=(N_CELLS, 1))  # row sizes vary widely
    counts = rng.negative_binomial(1.0, 0.4, size=(N_CELLS, N_GENES)) + 1
    counts = counts * (rng.random((N_CELLS, N_GENES)) < density)
    counts[:, 0] = np.maximum(counts[:, 0], 1)  # no empty cell
    return counts


@pytest.fixture(scope="module")
def data(counts):
    return load_counts(counts)


@pytest.mark.parametrize("overflow_probability", [0.2, 0.05, 1e-3])
def test_sampling_capacity_overflows_no_more_often_than_promised(data, overflow_probability):
    """Monte Carlo over 20,000 subsets drawn with numpy: the fraction of batches with
    more nonzeros than the capacity stays below the promised probability, and the
    capacity never exceeds the exact worst case."""
    row_nnz = data.row_nnz
    capacity = sampling_capacity(row_nnz, BATCH, overflow_probability=overflow_probability)
    assert capacity <= batch_capacity(row_nnz, BATCH)
    rng = np.random.default_rng(1)
    sums = np.array(
        [row_nnz[rng.choice(N_CELLS, BATCH, replace=False)].sum() for _ in range(20_000)]
    )
    assert np.mean(sums > capacity) <= overflow_probability
    # And it is not absurdly loose: some batch comes within 40% of it.
    assert sums.max() > 0.6 * capacity


def test_sampling_capacity_is_much_smaller_than_the_worst_case_on_real_data():
    import warnings

    import scribe

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", scribe.DataWarning)
        real = load_counts(scribe.datasets.mouse_10x_10k_subset()).drop_empty()
    assert real.sampling_capacity(512) < 0.65 * real.batch_capacity(512)


@pytest.mark.parametrize("bad", [0.0, 1.0, -0.1, 2.0])
def test_sampling_capacity_rejects_bad_probabilities(data, bad):
    with pytest.raises(ValueError, match=r"`overflow_probability` must be in \(0, 1\)"):
        data.sampling_capacity(BATCH, overflow_probability=bad)


def test_sample_batch_redraws_batches_that_do_not_fit(data, counts):
    """With a capacity the typical batch exceeds, every batch returned still fits, holds
    distinct cells and exactly their counts."""
    device = data.to_device()
    row_nnz = data.row_nnz
    capacity = int(
        np.median(
            [
                row_nnz[np.random.default_rng(i).choice(N_CELLS, BATCH, replace=False)].sum()
                for i in range(200)
            ]
        )
    )

    @jax.jit
    def draw(key):
        batch = device.sample_batch(BATCH, key=key, capacity=capacity, dense=True)
        return batch.cell_index, batch.counts

    for seed in range(20):
        index, dense = draw(jax.random.key(seed))
        index = np.asarray(index)
        assert len(set(index.tolist())) == BATCH
        assert row_nnz[index].sum() <= capacity
        np.testing.assert_array_equal(dense, counts[index])


def test_sample_batch_raises_when_no_draw_fits(data):
    device = data.to_device()
    with pytest.raises(eqx.EquinoxRuntimeError, match="more nonzeros than `capacity`"):
        eqx.filter_jit(lambda d, k: d.sample_batch(BATCH, key=k, capacity=5, max_draws=3))(
            device, jax.random.key(0)
        ).cell_index.block_until_ready()


def test_distinct_pairs_rebuild_every_entry():
    rng = np.random.default_rng(2)
    genes = rng.integers(0, 7, 500)
    values = rng.integers(1, 5, 500).astype(np.float32)
    index, pair_genes, pair_counts = distinct_pairs(genes, values)
    np.testing.assert_array_equal(pair_genes[index], genes)
    np.testing.assert_array_equal(pair_counts[index], values)
    assert len(set(zip(pair_genes.tolist(), pair_counts.tolist(), strict=True))) == len(pair_genes)
    assert len(pair_genes) == len(set(zip(genes.tolist(), values.tolist(), strict=True)))


@pytest.mark.parametrize("full", [False, True])
def test_batches_carry_the_pair_of_every_slot(data, full):
    device = data.to_device()
    if full:
        batch = jax.jit(lambda d: d.full_batch())(device)
    else:
        capacity = data.batch_capacity(BATCH)
        batch = jax.jit(lambda d, k: d.sample_batch(BATCH, key=k, capacity=capacity))(
            device, jax.random.key(3)
        )
    nz = batch.nonzeros
    assert nz.pairs is not None
    mask = np.asarray(nz.mask)
    index = np.asarray(nz.pairs.index)[mask]
    np.testing.assert_array_equal(np.asarray(nz.pairs.genes)[index], np.asarray(nz.cols)[mask])
    np.testing.assert_array_equal(np.asarray(nz.pairs.counts)[index], np.asarray(nz.values)[mask])


def test_batches_without_repeated_pairs_carry_none():
    """When pairs are not fewer than slots, tabulating gains nothing: `pairs` is None."""
    device = load_counts(np.arange(1, 13).reshape(3, 4)).to_device()
    assert device.full_batch().nonzeros.pairs is None
    assert jnp.all(device.full_batch().nonzeros.values > 0)
