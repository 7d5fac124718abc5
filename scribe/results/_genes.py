"""Gene selections of fitted results: ``results[genes]`` as ``adata[:, genes]`` selects
them (positions, names, masks, slices), and the counts and config of a gene subset."""

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp
from jaxtyping import Int

from ..config import FitConfig, describe_prior
from ..data import CountData
from ..model import ScribeModel

_EXPECTED = "an int, a slice, ints, a boolean mask of length n_genes, or gene names"


def gene_index(genes: Any, names: Sequence[str]) -> Int[np.ndarray, " kept"]:
    """Positions of the selected genes (see ``ScribeResults.__getitem__``)."""
    if isinstance(genes, slice):
        index = np.arange(len(names))[genes]
    elif isinstance(genes, str):
        index = _name_positions([genes], names)
    elif isinstance(genes, list | tuple):
        index = _sequence_index(genes, names)
    else:
        # numpy, jax and pandas selections: their elements as Python values.
        array = np.asarray(genes)
        if array.ndim > 1:
            raise IndexError(f"gene selections must be 1-D, found shape {array.shape}")
        if array.ndim == 0 and array.dtype == bool:
            raise TypeError(f"genes must be {_EXPECTED}, found the bool {genes!r}")
        index = _sequence_index(array.reshape(-1).tolist(), names)
    if index.size == 0:
        raise ValueError(f"gene selection {genes!r} selects no genes; select at least one")
    values, seen = np.unique(index, return_counts=True)
    if np.any(seen > 1):
        repeated = [names[i] for i in values[seen > 1]]
        raise ValueError(f"gene selection repeats genes {repeated[:5]}; select each at most once")
    return index


def _sequence_index(genes: Sequence, names: Sequence[str]) -> Int[np.ndarray, " kept"]:
    n_genes = len(names)
    kinds = {_kind(g) for g in genes}
    if not kinds:
        return np.zeros(0, dtype=np.int64)
    if kinds == {"str"}:
        return _name_positions(genes, names)
    if kinds == {"bool"}:
        if len(genes) != n_genes:
            raise IndexError(
                f"a boolean gene mask must have length n_genes = {n_genes}, found {len(genes)}"
            )
        return np.flatnonzero(np.asarray(genes, dtype=bool))
    if kinds == {"int"}:
        index = np.asarray(genes, dtype=np.int64)
        outside = index[(index < -n_genes) | (index >= n_genes)]
        if outside.size:
            raise IndexError(
                f"gene indices must lie in [-{n_genes}, {n_genes}) for {n_genes} genes, "
                f"found {outside[:5].tolist()}"
            )
        return np.where(index < 0, index + n_genes, index)
    raise TypeError(f"genes must be {_EXPECTED}; found elements of type {sorted(kinds)}")


def _kind(gene: Any) -> str:
    if isinstance(gene, bool | np.bool_):
        return "bool"
    if isinstance(gene, int | np.integer):
        return "int"
    return "str" if isinstance(gene, str) else type(gene).__name__


def _name_positions(genes: Sequence[str], names: Sequence[str]) -> Int[np.ndarray, " kept"]:
    positions: dict[str, list[int]] = {}
    for i, name in enumerate(names):
        positions.setdefault(name, []).append(i)
    unknown = [g for g in genes if g not in positions]
    if unknown:
        raise ValueError(
            f"{len(unknown)} gene name(s) not among the {len(names)} fitted genes: "
            f"{unknown[:5]}{' ...' if len(unknown) > 5 else ''} (fitted genes: "
            f"{list(names[:5])}{' ...' if len(names) > 5 else ''})"
        )
    ambiguous = [g for g in genes if len(positions[g]) > 1]
    if ambiguous:
        raise ValueError(
            f"gene names {ambiguous[:5]} occur more than once among the fitted genes; "
            "select them by position"
        )
    return np.array([positions[g][0] for g in genes], dtype=np.int64)


def subset_counts(counts: CountData, genes: Int[np.ndarray, " kept"]) -> CountData:
    # Cell totals stay those over all fitted genes: the capture model was fitted to them.
    matrix = sp.csr_array(counts.matrix[:, genes])
    matrix.sort_indices()
    return CountData(
        matrix=matrix,
        cell_names=counts.cell_names,
        gene_names=counts.gene_names[genes],
        total_counts=counts.total_counts,
        kept_cells=counts.kept_cells,
        kept_genes=counts.kept_genes[genes],
    )


def subset_config(config: FitConfig, model: ScribeModel, guide: Any) -> FitConfig:
    """The config of a subset: its priors' descriptions and its guide's rank."""
    every = {**model.global_priors, **model.local_priors}
    priors = tuple((name, describe_prior(every[name])) for name, _ in config.model.priors)
    rank = getattr(guide, "rank", config.guide_rank)
    return dataclasses.replace(
        config, model=dataclasses.replace(config.model, priors=priors), guide_rank=rank
    )
