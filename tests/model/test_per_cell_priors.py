"""Priors with parameters per cell (the biology-informed capture prior passed as
``priors=``): read at the cells of each minibatch, saved and loaded, refused when their
shape fits neither one prior for all cells nor one per cell."""

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import numpyro.distributions as dist
import pytest
import scipy.stats

import scribe
from scribe.data import load_counts
from scribe.model import ScribeModel
from scribe.parameterizations import get_parameterization, informed_capture_prior

N_CELLS, N_GENES = 60, 5
SIGMA = 0.05


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    capture = rng.uniform(0.2, 0.8, N_CELLS)
    counts = rng.negative_binomial(5.0, 1.0 / (1.0 + 4.0 * capture[:, None]), (N_CELLS, N_GENES))
    counts[:, 0] += 1
    totals = counts.sum(axis=1).astype(float)
    # Molecules per cell such that the prior's mode L_c / m0 is in (0.2, 0.8).
    m0 = 2.0 * totals.max()
    return {"counts": counts, "totals": totals, "m0": m0}


def _scipy_log_prior(nu, totals, m0, sigma):
    """log density of ν = exp(-η), η ~ TruncatedNormal(log m0 - log L, σ, low=0)."""
    loc = np.log(m0) - np.log(totals)
    eta = -np.log(nu)
    log_eta = scipy.stats.truncnorm.logpdf(eta, (0 - loc) / sigma, np.inf, loc, sigma)
    return log_eta - np.log(nu)  # |dη/dν| = 1/ν


def informed_model(data):
    """An nbvcp model with a per-cell informed capture prior, and that prior."""
    prior = informed_capture_prior(data["totals"], m0=data["m0"], sigma=0.3)
    model = ScribeModel(
        "nbvcp",
        get_parameterization("canonical"),
        n_cells=N_CELLS,
        n_genes=N_GENES,
        priors={"p_capture": prior},
    )
    return model, prior


def test_a_minibatch_reads_the_prior_of_its_own_cells(data):
    model, prior = informed_model(data)
    cells = np.array([41, 3, 17, 58, 9])
    batch = load_counts(data["counts"]).to_device().batch(jnp.asarray(cells))
    nu = np.linspace(0.1, 0.9, cells.size)
    found = model.local_log_prior({"p_capture": jnp.asarray(nu)}, batch)
    expected = _scipy_log_prior(nu, data["totals"][cells], data["m0"], 0.3)
    np.testing.assert_allclose(found, expected, rtol=1e-5)


def test_minibatch_fits_follow_a_per_cell_prior_and_save_it(data, tmp_path):
    """A tight prior (σ = 0.05 on -log ν) puts each cell's capture near its own mode
    L_c / m0: within 20% of it for every cell, though the modes span a factor 4."""
    prior = informed_capture_prior(data["totals"], m0=data["m0"], sigma=SIGMA)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", scribe.DataWarning)
        results = scribe.fit(
            data["counts"],
            model="nbvcp",
            priors={"p_capture": prior},
            batch_size=16,
            n_steps=1500,
            seed=1,
            progress=False,
        )
    mode = data["totals"] / data["m0"]
    capture = np.asarray(results.get_map()["p_capture"])
    assert np.max(np.abs(np.log(capture / mode))) < np.log(1.2)
    results.save(tmp_path / "run")
    loaded = scribe.load(tmp_path / "run")
    x = jnp.linspace(0.05, 0.95, N_CELLS)
    np.testing.assert_allclose(
        loaded.model.local_priors["p_capture"].log_prob(x), prior.log_prob(x), rtol=1e-6
    )
    np.testing.assert_allclose(loaded.get_map()["p_capture"], capture, rtol=1e-6)


def test_a_prior_of_another_shape_is_refused(data):
    with pytest.raises(ValueError, match=r"batch shape \(\) .* or \(n_cells,\) = \(60,\)"):
        scribe.fit(
            data["counts"],
            model="nbvcp",
            priors={"p_capture": dist.Beta(jnp.ones(7), 1.0)},
            n_steps=5,
            progress=False,
        )


def test_the_log_joint_of_a_minibatch_estimates_the_full_one(data):
    """N / B times the per-cell terms of random minibatches averages to the full-data
    log-joint (the prior of each batch's own cells enters), within 4 standard errors."""
    model, prior = informed_model(data)
    device = load_counts(data["counts"]).to_device()
    rng = np.random.default_rng(2)
    globals_ = {"p": jnp.asarray(0.6), "r": jnp.full(N_GENES, 3.0)}
    nu = jnp.asarray(rng.uniform(0.2, 0.8, N_CELLS))
    full = float(model.log_joint(globals_, {"p_capture": nu}, device.full_batch()))

    @jax.jit
    def estimate(cells):
        batch = device.batch(cells, capacity=device.nnz)
        return model.log_joint(globals_, {"p_capture": nu[cells]}, batch)

    cells = np.stack([rng.choice(N_CELLS, 12, replace=False) for _ in range(400)])
    estimates = np.asarray(jax.lax.map(estimate, jnp.asarray(cells)))
    assert abs(estimates.mean() - full) < 4 * estimates.std() / np.sqrt(estimates.size)
