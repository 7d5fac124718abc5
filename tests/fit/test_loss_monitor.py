"""The smoothed loss behind the progress bar and early stopping (``LossMonitor``)."""

import numpy as np

from scribe.config import SviConfig
from scribe.inference._monitor import SMOOTHING, LossMonitor

CHUNK = 10


def _run(losses, patience):
    monitor = LossMonitor(SviConfig(early_stopping_patience=patience, steps_per_dispatch=CHUNK))
    for end in range(CHUNK, len(losses) + 1, CHUNK):
        if monitor.update(np.asarray(losses[end - CHUNK : end]), end):
            return end, monitor
    return None, monitor


def test_smoothed_loss_is_the_bias_corrected_exponential_average():
    rng = np.random.default_rng(0)
    losses = rng.normal(100.0, 5.0, 50)
    _, monitor = _run(losses, patience=None)
    weights = SMOOTHING ** np.arange(losses.size)[::-1]
    np.testing.assert_allclose(monitor.smoothed, np.sum(weights * losses) / weights.sum())


def test_a_lucky_first_loss_does_not_stop_a_run_that_keeps_improving():
    """Noisy losses (sd 5) improving slowly (1 per 100 steps) from the start, the first
    one a lucky draw two sd low: the run must not stop. A plain EMA started at the first
    value keeps ~91% of it through the first chunk, sets an early best no later average
    beats for ~1,000 steps, and stops at patience; so does an unwarmed average of the
    first few steps (sd 5 / √10)."""
    for seed in range(5):
        rng = np.random.default_rng(seed)
        losses = 100.0 - 0.01 * np.arange(1500) + rng.normal(0.0, 5.0, 1500)
        losses[0] = 90.0
        stop, _ = _run(losses, patience=200)
        assert stop is None, f"seed {seed}: stopped at {stop}"


def test_a_stalled_run_stops_soon_after_patience():
    rng = np.random.default_rng(2)
    losses = np.concatenate([np.linspace(150.0, 100.0, 300), 100.0 + rng.normal(0, 1.0, 2000)])
    stop, _ = _run(losses, patience=200)
    assert stop is not None and 500 <= stop <= 1500
