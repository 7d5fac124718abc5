"""Simulation-based calibration (Talts et al. 2018) of scribe's NUTS sampler.

Each replication draws the parameters ``θ`` from the model's priors (globals and, for
nbvcp, every cell's capture), simulates a count matrix from the likelihood at ``θ``, and
runs one NUTS chain (``NutsSampler``, default settings) on it from a fixed start that does
not depend on ``θ`` (``p = 0.5``, ``r = 1``, ``p_capture = 0.5``): ``N_WARMUP = 300``
adapting iterations, then ``N_KEPT * THIN = 792`` iterations thinned to every
``THIN = 8``-th, so ``N_KEPT = 99`` nearly independent draws are kept (the bulk ESS of
the 792 iterations was at least 94 in every replication, median 220-1100 by parameter).
The rank of the true value of each scalar parameter among the kept draws (the number of
them below it) is uniform on ``{0, ..., 99}`` when the sampler draws from the posterior.
The 100 possible ranks fall into ``N_BINS = 10`` bins of 10 ranks each, equally likely
under uniformity, and a chi-square goodness-of-fit test of the bin counts must give
``p > ALPHA = 0.01`` for every scalar parameter.

Two models, ``N_REPLICATIONS = 100`` replications each (200 in all): nbdm with 50 cells
and 3 genes (parameters ``p``, ``r_0``, ``r_1``, ``r_2``), and nbvcp with 30 cells and 2
genes (``p``, ``r_0``, ``r_1`` and the ``p_capture`` of cells 0 and 1). A second test
asks that every draw be finite and that no replication diverge in more than 1% of its
sampling iterations, the prior's corners included (``p`` near 0 gives nearly all-zero
data, ``p`` near 1 counts in the thousands).

The check has power: on the nbdm replications here, dropping the log Jacobian from the
potential gives chi-square p-values of 0.001 or less for all four parameters, and so does
a sampler whose ``r`` prior is LogNormal(0, 0.3) instead of the simulation's (0, 1). It
is blind to milder faults: a LogNormal(0, 0.7) prior, or a 30-iteration warmup (caught
by the divergence test instead), pass the rank test.

The data enter the sampler only through its ``batch`` argument, so one compiled function
runs every replication of a model (module-scoped fixture: each model compiles once). The
replications run in sequence (``jax.lax.map``), not vmapped: a vmapped NUTS while-loop
advances all chains in lockstep at the pace of the longest trajectory and runs every
branch of the tree building; on a 2-core CPU the 100 nbdm replications ran in 72 s
vmapped at once, 48 s in vmapped chunks of 10 and 24 s in sequence (plus 13-18 s of
compilation).

``pytest -s`` prints per model and parameter the chi-square statistic and p-value, a
Kolmogorov-Smirnov p-value of the randomized ranks ``(rank + U(0, 1)) / 100`` against
U(0, 1) as a second opinion, the least and median bulk ESS of the sampling iterations
across replications, and the bin counts; then the fraction of divergent sampling
iterations and the mean number of leapfrog steps per iteration.
"""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.stats

from scribe.data import Batch, PaddedNonzeros
from scribe.inference._diagnostics import ess_bulk
from scribe.inference._mcmc import NutsSampler, NutsSettings, unconstrained_position
from scribe.model import ScribeModel
from scribe.parameterizations import get_parameterization

N_REPLICATIONS = 100
N_WARMUP = 300
THIN = 8
N_KEPT = 99  # ranks 0..99: 100 values, N_BINS bins of equal probability
N_BINS = 10
ALPHA = 0.01
START = {"p": 0.5, "r": 1.0, "p_capture": 0.5}


@dataclasses.dataclass(frozen=True)
class Case:
    """One model of the calibration: its size, seed, and the cells whose capture is ranked."""

    model: str
    n_cells: int
    n_genes: int
    seed: int
    ranked_cells: tuple[int, ...] = ()


CASES = (
    Case("nbdm", n_cells=50, n_genes=3, seed=0),
    Case("nbvcp", n_cells=30, n_genes=2, seed=1, ranked_cells=(0, 1)),
)


@dataclasses.dataclass(frozen=True)
class Calibration:
    """What the replications of one case leave, by scalar parameter name."""

    case: Case
    truth: dict[str, np.ndarray]  # (replications,)
    sampled: dict[str, np.ndarray]  # (replications, N_KEPT * THIN)
    divergent: np.ndarray  # fraction of the sampling iterations, per replication
    steps: np.ndarray  # mean leapfrog steps per sampling iteration, per replication
    finite: np.ndarray  # every sampled value finite, per replication

    def ranks(self, name: str) -> np.ndarray:
        """The number of kept draws (every ``THIN``-th) below the true value, per
        replication."""
        kept = self.sampled[name][:, THIN - 1 :: THIN]
        return np.sum(kept < self.truth[name][:, None], axis=1)


def _batch(counts: jax.Array) -> Batch:
    """Every (cell, gene) entry as a slot, row-major; zeros masked out."""
    n_cells, n_genes = counts.shape
    values = counts.ravel()
    nonzeros = PaddedNonzeros(
        rows=jnp.repeat(jnp.arange(n_cells), n_genes),
        cols=jnp.tile(jnp.arange(n_genes), n_cells),
        values=values,
        mask=values > 0,
    )
    return Batch(
        cell_index=jnp.arange(n_cells),
        total_counts=counts.sum(axis=1),
        n_genes=n_genes,
        nonzeros=nonzeros,
    )


def _scalars(case: Case, globals_: dict, locals_: dict) -> dict[str, jax.Array]:
    """The ranked scalar parameters by name (``r_0``, ``p_capture_1``, ...), each with the
    leading axes of its array (none for the truth, the draws' for the draws)."""
    out = {}
    for name, value in globals_.items():
        if name == "p":
            out[name] = value
        else:
            out |= {f"{name}_{g}": value[..., g] for g in range(case.n_genes)}
    for name, value in locals_.items():
        out |= {f"{name}_{c}": value[..., c] for c in case.ranked_cells}
    return out


def _prior_draw(priors: dict, shapes: dict, key: jax.Array) -> dict[str, jax.Array]:
    """One draw of each prior, expanded to its parameter's shape."""
    keys = jax.random.split(key, len(priors))
    return {
        name: prior.expand(shapes[name]).sample(k)
        for (name, prior), k in zip(priors.items(), keys, strict=True)
    }


def _replication(model: ScribeModel, sampler: NutsSampler, case: Case, key: jax.Array):
    """One SBC replication: prior draw, data, and the chain's sampling iterations."""
    key_globals, key_locals, key_counts, key_chain = jax.random.split(key, 4)
    globals_ = _prior_draw(model.global_priors, model.global_shapes, key_globals)
    cells = {n: (case.n_cells,) for n in model.local_priors}
    locals_ = _prior_draw(model.local_priors, cells, key_locals)
    shape = (case.n_cells, case.n_genes)
    params = model.likelihood_params(globals_, locals_, _batch(jnp.zeros(shape)))
    batch = _batch(model.likelihood.sample(params, shape, key=key_counts))

    start = unconstrained_position(
        model,
        {n: jnp.full(model.global_shapes[n], START[n]) for n in model.global_priors},
        {n: jnp.full((case.n_cells,), START[n]) for n in model.local_priors},
    )
    state = sampler.init(start, batch, key_chain)
    _, records = sampler.advance(state, batch, N_WARMUP + N_KEPT * THIN)
    sampled = jax.tree.map(lambda x: x[N_WARMUP:], records)
    values = jax.tree.leaves((sampled.globals_, sampled.locals_, sampled.log_joint))
    finite = jnp.all(jnp.stack([jnp.all(jnp.isfinite(x)) for x in values]))
    return (
        _scalars(case, globals_, locals_),
        _scalars(case, sampled.globals_, sampled.locals_),
        jnp.mean(sampled.diverging),
        jnp.mean(sampled.num_steps),
        finite,
    )


@pytest.fixture(scope="module", params=CASES, ids=lambda case: case.model)
def calibration(request) -> Calibration:
    """All replications of one case, compiled once and run in sequence."""
    case = request.param
    with jax.enable_x64(True):
        model = ScribeModel(
            case.model,
            get_parameterization("canonical"),
            n_cells=case.n_cells,
            n_genes=case.n_genes,
        )
        sampler = NutsSampler(model, NutsSettings(n_warmup=N_WARMUP))
        keys = jax.random.split(jax.random.key(case.seed), N_REPLICATIONS)
        run = jax.jit(
            lambda keys: jax.lax.map(lambda k: _replication(model, sampler, case, k), keys)
        )
        truth, sampled, divergent, steps, finite = jax.device_get(run(keys))
    return Calibration(
        case=case,
        truth={n: np.asarray(v) for n, v in truth.items()},
        sampled={n: np.asarray(v) for n, v in sampled.items()},
        divergent=np.asarray(divergent),
        steps=np.asarray(steps),
        finite=np.asarray(finite),
    )


def _rank_tests(calibration: Calibration) -> dict[str, tuple]:
    """Per parameter: chi-square statistic and p-value of the binned ranks, the KS p-value of
    the randomized ranks, the bin counts, and the least and median bulk ESS of the
    sampling iterations."""
    uniform = np.random.default_rng(calibration.case.seed)
    out = {}
    for name in calibration.truth:
        ranks = calibration.ranks(name)
        counts = np.bincount(ranks * N_BINS // (N_KEPT + 1), minlength=N_BINS)
        chi2 = scipy.stats.chisquare(counts)
        fractional = (ranks + uniform.uniform(size=ranks.shape)) / (N_KEPT + 1)
        ks = scipy.stats.kstest(fractional, "uniform")
        ess = ess_bulk(calibration.sampled[name].T[None])  # one chain per replication
        stats = (chi2.statistic, chi2.pvalue, ks.pvalue, counts, np.min(ess), np.median(ess))
        out[name] = stats
    return out


def _print_table(calibration: Calibration, tests: dict[str, tuple]) -> None:
    """One line per parameter (``_rank_tests``), then the sampler's statistics."""
    case = calibration.case
    print(
        f"\nSBC {case.model} ({case.n_cells} cells x {case.n_genes} genes): "
        f"{N_REPLICATIONS} replications, {N_WARMUP} warmup + {N_KEPT * THIN} iterations "
        f"thinned by {THIN} to {N_KEPT} draws, ranks in {N_BINS} bins"
    )
    print(f"{'parameter':<12}{'chi2':>7}{'p':>8}{'p(KS)':>8}{'ESS min':>9}{'med':>6}  bins")
    for name, (chi2, p, p_ks, counts, ess_min, ess_median) in tests.items():
        print(
            f"{name:<12}{chi2:>7.2f}{p:>8.3f}{p_ks:>8.3f}{ess_min:>9.0f}{ess_median:>6.0f}  "
            + " ".join(f"{c:2d}" for c in counts)
        )
    print(
        f"divergent iterations per replication: mean {calibration.divergent.mean():.4f}, "
        f"max {calibration.divergent.max():.4f} ({np.sum(calibration.divergent > 0)} of "
        f"{N_REPLICATIONS} with any); leapfrog steps per iteration: mean "
        f"{calibration.steps.mean():.1f}, max {calibration.steps.max():.1f}"
    )


@pytest.mark.slow
def test_ranks_of_the_truth_are_uniform(calibration):
    """Chi-square test of the binned ranks: p > ALPHA for every scalar parameter."""
    tests = _rank_tests(calibration)
    _print_table(calibration, tests)
    failed = {n: round(float(t[1]), 5) for n, t in tests.items() if not t[1] > ALPHA}
    assert not failed, f"rank histograms not uniform (chi-square p-values): {failed}"


@pytest.mark.slow
def test_chains_stay_finite_and_rarely_diverge(calibration):
    """Every replication's draws are finite and at most 1% of its iterations diverge."""
    assert calibration.finite.all(), np.flatnonzero(~calibration.finite)
    worst = np.flatnonzero(calibration.divergent > 0.01)
    assert worst.size == 0, dict(zip(worst, calibration.divergent[worst], strict=True))
