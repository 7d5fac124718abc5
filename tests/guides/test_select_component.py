"""``guide.select_component``: the guide's exact marginal over one mixture component.

The oracles are written against the full guide, coordinate by coordinate: each scalar
coordinate is labelled ``(name, index)`` in the full guide's shapes, the coordinates of
component ``k`` are those whose per-component index is ``k`` (dropped parameters have
none), and the selected guide must be the full guide's marginal over them: the full
marginals at ``k`` for independent factors, the rows and columns of ``loc`` and
``W Wᵀ + diag(scale²)`` at those labels for low-rank ones.
"""

import functools

import equinox as eqx
import jax
import numpy as np
import pytest
import scipy.stats
from scipy.special import expit, logit

from scribe.guides import (
    JointLowRank,
    LowRank,
    MeanFieldConstrained,
    MeanFieldUnconstrained,
    ParamSpec,
    make_guide,
)
from scribe.guides._factors import BetaFactor, LowRankNormalFactor

from .cases import marginal_moments, perturbed, unconstrained

N_COMPONENTS = 3
SPECS = (
    ParamSpec(name="r", shape=(N_COMPONENTS, 5)),
    ParamSpec(name="p", shape=(N_COMPONENTS,)),
    ParamSpec(name="gate", shape=(5,)),
    ParamSpec(name="phi", shape=()),
    # Stands in for the mixing logits: a per-component parameter that is dropped.
    ParamSpec(name="mu", shape=(N_COMPONENTS,), transform="exp"),
)
INIT = {
    "r": np.array([[0.5, 1.0, 2.0, 5.0, 20.0], [3.0, 0.2, 8.0, 1.5, 0.7], [1.0] * 5]),
    "p": np.array([0.2, 0.5, 0.8]),
    "gate": np.array([0.02, 0.1, 0.3, 0.6, 0.9]),
    "phi": 1.5,
    "mu": np.array([1.0, 10.0, 100.0]),
}
COMPONENTS = ("r", "p")
DROP = ("mu",)
EXPECTED_SPECS = (
    ParamSpec(name="r", shape=(5,)),
    ParamSpec(name="p", shape=()),
    ParamSpec(name="gate", shape=(5,)),
    ParamSpec(name="phi", shape=()),
)

GUIDES = {
    "MeanFieldConstrained": lambda: MeanFieldConstrained(SPECS, INIT),
    "MeanFieldUnconstrained": lambda: MeanFieldUnconstrained(SPECS, INIT),
    "LowRank": lambda: LowRank(SPECS, 2, INIT),
    # The dropped parameter leaves the joint factor, which keeps only r.
    "JointLowRank": lambda: JointLowRank(SPECS, ("r", "mu"), 3, INIT),
    # Two joint parameters survive the drop.
    "JointLowRank3": lambda: JointLowRank(SPECS, ("p", "gate", "mu"), 2, INIT),
}
N_DRAWS = 4000
N_SE = 5.0


@functools.cache
def _case(kind):
    """The perturbed full guide of ``kind`` and its selections, one per component."""
    guide = perturbed(GUIDES[kind](), seed=1)
    return guide, [_select(guide, k) for k in range(N_COMPONENTS)]


@pytest.fixture(params=list(GUIDES))
def case(request):
    return _case(request.param)


def _select(guide, k):
    return guide.select_component(k, components=COMPONENTS, drop=DROP)


def _at(name, x, k):
    """The full guide's array ``x`` of parameter ``name`` (no sample axis) at component k."""
    return np.asarray(x)[k] if name in COMPONENTS else np.asarray(x)


def _labels(specs):
    """``(name, index)`` of every scalar coordinate of ``specs``, in flattened order."""
    return [(s.name, idx) for s in specs for idx in np.ndindex(*s.shape)]


def _full_label(name, idx, k):
    """The full guide's label of the selected guide's coordinate ``(name, idx)``."""
    return (name, (k, *idx)) if name in COMPONENTS else (name, idx)


def _covariance(factor):
    w = np.asarray(factor.cov_factor)
    return w @ w.T + np.diag(np.logaddexp(0.0, np.asarray(factor.raw_scale)) ** 2)


def _marginal_oracle(guide, k, values):
    """log density of selected ``values`` (one sample axis) under the full guide."""
    total = 0.0
    for factor in guide.factors:
        if isinstance(factor, LowRankNormalFactor):
            # The Gaussian over the kept coordinates: loc and covariance at their labels.
            bijections = {s.name: s.bijection for s in factor.specs}
            rows, z, jac = [], [], []
            for row, (name, idx) in enumerate(_labels(factor.specs)):
                if name in DROP or (name in COMPONENTS and idx[0] != k):
                    continue
                at = idx[1:] if name in COMPONENTS else idx
                zi, ji = unconstrained(
                    bijections[name], np.asarray(values[name])[(slice(None), *at)]
                )
                rows.append(row)
                z.append(zi)
                jac.append(ji)
            if not rows:
                continue
            cov = _covariance(factor)[np.ix_(rows, rows)]
            law = scipy.stats.multivariate_normal(np.asarray(factor.loc)[rows], cov)
            total = total + law.logpdf(np.stack(z, axis=1)) + sum(jac)
            continue
        name = factor.spec.name
        if name in DROP:
            continue
        y = np.asarray(values[name])
        if name in COMPONENTS:
            # Every component at the draw; only component k's terms are kept.
            y = np.repeat(y[:, None], N_COMPONENTS, axis=1)
        lp = _coordinate_log_prob(factor, y)
        lp = lp[:, k] if name in COMPONENTS else lp
        total = total + lp.reshape(lp.shape[0], -1).sum(-1)
    return total


def _coordinate_log_prob(factor, y):
    """Log density of each coordinate of an independent factor, in scipy."""
    if isinstance(factor, BetaFactor):
        a = np.exp(np.asarray(factor.log_concentration1))
        b = np.exp(np.asarray(factor.log_concentration0))
        family = scipy.stats.betaprime if factor.odds else scipy.stats.beta
        return family.logpdf(y, a, b)
    loc, scale = np.asarray(factor.loc), np.logaddexp(0.0, np.asarray(factor.raw_scale))
    z, log_dz_dy = unconstrained(factor.bijection, y)
    return scipy.stats.norm.logpdf(z, loc, scale) + log_dz_dy


@eqx.filter_jit
def _log_prob(guide, values):
    # Compiled: outside jit a guide's log_prob runs op by op, seconds per new shape.
    return guide.log_prob(values)


def _points(specs, median, n=()):
    """``n`` points around the median, each coordinate moved on the log(-odds) scale.

    Drawn in numpy: sampling a guide outside a compiled function costs seconds.
    """
    rng = np.random.default_rng(2)
    points = {}
    for spec in specs:
        m = np.asarray(median[spec.name])
        step = 0.7 * rng.standard_normal((*n, *spec.shape))
        points[spec.name] = expit(logit(m) + step) if spec.domain == "unit" else m * np.exp(step)
    return points


@eqx.filter_jit
def _draws(guide, key):
    keys = jax.random.split(key, N_DRAWS)
    return jax.vmap(lambda key: guide.sample_and_log_prob(key=key))(keys)


def test_selected_guide_has_the_components_specs(case):
    guide, selections = case
    for selected in selections:
        assert type(selected) is type(guide)
        assert selected.specs == EXPECTED_SPECS
    assert guide.specs == SPECS


def test_median_and_marginals_are_the_full_ones_at_k(case):
    guide, selections = case
    full_median, full_marginals = guide.median(), guide.marginals()
    for k, selected in enumerate(selections):
        _check_median_and_marginals(selected, k, full_median, full_marginals)


def _check_median_and_marginals(selected, k, full_median, full_marginals):
    median, marginals = selected.median(), selected.marginals()
    assert set(median) == set(marginals) == {s.name for s in EXPECTED_SPECS}
    for name in median:
        np.testing.assert_allclose(median[name], _at(name, full_median[name], k), rtol=1e-12)
        # The same family (and bijection) with the moments of the full one at k.
        marginal, full_marginal = marginals[name], full_marginals[name]
        assert type(marginal) is type(full_marginal)
        transforms = [
            [type(t) for t in getattr(m, "transforms", [])] for m in (marginal, full_marginal)
        ]
        assert transforms[0] == transforms[1]
        mean, var = marginal_moments(marginals[name])
        full_mean, full_var = marginal_moments(full_marginals[name])
        np.testing.assert_allclose(mean, _at(name, full_mean, k), rtol=1e-10)
        np.testing.assert_allclose(var, _at(name, full_var, k), rtol=1e-10)


def test_density_is_the_full_guides_marginal(case):
    guide, selections = case
    for k, selected in enumerate(selections):
        values = _points(EXPECTED_SPECS, selected.median(), (50,))
        expected = _marginal_oracle(guide, k, values)
        np.testing.assert_allclose(_log_prob(selected, values), expected, rtol=1e-9)


def test_draws_follow_the_full_marginals_at_k():
    # Monte Carlo: the selected guide's own sampler (compiled once per guide: seconds,
    # hence the guide that changes most) against the full guide's moments, and its
    # draws' log q against their density.
    guide, selections = _case("JointLowRank")
    full_marginals = guide.marginals()
    for k in (0, 2):
        selected = selections[k]
        draws, log_q = _draws(selected, jax.random.key(k))
        for name, x in draws.items():
            mean, var = (_at(name, m, k) for m in marginal_moments(full_marginals[name]))
            error = np.abs(np.asarray(x).mean(0) - mean)
            assert np.all(error < N_SE * np.sqrt(var / N_DRAWS)), (name, error)
        few = {name: x[:100] for name, x in draws.items()}
        np.testing.assert_allclose(log_q[:100], _marginal_oracle(guide, k, few), rtol=1e-9)


@pytest.mark.parametrize("kind", ["LowRank", "JointLowRank", "JointLowRank3"])
def test_low_rank_covariance_is_the_full_sub_block(kind):
    guide, selections = _case(kind)
    for k, selected in enumerate(selections):
        _check_covariance(guide, selected, k)


def _check_covariance(guide, selected, k):
    full_labels = [_labels(f.specs) for f in guide.factors]
    covered = 0
    for factor in selected.factors:
        labels = [_full_label(n, idx, k) for n, idx in _labels(factor.specs)]
        (source,) = [i for i, fl in enumerate(full_labels) if labels[0] in fl]
        rows = [full_labels[source].index(label) for label in labels]
        full = guide.factors[source]
        np.testing.assert_allclose(factor.loc, np.asarray(full.loc)[rows], rtol=1e-12)
        expected = _covariance(full)[np.ix_(rows, rows)]
        np.testing.assert_allclose(_covariance(factor), expected, rtol=1e-10, atol=1e-14)
        # A block below the rank is re-factored to as many columns as coordinates.
        assert factor.cov_factor.shape == (len(rows), min(len(rows), full.cov_factor.shape[1]))
        covered += len(rows)
    assert covered == sum(s.size for s in EXPECTED_SPECS)


def test_rank_and_joint_are_adjusted():
    low_rank = _case("LowRank")[1][0]
    assert low_rank.rank == 2
    assert [f.cov_factor.shape for f in low_rank.factors] == [(5, 2), (1, 1), (5, 2), (1, 1)]
    joint = _case("JointLowRank")[1][1]
    assert (joint.joint, joint.rank) == (("r",), 3)
    assert [f.specs for f in joint.factors] == [(s,) for s in EXPECTED_SPECS]
    assert [f.cov_factor.shape for f in joint.factors] == [(5, 3), (1, 1), (5, 3), (1, 1)]
    kept = _case("JointLowRank3")[1][2]
    assert (kept.joint, kept.rank) == (("p", "gate"), 2)
    assert kept.factors[0].specs == EXPECTED_SPECS[1:3]
    # Every joint parameter dropped: the joint factor goes, the rank is LowRank's.
    gone = JointLowRank(SPECS, ("gate", "mu"), 2, INIT).select_component(
        0, components=COMPONENTS, drop=("gate", "mu")
    )
    assert (gone.joint, gone.rank) == ((), 2)
    assert [f.specs for f in gone.factors] == [(s,) for s in (*EXPECTED_SPECS[:2], SPECS[3])]
    assert [f.cov_factor.shape for f in gone.factors] == [(5, 2), (1, 1), (1, 1)]
    # Where joint still names two parameters, the selection has the shapes of a guide
    # built for its specs (what scribe.load relies on).
    for selected in (low_rank, kept):
        built = make_guide(
            selected.specs,
            unconstrained=True,
            rank=selected.rank,
            joint=getattr(selected, "joint", None),
        )
        assert jax.tree.structure(built) == jax.tree.structure(selected)
        assert [np.shape(x) for x in jax.tree.leaves(built)] == [
            np.shape(x) for x in jax.tree.leaves(selected)
        ]


def test_mean_field_selection_has_the_shapes_of_a_guide_built_for_it():
    for kind in ("MeanFieldConstrained", "MeanFieldUnconstrained"):
        selected = _case(kind)[1][1]
        built = type(selected)(selected.specs)
        assert jax.tree.structure(built) == jax.tree.structure(selected)
        assert [np.shape(x) for x in jax.tree.leaves(built)] == [
            np.shape(x) for x in jax.tree.leaves(selected)
        ]


# Per-component parameters with a gene axis only, so that genes can be subset first.
GENE_SPECS = (SPECS[0], SPECS[2], SPECS[3])
GENE_INIT = {s.name: INIT[s.name] for s in GENE_SPECS}
GENE_GUIDES = {
    "MeanFieldConstrained": lambda: MeanFieldConstrained(GENE_SPECS, GENE_INIT),
    "LowRank": lambda: LowRank(GENE_SPECS, 3, GENE_INIT),
    "JointLowRank": lambda: JointLowRank(GENE_SPECS, ("r", "gate"), 3, GENE_INIT),
}


@pytest.mark.parametrize("kind", list(GENE_GUIDES))
def test_selection_and_gene_subsets_commute(kind):
    # Both are the one restriction: the marginal over component 1 and genes [4, 0]
    # is the same whichever is taken first (below the rank, re-factored either way).
    guide, genes = perturbed(GENE_GUIDES[kind]()), [4, 0]
    one = guide.select_component(1, components=("r",)).subset_genes(genes)
    other = guide.subset_genes(genes).select_component(1, components=("r",))
    assert (
        one.specs
        == other.specs
        == (
            ParamSpec(name="r", shape=(2,)),
            ParamSpec(name="gate", shape=(2,)),
            ParamSpec(name="phi", shape=()),
        )
    )
    assert jax.tree.structure(one) == jax.tree.structure(other)
    for field in ("rank", "joint"):
        assert getattr(one, field, None) == getattr(other, field, None)
    for mine, theirs in zip(one.factors, other.factors, strict=True):
        if isinstance(mine, LowRankNormalFactor):
            # W itself is only defined up to a rotation where a block was re-factored.
            np.testing.assert_allclose(_covariance(mine), _covariance(theirs), rtol=1e-10)
            mine, theirs = (eqx.tree_at(lambda f: f.cov_factor, f, 0.0) for f in (mine, theirs))
        for x, y in zip(jax.tree.leaves(mine), jax.tree.leaves(theirs), strict=True):
            np.testing.assert_array_equal(x, y)


def test_dropping_nothing_keeps_the_other_per_component_parameters():
    guide = _case("MeanFieldUnconstrained")[0]
    selected = guide.select_component(2, components=("p",))
    assert [s.shape for s in selected.specs] == [(N_COMPONENTS, 5), (), (5,), (), (N_COMPONENTS,)]
    np.testing.assert_array_equal(selected.median()["r"], guide.median()["r"])
    np.testing.assert_array_equal(selected.median()["p"], guide.median()["p"][2])


@pytest.mark.parametrize(
    ("k", "components", "drop", "error", "match"),
    [
        (3, COMPONENTS, DROP, IndexError, r"k = 3 is outside \[0, K\) = \[0, 3\)"),
        (-1, COMPONENTS, DROP, IndexError, r"k = -1 .*K = 3"),
        (1.0, COMPONENTS, DROP, ValueError, r"k must be an int .*\[0, 3\), got 1.0"),
        (True, COMPONENTS, DROP, ValueError, "k must be an int"),
        (0, ("r", "delta"), DROP, ValueError, r"components names \['delta'\].*valid names"),
        (0, COMPONENTS, ("kappa",), ValueError, r"drop names \['kappa'\].*'gate', 'phi'"),
        (0, ("r", "phi"), DROP, ValueError, r"\['phi'\], of shape \(\)"),
        (0, ("r", "gate"), DROP, ValueError, r"disagree .*'r': 3, 'gate': 5"),
        (0, "r", DROP, ValueError, "the string 'r'"),
        (0, (), DROP, ValueError, "at least one"),
        (0, COMPONENTS, ("p", "mu"), ValueError, r"\['p'\] are named in both"),
    ],
)
def test_bad_components_are_refused(k, components, drop, error, match):
    guide = _case("LowRank")[0]
    with pytest.raises(error, match=match):
        guide.select_component(k, components=components, drop=drop)


def test_restrict_checks_its_restriction():
    guide = GUIDES["MeanFieldConstrained"]()
    gate = SPECS[2]
    # Any distinct positions work: a permutation of gate's values, the rest dropped.
    order = np.array([3, 1, 4, 0, 2])
    permuted = guide.restrict({"gate": (gate, order)})
    assert permuted.specs == (gate,)
    np.testing.assert_allclose(permuted.median()["gate"], INIT["gate"][order], rtol=1e-12)
    bad = [
        ({}, "at least one"),
        ({"delta": (gate, order)}, r"\['delta'\], not in the guide"),
        ({"gate": (SPECS[0], order)}, "same name and transform"),
        ({"gate": (gate, order[:4])}, "5 distinct integers"),
        ({"gate": (gate, np.array([0, 1, 2, 3, 3]))}, "distinct"),
        ({"gate": (gate, np.array([0, 1, 2, 3, 5]))}, r"in \[0, 5\)"),
        ({"gate": (gate, order.astype(float))}, "dtype float64"),
    ]
    for keep, match in bad:
        with pytest.raises(ValueError, match=match):
            guide.restrict(keep)
