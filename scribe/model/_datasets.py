"""Per-dataset copies of chosen globals under a dataset-level hierarchical prior.

With ``D`` datasets (``fit(dataset_key=...)``) each chosen global ``θ`` gets one value
per dataset, ``θ_d`` (a leading axis of ``D``, like a mixture's components, but every
cell's dataset is known). On the coordinate's unconstrained scale ``η = T⁻¹(θ)`` (logit
for unit-interval coordinates, log for positive ones, identity for real ones):

    η_d ~ N(loc, scale),   loc ~ N(0, 1),   scale ~ softplus(N(−2, 0.5)),

``loc`` with the shape of one copy (per gene for ``r``, shared for ``p``) and one
``scale`` per parameter, sampled as ``<name>_dataset_loc`` and ``<name>_dataset_scale``.
The copies are sampled centred, as values of ``θ_d`` themselves: each dataset holds many
cells, the regime where the centred form mixes and fits better than the non-centred one
(which suits the gene-level hierarchies, ``GeneHierarchy``, where each gene's data are
few); it also makes one dataset's values a plain restriction of the guide
(``ScribeResults.get_dataset``).
"""

import math
from collections.abc import Mapping

import equinox as eqx
import jax
import jax.numpy as jnp
import numpyro.distributions as dist
from jaxtyping import Array, Float
from numpyro.distributions.transforms import (
    ExpTransform,
    IdentityTransform,
    SigmoidTransform,
    SoftplusTransform,
)

from ..parameterizations._priors import domain

_TRANSFORMS = {"unit": SigmoidTransform, "positive": ExpTransform, "real": IdentityTransform}
_START_SCALE = float(jax.nn.softplus(-2.0))  # the scale prior's median


def _unconstrained(name: str, value: Array) -> Array:
    return _TRANSFORMS[domain(name)]().inv(value)


class DatasetHierarchy(eqx.Module):
    """The dataset-level prior of the per-dataset globals ``names``.

    Parameters
    ----------
    names
        The globals with one copy per dataset.
    n_datasets
        ``D >= 2``.
    """

    names: tuple[str, ...] = eqx.field(static=True)
    n_datasets: int = eqx.field(static=True)

    @staticmethod
    def loc_name(name: str) -> str:
        """The population location's global (``r_dataset_loc``)."""
        return f"{name}_dataset_loc"

    @staticmethod
    def scale_name(name: str) -> str:
        """The between-dataset scale's global (``r_dataset_scale``)."""
        return f"{name}_dataset_scale"

    @property
    def hyper_names(self) -> tuple[str, ...]:
        """The globals of the population: each name's location and scale."""
        return tuple(
            n for name in self.names for n in (self.loc_name(name), self.scale_name(name))
        )

    def priors(self, overrides: Mapping[str, dist.Distribution]) -> dict[str, dist.Distribution]:
        """The location's and scale's priors (``overrides`` by name)."""
        out = {}
        for name in self.names:
            loc, scale = self.loc_name(name), self.scale_name(name)
            out[loc] = overrides.get(loc, dist.Normal(0.0, 1.0))
            out[scale] = overrides.get(
                scale, dist.TransformedDistribution(dist.Normal(-2.0, 0.5), SoftplusTransform())
            )
        return out

    def log_prob(self, globals_: Mapping[str, Array]) -> Float[Array, ""]:
        """``Σ_name Σ_d log p(θ_d | loc, scale)``, the Jacobian of ``T`` included."""
        total = 0.0
        for name in self.names:
            loc = jnp.asarray(globals_[self.loc_name(name)])[None]  # the dataset axis
            scale = jnp.broadcast_to(globals_[self.scale_name(name)], loc.shape)
            prior = dist.TransformedDistribution(
                dist.Normal(loc, scale), _TRANSFORMS[domain(name)]()
            )
            total = total + jnp.sum(prior.log_prob(globals_[name]))
        return total

    def from_values(
        self, values: Mapping[str, Array], shapes: Mapping[str, tuple[int, ...]]
    ) -> dict[str, Array]:
        """Globals for starting values: each name's copies at ``values[name]`` (shaped
        ``shapes[name]``, or one value for every dataset), the location at their
        unconstrained mean and the scale at its prior median."""
        out = {}
        for name in self.names:
            value, shape = jnp.asarray(values[name]), shapes[name]
            if value.size == math.prod(shape):
                value = value.reshape(shape)
            else:
                value = jnp.broadcast_to(value.reshape(shape[1:]), shape)
            out[name] = value
            out[self.loc_name(name)] = jnp.mean(_unconstrained(name, value), axis=0)
            out[self.scale_name(name)] = jnp.asarray(_START_SCALE)
        return out
