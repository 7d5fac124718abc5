"""The smoothed loss of a training run: what the progress bar shows and early stopping reads."""

import numpy as np

from ..config import SviConfig

SMOOTHING = 0.99  # weight of the past in the exponential average of the loss


class LossMonitor:
    """The smoothed loss (shown, and used for early stopping) and the best one so far.

    Parameters
    ----------
    config
        Its ``early_stopping_patience`` (None: never stop early) and
        ``early_stopping_min_delta``.
    """

    def __init__(self, config: SviConfig):
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
            self._moving_sum = SMOOTHING * self._moving_sum + (1 - SMOOTHING) * value
            self._n_finite += 1
            self.smoothed = self._moving_sum / (1 - SMOOTHING**self._n_finite)
        # Until the average spans a full window its noise is that of a few steps: no best.
        if self.patience is None or self._n_finite < 1 / (1 - SMOOTHING):
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
