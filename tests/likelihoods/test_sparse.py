"""The sparse path (nonzeros only) agrees with the dense reference, values and gradients."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from scribe import DataWarning
from scribe.data import DistinctPairs, PaddedNonzeros
from scribe.data._count_data import distinct_pairs
from scribe.likelihoods import CaptureParams, Mixture, VariableCapture, sparse_log_prob_sum
from scribe.likelihoods._sparse import sparse_component_log_prob_sum, sparse_log_prob_total

from .cases import CASES, cast

ELEMENTWISE = [c for c in CASES if not c.per_cell]
N_CELLS, N_GENES, PADDING = 9, 6, 5


def _padded(counts: np.ndarray, dtype, *, pairs: bool = False) -> PaddedNonzeros:
    """The nonzeros of `counts` plus padding; with `pairs`, their distinct (gene, count)
    pairs too, so that normalisers are evaluated once per pair."""
    rows, cols = np.nonzero(counts)
    pad = np.zeros(PADDING, dtype=int)
    distinct = None
    if pairs:
        index, genes, values = distinct_pairs(cols, counts[rows, cols])
        assert genes.size < rows.size  # the test data must repeat pairs
        distinct = DistinctPairs(
            index=jnp.asarray(np.concatenate([index, pad]), jnp.int32),
            genes=jnp.asarray(genes, jnp.int32),
            counts=jnp.asarray(values, dtype),
        )
    return PaddedNonzeros(
        rows=jnp.asarray(np.concatenate([rows, pad]), jnp.int32),
        cols=jnp.asarray(np.concatenate([cols, pad]), jnp.int32),
        values=jnp.asarray(np.concatenate([counts[rows, cols], pad]), dtype),
        mask=jnp.asarray(np.arange(rows.size + PADDING) < rows.size),
        pairs=distinct,
    )


@pytest.fixture(scope="module")
def counts() -> np.ndarray:
    rng = np.random.default_rng(0)
    counts = rng.negative_binomial(1.0, 0.2, size=(N_CELLS, N_GENES)).astype(float)
    counts[rng.random(counts.shape) < 0.6] = 0.0
    counts[2] = 0.0  # an all-zero cell
    return counts


@pytest.mark.parametrize("case", ELEMENTWISE, ids=lambda c: c.name)
@pytest.mark.parametrize("by", ["cell", "gene", "total"])
@pytest.mark.parametrize("dtype", [jnp.float64, jnp.float32])
@pytest.mark.parametrize("pairs", [False, True], ids=["slots", "pairs"])
def test_sparse_matches_dense(case, by, dtype, pairs, counts):
    """Per cell, per gene and in total (`sparse_log_prob_total`), with the normaliser
    evaluated at every slot or once per distinct (gene, count) pair."""
    params = cast(case.draw(np.random.default_rng(1), N_CELLS, N_GENES), dtype)
    nonzeros = _padded(counts, dtype, pairs=pairs)

    def dense(p):
        log_prob = case.likelihood.log_prob(jnp.asarray(counts, dtype), p)
        return log_prob.sum() if by == "total" else log_prob.sum(axis=1 if by == "cell" else 0)

    def sparse(p):
        shape = dict(n_cells=N_CELLS, n_genes=N_GENES)
        if by == "total":
            return sparse_log_prob_total(case.likelihood, p, nonzeros, **shape)
        return sparse_log_prob_sum(case.likelihood, p, nonzeros, by=by, **shape)

    rtol = 1e-5 if dtype == jnp.float32 else 1e-10
    np.testing.assert_allclose(eqx.filter_jit(sparse)(params), dense(params), rtol=rtol)
    grad_dense = jax.grad(lambda p: dense(p).sum())(params)
    grad_sparse = eqx.filter_jit(jax.grad(lambda p: sparse(p).sum()))(params)
    for a, b in zip(jax.tree.leaves(grad_sparse), jax.tree.leaves(grad_dense), strict=True):
        # Gradient entries are sums of terms of either sign: scale atol to the largest.
        np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol * float(np.abs(b).max()))


def test_sparse_mixture_matches_dense(counts):
    case = next(c for c in CASES if c.name.startswith("Mixture"))
    mixture: Mixture = case.likelihood
    params = cast(case.draw(np.random.default_rng(2), N_CELLS, N_GENES), jnp.float64)
    found = sparse_component_log_prob_sum(
        mixture, params, _padded(counts, jnp.float64), n_cells=N_CELLS, n_genes=N_GENES
    )
    expected = mixture.component_log_prob(jnp.asarray(counts), params).sum(axis=-1)
    np.testing.assert_allclose(found, expected, rtol=1e-10)


def test_padding_contributes_nothing(counts):
    case = CASES[0]
    params = cast(case.draw(np.random.default_rng(3), N_CELLS, N_GENES), jnp.float64)
    padded = _padded(counts, jnp.float64)
    # Poison the padding: masked entries must be ignored whatever they hold.
    poisoned = eqx.tree_at(lambda n: n.values, padded, jnp.where(padded.mask, padded.values, 7.0))
    a = sparse_log_prob_sum(case.likelihood, params, padded, n_cells=N_CELLS, n_genes=N_GENES)
    b = sparse_log_prob_sum(case.likelihood, params, poisoned, n_cells=N_CELLS, n_genes=N_GENES)
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("capture", [False, True], ids=["lnm", "lnmvcp"])
@pytest.mark.parametrize("dtype", [jnp.float64, jnp.float32])
def test_sparse_lnm_matches_dense(capture, dtype, counts):
    """The logistic-normal multinomial per cell and in total from nonzeros only, values
    and gradients, against its dense ``log_prob`` (checked against scipy in
    test_families); with capture, the thinned total."""
    case = next(c for c in CASES if c.name == "LogisticNormalMultinomial")
    likelihood, params = case.likelihood, case.draw(np.random.default_rng(4), N_CELLS, N_GENES)
    if capture:
        likelihood = VariableCapture(likelihood)
        params = CaptureParams(params, np.random.default_rng(5).uniform(0.2, 0.9, N_CELLS))
    params = cast(params, dtype)
    nonzeros = _padded(counts, dtype)
    shape = dict(n_cells=N_CELLS, n_genes=N_GENES)
    dense = likelihood.log_prob(jnp.asarray(counts, dtype), params)
    rtol = 1e-5 if dtype == jnp.float32 else 1e-10
    found = eqx.filter_jit(sparse_log_prob_sum)(likelihood, params, nonzeros, **shape)
    np.testing.assert_allclose(found, dense, rtol=rtol)
    total = eqx.filter_jit(sparse_log_prob_total)(likelihood, params, nonzeros, **shape)
    np.testing.assert_allclose(total, dense.sum(), rtol=rtol)
    grad_dense = jax.grad(lambda p: likelihood.log_prob(jnp.asarray(counts, dtype), p).sum())(
        params
    )
    grad_sparse = jax.grad(lambda p: sparse_log_prob_total(likelihood, p, nonzeros, **shape))(
        params
    )
    for a, b in zip(jax.tree.leaves(grad_sparse), jax.tree.leaves(grad_dense), strict=True):
        np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol * float(np.abs(b).max()))
    with pytest.raises(ValueError, match="couples a cell's genes"):
        sparse_log_prob_sum(likelihood, params, nonzeros, by="gene", **shape)


def test_sparse_rejects_other_coupled_families(counts):
    case = next(c for c in CASES if c.name.startswith("Mixture"))
    params = cast(case.draw(np.random.default_rng(4), N_CELLS, N_GENES), jnp.float64)
    with pytest.raises(TypeError, match="element-wise"):
        sparse_log_prob_sum(
            case.likelihood, params, _padded(counts, jnp.float64), n_cells=N_CELLS, n_genes=N_GENES
        )


def test_minibatch_sparse_path_under_jit_matches_dense_rows():
    """In-jit minibatches: sparse on a sampled batch == dense on the same rows (zinbvcp)."""
    from scribe.data import load_counts
    from scribe.likelihoods import make_likelihood
    from scribe.likelihoods._models import build_params

    rng = np.random.default_rng(5)
    n_cells, n_genes, batch_size = 40, 12, 8
    matrix = rng.negative_binomial(1.0, 0.3, size=(n_cells, n_genes))
    matrix[rng.random(matrix.shape) < 0.7] = 0
    with pytest.warns(DataWarning, match="2 of 40 cells"):  # all-zero cells stay in
        device = load_counts(matrix).to_device(dtype=jnp.float64)
    capacity = device.batch_capacity(batch_size)
    likelihood = make_likelihood("zinbvcp")
    natural = {
        "r": rng.uniform(0.5, 3.0, n_genes),
        "p": 0.4,
        "gate": rng.uniform(0.05, 0.3, n_genes),
        "p_capture": rng.uniform(0.3, 1.0, n_cells),
    }

    @eqx.filter_jit
    def step(natural, key):
        batch = device.sample_batch(batch_size, key=key, capacity=capacity, dense=True)
        local = dict(natural, p_capture=natural["p_capture"][batch.cell_index])
        params = build_params(
            "zinbvcp", local, n_cells=batch_size, n_genes=n_genes, n_components=None
        )

        def sparse(q):
            return sparse_log_prob_sum(
                likelihood, q, batch.nonzeros, n_cells=batch_size, n_genes=n_genes
            )

        def dense(q):
            return likelihood.log_prob(batch.counts, q).sum(axis=1)

        return (
            sparse(params),
            dense(params),
            jax.grad(lambda q: sparse(q).sum())(params),
            jax.grad(lambda q: dense(q).sum())(params),
            batch.cell_index,
        )

    for seed in range(3):
        sparse_value, dense_value, sparse_grad, dense_grad, cells = step(
            natural, jax.random.key(seed)
        )
        assert len(set(np.asarray(cells).tolist())) == batch_size
        np.testing.assert_allclose(sparse_value, dense_value, rtol=1e-10)
        for a, b in zip(jax.tree.leaves(sparse_grad), jax.tree.leaves(dense_grad), strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-12)
