"""``scribe.log_likelihood``: every model through the public function, and its errors."""

import anndata
import jax
import numpy as np
import pytest
import scipy.sparse
import scipy.special
import scipy.stats

import scribe
from tests.likelihoods.cases import poisson_beta_oracle, thinned_nb_oracle

N_CELLS, N_GENES = 6, 4


@pytest.fixture(scope="module")
def counts() -> np.ndarray:
    rng = np.random.default_rng(0)
    counts = rng.negative_binomial(2.0, 0.3, size=(N_CELLS, N_GENES))
    counts[rng.random(counts.shape) < 0.3] = 0
    return counts


@pytest.fixture(scope="module")
def params() -> dict[str, dict]:
    rng = np.random.default_rng(1)
    r = rng.uniform(0.5, 3.0, N_GENES)
    return {
        "nbdm": {"r": r, "p": 0.4},
        "zinbvcp": {
            "r": r,
            "p": 0.4,
            "gate": np.full(N_GENES, 0.2),
            "p_capture": rng.uniform(0.3, 1.0, N_CELLS),
        },
        "twostatevcp": {
            "rate": rng.uniform(5, 20, N_GENES),
            "alpha": rng.uniform(0.2, 2, N_GENES),
            "beta": rng.uniform(0.2, 2, N_GENES),
            "p_capture": rng.uniform(0.3, 1.0, N_CELLS),
        },
        "nbln": {
            "r": r,
            "log_mean": rng.normal(1, 1, (N_CELLS, N_GENES)),
            "p_capture": np.full(N_CELLS, 0.5),
        },
        "pln": {
            "log_rate": rng.normal(1, 1, (N_CELLS, N_GENES)),
            "p_capture": np.full(N_CELLS, 0.5),
        },
        "lnmvcp": {
            "r": 3.0,
            "p": 0.9,
            "alr": rng.normal(0, 1, (N_CELLS, N_GENES - 1)),
            "reference_gene": 2,
            "p_capture": np.full(N_CELLS, 0.5),
        },
    }


def test_zinbvcp_against_direct_thinning_sum(counts, params):
    q = params["zinbvcp"]
    nb = thinned_nb_oracle(counts, q["r"][None], q["p"], q["p_capture"][:, None])
    expected = np.log((1 - q["gate"]) * np.exp(nb) + q["gate"] * (counts == 0)).sum(axis=0)
    found = scribe.log_likelihood(counts, "zinbvcp", q, return_by="gene")
    np.testing.assert_allclose(found, expected, rtol=1e-5)


def test_twostatevcp_against_quadpack(counts, params):
    q = params["twostatevcp"]
    expected = poisson_beta_oracle(
        counts, q["rate"][None] * q["p_capture"][:, None], q["alpha"][None], q["beta"][None]
    ).sum(axis=1)
    np.testing.assert_allclose(
        scribe.log_likelihood(counts, "twostatevcp", q), expected, rtol=1e-5
    )


def test_nbln_and_pln_against_scipy(counts, params):
    q = params["nbln"]
    mean = np.exp(q["log_mean"]) * 0.5
    expected = scipy.stats.nbinom.logpmf(
        counts, q["r"][None], q["r"][None] / (q["r"][None] + mean)
    )
    np.testing.assert_allclose(
        scribe.log_likelihood(counts, "nbln", q), expected.sum(1), rtol=1e-5
    )
    q = params["pln"]
    expected = scipy.stats.poisson.logpmf(counts, np.exp(q["log_rate"]) * 0.5).sum(1)
    np.testing.assert_allclose(scribe.log_likelihood(counts, "pln", q), expected, rtol=1e-5)


def test_lnmvcp_against_scipy(counts, params):
    q = params["lnmvcp"]
    full = np.insert(q["alr"], q["reference_gene"], 0.0, axis=1)
    rho = scipy.special.softmax(full, axis=1)
    total = counts.sum(1)
    p_hat = q["p"] * 0.5 / (1 - q["p"] * 0.5)
    expected = scipy.stats.nbinom.logpmf(total, q["r"], 1 - p_hat) + np.array(
        [scipy.stats.multinomial.logpmf(counts[i], total[i], rho[i]) for i in range(N_CELLS)]
    )
    np.testing.assert_allclose(scribe.log_likelihood(counts, "lnmvcp", q), expected, rtol=1e-5)


def test_every_input_kind_gives_the_same_values(counts, params):
    q = params["zinbvcp"]
    expected = scribe.log_likelihood(counts, "zinbvcp", q)
    adata = anndata.AnnData(
        X=np.zeros_like(counts), layers={"raw": scipy.sparse.csr_matrix(counts)}
    )
    for data, layer in [
        (scipy.sparse.csr_matrix(counts), None),
        (scipy.sparse.csc_array(counts), None),
        (anndata.AnnData(X=scipy.sparse.csr_matrix(counts)), None),
        (adata, "raw"),
    ]:
        np.testing.assert_allclose(
            scribe.log_likelihood(data, "zinbvcp", q, layer=layer), expected, rtol=1e-6
        )
    # A traced array takes the dense path; it must agree with the sparse one.
    traced = jax.jit(lambda u: scribe.log_likelihood(u, "zinbvcp", q))(
        jax.numpy.asarray(counts, float)
    )
    np.testing.assert_allclose(traced, expected, rtol=1e-6)


@pytest.mark.parametrize(
    "model, change, error, match",
    [
        ("nbxx", {}, ValueError, r"model must be one of .*nbdm.*found 'nbxx'"),
        ("nbdm", {"gate": 0.1}, ValueError, r"unknown \['gate'\]"),
        ("nbdm", {"r": None}, ValueError, r"missing \['r'\]"),
        (
            "nbdm",
            {"r": np.ones(N_GENES + 1)},
            ValueError,
            r"params\['r'\] must have one of the shapes.*found \(5,\)",
        ),
        (
            "nbdm",
            {"p": 1.5},
            ValueError,
            r"params\['p'\] must lie in \(0.0, 1.0\); found values in \[1.5",
        ),
        ("nbdm", {"r": -np.ones(N_GENES)}, ValueError, r"params\['r'\] must lie in"),
        ("nbdm", {"p": np.nan}, ValueError, r"1 non-finite"),
        (
            "nbdm",
            {"mixing_weights": np.array([0.5, 0.6])},
            ValueError,
            r"summing to 1, found .* 1.1",
        ),
        (
            "zinbvcp",
            {"p_capture": np.ones(N_CELLS + 2)},
            ValueError,
            r"p_capture'\] must have shape \(cells,\) = \(6,\), found \(8,\)",
        ),
        (
            "lnmvcp",
            {"alr": np.zeros((N_CELLS, N_GENES))},
            ValueError,
            r"alr'\] must have shape \(cells, genes - 1\)",
        ),
    ],
)
def test_bad_parameters(counts, params, model, change, error, match):
    base = dict(params.get(model, params["nbdm"]))
    for key, value in change.items():
        if value is None:
            base.pop(key)
        else:
            base[key] = value
    with pytest.raises(error, match=match):
        scribe.log_likelihood(counts, model, base)


def test_bad_options(counts, params):
    with pytest.raises(
        ValueError, match=r"return_by must be one of \('cell', 'gene'\), found 'cells'"
    ):
        scribe.log_likelihood(counts, "nbdm", params["nbdm"], return_by="cells")
    with pytest.raises(ValueError, match="split_components=True needs a mixture"):
        scribe.log_likelihood(counts, "nbdm", params["nbdm"], split_components=True)
    with pytest.raises(ValueError, match="return_by='gene' is undefined for 'lnmvcp'"):
        scribe.log_likelihood(counts, "lnmvcp", params["lnmvcp"], return_by="gene")
    with pytest.raises(TypeError, match="params must be a mapping"):
        scribe.log_likelihood(counts, "nbdm", [1, 2])
    with pytest.raises(ValueError, match="negative"):
        scribe.log_likelihood(-counts - 1, "nbdm", params["nbdm"])
