"""Capture coordinates and the biology-informed capture prior (MATH.md, Variable capture)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from scribe.parameterizations import (
    MRNA_PER_CELL,
    Canonical,
    CaptureOdds,
    CaptureProb,
    MeanOdds,
    MeanProb,
    TwoStateRatio,
    get_capture,
    informed_capture_prior,
)


@pytest.mark.parametrize(
    ("param", "expected"),
    [
        (Canonical(), CaptureProb),
        (MeanProb(), CaptureProb),
        (MeanOdds(), CaptureOdds),
        (TwoStateRatio(), CaptureProb),
    ],
)
def test_capture_pairs_with_parameterization(param, expected):
    capture = get_capture(param)
    assert type(capture) is expected
    assert capture.sampled == (param.capture_coordinate,)


def test_capture_maps_to_probability():
    nu = np.array([1e-4, 0.05, 0.5, 0.97])
    odds = CaptureOdds().to_natural({"phi_capture": 1.0 / nu - 1.0})
    prob = CaptureProb().to_natural({"p_capture": nu})
    np.testing.assert_allclose(odds["p_capture"], nu, rtol=1e-12)
    np.testing.assert_array_equal(prob["p_capture"], nu)


def test_capture_transform_choice_passes_through():
    capture = get_capture(MeanOdds(), positive_transform={"phi_capture": "exp"})
    assert capture.transform_choice("phi_capture") == "exp"


TOTALS = np.array([800.0, 3e3, 2e4, 1.5e5])


def _eta_oracle(m0, sigma):
    loc = np.log(m0) - np.log(TOTALS)
    return stats.truncnorm((0.0 - loc) / sigma, np.inf, loc=loc, scale=sigma)


@pytest.mark.parametrize("m0", [MRNA_PER_CELL["human"], MRNA_PER_CELL["yeast"]])
def test_informed_prior_log_prob_on_nu(m0):
    sigma = 0.3
    prior = informed_capture_prior(jnp.asarray(TOTALS), m0=m0, sigma=sigma)
    assert prior.batch_shape == TOTALS.shape
    # A nu near each cell's prior mode, where the density is far from zero.
    nu = np.clip(TOTALS / m0 * 1.1, 1e-6, 0.9)
    eta = -np.log(nu)
    expected = _eta_oracle(m0, sigma).logpdf(eta) + eta  # |d eta / d nu| = 1 / nu = e^eta
    np.testing.assert_allclose(prior.log_prob(jnp.asarray(nu)), expected, rtol=1e-8)


def test_informed_prior_log_prob_on_phi_capture():
    sigma, m0 = 0.3, 2e5
    prior = informed_capture_prior(
        jnp.asarray(TOTALS), m0=m0, sigma=sigma, coordinate="phi_capture"
    )
    phi = m0 / TOTALS * 0.9
    eta = np.log1p(phi)
    expected = _eta_oracle(m0, sigma).logpdf(eta) - eta  # |d eta / d phi| = 1 / (1 + phi)
    np.testing.assert_allclose(prior.log_prob(jnp.asarray(phi)), expected, rtol=1e-8)


def test_informed_prior_samples(key):
    prior = informed_capture_prior(jnp.asarray(TOTALS))
    # vmap over keys: numpyro's TruncatedNormal sampler mixes ranks given a sample_shape.
    nu = np.asarray(jax.jit(jax.vmap(prior.sample))(jax.random.split(key, 2000)))
    assert np.all((nu > 0) & (nu <= 1))
    oracle_mean = _eta_oracle(2e5, 0.3).mean()
    np.testing.assert_allclose((-np.log(nu)).mean(axis=0), oracle_mean, atol=0.03)


def test_informed_prior_rejects_bad_input():
    with pytest.raises(ValueError, match="total_counts"):
        informed_capture_prior(jnp.asarray([10.0, 0.0]))
    with pytest.raises(ValueError, match="coordinate"):
        informed_capture_prior(jnp.asarray([10.0]), coordinate="nu")
    with pytest.raises(ValueError, match="sigma"):
        informed_capture_prior(jnp.asarray([10.0]), sigma=0.0)
