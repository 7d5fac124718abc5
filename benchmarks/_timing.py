"""Steady-state time of scribe's SVI step, shared by the benchmarks."""

import time

import jax
import numpy as np

from scribe.build import make_guide_and_encoder, make_model
from scribe.config import FitConfig, ModelConfig
from scribe.inference._svi import init_state, make_optimizer, run_steps


def time_svi_steps(
    data,
    batch_size: int,
    n_steps: int,
    learning_rate: float = 0.01,
    chunk: int = 50,
    model: ModelConfig | None = None,
) -> tuple[float, np.ndarray]:
    """Seconds per SVI step after compilation, and the losses (the compiling chunk's
    first). The model (default: nbvcp) gets the guide and encoder a user's fit builds,
    and ``chunk`` steps run per dispatch as in ``scribe.fit``."""
    config = FitConfig(model=model or ModelConfig(model="nbvcp"), seed=0)
    model = make_model(config, data)
    guide, encoder = make_guide_and_encoder(model, config, data)
    optimizer = make_optimizer(learning_rate)
    state = init_state(guide, encoder, optimizer, key=jax.random.key(0))
    device = data.to_device()
    capacity = device.nnz if batch_size == data.n_cells else data.sampling_capacity(batch_size)
    kwargs = dict(n_steps=chunk, batch_size=batch_size, capacity=capacity)
    state, losses = run_steps(state, model, optimizer, device, **kwargs)  # compile
    jax.block_until_ready(losses)
    all_losses = [np.asarray(losses)]
    start = time.perf_counter()
    for _ in range(max(n_steps // chunk, 1)):
        state, losses = run_steps(state, model, optimizer, device, **kwargs)
        all_losses.append(np.asarray(losses))
    elapsed = time.perf_counter() - start
    return elapsed / (max(n_steps // chunk, 1) * chunk), np.concatenate(all_losses)[: n_steps + 1]
