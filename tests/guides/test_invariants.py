"""Invariants every concrete guide keeps, run over ``cases.GUIDES``."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from scribe.guides import AbstractGuide

from .cases import (
    CONCRETE,
    GUIDES,
    INIT,
    SPECS,
    expected_gradients,
    marginal_moments,
    oracle_log_prob,
    perturbed,
)

N_DRAWS = 20_000
# 5 standard errors of a mean over N_DRAWS: a false alarm has probability ~6e-7 per
# comparison, and the few hundred comparisons below run on fixed keys.
N_SE = 5.0


def _all_subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _all_subclasses(sub)


def test_cases_cover_every_concrete_guide():
    concrete = {c for c in _all_subclasses(AbstractGuide) if not c.__name__.startswith("Abstract")}
    assert concrete == set(CONCRETE)
    assert {type(build(SPECS, INIT)) for build in GUIDES.values()} == set(CONCRETE)


@eqx.filter_jit
def _evaluate(guide, key):
    """Everything the invariants need from one guide, compiled once.

    Each draw comes with its own pathwise gradient of the sum of all its values, so one
    compiled program serves the sampling, density and gradient checks.
    """

    def total(guide, key):
        draw, log_q = guide.sample_and_log_prob(key=key)
        return sum(jnp.sum(x) for x in draw.values()), (draw, log_q)

    per_draw = jax.vmap(eqx.filter_grad(total, has_aux=True), in_axes=(None, 0))
    grads, (draws, log_q) = per_draw(guide, jax.random.split(key, N_DRAWS))
    grid = {name: x[:12].reshape((3, 4) + x.shape[1:]) for name, x in draws.items()}
    return {
        "draws": draws,
        "log_q": log_q,
        "grads": grads,
        "rescored": guide.log_prob(draws),
        "grid_log_q": guide.log_prob(grid),
    }


@pytest.fixture(scope="module", params=list(GUIDES), ids=list(GUIDES))
def case(request):
    """A guide moved away from its start, and ``_evaluate`` of it."""
    guide = perturbed(GUIDES[request.param](SPECS, INIT))
    return guide, jax.tree.map(np.asarray, _evaluate(guide, jax.random.key(1)))


def test_log_prob_of_the_draw_is_its_log_q(case):
    out = case[1]
    for spec in SPECS:
        assert out["draws"][spec.name].shape == (N_DRAWS, *spec.shape)
    assert out["log_q"].shape == (N_DRAWS,)
    assert np.isfinite(out["log_q"]).all()
    np.testing.assert_allclose(out["rescored"], out["log_q"], rtol=1e-9)


def test_log_prob_keeps_sample_axes(case):
    out = case[1]
    np.testing.assert_allclose(out["grid_log_q"], out["log_q"][:12].reshape(3, 4), rtol=1e-12)


def test_log_prob_matches_oracle(case):
    guide, out = case
    first = {name: x[:50] for name, x in out["draws"].items()}
    np.testing.assert_allclose(out["log_q"][:50], oracle_log_prob(guide, first), rtol=1e-8)


def test_sample_moments_match_marginals(case):
    guide, out = case
    for name, marginal in guide.marginals().items():
        x = out["draws"][name]
        mean, var = marginal_moments(marginal)
        se_mean = x.std(0) / np.sqrt(N_DRAWS)
        se_var = ((x - x.mean(0)) ** 2).std(0) / np.sqrt(N_DRAWS)
        assert np.all(np.abs(x.mean(0) - mean) < N_SE * se_mean), name
        assert np.all(np.abs(x.var(0) - var) < N_SE * se_var), name


def test_pathwise_gradients_match_closed_forms_and_quadrature(case):
    # d E_q[sum of the draw] / d each variational array, averaged over the draws.
    guide, out = case
    checked = 0
    for factor, factor_grads in zip(guide.factors, out["grads"].factors, strict=True):
        for field, expected in expected_gradients(factor).items():
            per_draw = getattr(factor_grads, field)
            assert np.isfinite(per_draw).all(), field
            mean, se = per_draw.mean(0), per_draw.std(0) / np.sqrt(N_DRAWS)
            assert np.all(np.abs(mean - expected) <= N_SE * se + 1e-12), field
            checked += expected.size
    assert checked == sum(np.size(x) for x in jax.tree.leaves(guide))


def test_marginals_and_median_have_the_specs_shapes(case):
    guide = case[0]
    marginals, median = guide.marginals(), guide.median()
    assert list(marginals) == list(median) == [s.name for s in SPECS]
    for spec in SPECS:
        assert marginals[spec.name].batch_shape == spec.shape
        assert median[spec.name].shape == spec.shape


@pytest.mark.parametrize("name", list(GUIDES))
def test_init_places_the_median(name):
    median = GUIDES[name](SPECS, INIT).median()
    for spec in SPECS:
        expected = np.broadcast_to(INIT[spec.name], spec.shape)
        np.testing.assert_allclose(median[spec.name], expected, rtol=1e-6)


@pytest.mark.parametrize("name", list(GUIDES))
def test_default_start_is_the_centre_of_each_domain(name):
    median = GUIDES[name](SPECS, None).median()
    np.testing.assert_allclose(median["p"], 0.5, rtol=1e-9)
    np.testing.assert_allclose(median["gate"], np.full(5, 0.5), rtol=1e-9)
    np.testing.assert_allclose(median["r"], np.ones(5), rtol=1e-9)
    np.testing.assert_allclose(median["phi"], np.ones(5), rtol=1e-9)


@eqx.filter_jit
def _sample_both_ways(guide, key):
    return (
        guide.sample_and_log_prob(key=key)[0],
        guide.sample(key=key),
        guide.sample((2, 3), key=key),
    )


def test_sample_is_the_draw_of_sample_and_log_prob():
    # ``sample`` is implemented once, in AbstractGuide, and no guide may override it
    # (abstract-or-final): the cheapest guide checks it for all.
    guide = perturbed(GUIDES["MeanFieldUnconstrained"](SPECS, INIT))
    draw, again, grid = _sample_both_ways(guide, jax.random.key(0))
    for spec in SPECS:
        np.testing.assert_array_equal(again[spec.name], draw[spec.name])
        assert grid[spec.name].shape == (2, 3, *spec.shape)
    assert not np.allclose(grid["r"][0, 0], grid["r"][1, 2])
