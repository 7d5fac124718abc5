"""Registry, invariants over every concrete class, and abstract-or-final for this layer."""

import jax.numpy as jnp
import numpy as np
import pytest

import scribe.parameterizations as P
from scribe.parameterizations import AbstractParameterization, get_parameterization

# Every concrete class; the abstract-or-final test fails if one is missing here.
ALL = (
    P.Canonical,
    P.MeanProb,
    P.MeanOdds,
    P.TwoStateNatural,
    P.TwoStateRatio,
    P.TwoStateMeanFano,
    P.TwoStateMomentDelta,
    P.CaptureProb,
    P.CaptureOdds,
)

NAMES = {
    "canonical": P.Canonical,
    "standard": P.Canonical,
    "mean_prob": P.MeanProb,
    "linked": P.MeanProb,
    "mean_odds": P.MeanOdds,
    "odds_ratio": P.MeanOdds,
    "two_state_natural": P.TwoStateNatural,
    "two_state_ratio": P.TwoStateRatio,
    "two_state_mean_fano": P.TwoStateMeanFano,
    "two_state_moment_delta": P.TwoStateMomentDelta,
}


@pytest.mark.parametrize(("name", "cls"), NAMES.items())
def test_names_and_aliases_resolve(name, cls):
    assert type(get_parameterization(name)) is cls


def test_parameterizations_lists_canonical_names_once():
    assert P.PARAMETERIZATIONS == (
        "canonical",
        "mean_prob",
        "mean_odds",
        "two_state_natural",
        "two_state_ratio",
        "two_state_mean_fano",
        "two_state_moment_delta",
    )


def test_kwargs_reach_the_class():
    param = get_parameterization("linked", positive_transform={"mu": "exp"})
    assert param.transform_choice("mu") == "exp"


def test_unknown_name_lists_valid_names_and_aliases():
    with pytest.raises(ValueError, match="Unknown parameterization 'nb2'") as info:
        get_parameterization("nb2")
    for name in NAMES:
        assert repr(name) in str(info.value)
    with pytest.raises(TypeError, match="string"):
        get_parameterization(P.Canonical)


def _subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def test_every_concrete_parameterization_is_tested():
    # Abstract-or-final itself is checked for every scribe module in
    # tests/test_abstract_or_final.py; here, that ALL lists every concrete class.
    concrete = [
        c for c in _subclasses(AbstractParameterization) if not c.__name__.startswith("Abstract")
    ]
    assert set(concrete) == set(ALL)


@pytest.mark.parametrize("cls", ALL)
def test_class_attributes_are_consistent(cls):
    param = cls()
    assert len(set(cls.sampled)) == len(cls.sampled)
    assert set(cls.sampled) <= set(P.COORDINATES)
    assert tuple(param.priors(unconstrained=False)) == cls.sampled
    values = {k: jnp.asarray([0.2, 0.7]) for k in cls.sampled}
    out = param.to_natural(values)
    assert set(out) == set(cls.natural) | set(cls.derived)
    for k, v in out.items():
        assert v.shape == (2,) and bool(jnp.all(jnp.isfinite(v))) and bool(jnp.all(v > 0)), k


@pytest.mark.parametrize("cls", ALL)
def test_to_natural_rejects_missing_and_mixed_rank_inputs(cls):
    with pytest.raises(ValueError, match="missing"):
        cls().to_natural({})
    if len(cls.sampled) > 1:
        first, *rest = cls.sampled
        values = {first: np.full((1, 3), 0.5), **{k: np.full(3, 0.5) for k in rest}}
        with pytest.raises(ValueError, match="one rank"):
            cls().to_natural(values)
