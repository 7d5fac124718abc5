"""Invariants every encoder and decoder keeps, run over ``cases.CASES``."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from scribe.decoders import AbstractDecoder
from scribe.encoders import AbstractEncoder

from .cases import CASE_IDS, CASES, apply, expected_shapes, sample_batch

STATISTICS = ("input_mean", "input_std")  # fixed data statistics, never trained


def _concrete(cls):
    """scribe's concrete subclasses (users' own, e.g. in the VAE tests, are not listed)."""
    for sub in cls.__subclasses__():
        if not sub.__name__.startswith("Abstract") and sub.__module__.startswith("scribe."):
            yield sub
        yield from _concrete(sub)


def test_cases_cover_every_concrete_encoder_and_decoder():
    built = {type(case.build(jax.random.key(0))) for case in CASES}
    assert set(_concrete(AbstractEncoder)) | set(_concrete(AbstractDecoder)) == built


def _projected(module, batch, key):
    """A random projection of every output: a scalar whose gradient reaches every weight
    (a plain sum would not: library-size means sum to the fixed total)."""
    out = apply(module, batch, key)
    total = 0.0
    for i, x in enumerate(out.values()):
        weights = jax.random.normal(jax.random.key(i), x.shape, x.dtype)
        total = total + jnp.sum(weights * x)
    return total, out


@eqx.filter_jit
def _jitted(module, batch, key):
    (_, out), grads = eqx.filter_value_and_grad(_projected, has_aux=True)(module, batch, key)
    return out, grads


@pytest.fixture(scope="module")
def batch():
    """A sparse minibatch sampled inside jit, as a training step samples it."""
    return eqx.filter_jit(sample_batch)(jax.random.key(5))


@pytest.fixture(scope="module", params=CASES, ids=CASE_IDS)
def case(request, batch):
    module = request.param.build(jax.random.key(3))
    key = jax.random.key(7)
    eager = apply(module, batch, key)
    jitted, grads = _jitted(module, batch, key)
    return module, batch, eager, jitted, grads


def test_outputs_have_the_expected_shapes_and_dtype(case):
    module, batch, eager, jitted, *_ = case
    assert batch.counts is None  # sparse only: the encoders scatter the nonzeros
    shapes = expected_shapes(module)
    assert {k: v.shape for k, v in eager.items()} == shapes
    assert {k: v.shape for k, v in jitted.items()} == shapes
    for name, x in eager.items():
        assert x.dtype == jnp.result_type(float), name
        assert np.all(np.isfinite(x)), name


def test_jit_matches_eager(case):
    eager, jitted = case[2:4]
    for name in eager:
        np.testing.assert_allclose(jitted[name], eager[name], rtol=1e-10, atol=1e-12, err_msg=name)


def test_gradients_are_finite_and_reach_every_trained_leaf(case):
    grads = case[4]
    leaves = jax.tree_util.tree_leaves_with_path(eqx.filter(grads, eqx.is_inexact_array))
    assert leaves
    for path, g in leaves:
        name = jax.tree_util.keystr(path)
        assert np.all(np.isfinite(g)), name
        if any(stat in name for stat in STATISTICS):
            assert np.all(g == 0), f"{name} is a fixed statistic but has a gradient"
        else:
            assert np.any(g != 0), f"{name} gets no gradient"
