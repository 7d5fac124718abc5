"""``results[genes]``: gene subsets of fitted results, checked against the full results.

The oracle is mostly the full fit: a subset's MAP, marginals, posterior moments,
log-likelihood, denoised counts and AnnData summaries must be the full results' own at
the kept genes (per gene) or unchanged (shared and per-cell). The log-likelihood must
also match scipy's negative binomial, and predictive counts the zero-inflated negative
binomial's moments at the subset's draws.
"""

import dataclasses

import anndata
import jax
import jax.numpy as jnp
import numpy as np
import numpyro.distributions as dist
import pandas as pd
import pytest
import scipy.stats

import scribe
from scribe.encoders import CaptureEncoder

from ..guides.cases import perturbed

# A few genes leave some cells without counts, which load_counts reports.
pytestmark = pytest.mark.filterwarnings("ignore::scribe.DataWarning")

N_CELLS, N_GENES = 60, 8
NAMES = [f"g{i}" for i in range(N_GENES)]
# Out of order on purpose: a subset keeps the order it is given.
IDX = [6, 0, 3]
# 5 standard errors per Monte Carlo comparison: a false alarm has probability ~6e-7.
N_SE = 5.0
KINDS = {
    "mean_field_constrained": dict(model="zinb"),
    "mean_field_unconstrained": dict(
        model="zinbvcp", parameterization="mean_odds", unconstrained=True
    ),
    "low_rank": dict(
        model="nbvcp",
        guide_rank=2,
        priors={"r": dist.LogNormal(np.linspace(0.0, 1.0, N_GENES), 1.0)},
    ),
    "joint_low_rank": dict(
        model="zinbvcp",
        parameterization="mean_odds",
        guide_rank=2,
        svi=scribe.SviConfig(joint_params=["mu", "phi", "gate"]),
    ),
}


@pytest.fixture(scope="module")
def adata():
    rng = np.random.default_rng(0)
    r, p = rng.uniform(0.5, 5.0, N_GENES), 0.6
    nu = rng.uniform(0.4, 0.9, N_CELLS)
    p_hat = p * nu[:, None] / (1 - p * (1 - nu[:, None]))
    counts = rng.negative_binomial(r[None], 1 - p_hat)
    counts[rng.random(counts.shape) < 0.1] = 0
    adata = anndata.AnnData(X=counts.astype(np.float32))
    adata.var_names = NAMES
    return adata


@pytest.fixture(scope="module")
def counts(adata):
    return np.asarray(adata.X)


@pytest.fixture(scope="module")
def fits(adata):
    """The results of each kind, fitted once when first asked for."""
    cache = {}

    def fit(kind: str) -> scribe.ScribeResults:
        if kind not in cache:
            options = dict(n_steps=200, learning_rate=0.05, progress=False, **KINDS[kind])
            cache[kind] = scribe.fit(adata, **options)
        return cache[kind]

    return fit


@pytest.fixture(params=list(KINDS))
def fitted(request, fits):
    return fits(request.param)


@pytest.fixture
def joint(fits):
    return fits("joint_low_rank")


def _expected(full: np.ndarray) -> np.ndarray:
    """The full results' value at the kept genes if it is per gene, else as it is."""
    full = np.asarray(full)
    return full[..., IDX] if full.shape[-1:] == (N_GENES,) else full


def test_map_is_the_full_map_at_the_kept_genes(fitted):
    full, subset = fitted.get_map(), fitted[IDX].get_map()
    assert list(subset) == list(full)
    for name, value in full.items():
        np.testing.assert_allclose(subset[name], _expected(value), rtol=1e-12, err_msg=name)
    assert subset["r"].shape == (len(IDX),)
    if "p_capture" in full:
        assert subset["p_capture"].shape == (N_CELLS,)


def test_marginals_are_the_full_marginals_at_the_kept_genes(fitted):
    full, subset = fitted.get_distributions(), fitted[IDX].get_distributions()
    assert list(subset) == list(full)
    for name, marginal in full.items():
        # At the MAP and at two draws of the full marginal, every coordinate at once.
        points = [fitted.get_map()[name]]
        points += [marginal.sample(jax.random.key(k)) for k in (1, 2)]
        for x in points:
            expected = _expected(marginal.log_prob(x))
            found = subset[name].log_prob(jnp.asarray(_expected(x)))
            np.testing.assert_allclose(found, expected, rtol=1e-10, err_msg=name)
        assert subset[name].batch_shape == np.shape(expected)


def _global_draws(results, key) -> np.ndarray:
    """4000 posterior draws of every global parameter, as columns."""
    return _columns(results.get_posterior_samples(4000, key=key))


def _columns(draws, genes=None) -> np.ndarray:
    """Draws of every global as columns: per-gene ones at ``genes``, shared ones whole."""
    columns = []
    for _, x in sorted(draws.items()):
        x = np.asarray(x)
        if x.shape[1:] == (N_CELLS,):
            continue
        per_gene = genes is not None and x.shape[1:] == (N_GENES,)
        columns.append((x[:, genes] if per_gene else x).reshape(x.shape[0], -1))
    return np.concatenate(columns, axis=1)


def _same_moments(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether means and covariances of two independent samples agree within N_SE errors."""
    n = a.shape[0]
    ca, cb = a - a.mean(0), b - b.mean(0)
    se_mean = np.sqrt(a.var(0) / n + b.var(0) / n)
    pa, pb = ca[:, :, None] * ca[:, None, :], cb[:, :, None] * cb[:, None, :]
    se_cov = np.sqrt(pa.var(0) / n + pb.var(0) / n)
    return bool(
        np.all(np.abs(a.mean(0) - b.mean(0)) < N_SE * se_mean)
        and np.all(np.abs(pa.mean(0) - pb.mean(0)) < N_SE * se_cov)
    )


@pytest.mark.parametrize("kind", ["low_rank", "joint_low_rank"])
def test_posterior_draws_have_the_full_joint_moments(kind, fits):
    # Mean-field guides are products of the marginals compared above; low-rank ones
    # correlate genes, strongly once perturbed away from the fit.
    fitted = fits(kind)
    moved = dataclasses.replace(fitted, guide=perturbed(fitted.guide))
    subset = _global_draws(moved[IDX], jax.random.key(4))
    full = moved.get_posterior_samples(4000, key=jax.random.key(3))
    assert _same_moments(_columns(full, IDX), subset)
    # The check can fail: the kept genes in sorted order have other moments.
    assert not _same_moments(_columns(full, sorted(IDX)), subset)


def _scipy_log_likelihood(counts, draw) -> np.ndarray:
    """Per-gene log-likelihood of one natural-parameter draw, in scipy."""
    p = np.asarray(draw["p"])
    if "p_capture" in draw:
        nu = np.asarray(draw["p_capture"])[:, None]
        p = p * nu / (1 - p * (1 - nu))
    log_nb = scipy.stats.nbinom.logpmf(counts, np.asarray(draw["r"])[None], 1 - p)
    if "gate" not in draw:
        return log_nb.sum(0)
    gate = np.asarray(draw["gate"])[None]
    return np.log(gate * (counts == 0) + (1 - gate) * np.exp(log_nb)).sum(0)


@pytest.mark.parametrize("kind", ["mean_field_constrained", "low_rank", "joint_low_rank"])
def test_log_likelihood_is_the_full_models_at_the_kept_genes(kind, fits, counts):
    fitted = fits(kind)
    subset, key = fitted[IDX], jax.random.key(5)
    found = np.asarray(
        subset.log_likelihood(counts[:, IDX], return_by="gene", n_samples=3, key=key)
    )
    assert found.shape == (3, len(IDX))
    # log_likelihood evaluates the draws get_posterior_samples gives for the same key.
    draws = subset.get_posterior_samples(3, key=key)
    point = fitted.get_map()
    names = [n for n in ("r", "p", "gate", "p_capture") if n in point]
    model = fitted.config.model.model
    for d in range(3):
        draw = {n: np.asarray(draws[n][d]) for n in names}
        # The same draw in the full model: the kept genes' values, the MAP elsewhere.
        full = {n: np.array(point[n]) for n in names}
        for n in names:
            if full[n].shape == (N_GENES,):
                full[n][IDX] = draw[n]
            else:
                full[n] = draw[n]
        expected = scribe.log_likelihood(counts, model, full, return_by="gene")
        np.testing.assert_allclose(found[d], np.asarray(expected)[IDX], rtol=1e-5)
        scipy_value = _scipy_log_likelihood(counts[:, IDX], draw)
        np.testing.assert_allclose(found[d], scipy_value, rtol=1e-5)


def test_subsetting_leaves_the_original_unchanged(fitted):
    before = fitted.get_map()
    subset = fitted[IDX]
    assert fitted.model.n_genes == N_GENES and fitted.counts.n_genes == N_GENES
    assert fitted.gene_names == tuple(NAMES)
    for name, value in fitted.get_map().items():
        np.testing.assert_array_equal(value, before[name])
    assert subset.model.n_genes == subset.counts.n_genes == len(IDX)
    assert subset.gene_names == ("g6", "g0", "g3")
    assert subset.loss_history is fitted.loss_history
    assert subset.config.svi == fitted.config.svi
    assert subset.config.model.model == fitted.config.model.model


def test_predictive_counts_follow_the_subsets_draws(joint):
    subset = joint[IDX]
    key = jax.random.key(6)
    found = np.asarray(subset.get_predictive_samples(3, key=key))
    assert found.shape == (3, N_CELLS, len(IDX))
    # get_predictive_samples draws its parameters with the first half of its key.
    draws = subset.get_posterior_samples(3, key=jax.random.split(key)[0])
    for d in range(3):
        nu = np.asarray(draws["p_capture"][d])[:, None]
        p, r = np.asarray(draws["p"][d]), np.asarray(draws["r"][d])[None]
        gate = np.asarray(draws["gate"][d])[None]
        p_hat = p * nu / (1 - p * (1 - nu))
        mean_nb = r * p_hat / (1 - p_hat)
        mean = (1 - gate) * mean_nb
        var = (1 - gate) * mean_nb / (1 - p_hat) + gate * (1 - gate) * mean_nb**2
        # The mean over cells of each gene, against the zero-inflated NB's moments.
        se = np.sqrt(var.sum(0)) / N_CELLS
        assert np.all(np.abs(found[d].mean(0) - mean.mean(0)) < N_SE * se)


def test_denoised_counts_are_the_full_ones_at_the_kept_genes(joint):
    expected = np.asarray(joint.denoise_counts())[:, IDX]
    np.testing.assert_allclose(joint[IDX].denoise_counts(), expected, rtol=1e-10)


def test_to_adata_writes_the_kept_genes(joint, adata):
    point = joint.get_map()
    kept = adata[:, ["g6", "g0", "g3"]].copy()
    joint[IDX].to_adata(kept)
    np.testing.assert_allclose(kept.var["scribe_mu"], np.asarray(point["mu"])[IDX], rtol=1e-12)
    np.testing.assert_allclose(kept.var["scribe_p"], np.full(3, point["p"]), rtol=1e-12)
    np.testing.assert_allclose(kept.obs["scribe_p_capture"], point["p_capture"], rtol=1e-12)
    with pytest.raises(ValueError, match="must be the 3 fitted genes in order, found 8 genes"):
        joint[IDX].to_adata(adata.copy())


def test_save_and_load_a_subset(fits, adata, tmp_path):
    subset = fits("low_rank")["g5"]
    # One gene is below the rank: the subset is a rank-1 guide, as one built for it is.
    assert subset.guide.rank == subset.config.guide_rank == 1
    assert [f.cov_factor.shape for f in subset.guide.factors] == [(1, 1), (1, 1)]
    subset.save(tmp_path / "run")
    names = list(subset.gene_names)
    loaded = scribe.load(tmp_path / "run", adata=adata[:, names])
    assert loaded.gene_names == subset.gene_names and loaded.model.n_genes == len(names)
    for name, value in subset.get_map().items():
        np.testing.assert_allclose(loaded.get_map()[name], value, rtol=1e-12)
    a = subset.get_posterior_samples(3, key=jax.random.key(8))
    b = loaded.get_posterior_samples(3, key=jax.random.key(8))
    for name in a:
        np.testing.assert_allclose(a[name], b[name], rtol=1e-12)
    # The per-gene prior of r is stored at the kept gene.
    x = jnp.array([2.5])
    expected = scipy.stats.lognorm.logpdf(2.5, s=1.0, scale=np.exp(5 / 7))
    np.testing.assert_allclose(loaded.model.global_priors["r"].log_prob(x), [expected], rtol=1e-10)


def test_per_gene_priors_are_subset(fits):
    results = fits("low_rank")
    subset = results[IDX]
    x = jnp.linspace(0.5, 4.0, N_GENES)
    full = results.model.global_priors["r"].log_prob(x)
    found = subset.model.global_priors["r"].log_prob(x[jnp.asarray(IDX)])
    np.testing.assert_allclose(found, np.asarray(full)[IDX], rtol=1e-12)
    assert subset.model.global_priors["r"].batch_shape == (len(IDX),)
    assert "loc=[0.857" in dict(subset.config.model.priors)["r"]


def test_amortized_capture_subsets_save_the_totals_their_encoder_reads(fits, tmp_path):
    results = fits("low_rank")
    encoder = CaptureEncoder(results.model.local_names, key=jax.random.key(0))
    svi = dataclasses.replace(results.config.svi, amortize_capture=True)
    config = dataclasses.replace(results.config, svi=svi)
    amortized = dataclasses.replace(results, encoder=encoder, config=config)
    subset = amortized[IDX]
    # The encoder reads each cell's total over all fitted genes, which the subset keeps,
    # so each cell's capture is the full results' own.
    np.testing.assert_array_equal(subset.counts.total_counts, results.counts.total_counts)
    full_capture = amortized.get_map()["p_capture"]
    np.testing.assert_allclose(subset.get_map()["p_capture"], full_capture, rtol=1e-12)
    subset.save(tmp_path / "run")
    loaded = scribe.load(tmp_path / "run")
    np.testing.assert_array_equal(loaded.counts.total_counts, results.counts.total_counts)
    np.testing.assert_allclose(loaded.get_map()["p_capture"], full_capture, rtol=1e-12)


@pytest.mark.parametrize(
    ("genes", "expected"),
    [
        (3, ["g3"]),
        (np.int32(-1), ["g7"]),
        (slice(2, 5), ["g2", "g3", "g4"]),
        (slice(None, None, -3), ["g7", "g4", "g1"]),
        (IDX, ["g6", "g0", "g3"]),
        (tuple(IDX), ["g6", "g0", "g3"]),
        (np.array(IDX), ["g6", "g0", "g3"]),
        (jnp.array(IDX), ["g6", "g0", "g3"]),
        ([-2, 0], ["g6", "g0"]),
        (np.arange(N_GENES) % 3 == 0, ["g0", "g3", "g6"]),
        ([i % 3 == 0 for i in range(N_GENES)], ["g0", "g3", "g6"]),
        ("g6", ["g6"]),
        (["g6", "g0", "g3"], ["g6", "g0", "g3"]),
        (np.array(["g6", "g0"]), ["g6", "g0"]),
        (pd.Index(["g6", "g0"]), ["g6", "g0"]),
    ],
)
def test_every_kind_of_index_selects_those_genes(joint, genes, expected):
    subset = joint[genes]
    assert list(subset.gene_names) == expected
    positions = [NAMES.index(g) for g in expected]
    found, full = subset.guide.median()["mu"], joint.guide.median()["mu"]
    np.testing.assert_allclose(found, np.asarray(full)[positions], rtol=1e-12)


@pytest.mark.parametrize(
    ("genes", "error", "match"),
    [
        (8, IndexError, r"must lie in \[-8, 8\) for 8 genes, found \[8\]"),
        ([1, -9], IndexError, r"found \[-9\]"),
        ([True, False], IndexError, "mask must have length n_genes = 8, found 2"),
        (np.zeros((2, 2), int), IndexError, r"must be 1-D, found shape \(2, 2\)"),
        (1.0, TypeError, r"found elements of type \['float'\]"),
        (np.array([0.0, 1.0]), TypeError, r"found elements of type \['float'\]"),
        ([0, "g1"], TypeError, r"\['int', 'str'\]"),
        (True, TypeError, "found the bool True"),
        (None, TypeError, "NoneType"),
        ("Actb", ValueError, r"1 gene name\(s\) not among the 8 fitted genes: \['Actb'\]"),
        (["g1", "x", "y"], ValueError, r"2 gene name\(s\) .*\['x', 'y'\].*'g0', 'g1'"),
        ([], ValueError, "selects no genes"),
        (slice(3, 3), ValueError, "selects no genes"),
        (np.zeros(N_GENES, bool), ValueError, "selects no genes"),
        ([2, 5, 2], ValueError, r"repeats genes \['g2'\]"),
        (["g2", "g2"], ValueError, r"repeats genes \['g2'\]"),
    ],
)
def test_bad_indices_are_refused(joint, genes, error, match):
    with pytest.raises(error, match=match):
        joint[genes]


def test_results_are_not_iterable(joint):
    with pytest.raises(TypeError, match="not iterable"):
        iter(joint)
