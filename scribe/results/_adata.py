"""``ScribeResults.to_adata``: MAP summaries written into an AnnData."""

from typing import Any

import numpy as np
import pandas as pd

from ..config import config_to_json


def write_adata(results: Any, adata: Any) -> Any:
    """``results.to_adata(adata)`` (see there)."""
    import anndata

    if not isinstance(adata, anndata.AnnData):
        raise TypeError(f"adata must be an AnnData, found {type(adata).__name__}")
    genes = [str(g) for g in adata.var_names]
    if genes != list(results.gene_names):
        differ = sum(a != b for a, b in zip(genes, results.gene_names, strict=False))
        raise ValueError(
            f"adata.var_names must be the {len(results.gene_names)} fitted genes in order, "
            f"found {len(genes)} genes ({differ} of the first "
            f"{min(len(genes), len(results.gene_names))} differ)"
        )
    if adata.n_obs != results.counts.n_cells:
        raise ValueError(
            f"adata must have the {results.counts.n_cells} fitted cells, found {adata.n_obs}"
        )
    point = results.get_map()
    n_genes = results.model.n_genes
    mixture = results.model.is_mixture
    groups = results.n_components if mixture else results.n_datasets
    for name in ("r", "mu", "p", "gate"):
        if name not in point:
            continue
        value = np.asarray(point[name])
        # A mixture's per-component or a multi-dataset fit's per-dataset values:
        # (K, genes), or p as (K,); genes × K in varm.
        if groups is not None and (value.ndim == 2 or (name == "p" and value.ndim == 1)):
            per_group = value.reshape(groups, -1).T
            adata.varm[f"scribe_{name}"] = np.broadcast_to(per_group, (n_genes, groups)).copy()
            continue
        adata.var[f"scribe_{name}"] = np.broadcast_to(value, (n_genes,))
    if mixture:
        probs = results.cell_type_probabilities()
        names = results.component_names
        labels = np.asarray(names, dtype=object)[probs.argmax(axis=1)]
        adata.obs["scribe_component"] = pd.Categorical(labels, categories=list(names))
        adata.obsm["scribe_component_probs"] = probs
    if "p_capture" in point:
        adata.obs["scribe_p_capture"] = np.asarray(point["p_capture"])
    if results.is_vae:
        adata.obsm["X_scribe"] = results.get_latent_embeddings()
    adata.uns["scribe"] = {
        "config": config_to_json(results.config),
        "n_steps_run": int(results.loss_history.size),
        "final_loss": float(results.loss_history[-1]) if results.loss_history.size else None,
        "skipped_steps": int(results.skipped_steps),
    }
    if results.is_mcmc:
        adata.uns["scribe"]["mcmc"] = results.diagnostics
    if results.n_datasets is not None:
        adata.uns["scribe"]["dataset_names"] = list(results.dataset_names)
    if mixture:
        adata.uns["scribe"]["component_names"] = list(results.component_names)
        adata.uns["scribe"]["mixing_weights"] = np.asarray(point["mixing_weights"])
    return adata
