"""Every encoder and decoder configuration, in one list, on one small count matrix.

Add a configuration to ``CASES`` and every shared invariant in ``test_invariants.py``
(shapes, dtypes, jit against eager, gradients, sparse batches sampled inside jit) runs on
it; the encoder and decoder tests draw their per-family checks from the same list.
"""

from collections.abc import Callable
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from scribe.data import Batch, load_counts
from scribe.decoders import AbstractDecoder, LinearALRDecoder, MLPDecoder
from scribe.encoders import AbstractEncoder, CaptureEncoder, FreeEncoder, MLPEncoder

N_CELLS, N_GENES, N_LATENT, BATCH = 16, 6, 3, 5


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
    """One configuration: how to build it, and its kind (``"encoder"`` or ``"decoder"``)."""

    name: str
    build: Callable[[jax.Array], AbstractEncoder | AbstractDecoder]

    @property
    def kind(self) -> str:
        return "encoder" if isinstance(self.module, AbstractEncoder) else "decoder"

    @property
    def module(self):
        return self.build(jax.random.key(3))


CASES = [
    Case("FreeEncoder", lambda k: FreeEncoder(("p_capture",), N_CELLS, init_scale=0.3)),
    Case(
        "FreeEncoder-z-phi",
        lambda k: FreeEncoder(
            ("z", "phi_capture"),
            N_CELLS,
            init={"z": jax.random.normal(k, (N_CELLS, N_LATENT), jnp.result_type(float))},
        ),
    ),
    Case("CaptureEncoder-p", lambda k: CaptureEncoder(("p_capture",), key=k, centre=3.0)),
    Case(
        "CaptureEncoder-phi-exp",
        lambda k: CaptureEncoder(("phi_capture",), key=k, positive_transform="exp"),
    ),
    Case("MLPEncoder", lambda k: MLPEncoder(N_GENES, N_LATENT, key=k, hidden=(8,))),
    Case(
        "MLPEncoder-vcp-library-standardized",
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
    Case("MLPDecoder-r", lambda k: MLPDecoder(N_LATENT, N_GENES, key=k, hidden=(8,))),
    Case(
        "MLPDecoder-mu-gate",
        lambda k: MLPDecoder(
            N_LATENT, N_GENES, key=k, hidden=(8, 8), outputs=("mu", "gate"), activation="tanh"
        ),
    ),
    Case(
        "MLPDecoder-library-size",
        lambda k: MLPDecoder(
            N_LATENT, N_GENES, key=k, hidden=(8,), outputs=("r", "mu"), library_size=True
        ),
    ),
    Case(
        "MLPDecoder-affine-library-zi",
        lambda k: MLPDecoder(
            N_LATENT, N_GENES, key=k, hidden=(), outputs=("gate", "mu"), library_size=True
        ),
    ),
    Case("LinearALRDecoder-first", lambda k: LinearALRDecoder(N_LATENT, N_GENES, 0, key=k)),
    Case("LinearALRDecoder-middle", lambda k: LinearALRDecoder(N_LATENT, N_GENES, 2, key=k)),
    Case("LinearALRDecoder-last", lambda k: LinearALRDecoder(1, N_GENES, N_GENES - 1, key=k)),
]
CASE_IDS = [c.name for c in CASES]
ENCODERS = [c for c in CASES if c.kind == "encoder"]
DECODERS = [c for c in CASES if c.kind == "decoder"]


def latent(decoder: AbstractDecoder, key) -> jax.Array:
    """A spread-out ``z`` for a decoder: 2 × N(0, 1), in the decoder's own float dtype."""
    return 2.0 * jax.random.normal(key, (BATCH, decoder.n_latent), jnp.result_type(float))


def apply(module, batch: Batch, key) -> dict[str, jax.Array]:
    """Everything a module outputs for one batch, flat by name."""
    if isinstance(module, AbstractEncoder):
        params = module.unconstrained_params(batch)
        draw, log_q = module.sample_and_log_prob(batch, key=key)
        out = {"log_q": log_q}
        for name in module.names:
            out |= {f"loc/{name}": params[name][0], f"scale/{name}": params[name][1]}
            out |= {f"draw/{name}": draw[name], f"median/{name}": module.median(batch)[name]}
        return out
    return module(latent(module, key), batch)


def expected_shapes(module) -> dict[str, tuple[int, ...]]:
    """The shape of each output of ``apply`` on a batch of ``BATCH`` cells."""
    if isinstance(module, AbstractEncoder):
        out = {"log_q": (BATCH,)}
        for name in module.names:
            dim = getattr(module, "n_latent", N_LATENT)  # a FreeEncoder z has N_LATENT
            shape = (BATCH, dim) if name == "z" else (BATCH,)
            out |= {f"{part}/{name}": shape for part in ("loc", "scale", "draw", "median")}
        return out
    width = {"alr": N_GENES - 1}
    return {name: (BATCH, width.get(name, N_GENES)) for name in module.outputs}
