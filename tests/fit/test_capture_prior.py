"""The biology-informed capture prior identifies the capture the plain prior cannot."""

import numpy as np
import pytest
import scipy.stats as st

import scribe

M0, N_CELLS, N_GENES, P = 5_000.0, 400, 80, 0.5


@pytest.fixture(scope="module")
def simulated():
    # m_cg ~ NB(r_g, p) with Σ_g E[m_cg] = M0 molecules per cell, thinned by ν_c.
    rng = np.random.default_rng(0)
    r = M0 * (1 - P) / P * rng.dirichlet(np.full(N_GENES, 2.0))
    nu = rng.uniform(0.02, 0.2, N_CELLS)
    molecules = rng.negative_binomial(r[None], 1 - P, (N_CELLS, N_GENES))
    return rng.binomial(molecules, nu[:, None]), nu


def _log_ratio(results, nu):
    return np.log(np.asarray(results.get_map()["p_capture"]) / nu)


@pytest.mark.parametrize("parameterization", ["canonical", "mean_odds"])
def test_biology_prior_centres_the_capture_on_the_truth(simulated, parameterization):
    counts, nu = simulated
    settings = dict(model="nbvcp", parameterization=parameterization, n_steps=2000, progress=False)
    informed = scribe.fit(counts, capture_prior="biology", mrna_per_cell=M0, **settings)
    plain = scribe.fit(counts, **settings)
    informed_error, plain_error = _log_ratio(informed, nu), _log_ratio(plain, nu)
    print(
        f"{parameterization}: log(ν̂/ν) informed mean {informed_error.mean():+.3f} "
        f"(|·| median {np.median(np.abs(informed_error)):.3f}); plain mean "
        f"{plain_error.mean():+.3f}"
    )
    assert abs(informed_error.mean()) < 0.1
    assert np.median(np.abs(informed_error)) < 0.15
    assert abs(plain_error.mean()) > 0.5
    assert informed.config.model.mrna_per_cell == M0
    assert dict(informed.config.model.priors)  # recorded as the capture's prior


def test_biology_prior_refuses_a_second_capture_prior(simulated):
    from scribe.parameterizations import Beta

    with pytest.raises(ValueError, match="priors= also sets"):
        scribe.fit(
            simulated[0],
            capture_prior="biology",
            mrna_per_cell="human",
            priors={"p_capture": Beta(2.0, 2.0)},
            n_steps=1,
            progress=False,
        )


@pytest.mark.parametrize("parameterization", ["canonical", "mean_odds"])
def test_capture_starts_at_the_exact_prior_median(parameterization):
    """Each cell's starting capture is its prior's median: exp(−median η) with η's
    truncated-normal median from scipy."""
    from scribe.build._initial import capture_start
    from scribe.model import ScribeModel
    from scribe.parameterizations import get_parameterization, informed_capture_prior

    totals = np.array([2e3, 1e4, 5e4, 2e5])
    capture = get_parameterization(parameterization).capture_coordinate
    model = ScribeModel(
        "nbvcp",
        get_parameterization(parameterization),
        n_cells=4,
        n_genes=3,
        priors={capture: informed_capture_prior(totals, coordinate=capture)},
    )
    loc = np.log(2e5) - np.log(totals)
    eta = st.truncnorm.median(-loc / 0.3, np.inf, loc=loc, scale=0.3)
    np.testing.assert_allclose(capture_start(model), np.exp(-eta), rtol=1e-5)


def test_biology_prior_refuses_an_empty_cell():
    counts = np.random.default_rng(0).poisson(2.0, (20, 5))
    counts[3] = 0
    with pytest.raises(
        ValueError, match="total_counts must be > 0 for every cell .*; 1 cells have none"
    ):
        scribe.fit(
            counts,
            model="nbvcp",
            capture_prior="biology",
            mrna_per_cell="human",
            n_steps=1,
            progress=False,
        )
