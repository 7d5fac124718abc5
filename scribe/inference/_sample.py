"""The Python side of MCMC: float64 scope, chain starts, blocks of NUTS iterations,
progress and checkpoints (``scribe.fit(inference_method="mcmc")``). Returns the draws,
never a results object.
"""

from collections.abc import Callable, Mapping
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import ArrayLike
from tqdm.auto import tqdm

from ..build import capture_start, starting_values
from ..config import FitConfig
from ..data import CountData
from ..model import ScribeModel
from ._draws import McmcDraws
from ._mcmc import CellSummary, NutsSampler, NutsSettings, Position, unconstrained_position
from ._store import open_store

# Chains after the first start this far (uniformly, per coordinate) from the first, in
# the unconstrained coordinates: a factor e either way for positive values.
START_RADIUS = 1.0
# The most iterations one compiled block runs between two returns to Python.
BLOCK = 100


def float64():
    """A context in which jax computes in float64 (``jax.enable_x64``), undone on exit."""
    enable = getattr(jax, "enable_x64", None)
    if enable is None:  # jax < 0.5
        from jax.experimental import enable_x64 as enable
    return enable(True)


def sample(
    make_model: Callable[[], ScribeModel],
    counts: CountData,
    *,
    config: FitConfig,
    start: Mapping[str, ArrayLike] | None,
    checkpoint_dir: str | Path | None,
    resume: bool,
    progress: bool,
) -> McmcDraws:
    """Run ``config.n_chains`` NUTS chains in float64 and return their draws.

    ``make_model`` is called inside the float64 scope (the sampler's model). ``start``:
    natural parameters (those of ``ScribeResults.get_map``) the first chain starts from;
    None: the method-of-moments estimates.
    """
    with float64():
        model = make_model()
        # float64 counts too: log u! and the pair table are functions of the counts alone
        batch = counts.to_device(dtype=jnp.float64).full_batch()
        key_start, key_chains = jax.random.split(jax.random.key(config.seed))
        starts = chain_starts(model, counts, config.n_chains, key_start, start)
        mcmc = config.mcmc
        sampler = NutsSampler(
            model,
            NutsSettings(
                n_warmup=config.n_warmup,
                target_accept_prob=mcmc.target_accept_prob,
                max_tree_depth=mcmc.max_tree_depth,
                dense_mass=mcmc.dense_mass,
            ),
        )
        keys = jax.random.split(key_chains, config.n_chains)
        states = sampler.init_chains(starts, batch, keys)
        return _run_chains(
            sampler,
            states,
            batch,
            counts,
            config=config,
            checkpoint_dir=checkpoint_dir,
            resume=resume,
            progress=progress,
        )


def _run_chains(
    sampler: NutsSampler,
    states,
    batch,
    counts: CountData,
    *,
    config: FitConfig,
    checkpoint_dir,
    resume: bool,
    progress: bool,
) -> McmcDraws:
    mcmc = config.mcmc
    draws = empty_draws(sampler.model, config, counts.n_cells)
    iteration = 0
    store = open_store(checkpoint_dir, config, counts, resume=resume, max_to_keep=2)
    if store is not None and store.steps():
        iteration, restored, _ = store.restore_latest({"states": states, "draws": draws.arrays()})
        states = restored["states"]
        draws = McmcDraws.from_arrays(restored["draws"], max_tree_depth=draws.max_tree_depth)
    cells = None if draws.cells is None else CellSummary(**jax.tree.map(jnp.asarray, draws.cells))
    vectorized = mcmc.chain_method == "vectorized"
    total = config.n_warmup + config.n_samples
    bar = tqdm(total=total, initial=iteration, disable=not progress, desc="MCMC")
    try:
        while iteration < total:
            end = _block_end(iteration, config)
            if iteration < config.n_warmup:
                states = sampler.warm_up_chains(
                    states, batch, end - iteration, vectorized=vectorized
                )
            else:
                out = sampler.advance_chains(
                    states,
                    batch,
                    (end - iteration) // mcmc.thinning,
                    thinning=mcmc.thinning,
                    cells=cells,
                    vectorized=vectorized,
                )
                states, records = out[0], out[-1]
                cells = None if cells is None else out[1]
                draws.fill(
                    (iteration - config.n_warmup) // mcmc.thinning,
                    vars(jax.tree.map(np.asarray, records)),
                    np.asarray(states.adapt_state.step_size),
                    cells=None if cells is None else vars(cells),
                )
            checkpoint = end // config.checkpoint_every > iteration // config.checkpoint_every
            bar.update(end - iteration)
            iteration = end
            bar.set_postfix(
                phase="warmup" if iteration <= config.n_warmup else "sampling",
                divergences=int(draws.diverging.sum()),
            )
            if store is not None and (checkpoint or iteration in (config.n_warmup, total)):
                store.save(iteration, {"states": states, "draws": draws.arrays()})
    finally:
        bar.close()
        if store is not None:
            store.close()
    return draws


def empty_draws(model: ScribeModel, config: FitConfig, n_cells: int) -> McmcDraws:
    """The draws arrays of a run (to fill, or to restore saved ones into)."""
    return McmcDraws.empty(
        model.global_shapes,
        tuple(model.local_priors),
        n_chains=config.n_chains,
        n_draws=config.n_draws,
        n_cells=n_cells,
        max_tree_depth=config.mcmc.max_tree_depth,
        keep_cell_draws=config.mcmc.keep_cell_draws,
    )


def _block_end(iteration: int, config: FitConfig) -> int:
    """Where the block from ``iteration`` ends: at the next multiple of ``BLOCK``, the
    end of the warmup, the next checkpoint or the end, whichever comes first (one
    compiled length serves all full blocks); after the warmup, rounded up to a whole
    number of thinning groups (so a checkpoint may come a few iterations late)."""
    total = config.n_warmup + config.n_samples
    boundaries = [total, (iteration // BLOCK + 1) * BLOCK]
    boundaries.append((iteration // config.checkpoint_every + 1) * config.checkpoint_every)
    if iteration < config.n_warmup:
        return min([*boundaries, config.n_warmup])
    thinning = config.mcmc.thinning
    groups = -(-(min(boundaries) - config.n_warmup) // thinning)
    return min(config.n_warmup + groups * thinning, total)


def chain_starts(
    model: ScribeModel,
    counts: CountData,
    n_chains: int,
    key,
    start: Mapping[str, ArrayLike] | None = None,
) -> Position:
    """Each chain's starting position, stacked on a leading chain axis.

    The first chain starts at the centre: ``start``'s natural parameters (an SVI fit's
    MAP), converted to this model's parameterization, or else the method-of-moments
    estimates; the others at independent uniform offsets of ``START_RADIUS`` around it in
    the unconstrained coordinates.
    """
    globals_, locals_ = _centre(model, counts, start)
    centre = unconstrained_position(model, globals_, locals_)
    leaves, treedef = jax.tree.flatten(centre)
    keys = jax.random.split(key, len(leaves))
    stacked = []
    for leaf, k in zip(leaves, keys, strict=True):
        offsets = jax.random.uniform(k, (n_chains, *leaf.shape), leaf.dtype, -1.0, 1.0)
        offsets = offsets.at[0].set(0.0) * START_RADIUS
        stacked.append(leaf[None] + offsets)
    return jax.tree.unflatten(treedef, stacked)


def _centre(model: ScribeModel, counts: CountData, start: Mapping[str, ArrayLike] | None):
    """Constrained globals and locals of the first chain's start."""
    if start is None:
        values = starting_values(model, counts, seed=0, capture=capture_start(model))
        globals_ = {n: jnp.asarray(values[n]) for n in model.global_shapes}
        natural = values
    else:
        natural = {k: np.asarray(v, np.float64) for k, v in start.items()}
        globals_ = model.globals_from_natural(natural)
    locals_ = {}
    if model.capture is not None:
        locals_ = dict(model.capture.from_natural(natural))
    return globals_, locals_
