"""NB parameterizations: derived (r, p) reproduce the mean and round-trip (MATH.md)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import special, stats

from scribe.parameterizations import Canonical, MeanOdds, MeanProb


def _canonical_inputs(n=300):
    rng = np.random.default_rng(11)
    return {"p": rng.uniform(0.01, 0.99, n), "r": 10.0 ** rng.uniform(-2.0, 3.0, n)}


def test_canonical_mean_matches_scipy():
    x = _canonical_inputs()
    nat = Canonical().to_natural(x)
    assert set(nat) == {"r", "p", "mu"}
    oracle = stats.nbinom(n=x["r"], p=1.0 - x["p"]).mean()
    np.testing.assert_allclose(nat["mu"], oracle, rtol=1e-10)


@pytest.mark.parametrize("cls", (MeanProb, MeanOdds))
def test_mean_parameterizations_reproduce_mu(cls):
    rng = np.random.default_rng(12)
    mu = 10.0 ** rng.uniform(-2.0, 4.0, 300)
    other = {"p": rng.uniform(0.01, 0.99, 300), "phi": 10.0 ** rng.uniform(-3.0, 3.0, 300)}
    values = {"mu": mu, **{k: v for k, v in other.items() if k in cls.sampled}}
    nat = cls().to_natural(values)
    oracle = stats.nbinom(n=np.asarray(nat["r"]), p=1.0 - np.asarray(nat["p"])).mean()
    np.testing.assert_allclose(oracle, mu, rtol=1e-10)


def test_round_trip_canonical_mean_prob_mean_odds():
    x = _canonical_inputs()
    canon = Canonical().to_natural(x)
    prob = MeanProb().to_natural({"p": x["p"], "mu": canon["mu"]})
    phi = (1.0 - x["p"]) / x["p"]
    odds = MeanOdds().to_natural({"phi": phi, "mu": prob["mu"]})
    for nat in (canon, prob, odds):
        np.testing.assert_allclose(nat["r"], x["r"], rtol=1e-10)
        np.testing.assert_allclose(nat["p"], x["p"], rtol=1e-10)


@pytest.mark.parametrize(
    ("dtype", "phis"),
    [
        (jnp.float64, [1e-300, 1e-30, 1e-12, 1e12, 1e30, 1e300]),
        (jnp.float32, [1e-30, 1e-20, 1e-8, 1e8, 1e20, 1e30]),
    ],
)
def test_mean_odds_extreme_phi(dtype, phis):
    phi = jnp.asarray(phis, dtype=dtype)
    mu = jnp.full_like(phi, 3.0)
    nat = MeanOdds().to_natural({"phi": phi, "mu": mu})
    for k in ("r", "p"):
        assert nat[k].dtype == dtype
        assert bool(jnp.all(jnp.isfinite(nat[k]))), k
    assert bool(jnp.all((nat["p"] > 0) & (nat["p"] <= 1)))
    # Full relative precision at both ends, against a logit-space oracle in float64.
    phi64 = np.asarray(phi, dtype=np.float64)
    rel = 1e-12 if dtype == jnp.float64 else 1e-6
    np.testing.assert_allclose(nat["p"], special.expit(-np.log(phi64)), rtol=rel)
    np.testing.assert_allclose(nat["r"], 3.0 * phi64, rtol=rel)


def test_mean_odds_gradients_finite_at_extremes():
    def total(log_phi):
        nat = MeanOdds().to_natural({"phi": jnp.exp(log_phi), "mu": jnp.full_like(log_phi, 2.0)})
        return jnp.sum(jnp.log(nat["p"]) + jnp.log(nat["r"]))

    grad = jax.grad(total)(jnp.log(jnp.asarray([1e-30, 1.0, 1e30])))
    assert bool(jnp.all(jnp.isfinite(grad)))


@pytest.mark.parametrize("cls", (Canonical, MeanProb, MeanOdds))
def test_jit_matches_eager(cls):
    values = {k: jnp.asarray([0.3, 0.6]) for k in cls.sampled}
    eager = cls().to_natural(values)
    jitted = jax.jit(cls().to_natural)(values)
    for k in eager:
        np.testing.assert_allclose(jitted[k], eager[k], rtol=1e-12)
