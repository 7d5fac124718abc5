"""The Python side of MCMC: float64 scope, chain starts, blocks of NUTS iterations,
progress, checkpoints and the diagnostics warnings (``scribe.fit(inference_method="mcmc")``).
"""

import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from tqdm.auto import tqdm

from ._config import InferenceConfig, ModelConfig
from ._initial import moment_estimates
from ._training import open_store
from ._warnings import McmcWarning
from .data import CountData
from .inference._draws import McmcDraws
from .inference._mcmc import NutsSampler, NutsSettings, Position, unconstrained_position
from .model import ScribeModel
from .results import ScribeResults

# Chains after the first start this far (uniformly, per coordinate) from the first, in
# the unconstrained coordinates: a factor e either way for positive values.
START_RADIUS = 1.0
# The most iterations one compiled block runs between two returns to Python.
BLOCK = 100
# Diagnostics thresholds (Vehtari et al. 2021): R-hat, and ESS per chain.
RHAT_MAX = 1.01
ESS_PER_CHAIN_MIN = 100


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
    model_config: ModelConfig,
    inference_config: InferenceConfig,
    svi_init: ScribeResults | None,
    checkpoint_dir: str | Path | None,
    resume: bool,
    progress: bool,
) -> ScribeResults:
    """Run ``n_chains`` NUTS chains in float64 and return their draws as results.

    ``make_model`` is called inside the float64 scope (the sampler's model) and outside
    it (the results' model, in the default precision like every other fit).
    """
    config = inference_config
    with float64():
        draws = _run_chains(
            make_model(),
            counts,
            model_config=model_config,
            config=config,
            svi_init=svi_init,
            checkpoint_dir=checkpoint_dir,
            resume=resume,
            progress=progress,
        )
    results = ScribeResults(
        model=make_model(),
        guide=None,
        encoder=None,
        loss_history=np.zeros(0),
        counts=counts,
        model_config=model_config,
        inference_config=config,
        draws=draws,
    )
    warn_on_diagnostics(results)
    return results


def _run_chains(
    model: ScribeModel,
    counts: CountData,
    *,
    model_config: ModelConfig,
    config: InferenceConfig,
    svi_init: ScribeResults | None,
    checkpoint_dir,
    resume: bool,
    progress: bool,
) -> McmcDraws:
    # float64 counts too: log u! and the pair table are functions of the counts alone
    batch = counts.to_device(dtype=jnp.float64).full_batch()
    key_start, key_chains = jax.random.split(jax.random.key(config.seed))
    starts = chain_starts(model, counts, config.n_chains, key_start, svi_init)
    sampler = NutsSampler(
        model,
        NutsSettings(
            n_warmup=config.n_warmup,
            target_accept_prob=config.target_accept_prob,
            max_tree_depth=config.max_tree_depth,
            dense_mass=config.dense_mass,
        ),
    )
    states = sampler.init_chains(starts, batch, jax.random.split(key_chains, config.n_chains))
    draws = empty_draws(model, config, counts.n_cells)
    iteration = 0
    store = open_store(checkpoint_dir, model_config, config, counts, resume=resume, max_to_keep=2)
    if store is not None and store.steps():
        iteration, restored, _ = store.restore_latest({"states": states, "draws": draws.arrays()})
        states = restored["states"]
        draws = McmcDraws.from_arrays(restored["draws"], max_tree_depth=draws.max_tree_depth)
    total = config.n_warmup + config.n_samples
    bar = tqdm(total=total, initial=iteration, disable=not progress, desc="MCMC")
    try:
        while iteration < total:
            length = _block_length(iteration, config)
            states, records = sampler.advance_chains(states, batch, length)
            if iteration >= config.n_warmup:
                block = jax.tree.map(np.asarray, records)
                draws.fill(
                    iteration - config.n_warmup,
                    vars(block),
                    np.asarray(states.adapt_state.step_size),
                )
            iteration += length
            bar.update(length)
            bar.set_postfix(
                phase="warmup" if iteration <= config.n_warmup else "sampling",
                divergences=int(draws.diverging.sum()),
            )
            at_boundary = iteration % config.checkpoint_every == 0 or iteration in (
                config.n_warmup,
                total,
            )
            if store is not None and at_boundary:
                store.save(iteration, {"states": states, "draws": draws.arrays()})
    finally:
        bar.close()
        if store is not None:
            store.close()
    return draws


def empty_draws(model: ScribeModel, config: InferenceConfig, n_cells: int) -> McmcDraws:
    """The draws arrays of a run (to fill, or to restore saved ones into)."""
    return McmcDraws.empty(
        model.global_shapes,
        tuple(model.local_priors),
        n_chains=config.n_chains,
        n_draws=config.n_samples,
        n_cells=n_cells,
        max_tree_depth=config.max_tree_depth,
    )


def _block_length(iteration: int, config: InferenceConfig) -> int:
    """Iterations up to the next block boundary: a multiple of ``BLOCK``, the end of the
    warmup, a checkpoint, or the end (one compiled length serves all full blocks)."""
    total = config.n_warmup + config.n_samples
    boundaries = [total, (iteration // BLOCK + 1) * BLOCK]
    boundaries.append((iteration // config.checkpoint_every + 1) * config.checkpoint_every)
    if iteration < config.n_warmup:
        boundaries.append(config.n_warmup)
    return min(boundaries) - iteration


def chain_starts(
    model: ScribeModel,
    counts: CountData,
    n_chains: int,
    key,
    svi_init: ScribeResults | None,
) -> Position:
    """Each chain's starting position, stacked on a leading chain axis.

    The first chain starts at the centre: ``svi_init``'s MAP, converted to this model's
    parameterization through the natural parameters, or else the method-of-moments
    estimates; the others at independent uniform offsets of ``START_RADIUS`` around it in
    the unconstrained coordinates.
    """
    globals_, locals_ = _centre(model, counts, svi_init)
    centre = unconstrained_position(model, globals_, locals_)
    leaves, treedef = jax.tree.flatten(centre)
    keys = jax.random.split(key, len(leaves))
    stacked = []
    for leaf, k in zip(leaves, keys, strict=True):
        offsets = jax.random.uniform(k, (n_chains, *leaf.shape), leaf.dtype, -1.0, 1.0)
        offsets = offsets.at[0].set(0.0) * START_RADIUS
        stacked.append(leaf[None] + offsets)
    return jax.tree.unflatten(treedef, stacked)


def _centre(model: ScribeModel, counts: CountData, svi_init: ScribeResults | None):
    """Constrained globals and locals of the first chain's start."""
    if svi_init is None:
        natural = moment_estimates(
            counts,
            variable_capture=model.capture is not None,
            two_state=model.model.startswith("twostate"),
        )
    else:
        # get_map holds the natural parameters whatever the fit's parameterization
        natural = {k: np.asarray(v, np.float64) for k, v in svi_init.get_map().items()}
    globals_ = dict(model.parameterization.from_natural(natural))
    if "gate" in model.global_priors:
        globals_["gate"] = natural["gate"]
    shapes = model.global_shapes
    globals_ = {n: jnp.reshape(jnp.asarray(globals_[n]), s) for n, s in shapes.items()}
    locals_ = {}
    if model.capture is not None:
        locals_ = dict(model.capture.from_natural(natural))
    return globals_, locals_


def check_svi_init(svi_init: Any, model_config: ModelConfig, counts: CountData) -> None:
    """``svi_init`` must be results of the same model on the same genes (and, with
    per-cell capture, the same cells); raised before anything runs."""
    if not isinstance(svi_init, ScribeResults):
        raise TypeError(f"svi_init must be ScribeResults or None, found {type(svi_init).__name__}")
    if svi_init.is_vae:
        raise ValueError(
            "svi_init must be results of a non-amortized fit (SVI or MCMC); VAE results "
            "hold a decoded mean per cell, not the model's per-gene parameters"
        )
    if svi_init.model_config.model != model_config.model:
        raise ValueError(
            f"svi_init was fitted with model {svi_init.model_config.model!r}; this MCMC fit "
            f"is of model {model_config.model!r}: fit SVI with the same model"
        )
    if svi_init.gene_names != tuple(str(g) for g in counts.gene_names):
        raise ValueError(
            f"svi_init was fitted to {len(svi_init.gene_names)} genes that are not the "
            f"{counts.n_genes} genes of data (in order)"
        )
    same_cells = svi_init.counts.n_cells == counts.n_cells and np.array_equal(
        svi_init.counts.cell_names, counts.cell_names
    )
    if svi_init.model.capture is not None and not same_cells:
        raise ValueError(
            f"svi_init was fitted to {svi_init.counts.n_cells} cells that are not the "
            f"{counts.n_cells} cells of data: its per-cell capture cannot start these chains"
        )


def warn_on_diagnostics(results: ScribeResults) -> None:
    """One ``McmcWarning`` naming each diagnostic past its threshold."""
    table = results.summary()
    sampler = table.attrs["sampler"]
    n_chains = sampler["n_chains"]
    problems = []
    rhat = table["r_hat"].to_numpy()
    if np.any(rhat > RHAT_MAX):
        worst = table.index[int(np.nanargmax(rhat))]
        problems.append(
            f"{int(np.sum(rhat > RHAT_MAX))} of {len(table)} parameters have R-hat > "
            f"{RHAT_MAX} (worst {worst}: {np.nanmax(rhat):.3f})"
        )
    for column in ("ess_bulk", "ess_tail"):
        ess = table[column].to_numpy()
        low = ess < ESS_PER_CHAIN_MIN * n_chains
        if np.any(low):
            problems.append(
                f"{int(np.sum(low))} parameters have {column} < {ESS_PER_CHAIN_MIN} per chain "
                f"(lowest {table.index[int(np.nanargmin(ess))]}: {np.nanmin(ess):.0f})"
            )
    if sum(sampler["divergences"]):
        problems.append(f"{sum(sampler['divergences'])} divergent transitions after warmup")
    if sum(sampler["tree_depth_saturated"]):
        problems.append(
            f"{sum(sampler['tree_depth_saturated'])} trajectories reached max_tree_depth "
            f"{sampler['max_tree_depth']}"
        )
    if problems:
        warnings.warn(
            "MCMC diagnostics: " + "; ".join(problems) + ". See results.summary(); run longer "
            "chains (n_warmup, n_samples), or raise target_accept_prob for divergences.",
            McmcWarning,
            stacklevel=3,
        )
