"""``ScribeModel.log_joint`` against an independent scipy computation."""

import jax.numpy as jnp
import numpy as np
import pytest
import scipy.stats

from scribe.data import load_counts
from scribe.model import ScribeModel
from scribe.parameterizations import get_parameterization

N_CELLS, N_GENES = 12, 5


@pytest.fixture(scope="module")
def counts() -> np.ndarray:
    rng = np.random.default_rng(0)
    counts = rng.negative_binomial(2.0, 0.4, size=(N_CELLS, N_GENES))
    counts[:, 0] += 1  # no empty cells
    return counts


def _oracle(counts, rows, p, r, gate, nu, parameterization):
    """log prior (scipy, constrained defaults) + N/B Σ_batch log lik (scipy)."""
    if parameterization == "canonical":
        prior = scipy.stats.beta(1, 1).logpdf(p) + scipy.stats.lognorm(1.0).logpdf(r).sum()
    else:  # mean_odds: phi ~ BetaPrime(1, 1), mu ~ LogNormal(0, 1)
        phi, mu = (1 - p) / p, r * p / (1 - p)
        prior = scipy.stats.betaprime(1, 1).logpdf(phi) + scipy.stats.lognorm(1.0).logpdf(mu).sum()
    prior += scipy.stats.beta(1, 9).logpdf(gate).sum()
    p_hat = p * nu[rows, None] / (1 - p * (1 - nu[rows, None]))
    nb = scipy.stats.nbinom.logpmf(counts[rows], r[None], 1 - p_hat)
    zi = np.log((1 - gate) * np.exp(nb) + gate * (counts[rows] == 0))
    local_prior = scipy.stats.beta(1, 1).logpdf(nu[rows])  # 0; phi_capture differs below
    if parameterization == "mean_odds":
        phi_capture = 1 / nu[rows] - 1
        local_prior = scipy.stats.betaprime(1, 1).logpdf(phi_capture)
    return prior + N_CELLS / len(rows) * (zi.sum() + local_prior.sum())


@pytest.mark.parametrize("parameterization", ["canonical", "mean_odds"])
@pytest.mark.parametrize("rows", [np.arange(N_CELLS), np.array([3, 7, 0, 11])])
def test_log_joint_matches_scipy(counts, parameterization, rows):
    rng = np.random.default_rng(1)
    p, r = 0.35, rng.uniform(0.5, 3.0, N_GENES)
    gate, nu = rng.uniform(0.05, 0.3, N_GENES), rng.uniform(0.2, 0.9, N_CELLS)
    model = ScribeModel(
        "zinbvcp", get_parameterization(parameterization), n_cells=N_CELLS, n_genes=N_GENES
    )
    if parameterization == "canonical":
        globals_ = {"p": jnp.asarray(p), "r": jnp.asarray(r), "gate": jnp.asarray(gate)}
        locals_ = {"p_capture": jnp.asarray(nu[rows])}
    else:
        globals_ = {
            "phi": jnp.asarray((1 - p) / p),
            "mu": jnp.asarray(r * p / (1 - p)),
            "gate": jnp.asarray(gate),
        }
        locals_ = {"phi_capture": jnp.asarray(1 / nu[rows] - 1)}
    device = load_counts(counts).to_device(dtype=jnp.float64)
    batch = device.batch(jnp.asarray(rows))
    found = model.log_joint(globals_, locals_, batch)
    expected = _oracle(counts, rows, p, r, gate, nu, parameterization)
    np.testing.assert_allclose(float(found), expected, rtol=1e-10)


def test_priors_for_parameters_the_model_lacks_are_refused():
    import numpyro.distributions as dist

    with pytest.raises(ValueError, match=r"priors names \['gate'\].*valid names"):
        ScribeModel(
            "nbdm",
            get_parameterization("canonical"),
            n_cells=3,
            n_genes=2,
            priors={"gate": dist.Beta(1.0, 1.0)},
        )
