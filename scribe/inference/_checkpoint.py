"""Checkpoints of training state: Orbax for the arrays, JSON for everything else, never pickle.

Each step is written to ``<step>.orbax-checkpoint-tmp`` and renamed ``<step>`` when complete. It
holds ``state`` (leaves ``leaf_00000``, ...), ``layout`` (their tree paths and PRNG
implementations), ``extra`` (per-step JSON) and ``metadata`` (the run's JSON).
"""

import json
import tempfile
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jax
import numpy as np
import orbax.checkpoint as ocp
from jaxtyping import PyTree

from .._warnings import ScribeWarning

CORRUPTED_DIR = "_corrupted"
_TMP_MARK = ".orbax-checkpoint-tmp"
_MISSING = "<missing>"
# Index-based leaf names keep Orbax's tree flat and free of the '.' and '[' of tree paths.
_LEAF = "leaf_{:05d}"


class CheckpointWarning(ScribeWarning):
    """A checkpoint could not be restored and an older one was used instead."""


def _as_json(value: Any, name: str, *, allow_nan: bool) -> Any:
    # The JSON form equals what is read back; NaN is refused where values are compared.
    try:
        return json.loads(json.dumps(value, allow_nan=allow_nan))
    except (TypeError, ValueError) as error:
        raise TypeError(f"{name} must be JSON-serializable; {error}") from None


def _describe_difference(key: str, saved: Any, given: Any) -> str:
    if not (isinstance(saved, list) and isinstance(given, list)):
        return f"{key!r}: {repr(saved)[:200]} on disk vs {repr(given)[:200]} given"
    differing = [i for i, (a, b) in enumerate(zip(saved, given, strict=False)) if a != b]
    text = f"{key!r}: {len(saved)} entries on disk, {len(given)} given, {len(differing)} differ"
    if differing:
        i = differing[0]
        text += f", first at index {i}: {saved[i]!r} on disk vs {given[i]!r} given"
    return text


def _flatten(tree: PyTree) -> tuple[list[tuple[str, str | None]], list[Any], Any]:
    with_paths, treedef = jax.tree_util.tree_flatten_with_path(tree)
    layout, leaves = [], []
    for path, leaf in with_paths:
        name = jax.tree_util.keystr(path)
        if not (hasattr(leaf, "dtype") or isinstance(leaf, int | float)):
            raise TypeError(f"leaf {name} must be an array or a number, found {leaf!r}")
        # Orbax cannot store typed PRNG keys: save their key data and implementation name.
        typed = hasattr(leaf, "dtype") and jax.dtypes.issubdtype(leaf.dtype, jax.dtypes.prng_key)
        layout.append((name, str(jax.random.key_impl(leaf)) if typed else None))
        leaves.append(jax.random.key_data(leaf) if typed else leaf)
    return layout, leaves, treedef


def _check_layout(saved: list, given: list, stored: Mapping[str, Any], targets: list) -> None:
    if saved != given:
        pairs = [(a, b) for a, b in zip(saved, given, strict=False) if a != b]
        first = pairs[0] if pairs else f"{len(saved)} vs {len(given)} leaves"
        raise ValueError(f"saved (leaf path, key type) differ from the skeleton's: {first}")
    # Orbax casts to the target's dtype silently; a changed dtype means another state layout.
    for i, ((path, _), target) in enumerate(zip(given, targets, strict=True)):
        found = stored[_LEAF.format(i)]
        expected = (target.dtype, tuple(target.shape)) if hasattr(target, "dtype") else None
        if expected and (np.dtype(found.dtype), tuple(found.shape)) != expected:
            raise ValueError(
                f"leaf {path}: saved {found.dtype}{list(found.shape)}, "
                f"skeleton {target.dtype}{list(target.shape)}"
            )


def _open_manager(path: Path, *, max_to_keep: int | None, writes: bool):
    # Not Orbax's read_only mode, which warns on every open: with `writes` off nothing is written.
    options = ocp.CheckpointManagerOptions(
        max_to_keep=max_to_keep,
        create=writes,
        # Unfinished `<step>.orbax-checkpoint-tmp` folders are never checkpoints; drop them.
        cleanup_tmp_directories=writes,
        # `save` must be complete on return, so a checkpoint never trails the caller's state.
        enable_async_checkpointing=False,
    )
    handlers = {name: ocp.JsonCheckpointHandler() for name in ("layout", "extra", "metadata")}
    handlers["state"] = ocp.StandardCheckpointHandler()
    return ocp.CheckpointManager(path, options=options, item_handlers=handlers)


def _read_metadata(manager, step: int) -> dict | None:
    try:
        args = ocp.args.Composite(metadata=ocp.args.JsonRestore())
        return manager.restore(step, args=args).metadata
    except Exception:  # an unreadable step is dealt with by `restore_latest`
        return None


def _validate_directory(path: Path, metadata: dict, match_keys: tuple[str, ...]) -> None:
    unrelated = sorted(
        entry.name
        for entry in path.iterdir()
        if not entry.name.startswith(".")
        and not (entry.is_dir() and (entry.name.isdigit() or _TMP_MARK in entry.name))
        and not (entry.is_dir() and entry.name == CORRUPTED_DIR)
    )
    if unrelated:
        raise ValueError(
            f"checkpoint_dir {path} holds entries that are not scribe checkpoints "
            f"({', '.join(unrelated[:5])}); expected a new, empty or checkpoint-only directory"
        )
    with _open_manager(path, max_to_keep=None, writes=False) as manager:
        saved = {step: _read_metadata(manager, step) for step in sorted(manager.all_steps())}
    if saved and all(value is None for value in saved.values()):
        raise ValueError(f"checkpoint_dir {path} holds steps {list(saved)} of unreadable metadata")
    for step, on_disk in saved.items():
        differences = [
            _describe_difference(key, on_disk.get(key, _MISSING), metadata.get(key, _MISSING))
            for key in match_keys
            if on_disk is not None and on_disk.get(key, _MISSING) != metadata.get(key, _MISSING)
        ]
        if differences:
            raise ValueError(
                f"checkpoint_dir {path} holds a checkpoint (step {step}) of another run; "
                f"differing metadata: {'; '.join(differences)}. Use another checkpoint_dir."
            )


class CheckpointStore:
    """Saves and restores training state as Orbax checkpoints with JSON metadata.

    Parameters
    ----------
    directory
        Checkpoint directory, created if missing. It may hold only what this class writes
        (hidden entries such as ``.DS_Store`` are ignored) and steps that could not be restored,
        moved (never deleted) into ``_corrupted/``; anything else is refused.
    metadata
        JSON-serializable description of the run (config, gene names, ``n_cells``,
        ``scribe_version``), saved with every step.
    max_to_keep
        How many of the newest steps to keep; older ones are deleted as new ones are saved.
    match_keys
        Keys of ``metadata`` that must equal those saved in ``directory`` (default: all but
        ``"scribe_version"``); a mismatch raises ``ValueError`` and writes nothing.

    Examples
    --------
    >>> import tempfile, jax.numpy as jnp
    >>> with CheckpointStore(tempfile.mkdtemp(), metadata={"n_cells": 3}) as store:
    ...     store.save(10, {"w": jnp.ones(2, jnp.float32)}, extra={"n_skipped": 0})
    ...     store.restore_latest({"w": jnp.zeros(2, jnp.float32)})
    (10, {'w': Array([1., 1.], dtype=float32)}, {'n_skipped': 0})
    """

    def __init__(
        self,
        directory: str | Path,
        *,
        metadata: Mapping[str, Any],
        max_to_keep: int = 3,
        match_keys: tuple[str, ...] | None = None,
    ):
        path = Path(directory).expanduser().absolute()
        if path.exists() and not path.is_dir():
            raise ValueError(f"checkpoint_dir: expected a directory, found a file at {path}")
        if not isinstance(metadata, Mapping):
            raise TypeError(f"metadata must be a dict, found {type(metadata).__name__}")
        if max_to_keep < 1:
            raise ValueError(f"max_to_keep must be at least 1, found {max_to_keep}")
        self._metadata = _as_json(dict(metadata), "metadata", allow_nan=False)
        if match_keys is None:
            match_keys = tuple(key for key in self._metadata if key != "scribe_version")
        if path.is_dir():
            _validate_directory(path, self._metadata, tuple(match_keys))
        self.directory = path
        self._manager = _open_manager(path, max_to_keep=max_to_keep, writes=True)

    @property
    def metadata(self) -> dict | None:
        """The metadata saved with the newest readable step (None without checkpoints)."""
        for step in reversed(self.steps()):
            if (saved := _read_metadata(self._manager, step)) is not None:
                return saved
        return None

    @staticmethod
    def read_metadata(directory: str | Path) -> dict | None:
        """The metadata of the newest readable step in ``directory``, without opening a
        store (so without matching it against anything). None if there is none."""
        path = Path(directory).expanduser().absolute()
        if not path.is_dir():
            return None
        manager = _open_manager(path, max_to_keep=None, writes=False)
        try:
            for step in sorted(manager.all_steps(), reverse=True):
                if (saved := _read_metadata(manager, step)) is not None:
                    return saved
            return None
        finally:
            manager.close()

    def steps(self) -> list[int]:
        """The steps on disk, sorted (unfinished saves are not steps)."""
        self._manager.reload()
        return sorted(self._manager.all_steps())

    def save(self, step: int, state: PyTree, *, extra: Mapping[str, Any] | None = None) -> None:
        """Write ``state`` as step ``step``; complete and atomic when this returns.

        Parameters
        ----------
        step
            Training step; must exceed every step already saved.
        state
            Pytree of arrays (filter Equinox modules with ``eqx.is_array`` first) and numbers.
            Typed PRNG keys are stored as their key data and re-wrapped on restore.
        extra
            JSON-serializable values saved with this step only (e.g. skipped-step counts, a
            loss history as a list of floats: NaN, inf and -0.0 come back exactly).
        """
        if isinstance(step, bool) or not isinstance(step, int | np.integer) or step < 0:
            raise ValueError(f"step must be a non-negative integer, found {step!r}")
        latest = self._manager.latest_step()
        if latest is not None and step <= latest:
            raise ValueError(f"step must exceed the latest saved step {latest}, found {step}")
        extra = _as_json({} if extra is None else dict(extra), "extra", allow_nan=True)
        layout, leaves, _ = _flatten(state)
        args = ocp.args.Composite(
            state=ocp.args.StandardSave({_LEAF.format(i): x for i, x in enumerate(leaves)}),
            layout=ocp.args.JsonSave({"leaves": layout}),
            extra=ocp.args.JsonSave(extra),
            metadata=ocp.args.JsonSave(self._metadata),
        )
        # `force` skips Orbax's save-interval policy; the step order was checked above.
        self._manager.save(int(step), args=args, force=True)
        self._manager.wait_until_finished()

    def restore_latest(self, skeleton: PyTree) -> tuple[int, PyTree, dict] | None:
        """Restore the newest readable step into the structure, shapes and dtypes of ``skeleton``.

        Newer steps that cannot be restored (missing or truncated files, other shapes or dtypes)
        while an older one can are moved to ``<directory>/_corrupted/`` with a
        :class:`CheckpointWarning`. If none can, ``ValueError`` is raised and nothing is moved.

        Parameters
        ----------
        skeleton
            Pytree like the saved state, rebuilt from the config: its leaves give the shapes,
            dtypes, shardings and PRNG implementations; their values are ignored.

        Returns
        -------
        ``(step, state, extra)``, or None when the directory holds no checkpoint.
        """
        failures: list[tuple[int, str]] = []
        for step in reversed(self.steps()):
            try:
                state, extra = self._restore_step(step, skeleton)
            except Exception as error:  # any unreadable step is retried on older ones
                failures.append((step, f"{type(error).__name__}: {error}".splitlines()[0][:300]))
                continue
            self._set_aside(failures, step)
            return step, state, extra
        if not failures:
            return None
        reasons = "; ".join(f"step {step}: {error}" for step, error in failures)
        raise ValueError(f"no checkpoint in {self.directory} matches `skeleton`: {reasons}")

    def _restore_step(self, step: int, skeleton: PyTree) -> tuple[PyTree, dict]:
        layout, targets, treedef = _flatten(skeleton)
        json_args = {name: ocp.args.JsonRestore() for name in ("layout", "extra")}
        header = self._manager.restore(step, args=ocp.args.Composite(**json_args))
        stored = self._manager.item_metadata(step)["state"].tree
        _check_layout([tuple(entry) for entry in header.layout["leaves"]], layout, stored, targets)
        targets = {_LEAF.format(i): target for i, target in enumerate(targets)}
        args = ocp.args.Composite(state=ocp.args.StandardRestore(targets))
        restored = self._manager.restore(step, args=args).state
        values = [
            jax.random.wrap_key_data(restored[name], impl=impl) if impl else restored[name]
            for name, (_, impl) in zip(targets, layout, strict=True)
        ]
        return jax.tree_util.tree_unflatten(treedef, values), header.extra

    def _set_aside(self, failures: list[tuple[int, str]], used: int) -> None:
        for step, error in failures:
            (self.directory / CORRUPTED_DIR).mkdir(exist_ok=True)
            # A unique holder, so a step corrupted twice never overwrites the first copy.
            holder = tempfile.mkdtemp(prefix=f"step-{step}-", dir=self.directory / CORRUPTED_DIR)
            target = (self.directory / str(step)).rename(Path(holder) / str(step))
            warnings.warn(
                f"checkpoint step {step} in {self.directory} could not be restored ({error}); "
                f"restored step {used} instead. Step {step} was moved to {target}, not deleted.",
                CheckpointWarning,
                stacklevel=3,
            )
        self._manager.reload()

    def close(self) -> None:
        """Wait for pending work and release Orbax's resources."""
        self._manager.close()

    def __enter__(self) -> "CheckpointStore":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
