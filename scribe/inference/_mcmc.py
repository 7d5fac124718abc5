"""NUTS on ``ScribeModel.log_joint``: the globals in unconstrained coordinates and the
per-cell latents as a ``PointEncoder`` table, moved together by numpyro's functional
``hmc(potential_fn_gen=..., algo="NUTS")``.

The position NUTS moves is a ``Position``: one pytree of the unconstrained globals and
the point table. Its log density is ``log_joint`` at the constrained values plus the log
Jacobian of every transform, so the draws, mapped back, are draws of the posterior over
the constrained parameters. No second model definition: SVI optimizes the same
``log_joint`` with ``FreeEncoder`` as the table of per-cell Normals.

The kernel state (``HMCState``: position, gradient, adaptation, PRNG key) is a pytree of
arrays, so a run is advanced in scanned blocks of iterations and checkpointed between
blocks; resuming from a block boundary repeats the uninterrupted run exactly.
"""

import dataclasses
import functools
from collections.abc import Mapping

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray
from numpyro.distributions.transforms import Transform
from numpyro.infer.hmc import HMCState, hmc

from ..data import Batch
from ..encoders import PointEncoder, latent_transform
from ..model import ScribeModel
from ..parameterizations import unconstrained_transform

# Unit-interval values are clamped this far inside (0, 1) before their logit, and
# positive ones into [POSITIVE_RANGE], so a start taken from a fit never sits on a boundary.
UNIT_MARGIN = 1e-6
POSITIVE_RANGE = (1e-8, 1e8)


class Position(eqx.Module):
    """What NUTS moves: unconstrained globals by name and the per-cell point table."""

    globals_: dict[str, Float[Array, "..."]]
    locals_: PointEncoder | None


def global_transform(model: ScribeModel, name: str) -> Transform:
    """The bijection from the real line onto global ``name``'s domain (the
    parameterization's own for its coordinates; ``gate`` through the sigmoid)."""
    if name in model.parameterization.sampled:
        return model.parameterization.unconstrained_transform(name)
    return unconstrained_transform(name, positive_transform="exp")


def local_names(model: ScribeModel) -> tuple[str, ...]:
    """The per-cell latents NUTS samples (the capture coordinate of VCP models)."""
    return tuple(model.local_priors)


def constrain(
    model: ScribeModel, position: Position, batch: Batch
) -> tuple[dict[str, Array], dict[str, Array], Float[Array, ""]]:
    """Globals and locals on their domains, and the summed log Jacobian of the maps."""
    globals_, log_det = {}, jnp.zeros(())
    for name, raw in position.globals_.items():
        transform = global_transform(model, name)
        globals_[name] = transform(raw)
        log_det = log_det + jnp.sum(transform.log_abs_det_jacobian(raw, globals_[name]))
    locals_ = {}
    if position.locals_ is not None:
        locals_, per_cell = position.locals_.constrained(batch)
        log_det = log_det + jnp.sum(per_cell)
    return globals_, locals_, log_det


def log_density(model: ScribeModel, batch: Batch, position: Position) -> Float[Array, ""]:
    """``log p(θ, locals, u)`` at the constrained values plus the log Jacobian: the
    density NUTS targets over the unconstrained position."""
    globals_, locals_, log_det = constrain(model, position, batch)
    return model.log_joint(globals_, locals_, batch) + log_det


def unconstrained_position(
    model: ScribeModel, globals_: Mapping[str, Array], locals_: Mapping[str, Array]
) -> Position:
    """The position of constrained values (clamped inside their domains first)."""
    raw = {}
    for name in model.global_priors:
        raw[name] = _to_real(global_transform(model, name), globals_[name])
    table = None
    if names := local_names(model):
        transforms = {n: latent_transform(n, positive_transform="exp") for n in names}
        values = {n: _to_real(transforms[n], locals_[n]) for n in names}
        table = PointEncoder(names, values, positive_transform="exp")
    return Position(globals_=raw, locals_=table)


def _to_real(transform: Transform, value) -> Array:
    """``transform.inv(value)`` after clamping ``value`` inside the transform's codomain."""
    value = jnp.asarray(value, jnp.result_type(float))
    domain = transform.codomain
    bounds = (getattr(domain, "lower_bound", None), getattr(domain, "upper_bound", None))
    if bounds == (0, 1):
        value = jnp.clip(value, UNIT_MARGIN, 1.0 - UNIT_MARGIN)
    elif bounds[0] == 0:
        value = jnp.clip(value, *POSITIVE_RANGE)
    return transform.inv(value)


@dataclasses.dataclass(frozen=True, kw_only=True)
class NutsSettings:
    """The sampler's settings (validated by ``InferenceConfig``)."""

    n_warmup: int
    target_accept_prob: float = 0.8
    max_tree_depth: int = 10
    dense_mass: bool = False


class Record(eqx.Module):
    """What each iteration of a chain leaves: its draw and the sampler's statistics."""

    globals_: dict[str, Array]  # constrained
    locals_: dict[str, Array]  # constrained, (cells,)
    log_joint: Float[Array, ""]
    diverging: Array
    num_steps: Array
    accept_prob: Array


@functools.lru_cache(maxsize=32)
def _kernels(settings: NutsSettings):
    """numpyro's NUTS ``(init_kernel, sample_kernel)`` for ``settings``, built once per
    settings so that compiled blocks are reused by later runs: the model and the data are
    the kernel's arguments (``potential_fn_gen``), not constants of its closure."""

    def potential_fn_gen(model: ScribeModel, batch: Batch):
        return lambda position: -log_density(model, batch, position)

    return hmc(potential_fn_gen=potential_fn_gen, algo="NUTS")


class NutsSampler(eqx.Module):
    """numpyro's functional NUTS on the potential ``-log_density(model, batch, ·)``.

    The model and the data enter as the kernel's model arguments, so one compiled block
    serves every model of the same structure and every batch of the same shapes (a second
    fit of the same size compiles nothing; the simulation-based calibration maps one
    compiled chain over its data sets).

    Parameters
    ----------
    model
        The model (built with the float dtype the run uses).
    settings
        Warmup length and NUTS options.
    """

    model: ScribeModel
    settings: NutsSettings = eqx.field(static=True)

    def init(self, position: Position, batch: Batch, key: PRNGKeyArray) -> HMCState:
        """The kernel state of one chain at ``position`` (trace before ``advance``: it
        also sets the kernel's warmup schedule)."""
        s = self.settings
        init_kernel, _ = _kernels(s)
        return init_kernel(
            position,
            s.n_warmup,
            target_accept_prob=s.target_accept_prob,
            max_tree_depth=s.max_tree_depth,
            dense_mass=s.dense_mass,
            model_args=(self.model, batch),
            rng_key=jax.random.key_data(key) if _is_typed(key) else key,
        )

    def advance(self, state: HMCState, batch: Batch, n_iterations: int):
        """``n_iterations`` NUTS transitions of one chain (adapting while ``state.i`` is
        in the warmup), and the ``Record`` of each."""
        _, sample_kernel = _kernels(self.settings)

        def step(state, _):
            state = sample_kernel(state, model_args=(self.model, batch))
            globals_, locals_, log_det = constrain(self.model, state.z, batch)
            record = Record(
                globals_=globals_,
                locals_=locals_,
                log_joint=-state.potential_energy - log_det,
                diverging=state.diverging,
                num_steps=state.num_steps,
                accept_prob=state.accept_prob,
            )
            return state, record

        return jax.lax.scan(step, state, length=n_iterations)

    def init_chains(self, positions: Position, batch: Batch, keys) -> HMCState:
        """``init`` over stacked positions and keys (one per chain), compiled."""
        return _init_chains(self, positions, batch, keys)

    def advance_chains(self, states: HMCState, batch: Batch, n_iterations: int):
        """``advance`` for each chain in turn (``lax.map``: on a CPU, chains in sequence
        cost the sum of their trajectories, vmapped ones the chain count times the
        longest), compiled once per block length."""
        return _advance_chains(self, states, batch, n_iterations)


@eqx.filter_jit
def _init_chains(sampler: NutsSampler, positions: Position, batch: Batch, keys) -> HMCState:
    return jax.vmap(sampler.init, in_axes=(0, None, 0))(positions, batch, keys)


@eqx.filter_jit
def _advance_chains(sampler: NutsSampler, states: HMCState, batch: Batch, n_iterations: int):
    return jax.lax.map(lambda s: sampler.advance(s, batch, n_iterations), states)


def _is_typed(key) -> bool:
    return jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key)
