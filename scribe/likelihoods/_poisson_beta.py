"""The two-state promoter (Poisson-Beta) family."""

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray

from ._abstract import AbstractElementwiseLikelihood
from ._poisson_beta_quadrature import poisson_beta_log_pmf


class PoissonBetaParams(eqx.Module):
    """Parameters of ``PoissonBeta``: ``x ~ Beta(alpha, beta)``, ``u | x ~ Poisson(rate x)``."""

    rate: Float[Array, "#cells #genes"]
    alpha: Float[Array, "#cells #genes"]
    beta: Float[Array, "#cells #genes"]


class PoissonBeta(AbstractElementwiseLikelihood):
    """Steady state of the two-state (telegraph) promoter model.

    The promoter's active fraction ``x ~ Beta(alpha, beta)`` (``alpha = k_on``,
    ``beta = k_off`` in units of the degradation rate) and ``u | x ~ Poisson(rate x)``.
    The marginal is evaluated by mode-centred quadrature in logit space
    (``poisson_beta_log_pmf``), accurate where fixed Gauss–Legendre nodes are not
    (``alpha`` or ``beta`` < 1, sharply peaked Poisson factors). Thinning scales ``rate``.
    """

    def log_prob(self, counts: Float[Array, "cells genes"], params: PoissonBetaParams):
        return poisson_beta_log_pmf(counts, params.rate, params.alpha, params.beta)

    def log_prob_zero(self, params: PoissonBetaParams) -> Array:
        return poisson_beta_log_pmf(
            jnp.zeros_like(params.rate), params.rate, params.alpha, params.beta
        )

    def sample(self, params: PoissonBetaParams, shape: tuple[int, ...], *, key: PRNGKeyArray):
        key_beta, key_poisson = jax.random.split(key)
        active = jax.random.beta(
            key_beta, jnp.broadcast_to(params.alpha, shape), jnp.broadcast_to(params.beta, shape)
        )
        rate = jnp.broadcast_to(params.rate, shape) * active
        return jax.random.poisson(key_poisson, rate, shape).astype(rate.dtype)

    def mean(self, params: PoissonBetaParams) -> Array:
        return params.rate * params.alpha / (params.alpha + params.beta)

    def variance(self, params: PoissonBetaParams) -> Array:
        total = params.alpha + params.beta
        beta_variance = params.alpha * params.beta / (total**2 * (total + 1.0))
        return self.mean(params) + params.rate**2 * beta_variance

    def thin(self, params: PoissonBetaParams, capture: Float[Array, " cells"]):
        return PoissonBetaParams(
            rate=params.rate * capture[:, None], alpha=params.alpha, beta=params.beta
        )
