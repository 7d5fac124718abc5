"""Gene-specific parameters around a learned population value (MATH.md, hierarchical priors).

A hierarchy replaces one shared global (``p``, ``phi``) or one per-gene global (``gate``)
by gene-specific values ``θ_g`` on the unconstrained scale (logit for ``p`` and ``gate``,
log for ``phi``), written non-centred so every sampled coordinate has an independent
prior (no funnel for SVI or NUTS):

- ``"normal"``: ``θ_g = loc + scale·z_g``, ``z_g ~ N(0, 1)``, ``loc ~ N(0, 1)``,
  ``scale ~ softplus(N(−2, 0.5))``.
- ``"horseshoe"`` (regularized): ``θ_g = loc + τ·λ̃_g·z_g``, ``τ ~ HalfCauchy(τ₀ = 1)``,
  ``λ_g ~ HalfCauchy(1)``, ``c² ~ InvGamma(ν/2, ν s²/2)`` with slab df ``ν = 4`` and
  scale ``s = 2``, ``λ̃² = c²λ²/(c² + τ²λ²)``.
- ``"neg"`` (normal-exponential-gamma): ``θ_g ~ N(loc, √ψ_g)``, ``ψ_g ~ Gamma(u, ζ_g)``,
  ``ζ_g ~ Gamma(a, τ)`` (rates), ``u = a = τ = 1``; sampled as ``ψ_g = ω_g / ζ_g`` with
  ``ω_g ~ Gamma(u, 1)``, so that ``θ_g = loc + √ψ_g·z_g``. Its density at ``θ = loc`` is
  finite, which keeps SVI better behaved than under the horseshoe's pole.

The coordinates are named ``<target>_<part>`` (``p_loc``, ``p_scale``, ``p_raw``,
``p_tau``, ``p_lambda``, ``p_slab``, ``p_zeta``, ``p_omega``); ``priors=`` overrides any
of them by that name.
"""

from collections.abc import Mapping

import equinox as eqx
import jax
import jax.numpy as jnp
import numpyro.distributions as dist
from jaxtyping import Array, Float
from numpyro.distributions.transforms import SoftplusTransform

from ..parameterizations._priors import HIERARCHY_KINDS
from ..parameterizations._priors import HIERARCHY_TARGETS as TARGETS

#: The hierarchy kinds and the coordinates (besides ``loc`` and ``raw``) each samples:
#: name -> per gene?
KINDS: dict[str, dict[str, bool]] = {
    "normal": {"scale": False},
    "horseshoe": {"tau": False, "lambda": True, "slab": False},
    "neg": {"zeta": True, "omega": True},
}
assert tuple(KINDS) == HIERARCHY_KINDS

HORSESHOE_TAU0 = 1.0
HORSESHOE_SLAB_DF = 4.0
HORSESHOE_SLAB_SCALE = 2.0
NEG_U = NEG_A = NEG_TAU = 1.0


def _default_priors(kind: str) -> dict[str, dist.Distribution]:
    priors = {"loc": dist.Normal(0.0, 1.0), "raw": dist.Normal(0.0, 1.0)}
    if kind == "normal":
        priors["scale"] = dist.TransformedDistribution(dist.Normal(-2.0, 0.5), SoftplusTransform())
    elif kind == "horseshoe":
        df, s = HORSESHOE_SLAB_DF, HORSESHOE_SLAB_SCALE
        priors["tau"] = dist.HalfCauchy(HORSESHOE_TAU0)
        priors["lambda"] = dist.HalfCauchy(1.0)
        priors["slab"] = dist.InverseGamma(df / 2.0, df * s**2 / 2.0)
    else:
        priors["zeta"] = dist.Gamma(NEG_A, NEG_TAU)
        priors["omega"] = dist.Gamma(NEG_U, 1.0)
    return priors


# Where each spread part starts: typical prior values (softplus(-2); λ = 1, c² = 4;
# ζ = ω = 1), except the horseshoe's τ, which starts sparse at 0.1. From τ = 1 SVI
# settles in the dense mode instead (τ growing without bound, the slab c setting one
# spread for every gene: no shrinkage), found on the 10%-distinct-p simulation of
# tests/fit/test_hierarchical.py.
_START = {
    "scale": float(jax.nn.softplus(-2.0)),
    "tau": 0.1,
    "lambda": 1.0,
    "slab": 4.0,
    "zeta": 1.0,
    "omega": 1.0,
}


class GeneHierarchy(eqx.Module):
    """One target's gene-specific values around a population location.

    Parameters
    ----------
    target
        ``"p"``, ``"phi"`` or ``"gate"``.
    kind
        ``"normal"``, ``"horseshoe"`` or ``"neg"``.
    n_genes
        Number of genes (the length of ``θ``).
    """

    target: str = eqx.field(static=True)
    kind: str = eqx.field(static=True)
    n_genes: int = eqx.field(static=True)

    def __check_init__(self):
        if self.target not in TARGETS:
            raise ValueError(
                f"a hierarchy's target must be one of {sorted(TARGETS)}, found {self.target!r}"
            )
        if self.kind not in KINDS:
            raise ValueError(
                f"a hierarchy's kind must be one of {sorted(KINDS)}, found {self.kind!r}"
            )

    def name(self, part: str) -> str:
        """The global's name of a coordinate part (``p_loc``, ...)."""
        return f"{self.target}_{part}"

    @property
    def parts(self) -> tuple[str, ...]:
        """The sampled parts: ``loc``, the kind's spread parts, ``raw``."""
        return ("loc", *KINDS[self.kind], "raw")

    @property
    def names(self) -> tuple[str, ...]:
        """The names of the globals it samples."""
        return tuple(self.name(part) for part in self.parts)

    @property
    def shapes(self) -> dict[str, tuple[int, ...]]:
        """Each sampled global's shape: ``raw`` and the per-gene spread parts per gene."""
        per_gene = {"raw": True, "loc": False, **KINDS[self.kind]}
        return {self.name(part): (self.n_genes,) if per_gene[part] else () for part in self.parts}

    def priors(self, overrides: Mapping[str, dist.Distribution]) -> dict[str, dist.Distribution]:
        """Each sampled global's prior (the defaults above unless ``overrides`` names it)."""
        defaults = _default_priors(self.kind)
        return {
            self.name(part): overrides.get(self.name(part), defaults[part]) for part in self.parts
        }

    def spread(self, globals_: Mapping[str, Array]) -> Float[Array, "#genes"]:
        """The per-gene standard deviation of ``θ_g`` around ``loc``."""
        part = {part: globals_[self.name(part)] for part in KINDS[self.kind]}
        if self.kind == "normal":
            return part["scale"]
        if self.kind == "horseshoe":
            tau, lam, slab = part["tau"], part["lambda"], part["slab"]
            # λ̃ = c λ / sqrt(c² + τ² λ²)
            return tau * jnp.sqrt(slab) * lam / jnp.sqrt(slab + tau**2 * lam**2)
        return jnp.sqrt(part["omega"] / part["zeta"])

    def unconstrained(self, globals_: Mapping[str, Array]) -> Float[Array, " genes"]:
        """``θ_g = loc + spread_g · z_g``."""
        return globals_[self.name("loc")] + self.spread(globals_) * globals_[self.name("raw")]

    def value(self, globals_: Mapping[str, Array]) -> Float[Array, " genes"]:
        """The target's gene-specific values on its own scale."""
        theta = self.unconstrained(globals_)
        return jax.nn.sigmoid(theta) if TARGETS[self.target] == "sigmoid" else jnp.exp(theta)

    def from_value(self, value: Array) -> dict[str, Array]:
        """Sampled globals whose ``value`` is ``value`` (a scalar is every gene's): ``loc``
        the mean of ``θ``, the spread parts at their typical prior values, ``raw`` the
        standardized deviations (a starting point for SVI and MCMC)."""
        value = jnp.broadcast_to(jnp.asarray(value), (self.n_genes,))
        if TARGETS[self.target] == "sigmoid":
            theta = jnp.log(value) - jnp.log1p(-value)
        else:
            theta = jnp.log(value)
        globals_ = {self.name("loc"): jnp.mean(theta)}
        for part, per_gene in KINDS[self.kind].items():
            start = jnp.asarray(_START[part])
            globals_[self.name(part)] = jnp.full((self.n_genes,), start) if per_gene else start
        globals_[self.name("raw")] = (theta - globals_[self.name("loc")]) / self.spread(globals_)
        return globals_

    def subset_genes(self, n_genes: int) -> "GeneHierarchy":
        """This hierarchy over ``n_genes`` genes (a gene subset of the model)."""
        return GeneHierarchy(self.target, self.kind, n_genes)
