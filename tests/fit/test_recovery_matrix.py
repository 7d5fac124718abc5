"""Recovery of identifiable quantities for every NB model × parameterization × constraint."""

import numpy as np
import pytest

import scribe

N_CELLS, N_GENES = 500, 20
MODELS = ["nbdm", "zinb", "nbvcp", "zinbvcp"]
PARAMETERIZATIONS = ["canonical", "mean_prob", "mean_odds"]


@pytest.fixture(scope="module")
def simulated():
    rng = np.random.default_rng(11)
    r, p = rng.uniform(1.0, 4.0, N_GENES), 0.7
    gate = np.where(np.arange(N_GENES) < 5, 0.4, 0.0)  # five genes truly zero-inflated
    nu = rng.uniform(0.3, 0.9, N_CELLS)
    data = {}
    for model in MODELS:
        capture = nu if "vcp" in model else np.ones(N_CELLS)
        p_hat = p * capture[:, None] / (1 - p * (1 - capture[:, None]))
        counts = rng.negative_binomial(r[None], 1 - p_hat)
        if model.startswith("zi"):
            counts[rng.random(counts.shape) < gate[None]] = 0
        data[model] = counts
    return {"r": r, "p": p, "gate": gate, "counts": data}


# Open problem (issue 3): with the constrained guide (Beta on the gate, Beta(1, 9) prior)
# these fits leave one truly inflated gene (index 3, gate 0.4) at a gate of ~0.18 after
# 3,000 steps, and with capture that also biases its expected count by 11-12%. Strict, so
# the marks must go when the fits are fixed.
KNOWN_FAILURES = {
    ("zinb", "canonical", False),
    ("zinbvcp", "canonical", False),
    ("zinbvcp", "mean_odds", False),
}
CASES = [
    pytest.param(
        m,
        p,
        u,
        marks=[pytest.mark.xfail(strict=True, reason="constrained ZI gate does not converge")]
        if (m, p, u) in KNOWN_FAILURES
        else [],
        id=f"{m}-{p}-{'unconstrained' if u else 'constrained'}",
    )
    for m in MODELS
    for p in PARAMETERIZATIONS
    for u in (False, True)
]


@pytest.mark.slow
@pytest.mark.parametrize("model, parameterization, unconstrained", CASES)
def test_recovers_compositions_and_gates(simulated, model, parameterization, unconstrained):
    """Compositions of the expected counts, (1 - gate_g) μ_g normalised, within 10% of the
    data's own (sample-mean) composition (every model identifies them, capture or not:
    capture scales a cell's genes together); for zero-inflated models every truly inflated
    gene's gate within 0.15 of the truth and above every other gene's."""
    results = scribe.fit(
        simulated["counts"][model],
        model=model,
        parameterization=parameterization,
        unconstrained=unconstrained,
        n_steps=3000 if model.startswith("zi") else 1500,
        learning_rate=0.05,
        progress=False,
    )
    point = results.get_map()
    mean = np.asarray(point["mu"]) * (1 - np.asarray(point.get("gate", 0.0)))
    observed = simulated["counts"][model].mean(axis=0)
    np.testing.assert_allclose(mean / mean.sum(), observed / observed.sum(), rtol=0.1)
    if model.startswith("zi"):
        gate = np.asarray(point["gate"])
        inflated = simulated["gate"] > 0
        assert gate[inflated].min() > gate[~inflated].max()
        np.testing.assert_allclose(gate[inflated], 0.4, atol=0.15)
