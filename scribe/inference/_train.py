"""The Python side of SVI and the VAE: chunks of scanned steps, progress, checkpoints,
early stopping. Returns the trained state, never a results object."""

import dataclasses
from pathlib import Path

import equinox as eqx
import jax
import numpy as np
from tqdm.auto import tqdm

from ..build import Modules
from ..config import FitConfig
from ..data import CountData
from ._monitor import LossMonitor
from ._store import open_store
from ._svi import SVIState, init_state, make_optimizer, run_steps, skipped_updates


@dataclasses.dataclass(frozen=True, kw_only=True, eq=False)
class SviRun:
    """A finished (or early-stopped) SVI / VAE run.

    Attributes
    ----------
    state
        The final ``SVIState``: guide, encoder, a VAE's networks and their optimizer
        states.
    loss_history
        The negative ELBO of every step run, resumed steps included.
    """

    state: SVIState
    loss_history: np.ndarray

    @property
    def skipped_steps(self) -> int:
        """Steps in which some module's update was not finite, and so skipped."""
        return int(self.state.skipped)

    @property
    def skipped_updates(self) -> dict[str, int]:
        """Skipped updates by module: ``guide``, ``encoder``, ``networks``."""
        return skipped_updates(self.state)


def train(
    modules: Modules,
    counts: CountData,
    *,
    config: FitConfig,
    checkpoint_dir: str | Path | None,
    resume: bool,
    progress: bool,
) -> SviRun:
    """Run SVI on ``modules`` to ``config.n_steps`` (from the latest checkpoint in
    ``checkpoint_dir`` if there is one and ``resume``), stopping early if asked."""
    model, svi = modules.model, config.svi
    device = counts.to_device()
    batch_size = config.batch_size or counts.n_cells
    capacity = device.nnz if batch_size == counts.n_cells else counts.sampling_capacity(batch_size)
    optimizer = make_optimizer(config.learning_rate)
    state = init_state(
        modules.guide,
        modules.encoder,
        optimizer,
        key=jax.random.key(config.seed),
        networks=model.networks,
    )
    arrays, static = eqx.partition(state, eqx.is_array)
    losses: list[float] = []
    store = open_store(checkpoint_dir, config, counts, resume=resume)
    if store is not None:
        restored = store.restore_latest(arrays) if store.steps() else None
        if restored is not None:
            _, arrays, extra = restored
            state = eqx.combine(arrays, static)
            losses = [float(x) for x in extra["loss_history"]]
    step = len(losses)
    monitor = LossMonitor(svi)
    stopped = monitor.replay(losses, svi.steps_per_dispatch)
    label = config.inference_method.upper()
    bar = tqdm(total=config.n_steps, initial=step, disable=not progress, desc=label)
    try:
        while step < config.n_steps and not stopped:
            chunk = min(svi.steps_per_dispatch, config.n_steps - step)
            state, chunk_losses = run_steps(
                state,
                model,
                optimizer,
                device,
                n_steps=chunk,
                batch_size=batch_size,
                capacity=capacity,
                kl_warmup_steps=None if config.vae is None else config.vae.kl_warmup_steps,
            )
            chunk_losses = np.asarray(chunk_losses, dtype=float)
            losses.extend(chunk_losses.tolist())
            step += chunk
            stopped = monitor.update(chunk_losses, step)
            bar.update(chunk)
            if monitor.smoothed is not None:
                bar.set_postfix(loss=f"{monitor.smoothed:.4g}")
            if store is not None and step % config.checkpoint_every == 0:
                store.save(
                    step,
                    eqx.filter(state, eqx.is_array),
                    extra={"loss_history": losses, "skipped_steps": int(state.skipped)},
                )
    finally:
        bar.close()
        if store is not None:
            store.close()
    return SviRun(state=state, loss_history=np.asarray(losses))
