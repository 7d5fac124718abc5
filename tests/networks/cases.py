"""Every encoder, decoder, latent prior and MLP configuration, in one list.

Add a configuration to ``CASES`` and every shared invariant in ``test_invariants.py``
(shapes, dtypes, jit against eager, vmap, gradients) runs on it, with the invariants of
its kind; the family tests in ``tests/encoders``, ``tests/decoders`` and
``tests/latent_priors`` draw their cases, and each case's eager outputs, from here. A
case's module is built once per session, when this file is imported.
"""

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import PRNGKeyArray

from scribe.data import Batch, load_counts
from scribe.decoders import AbstractDecoder, LinearALRDecoder, MLPDecoder
from scribe.encoders import (
    MLP,
    AbstractEncoder,
    CaptureEncoder,
    FreeEncoder,
    MLPEncoder,
    PointEncoder,
)
from scribe.latent_priors import AbstractLatentPrior, FlowPrior, make_latent_prior
from scribe.likelihoods import LNMParams, LogisticNormalMultinomial, NBParams

N_CELLS, N_GENES, N_LATENT, BATCH = 16, 6, 3, 5
SMALL_FLOW = dict(n_layers=2, width=16)
N_DRAWS = 40_000  # one shape for every large prior evaluation, so each compiles once
N_KL = 1000  # Monte Carlo draws per cell of a flow's KL in the shared evaluation

# The tests compile many small programs and run each a few times: LLVM at -O0 halves
# XLA's CPU compile time (a flow's gradient program: 7 s -> 3.7 s) and changes no result
# beyond rounding.
FAST_COMPILE = {"xla_backend_optimization_level": 0}

# what each kind of case builds
KINDS = {
    "encoder": AbstractEncoder,
    "point": PointEncoder,  # MCMC's table of points: an encoder without a density
    "decoder": AbstractDecoder,
    "prior": AbstractLatentPrior,
    "mlp": MLP,
}


def _matrix() -> np.ndarray:
    rng = np.random.default_rng(0)
    counts = rng.negative_binomial(2, 0.3, (N_CELLS, N_GENES)) * (rng.random((N_CELLS, 1)) < 0.9)
    counts[:, 0] += 1  # every cell has counts, most have zeros
    counts[0] = [0, 0, 0, 7, 0, 0]
    return counts


COUNTS = _matrix()
DATA = load_counts(COUNTS)
DEVICE = DATA.to_device()
CAPACITY = DEVICE.batch_capacity(BATCH)


def sample_batch(key) -> Batch:
    """A sparse minibatch of ``BATCH`` cells (what a training step draws inside jit)."""
    return DEVICE.sample_batch(BATCH, key=key, capacity=CAPACITY)


@dataclass(frozen=True)
class Case:
    """One configuration: its test id, its kind (a key of ``KINDS``) and how to build it.

    ``seed`` is the key ``module`` is built with (the priors keep the keys their
    statistical checks were tuned on).
    """

    name: str
    kind: str
    build: Callable[[PRNGKeyArray], eqx.Module]
    seed: int = 3

    @property
    def module(self):
        """The module, built once per session: rebuilding a flow makes new function leaves,
        and ``eqx.filter_jit`` would compile again."""
        return _built(self)


@functools.cache
def _built(case: Case):
    return case.build(jax.random.key(case.seed))


def _prior(name: str, latent_dim: int, **options) -> Case:
    extra = "-".join(f"{k}={v}" for k, v in options.items() if k not in SMALL_FLOW)
    return Case(
        f"{name}-{latent_dim}d" + (f"-{extra}" if extra else ""),
        "prior",
        lambda k: make_latent_prior(name, latent_dim, key=k, **options),
        seed=latent_dim,
    )


CASES = [
    Case("FreeEncoder", "encoder", lambda k: FreeEncoder(("p_capture",), N_CELLS, init_scale=0.3)),
    Case(
        "FreeEncoder-z-phi",
        "encoder",
        lambda k: FreeEncoder(
            ("z", "phi_capture"),
            N_CELLS,
            init={"z": jax.random.normal(k, (N_CELLS, N_LATENT), jnp.result_type(float))},
        ),
    ),
    Case(
        "CaptureEncoder-p",
        "encoder",
        lambda k: CaptureEncoder(("p_capture",), key=k, centre=3.0),
    ),
    Case(
        "CaptureEncoder-phi-exp",
        "encoder",
        lambda k: CaptureEncoder(("phi_capture",), key=k, positive_transform="exp"),
    ),
    Case("MLPEncoder", "encoder", lambda k: MLPEncoder(N_GENES, N_LATENT, key=k, hidden=(8,))),
    Case(
        "MLPEncoder-vcp-library-standardized",
        "encoder",
        lambda k: MLPEncoder.from_data(
            DATA,
            N_LATENT,
            key=k,
            hidden=(8, 4),
            activation="gelu",
            input_transform="log1p_proportions",
            include_library=True,
            capture_names=("p_capture",),
        ),
    ),
    Case(
        "MLPEncoder-raw-affine-phi",
        "encoder",
        lambda k: MLPEncoder(
            N_GENES,
            1,
            key=k,
            hidden=(),
            input_transform="none",
            capture_names=("phi_capture",),
            positive_transform="exp",
        ),
    ),
    Case(
        "PointEncoder-z-phi-exp",
        "point",
        lambda k: PointEncoder(
            ("z", "phi_capture"),
            {
                "z": jax.random.normal(k, (N_CELLS, N_LATENT), jnp.result_type(float)),
                "phi_capture": jnp.linspace(-2.0, 2.0, N_CELLS),
            },
            positive_transform="exp",
        ),
    ),
    Case("MLPDecoder-r", "decoder", lambda k: MLPDecoder(N_LATENT, N_GENES, key=k, hidden=(8,))),
    Case(
        "MLPDecoder-mu-gate",
        "decoder",
        lambda k: MLPDecoder(
            N_LATENT, N_GENES, key=k, hidden=(8, 8), outputs=("mu", "gate"), activation="tanh"
        ),
    ),
    Case(
        "MLPDecoder-log-mu-gate",
        "decoder",
        lambda k: MLPDecoder(N_LATENT, N_GENES, key=k, hidden=(8,), outputs=("log_mu", "gate")),
    ),
    Case(
        "MLPDecoder-library-size",
        "decoder",
        lambda k: MLPDecoder(
            N_LATENT, N_GENES, key=k, hidden=(8,), outputs=("r", "mu"), library_size=True
        ),
    ),
    Case(
        "MLPDecoder-affine-library-zi",
        "decoder",
        lambda k: MLPDecoder(
            N_LATENT, N_GENES, key=k, hidden=(), outputs=("gate", "log_mu"), library_size=True
        ),
    ),
    Case(
        "LinearALRDecoder-first",
        "decoder",
        lambda k: LinearALRDecoder(N_LATENT, N_GENES, 0, key=k),
    ),
    Case(
        "LinearALRDecoder-middle",
        "decoder",
        lambda k: LinearALRDecoder(N_LATENT, N_GENES, 2, key=k),
    ),
    Case(
        "LinearALRDecoder-last",
        "decoder",
        lambda k: LinearALRDecoder(1, N_GENES, N_GENES - 1, key=k),
    ),
    _prior("normal", 2),
    _prior("normal", 5),
    _prior("maf", 2, **SMALL_FLOW),
    _prior("maf", 5, **SMALL_FLOW),
    _prior("maf", 2, **SMALL_FLOW, transformer="spline"),
    _prior("spline", 2, **SMALL_FLOW),
    _prior("spline", 5, **SMALL_FLOW),
    Case("MLP", "mlp", lambda k: MLP(N_GENES, 4, (8,), "softplus", key=k)),
    Case("MLP-affine", "mlp", lambda k: MLP(2, N_GENES, (), "relu", key=k)),
]
assert len({case.name for case in CASES}) == len(CASES), "case names are test ids"


def of_kind(kind: str, where: Callable[[eqx.Module], bool] = lambda module: True) -> list[Case]:
    """The cases of one kind whose module satisfies ``where``."""
    return [case for case in CASES if case.kind == kind and where(case.module)]


def ids(cases: list[Case]) -> list[str]:
    return [case.name for case in cases]


ENCODERS, DECODERS, PRIORS = of_kind("encoder"), of_kind("decoder"), of_kind("prior")
FLOWS = of_kind("prior", lambda prior: isinstance(prior, FlowPrior))


def gaussian_posterior(latent_dim: int, n_cells: int = 6):
    """A batch of diagonal Gaussian posteriors ``(loc, scale)``, fixed per dimension."""
    rng = np.random.default_rng(latent_dim)
    loc = jnp.asarray(rng.normal(0.0, 1.0, (n_cells, latent_dim)))
    return loc, jnp.asarray(rng.uniform(0.3, 1.5, (n_cells, latent_dim)))


def lnm_log_composition(reference_gene: int, alr) -> jax.Array:
    """The composition ``LogisticNormalMultinomial(reference_gene)`` reads from ``alr``."""
    likelihood = LogisticNormalMultinomial(reference_gene=reference_gene)
    total = NBParams(r=jnp.ones((1, 1)), p=jnp.full((1, 1), 0.5))
    return likelihood.log_composition(LNMParams(total=total, alr=jnp.asarray(alr)))


def latent(decoder: AbstractDecoder, key) -> jax.Array:
    """A spread-out ``z`` for a decoder: 2 × N(0, 1), in the decoder's own float dtype."""
    return 2.0 * jax.random.normal(key, (BATCH, decoder.n_latent), jnp.result_type(float))


@functools.cache
def minibatch() -> Batch:
    """The sparse minibatch every case reads, sampled inside jit as a training step does."""
    return eqx.filter_jit(sample_batch)(jax.random.key(5))


def real_inputs(module) -> dict[str, jax.Array]:
    """The real inputs of ``apply`` besides the batch: differentiated and vmapped over."""
    key = jax.random.key(4)
    if isinstance(module, AbstractDecoder):
        return {"z": latent(module, key)}
    if isinstance(module, AbstractLatentPrior):
        loc, scale = gaussian_posterior(module.latent_dim, BATCH)
        # log_prob over two leading axes, shaped as the KL's own draws of z
        z = 2.0 * jax.random.normal(key, (N_KL, *loc.shape), loc.dtype)
        return {"z": z, "loc": loc, "scale": scale}
    if isinstance(module, MLP):
        shape = (BATCH, module.layers[0].in_features)
        return {"x": jax.random.normal(key, shape, jnp.result_type(float))}
    return {}  # an encoder reads the batch only


def apply(module, batch: Batch, real: dict[str, jax.Array], key) -> dict[str, jax.Array]:
    """Everything a module outputs for one batch, flat by name."""
    if isinstance(module, PointEncoder):
        values, log_det = module.constrained(batch)
        out = {"log_det": log_det}
        for name, (loc, _) in module.unconstrained_params(batch).items():
            out |= {f"loc/{name}": loc, f"median/{name}": module.median(batch)[name]}
            out |= {f"constrained/{name}": values[name]}
        return out
    if isinstance(module, AbstractEncoder):
        params = module.unconstrained_params(batch)
        draw, log_q = module.sample_and_log_prob(batch, key=key)
        out = {"log_q": log_q}
        for name in module.names:
            out |= {f"loc/{name}": params[name][0], f"scale/{name}": params[name][1]}
            out |= {f"draw/{name}": draw[name], f"median/{name}": module.median(batch)[name]}
        return out
    if isinstance(module, AbstractDecoder):
        return module(real["z"], batch)
    if isinstance(module, AbstractLatentPrior):
        sample_key, kl_key = jax.random.split(key)
        return {
            # training never differentiates prior draws (they generate cells); stopping
            # their gradient keeps a flow's inverse pass out of every backward compile
            "sample": jax.lax.stop_gradient(module.sample(sample_key, (BATCH,))),
            "log_prob": module.log_prob(real["z"]),
            "kl": module.kl_divergence(real["loc"], real["scale"], key=kl_key, n_samples=N_KL),
        }
    return {"out": module(real["x"])}


def expected_shapes(module) -> dict[str, tuple[int, ...]]:
    """The shape of each output of ``apply`` on a batch of ``BATCH`` cells."""
    if isinstance(module, PointEncoder):
        out = {"log_det": (BATCH,)}
        for name, value in module.values.items():
            shape = (BATCH, *value.shape[1:])
            out |= {f"{part}/{name}": shape for part in ("loc", "median", "constrained")}
        return out
    if isinstance(module, AbstractEncoder):
        out = {"log_q": (BATCH,)}
        for name in module.names:
            dim = getattr(module, "n_latent", N_LATENT)  # a FreeEncoder z has N_LATENT
            shape = (BATCH, dim) if name == "z" else (BATCH,)
            out |= {f"{part}/{name}": shape for part in ("loc", "scale", "draw", "median")}
        return out
    if isinstance(module, AbstractDecoder):
        width = {"alr": N_GENES - 1}
        return {name: (BATCH, width.get(name, N_GENES)) for name in module.outputs}
    if isinstance(module, AbstractLatentPrior):
        return {"sample": (BATCH, module.latent_dim), "log_prob": (N_KL, BATCH), "kl": (BATCH,)}
    return {"out": (BATCH, module.layers[-1].out_features)}


KEY = jax.random.key(7)  # the key of every eager call


class Eager(NamedTuple):
    """A case's module called eagerly on ``minibatch()``."""

    module: eqx.Module
    real: dict[str, jax.Array]  # real_inputs(module)
    outputs: dict[str, jax.Array]  # apply(module, minibatch(), real, KEY)


@functools.cache
def eager(case: Case) -> Eager:
    """The case's eager outputs, computed once for every test file that reads them."""
    module = case.module
    real = real_inputs(module)
    return Eager(module, real, apply(module, minibatch(), real, KEY))


@functools.partial(eqx.filter_jit, compiler_options=FAST_COMPILE)
def log_prob(prior, z):
    """``prior.log_prob`` compiled once per prior structure and shape, shared by the files."""
    return prior.log_prob(z)


@functools.partial(eqx.filter_jit, compiler_options=FAST_COMPILE)
def sample(prior, key, sample_shape):
    """``prior.sample`` compiled once per prior structure and shape, shared by the files."""
    return prior.sample(key, sample_shape)


def perturbed(prior, *, seed: int = 7, sd: float = 0.1):
    """The prior with Gaussian noise of ``sd`` added to every trainable array.

    At ``sd=0.1`` the small flows' log-densities move by several nats from N(0, I)
    while staying smooth enough for importance sampling to check them.
    """
    rng = np.random.default_rng(seed)
    params, static = eqx.partition(prior, eqx.is_inexact_array)
    leaves, treedef = jax.tree.flatten(params)
    # numpy noise: eager jax would compile a kernel for every leaf's shape
    noisy = [jnp.asarray(np.asarray(x) + sd * rng.normal(size=x.shape), x.dtype) for x in leaves]
    return eqx.combine(jax.tree.unflatten(treedef, noisy), static)
