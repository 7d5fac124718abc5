"""``ScribeResults.summary``: one row per scalar parameter, with MCMC diagnostics."""

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from jaxtyping import PRNGKeyArray

from .inference._diagnostics import ess_bulk, ess_tail, split_rhat

if TYPE_CHECKING:
    from .results import ScribeResults

_CAPTURE = ("p_capture", "phi_capture")


def summary_table(results: "ScribeResults", *, n_samples: int, key: PRNGKeyArray):
    """See ``ScribeResults.summary``."""
    if results.is_mcmc:
        samples = results.get_posterior_samples(group_by_chain=True)
    else:
        samples = results.get_posterior_samples(n_samples, key=key)
        samples = {n: v[None] for n, v in samples.items()}  # one "chain"
    labels, columns = [], []
    for name, values in samples.items():
        values = np.asarray(values, np.float64)
        names = _element_labels(results, name, values.shape[2:])
        if names is None:  # a VAE's per-cell, per-gene decoded values: not summarised
            continue
        labels.extend(names)
        columns.append(values.reshape(*values.shape[:2], -1))
    draws = np.concatenate(columns, axis=-1)  # (chains, draws, parameters)
    flat = draws.reshape(-1, draws.shape[-1])
    table = {
        "mean": flat.mean(axis=0),
        "sd": flat.std(axis=0, ddof=1) if len(flat) > 1 else np.full(len(labels), np.nan),
        "q5": np.quantile(flat, 0.05, axis=0),
        "median": np.median(flat, axis=0),
        "q95": np.quantile(flat, 0.95, axis=0),
    }
    if results.is_mcmc:
        table.update(r_hat=split_rhat(draws), ess_bulk=ess_bulk(draws), ess_tail=ess_tail(draws))
    frame = pd.DataFrame(table, index=pd.Index(labels, name="parameter"))
    if results.is_mcmc:
        frame.attrs["sampler"] = results.draws.sampler_statistics()
    return frame


def _element_labels(results: "ScribeResults", name: str, shape: tuple[int, ...]):
    """``name``, ``name[gene]`` or ``name[cell]`` for each element; None otherwise."""
    if shape == ():
        return [name]
    per_cell = name in _CAPTURE or name in results.model.local_names
    if per_cell and shape == (results.counts.n_cells,):
        return [f"{name}[{c}]" for c in results.counts.cell_names]
    if not per_cell and shape == (results.model.n_genes,):
        return [f"{name}[{g}]" for g in results.gene_names]
    return None
