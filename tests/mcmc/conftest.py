"""Small simulated data sets and MCMC fits shared by the MCMC tests (each compiled and
sampled once per session)."""

import warnings

import numpy as np
import pytest

import scribe

N_CELLS, N_GENES = 40, 4
TRUE_P = 0.3


def simulate_nbvcp(seed: int, n_cells: int = N_CELLS, n_genes: int = N_GENES) -> dict:
    """nbvcp counts with known r, p and capture (numpy's NB counts failures with success
    probability 1 - p̂)."""
    rng = np.random.default_rng(seed)
    r = rng.uniform(1.0, 6.0, n_genes)
    capture = rng.uniform(0.3, 0.9, n_cells)
    p_hat = TRUE_P * capture[:, None] / (1 - TRUE_P * (1 - capture[:, None]))
    counts = rng.negative_binomial(r[None, :], 1 - p_hat)
    counts[:, 0] += counts[:, 0] == 0  # no empty cells
    return {"counts": counts, "r": r, "capture": capture}


@pytest.fixture(scope="package")
def nbvcp_data() -> dict:
    return simulate_nbvcp(0)


@pytest.fixture(scope="package")
def nbvcp_mcmc(nbvcp_data):
    """Two chains of 200 warmup + 200 draws of nbvcp (warnings of short chains muted)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", scribe.McmcWarning)
        return scribe.fit(
            nbvcp_data["counts"],
            model="nbvcp",
            inference_method="mcmc",
            n_warmup=200,
            n_samples=200,
            n_chains=2,
            seed=0,
            progress=False,
        )
