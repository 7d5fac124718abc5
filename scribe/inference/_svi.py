"""Stochastic variational inference: the ELBO, one optax step, and scanned chunks of steps."""

import functools
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import optax
from jaxtyping import Array, ArrayLike, Float, PRNGKeyArray

from ..data import Batch, DeviceCounts
from ..encoders import AbstractEncoder, FreeEncoder
from ..latent_priors import kl_weight
from ..model import ScribeModel, VAENetworks


class SVIState(eqx.Module):
    """Everything a training run carries from one step to the next (and checkpoints).

    ``skipped`` counts the steps in which any module's update (guide, encoder, a VAE's
    networks) was not finite, so that ``optax.apply_if_finite`` skipped it; each
    optimizer state's ``total_notfinite`` counts its own module's.
    """

    guide: Any
    encoder: AbstractEncoder | None
    guide_opt_state: Any
    encoder_opt_state: Any
    key: PRNGKeyArray
    step: Array
    skipped: Array
    networks: VAENetworks | None = None
    networks_opt_state: Any = None


def negative_elbo(
    guide,
    encoder: AbstractEncoder | None,
    model: ScribeModel,
    batch: Batch,
    key: PRNGKeyArray,
    *,
    kl_weight: Float[ArrayLike, ""] = 1.0,
) -> Float[Array, ""]:
    """One-sample estimate of ``-ELBO = -E_q[log p(globals, locals, u) - log q]``.

    The per-cell ``log q`` of the batch's latents is scaled by N / B like the per-cell
    terms of the log-joint, so the estimate is unbiased for the full-data ELBO. In a VAE
    the ``log p(z) - log q(z)`` part is ``-KL(q(z) || p(z))``, in closed form for a
    standard Normal prior and by Monte Carlo otherwise, weighted by ``kl_weight`` (KL
    annealing; 1 is the ELBO).
    """
    key_globals, key_locals, key_kl = jax.random.split(key, 3)
    globals_, log_q = guide.sample_and_log_prob(key=key_globals)
    locals_ = {}
    if encoder is not None:
        scale = model.n_cells / batch.batch_size
        locals_, log_q_locals = encoder.sample_and_log_prob_by_name(batch, key=key_locals)
        if model.latent_prior is not None:
            loc, std = encoder.unconstrained_params(batch)["z"]
            kl = model.latent_prior.kl_divergence(loc, std, key=key_kl)
            log_q = log_q + scale * kl_weight * jnp.sum(kl)
            del log_q_locals["z"]
        log_q = log_q + scale * sum(jnp.sum(v) for v in log_q_locals.values())
    log_joint = model.log_joint(
        globals_, locals_, batch, latent_log_prior=model.latent_prior is None
    )
    return -(log_joint - log_q)


@functools.lru_cache(maxsize=32)
def make_optimizer(learning_rate: float, *, max_consecutive_errors: int = 100):
    """Adam, with non-finite steps skipped (and counted) by ``optax.apply_if_finite``.

    Cached: the same optimizer object lets ``run_steps`` reuse its compiled form
    across fits with the same settings.
    """
    return optax.apply_if_finite(optax.adam(learning_rate), max_consecutive_errors)


def _strongly_typed(tree: Any) -> Any:
    """``tree`` with weakly typed array leaves (from Python scalars) given strong dtypes.

    An update returns strongly typed leaves, so a weak leaf in the initial state would
    make the first training chunk compile a second time for the state it returns.
    """
    return jax.tree.map(
        lambda x: jnp.asarray(x, x.dtype) if getattr(x, "weak_type", False) else x, tree
    )


def init_state(guide, encoder, optimizer, *, key: PRNGKeyArray, networks=None) -> SVIState:
    """The state before the first step (every array leaf strongly typed)."""
    guide, encoder, networks = _strongly_typed((guide, encoder, networks))
    return SVIState(
        guide=guide,
        encoder=encoder,
        guide_opt_state=optimizer.init(eqx.filter(guide, eqx.is_inexact_array)),
        encoder_opt_state=(
            None if encoder is None else optimizer.init(eqx.filter(encoder, eqx.is_inexact_array))
        ),
        key=key,
        step=jnp.zeros((), jnp.int32),
        skipped=jnp.zeros((), jnp.int32),
        networks=networks,
        networks_opt_state=(
            None
            if networks is None
            else optimizer.init(eqx.filter(networks, eqx.is_inexact_array))
        ),
    )


def _keep_other_rows(new: Any, old: Any, in_batch: Array) -> Any:
    """Per-cell table policy: rows outside the batch keep their values and Adam moments.

    Without it, Adam's momentum keeps moving every row after its cell left the batch,
    by an amount that depends on how long ago it was sampled.
    """

    def select(n, o):
        if not eqx.is_array(n) or n.ndim == 0 or n.shape[0] != in_batch.shape[0]:
            return n
        mask = in_batch.reshape((-1,) + (1,) * (n.ndim - 1))
        return jnp.where(mask, n, o)

    return jax.tree.map(select, new, old)


def _update(module, opt_state, grads, optimizer):
    params = eqx.filter(module, eqx.is_inexact_array)
    updates, opt_state = optimizer.update(grads, opt_state, params)
    return eqx.apply_updates(module, updates), opt_state


def svi_step(
    state: SVIState,
    model: ScribeModel,
    optimizer: optax.GradientTransformation,
    batch: Batch,
    key: PRNGKeyArray,
    *,
    full_batch: bool = False,
    kl_warmup_steps: int | None = None,
) -> tuple[SVIState, Float[Array, ""]]:
    """One optax step on the guide, the encoder and a VAE's networks (``full_batch``:
    every cell is in the batch; ``kl_warmup_steps``: KL annealing of a VAE)."""
    kl = kl_weight(state.step, warmup_steps=kl_warmup_steps)

    @eqx.filter_value_and_grad
    def loss(trainable):
        guide, encoder, networks = trainable
        return negative_elbo(
            guide, encoder, model.with_networks(networks), batch, key, kl_weight=kl
        )

    value, (guide_grads, encoder_grads, networks_grads) = loss(
        (state.guide, state.encoder, state.networks)
    )
    guide, guide_opt = _update(state.guide, state.guide_opt_state, guide_grads, optimizer)
    encoder, encoder_opt = state.encoder, state.encoder_opt_state
    if state.encoder is not None:
        encoder, encoder_opt = _update(encoder, encoder_opt, encoder_grads, optimizer)
        if isinstance(state.encoder, FreeEncoder) and not full_batch:
            in_batch = jnp.zeros(model.n_cells, bool).at[batch.cell_index].set(True)
            encoder = _keep_other_rows(encoder, state.encoder, in_batch)
            encoder_opt = _keep_other_rows(encoder_opt, state.encoder_opt_state, in_batch)
    networks, networks_opt = state.networks, state.networks_opt_state
    if state.networks is not None:
        networks, networks_opt = _update(networks, networks_opt, networks_grads, optimizer)
    states = (guide_opt, encoder_opt, networks_opt)
    applied = jnp.stack([opt.last_finite for opt in states if opt is not None])
    new_state = SVIState(
        guide=guide,
        encoder=encoder,
        guide_opt_state=guide_opt,
        encoder_opt_state=encoder_opt,
        key=state.key,
        step=state.step + 1,
        skipped=state.skipped + jnp.logical_not(jnp.all(applied)),
        networks=networks,
        networks_opt_state=networks_opt,
    )
    return new_state, value


@eqx.filter_jit
def run_steps(
    state: SVIState,
    model: ScribeModel,
    optimizer: optax.GradientTransformation,
    counts: DeviceCounts,
    *,
    n_steps: int,
    batch_size: int,
    capacity: int,
    kl_warmup_steps: int | None = None,
) -> tuple[SVIState, Float[Array, " n_steps"]]:
    """``n_steps`` SVI steps in one dispatch (``lax.scan``), minibatches drawn inside jit.

    The PRNG key in the state is split once per step, so a run of ``a + b`` steps and a
    run of ``a`` steps followed by ``b`` more follow the same random stream.
    """
    full = batch_size == counts.n_cells
    # The scan carries arrays only: encoders may hold functions (activations).
    arrays, static = eqx.partition(state, eqx.is_array)

    def body(arrays: SVIState, _):
        state = eqx.combine(arrays, static)
        key, key_batch, key_elbo = jax.random.split(state.key, 3)
        if full:
            batch = counts.full_batch()
        else:
            batch = counts.sample_batch(batch_size, key=key_batch, capacity=capacity)
        state = eqx.tree_at(lambda s: s.key, state, key)
        state, loss = svi_step(
            state,
            model,
            optimizer,
            batch,
            key_elbo,
            full_batch=full,
            kl_warmup_steps=kl_warmup_steps,
        )
        return eqx.filter(state, eqx.is_array), loss

    arrays, losses = jax.lax.scan(body, arrays, None, length=n_steps)
    return eqx.combine(arrays, static), losses


def skipped_updates(state: SVIState) -> dict[str, int]:
    """Each module's updates that ``optax.apply_if_finite`` skipped as not finite."""
    states = {
        "guide": state.guide_opt_state,
        "encoder": state.encoder_opt_state,
        "networks": state.networks_opt_state,
    }
    return {name: int(opt.total_notfinite) for name, opt in states.items() if opt is not None}
