"""What a fitted VAE says about cells: embeddings, latent draws, decoded parameters and
the importance-sampled marginal likelihood (``ScribeResults`` delegates here).

Each function takes the modules it reads and a ``Batch`` of the cells asked about
(``cells_batch``).
"""

from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, PRNGKeyArray

from ..data import Batch, CountData, load_counts


def cells_batch(fitted: CountData, data: Any) -> Batch:
    """All cells of ``data`` (None: the ``fitted`` ones) as one batch, genes checked."""
    if data is None:
        return fitted.to_device().full_batch()
    counts = load_counts(data, argument="data")
    if counts.n_genes != fitted.n_genes:
        raise ValueError(
            f"data must have the {fitted.n_genes} genes the model was fitted to; "
            f"found {counts.n_genes}"
        )
    fitted_names = tuple(map(str, fitted.gene_names))
    if hasattr(data, "var_names") and tuple(map(str, counts.gene_names)) != fitted_names:
        raise ValueError("data's var_names differ from the genes the model was fitted to")
    return counts.to_device().full_batch()


@eqx.filter_jit
def _embeddings(encoder, batch: Batch) -> Float[Array, "cells latent"]:
    return encoder.unconstrained_params(batch)["z"][0]


def latent_embeddings(encoder, batch: Batch) -> np.ndarray:
    """Posterior mean of each cell's ``z``."""
    return np.asarray(_embeddings(encoder, batch))


@eqx.filter_jit
def _latent_samples(encoder, batch: Batch, keys) -> Float[Array, "samples cells latent"]:
    return jax.vmap(lambda k: encoder.sample_and_log_prob_by_name(batch, key=k)[0]["z"])(keys)


def latent_samples(encoder, batch: Batch, n_samples: int, *, key: PRNGKeyArray) -> np.ndarray:
    """Draws of each cell's ``z`` from its approximate posterior."""
    keys = jax.random.split(key, _check_samples(n_samples))
    return np.asarray(_latent_samples(encoder, batch, keys))


@eqx.filter_jit
def _decoded(model, globals_, encoder, batch: Batch) -> dict[str, Array]:
    return model.decoded_natural(globals_, encoder.median(batch), batch)


def decoded_params(model, guide, encoder, batch: Batch) -> dict[str, np.ndarray]:
    """Each cell's decoded parameters (``ScribeModel.decoded_natural``) at the posterior
    medians of its latents and of the globals."""
    decoded = _decoded(model, guide.median(), encoder, batch)
    return {name: np.asarray(value) for name, value in decoded.items()}


@eqx.filter_jit
def encoder_draws(encoder, batch: Batch, keys) -> dict[str, Array]:
    """Draws of every cell's latents from the encoder, one per key (leading axis)."""
    return jax.vmap(lambda k: encoder.sample_and_log_prob_by_name(batch, key=k)[0])(keys)


@eqx.filter_jit
def decoded_draws(model, globals_, locals_, batch: Batch) -> dict[str, Array]:
    """``ScribeModel.decoded_natural`` at each draw (leading axis) of globals and latents."""
    return jax.vmap(model.decoded_natural, in_axes=(0, 0, None))(globals_, locals_, batch)


@eqx.filter_jit
def _log_likelihood_draws(model, globals_, locals_, batch: Batch, by: str) -> Array:
    return jax.lax.map(lambda draw: model.log_likelihood(*draw, batch, by=by), (globals_, locals_))


def log_likelihood_draws(
    model, batch: Batch, return_by: str, globals_, locals_, *, n_fitted_cells: int
) -> Array:
    """``log p(counts | draw)`` of a VAE per draw, by cell or by gene, for the counts of
    ``batch``, which must be of the fitted cells, whose latents the draws hold."""
    if return_by not in ("cell", "gene"):
        raise ValueError(f"return_by must be 'cell' or 'gene', found {return_by!r}")
    if return_by == "gene" and model.models_totals:
        raise ValueError(
            f"return_by='gene' is undefined for {model.model!r}: its multinomial "
            "couples a cell's genes"
        )
    if batch.batch_size != n_fitted_cells:
        raise ValueError(
            f"counts must have the {n_fitted_cells} fitted cells (their latents are "
            f"drawn from the fitted counts); found {batch.batch_size}"
        )
    return _log_likelihood_draws(model, globals_, locals_, batch, return_by)


@eqx.filter_jit
def _log_marginal(model, globals_, encoder, batch: Batch, keys) -> Float[Array, " cells"]:
    def weight(key):
        locals_, log_q = encoder.sample_and_log_prob_by_name(batch, key=key)
        log_p = model.log_likelihood(globals_, locals_, batch)
        log_p = log_p + model.latent_prior.log_prob(locals_["z"])
        if model.local_priors:
            log_p = log_p + model.local_log_prior(locals_, batch)
        return log_p - sum(log_q.values())

    weights = jax.lax.map(weight, keys)
    return jax.nn.logsumexp(weights, axis=0) - jnp.log(keys.shape[0])


def log_marginal_likelihood(
    model, guide, encoder, batch: Batch, *, n_samples: int = 100, key: PRNGKeyArray
) -> np.ndarray:
    """``log p(u_c)`` of each cell by importance sampling, the encoder as proposal:
    ``log (1/S) Σ_s p(u_c | z_s) p(z_s) / q(z_s | u_c)`` at the posterior median of the
    globals (with capture, ``ν_c`` is sampled with ``z``). A lower bound in expectation
    that tightens as ``n_samples`` grows."""
    keys = jax.random.split(key, _check_samples(n_samples))
    return np.asarray(_log_marginal(model, guide.median(), encoder, batch, keys))


def _check_samples(n_samples: Any) -> int:
    if isinstance(n_samples, bool) or not isinstance(n_samples, int) or n_samples < 1:
        raise ValueError(f"n_samples must be an int >= 1, found {n_samples!r}")
    return n_samples
