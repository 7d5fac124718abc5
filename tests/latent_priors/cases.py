"""Every latent prior configuration: add one here and every invariant runs on it."""

import dataclasses
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from scribe.latent_priors import make_latent_prior

SMALL_FLOW = dict(n_layers=2, width=16)
N_DRAWS = 40_000  # one shape for every large evaluation, so each compiles once per prior


@dataclasses.dataclass(frozen=True)
class Case:
    """A prior by ``make_latent_prior`` name, dimension and options."""

    name: str
    latent_dim: int
    options: dict[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def id(self) -> str:
        extra = "-".join(f"{k}={v}" for k, v in self.options.items() if k not in SMALL_FLOW)
        return f"{self.name}-{self.latent_dim}d" + (f"-{extra}" if extra else "")

    @property
    def is_flow(self) -> bool:
        return self.name != "normal"

    def build(self, *, key=None):
        key = jax.random.key(self.latent_dim) if key is None else key
        return make_latent_prior(self.name, self.latent_dim, key=key, **self.options)


CASES = [
    Case("normal", 2),
    Case("normal", 5),
    Case("maf", 2, SMALL_FLOW),
    Case("maf", 5, SMALL_FLOW),
    Case("spline", 2, SMALL_FLOW),
    Case("spline", 5, SMALL_FLOW),
]
# a further configuration, checked by the (cheaper) two-dimensional and KL tests only
NEURAL_SPLINE_MAF = Case("maf", 2, {**SMALL_FLOW, "transformer": "spline"})
FLOW_CASES = [case for case in CASES if case.is_flow] + [NEURAL_SPLINE_MAF]


def gaussian_posterior(latent_dim: int, n_cells: int = 6):
    """A batch of diagonal Gaussian posteriors ``(loc, scale)``, fixed per dimension."""
    rng = np.random.default_rng(latent_dim)
    loc = jnp.asarray(rng.normal(0.0, 1.0, (n_cells, latent_dim)))
    return loc, jnp.asarray(rng.uniform(0.3, 1.5, (n_cells, latent_dim)))


@eqx.filter_jit
def log_prob(prior, z):
    """``prior.log_prob`` compiled once per prior structure and shape, shared by the files."""
    return prior.log_prob(z)


@eqx.filter_jit
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
