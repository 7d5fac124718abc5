"""``scribe.fit`` interrupted (SIGKILL, or a shorter run) then resumed matches an
uninterrupted fit: parameters, loss history and where early stopping ends it."""

import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import scribe

from . import _fit_child

N_CELLS, N_GENES, N_STEPS, EVERY = 64, 8, 200, 10
TIMEOUT = 180  # seconds for any one child: a hung child fails the test, not hangs it


def _counts(path: Path) -> Path:
    rng = np.random.default_rng(0)
    r = rng.uniform(0.5, 4.0, N_GENES)
    capture = rng.uniform(0.3, 0.9, (N_CELLS, 1))
    p_hat = 0.6 * capture / (1 - 0.6 * (1 - capture))
    np.save(path, rng.negative_binomial(r[None], 1 - p_hat))
    return path


def _launch(counts: Path, directory: Path, result: Path, method: str) -> subprocess.Popen:
    script = Path(_fit_child.__file__)
    command = [sys.executable, script, counts, directory, str(N_STEPS), str(EVERY), result]
    command.append(method)
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _newest_step(directory: Path) -> int:
    """The newest finished checkpoint (Orbax renames a step into place when complete)."""
    if not directory.is_dir():
        return 0
    return max((int(p.name) for p in directory.iterdir() if p.name.isdigit()), default=0)


def _kill_after_step(child: subprocess.Popen, directory: Path, target: int, delay: float) -> None:
    deadline = time.monotonic() + TIMEOUT
    while _newest_step(directory) < target:
        assert child.poll() is None, f"child exited early:\n{child.stderr.read()}"
        assert time.monotonic() < deadline, f"no checkpoint of step {target} in {TIMEOUT} s"
        time.sleep(0.005)
    time.sleep(delay)
    child.send_signal(signal.SIGKILL)
    assert child.wait(timeout=30) == -signal.SIGKILL, "the child finished before the kill"


@pytest.mark.slow
@pytest.mark.parametrize("method", ["svi", "vae", "mcmc"])
def test_fit_killed_at_random_moments_then_resumed_matches_a_clean_fit(tmp_path, method):
    """SVI; the VAE, whose encoder, decoder and prior are in the checkpoint too; and MCMC,
    whose checkpoints hold every chain's NUTS state (adaptation and PRNG key included)
    and the draws so far, per block of EVERY iterations."""
    counts = _counts(tmp_path / "counts.npy")
    clean = _launch(counts, tmp_path / "clean", tmp_path / "clean.npz", method)

    rng = random.Random(20240612)
    directory = tmp_path / "killed"
    resumed_from = []
    for _ in range(3):
        start = _newest_step(directory)
        resumed_from.append(start)
        child = _launch(counts, directory, tmp_path / "unused.npz", method)
        # After one or two new checkpoints, a random moment later: a save takes ~0.1 s and
        # ten steps a few ms, so most kills land inside a save or Orbax's deletion of an
        # old step.
        _kill_after_step(child, directory, start + EVERY * rng.randint(1, 2), rng.uniform(0, 0.15))
        errors = child.stderr.read()
        child.stdout.close()
        child.stderr.close()
        # Atomic saves leave no half-written step to fall back from.
        assert "CheckpointWarning" not in errors, errors
    resumed_from.append(_newest_step(directory))
    final = _launch(counts, directory, tmp_path / "final.npz", method)

    for child in (clean, final):
        _, errors = child.communicate(timeout=TIMEOUT)
        assert child.returncode == 0, errors
        assert "CheckpointWarning" not in errors, errors
    assert not (directory / "_corrupted").exists()
    # Each run went on from where the previous one was killed, and none started over.
    assert 0 < resumed_from[1] < resumed_from[2] < resumed_from[3] < N_STEPS, resumed_from
    assert not (tmp_path / "unused.npz").exists()
    expected, actual = np.load(tmp_path / "clean.npz"), np.load(tmp_path / "final.npz")
    assert sorted(actual.files) == sorted(expected.files)
    expected_names = {"loss_history", "r", "p_capture"}
    expected_names |= {"z"} if method == "vae" else {"p", "mu"}
    expected_names |= (
        {"draws_r", "draws_log_joint", "draws_step_size"} if method == "mcmc" else set()
    )
    assert expected_names <= set(actual.files)
    assert actual["loss_history"].shape == ((0,) if method == "mcmc" else (N_STEPS,))
    for name in expected.files:
        np.testing.assert_array_equal(actual[name], expected[name], err_msg=name)
        assert actual[name].dtype == expected[name].dtype, name


def test_resumed_fit_stops_early_where_an_uninterrupted_one_does(tmp_path):
    """The smoothed loss and the best one so far survive a resume.

    Early stopping ends a run ``patience`` steps after the smoothed loss last improved; a
    resume between that improvement and the stop must not restart the count.
    """
    counts = np.load(_counts(tmp_path / "counts.npy"))
    kwargs = dict(model="nbdm", batch_size=16, n_steps=3000, seed=1, progress=False)
    kwargs.update(checkpoint_every=10, svi=scribe.SviConfig(early_stopping_patience=100))
    straight = scribe.fit(counts, **kwargs)
    stop = straight.loss_history.size
    # It improved after its first chunk of 10 steps (it stops 100 steps after the last
    # improvement), then stalled.
    assert 110 < stop < 3000
    directory = tmp_path / "checkpoints"
    scribe.fit(counts, **{**kwargs, "n_steps": stop - 50}, checkpoint_dir=directory)
    resumed = scribe.fit(counts, **kwargs, checkpoint_dir=directory)
    np.testing.assert_array_equal(resumed.loss_history, straight.loss_history)
    for name, value in straight.get_map().items():
        np.testing.assert_array_equal(resumed.get_map()[name], value, err_msg=name)
