"""Poisson observation given a per-cell, per-gene log-rate (PLN's observation part)."""

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray

from ._abstract import AbstractElementwiseLikelihood
from ._formulas import poisson_log_normalizer, poisson_log_pmf


class PoissonParams(eqx.Module):
    """Parameters of ``PoissonLogRate``: the natural log of the rate."""

    log_rate: Float[Array, "#cells #genes"]


class PoissonLogRate(AbstractElementwiseLikelihood):
    """``u ~ Poisson(exp(log_rate))``; thinning by ``ν`` adds ``log ν`` to the log-rate."""

    def log_prob(self, counts: Float[Array, "cells genes"], params: PoissonParams) -> Array:
        return poisson_log_pmf(counts, params.log_rate)

    def log_prob_zero(self, params: PoissonParams) -> Array:
        return -jnp.exp(params.log_rate)

    def normalizer_params(self, params: PoissonParams) -> tuple[()]:
        return ()

    def log_normalizer(self, counts: Float[Array, "..."], params: PoissonParams) -> Array:
        return poisson_log_normalizer(counts)

    def log_kernel_excess(self, counts: Float[Array, "..."], params: PoissonParams) -> Array:
        return counts * self.log_kernel_rate(params)

    def log_kernel_rate(self, params: PoissonParams) -> Array:
        return params.log_rate

    def sample(self, params: PoissonParams, shape: tuple[int, ...], *, key: PRNGKeyArray):
        rate = jnp.exp(params.log_rate)
        return jax.random.poisson(key, jnp.broadcast_to(rate, shape), shape).astype(rate.dtype)

    def mean(self, params: PoissonParams) -> Array:
        return jnp.exp(params.log_rate)

    def variance(self, params: PoissonParams) -> Array:
        return jnp.exp(params.log_rate)

    def thin(self, params: PoissonParams, capture: Float[Array, " cells"]) -> PoissonParams:
        return PoissonParams(log_rate=params.log_rate + jnp.log(capture)[:, None])
