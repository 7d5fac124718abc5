"""``guide.subset_genes``: the guide's exact marginal over some genes, for every guide.

The oracle is the full guide's marginal density written out in scipy: a product of
per-coordinate densities for independent factors, and the Gaussian over the kept
coordinates' rows and columns of ``loc`` and ``W Wᵀ + diag(scale²)`` for low-rank ones.
"""

import jax
import numpy as np
import pytest
import scipy.stats

from scribe.guides import JointLowRank, LowRank, MeanFieldUnconstrained, make_guide
from scribe.guides._factors import BetaFactor, LowRankNormalFactor

from .cases import GUIDES, INIT, SPECS, perturbed, unconstrained

N_GENES = 5
GENES = [4, 1, 2]


def _softplus(x):
    return np.logaddexp(0.0, x)


def _coordinates(specs, genes):
    """``(name, gene)`` of each unconstrained coordinate, ``gene`` None for shared ones."""
    return [(s.name, g) for s in specs for g in (genes if s.shape else [None])]


def _gaussian_marginal(factor: LowRankNormalFactor, genes, values) -> np.ndarray:
    """log density of the kept coordinates under the full factor's Gaussian, in scipy."""
    full = _coordinates(factor.specs, range(N_GENES))
    rows = [full.index(c) for c in _coordinates(factor.specs, genes)]
    w = np.asarray(factor.cov_factor)
    cov = w @ w.T + np.diag(_softplus(np.asarray(factor.raw_scale)) ** 2)
    n = np.shape(values[factor.specs[0].name])[0]
    blocks = [unconstrained(s.bijection, values[s.name]) for s in factor.specs]
    z = np.concatenate([zb.reshape(n, -1) for zb, _ in blocks], axis=1)
    jac = sum(jb.reshape(n, -1).sum(-1) for _, jb in blocks)
    law = scipy.stats.multivariate_normal(np.asarray(factor.loc)[rows], cov[np.ix_(rows, rows)])
    return law.logpdf(z) + jac


def _marginal_oracle(guide, genes, values) -> np.ndarray:
    """log density of kept-gene ``values`` under the full guide's marginal."""
    total = 0.0
    for factor in guide.factors:
        if isinstance(factor, LowRankNormalFactor):
            total = total + _gaussian_marginal(factor, genes, values)
            continue
        # Independent coordinates: the sum of the kept genes' own densities.
        y = np.asarray(values[factor.spec.name])
        if not factor.spec.shape:
            total = total + _coordinate_log_prob(factor, y)
            continue
        # Spread over all genes (dropped ones at an in-domain filler) to meet the
        # factor's full-size parameters, then keep the kept genes' terms.
        full = np.repeat(y[:, :1], N_GENES, axis=1)
        full[:, genes] = y
        total = total + _coordinate_log_prob(factor, full)[:, genes].sum(-1)
    return total


def _coordinate_log_prob(factor, y) -> np.ndarray:
    """Log density of each coordinate of an independent factor, in scipy."""
    if isinstance(factor, BetaFactor):
        a = np.exp(np.asarray(factor.log_concentration1))
        b = np.exp(np.asarray(factor.log_concentration0))
        family = scipy.stats.betaprime if factor.odds else scipy.stats.beta
        return family.logpdf(y, a, b)
    loc, scale = np.asarray(factor.loc), _softplus(np.asarray(factor.raw_scale))
    z, log_dz_dy = unconstrained(factor.bijection, y)
    return scipy.stats.norm.logpdf(z, loc, scale) + log_dz_dy


@pytest.fixture(scope="module", params=list(GUIDES))
def guide(request):
    return perturbed(GUIDES[request.param](SPECS, INIT))


def test_subset_density_is_the_full_guides_marginal(guide):
    subset = guide.subset_genes(np.array(GENES))
    assert type(subset) is type(guide)
    values = subset.sample((200,), key=jax.random.key(0))
    expected = _marginal_oracle(guide, GENES, values)
    np.testing.assert_allclose(subset.log_prob(values), expected, rtol=1e-9)


def test_subset_median_and_marginals_are_the_full_ones_at_the_genes(guide):
    subset = guide.subset_genes(GENES)
    median, full = subset.median(), guide.median()
    marginals = subset.marginals()
    for spec in SPECS:
        at = np.asarray(full[spec.name])[GENES] if spec.shape else full[spec.name]
        np.testing.assert_allclose(median[spec.name], at, rtol=1e-12)
        expected = np.asarray(guide.marginals()[spec.name].log_prob(full[spec.name]))
        expected = expected[GENES] if spec.shape else expected
        np.testing.assert_allclose(marginals[spec.name].log_prob(at), expected, rtol=1e-12)


def test_every_gene_in_order_is_the_same_guide(guide):
    values = guide.sample((20,), key=jax.random.key(1))
    same = guide.subset_genes(np.arange(N_GENES))
    np.testing.assert_allclose(same.log_prob(values), guide.log_prob(values), rtol=1e-9)


@pytest.mark.parametrize("genes", [[3], [4, 0], [0, 1, 2, 3]])
def test_subset_has_the_shapes_of_a_guide_built_for_it(guide, genes):
    # What scribe.load relies on: a skeleton built from the subset's specs fits it.
    subset = guide.subset_genes(genes)
    assert subset.specs == tuple(s.subset_genes(len(genes)) if s.shape else s for s in guide.specs)
    rank = getattr(subset, "rank", None)
    joint = getattr(subset, "joint", None)
    unconstrained_mf = isinstance(subset, MeanFieldUnconstrained)
    built = make_guide(subset.specs, unconstrained=unconstrained_mf, rank=rank, joint=joint)
    assert jax.tree.structure(built) == jax.tree.structure(subset)
    shapes = [np.shape(x) for x in jax.tree.leaves(subset)]
    assert shapes == [np.shape(x) for x in jax.tree.leaves(built)]


def test_low_rank_subsets_below_the_rank_keep_the_covariance():
    # Rank 3 over one gene: each block re-factored to one column, same covariance.
    guide = perturbed(LowRank(SPECS, 3, INIT))
    subset = guide.subset_genes([2])
    assert subset.rank == 1
    for full, kept in zip(guide.factors, subset.factors, strict=True):
        w, w_kept = np.asarray(full.cov_factor), np.asarray(kept.cov_factor)
        row = 0 if not full.specs[0].shape else 2
        assert w_kept.shape == (1, 1)
        np.testing.assert_allclose(w_kept @ w_kept.T, w[[row]] @ w[[row]].T, rtol=1e-12)
    joint = perturbed(JointLowRank(SPECS, ("mu", "phi"), 6, INIT)).subset_genes([2])
    assert joint.rank == 2 and joint.factors[0].cov_factor.shape == (2, 2)


@pytest.mark.parametrize(
    ("genes", "error", "match"),
    [
        ([], ValueError, "non-empty 1-D integer array"),
        ([[0, 1]], ValueError, "non-empty 1-D integer array"),
        ([0.0, 1.0], ValueError, "dtype float64"),
        ([0, 5], IndexError, r"must lie in \[0, 5\), found \[5\]"),
        ([-1], IndexError, r"found \[-1\]"),
        ([1, 2, 1], ValueError, "must be distinct"),
    ],
)
def test_bad_genes_are_refused(genes, error, match):
    with pytest.raises(error, match=match):
        GUIDES["LowRank"](SPECS, INIT).subset_genes(genes)
