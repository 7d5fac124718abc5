"""The checks that give a model its structure: gene hierarchies, the mixture's and the
datasets' chosen globals, per-cell codes (annotation labels, datasets)."""

from collections.abc import Collection, Mapping

import numpy as np
import numpyro.distributions as dist
from jaxtyping import Int

from ._hierarchy import KINDS, TARGETS, GeneHierarchy


def cell_codes(
    argument: str, codes: Int[np.ndarray, " cells"], n_cells: int, low: int, high: int | None
) -> Int[np.ndarray, " cells"]:
    """``codes`` checked as ``(n_cells,)`` integers in ``[low, high)`` (``high`` None:
    unbounded)."""
    codes = np.asarray(codes)
    if codes.shape != (n_cells,) or not np.issubdtype(codes.dtype, np.integer):
        raise ValueError(
            f"{argument} must be ({n_cells},) integers, found {codes.dtype} {codes.shape}"
        )
    if codes.min() < low or (high is not None and codes.max() >= high):
        bound = "" if high is None else f", {high})"
        raise ValueError(
            f"{argument} must lie in [{low}{bound or ', ...)'}, found "
            f"[{codes.min()}, {codes.max()}]"
        )
    return codes


def chosen_globals(
    argument: str, chosen: Collection[str] | None, names: tuple[str, ...], model: str
) -> tuple[str, ...]:
    """The globals ``chosen`` names (None: all of ``names``), in the order of ``names``;
    ``model`` describes the model for the error naming the unknown ones."""
    if chosen is None:
        return names
    chosen = tuple(chosen)
    unknown = sorted(set(chosen) - set(names))
    if unknown or not chosen:
        raise ValueError(
            f"{argument} names {unknown or '[]'}, which {model} does not have; valid "
            f"names: {list(names)}"
        )
    return tuple(n for n in names if n in chosen)


def build_hierarchies(
    hierarchies: Mapping[str, str] | None,
    global_priors: dict[str, dist.Distribution],
    priors: Mapping[str, dist.Distribution],
    n_genes: int,
    model: str,
) -> tuple[GeneHierarchy, ...]:
    """Each target's ``GeneHierarchy``; ``global_priors`` loses the targets' priors and
    gains the hierarchies' (``priors`` overriding them by name)."""
    if not hierarchies:
        return ()
    if not isinstance(hierarchies, Mapping):
        raise TypeError(f"hierarchies must map targets to kinds, found {hierarchies!r}")
    valid = [n for n in TARGETS if n in global_priors]
    built = []
    for target, kind in hierarchies.items():
        if target not in valid:
            raise ValueError(
                f"a hierarchical prior on {target!r}, which {model} does not sample; valid "
                f"targets: {valid}"
            )
        if kind not in KINDS:
            raise ValueError(
                f"the hierarchy on {target!r} must be one of {sorted(KINDS)}, found {kind!r}"
            )
        hierarchy = GeneHierarchy(target, kind, n_genes)
        if target in priors:
            raise ValueError(
                f"priors names {target!r}, which the hierarchy on it replaces; override "
                f"its coordinates ({', '.join(hierarchy.names)}) instead"
            )
        del global_priors[target]
        global_priors.update(hierarchy.priors(priors))
        built.append(hierarchy)
    return tuple(built)
