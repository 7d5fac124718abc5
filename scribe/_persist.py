"""``ScribeResults.save`` / ``scribe.load``: Orbax arrays + JSON metadata, never pickle."""

import dataclasses
import importlib
import warnings
from pathlib import Path
from typing import Any

import anndata
import equinox as eqx
import jax
import numpy as np
import numpyro.distributions as dist
import scipy.sparse

from ._config import InferenceConfig, ModelConfig
from .data import load_counts
from .decoders import AbstractDecoder
from .encoders import AbstractEncoder
from .inference import CheckpointStore
from .inference._draws import McmcDraws
from .model import ScribeModel
from .parameterizations import get_parameterization
from .results import ScribeResults

_FORMAT = "scribe-results-1"


def _prior_to_json(prior: dist.Distribution) -> dict:
    cls = type(prior)
    params = {k: np.asarray(getattr(prior, k)).tolist() for k in prior.arg_constraints}
    return {"class": f"{cls.__module__}:{cls.__qualname__}", "params": params}


def _prior_from_json(spec: dict) -> dist.Distribution:
    module, name = spec["class"].split(":")
    cls = getattr(importlib.import_module(module), name)
    return cls(**{k: np.asarray(v) for k, v in spec["params"].items()})


def _custom_priors(model: ScribeModel, config: ModelConfig) -> dict[str, dist.Distribution]:
    names = {name for name, _ in config.priors}
    every = {**model.global_priors, **model.local_priors}
    return {n: every[n] for n in names}


def save_results(results: ScribeResults, path: str | Path) -> None:
    """Write ``results`` to a new directory ``path`` (an existing non-empty one is refused)."""
    path = Path(path)
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise ValueError(f"path must be a new or empty directory, found existing {str(path)!r}")
    counts = results.counts
    metadata = {
        "format": _FORMAT,
        "model_config": dataclasses.asdict(results.model_config),
        "inference_config": dataclasses.asdict(results.inference_config),
        "priors": {
            n: _prior_to_json(p)
            for n, p in _custom_priors(results.model, results.model_config).items()
        },
        "gene_names": [str(g) for g in counts.gene_names],
        "cell_names": [str(c) for c in counts.cell_names],
        "shape": [counts.n_cells, counts.n_genes],
        "nnz": int(counts.nnz),
        "index_dtype": str(counts.matrix.indices.dtype),
        "skipped_steps": int(results.skipped_steps),
        "n_losses": int(results.loss_history.size),
        "float_dtype": _float_dtype((results.guide, results.encoder)),
        "reference_gene": getattr(results.model.decoder, "reference_gene", None),
    }
    state = _state(results)
    with CheckpointStore(path, metadata=metadata, max_to_keep=1) as store:
        store.save(0, state)


def _state(results: ScribeResults) -> dict:
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
    }


def load(
    path: str | Path,
    *,
    adata: Any = None,
    encoder: AbstractEncoder | None = None,
    decoder: AbstractDecoder | None = None,
) -> ScribeResults:
    """Load results written by ``ScribeResults.save``.

    Parameters
    ----------
    path
        The directory ``save`` wrote.
    adata
        Optional AnnData the results will be used with: its ``var_names`` must be the
        fitted genes, in order.
    encoder, decoder
        For a VAE fitted with a user's encoder or decoder (or an ``MLPEncoder`` /
        ``MLPDecoder`` built by the user): a module of the same class and shapes,
        whose arrays are replaced by the saved ones (the saved files hold arrays, not
        code). Scribe's default modules are rebuilt without them.

    Examples
    --------
    >>> import tempfile, scribe
    >>> results = scribe.fit(scribe.datasets.pbmc68k_reduced(), model="nbdm", n_steps=20,
    ...                      progress=False)
    >>> path = tempfile.mkdtemp() + "/run"
    >>> results.save(path)
    >>> bool((scribe.load(path).loss_history == results.loss_history).all())
    True
    """
    from ._fit import _make_guide_and_encoder, _make_vae_modules
    from ._sampling import empty_draws

    path = Path(path)
    if not path.is_dir():
        raise ValueError(f"path must be a directory written by ScribeResults.save: {str(path)!r}")
    metadata = CheckpointStore.read_metadata(path)
    if metadata is None or metadata.get("format") != _FORMAT:
        raise ValueError(f"{str(path)!r} holds no scribe results")
    genes = metadata["gene_names"]
    if adata is not None:
        found = [str(g) for g in adata.var_names]
        if found != genes:
            raise ValueError(
                f"adata.var_names must be the {len(genes)} genes the results were fitted to, "
                f"in order; found {len(found)} genes"
            )
    model_config = ModelConfig(**_tuples(metadata["model_config"]))
    inference_config = InferenceConfig(**metadata["inference_config"])
    n_cells, n_genes = metadata["shape"]
    nnz = metadata["nnz"]
    placeholder = scipy.sparse.csr_array((n_cells, n_genes), dtype=np.float32)
    priors = {n: _prior_from_json(s) for n, s in metadata["priors"].items()}
    skeleton_counts = _counts(placeholder, metadata, valid=False)
    networks = {}
    if model_config.latent_dim is not None:
        _check_skeletons(model_config, encoder, decoder)
        encoder, networks = _make_vae_modules(
            model_config,
            skeleton_counts,
            inference_config.seed,
            encoder,
            decoder,
            reference_gene=metadata.get("reference_gene"),
        )
    elif encoder is not None or decoder is not None:
        raise ValueError("encoder and decoder apply to VAE results; these are not")
    model = ScribeModel(
        model_config.model,
        get_parameterization(model_config.parameterization),
        n_cells=n_cells,
        n_genes=n_genes,
        unconstrained=model_config.unconstrained,
        priors=priors,
        **networks,
    )
    draws = None
    if inference_config.method == "mcmc":
        guide = None
        draws = empty_draws(model, inference_config, n_cells)
    else:
        guide, default_encoder = _make_guide_and_encoder(
            model, model_config, skeleton_counts, inference_config.seed
        )
        encoder = default_encoder if encoder is None else encoder
    # Saved float32 arrays restore as float32 even where x64 is on (and the reverse).
    guide, encoder, networks = _cast_floats(
        (guide, encoder, model.networks), metadata.get("float_dtype", "float32")
    )
    skeleton = {
        "guide": eqx.filter(guide, eqx.is_array),
        "encoder": eqx.filter(encoder, eqx.is_array),
        "networks": eqx.filter(networks, eqx.is_array),
        "draws": None if draws is None else draws.arrays(),
        "loss_history": np.zeros(metadata["n_losses"], np.float64)
        if metadata["n_losses"]
        else None,
        "indptr": np.zeros(n_cells + 1, metadata["index_dtype"]),
        "indices": np.zeros(nnz, metadata["index_dtype"]),
        "data": np.zeros(nnz, np.float32),
    }
    with CheckpointStore(path, metadata=metadata, max_to_keep=1) as store:
        restored = store.restore_latest(skeleton)
    if restored is None:
        raise ValueError(f"{str(path)!r} holds no readable results")
    _, state, _ = restored
    matrix = scipy.sparse.csr_array(
        (np.asarray(state["data"]), np.asarray(state["indices"]), np.asarray(state["indptr"])),
        shape=(n_cells, n_genes),
    )
    if networks is not None:
        model = model.with_networks(
            eqx.combine(state["networks"], eqx.filter(networks, eqx.is_array, inverse=True))
        )
    if draws is not None:
        draws = McmcDraws.from_arrays(state["draws"], max_tree_depth=draws.max_tree_depth)
    return ScribeResults(
        model=model,
        draws=draws,
        guide=eqx.combine(state["guide"], eqx.filter(guide, eqx.is_array, inverse=True)),
        encoder=None
        if encoder is None
        else eqx.combine(state["encoder"], eqx.filter(encoder, eqx.is_array, inverse=True)),
        loss_history=np.zeros(0)
        if state["loss_history"] is None
        else np.asarray(state["loss_history"]),
        counts=_counts(matrix, metadata, valid=True),
        model_config=model_config,
        inference_config=inference_config,
        skipped_steps=metadata["skipped_steps"],
    )


def _check_skeletons(config: ModelConfig, encoder: Any, decoder: Any) -> None:
    """A VAE fitted with user-built modules needs a module of each class to load into."""
    for name, fitted_class, given in (
        ("encoder", config.encoder, encoder),
        ("decoder", config.decoder, decoder),
    ):
        if fitted_class is None and given is not None:
            raise ValueError(
                f"these results were fitted with scribe's default {name}; load them without "
                f"{name}= (found a {type(given).__name__})"
            )
        if fitted_class is not None and given is None:
            raise ValueError(
                f"these results were fitted with a {fitted_class} {name} built by the user; "
                f"pass {name}=<a {fitted_class} of the same shapes> to scribe.load (its "
                "arrays are replaced by the saved ones)"
            )
        if fitted_class is not None and type(given).__name__ != fitted_class:
            raise TypeError(
                f"{name} must be a {fitted_class} (the class these results were fitted "
                f"with), found {type(given).__name__}"
            )


def _float_dtype(tree: Any) -> str:
    leaves = jax.tree.leaves(eqx.filter(tree, eqx.is_inexact_array))
    return str(leaves[0].dtype) if leaves else "float32"


def _cast_floats(tree: Any, dtype: str) -> Any:
    return jax.tree.map(lambda x: x.astype(dtype) if eqx.is_inexact_array(x) else x, tree)


def _counts(matrix, metadata: dict, *, valid: bool):
    if not valid:
        # Guide and encoder skeletons need shapes and names only: one count per cell on a
        # cycle of genes is a valid stand-in whose moments are finite.
        n_cells, n_genes = matrix.shape
        cells = np.arange(n_cells)
        matrix = scipy.sparse.csr_array(
            (np.ones(n_cells, np.float32), (cells, cells % n_genes)), shape=matrix.shape
        )
    adata = anndata.AnnData(X=matrix)
    adata.obs_names = metadata["cell_names"]
    adata.var_names = metadata["gene_names"]
    with warnings.catch_warnings():
        if not valid:
            warnings.simplefilter("ignore")
        return load_counts(adata)


def _tuples(config: dict) -> dict:
    """JSON lists back to the tuples the frozen configs hold."""
    return {
        k: (tuple(tuple(x) if isinstance(x, list) else x for x in v) if isinstance(v, list) else v)
        for k, v in config.items()
    }
