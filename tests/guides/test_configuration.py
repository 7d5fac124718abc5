"""Specs, constructors and ``make_guide``: what each builds and what each refuses."""

import equinox as eqx
import jax
import numpy as np
import numpyro.distributions as dist
import pytest

import scribe.guides
from scribe.guides import (
    JointLowRank,
    LowRank,
    MeanFieldConstrained,
    MeanFieldUnconstrained,
    ParamSpec,
    make_guide,
)
from scribe.guides._spec import get_bijection
from scribe.parameterizations import COORDINATES, BetaPrime, unconstrained_transform

from .cases import INIT, SPECS

# ---- ParamSpec ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "alpha", "shape": ()}, "not a coordinate; valid names"),
        ({"name": "r", "shape": [5]}, "shape must be a tuple of positive ints"),
        ({"name": "r", "shape": (5.0,)}, "shape must be a tuple of positive ints"),
        ({"name": "r", "shape": (0,)}, "shape must be a tuple of positive ints"),
        ({"name": "r", "shape": (True,)}, "shape must be a tuple of positive ints"),
        ({"name": "r", "shape": 5}, "shape must be a tuple of positive ints"),
        ({"name": "r", "shape": (), "transform": "relu"}, "transform must be one of"),
    ],
)
def test_bad_spec_is_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ParamSpec(**kwargs)


def test_spec_accepts_numpy_sizes_and_stores_ints():
    spec = ParamSpec(name="r", shape=(np.int64(3), 2))
    assert spec.shape == (3, 2) and all(type(n) is int for n in spec.shape)
    assert spec.size == 6 and hash(spec) == hash(ParamSpec(name="r", shape=(3, 2)))


@pytest.mark.parametrize("name", COORDINATES)
@pytest.mark.parametrize("transform", ["softplus", "exp"])
def test_spec_bijection_is_the_parameterizations_transform(name, transform):
    spec = ParamSpec(name=name, shape=(), transform=transform)
    expected = unconstrained_transform(name, positive_transform=transform)
    assert type(get_bijection(spec.bijection)) is type(expected)


# ---- constructors ---------------------------------------------------------------------


def test_constrained_families_follow_the_default_priors():
    specs = [ParamSpec(name=n, shape=(2,)) for n in ("p", "gate", "mu", "phi", "phi_capture")]
    marginals = MeanFieldConstrained(specs).marginals()
    assert type(marginals["p"]) is scribe.parameterizations.Beta
    assert type(marginals["gate"]) is scribe.parameterizations.Beta
    assert type(marginals["mu"]) is dist.LogNormal
    assert type(marginals["phi"]) is BetaPrime
    assert type(marginals["phi_capture"]) is BetaPrime


def test_unconstrained_guides_use_each_specs_transform():
    specs = [
        ParamSpec(name="p", shape=(2,)),
        ParamSpec(name="r", shape=(2,)),
        ParamSpec(name="mu", shape=(2,), transform="exp"),
    ]
    for guide in (MeanFieldUnconstrained(specs), LowRank(specs, 1)):
        marginals = guide.marginals()
        assert [type(t).__name__ for t in marginals["p"].transforms] == ["SigmoidTransform"]
        assert [type(t).__name__ for t in marginals["r"].transforms] == ["SoftplusTransform"]
        assert type(marginals["mu"]) is dist.LogNormal


def test_low_rank_caps_each_parameters_rank_at_its_size():
    guide = LowRank(SPECS, 3)
    assert [f.cov_factor.shape for f in guide.factors] == [(1, 1)] + [(5, 3)] * 4
    joint = JointLowRank(SPECS, ("phi", "mu"), 7)
    assert [f.specs for f in joint.factors][0] == (SPECS[3], SPECS[2])
    assert [f.cov_factor.shape for f in joint.factors] == [(10, 7), (1, 1), (5, 5), (5, 5)]


def test_every_leaf_of_a_guide_is_a_trainable_array():
    for guide in (MeanFieldConstrained(SPECS), LowRank(SPECS, 2)):
        leaves = jax.tree.leaves(guide)
        assert leaves and all(eqx.is_inexact_array(x) for x in leaves)


@pytest.mark.parametrize(
    ("init", "message"),
    [
        ({"alpha": 1.0}, "not in specs"),
        ({"r": np.ones(4)}, "does not broadcast"),
        ({"p": 1.5}, "inside the 'unit' domain"),
        ({"r": -1.0}, "inside the 'positive' domain"),
        ({"gate": np.nan}, "inside the 'unit' domain"),
    ],
)
def test_bad_init_is_refused(init, message):
    with pytest.raises(ValueError, match=message):
        MeanFieldConstrained(SPECS, init)


def test_bad_specs_are_refused():
    with pytest.raises(ValueError, match="more than once"):
        MeanFieldUnconstrained([SPECS[1], SPECS[1]])
    with pytest.raises(ValueError, match="at least one"):
        MeanFieldUnconstrained([])
    with pytest.raises(TypeError, match="ParamSpec"):
        MeanFieldUnconstrained([("r", (5,))])


def test_log_prob_refuses_values_that_do_not_match_the_specs():
    guide = MeanFieldUnconstrained(SPECS, INIT)
    values = guide.median()
    with pytest.raises(ValueError, match="lack"):
        guide.log_prob({k: v for k, v in values.items() if k != "phi"})
    with pytest.raises(ValueError, match="spec's shape"):
        guide.log_prob({**values, "r": np.ones(4)})
    with pytest.raises(ValueError, match="disagree"):
        guide.log_prob({**values, "r": np.ones((2, 5))})


# ---- make_guide -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"unconstrained": False, "rank": None, "joint": None}, MeanFieldConstrained),
        ({"unconstrained": True, "rank": None, "joint": None}, MeanFieldUnconstrained),
        ({"unconstrained": False, "rank": 2, "joint": None}, LowRank),
        ({"unconstrained": True, "rank": 2, "joint": ("mu", "phi")}, JointLowRank),
    ],
)
def test_make_guide_builds_the_configured_family(kwargs, expected):
    guide = make_guide(SPECS, init=INIT, **kwargs)
    assert type(guide) is expected
    np.testing.assert_allclose(guide.median()["r"], INIT["r"], rtol=1e-9)


@pytest.mark.parametrize(
    ("rank", "joint", "message"),
    [
        (0, None, "guide_rank .* positive integer, got 0"),
        (-1, None, "guide_rank .* positive integer"),
        (2.0, None, "guide_rank .* positive integer"),
        (True, None, "guide_rank .* positive integer"),
        (6, None, "guide_rank .* exceeds the dimension 5"),
        (11, ("mu", "phi"), "guide_rank .* exceeds the dimension 10"),
        (None, ("mu", "phi"), "joint_params=.* needs guide_rank"),
        (2, ("mu",), "joint_params must name at least 2"),
        (2, ("mu", "alpha"), r"joint_params names \['alpha'\].*valid names: \('p', 'r'"),
        (2, ("mu", "mu"), "joint_params names a parameter more than once"),
        (2, "mu", "joint_params must be a sequence"),
    ],
)
def test_make_guide_refuses_bad_rank_or_joint(rank, joint, message):
    with pytest.raises(ValueError, match=message):
        make_guide(SPECS, unconstrained=True, rank=rank, joint=joint)


# ---- abstract-or-final ----------------------------------------------------------------
