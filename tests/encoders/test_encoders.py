"""Encoders against independent scipy/numpy oracles, over the encoders of the one list
(``tests/networks/cases.py``, whose invariants every encoder also runs through)."""

import jax
import numpy as np
import pytest
import scipy.special
import scipy.stats
from numpyro.distributions.transforms import IdentityTransform

from scribe.data import Batch, load_counts
from scribe.encoders import (
    FreeEncoder,
    MLPEncoder,
    latent_transform,
    scale_from_raw,
)
from scribe.parameterizations import unconstrained_transform

from ..networks.cases import (
    BATCH,
    COUNTS,
    DATA,
    DEVICE,
    ENCODERS,
    N_GENES,
    eager,
    ids,
    minibatch,
    of_kind,
)


def _inverse_and_log_jacobian(name: str, positive_transform: str, x: np.ndarray):
    """The unconstrained coordinate behind a drawn ``x`` and ``log |dx/dy|`` at it."""
    if name == "z":
        return x, np.zeros_like(x)
    if name == "p_capture":
        return scipy.special.logit(x), np.log(x) + np.log1p(-x)
    if positive_transform == "exp":
        return np.log(x), np.log(x)
    y = np.log(np.expm1(x))
    return y, -np.logaddexp(0.0, -y)


@pytest.fixture(params=ENCODERS, ids=ids(ENCODERS))
def drawn(request):
    """An encoder's ``(loc, scale)``, draws, ``log q`` and medians on ``minibatch()``
    (its eager outputs, shared with the invariants)."""
    encoder, out = request.param.module, eager(request.param).outputs
    params = {n: (out[f"loc/{n}"], out[f"scale/{n}"]) for n in encoder.names}
    draw = {n: out[f"draw/{n}"] for n in encoder.names}
    median = {n: out[f"median/{n}"] for n in encoder.names}
    return encoder, *jax.tree.map(np.asarray, (params, draw, out["log_q"], median))


def test_log_q_is_the_normal_density_summed_over_dimensions(drawn):
    encoder, params, draw, log_q, _ = drawn
    expected = np.zeros(BATCH)
    for name in encoder.names:
        y, log_jacobian = _inverse_and_log_jacobian(name, encoder.positive_transform, draw[name])
        log_density = scipy.stats.norm.logpdf(y, *params[name]) - log_jacobian
        expected += log_density.reshape(BATCH, -1).sum(axis=1)
    np.testing.assert_allclose(log_q, expected, rtol=1e-9)


def test_median_is_the_transformed_loc(drawn):
    encoder, params, _, _, median = drawn
    for name in encoder.names:
        y, _ = _inverse_and_log_jacobian(name, encoder.positive_transform, median[name])
        np.testing.assert_allclose(y, params[name][0], rtol=1e-9, atol=1e-9)


def test_z_is_unconstrained_and_other_latents_follow_the_parameterizations():
    assert isinstance(latent_transform("z"), IdentityTransform)
    for name in ("p_capture", "phi_capture"):
        for choice in ("softplus", "exp"):
            ours = latent_transform(name, positive_transform=choice)
            theirs = unconstrained_transform(name, positive_transform=choice)
            assert type(ours) is type(theirs)


def test_scale_convention_is_softplus_plus_floor():
    raw = np.array([-1e4, -3.0, 0.0, 2.5])
    np.testing.assert_allclose(scale_from_raw(raw), np.logaddexp(0.0, raw) + 1e-4, rtol=1e-12)
    free = FreeEncoder(("p_capture",), 4, init_scale=0.3)
    _, scale = free.unconstrained_params(DEVICE.full_batch())["p_capture"]
    np.testing.assert_allclose(scale[:4], 0.3, rtol=1e-12)


MLP_ENCODERS = of_kind("encoder", lambda encoder: isinstance(encoder, MLPEncoder))


@pytest.mark.parametrize("case", MLP_ENCODERS, ids=ids(MLP_ENCODERS))
def test_mlp_encoder_reads_sparse_and_dense_batches_alike(case):
    encoder, sparse = case.module, minibatch()
    dense = Batch(
        cell_index=sparse.cell_index,
        total_counts=sparse.total_counts,
        n_genes=N_GENES,
        counts=COUNTS[np.asarray(sparse.cell_index)].astype(np.float32),
    )
    sparse, dense = encoder.unconstrained_params(sparse), encoder.unconstrained_params(dense)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-12), sparse, dense)


def _features(kind: str, library: bool) -> np.ndarray:
    totals = COUNTS.sum(axis=1, keepdims=True)
    features = {
        "log1p": np.log1p(COUNTS),
        "log1p_proportions": np.log1p(1e4 * COUNTS / totals),
        "none": COUNTS.astype(float),
    }[kind]
    return np.hstack([features, np.log1p(totals)]) if library else features


@pytest.mark.parametrize("kind", ["log1p", "log1p_proportions", "none"])
@pytest.mark.parametrize("library", [False, True])
def test_inputs_are_the_transformed_counts_standardized_over_the_data(kind, library):
    settings = {"input_transform": kind, "include_library": library, "hidden": ()}
    raw = MLPEncoder(N_GENES, 2, key=jax.random.key(0), **settings)
    standardized = MLPEncoder.from_data(DATA, 2, key=jax.random.key(0), **settings)
    full = DEVICE.full_batch()
    expected = _features(kind, library)
    np.testing.assert_allclose(raw.inputs(full), expected, rtol=1e-12)
    z_scores = (expected - expected.mean(axis=0)) / expected.std(axis=0)
    np.testing.assert_allclose(standardized.inputs(full), z_scores, rtol=1e-9, atol=1e-12)


def test_a_constant_input_is_left_unscaled():
    data = load_counts(np.ones((5, 3), int))  # every gene and the library are constant
    encoder = MLPEncoder.from_data(data, 2, key=jax.random.key(0), include_library=True)
    np.testing.assert_array_equal(encoder.input_std, np.ones(4))
    np.testing.assert_allclose(encoder.inputs(data.to_device().full_batch()), 0.0, atol=1e-12)


def _mlp(**kwargs):
    return MLPEncoder(**{"n_genes": N_GENES, "n_latent": 2, "key": jax.random.key(0), **kwargs})


@pytest.mark.parametrize(
    ("build", "error", "match"),
    [
        (lambda: _mlp(n_genes=0), ValueError, "n_genes must be at least 1; found 0"),
        (lambda: _mlp(n_latent=2.0), TypeError, "n_latent must be an int; found float"),
        (lambda: _mlp(hidden=128), TypeError, "hidden must be a sequence"),
        (lambda: _mlp(hidden=(8, -1)), ValueError, r"hidden\[1\] must be at least 1"),
        (lambda: _mlp(activation="sigmoidish"), ValueError, "activation must be one of"),
        (lambda: _mlp(input_transform="log"), ValueError, "input_transform must be one of"),
        (lambda: _mlp(include_library=1), TypeError, "include_library must be a bool"),
        (lambda: _mlp(capture_names="p_capture"), TypeError, "capture_names must be a tuple"),
        (lambda: _mlp(capture_names=("z",)), ValueError, "must not include 'z'"),
        (lambda: _mlp(capture_names=("nu",)), ValueError, "Unknown coordinate 'nu'"),
        (lambda: _mlp(positive_transform="relu"), ValueError, "positive_transform must be"),
        (lambda: _mlp(input_mean=np.zeros(N_GENES)), ValueError, "given together"),
        (
            lambda: _mlp(input_mean=np.zeros(3), input_std=np.ones(3)),
            ValueError,
            r"input_mean must have shape \(6,\)",
        ),
        (
            lambda: _mlp(input_mean=np.zeros(N_GENES), input_std=np.zeros(N_GENES)),
            ValueError,
            "input_std finite and positive",
        ),
        (
            lambda: FreeEncoder(("z",), 4, init={"z": np.zeros((3, 2))}),
            ValueError,
            r"init\['z'\] must have shape \(4,\) or \(4, dim\); found \(3, 2\)",
        ),
        (
            lambda: MLPEncoder.from_data(COUNTS, 2, key=jax.random.key(0)),
            TypeError,
            "data must be a CountData",
        ),
    ],
)
def test_bad_arguments_are_named(build, error, match):
    with pytest.raises(error, match=match):
        build()


def test_mlp_encoder_rejects_a_batch_with_other_genes():
    other = Batch(
        cell_index=np.arange(2), total_counts=np.ones(2), n_genes=4, counts=np.ones((2, 4))
    )
    with pytest.raises(ValueError, match="reads 6 genes; the batch has 4"):
        _mlp().unconstrained_params(other)
