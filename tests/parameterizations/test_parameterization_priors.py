"""Default priors: constrained forms match scipy, unconstrained forms carry the Jacobian."""

import jax
import jax.numpy as jnp
import numpy as np
import numpyro.distributions as dist
import pytest
from scipy import special, stats

from scribe.parameterizations import (
    Beta,
    BetaPrime,
    Canonical,
    CaptureOdds,
    CaptureProb,
    MeanOdds,
    MeanProb,
    TwoStateMeanFano,
    TwoStateMomentDelta,
    TwoStateNatural,
    TwoStateRatio,
    default_prior,
)

ALL = (
    Canonical,
    MeanProb,
    MeanOdds,
    TwoStateNatural,
    TwoStateRatio,
    TwoStateMeanFano,
    TwoStateMomentDelta,
    CaptureProb,
    CaptureOdds,
)

# The documented defaults (MATH.md), written out independently of the code's table.
UNIT = ("p", "delta", "p_capture")
ODDS = ("phi", "phi_capture")
UNIT_POINTS = np.array([0.003, 0.2, 0.5, 0.77, 0.999])
POSITIVE_POINTS = np.array([1e-3, 0.3, 1.0, 3.7, 250.0])
# One sample size throughout, so jax compiles each sampler once.
N_SAMPLES = 10_000


def _expected_constrained(name):
    if name in UNIT:
        return stats.beta(1.0, 1.0), UNIT_POINTS
    if name in ODDS:
        return stats.betaprime(1.0, 1.0), POSITIVE_POINTS
    return stats.lognorm(s=1.0, scale=1.0), POSITIVE_POINTS


def _cases():
    return [(cls, name) for cls in ALL for name in cls.sampled]


@pytest.mark.parametrize(("cls", "name"), _cases())
def test_constrained_defaults_match_scipy(cls, name):
    prior = cls().priors(unconstrained=False)[name]
    oracle, points = _expected_constrained(name)
    np.testing.assert_allclose(
        prior.log_prob(jnp.asarray(points)), oracle.logpdf(points), rtol=1e-10
    )


# Every class builds its defaults from one table, so one case per distinct prior suffices.
@pytest.mark.parametrize(("cls", "name"), [(Canonical, "p"), (Canonical, "r"), (MeanOdds, "phi")])
def test_constrained_samples_follow_scipy(cls, name, key):
    prior = cls().priors(unconstrained=False)[name]
    samples = np.asarray(prior.sample(key, (N_SAMPLES,)))
    assert stats.kstest(samples, _expected_constrained(name)[0].cdf).pvalue > 1e-3


def test_gate_prior_is_beta_1_9():
    prior = default_prior("gate", unconstrained=False)
    oracle = stats.beta(1.0, 9.0).logpdf(UNIT_POINTS)
    np.testing.assert_allclose(prior.log_prob(jnp.asarray(UNIT_POINTS)), oracle, rtol=1e-10)


# Hand-written bijections R -> domain and their inverses.
FORWARD = {
    "sigmoid": special.expit,
    "softplus": lambda x: np.logaddexp(0.0, x),
    "exp": np.exp,
}
INVERSE = {
    "sigmoid": special.logit,
    "softplus": lambda y: np.log(np.expm1(y)),
    "exp": np.log,
}


def _expected_transform(cls, name, overrides=None):
    if name in UNIT:
        return "sigmoid"
    chosen = dict(overrides or {})
    if name in chosen:
        return chosen[name]
    return "exp"


def _hand_log_prob(kind, y):
    """Normal(0, 1) logpdf at the inverse, minus log|dy/dx| by central difference."""
    x = INVERSE[kind](y)
    h = 1e-6 * np.maximum(1.0, np.abs(x))
    dydx = (FORWARD[kind](x + h) - FORWARD[kind](x - h)) / (2.0 * h)
    return stats.norm.logpdf(x) - np.log(dydx)


@pytest.mark.parametrize(("cls", "name"), _cases())
def test_unconstrained_log_prob_includes_jacobian(cls, name):
    param = cls()
    prior = param.priors(unconstrained=True)[name]
    assert isinstance(prior, dist.TransformedDistribution)
    kind = _expected_transform(cls, name)
    points = UNIT_POINTS if name in UNIT else POSITIVE_POINTS
    np.testing.assert_allclose(
        prior.log_prob(jnp.asarray(points)), _hand_log_prob(kind, points), rtol=1e-6
    )
    # The separately exposed pieces compose to the same prior.
    x = jnp.linspace(-3.0, 3.0, 7)
    np.testing.assert_allclose(
        param.unconstrained_transform(name)(x), FORWARD[kind](x), rtol=1e-12
    )
    base = param.unconstrained_base(name)
    np.testing.assert_allclose(base.log_prob(x), stats.norm.logpdf(x), rtol=1e-12)


@pytest.mark.parametrize(
    ("cls", "choice"),
    [
        (Canonical, {"r": "softplus"}),
        (MeanOdds, {"phi": "softplus", "mu": "softplus"}),
        (TwoStateRatio, {"mu": "softplus", "s": "exp"}),
    ],
)
def test_positive_transform_is_selectable(cls, choice):
    param = cls(positive_transform=choice)
    for name in cls.sampled:
        kind = _expected_transform(cls, name, choice)
        if name not in UNIT:  # unit-interval coordinates always use sigmoid
            assert param.transform_choice(name) == kind
        prior = param.priors(unconstrained=True)[name]
        points = UNIT_POINTS if name in UNIT else POSITIVE_POINTS
        expected = _hand_log_prob(kind, points)
        np.testing.assert_allclose(prior.log_prob(jnp.asarray(points)), expected, rtol=1e-6)


@pytest.mark.parametrize("cls", ALL)
def test_unconstrained_samples_are_pushed_standard_normals(cls, key):
    param = cls()
    for i, (name, prior) in enumerate(param.priors(unconstrained=True).items()):
        y = np.asarray(prior.sample(jax.random.fold_in(key, i), (N_SAMPLES,)))
        if name in UNIT:
            assert np.all((y > 0) & (y < 1)), name
        else:
            assert np.all(y > 0), name
        x = INVERSE[_expected_transform(cls, name)](y)
        assert abs(x.mean()) < 0.04 and abs(x.std() - 1.0) < 0.03, name


def test_constrain_maps_zero_to_each_transform():
    param = TwoStateMomentDelta(positive_transform={"F": "softplus"})
    out = param.constrain({"mu": 0.0, "F": 0.0, "delta": 0.0})
    np.testing.assert_allclose([out["mu"], out["F"], out["delta"]], [1.0, np.log(2.0), 0.5])


def test_overrides_replace_defaults_and_reject_unknown_names():
    custom = dist.LogNormal(2.0, 0.5)
    priors = MeanProb().priors(unconstrained=True, overrides={"mu": custom})
    assert priors["mu"] is custom
    assert isinstance(priors["p"], dist.TransformedDistribution)
    with pytest.raises(ValueError, match=r"'phi'.*valid names: \('p', 'mu'\)"):
        MeanProb().priors(unconstrained=False, overrides={"phi": custom})
    with pytest.raises(TypeError, match="numpyro Distribution"):
        MeanProb().priors(unconstrained=False, overrides={"mu": 3.0})


@pytest.mark.parametrize(
    "choice", [{"p": "exp"}, {"mu": "log"}, {"nonsense": "exp"}], ids=["unit", "value", "name"]
)
def test_invalid_positive_transform_raises(choice):
    with pytest.raises(ValueError, match="positive_transform"):
        MeanProb(positive_transform=choice)


def test_beta_log_prob_matches_scipy_with_array_parameters():
    a, b = np.array([0.4, 1.0, 2.5]), np.array([3.0, 1.0, 0.7])
    x = np.array([1e-6, 0.3, 1.0 - 1e-9])
    np.testing.assert_allclose(Beta(a, b).log_prob(x), stats.beta(a, b).logpdf(x), rtol=1e-10)


@pytest.mark.parametrize(("a", "b"), [(1.0, 1.0), (2.5, 0.7), (0.3, 4.0)])
def test_beta_prime_matches_scipy(a, b, key):
    y = np.array([1e-8, 1e-3, 0.4, 1.0, 7.0, 1e5])
    np.testing.assert_allclose(
        BetaPrime(a, b).log_prob(jnp.asarray(y)), stats.betaprime(a, b).logpdf(y), rtol=1e-10
    )
    samples = np.asarray(BetaPrime(a, b).sample(key, (N_SAMPLES,)))
    assert np.all(samples > 0)
    assert stats.kstest(samples, stats.betaprime(a, b).cdf).pvalue > 1e-3
