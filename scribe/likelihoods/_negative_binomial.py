"""Negative Binomial families: the ``probs`` form (NB family) and the log-mean form (NBLN)."""

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray

from ._abstract import AbstractElementwiseLikelihood
from ._broadcast import sum_broadcast_product
from ._formulas import (
    gamma_poisson_sample,
    log_binomial_coefficient,
    nb_log_pmf,
    nb_mean,
    nb_thinned_probs,
    nb_variance,
)


class NBParams(eqx.Module):
    """Parameters of ``NegativeBinomial``: size ``r`` and numpyro ``probs`` ``p``.

    Both are 2-D and broadcast to ``(cells, genes)``: ``r`` is usually ``(1, genes)``,
    ``p`` ``(1, 1)`` when shared by genes or ``(cells, 1)`` after thinning.
    """

    r: Float[Array, "#cells #genes"]
    p: Float[Array, "#cells #genes"]


class NegativeBinomial(AbstractElementwiseLikelihood):
    """``u ~ NB(r, p)`` with mean ``r p / (1 - p)`` (numpyro's ``probs`` convention).

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> from scribe.likelihoods import NegativeBinomial, NBParams
    >>> params = NBParams(r=jnp.array([[2.0, 5.0]]), p=jnp.array([[0.5]]))
    >>> NegativeBinomial().mean(params).tolist()
    [[2.0, 5.0]]
    """

    def log_prob(self, counts: Float[Array, "cells genes"], params: NBParams) -> Array:
        return nb_log_pmf(counts, params.r, jnp.log(params.p), jnp.log1p(-params.p))

    def log_prob_zero(self, params: NBParams) -> Array:
        return params.r * jnp.log1p(-params.p)

    def log_prob_zero_sum(
        self, params: NBParams, shape: tuple[int, int], axis: int
    ) -> Float[Array, " kept"]:
        return sum_broadcast_product(params.r, jnp.log1p(-params.p), shape, axis)

    def normalizer_params(self, params: NBParams) -> Array:
        return params.r

    def log_normalizer(self, counts: Float[Array, "..."], params: NBParams) -> Array:
        return log_binomial_coefficient(counts, params.r)

    def log_kernel_excess(self, counts: Float[Array, "..."], params: NBParams) -> Array:
        return counts * self.log_kernel_rate(params)

    def log_kernel_rate(self, params: NBParams) -> Array:
        return jnp.log(params.p)

    def sample(self, params: NBParams, shape: tuple[int, ...], *, key: PRNGKeyArray) -> Array:
        return gamma_poisson_sample(key, params.r, params.p / (1.0 - params.p), shape)

    def mean(self, params: NBParams) -> Array:
        return nb_mean(params.r, params.p)

    def variance(self, params: NBParams) -> Array:
        return nb_variance(params.r, params.p)

    def thin(self, params: NBParams, capture: Float[Array, " cells"]) -> NBParams:
        return NBParams(r=params.r, p=nb_thinned_probs(params.p, capture[:, None]))


class NBLogMeanParams(eqx.Module):
    """Parameters of ``NegativeBinomialLogMean``: size ``r`` and log-mean ``log_mean``."""

    r: Float[Array, "#cells #genes"]
    log_mean: Float[Array, "#cells #genes"]


class NegativeBinomialLogMean(AbstractElementwiseLikelihood):
    """NB observation with mean ``exp(log_mean)`` and size ``r`` (NBLN's observation part).

    In ``probs`` terms ``logit p = log_mean - log r``; thinning by ``ν`` adds ``log ν``
    to the log-mean.
    """

    def log_prob(self, counts: Float[Array, "cells genes"], params: NBLogMeanParams) -> Array:
        logits = params.log_mean - jnp.log(params.r)
        return nb_log_pmf(
            counts, params.r, jax.nn.log_sigmoid(logits), jax.nn.log_sigmoid(-logits)
        )

    def log_prob_zero(self, params: NBLogMeanParams) -> Array:
        return params.r * jax.nn.log_sigmoid(jnp.log(params.r) - params.log_mean)

    def normalizer_params(self, params: NBLogMeanParams) -> Array:
        return params.r

    def log_normalizer(self, counts: Float[Array, "..."], params: NBLogMeanParams) -> Array:
        return log_binomial_coefficient(counts, params.r)

    def log_kernel_excess(self, counts: Float[Array, "..."], params: NBLogMeanParams) -> Array:
        return counts * self.log_kernel_rate(params)

    def log_kernel_rate(self, params: NBLogMeanParams) -> Array:
        return jax.nn.log_sigmoid(params.log_mean - jnp.log(params.r))

    def sample(
        self, params: NBLogMeanParams, shape: tuple[int, ...], *, key: PRNGKeyArray
    ) -> Array:
        return gamma_poisson_sample(key, params.r, jnp.exp(params.log_mean) / params.r, shape)

    def mean(self, params: NBLogMeanParams) -> Array:
        return jnp.exp(params.log_mean) + jnp.zeros_like(params.r)

    def variance(self, params: NBLogMeanParams) -> Array:
        mean = jnp.exp(params.log_mean)
        return mean + mean**2 / params.r

    def thin(self, params: NBLogMeanParams, capture: Float[Array, " cells"]) -> NBLogMeanParams:
        return NBLogMeanParams(r=params.r, log_mean=params.log_mean + jnp.log(capture)[:, None])
