"""Recovery of identifiable quantities for every NB model × parameterization × constraint.

One simulated data set per model (500 cells × 20 genes, ``p = 0.7``, ``r_g`` in [1, 4],
capture ``ν_c`` in [0.3, 0.9] for the VCP models, gate 0.4 on the first five genes of the
zero-inflated ones), fitted by 1,500 SVI steps at learning rate 0.05 and read at the
guide's medians (``get_map``). What is compared, and why these tolerances:

* ``r_g``, as ``|log(r̂_g / r_g)|``: the median over genes (a shared shift, e.g. from a
  wrong ``p``) and the worst gene. Capture does not touch ``r`` (only ``odds(p) ν`` is
  identified, MATH.md), but zero inflation does: a gene's NB zeros and its gate trade
  off, and the Beta(1, 9) prior gives every gene a small gate, which the NB answers with
  a larger ``r``. That is the posterior, not the fit: NUTS on the zinbvcp data set (one
  chain, 300 warm-up and 300 kept draws, constrained priors) puts the posterior median
  of ``r`` 12% above the truth across genes and 36% above it for the gene with the
  smallest ``r`` (1.2). Without zero inflation NUTS recovers ``r`` (nbvcp: all 20
  truths inside the 90% intervals, posterior medians within 5%). The mean-field fits
  overshoot further (unconstrained zinbvcp: median 0.215, worst 0.445, i.e. +24% and
  +56%). Tolerances: median 0.1 and worst 0.25 without zero inflation, 0.25 and 0.5
  with it.
* Per-cell expected counts ``E[u_cg] = (1 - gate_g) μ_g ν_c``, as the median over cells
  of the relative error of their sum over genes. Without capture it is one population
  quantity, known from 500 cells to < 1%; the tolerance is 0.08 because canonical
  converges slowest (r and p trade along a ridge): after 1,500 steps its constrained
  nbdm and zinb fits are still 5-6% off, the other parameterizations within 3%. With
  capture each ``ν_c`` rests on one cell's ~70 molecules: a cell's observed total is
  off its expectation by a median 12-15% here, and the fit must do within 1.5 times
  what that naive estimate does.
* Compositions ``(1 - gate_g) μ_g / Σ``, against the truth: each gene within four
  standard errors of its own sample mean, plus 3%.
* Gates (zero-inflated models): every truly inflated gene within 0.1 of 0.4 and above
  every other gene's gate, and no other gene above 0.2. The inflated genes have
  ``r_g >= 2.5``, so NB zeros are at most ~10% of an average cell's counts of them: the
  gate is then identified (exact grid posterior with capture and ``p`` known: 90%
  intervals about ±0.04). An earlier version drew ``r`` for them in [1, 4] and one had
  ``r = 1.09``: NB zeros 27%, profile log-likelihood of its gate (``p`` known) within
  2.1 of its maximum (at 0.30) from 0.18 to 0.40, exact posterior median 0.26 and 90%
  interval [0.14, 0.35] under Beta(1, 9). The constrained fits' 0.18 was an answer the
  data allow, short of the posterior median only because of the guide (below).

Two fixes came out of this matrix: the constrained guide's Beta factors keep their
concentrations as logs (behind a softplus, Adam moved them by about the learning rate per
step; after 1,500 steps the Beta on p had a + b ≈ 33, sd 0.07 where the posterior's is
< 0.01, which biased r and μ in six constrained cases), and the unconstrained prior on
positive coordinates is Normal(0, 1) on the log (it was through softplus, whose Gaussian
tail on μ shrank it by 4-6%).
"""

import jax
import numpy as np
import pytest

import scribe

N_CELLS, N_GENES, N_INFLATED = 500, 20, 5
P, GATE = 0.7, 0.4
MODELS = ["nbdm", "zinb", "nbvcp", "zinbvcp"]
PARAMETERIZATIONS = ["canonical", "mean_prob", "mean_odds"]
# (median, worst) |log(r̂ / r)| without and with zero inflation (module docstring).
R_TOLERANCE = {False: (0.1, 0.25), True: (0.25, 0.5)}


@pytest.fixture(autouse=True)
def _release_compiled_programs():
    """Drop each fit's compiled programs once its test is done (peak memory)."""
    yield
    jax.clear_caches()


@pytest.fixture(scope="module")
def simulated():
    """Counts, and the true expected counts and gates, for each model."""
    rng = np.random.default_rng(11)
    r = rng.uniform(1.0, 4.0, N_GENES)
    r[:N_INFLATED] = rng.uniform(2.5, 4.0, N_INFLATED)
    nu = rng.uniform(0.3, 0.9, N_CELLS)
    data = {"r": r}
    for model in MODELS:
        capture = nu if "vcp" in model else np.ones(N_CELLS)
        gate = np.zeros(N_GENES)
        if model.startswith("zi"):
            gate[:N_INFLATED] = GATE
        p_hat = P * capture[:, None] / (1 - P * (1 - capture[:, None]))
        counts = rng.negative_binomial(r[None], 1 - p_hat)
        counts[rng.random(counts.shape) < gate[None]] = 0
        expected = ((1 - gate) * r * P / (1 - P))[None] * capture[:, None]
        data[model] = {"counts": counts, "gate": gate, "expected": expected}
    return data


CASES = [
    pytest.param(
        model,
        parameterization,
        unconstrained,
        id=f"{model}-{parameterization}-{'unconstrained' if unconstrained else 'constrained'}",
    )
    for model in MODELS
    for parameterization in PARAMETERIZATIONS
    for unconstrained in (False, True)
]


def _recovery_errors(fitted, truth, r, zero_inflated, capture):
    """Every tolerance of the module docstring that ``fitted`` (a MAP) misses."""
    errors = []
    log_ratio = np.abs(np.log(np.asarray(fitted["r"]) / r))
    median_tol, worst_tol = R_TOLERANCE[zero_inflated]
    if np.median(log_ratio) > median_tol or log_ratio.max() > worst_tol:
        errors.append(
            f"r: median |log ratio| {np.median(log_ratio):.3f} (<= {median_tol}), "
            f"worst {log_ratio.max():.3f} (<= {worst_tol})"
        )

    gate = np.asarray(fitted.get("gate", np.zeros(N_GENES)))
    mean = np.asarray(fitted["mu"]) * (1 - gate)
    nu = np.asarray(fitted["p_capture"]) if capture else np.ones(N_CELLS)
    total_error = np.abs(nu * mean.sum() / truth["expected"].sum(axis=1) - 1)
    if capture:
        observed = truth["counts"].sum(axis=1) / truth["expected"].sum(axis=1)
        total_tol = 1.5 * np.median(np.abs(observed - 1))
    else:
        total_tol = 0.08
    if np.median(total_error) > total_tol:
        errors.append(
            f"per-cell expected totals: median relative error {np.median(total_error):.3f} "
            f"(<= {total_tol:.3f})"
        )

    counts = truth["counts"]
    standard_error = counts.std(axis=0) / counts.mean(axis=0) / np.sqrt(N_CELLS)
    true_mean = truth["expected"].mean(axis=0)
    composition_error = np.abs((mean / mean.sum()) / (true_mean / true_mean.sum()) - 1)
    if np.any(composition_error > 4 * standard_error + 0.03):
        worst = np.argmax(composition_error - 4 * standard_error)
        errors.append(
            f"composition of gene {worst}: relative error {composition_error[worst]:.3f} "
            f"(<= {4 * standard_error[worst] + 0.03:.3f})"
        )

    if zero_inflated:
        inflated = truth["gate"] > 0
        if not (
            np.all(np.abs(gate[inflated] - GATE) <= 0.1)
            and gate[inflated].min() > gate[~inflated].max()
            and gate[~inflated].max() <= 0.2
        ):
            errors.append(
                f"gates: inflated {np.round(gate[inflated], 3)} (0.4 ± 0.1), "
                f"largest other {gate[~inflated].max():.3f} (<= 0.2)"
            )
    return errors


@pytest.mark.slow
@pytest.mark.parametrize("model, parameterization, unconstrained", CASES)
def test_recovers_identifiable_quantities(simulated, model, parameterization, unconstrained):
    """r_g, per-cell expected counts, compositions and gates within the module's tolerances."""
    results = scribe.fit(
        simulated[model]["counts"],
        model=model,
        parameterization=parameterization,
        unconstrained=unconstrained,
        n_steps=1500,
        learning_rate=0.05,
        progress=False,
    )
    errors = _recovery_errors(
        results.get_map(),
        simulated[model],
        simulated["r"],
        zero_inflated=model.startswith("zi"),
        capture="vcp" in model,
    )
    assert not errors, "\n".join(errors)
