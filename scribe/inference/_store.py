"""The checkpoint store of one training or sampling run, and what it records of the run."""

from pathlib import Path

from .._version import __version__
from ..config import FitConfig, resumable_view
from ..data import CountData
from ._checkpoint import CheckpointStore

# The layout of a run's checkpoints: the state's leaves and the metadata below. Runs
# whose checkpoints have another format are refused, never resumed into the wrong layout.
CHECKPOINT_FORMAT = "scribe-checkpoint-2"
# What scribe 0.1 wrote (its metadata had no "format").
_FIRST_FORMAT = "scribe-checkpoint-1"


def run_metadata(config: FitConfig, counts: CountData) -> dict:
    """The JSON a run saves with each checkpoint; a resumed run must match it (but for
    ``scribe_version`` and the resumable settings, see ``scribe.config.RESUMABLE``)."""
    return {
        "format": CHECKPOINT_FORMAT,
        "config": resumable_view(config),
        "gene_names": [str(g) for g in counts.gene_names],
        "n_cells": counts.n_cells,
        "scribe_version": __version__,
    }


def open_store(
    checkpoint_dir: str | Path | None,
    config: FitConfig,
    counts: CountData,
    *,
    resume: bool,
    max_to_keep: int = 3,
) -> CheckpointStore | None:
    """The run's checkpoint store (None without ``checkpoint_dir``).

    Checkpoints of another format (another scribe version's layout), of another run, or
    any at all when ``resume`` is False are refused with a ``ValueError``, and the
    directory is left as it was.
    """
    if checkpoint_dir is None:
        return None
    saved = CheckpointStore.read_metadata(checkpoint_dir)
    if saved is not None and saved.get("format", _FIRST_FORMAT) != CHECKPOINT_FORMAT:
        raise ValueError(
            f"checkpoint_dir {str(checkpoint_dir)!r} holds checkpoints written by scribe "
            f"{saved.get('scribe_version', 'of an unknown version')} (format "
            f"{saved.get('format', _FIRST_FORMAT)}); scribe {__version__} writes "
            f"{CHECKPOINT_FORMAT} and cannot resume them. Finish that run with the scribe "
            "that started it, or choose another checkpoint_dir (nothing was changed)"
        )
    metadata = run_metadata(config, counts)
    store = CheckpointStore(checkpoint_dir, metadata=metadata, max_to_keep=max_to_keep)
    if store.steps() and not resume:
        store.close()
        raise ValueError(
            f"checkpoint_dir {str(checkpoint_dir)!r} already holds checkpoints (steps "
            f"{store.steps()}); pass resume=True to continue them, or choose an empty "
            "directory (nothing was changed)"
        )
    return store
