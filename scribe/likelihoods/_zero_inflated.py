"""Zero inflation of any element-wise count family."""

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray, PyTree

from ._abstract import AbstractElementwiseLikelihood
from ._formulas import zero_inflated_log_pmf


class ZIParams(eqx.Module):
    """Parameters of ``ZeroInflated``: the base family's parameters and the gate."""

    base: PyTree
    gate: Float[Array, "#cells #genes"]


class ZeroInflated(AbstractElementwiseLikelihood):
    """``gate · δ₀(u) + (1 - gate) · base(u)``.

    Thinning commutes with the gate (a thinned zero stays zero), so ``thin`` thins the
    base and keeps the gate: ``VariableCapture(ZeroInflated(NB))`` is zinbvcp.

    Parameters
    ----------
    base
        Any element-wise family (it must provide ``log_prob_zero``).
    """

    base: AbstractElementwiseLikelihood

    def log_prob(self, counts: Float[Array, "cells genes"], params: ZIParams) -> Array:
        return zero_inflated_log_pmf(
            counts == 0,
            self.base.log_prob(counts, params.base),
            self.base.log_prob_zero(params.base),
            params.gate,
        )

    def log_prob_zero(self, params: ZIParams) -> Array:
        base_zero = self.base.log_prob_zero(params.base)
        return zero_inflated_log_pmf(True, base_zero, base_zero, params.gate)

    def normalizer_params(self, params: ZIParams) -> PyTree | None:
        return self.base.normalizer_params(params.base)

    def log_normalizer(self, counts: Float[Array, "..."], params: ZIParams) -> Array:
        return self.base.log_normalizer(counts, params.base)

    def log_kernel_excess(self, counts: Float[Array, "..."], params: ZIParams) -> Array:
        base_zero = self.base.log_prob_zero(params.base)
        base_excess = self.base.log_kernel_excess(counts, params.base)
        at_zero = zero_inflated_log_pmf(True, base_zero, base_zero, params.gate)
        return jnp.log1p(-params.gate) + base_excess + base_zero - at_zero

    def sample(self, params: ZIParams, shape: tuple[int, ...], *, key: PRNGKeyArray) -> Array:
        key_gate, key_base = jax.random.split(key)
        draws = self.base.sample(params.base, shape, key=key_base)
        inflated = jax.random.bernoulli(key_gate, jnp.broadcast_to(params.gate, shape))
        return jnp.where(inflated, jnp.zeros_like(draws), draws)

    def mean(self, params: ZIParams) -> Array:
        return (1.0 - params.gate) * self.base.mean(params.base)

    def variance(self, params: ZIParams) -> Array:
        keep = 1.0 - params.gate
        base_mean = self.base.mean(params.base)
        return keep * (self.base.variance(params.base) + base_mean**2) - (keep * base_mean) ** 2

    def thin(self, params: ZIParams, capture: Float[Array, " cells"]) -> ZIParams:
        return ZIParams(base=self.base.thin(params.base, capture), gate=params.gate)
