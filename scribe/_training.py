"""The Python side of training: chunks of scanned steps, progress, checkpoints, stopping."""

import dataclasses
from pathlib import Path

import equinox as eqx
import jax
import numpy as np
from tqdm.auto import tqdm

from ._config import InferenceConfig, ModelConfig
from .data import CountData
from .inference import CheckpointStore
from .inference._svi import init_state, make_optimizer, run_steps, skipped_steps
from .results import ScribeResults

# Keys of the inference config that may change between a run and its resumption.
_RESUMABLE = ("n_steps", "early_stopping_patience", "early_stopping_min_delta")
_SMOOTHING = 0.99  # exponential smoothing of the loss shown and used for early stopping


def _metadata(model_config, inference_config, counts: CountData) -> dict:
    from . import __version__

    inference = {
        k: v for k, v in dataclasses.asdict(inference_config).items() if k not in _RESUMABLE
    }
    return {
        "model_config": dataclasses.asdict(model_config),
        "inference_config": inference,
        "gene_names": [str(g) for g in counts.gene_names],
        "n_cells": counts.n_cells,
        "scribe_version": __version__,
    }


def open_store(
    checkpoint_dir: str | Path | None,
    model_config: ModelConfig,
    inference_config: InferenceConfig,
    counts: CountData,
    *,
    resume: bool,
    max_to_keep: int = 3,
) -> CheckpointStore | None:
    """The run's checkpoint store (None without ``checkpoint_dir``); checkpoints of
    another run are refused, and so are any at all when ``resume`` is False."""
    if checkpoint_dir is None:
        return None
    metadata = _metadata(model_config, inference_config, counts)
    store = CheckpointStore(checkpoint_dir, metadata=metadata, max_to_keep=max_to_keep)
    if store.steps() and not resume:
        store.close()
        raise ValueError(
            f"checkpoint_dir {str(checkpoint_dir)!r} already holds checkpoints (steps "
            f"{store.steps()}); pass resume=True to continue them, or choose an empty "
            "directory (nothing was changed)"
        )
    return store


class _LossMonitor:
    """The smoothed loss (shown, and used for early stopping) and the best one so far."""

    def __init__(self, config: InferenceConfig):
        self.patience = config.early_stopping_patience
        self.min_delta = config.early_stopping_min_delta
        self.smoothed: float | None = None
        self.best: float | None = None
        self.best_step = 0
        self._moving_sum = 0.0
        self._n_finite = 0

    def update(self, chunk_losses: np.ndarray, step: int) -> bool:
        """Take the losses of the chunk that ended at ``step``; True: stop early here.

        The smoothed loss is a bias-corrected exponential average (as Adam's moments):
        an average of the losses so far with weights ``β^age``, so the first single-step
        loss weighs ~1/100 of it after 100 steps rather than ``β^100 ≈ 37%``. Early
        stopping starts once the average spans ``1 / (1 - β)`` steps, so that a lucky
        early draw does not set a best that later averages never beat.
        """
        for value in chunk_losses[np.isfinite(chunk_losses)]:
            self._moving_sum = _SMOOTHING * self._moving_sum + (1 - _SMOOTHING) * value
            self._n_finite += 1
            self.smoothed = self._moving_sum / (1 - _SMOOTHING**self._n_finite)
        # Until the average spans a full window its noise is that of a few steps: no best.
        if self.patience is None or self._n_finite < 1 / (1 - _SMOOTHING):
            return False
        # The first finite value sets ``best``: ``inf - min_delta * inf`` would be NaN.
        if self.best is None or self.smoothed < self.best - self.min_delta * abs(self.best):
            self.best, self.best_step = self.smoothed, step
            return False
        return step - self.best_step >= self.patience

    def replay(self, losses: list[float], steps_per_dispatch: int) -> bool:
        """Catch up on a restored loss history, chunk by chunk as it was dispatched (a
        checkpoint's step is a multiple of ``steps_per_dispatch``), so that a resumed run
        smooths and stops early exactly as an uninterrupted one. True: stop at once."""
        stop = False
        for end in range(steps_per_dispatch, len(losses) + 1, steps_per_dispatch):
            chunk = np.asarray(losses[end - steps_per_dispatch : end], dtype=float)
            stop = self.update(chunk, end)
        return stop


def train(
    model,
    guide,
    encoder,
    counts: CountData,
    *,
    model_config: ModelConfig,
    inference_config: InferenceConfig,
    checkpoint_dir: str | Path | None,
    resume: bool,
    progress: bool,
) -> ScribeResults:
    """Run SVI to ``inference_config.n_steps`` (resuming from a checkpoint if asked)."""
    config = inference_config
    device = counts.to_device()
    batch_size = config.batch_size or counts.n_cells
    capacity = device.nnz if batch_size == counts.n_cells else counts.sampling_capacity(batch_size)
    optimizer = make_optimizer(config.learning_rate)
    state = init_state(
        guide, encoder, optimizer, key=jax.random.key(config.seed), networks=model.networks
    )
    arrays, static = eqx.partition(state, eqx.is_array)
    losses: list[float] = []
    store = open_store(checkpoint_dir, model_config, inference_config, counts, resume=resume)
    if store is not None:
        restored = store.restore_latest(arrays) if store.steps() else None
        if restored is not None:
            _, arrays, extra = restored
            state = eqx.combine(arrays, static)
            losses = [float(x) for x in extra["loss_history"]]
    step = len(losses)
    monitor = _LossMonitor(config)
    stopped = monitor.replay(losses, config.steps_per_dispatch)
    label = config.method.upper()
    bar = tqdm(total=config.n_steps, initial=step, disable=not progress, desc=label)
    try:
        while step < config.n_steps and not stopped:
            chunk = min(config.steps_per_dispatch, config.n_steps - step)
            state, chunk_losses = run_steps(
                state,
                model,
                optimizer,
                device,
                n_steps=chunk,
                batch_size=batch_size,
                capacity=capacity,
                kl_warmup_steps=config.kl_warmup_steps,
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
                    extra={"loss_history": losses, "skipped_steps": skipped_steps(state)},
                )
    finally:
        bar.close()
        if store is not None:
            store.close()
    return ScribeResults(
        model=model.with_networks(state.networks),
        guide=state.guide,
        encoder=state.encoder,
        loss_history=np.asarray(losses),
        counts=counts,
        model_config=model_config,
        inference_config=inference_config,
        skipped_steps=skipped_steps(state),
    )
