"""R-hat, bulk and tail ESS against arviz (independent oracle) and the AR(1) closed form."""

import warnings

import numpy as np
import pytest
from scipy.signal import lfilter

from scribe.inference._diagnostics import _ess, _split, _validate, ess_bulk, ess_tail, split_rhat

with warnings.catch_warnings():
    warnings.simplefilter("ignore", FutureWarning)
    az = pytest.importorskip("arviz")

FUNCTIONS = (split_rhat, ess_bulk, ess_tail)


def _ar1(rng, chains, draws, rho):
    """Stationary AR(1) chains ``x_t = rho x_{t-1} + e_t``, shape ``(chains, draws)``."""
    noise = rng.normal(size=(chains, draws))
    noise[:, 0] /= np.sqrt(1.0 - rho**2)  # start in the stationary distribution
    return lfilter([1.0], [1.0, -rho], noise, axis=1)


def _cases():
    rng = np.random.default_rng(20210101)
    return {
        "iid": rng.normal(size=(4, 500)),
        "ar1_0.9": _ar1(rng, 4, 500, 0.9),
        "antithetic": _ar1(rng, 4, 300, -0.6),
        "shifted_means": rng.normal(size=(4, 300)) + np.arange(4.0)[:, None],
        "cauchy": rng.standard_cauchy(size=(4, 400)),
        "odd_draws": rng.normal(size=(3, 301)),
        "ties": rng.integers(0, 3, size=(4, 100)).astype(float),
        # 10 % of the draws sit at the upper bound: I(x <= q95) is constant
        "clipped": np.minimum(rng.normal(size=(4, 200)), 1.2816),
        "one_chain": _ar1(rng, 1, 400, 0.5),
    }


CASES = _cases()


def _arviz_rhat(x):
    if x.shape[0] > 1:
        return az.rhat(x, method="rank")
    # arviz returns NaN for one chain; compose its own split / rank-normalize / R-hat steps.
    from arviz.stats.diagnostics import _rhat, _split_chains, _z_scale

    split = _split_chains(x)
    return max(_rhat(_z_scale(split)), _rhat(_z_scale(np.abs(split - np.median(split)))))


@pytest.mark.parametrize("name", list(CASES))
def test_matches_arviz(name):
    x = CASES[name]
    np.testing.assert_allclose(split_rhat(x), _arviz_rhat(x), rtol=1e-6)
    np.testing.assert_allclose(ess_bulk(x), az.ess(x, method="bulk"), rtol=1e-6)
    np.testing.assert_allclose(ess_tail(x), az.ess(x, method="tail"), rtol=1e-6)
    np.testing.assert_allclose(_ess(_split(_validate(x)))[0], az.ess(x, method="mean"), rtol=1e-6)


def test_sanity_of_cases():
    assert split_rhat(CASES["shifted_means"]) > 1.5
    assert split_rhat(CASES["iid"]) < 1.01
    assert ess_bulk(CASES["antithetic"]) > CASES["antithetic"].size  # super-efficient


def test_vectorised_equals_per_parameter():
    rng = np.random.default_rng(7)
    x = rng.normal(size=(4, 400, 3, 2))
    x[..., 0, 1] = _ar1(rng, 4, 400, 0.8)
    x[..., 1, 0] += np.arange(4.0)[:, None]
    x[..., 2, 1] = rng.standard_cauchy(size=(4, 400))
    for f in FUNCTIONS:
        out = f(x)
        assert out.shape == (3, 2) and out.dtype == np.float64
        expected = [[f(x[..., i, j]) for j in range(2)] for i in range(3)]
        np.testing.assert_allclose(out, expected, rtol=1e-12)
        assert f(x[..., 0, 0]).shape == ()


@pytest.mark.parametrize("rho", [0.9, 0.5, -0.5])
def test_ar1_ess_matches_closed_form(rho):
    rng = np.random.default_rng(3)
    x = _ar1(rng, 4, 25_000, rho)
    expected = (1.0 - rho) / (1.0 + rho)
    for ess in (ess_bulk(x), _ess(_split(_validate(x)))[0]):
        assert ess / x.size == pytest.approx(expected, rel=0.15)


@pytest.mark.parametrize(
    "bad, found",
    [
        (np.zeros(10), r"\(10,\)"),
        (np.zeros((4, 3)), r"\(4, 3\)"),
        (np.zeros((4, 10), dtype=complex), "complex"),
    ],
)
@pytest.mark.parametrize("f", FUNCTIONS)
def test_bad_input_raises(f, bad, found):
    with pytest.raises(ValueError, match="`draws`") as info:
        f(bad)
    assert info.match(found)


def test_constant_and_nan_parameters_give_nan_without_warnings():
    rng = np.random.default_rng(11)
    x = rng.normal(size=(4, 100, 3))
    x[..., 0] = 0.0  # e.g. fixed at a boundary
    x[2, 5, 1] = np.nan
    stuck = np.repeat(np.arange(4.0)[:, None], 50, axis=1)  # every chain at its own value
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for f in FUNCTIONS:
            out = f(x)
            assert np.isnan(out[:2]).all() and np.isfinite(out[2])
            assert np.isnan(f(np.full((1, 10), 3.0)))
        assert split_rhat(stuck) == np.inf
