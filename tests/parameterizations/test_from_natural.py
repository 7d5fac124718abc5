"""from_natural inverts to_natural, for every parameterization and both capture classes.

The use: an MCMC run started from an SVI fit in another parameterization converts the
point estimate as ``target.from_natural(source.to_natural(point))``.
"""

import itertools
import re
from fractions import Fraction

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import scribe.parameterizations as P
from scribe.parameterizations import CaptureOdds, CaptureProb, get_parameterization

ALL = tuple(get_parameterization(name) for name in P.PARAMETERIZATIONS) + (
    CaptureProb(),
    CaptureOdds(),
)
IDS = [param.name for param in ALL]

# Coordinates and natural parameters on (0, 1); every other name is positive.
UNIT = {"p", "delta", "p_capture"}
EPS = float(np.finfo(np.float64).eps)
RTOL = 1e-10

# Extremes, round-tripped to the same RTOL: p near 0 and 1, positive values tiny and huge
# (every combination, so products such as r = mu phi reach 1e60 and 1e-60).
UNIT_EXTREMES = (1e-12, 1e-6, 0.3, 0.5, 0.7, 1.0 - 1e-6, 1.0 - 1e-12)
POSITIVE_EXTREMES = (1e-30, 1e-8, 1e-3, 1.0, 1e3, 1e8, 1e30)
# An odds-form coordinate phi reaches natural p = 1 / (1 + phi), which holds a phi << 1
# only to relative error ~eps / phi (module docstring of _nb); likewise alpha + beta = kappa
# through TwoStateMomentDelta's delta = 1 / (kappa + 1). Those stay >= 1e-3 here and have
# their own tests below.
SMALLEST_ODDS = 1e-3


@pytest.fixture(autouse=True)
def _x64():
    with jax.enable_x64(True):
        yield


def _draw(name, rng, n):
    """Random values over the whole domain: logit-uniform on (0, 1), log-uniform > 0."""
    if name in UNIT:
        return 1.0 / (1.0 + np.exp(-rng.uniform(-12.0, 12.0, n)))
    return 10.0 ** rng.uniform(-4.0, 4.0, n)


def _assert_close(actual, expected, names, rtol):
    for k in names:
        assert actual[k].dtype == jnp.float64, k
        np.testing.assert_allclose(actual[k], expected[k], rtol=rtol, atol=0.0, err_msg=k)


def _grid(names):
    """Every combination of each name's extremes, as flat arrays."""
    extremes = [UNIT_EXTREMES if k in UNIT else POSITIVE_EXTREMES for k in names]
    points = np.array(list(itertools.product(*extremes)))
    return {k: points[:, i] for i, k in enumerate(names)}


def _where(values, keep):
    return {k: v[keep] for k, v in values.items()}


@pytest.mark.parametrize("param", ALL, ids=IDS)
def test_round_trip_from_sampled(param):
    rng = np.random.default_rng(0)
    x = {k: _draw(k, rng, 400) for k in param.sampled}
    back = param.from_natural(param.to_natural(x))
    assert list(back) == list(param.sampled)
    _assert_close(back, x, param.sampled, RTOL)


@pytest.mark.parametrize("param", ALL, ids=IDS)
def test_round_trip_from_natural(param):
    rng = np.random.default_rng(1)
    nat = {k: _draw(k, rng, 400) for k in param.natural}
    _assert_close(param.to_natural(param.from_natural(nat)), nat, param.natural, RTOL)


@pytest.mark.parametrize("param", ALL, ids=IDS)
def test_round_trip_at_extremes(param):
    # Tiny and huge values round-trip to the same rtol (no over- or underflow, no
    # cancellation), within the representational limits excluded above.
    x = _grid(param.sampled)
    for name in ("phi", "phi_capture"):
        if name in x:
            x = _where(x, x[name] >= SMALLEST_ODDS)
    _assert_close(param.from_natural(param.to_natural(x)), x, param.sampled, RTOL)
    nat = _grid(param.natural)
    if "delta" in param.sampled:
        nat = _where(nat, nat["alpha"] + nat["beta"] >= SMALLEST_ODDS)
    _assert_close(param.to_natural(param.from_natural(nat)), nat, param.natural, RTOL)


@pytest.mark.parametrize(
    ("param", "name", "p_name"),
    [(P.MeanOdds(), "phi", "p"), (CaptureOdds(), "phi_capture", "p_capture")],
    ids=["mean_odds", "capture_odds"],
)
def test_odds_of_a_given_p_are_accurate(param, name, p_name):
    """(1 - p) / p to an ulp or two for p near 1, where 1 / p - 1 would cancel."""
    p = np.array([1e-12, 0.3, 0.5, 0.9, 1.0 - 1e-6, 1.0 - 1e-9, 1.0 - 1e-12, 1.0 - EPS])
    nat = {k: p if k == p_name else np.ones_like(p) for k in param.natural}
    exact = [float((1 - Fraction(v)) / Fraction(v)) for v in p]
    np.testing.assert_allclose(param.from_natural(nat)[name], exact, rtol=2.0 * EPS)


@pytest.mark.parametrize(
    ("param", "name"),
    [(P.MeanOdds(), "phi"), (CaptureOdds(), "phi_capture")],
    ids=["mean_odds", "capture_odds"],
)
def test_tiny_odds_are_limited_by_p_not_by_the_formula(param, name):
    """phi -> p -> phi: relative error ~eps / phi for phi < 1, p = 1 - eps/2 at worst."""
    phi = np.array([1e-12, 1e-8, 1e-5, 1e-3])
    x = {k: phi if k == name else np.ones_like(phi) for k in param.sampled}
    back = np.asarray(param.from_natural(param.to_natural(x))[name])
    assert np.all(np.abs(back / phi - 1.0) <= 2.0 * EPS / phi)
    # Below eps / 2, p rounds to 1 and phi to 0 (no NaN).
    tiny = {k: (1e-20 if k == name else 1.0) for k in param.sampled}
    assert float(param.from_natural(param.to_natural(tiny))[name]) == 0.0


def test_moment_delta_small_kappa_is_limited_by_delta():
    """natural -> delta -> natural: relative error ~eps / kappa as kappa -> 0."""
    param = P.TwoStateMomentDelta()
    kappa = np.array([1e-12, 1e-8, 1e-5])
    nat = {"rate": np.full(3, 5.0), "alpha": kappa / 2.0, "beta": kappa / 2.0}
    back = param.to_natural(param.from_natural(nat))
    for k in ("alpha", "beta"):
        assert np.all(np.abs(np.asarray(back[k]) / nat[k] - 1.0) <= 4.0 * EPS / kappa), k
    np.testing.assert_allclose(back["rate"], nat["rate"], rtol=RTOL)


def test_canonical_to_mean_odds_to_mean_prob_and_back():
    rng = np.random.default_rng(2)
    x = {"p": _draw("p", rng, 400), "r": _draw("r", rng, 400)}
    canonical, odds, prob = P.Canonical(), P.MeanOdds(), P.MeanProb()
    y = odds.from_natural(canonical.to_natural(x))
    z = prob.from_natural(odds.to_natural(y))
    back = canonical.from_natural(prob.to_natural(z))
    _assert_close(back, x, canonical.sampled, RTOL)
    np.testing.assert_allclose(y["mu"], x["r"] * x["p"] / (1.0 - x["p"]), rtol=RTOL)
    np.testing.assert_allclose(z["mu"], y["mu"], rtol=RTOL)


def test_two_state_chain_returns_the_start():
    rng = np.random.default_rng(3)
    x = {k: _draw(k, rng, 400) for k in P.TwoStateNatural.sampled}
    chain = [get_parameterization(n) for n in P.PARAMETERIZATIONS if n.startswith("two_state")]
    point = x
    for source, target in itertools.pairwise([*chain, chain[0]]):
        point = target.from_natural(source.to_natural(point))
    _assert_close(point, x, chain[0].sampled, RTOL)


@pytest.mark.parametrize("param", [p for p in ALL if "mu" in p.sampled], ids=lambda p: p.name)
def test_mu_and_excess_fano_are_the_moments_of_the_natural_parameters(param):
    rng = np.random.default_rng(4)
    nat = {k: _draw(k, rng, 400) for k in param.natural}
    out = param.from_natural(nat)
    if "r" in nat:
        mean = nat["r"] * nat["p"] / (1.0 - nat["p"])
    else:
        rate, a, b = nat["rate"], nat["alpha"], nat["beta"]
        mean = rate * a / (a + b)
        # variance - mean, MATH.md's excess term (var / mean - 1 would cancel for small F).
        excess = rate**2 * a * b / ((a + b) ** 2 * (a + b + 1.0))
        if "F" in out:
            np.testing.assert_allclose(out["F"], excess / mean, rtol=RTOL)
    np.testing.assert_allclose(out["mu"], mean, rtol=RTOL)


@pytest.mark.parametrize("param", ALL, ids=IDS)
def test_broadcasts_scalars_and_one_rank_and_ignores_extra_keys(param):
    rng = np.random.default_rng(5)
    first, *rest = param.natural
    nat = {first: _draw(first, rng, 3)[:, None], **{k: _draw(k, rng, 4)[None] for k in rest}}
    out = param.from_natural({**nat, "mu": "ignored", "unrelated": None})
    assert list(out) == list(param.sampled)
    # Elementwise as to_natural: outputs broadcast together (Canonical's are its inputs).
    expected = (3, 4) if rest else (3, 1)
    assert np.broadcast_shapes(*(v.shape for v in out.values())) == expected
    scalars = param.from_natural({k: 0.4 for k in param.natural})
    assert all(v.shape == () for v in scalars.values())
    if rest:
        mixed = {first: np.full((1, 3), 0.4), **{k: np.full(3, 0.4) for k in rest}}
        with pytest.raises(ValueError, match="Natural values .* one rank"):
            param.from_natural(mixed)


@pytest.mark.parametrize("param", ALL, ids=IDS)
def test_missing_natural_names_are_named(param):
    with pytest.raises(ValueError, match=re.escape(f"missing {list(param.natural)}")):
        param.from_natural({})
    for name in param.natural:
        partial = {k: 0.4 for k in param.natural if k != name}
        with pytest.raises(ValueError, match=re.escape(f"missing {[name]}")):
            param.from_natural(partial)


def test_sampled_coordinates_are_not_natural_values():
    # Passing a sampled point by mistake names the natural parameters it lacks.
    with pytest.raises(ValueError, match=re.escape("missing ['r', 'p']")):
        P.MeanOdds().from_natural({"phi": 1.0, "mu": 2.0})
