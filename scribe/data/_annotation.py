"""Per-cell labels from ``adata.obs``: annotation codes of a mixture's components, and
each cell's dataset."""

from collections.abc import Sequence
from typing import Any

import numpy as np
from jaxtyping import Int

UNLABELLED = -1


def _obs_labels(data: Any, key: str, argument: str) -> tuple[np.ndarray, np.ndarray]:
    """``data.obs[key]`` as strings, and where a value is missing (NaN, None, blank)."""
    import anndata

    if not isinstance(data, anndata.AnnData):
        raise TypeError(
            f"{argument} reads adata.obs: data must be an AnnData, found {type(data).__name__}"
        )
    if key not in data.obs.columns:
        raise ValueError(
            f"{argument} {key!r} is not a column of adata.obs; columns: {list(data.obs.columns)}"
        )
    column = data.obs[key]
    missing = column.isna().to_numpy() | (column.astype(str).str.strip() == "").to_numpy()
    return np.where(missing, "", column.astype(str).to_numpy()), missing


def dataset_labels(data: Any, key: str) -> tuple[Int[np.ndarray, " cells"], tuple[str, ...]]:
    """Each cell's dataset from ``data.obs[key]``: codes ``0 .. D-1`` in the order of the
    sorted distinct values (compared as strings), and those values.

    Raises
    ------
    TypeError
        ``data`` is not an AnnData.
    ValueError
        A missing ``obs`` column, a cell without a value, or fewer than two datasets.
    """
    labels, missing = _obs_labels(data, key, "dataset_key")
    if missing.any():
        raise ValueError(
            f"adata.obs[{key!r}] has no dataset for {int(missing.sum())} cells: every cell "
            "needs one"
        )
    names = tuple(sorted(set(labels)))
    if len(names) < 2:
        raise ValueError(
            f"dataset_key {key!r} has one level ({names[0]!r}): a multi-dataset fit needs "
            "at least two"
        )
    position = {name: d for d, name in enumerate(names)}
    return np.array([position[label] for label in labels], np.int32), names


def annotation_labels(
    data: Any,
    key: str,
    n_components: int,
    order: Sequence[str] | None = None,
) -> tuple[Int[np.ndarray, " cells"], tuple[str, ...]]:
    """Each cell's component from the labels in ``data.obs[key]``.

    Missing values (NaN, None, empty strings) leave a cell unlabelled (−1). Labels are
    compared as strings.

    Parameters
    ----------
    data
        The AnnData being fitted.
    key
        The ``obs`` column of labels.
    n_components
        K: there may be at most K distinct labels.
    order
        The label of each component in order (components past ``len(order)`` have no
        label); None: the distinct labels, sorted.

    Returns
    -------
    codes, order
        ``(cells,)`` component indices (−1: unlabelled) and the label order used.

    Raises
    ------
    TypeError
        ``data`` is not an AnnData.
    ValueError
        A missing ``obs`` column, more distinct labels than K, labels absent from
        ``order``, or no labelled cell.
    """
    labels, missing = _obs_labels(data, key, "annotation_key")
    found = sorted(set(labels[~missing]))
    if not found:
        raise ValueError(f"adata.obs[{key!r}] labels no cell (every value is missing)")
    if order is None:
        if len(found) > n_components:
            raise ValueError(
                f"adata.obs[{key!r}] holds {len(found)} labels, more than n_components="
                f"{n_components}: {found}"
            )
        order = tuple(found)
    order = tuple(str(label) for label in order)
    unknown = sorted(set(found) - set(order))
    if unknown:
        raise ValueError(
            f"adata.obs[{key!r}] holds labels {unknown} that annotation_component_order "
            f"{list(order)} does not place"
        )
    position = {label: k for k, label in enumerate(order)}
    codes = np.array([position.get(label, UNLABELLED) for label in labels], np.int32)
    codes[missing] = UNLABELLED
    return codes, order
