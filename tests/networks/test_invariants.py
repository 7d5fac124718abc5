"""Invariants every case of ``cases.CASES`` keeps, then the invariants of each kind.

Each case is called eagerly once (``cases.eager``) and compiled once (``traced``:
``jax.vmap`` over a pair of inputs, the eager call's and others, under ``jax.jit`` over
the module's arrays, with the gradients of a projection of the outputs; run on the pair
and on the pair swapped). The shared checks and the checks of each kind read those. The
priors' statistical checks share one compiled ``log_prob`` and one ``sample`` per prior,
at ``N_DRAWS`` points.
"""

import functools
import inspect
from typing import Any, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.stats

import scribe.decoders
import scribe.encoders
import scribe.latent_priors
from scribe.decoders import AbstractDecoder, LinearALRDecoder
from scribe.encoders import AbstractEncoder, PointEncoder
from scribe.latent_priors import AbstractLatentPrior, StandardNormalPrior

from .cases import (
    BATCH,
    CASES,
    DECODERS,
    ENCODERS,
    FAST_COMPILE,
    FLOWS,
    KEY,
    KINDS,
    N_DRAWS,
    N_KL,
    PRIORS,
    apply,
    eager,
    expected_shapes,
    ids,
    lnm_log_composition,
    log_prob,
    minibatch,
    of_kind,
    perturbed,
    sample,
)

STATISTICS = ("input_mean", "input_std", "centre")  # fixed data statistics, never trained
PARAMETER_FREE = (StandardNormalPrior,)  # modules with no trainable array
SCALE_FLOOR = 1e-4  # every encoder's smallest scale (scribe.encoders.scale_from_raw)


# --------------------------------------------------------------------------- the list


def _scribe_concrete(cls):
    """scribe's concrete subclasses (users' own, e.g. in the VAE tests, are not listed)."""
    for sub in cls.__subclasses__():
        if not sub.__name__.startswith("Abstract") and sub.__module__.startswith("scribe."):
            yield sub
        yield from _scribe_concrete(sub)


def _exported_concrete():
    """The concrete classes the namespaces export (the MLP building block included)."""
    for namespace in (scribe.encoders, scribe.decoders, scribe.latent_priors):
        for value in vars(namespace).values():
            if (
                isinstance(value, type)
                and value.__module__.startswith("scribe.")
                and not value.__name__.startswith("Abstract")
                and not inspect.isabstract(value)
            ):
                yield value


def test_cases_cover_every_concrete_class():
    expected = set(_exported_concrete())
    for base in (AbstractEncoder, AbstractDecoder, AbstractLatentPrior):
        expected |= set(_scribe_concrete(base))
    assert {cls.__name__ for cls in expected} >= {"MLP", "FlowPrior", "LinearALRDecoder"}
    assert {type(case.module) for case in CASES} == expected


def test_every_case_builds_its_kind():
    for case in CASES:
        assert isinstance(case.module, KINDS[case.kind]), case.name


# ------------------------------------------------------------------ the shared invariants


class Traced(NamedTuple):
    """``jax.vmap`` of ``apply`` over a pair of inputs and keys, under ``jax.jit`` over the
    module's arrays: the eager call's inputs first and other inputs second, then the same
    pair swapped; and the gradients of a random projection of the first pair's outputs."""

    outputs: dict[str, jax.Array]  # each with a leading axis of 2: (eager's, other)
    swapped: dict[str, jax.Array]  # (other, eager's)
    grads: tuple[Any, dict[str, jax.Array]]  # (of the module, of both real inputs)


def _projection(out: dict[str, jax.Array]) -> jax.Array:
    """A random projection of every output: a scalar whose gradient reaches every weight
    (a plain sum would not: library-size means sum to the fixed total)."""
    total = jnp.zeros(())
    for i, x in enumerate(out.values()):
        weights = jax.random.normal(jax.random.key(i), x.shape, x.dtype)
        total = total + jnp.sum(weights * x)
    return total


def _vmapped(differentiable, keys, batch):
    module, real = differentiable
    out = jax.vmap(lambda r, k: apply(module, batch, r, k))(real, keys)
    return _projection(out), out


@functools.cache
def traced(case) -> Traced:
    """One compile per case, with the module's arrays as arguments (as a training step's
    scan carries them) and its functions and sizes closed over."""
    module, real = eager(case).module, eager(case).real
    arrays, static = eqx.partition(module, eqx.is_array)

    @functools.partial(jax.jit, compiler_options=FAST_COMPILE)
    def run(arrays, real, keys, batch):
        grad = eqx.filter_value_and_grad(_vmapped, has_aux=True)
        (_, out), grads = grad((eqx.combine(arrays, static), real), keys, batch)
        return out, grads

    other = jax.tree.map(lambda x: 0.8 * x, real)
    pair = jax.tree.map(lambda a, b: jnp.stack([a, b]), real, other)
    swapped = jax.tree.map(lambda a, b: jnp.stack([a, b]), other, real)
    keys = jnp.stack([KEY, jax.random.key(8)])
    outputs, grads = run(arrays, pair, keys, minibatch())
    return Traced(outputs, run(arrays, swapped, keys[::-1], minibatch())[0], grads)


def _assert_close(found, expected, err_msg=""):
    np.testing.assert_allclose(found, expected, rtol=1e-10, atol=1e-12, err_msg=err_msg)


@pytest.mark.parametrize("case", CASES, ids=ids(CASES))
def test_outputs_have_the_expected_shapes_and_dtype(case):
    assert minibatch().counts is None  # sparse only: the encoders scatter the nonzeros
    shapes = expected_shapes(case.module)
    stacked = {k: (2, *shape) for k, shape in shapes.items()}
    for outputs, expected in [(eager(case).outputs, shapes), (traced(case).outputs, stacked)]:
        assert {k: v.shape for k, v in outputs.items()} == expected
        for name, x in outputs.items():
            assert x.dtype == jnp.result_type(float), name
            assert np.all(np.isfinite(x)), name


@pytest.mark.parametrize("case", CASES, ids=ids(CASES))
def test_jit_and_vmap_match_the_eager_call_in_either_place(case):
    """Compiled and vmapped, the eager call's inputs give its outputs whether they come
    first or second, and the other inputs give the same outputs in either place."""
    outputs, swapped = traced(case).outputs, traced(case).swapped
    # two distinct calls; a table of points reads the batch alone, whatever the key
    distinct = any(not np.allclose(x[0], x[1]) for x in outputs.values())
    assert distinct != isinstance(case.module, PointEncoder)
    for name, x in eager(case).outputs.items():
        _assert_close(outputs[name][0], x, err_msg=name)
        _assert_close(swapped[name][1], x, err_msg=name)
        _assert_close(swapped[name][0], outputs[name][1], err_msg=name)


@pytest.mark.parametrize("case", CASES, ids=ids(CASES))
def test_gradients_are_finite_and_reach_every_trained_leaf_and_input(case):
    of_module, of_inputs = traced(case).grads
    leaves = jax.tree_util.tree_leaves_with_path(eqx.filter(of_module, eqx.is_inexact_array))
    assert bool(leaves) != isinstance(case.module, PARAMETER_FREE)
    for path, g in leaves:
        name = jax.tree_util.keystr(path)
        assert np.all(np.isfinite(g)), name
        if any(stat in name for stat in STATISTICS):
            assert np.all(g == 0), f"{name} is a fixed statistic but has a gradient"
        else:
            assert np.any(g != 0), f"{name} gets no gradient"
    assert set(of_inputs) == set(eager(case).real)
    for name, g in of_inputs.items():
        assert np.all(np.isfinite(g)) and np.any(g != 0), name


# ----------------------------------------------------------------------------- encoders


@pytest.mark.parametrize("case", ENCODERS, ids=ids(ENCODERS))
def test_encoder_scales_respect_the_floor_and_latents_their_domain(case):
    for outputs in (eager(case).outputs, traced(case).outputs):
        for name, x in outputs.items():
            part, _, latent = name.partition("/")
            if part == "scale":
                assert np.all(x >= SCALE_FLOOR), name
            elif part in ("draw", "median") and latent == "p_capture":
                assert np.all((x > 0) & (x < 1)), name
            elif part in ("draw", "median") and latent == "phi_capture":
                assert np.all(x > 0), name


# ----------------------------------------------------------------------------- decoders


@pytest.mark.parametrize("case", DECODERS, ids=ids(DECODERS))
def test_decoder_outputs_lie_in_their_domain(case):
    for outputs in (eager(case).outputs, traced(case).outputs):
        for name in set(outputs) & {"r", "mu"}:
            assert np.all(outputs[name] > 0), name
        if "log_mu" in outputs:
            assert np.all(np.isfinite(outputs["log_mu"]))
        if "gate" in outputs:
            assert np.all((outputs["gate"] > 0) & (outputs["gate"] < 1))


def _has_composition(decoder) -> bool:
    return isinstance(decoder, LinearALRDecoder) or decoder.library_size


COMPOSITIONS = of_kind("decoder", _has_composition)


@pytest.mark.parametrize("case", COMPOSITIONS, ids=ids(COMPOSITIONS))
def test_decoder_compositions_sum_to_one(case):
    """A library-size mean is the composition times the cell's total; ALR coordinates
    are the composition the LNM reads. Either way each cell's composition sums to 1."""
    decoder, out = case.module, eager(case).outputs
    if isinstance(decoder, LinearALRDecoder):
        composition = np.exp(lnm_log_composition(decoder.reference_gene, out["alr"]))
    else:
        mean = out["mu"] if "mu" in out else np.exp(out["log_mu"])
        composition = mean / np.asarray(minibatch().total_counts)[:, None]
    assert np.all(composition > 0)
    np.testing.assert_allclose(composition.sum(axis=1), 1.0, rtol=1e-12)


# ------------------------------------------------------------------------------- priors


@functools.cache
def _perturbed(case):
    """The case's prior with perturbed parameters (the Normal has none): far from
    N(0, I), so the checks below mean something. Same structure as ``case.module``:
    ``log_prob`` and ``sample`` compile once for both."""
    prior = case.module
    return prior if isinstance(prior, PARAMETER_FREE) else perturbed(prior)


def _wide_proposal(latent_dim, *, seed):
    """``N_DRAWS`` draws from ``N(0, 2**2 I)`` and their log-density."""
    x = 2.0 * np.random.default_rng(seed).normal(size=(N_DRAWS, latent_dim))
    return jnp.asarray(x), scipy.stats.norm.logpdf(x, scale=2.0).sum(-1)


@pytest.mark.parametrize("sample_shape", [(), (2, 3)])  # (BATCH,): in every evaluation
@pytest.mark.parametrize("case", PRIORS, ids=ids(PRIORS))
def test_prior_shapes(case, sample_shape):
    prior = case.module
    draws = eqx.filter_eval_shape(prior.sample, jax.random.key(0), sample_shape)
    assert draws.shape == (*sample_shape, prior.latent_dim)
    assert eqx.filter_eval_shape(prior.log_prob, draws).shape == sample_shape


@pytest.mark.parametrize("case", PRIORS, ids=ids(PRIORS))
def test_perturbation_leaves_the_normal(case):
    """The perturbed flows (used below) are far from N(0, I), so the checks mean something."""
    prior = _perturbed(case)
    z, _ = _wide_proposal(prior.latent_dim, seed=0)
    normal = scipy.stats.norm.logpdf(np.asarray(z)).sum(-1)
    gap = np.abs(np.asarray(log_prob(prior, z)) - normal)[np.abs(z).max(-1) < 2.0]
    assert np.all(np.isfinite(gap))
    assert gap.max() > 1.0 if case in FLOWS else gap.max() < 1e-10


@pytest.mark.parametrize("case", FLOWS, ids=ids(FLOWS))
def test_kl_at_initialisation_is_the_normals(case):
    """A flow starts near N(0, I): its Monte Carlo KL is the Normal's closed form.

    With the same draws the Normal's own Monte Carlo estimate differs from the flow's
    only by ``log N(z) - log p(z)``, so the comparison is nearly free of sampling noise.
    """
    loc, scale, kl = eager(case).real["loc"], eager(case).real["scale"], eager(case).outputs["kl"]
    _, key = jax.random.split(KEY)  # the draws of ``apply``'s KL
    normal = StandardNormalPrior(case.module.latent_dim)
    same_draws = normal.monte_carlo_kl_divergence(loc, scale, key=key, n_samples=N_KL)
    closed = normal.kl_divergence(loc, scale, key=key)
    np.testing.assert_allclose(kl, same_draws, rtol=0.02, atol=0.01)
    np.testing.assert_allclose(kl, closed, rtol=0.15)


@pytest.mark.parametrize("case", PRIORS, ids=ids(PRIORS))
def test_kl_is_the_mean_log_ratio_of_posterior_draws(case):
    """``KL(q || p) = E_q[log q - log p]``, estimated from independent draws of ``q`` and
    the prior's ``log_prob``, within 5 standard errors of both estimates."""
    loc, scale = (np.asarray(eager(case).real[k]) for k in ("loc", "scale"))
    n = N_DRAWS // BATCH
    rng = np.random.default_rng(11)
    z = loc + scale * rng.normal(size=(n, *loc.shape))
    log_q = scipy.stats.norm.logpdf(z, loc, scale).sum(-1)
    log_p = np.asarray(log_prob(case.module, jnp.asarray(z.reshape(N_DRAWS, -1))))
    ratio = log_q - log_p.reshape(n, BATCH)
    tolerance = 5 * ratio.std(0) * np.sqrt(1 / n + 1 / N_KL)
    np.testing.assert_array_less(np.abs(ratio.mean(0) - eager(case).outputs["kl"]), tolerance)


@pytest.mark.parametrize("case", PRIORS, ids=ids(PRIORS))
def test_density_normalises(case):
    """``E_q[p / q] = 1`` under a wide Gaussian proposal ``q``, within 5 standard errors."""
    prior = _perturbed(case)
    x, log_q = _wide_proposal(prior.latent_dim, seed=1)
    ratio = np.exp(np.asarray(log_prob(prior, x)) - log_q)
    standard_error = ratio.std() / np.sqrt(N_DRAWS)
    assert standard_error < 0.03
    assert abs(ratio.mean() - 1.0) < 5 * standard_error


@pytest.mark.parametrize("case", PRIORS, ids=ids(PRIORS))
def test_samples_agree_with_log_prob(case):
    """Sample averages equal the averages ``log_prob`` implies (importance-weighted).

    Bounded test functions (``tanh z``, ``exp(-z**2 / 2)``) keep both estimates'
    variances finite whatever the flow's tails.
    """
    prior = _perturbed(case)
    samples = sample(prior, jax.random.key(5), (N_DRAWS,))
    assert samples.shape == (N_DRAWS, prior.latent_dim)
    assert np.all(np.isfinite(log_prob(prior, samples)))
    samples = np.asarray(samples)
    x, log_q = _wide_proposal(prior.latent_dim, seed=2)
    log_w = np.asarray(log_prob(prior, x)) - log_q
    w = np.exp(log_w - log_w.max())
    w = w / w.sum()
    x = np.asarray(x)
    for f in (np.tanh, lambda v: np.exp(-0.5 * v**2)):
        from_samples = f(samples).mean(0)
        se_samples = f(samples).std(0) / np.sqrt(N_DRAWS)
        from_density = (w[:, None] * f(x)).sum(0)
        # the self-normalised estimate's delta-method standard error
        se_density = np.sqrt((w[:, None] ** 2 * (f(x) - from_density) ** 2).sum(0))
        tolerance = 5 * np.sqrt(se_samples**2 + se_density**2)
        np.testing.assert_array_less(np.abs(from_samples - from_density), tolerance)


PRIORS_2D = of_kind("prior", lambda prior: prior.latent_dim == 2)
HALF_WIDTH, CELLS = 8.0, 480  # the grid: [-8, 8]^2 in cells of width 1/30


@pytest.fixture(scope="module", params=PRIORS_2D, ids=ids(PRIORS_2D))
def on_grid(request):
    """A perturbed 2-D prior and its probability mass in each cell of a fine grid."""
    prior = _perturbed(request.param)
    step = 2 * HALF_WIDTH / CELLS
    mid = -HALF_WIDTH + step * (np.arange(CELLS) + 0.5)
    grid = np.stack(np.meshgrid(mid, mid, indexing="ij"), axis=-1)
    return prior, np.exp(_log_prob_by_draws(prior, grid)) * step**2


def _log_prob_by_draws(prior, z: np.ndarray) -> np.ndarray:
    """``log_prob`` of any number of points, ``N_DRAWS`` at a time (the shape that the
    other checks compiled already)."""
    flat = z.reshape(-1, prior.latent_dim)
    padded = np.concatenate([flat, np.zeros((-len(flat) % N_DRAWS, prior.latent_dim))])
    chunks = np.split(padded, len(padded) // N_DRAWS)
    values = np.concatenate([np.asarray(log_prob(prior, jnp.asarray(c))) for c in chunks])
    return values[: len(flat)].reshape(z.shape[:-1])


def test_density_integrates_to_one_on_a_grid(on_grid):
    _, mass = on_grid
    np.testing.assert_allclose(mass.sum(), 1.0, atol=2e-3)


def test_sample_histogram_matches_density(on_grid):
    """Pearson's chi-square of 40,000 draws in 10 x 10 bins against the grid's mass."""
    prior, mass = on_grid
    n = N_DRAWS
    samples = np.asarray(sample(prior, jax.random.key(3), (n,)))
    inner = np.arange(-2.4, 2.41, 0.6)
    edges = np.concatenate([[-HALF_WIDTH], inner, [HALF_WIDTH]])
    observed, _, _ = np.histogram2d(samples[:, 0], samples[:, 1], bins=[edges, edges])
    # grid cells of width 1/30 tile every bin exactly: 0.6 = 18 cells
    cells_per_edge = np.round((edges + HALF_WIDTH) / (2 * HALF_WIDTH / CELLS)).astype(int)
    expected = n * np.add.reduceat(
        np.add.reduceat(mass, cells_per_edge[:-1], 0), cells_per_edge[:-1], 1
    )
    keep = expected >= 5
    statistic = ((observed - expected)[keep] ** 2 / expected[keep]).sum()
    assert keep.sum() > 50
    assert statistic < scipy.stats.chi2.ppf(0.999, keep.sum() - 1)
