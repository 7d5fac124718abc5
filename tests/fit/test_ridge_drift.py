"""A mean-field guide follows the NB's r–p ridge to the optimum: with p near 1 (600
totals of mean 300 and r = 20) scribe 0.1's Beta factor, optimised in (log a, log b),
left r at 7.5 after 3,000 steps; the maximum-likelihood r is 20.6."""

import warnings

import numpy as np
import pytest
import scipy.optimize
import scipy.stats

import scribe


@pytest.fixture(scope="module")
def totals():
    rng = np.random.default_rng(0)
    r, mean = 20.0, 300.0
    return rng.negative_binomial(r, r / (r + mean), 600)


def maximum_likelihood_r(totals: np.ndarray) -> float:
    """The NB size maximising the likelihood (the mean's MLE is the sample mean)."""
    mean = totals.mean()

    def negative_log_likelihood(log_r):
        r = np.exp(log_r)
        return -scipy.stats.nbinom.logpmf(totals, r, r / (r + mean)).sum()

    fit = scipy.optimize.minimize_scalar(negative_log_likelihood, bounds=(-3, 8), method="bounded")
    return float(np.exp(fit.x))


@pytest.mark.parametrize("parameterization", ["canonical", "mean_odds"])
def test_mean_field_guide_reaches_the_optimum_along_the_ridge(totals, parameterization):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", scribe.DataWarning)
        results = scribe.fit(
            totals[:, None],
            model="nbdm",
            parameterization=parameterization,
            n_steps=3000,
            progress=False,
        )
    r = float(np.asarray(results.get_map()["r"]).ravel()[0])
    # 600 cells: the posterior of log r has sd ≈ 0.06, the prior moves it less
    assert abs(np.log(r / maximum_likelihood_r(totals))) < 0.1
