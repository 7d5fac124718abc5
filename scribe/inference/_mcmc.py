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
    """The sampler's settings (validated by ``scribe.McmcConfig``)."""

    n_warmup: int
    target_accept_prob: float = 0.8
    max_tree_depth: int = 10
    dense_mass: bool = False


class Record(eqx.Module):
    """What a chain leaves at each kept draw: the draw and the sampler's statistics over
    the transitions since the previous kept draw (``thinning`` of them)."""

    globals_: dict[str, Array]  # constrained
    locals_: dict[str, Array]  # constrained, (cells,); empty when a CellSummary keeps them
    log_joint: Float[Array, ""]
    diverging: Array  # any of the transitions diverged
    num_steps: Array  # the most leapfrog steps of any of them
    accept_prob: Array  # their mean acceptance probability


class CellSummary(eqx.Module):
    """Per-cell latents of a chain's kept draws, summarised instead of kept one by one:
    their sum and sum of squares (mean and variance) and their values at the kept draw
    of highest log-joint (what ``get_map`` reports)."""

    total: dict[str, Float[Array, " cells"]]
    total_sq: dict[str, Float[Array, " cells"]]
    n_draws: Array
    best_log_joint: Float[Array, ""]
    at_best: dict[str, Float[Array, " cells"]]

    @classmethod
    def zeros(cls, names: tuple[str, ...], n_cells: int) -> "CellSummary":
        """The summary of no draws."""
        zero = {n: jnp.zeros(n_cells, jnp.result_type(float)) for n in names}
        return cls(
            total=zero,
            total_sq=zero,
            n_draws=jnp.zeros((), jnp.int32),
            best_log_joint=jnp.full((), -jnp.inf, jnp.result_type(float)),
            at_best=zero,
        )

    def add(self, locals_: dict[str, Array], log_joint: Float[Array, ""]) -> "CellSummary":
        """This summary with one more draw."""
        better = log_joint > self.best_log_joint
        return CellSummary(
            total={n: v + locals_[n] for n, v in self.total.items()},
            total_sq={n: v + locals_[n] ** 2 for n, v in self.total_sq.items()},
            n_draws=self.n_draws + 1,
            best_log_joint=jnp.where(better, log_joint, self.best_log_joint),
            at_best={n: jnp.where(better, locals_[n], v) for n, v in self.at_best.items()},
        )


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

    def _transition(self, state: HMCState, batch: Batch) -> HMCState:
        _, sample_kernel = _kernels(self.settings)
        return sample_kernel(state, model_args=(self.model, batch))

    def warm_up(self, state: HMCState, batch: Batch, n_iterations: int) -> HMCState:
        """``n_iterations`` transitions of one chain, recording nothing (the warmup)."""
        return jax.lax.fori_loop(0, n_iterations, lambda _, s: self._transition(s, batch), state)

    def advance(
        self,
        state: HMCState,
        batch: Batch,
        n_draws: int,
        *,
        thinning: int = 1,
        cells: CellSummary | None = None,
    ):
        """``n_draws × thinning`` NUTS transitions of one chain (adapting while
        ``state.i`` is in the warmup) and the ``Record`` of every ``thinning``-th.

        With ``cells``, each kept draw's per-cell latents go into that summary instead of
        its record; the call then returns ``(state, cells, records)``, else
        ``(state, records)``.
        """

        def transition(_, carry):
            state, diverging, num_steps, accept = carry
            state = self._transition(state, batch)
            return (
                state,
                diverging | state.diverging,
                jnp.maximum(num_steps, state.num_steps),
                accept + state.accept_prob,
            )

        def draw(carry, _):
            state, cells = carry
            zeros = (jnp.zeros_like(x) for x in (state.diverging, state.num_steps))
            start = (state, *zeros, jnp.zeros_like(state.accept_prob))
            state, diverging, num_steps, accept = jax.lax.fori_loop(0, thinning, transition, start)
            globals_, locals_, log_det = constrain(self.model, state.z, batch)
            log_joint = -state.potential_energy - log_det
            if cells is not None:
                cells, locals_ = cells.add(locals_, log_joint), {}
            record = Record(
                globals_=globals_,
                locals_=locals_,
                log_joint=log_joint,
                diverging=diverging,
                num_steps=num_steps,
                accept_prob=accept / thinning,
            )
            return (state, cells), record

        (state, out_cells), records = jax.lax.scan(draw, (state, cells), length=n_draws)
        return (state, records) if cells is None else (state, out_cells, records)

    def init_chains(self, positions: Position, batch: Batch, keys) -> HMCState:
        """``init`` over stacked positions and keys (one per chain), compiled."""
        return _init_chains(self, positions, batch, keys)

    def warm_up_chains(
        self, states: HMCState, batch: Batch, n_iterations: int, *, vectorized: bool = False
    ) -> HMCState:
        """``warm_up`` of every chain (see ``advance_chains`` for ``vectorized``)."""
        return _warm_up_chains(self, states, batch, n_iterations, vectorized)

    def advance_chains(
        self,
        states: HMCState,
        batch: Batch,
        n_draws: int,
        *,
        thinning: int = 1,
        cells: CellSummary | None = None,
        vectorized: bool = False,
    ):
        """``advance`` of every chain (leading axis of ``states`` and ``cells``), compiled
        once per block length.

        ``vectorized=False``: the chains one after the other (``lax.map``; on a CPU each
        chain costs its own trajectories). ``vectorized=True``: all at once (``vmap``;
        on an accelerator the chains run in parallel, each iteration as long as the
        longest chain's trajectory). Both run the same transitions from the same keys;
        their floating-point rounding differs, so the draws agree closely at first and,
        chaotically, less over a long run (draws of the same posterior either way).
        """
        return _advance_chains(self, states, batch, n_draws, thinning, cells, vectorized)


@eqx.filter_jit
def _init_chains(sampler: NutsSampler, positions: Position, batch: Batch, keys) -> HMCState:
    return jax.vmap(sampler.init, in_axes=(0, None, 0))(positions, batch, keys)


def _over_chains(function, vectorized: bool):
    """``function`` of one chain's arrays over a leading chain axis."""
    if vectorized:
        return jax.vmap(function)
    return lambda *chains: jax.lax.map(lambda args: function(*args), chains)


@eqx.filter_jit
def _warm_up_chains(sampler, states, batch, n_iterations: int, vectorized: bool):
    run = _over_chains(lambda s: sampler.warm_up(s, batch, n_iterations), vectorized)
    return run(states)


@eqx.filter_jit
def _advance_chains(sampler, states, batch, n_draws: int, thinning: int, cells, vectorized):
    def one(state, *chain_cells):
        summary = chain_cells[0] if chain_cells else None
        return sampler.advance(state, batch, n_draws, thinning=thinning, cells=summary)

    chains = (states,) if cells is None else (states, cells)
    return _over_chains(one, vectorized)(*chains)


def _is_typed(key) -> bool:
    return jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key)
