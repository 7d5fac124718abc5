"""Invariants every likelihood family must satisfy, driven by the list in ``cases.py``."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from .cases import CASES, Case, cast

IDS = [case.name for case in CASES]
TOLERANCE = {jnp.float64: dict(rtol=1e-6, atol=1e-9), jnp.float32: dict(rtol=1e-4, atol=1e-5)}


def _counts(rng: np.random.Generator, n_cells: int, n_genes: int) -> np.ndarray:
    counts = rng.negative_binomial(1.0, 0.15, size=(n_cells, n_genes)).astype(float)
    counts[rng.random((n_cells, n_genes)) < 0.4] = 0.0
    counts[0, 0] = 0.0
    return counts


@pytest.mark.parametrize("case", CASES, ids=IDS)
@pytest.mark.parametrize("dtype", [jnp.float64, jnp.float32])
@pytest.mark.parametrize("shape", [(4, 3), (6, 7)])
def test_log_prob_matches_oracle(case: Case, dtype, shape):
    rng = np.random.default_rng(hash((case.name, shape)) % 2**32)
    params = case.draw(rng, *shape)
    counts = _counts(rng, *shape)
    expected = case.oracle(counts, params)
    found = eqx.filter_jit(case.likelihood.log_prob)(
        jnp.asarray(counts, dtype), cast(params, dtype)
    )
    assert found.dtype == dtype
    assert found.shape == ((shape[0],) if case.per_cell else shape)
    np.testing.assert_allclose(np.asarray(found, dtype=float), expected, **TOLERANCE[dtype])


@pytest.mark.parametrize("case", CASES, ids=IDS)
@pytest.mark.parametrize("dtype", [jnp.float64, jnp.float32])
def test_gradients_finite_at_extreme_counts(case: Case, dtype):
    rng = np.random.default_rng(1)
    params = cast(case.draw(rng, 2, 3), dtype)
    counts = jnp.asarray([[0.0, 1e5, 0.0], [1e5, 0.0, 1.0]], dtype)

    def total(p):
        return case.likelihood.log_prob(counts, p).sum()

    value, grads = eqx.filter_jit(jax.value_and_grad(total))(params)
    assert np.isfinite(float(value))
    for leaf in jax.tree.leaves(grads):
        assert np.all(np.isfinite(np.asarray(leaf))), f"non-finite gradient in {case.name}"


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_samples_agree_with_mean_and_variance(case: Case):
    n_draws, n_cells, n_genes = 20_000, 2, 3
    rng = np.random.default_rng(2)
    params = cast(case.draw(rng, n_cells, n_genes), jnp.float64)
    draws = case.likelihood.sample(params, (n_draws, n_cells, n_genes), key=jax.random.key(3))
    draws = np.asarray(draws, dtype=float)
    assert draws.shape == (n_draws, n_cells, n_genes)
    assert np.all(draws >= 0) and np.all(draws == np.round(draws))
    mean = np.broadcast_to(np.asarray(case.likelihood.mean(params)), (n_cells, n_genes))
    variance = np.broadcast_to(np.asarray(case.likelihood.variance(params)), (n_cells, n_genes))
    # Standard errors from the sample itself: of the mean, sqrt(s²/n); of the variance,
    # the standard deviation of the squared deviations over sqrt(n).
    centred = draws - draws.mean(axis=0)
    se_mean = np.sqrt(draws.var(axis=0) / n_draws)
    se_variance = np.sqrt((centred**2).var(axis=0) / n_draws)
    assert np.all(np.abs(draws.mean(axis=0) - mean) < 5 * se_mean + 1e-12)
    assert np.all(np.abs(draws.var(axis=0) - variance) < 5 * se_variance + 1e-12)


@pytest.mark.parametrize("case", [c for c in CASES if not c.per_cell], ids=lambda c: c.name)
def test_pmf_sums_to_one_and_matches_mean(case: Case):
    rng = np.random.default_rng(4)
    params = cast(case.draw(rng, 2, 3), jnp.float64)
    support = jnp.arange(3000.0)[:, None, None]
    pmf = jnp.exp(
        jax.vmap(lambda u: case.likelihood.log_prob(jnp.broadcast_to(u, (2, 3)), params))(support)
    )
    np.testing.assert_allclose(pmf.sum(axis=0), 1.0, rtol=1e-7)
    mean = np.broadcast_to(np.asarray(case.likelihood.mean(params)), (2, 3))
    np.testing.assert_allclose((pmf * support).sum(axis=0), mean, rtol=1e-6)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_thinning_scales_the_mean_by_capture(case: Case):
    rng = np.random.default_rng(5)
    params = cast(case.draw(rng, 4, 3), jnp.float64)
    capture = jnp.asarray([0.1, 0.5, 0.9, 1.0])
    thinned = case.likelihood.mean(case.likelihood.thin(params, capture))
    np.testing.assert_allclose(
        thinned, capture[:, None] * case.likelihood.mean(params), rtol=1e-12
    )


def test_every_concrete_family_is_in_the_case_list():
    from scribe.likelihoods import AbstractLikelihood

    def concrete(cls):
        for sub in cls.__subclasses__():
            if not sub.__name__.startswith("Abstract"):
                yield sub
            yield from concrete(sub)

    def types_in(likelihood):
        yield type(likelihood)
        if hasattr(likelihood, "base"):
            yield from types_in(likelihood.base)

    covered = {t for case in CASES for t in types_in(case.likelihood)}
    missing = set(concrete(AbstractLikelihood)) - covered
    assert not missing, f"add these families to tests/likelihoods/cases.py: {missing}"
