"""TwoState parameterizations: each is a Poisson-Beta with mean mu (MATH.md, TwoState)."""

import jax.numpy as jnp
import numpy as np
import pytest

from scribe.parameterizations import (
    TwoStateMeanFano,
    TwoStateMomentDelta,
    TwoStateNatural,
    TwoStateRatio,
)

TWO_STATE = (TwoStateNatural, TwoStateRatio, TwoStateMeanFano, TwoStateMomentDelta)


def _random_inputs(cls, rng, n):
    """Log-uniform positive coordinates over 1e-3..1e3; delta uniform in (0, 1)."""
    values = {name: 10.0 ** rng.uniform(-3.0, 3.0, size=n) for name in cls.sampled}
    if "delta" in values:
        values["delta"] = rng.uniform(0.01, 0.99, size=n)
    return values


def _moments(nat):
    """Poisson-Beta mean and variance from the closed form (MATH.md)."""
    rate, a, b = (np.asarray(nat[k]) for k in ("rate", "alpha", "beta"))
    mean = rate * a / (a + b)
    var = mean + rate**2 * a * b / ((a + b) ** 2 * (a + b + 1.0))
    return mean, var


@pytest.mark.parametrize("cls", TWO_STATE)
def test_mean_is_mu(cls):
    values = _random_inputs(cls, np.random.default_rng(1), 500)
    nat = cls().to_natural(values)
    assert set(nat) == {"rate", "alpha", "beta", "mu"}
    for k in ("rate", "alpha", "beta"):
        assert np.all(np.asarray(nat[k]) > 0), k
    mean, _ = _moments(nat)
    np.testing.assert_allclose(mean, values["mu"], rtol=1e-10)
    np.testing.assert_array_equal(nat["mu"], values["mu"])


# (cls, sampled values) small enough for a quick simulation, varied in shape regime.
MC_CASES = [
    (TwoStateNatural, {"mu": 5.0, "b": 2.0, "k_off": 0.7}),
    (TwoStateNatural, {"mu": 20.0, "b": 0.5, "k_off": 3.0}),
    (TwoStateRatio, {"mu": 5.0, "b": 2.0, "s": 0.7}),
    (TwoStateRatio, {"mu": 12.0, "b": 4.0, "s": 3.0}),
    (TwoStateMeanFano, {"mu": 5.0, "F": 2.0, "kappa": 0.7}),
    (TwoStateMeanFano, {"mu": 12.0, "F": 4.0, "kappa": 3.0}),
    (TwoStateMomentDelta, {"mu": 5.0, "F": 2.0, "delta": 0.3}),
    (TwoStateMomentDelta, {"mu": 12.0, "F": 0.5, "delta": 0.8}),
]


@pytest.mark.parametrize(("cls", "values"), MC_CASES)
def test_monte_carlo_mean_and_variance(cls, values):
    nat = cls().to_natural(values)
    rate, a, b = (float(nat[k]) for k in ("rate", "alpha", "beta"))
    rng = np.random.default_rng(7)
    n = 200_000
    u = rng.poisson(rate * rng.beta(a, b, size=n)).astype(np.float64)
    mean_hat, var_hat = u.mean(), u.var(ddof=1)
    mean_se = np.sqrt(var_hat / n)
    assert abs(mean_hat - values["mu"]) < 4.0 * mean_se
    # Standard error of the sample variance from the fourth central moment.
    var_se = np.sqrt((np.mean((u - mean_hat) ** 4) - var_hat**2) / n)
    _, var = _moments(nat)
    assert abs(var_hat - var) < 4.0 * var_se


@pytest.mark.parametrize("cls", (TwoStateMeanFano, TwoStateMomentDelta))
def test_F_is_excess_fano(cls):
    """F = variance / mean - 1 (the Fano factor is 1 + F), not the Fano factor itself."""
    values = _random_inputs(cls, np.random.default_rng(2), 500)
    mean, var = _moments(cls().to_natural(values))
    np.testing.assert_allclose(var / mean - 1.0, values["F"], rtol=1e-9)


def test_mean_fano_kappa_is_alpha_plus_beta():
    values = _random_inputs(TwoStateMeanFano, np.random.default_rng(3), 200)
    nat = TwoStateMeanFano().to_natural(values)
    np.testing.assert_allclose(nat["alpha"] + nat["beta"], values["kappa"], rtol=1e-10)


def test_moment_delta_is_inverse_total_concentration():
    values = _random_inputs(TwoStateMomentDelta, np.random.default_rng(4), 200)
    nat = TwoStateMomentDelta().to_natural(values)
    delta = 1.0 / (nat["alpha"] + nat["beta"] + 1.0)
    np.testing.assert_allclose(delta, values["delta"], rtol=1e-10)


def test_natural_and_ratio_fano_closed_forms():
    """b = rate / (k_on + k_off) in both; their Fano factors follow from the variance."""
    rng = np.random.default_rng(5)
    nat_v = _random_inputs(TwoStateNatural, rng, 200)
    mean, var = _moments(TwoStateNatural().to_natural(nat_v))
    mu, b, k_off = nat_v["mu"], nat_v["b"], nat_v["k_off"]
    np.testing.assert_allclose(var / mean, 1.0 + b * k_off / (k_off + 1.0 + mu / b), rtol=1e-9)

    rat_v = _random_inputs(TwoStateRatio, rng, 200)
    mean, var = _moments(TwoStateRatio().to_natural(rat_v))
    mu, b, s = rat_v["mu"], rat_v["b"], rat_v["s"]
    np.testing.assert_allclose(var / mean, 1.0 + mu * s * b / (mu * (1.0 + s) + b), rtol=1e-9)


def test_natural_tends_to_negative_binomial():
    """k_off -> inf at fixed b: Fano factor -> 1 + b, the NB(r = mu / b, odds b) value."""
    b = np.array([0.1, 1.0, 10.0])
    nat = TwoStateNatural().to_natural({"mu": np.full(3, 5.0), "b": b, "k_off": np.full(3, 1e9)})
    mean, var = _moments(nat)
    np.testing.assert_allclose(var / mean, 1.0 + b, rtol=1e-6)


@pytest.mark.parametrize("cls", TWO_STATE)
def test_broadcasts_cells_by_genes(cls):
    """(1, genes) and (cells, 1) inputs broadcast to (cells, genes) under strict ranks."""
    first, *rest = cls.sampled
    values = {first: jnp.full((1, 4), 3.0)}
    values.update({k: jnp.full((2, 1), 0.5) for k in rest})
    nat = cls().to_natural(values)
    shape = np.broadcast_shapes(*(nat[k].shape for k in ("rate", "alpha", "beta")))
    assert shape == (2, 4)
    flat = cls().to_natural({k: np.broadcast_to(v, (2, 4)).ravel() for k, v in values.items()})
    for k in ("rate", "alpha", "beta"):
        np.testing.assert_allclose(np.broadcast_to(nat[k], shape).ravel(), flat[k], rtol=1e-14)
