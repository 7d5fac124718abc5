"""Saved results on disk: Orbax arrays + JSON metadata, never pickle.

``ScribeResults.save`` writes ``results_metadata`` and ``results_state`` here;
``scribe.load`` reads the metadata, rebuilds skeleton modules from the config it holds
(the build layer) and restores the state into them with ``read_state``.

Formats: ``scribe-results-1`` (scribe 0.1: configs as ``model_config`` and
``inference_config``) and ``scribe-results-2`` (a ``FitConfig`` as ``config``); both load.
"""

import dataclasses
import warnings
from pathlib import Path
from typing import Any

import anndata
import equinox as eqx
import jax
import numpy as np
import scipy.sparse

from .._version import __version__
from ..config import FitConfig, config_from_json, config_from_v1, config_to_json, prior_to_json
from ..data import CountData, load_counts
from ..guides import BetaFactor
from ..inference import CheckpointStore

FORMAT = "scribe-results-2"
FORMAT_1 = "scribe-results-1"
READABLE_FORMATS = (FORMAT_1, FORMAT)


def results_metadata(results: Any) -> dict:
    """The JSON saved beside the arrays of ``results`` (a ``ScribeResults``).

    Raises ``TypeError`` for a user prior that cannot be written as JSON, before anything
    is written.
    """
    counts = results.counts
    user = {name for name, _ in results.config.model.priors}
    every = {**results.model.global_priors, **results.model.local_priors}
    return {
        "format": FORMAT,
        "scribe_version": __version__,
        "config": config_to_json(results.config),
        "priors": {name: prior_to_json(every[name]) for name in sorted(user)},
        "gene_names": [str(g) for g in counts.gene_names],
        "cell_names": [str(c) for c in counts.cell_names],
        "shape": [counts.n_cells, counts.n_genes],
        "nnz": int(counts.nnz),
        "index_dtype": str(counts.matrix.indices.dtype),
        "skipped_steps": int(results.skipped_steps),
        "n_losses": int(results.loss_history.size),
        "float_dtype": float_dtype((results.guide, results.encoder)),
        "reference_gene": getattr(results.model.decoder, "reference_gene", None),
        **{
            name: None if codes is None else np.asarray(codes).tolist()
            for name, codes in (
                ("cell_labels", results.model.cell_labels),
                ("cell_datasets", results.model.cell_datasets),
            )
        },
    }


def results_state(results: Any) -> dict:
    """The arrays of ``results``: trained modules, MCMC draws, loss history and counts."""
    matrix = results.counts.matrix
    return {
        "guide": eqx.filter(results.guide, eqx.is_array),
        "encoder": eqx.filter(results.encoder, eqx.is_array),
        "networks": eqx.filter(results.model.networks, eqx.is_array),
        "draws": None if results.draws is None else results.draws.arrays(),
        # Orbax cannot store empty arrays (an MCMC run has no loss history)
        "loss_history": np.asarray(results.loss_history, np.float64)
        if results.loss_history.size
        else None,
        "indptr": np.asarray(matrix.indptr, matrix.indices.dtype),
        "indices": np.asarray(matrix.indices),
        "data": np.asarray(matrix.data),
        # over all fitted genes, also for a gene subset (the capture was fitted to them)
        "total_counts": np.asarray(results.counts.total_counts, np.float64),
    }


def write(path: str | Path, metadata: dict, state: dict) -> None:
    """Write a new results directory (an existing non-empty ``path`` is refused)."""
    path = Path(path)
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise ValueError(f"path must be a new or empty directory, found existing {str(path)!r}")
    with CheckpointStore(path, metadata=metadata, max_to_keep=1) as store:
        store.save(0, state)


def read_metadata(path: str | Path) -> dict:
    """The metadata of a results directory, after checking it is one scribe can read."""
    path = Path(path)
    if not path.is_dir():
        raise ValueError(f"path must be a directory written by ScribeResults.save: {str(path)!r}")
    metadata = CheckpointStore.read_metadata(path)
    if metadata is None or not str(metadata.get("format", "")).startswith("scribe-results-"):
        raise ValueError(f"{str(path)!r} holds no scribe results")
    if metadata["format"] not in READABLE_FORMATS:
        raise ValueError(
            f"{str(path)!r} holds results in format {metadata['format']} (written by scribe "
            f"{metadata.get('scribe_version', 'of an unknown version')}); scribe "
            f"{__version__} reads {READABLE_FORMATS}: load them with a newer scribe"
        )
    return metadata


def state_skeleton(metadata: dict, *, guide, encoder, networks, draws) -> dict:
    """What ``read_state`` restores into: rebuilt modules (floats in the saved dtype) and
    arrays of the saved shapes."""
    guide, encoder, networks = cast_floats(
        (guide, encoder, networks), metadata.get("float_dtype", "float32")
    )
    n_cells = metadata["shape"][0]
    nnz, index_dtype = metadata["nnz"], metadata["index_dtype"]
    if metadata["format"] == FORMAT_1:
        guide = jax.tree.map(_v1_arrays, guide, is_leaf=_is_beta)
    return {
        "guide": eqx.filter(guide, eqx.is_array),
        "encoder": eqx.filter(encoder, eqx.is_array),
        "networks": eqx.filter(networks, eqx.is_array),
        "draws": None if draws is None else draws.arrays(),
        "loss_history": np.zeros(metadata["n_losses"], np.float64)
        if metadata["n_losses"]
        else None,
        "indptr": np.zeros(n_cells + 1, index_dtype),
        "indices": np.zeros(nnz, index_dtype),
        "data": np.zeros(nnz, np.float32),
        # scribe-results-1 did not save them: they are the matrix's row sums there
        "total_counts": np.zeros(n_cells, np.float64) if metadata["format"] != FORMAT_1 else None,
    }


def read_state(path: str | Path, metadata: dict, skeleton: dict, *, guide: Any = None) -> dict:
    """The saved arrays, in the structure, shapes and dtypes of ``skeleton`` (for
    scribe-results-1, the arrays of ``guide``: see ``_V1BetaArrays``)."""
    with CheckpointStore(path, metadata=metadata, max_to_keep=1) as store:
        restored = store.restore_latest(skeleton)
    if restored is None:
        raise ValueError(f"{str(path)!r} holds no readable results")
    state = restored[1]
    if metadata["format"] == FORMAT_1 and guide is not None:
        state["guide"] = jax.tree.map(_from_v1_arrays, guide, state["guide"], is_leaf=_is_beta)
    return state


class _V1BetaArrays(eqx.Module):
    """What scribe 0.1 saved of a ``BetaFactor``: ``log a`` and ``log b``, under these
    names (0.2 optimises the logit of the mean and the log of ``a + b``)."""

    log_concentration1: Any
    log_concentration0: Any


def _is_beta(node: Any) -> bool:
    return isinstance(node, BetaFactor)


def _v1_arrays(node: Any) -> Any:
    if not _is_beta(node):
        return node
    return _V1BetaArrays(node.log_concentration1, node.log_concentration0)


def _from_v1_arrays(node: Any, saved: Any) -> Any:
    if not _is_beta(node):
        return saved
    return BetaFactor.from_concentrations(
        node.spec, node.odds, saved.log_concentration1, saved.log_concentration0
    )


def float_dtype(tree: Any) -> str:
    """The dtype of the first float array in ``tree`` (float32 when it has none)."""
    leaves = jax.tree.leaves(eqx.filter(tree, eqx.is_inexact_array))
    return str(leaves[0].dtype) if leaves else "float32"


def cast_floats(tree: Any, dtype: str) -> Any:
    """``tree`` with every float array cast to ``dtype`` (saved float32 arrays restore as
    float32 even where x64 is on, and the reverse)."""
    return jax.tree.map(lambda x: x.astype(dtype) if eqx.is_inexact_array(x) else x, tree)


def saved_config(metadata: dict) -> FitConfig:
    """The ``FitConfig`` a results directory's metadata holds (either format)."""
    if metadata["format"] != FORMAT_1:
        return config_from_json(metadata["config"])
    config = config_from_v1(metadata["model_config"], metadata["inference_config"])
    if config.svi is not None and config.svi.amortize_capture:
        raise ValueError(
            "these results were saved by scribe 0.1 (format scribe-results-1) with "
            "amortize_capture=True, which did not save its capture encoder's centre (the "
            "mean log total UMI of the fitted cells): they cannot be loaded faithfully. "
            "Fit again with this scribe"
        )
    return config


def _named(matrix, metadata: dict, **kwargs) -> CountData:
    adata = anndata.AnnData(X=matrix)
    adata.obs_names = metadata["cell_names"]
    adata.var_names = metadata["gene_names"]
    return load_counts(adata, **kwargs)


def stand_in_counts(metadata: dict) -> CountData:
    """Counts of the saved shape and names for the skeleton modules, which need shapes
    and names only: one count per cell on a cycle of genes (finite moments)."""
    n_cells, n_genes = metadata["shape"]
    cells = np.arange(n_cells)
    matrix = scipy.sparse.csr_array(
        (np.ones(n_cells, np.float32), (cells, cells % n_genes)), shape=(n_cells, n_genes)
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _named(matrix, metadata)


def saved_counts(state: dict, metadata: dict) -> CountData:
    """The fitted counts, as saved (with each cell's total over all fitted genes)."""
    n_cells, n_genes = metadata["shape"]
    arrays = (np.asarray(state[k]) for k in ("data", "indices", "indptr"))
    counts = _named(scipy.sparse.csr_array(tuple(arrays), shape=(n_cells, n_genes)), metadata)
    if state["total_counts"] is None:
        return counts
    return dataclasses.replace(counts, total_counts=np.asarray(state["total_counts"]))
