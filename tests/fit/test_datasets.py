"""Multi-dataset fits: per-dataset copies under a dataset-level prior, against scipy and
simulated truth; results split by dataset; bad input."""

import anndata
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.special as sps
import scipy.stats as st

import scribe
from scribe.data import load_counts
from scribe.model import ScribeModel
from scribe.parameterizations import get_parameterization

N_CELLS, N_GENES = 800, 60
P_TRUE = {"a": 0.4, "b": 0.7}


def _simulate(seed=0):
    rng = np.random.default_rng(seed)
    r = rng.lognormal(0.5, 0.5, N_GENES)
    batch = np.repeat(["a", "b"], N_CELLS // 2)
    p = np.array([P_TRUE[b] for b in batch])[:, None]
    counts = rng.negative_binomial(r[None, :], 1.0 - p, size=(N_CELLS, N_GENES))
    adata = anndata.AnnData(counts.astype(np.float32))
    adata.obs["batch"] = batch
    return adata, r


@pytest.fixture(scope="module")
def simulated():
    return _simulate()


@pytest.fixture(scope="module")
def fitted(simulated):
    adata, _ = simulated
    return scribe.fit(
        adata,
        model="nbdm",
        dataset_key="batch",
        dataset_params=("p",),
        n_steps=3000,
        progress=False,
    )


def test_per_dataset_p_and_shared_r_are_recovered(fitted, simulated):
    """Each dataset's p within 0.03 of its truth; the shared r within 10% (median)."""
    _, r = simulated
    point = fitted.get_map()
    assert fitted.dataset_names == ("a", "b")
    np.testing.assert_allclose(np.asarray(point["p"]), [0.4, 0.7], atol=0.03)
    assert np.median(np.abs(np.log(np.asarray(point["r"]) / r))) < 0.1


def test_get_dataset_is_that_datasets_cells_and_copies(fitted, simulated):
    adata, _ = simulated
    point = fitted.get_map()
    b = fitted.get_dataset("b")
    assert b.counts.n_cells == int((adata.obs["batch"] == "b").sum())
    assert b.n_datasets is None
    np.testing.assert_allclose(b.get_map()["p"], np.asarray(point["p"])[1], rtol=1e-6)
    np.testing.assert_allclose(b.get_map()["r"], point["r"], rtol=1e-6)
    with pytest.raises(ValueError, match="not one of"):
        fitted.get_dataset("c")


def test_log_likelihood_uses_each_cells_dataset_copy():
    """Per-cell log-likelihood of a 2-dataset nbdm against scipy's NB with the cell's
    dataset's p (scipy's success probability is 1 − p)."""
    rng = np.random.default_rng(3)
    counts = rng.negative_binomial(2.0, 0.5, size=(12, 5))
    datasets = np.array([0, 1] * 6)
    model = ScribeModel(
        "nbdm",
        get_parameterization("canonical"),
        n_cells=12,
        n_genes=5,
        cell_datasets=datasets,
        dataset_params=("p",),
    )
    r, p = rng.uniform(0.5, 3.0, 5), np.array([0.3, 0.6])
    globals_ = {
        "r": jnp.asarray(r),
        "p": jnp.asarray(p),
        "p_dataset_loc": jnp.asarray(0.2),
        "p_dataset_scale": jnp.asarray(0.4),
    }
    batch = load_counts(counts).to_device().full_batch()
    found = model.log_likelihood(globals_, {}, batch)
    expected = st.nbinom.logpmf(counts, r[None, :], 1.0 - p[datasets][:, None]).sum(1)
    np.testing.assert_allclose(found, expected, rtol=1e-5)
    # The dataset-level prior: logit p_d ~ N(loc, scale), with the Jacobian of the logit.
    logit = sps.logit(p)
    prior = (st.norm.logpdf(logit, 0.2, 0.4) - np.log(p * (1.0 - p))).sum() + st.norm.logpdf(0.2)
    scale = st.norm.logpdf(np.log(np.expm1(0.4)), -2.0, 0.5) - np.log1p(-np.exp(-0.4))
    r_prior = st.lognorm.logpdf(r, 1.0).sum()
    np.testing.assert_allclose(model.log_prior(globals_), prior + scale + r_prior, rtol=1e-5)


def test_every_global_is_per_dataset_by_default_and_saves(simulated, tmp_path):
    adata, _ = simulated
    small = adata[:, :10].copy()
    results = scribe.fit(small, model="nbvcp", dataset_key="batch", n_steps=30, progress=False)
    point = results.get_map()
    assert np.shape(point["r"]) == (2, 10) and np.shape(point["p"]) == (2,)
    results.save(tmp_path / "fit")
    back = scribe.load(tmp_path / "fit")
    np.testing.assert_allclose(back.get_map()["r"], point["r"], rtol=1e-6)
    assert back.get_dataset("a").counts.n_cells == N_CELLS // 2
    out = results.to_adata(small.copy())
    assert out.varm["scribe_r"].shape == (10, 2)


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (dict(dataset_key="donor"), ValueError, "not a column"),
        (dict(dataset_key="one"), ValueError, "one level"),
        (dict(dataset_key="gappy"), ValueError, "no dataset for"),
        (dict(dataset_key="batch", dataset_params=("gate",)), ValueError, "valid names"),
        (dict(dataset_params=("p",)), ValueError, "needs dataset_key"),
        (dict(dataset_key="batch", n_components=2), ValueError, "mixture"),
        (dict(dataset_key=3), TypeError, "obs column name"),
    ],
)
def test_bad_dataset_input_is_refused_before_fitting(kwargs, error, message, simulated):
    adata, _ = simulated
    adata = adata.copy()
    adata.obs["one"] = "x"
    adata.obs["gappy"] = np.where(np.arange(N_CELLS) < 5, None, adata.obs["batch"])
    before = adata.obs.copy()
    with pytest.raises(error, match=message):
        scribe.fit(adata, model="nbdm", n_steps=1, progress=False, **kwargs)
    assert adata.obs.equals(before)
