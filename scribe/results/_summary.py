"""``ScribeResults.summary``: one row per scalar parameter, with MCMC diagnostics, and
the warning that names each diagnostic past its threshold."""

import warnings
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from .._warnings import McmcWarning
from ..inference import ess_bulk, ess_tail, split_rhat

_CAPTURE = ("p_capture", "phi_capture")
# Diagnostics thresholds (Vehtari et al. 2021): R-hat, and ESS per chain.
RHAT_MAX = 1.01
ESS_PER_CHAIN_MIN = 100


def summary_table(
    samples: Mapping[str, np.ndarray],
    *,
    cell_names: Sequence[str],
    gene_names: Sequence[str],
    local_names: Sequence[str],
    sampler: dict | None,
    cell_moments: Mapping[str, tuple[np.ndarray, np.ndarray]] | None = None,
) -> pd.DataFrame:
    """See ``ScribeResults.summary``.

    Parameters
    ----------
    samples
        Draws by name with leading axes ``(chains, draws)`` (one "chain" for a guide).
    cell_names, gene_names
        Labels of per-cell and per-gene elements.
    local_names
        Per-cell latents besides the capture (a VAE's ``z`` is not summarised).
    sampler
        MCMC sampler statistics (``McmcDraws.sampler_statistics``): with them the table
        has ``r_hat``, ``ess_bulk`` and ``ess_tail`` and ``attrs["sampler"]``.
    cell_moments
        Per-cell latents known only by their posterior mean and sd (an MCMC run that
        kept no per-cell draws): one row per cell with those two, NaN elsewhere.
    """
    labels, columns = [], []
    for name, values in samples.items():
        values = np.asarray(values, np.float64)
        names = _element_labels(name, values.shape[2:], cell_names, gene_names, local_names)
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
    if sampler is not None:
        table.update(r_hat=split_rhat(draws), ess_bulk=ess_bulk(draws), ess_tail=ess_tail(draws))
    frame = pd.DataFrame(table, index=pd.Index(labels, name="parameter"))
    for name, (mean, sd) in (cell_moments or {}).items():
        index = pd.Index([f"{name}[{c}]" for c in cell_names], name="parameter")
        rows = pd.DataFrame({"mean": mean, "sd": sd}, index=index)
        frame = pd.concat([frame, rows.reindex(columns=frame.columns)])
    if sampler is not None:
        frame.attrs["sampler"] = sampler
    return frame


def _element_labels(name, shape, cell_names, gene_names, local_names) -> list[str] | None:
    """``name``, ``name[gene]`` or ``name[cell]`` for each element; None otherwise."""
    if shape == ():
        return [name]
    per_cell = name in _CAPTURE or name in local_names
    if per_cell and shape == (len(cell_names),):
        return [f"{name}[{c}]" for c in cell_names]
    if not per_cell and shape == (len(gene_names),):
        return [f"{name}[{g}]" for g in gene_names]
    # a mixture's per-component values: (K,) or (K, genes); weights and logits (K,)
    if not per_cell and len(shape) == 1:
        return [f"{name}[{k}]" for k in range(shape[0])]
    if not per_cell and len(shape) == 2 and shape[0] != len(cell_names):
        if shape[1] == len(gene_names):
            return [f"{name}[{k}, {g}]" for k in range(shape[0]) for g in gene_names]
    return None


def warn_on_diagnostics(table: pd.DataFrame) -> None:
    """One ``McmcWarning`` naming each diagnostic of an MCMC summary past its threshold."""
    sampler = table.attrs["sampler"]
    n_chains = sampler["n_chains"]
    problems = []
    rhat = table["r_hat"].to_numpy()
    if np.any(rhat > RHAT_MAX):
        worst = table.index[int(np.nanargmax(rhat))]
        problems.append(
            f"{int(np.sum(rhat > RHAT_MAX))} of {len(table)} parameters have R-hat > "
            f"{RHAT_MAX} (worst {worst}: {np.nanmax(rhat):.3f})"
        )
    for column in ("ess_bulk", "ess_tail"):
        ess = table[column].to_numpy()
        low = ess < ESS_PER_CHAIN_MIN * n_chains
        if np.any(low):
            problems.append(
                f"{int(np.sum(low))} parameters have {column} < {ESS_PER_CHAIN_MIN} per chain "
                f"(lowest {table.index[int(np.nanargmin(ess))]}: {np.nanmin(ess):.0f})"
            )
    if sum(sampler["divergences"]):
        problems.append(f"{sum(sampler['divergences'])} divergent transitions after warmup")
    if sum(sampler["tree_depth_saturated"]):
        problems.append(
            f"{sum(sampler['tree_depth_saturated'])} trajectories reached max_tree_depth "
            f"{sampler['max_tree_depth']}"
        )
    if problems:
        warnings.warn(
            "MCMC diagnostics: " + "; ".join(problems) + ". See results.summary(); run longer "
            "chains (n_warmup, n_samples), or raise mcmc=McmcConfig(target_accept_prob=...) "
            "for divergences.",
            McmcWarning,
            stacklevel=3,
        )
