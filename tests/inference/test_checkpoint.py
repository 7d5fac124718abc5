"""CheckpointStore: bit-exact round trips and resumes, SIGKILL, corruption, refused directories."""

import hashlib
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from scribe.inference import CheckpointStore, CheckpointWarning

from . import _train_toy as toy

GENES = ["g0", "g1", "g2", "g3", "g4"]
METADATA = {
    "config": {"likelihood": "nbdm", "n_latent": 3},
    "gene_names": GENES,
    "n_cells": 100,
    "scribe_version": "0.1.0",
}
HISTORY = [2.5, float("nan"), -0.0, float("inf"), 0.1 + 0.2]


def _is_key(x) -> bool:
    return jax.dtypes.issubdtype(getattr(x, "dtype", np.float32), jax.dtypes.prng_key)


def assert_bitwise_equal(actual, expected):
    """Same tree, leaf types, dtypes, shapes and bytes (so -0.0 and NaN payloads count)."""
    assert jax.tree.structure(actual) == jax.tree.structure(expected)
    for a, b in zip(jax.tree.leaves(actual), jax.tree.leaves(expected), strict=True):
        assert type(a) is type(b)
        if _is_key(b):
            assert a.dtype == b.dtype
            a, b = jax.random.key_data(a), jax.random.key_data(b)
        a, b = np.asarray(a), np.asarray(b)
        np.testing.assert_array_equal(a, b)
        assert (a.dtype, a.shape, a.tobytes()) == (b.dtype, b.shape, b.tobytes())


def realistic_state(seed: int) -> dict:
    """Filtered MLP, Adam state after a few updates, typed keys, a step and a loss history."""
    key = jax.random.key(seed)
    params = eqx.filter(eqx.nn.MLP(4, 2, 8, 2, key=key), eqx.is_array)
    optimizer = optax.adam(1e-2)
    opt_state = optimizer.init(params)
    for i in range(3):
        grads = jax.tree.map(lambda p, i=i: jnp.sin(p) * (i + 1), params)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        params = eqx.apply_updates(params, updates)
    history = np.random.default_rng(seed).normal(size=6)
    history[:3] = [np.nan, -0.0, np.inf]
    return {
        "params": params,
        "opt_state": opt_state,
        "key": jax.random.fold_in(key, 1),
        "rbg_key": jax.random.key(seed + 7, impl="rbg"),
        "step": jnp.asarray(30 + seed, jnp.int32),
        "losses": jnp.asarray(history, jnp.float64),
        "mask": np.array([True, False, seed % 2 == 0]),
        "counts": np.arange(seed, seed + 4, dtype=np.int64),
    }


def tree_digest(directory: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(directory.rglob("*")):
        digest.update(str(path.relative_to(directory)).encode())
        if path.is_file():
            digest.update(path.read_bytes())
    return digest.hexdigest()


def test_round_trip_is_bit_exact(tmp_path):
    state = realistic_state(seed=1)
    with CheckpointStore(tmp_path, metadata=METADATA) as store:
        assert store.restore_latest(realistic_state(seed=2)) is None
        store.save(31, state, extra={"n_nonfinite_steps": 2, "losses": HISTORY})
    with CheckpointStore(tmp_path, metadata=METADATA) as store:
        step, restored, extra = store.restore_latest(realistic_state(seed=2))
        assert store.metadata == METADATA and store.steps() == [31]
    assert (step, extra["n_nonfinite_steps"]) == (31, 2)
    assert np.asarray(extra["losses"]).tobytes() == np.asarray(HISTORY).tobytes()
    assert_bitwise_equal(restored, state)


def test_resume_matches_an_uninterrupted_run_bit_for_bit(tmp_path):
    n = 25
    straight = toy.run(toy.init_state(2 * n), 2 * n)
    with CheckpointStore(tmp_path, metadata=toy.METADATA) as store:
        store.save(n, toy.run(toy.init_state(2 * n), n))
    with CheckpointStore(tmp_path, metadata=toy.METADATA) as store:
        step, state, _ = store.restore_latest(toy.init_state(2 * n, seed=99))
    assert step == n
    assert_bitwise_equal(toy.run(state, n), straight)


def _launch(directory: Path, n_steps: int, every: int) -> subprocess.Popen:
    script = Path(toy.__file__)
    command = [sys.executable, str(script), str(directory), str(n_steps), str(every)]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_sigkill_at_random_moments_then_resume_matches_a_clean_run(tmp_path):
    n_steps, every, rng = 300, 10, random.Random(20240611)
    directory = tmp_path / "checkpoints"
    last_saved = 0
    for _ in range(3):
        child = _launch(directory, n_steps, every)
        watchdog = threading.Timer(120, child.kill)  # a hung child fails the test, not hangs it
        watchdog.start()
        ready = child.stdout.readline()
        assert ready.startswith("ready"), child.stderr.read()
        # A save that returned is never lost, whatever the kill interrupted afterwards.
        assert last_saved <= int(ready.split()[1]) < n_steps
        # Kill after a random number of saves (not seconds, so progress does not depend on
        # the machine's speed), a random moment later: a save takes ~0.1 s and 10 steps ~2 ms,
        # so most kills land inside a save or Orbax's deletion of old steps.
        for _ in range(rng.randint(2, 5)):
            line = child.stdout.readline()
            assert line.startswith("saved"), child.stderr.read()
        last_saved = int(line.split()[1])
        time.sleep(rng.uniform(0.0, 0.12))
        child.send_signal(signal.SIGKILL)
        assert child.wait(timeout=30) == -signal.SIGKILL
        watchdog.cancel()
        # Atomic saves leave no half-written step to fall back from.
        assert "CheckpointWarning" not in child.stderr.read()
        child.stdout.close()
        child.stderr.close()
    final = _launch(directory, n_steps, every)
    output, errors = final.communicate(timeout=120)
    assert final.returncode == 0, errors
    assert last_saved <= int(output.split()[1]) < n_steps
    assert "CheckpointWarning" not in errors and not (directory / "_corrupted").exists()
    with CheckpointStore(directory, metadata=toy.METADATA) as store:
        step, state, _ = store.restore_latest(toy.init_state(n_steps, seed=99))
    assert step == n_steps
    assert_bitwise_equal(state, toy.run(toy.init_state(n_steps), n_steps))


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


CORRUPTIONS = {
    "truncated array data": lambda step: [_truncate(p) for p in step.glob("state/d/*")],
    "missing tensorstore manifest": lambda step: [(step / "state/manifest.ocdbt").unlink()],
    "truncated tree metadata": lambda step: [_truncate(step / "state/_METADATA")],
    "missing extra": lambda step: [(step / "extra/metadata").unlink()],
}


# Orbax leaves an asyncio callback behind when tensorstore fails on truncated data.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.parametrize("corrupt", CORRUPTIONS.values(), ids=CORRUPTIONS.keys())
def test_corrupted_latest_step_falls_back_to_the_previous_one(tmp_path, corrupt):
    older, newer = realistic_state(seed=1), realistic_state(seed=3)
    with CheckpointStore(tmp_path, metadata=METADATA) as store:
        store.save(2, older)
        store.save(4, newer)
    assert corrupt(tmp_path / "4"), "the Orbax layout changed: nothing was corrupted"
    with CheckpointStore(tmp_path, metadata=METADATA) as store:
        with pytest.warns(CheckpointWarning, match=r"step 4 .*restored step 2 instead"):
            step, restored, _ = store.restore_latest(realistic_state(seed=5))
        assert step == 2
        assert_bitwise_equal(restored, older)
        # Moved aside, not deleted, and training can save step 4 again.
        assert [p.name for p in (tmp_path / "_corrupted").glob("step-4-*/*")] == ["4"]
        store.save(4, newer)
        assert_bitwise_equal(store.restore_latest(realistic_state(seed=5))[1], newer)


def test_newest_step_with_other_shapes_falls_back(tmp_path):
    with CheckpointStore(tmp_path, metadata=METADATA) as store:
        store.save(1, {"w": np.arange(3.0)})
        store.save(2, {"w": np.arange(4.0)})
        with pytest.warns(CheckpointWarning, match=r"step 2 .*float64\[4\]"):
            step, state, _ = store.restore_latest({"w": np.zeros(3)})
    assert step == 1
    assert_bitwise_equal(state, {"w": np.arange(3.0)})


def test_a_skeleton_that_fits_no_step_raises_and_moves_nothing(tmp_path):
    with CheckpointStore(tmp_path, metadata=METADATA) as store:
        store.save(1, {"w": np.arange(3.0)})
        store.save(2, {"w": np.arange(3.0)})
        before = tree_digest(tmp_path)
        with pytest.raises(ValueError, match=r"no checkpoint .* matches `skeleton`"):
            store.restore_latest({"w": np.zeros(3, np.float32)})
        with pytest.raises(ValueError, match=r"\['v'\]"):
            store.restore_latest({"v": np.zeros(3)})
    assert tree_digest(tmp_path) == before


def test_saving_an_older_step_is_refused(tmp_path):
    with CheckpointStore(tmp_path, metadata=METADATA) as store:
        store.save(5, {"w": np.zeros(2)})
        with pytest.raises(ValueError, match="step must exceed the latest saved step 5"):
            store.save(5, {"w": np.ones(2)})


MISMATCHES = {
    "gene_names": (
        {**METADATA, "gene_names": ["g0", "g1", "X", "g3", "g4"]},
        r"'gene_names': 5 entries on disk, 5 given, 1 differ, first at index 2: 'g2' on disk "
        r"vs 'X' given",
    ),
    "config": (
        {**METADATA, "config": {"likelihood": "zinb", "n_latent": 3}},
        r"'config': \{'likelihood': 'nbdm', 'n_latent': 3\} on disk vs "
        r"\{'likelihood': 'zinb', 'n_latent': 3\} given",
    ),
    "missing key": ({**METADATA, "batch_key": "donor"}, r"'batch_key': '<missing>' on disk"),
}


@pytest.mark.parametrize("metadata, message", MISMATCHES.values(), ids=MISMATCHES.keys())
def test_mismatched_metadata_is_refused_and_nothing_is_touched(tmp_path, metadata, message):
    with CheckpointStore(tmp_path, metadata=METADATA) as store:
        store.save(1, {"w": np.zeros(2)})
    (tmp_path / "9.orbax-checkpoint-tmp").mkdir()  # an unfinished save, which cleanup removes
    before = tree_digest(tmp_path)
    with pytest.raises(ValueError, match=message):
        CheckpointStore(tmp_path, metadata=metadata)
    assert tree_digest(tmp_path) == before


def test_keys_outside_match_keys_may_differ(tmp_path):
    with CheckpointStore(tmp_path, metadata=METADATA) as store:
        store.save(1, {"w": np.zeros(2)})
    with CheckpointStore(tmp_path, metadata={**METADATA, "scribe_version": "0.2.0"}) as store:
        assert store.steps() == [1]
    changed = {**METADATA, "config": {}}
    with CheckpointStore(tmp_path, metadata=changed, match_keys=("gene_names",)) as store:
        assert store.steps() == [1]


def test_checkpoint_dir_that_is_a_file_is_refused(tmp_path):
    path = tmp_path / "checkpoints"
    path.write_text("not a directory")
    with pytest.raises(ValueError, match="checkpoint_dir: expected a directory, found a file"):
        CheckpointStore(path, metadata=METADATA)


def test_directory_with_unrelated_files_is_refused(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    (tmp_path / "results").mkdir()
    before = tree_digest(tmp_path)
    with pytest.raises(ValueError, match=r"not scribe checkpoints \(notes.txt, results\)"):
        CheckpointStore(tmp_path, metadata=METADATA)
    assert tree_digest(tmp_path) == before
