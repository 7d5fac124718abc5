"""Count-distribution formulas, each written once (MATH.md holds the conventions).

Every likelihood family, the sparse path, sampling and (later) denoising call these
functions; no other module re-derives them.
"""

import jax
import jax.numpy as jnp
from jax.scipy.special import betaln, digamma, gammaln
from jaxtyping import Array, Float


@jax.custom_jvp
def log_binomial_coefficient(counts: Float[Array, "..."], r: Float[Array, "..."]) -> Array:
    """``log Γ(u + r) / (Γ(r) Γ(u + 1))``, the NB normalising term.

    In float64 the three ``lgamma`` values are exact enough to subtract. In float32 their
    cancellation at large counts costs every digit (``u = 1e5`` leaves an error of ~0.05),
    so there it is ``-log u - log B(r, u)``: jax's ``betaln`` is accurate to ~1e-6
    relative, which is float32's own precision but not float64's. The derivative is the
    closed form ``ψ(u + r) - ψ(r)`` (a custom JVP): differentiating through ``betaln``'s
    series costs more than twice as much and gains nothing.
    """
    if jnp.result_type(counts, r) == jnp.float64:
        return gammaln(counts + r) - gammaln(r) - gammaln(counts + 1.0)
    positive = counts > 0
    safe_counts = jnp.where(positive, counts, 1.0)
    value = -jnp.log(safe_counts) - betaln(r, safe_counts)
    return jnp.where(positive, value, 0.0)


@log_binomial_coefficient.defjvp
def _log_binomial_coefficient_jvp(primals, tangents):
    counts, r = primals
    counts_dot, r_dot = tangents
    digamma_total = digamma(counts + r)
    tangent = r_dot * (digamma_total - digamma(r)) + counts_dot * (
        digamma_total - digamma(counts + 1.0)
    )
    return log_binomial_coefficient(counts, r), tangent


def nb_log_pmf(
    counts: Float[Array, "..."],
    r: Float[Array, "..."],
    log_p: Float[Array, "..."],
    log1m_p: Float[Array, "..."],
) -> Array:
    """Negative Binomial log-pmf in numpyro's ``probs`` convention.

    ``NB(u | r, p) = Γ(u + r) / (Γ(r) u!) · p^u (1 - p)^r``; the caller passes
    ``log p`` and ``log(1 - p)`` computed in whatever form is stable for it.
    """
    return log_binomial_coefficient(counts, r) + counts * log_p + r * log1m_p


def nb_thinned_probs(p: Float[Array, "..."], capture: Float[Array, "..."]) -> Array:
    """``p̂ = p ν / (1 - p (1 - ν))``: NB(r, p) binomially thinned by capture ``ν``.

    Equivalently ``odds(p̂) = odds(p) · ν``.
    """
    return p * capture / (1.0 - p * (1.0 - capture))


def nb_mean(r: Float[Array, "..."], p: Float[Array, "..."]) -> Array:
    """``E[u] = r p / (1 - p)``."""
    return r * p / (1.0 - p)


def nb_variance(r: Float[Array, "..."], p: Float[Array, "..."]) -> Array:
    """``Var[u] = r p / (1 - p)²``."""
    return r * p / (1.0 - p) ** 2


def gamma_poisson_sample(
    key: Array, r: Float[Array, "..."], scale: Float[Array, "..."], shape: tuple[int, ...]
) -> Array:
    """Draw ``u ~ Poisson(λ)``, ``λ ~ Gamma(r, scale)``: an NB with ``p = scale / (1 + scale)``."""
    key_gamma, key_poisson = jax.random.split(key)
    rate = jax.random.gamma(key_gamma, jnp.broadcast_to(r, shape)) * jnp.broadcast_to(scale, shape)
    return jax.random.poisson(key_poisson, rate, shape).astype(rate.dtype)


def zero_inflated_log_pmf(
    is_zero: Array, base_log_pmf: Array, base_log_pmf_zero: Array, gate: Array
) -> Array:
    """``log(gate δ₀(u) + (1 - gate) p(u))`` for a base log-pmf, stable at u = 0."""
    log1m_gate = jnp.log1p(-gate)
    at_zero = jnp.logaddexp(jnp.log(gate), log1m_gate + base_log_pmf_zero)
    return jnp.where(is_zero, at_zero, log1m_gate + base_log_pmf)


def poisson_log_pmf(counts: Float[Array, "..."], log_rate: Float[Array, "..."]) -> Array:
    """``log Poisson(u | e^x) = u x - e^x - log u!``."""
    return counts * log_rate - jnp.exp(log_rate) + poisson_log_normalizer(counts)


def poisson_log_normalizer(counts: Float[Array, "..."]) -> Array:
    """``-log u!``, the parameter-free term of the Poisson log-pmf."""
    return -gammaln(counts + 1.0)


def nb_uncaptured_probs(p: Float[Array, "..."], capture: Float[Array, "..."]) -> Array:
    """``p (1 - ν)``: the NB ``probs`` of the molecules capture missed, given the observed.

    For ``m ~ NB(r, p)`` thinned by ``ν`` to ``u``, ``m - u | u ~ NB(r + u, p (1 - ν))``.
    """
    return p * (1.0 - capture)


def nb_denoised_mean(
    counts: Float[Array, "..."],
    r: Float[Array, "..."],
    p: Float[Array, "..."],
    capture: Float[Array, "..."],
) -> Array:
    """``E[m | u] = u + (r + u) q / (1 - q)`` with ``q = p (1 - ν)`` (MATH.md, Denoising)."""
    return counts + nb_mean(r + counts, nb_uncaptured_probs(p, capture))
