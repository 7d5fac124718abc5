"""Denoising: pre-capture counts given the observed ones (MATH.md, "Denoising")."""

import jax
import jax.numpy as jnp
from jaxtyping import Array

from ..likelihoods._formulas import (
    gamma_poisson_sample,
    nb_denoised_mean,
    nb_mean,
    nb_thinned_probs,
    nb_uncaptured_probs,
)


def _technical_zero_probability(counts, natural) -> Array | None:
    """Posterior probability that an observed zero came from the gate (None without one)."""
    if "gate" not in natural:
        return None
    r, gate = natural["r"][None, :], natural["gate"][None, :]
    p_hat = nb_thinned_probs(natural["p"], natural["p_capture"][:, None])
    log_nb_zero = r * jnp.log1p(-p_hat)
    prob = gate / (gate + (1.0 - gate) * jnp.exp(log_nb_zero))
    return jnp.where(counts == 0, prob, 0.0)


def denoise_mean(counts, natural) -> Array:
    r, p, nu = natural["r"][None, :], natural["p"], natural["p_capture"][:, None]
    biological = nb_denoised_mean(counts, r, p, nu)
    technical = _technical_zero_probability(counts, natural)
    if technical is None:
        return biological
    return technical * nb_mean(r, p) + (1.0 - technical) * biological


def denoise_sample(counts, natural, key) -> Array:
    r, p, nu = natural["r"][None, :], natural["p"], natural["p_capture"][:, None]
    key_missed, key_gate, key_prior = jax.random.split(key, 3)
    q = nb_uncaptured_probs(p, nu)
    shape = counts.shape
    missed = gamma_poisson_sample(key_missed, r + counts, q / (1.0 - q), shape)
    biological = counts + missed
    technical = _technical_zero_probability(counts, natural)
    if technical is None:
        return biological
    prior = gamma_poisson_sample(key_prior, r, p / (1.0 - p), shape)
    is_technical = jax.random.bernoulli(key_gate, technical)
    return jnp.where(is_technical, prior, biological)
