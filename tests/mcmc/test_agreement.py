"""Two independent MCMC runs of a small nbvcp data set agree on every gene's ``r``
(posterior mean and standard deviation, within Monte Carlo error), and are printed next
to the SVI low-rank posterior (``pytest -s`` shows the table; SVI is not required to
agree: it is an approximation)."""

import warnings

import jax
import numpy as np
import pytest

import scribe
from scribe.inference import ess_bulk

from .conftest import simulate_nbvcp

N_CELLS, N_GENES = 60, 5


def _mcmc(counts, seed: int):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", scribe.McmcWarning)
        return scribe.fit(
            counts,
            model="nbvcp",
            inference_method="mcmc",
            n_warmup=400,
            n_samples=600,
            n_chains=2,
            seed=seed,
            progress=False,
        )


@pytest.mark.slow
def test_two_seeds_agree_on_r_within_monte_carlo_error():
    data = simulate_nbvcp(2, n_cells=N_CELLS, n_genes=N_GENES)
    counts = data["counts"]
    runs = [_mcmc(counts, seed) for seed in (0, 1)]
    stats = []
    for run in runs:
        r = np.asarray(run.get_posterior_samples(group_by_chain=True)["r"], np.float64)
        flat = r.reshape(-1, N_GENES)
        ess = ess_bulk(r)
        # Monte Carlo standard errors of the mean and (for a roughly normal posterior)
        # of the standard deviation
        mean, sd = flat.mean(axis=0), flat.std(axis=0, ddof=1)
        stats.append((mean, sd, sd / np.sqrt(ess), sd / np.sqrt(2 * ess), ess))
    svi = scribe.fit(counts, model="nbvcp", guide_rank=2, n_steps=4000, seed=0, progress=False)
    svi_r = np.asarray(svi.get_posterior_samples(2000, key=jax.random.key(0))["r"])

    print(f"\nr of nbvcp on {N_CELLS} simulated cells × {N_GENES} genes: mean ± sd")
    print(f"{'gene':>6} {'true':>7} {'MCMC seed 0':>16} {'MCMC seed 1':>16} {'SVI rank 2':>16}")
    for g in range(N_GENES):
        cells = [f"{s[0][g]:7.3f} ± {s[1][g]:6.3f}" for s in stats]
        svi_cell = f"{svi_r[:, g].mean():7.3f} ± {svi_r[:, g].std():6.3f}"
        print(f"{g:>6} {data['r'][g]:7.3f} {cells[0]:>16} {cells[1]:>16} {svi_cell:>16}")
    print("bulk ESS of r:", [np.round(s[4]).astype(int).tolist() for s in stats])

    (m0, s0, se_m0, se_s0, _), (m1, s1, se_m1, se_s1, _) = stats
    np.testing.assert_array_less(np.abs(m0 - m1), 4 * np.hypot(se_m0, se_m1))
    np.testing.assert_array_less(np.abs(s0 - s1), 4 * np.hypot(se_s0, se_s1))
