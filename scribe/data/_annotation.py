"""Per-cell annotation labels from ``adata.obs``, as component codes of a mixture."""

from collections.abc import Sequence
from typing import Any

import numpy as np
from jaxtyping import Int

UNLABELLED = -1


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
    import anndata

    if not isinstance(data, anndata.AnnData):
        raise TypeError(
            f"annotation_key reads adata.obs: data must be an AnnData, found {type(data).__name__}"
        )
    if key not in data.obs.columns:
        raise ValueError(
            f"annotation_key {key!r} is not a column of adata.obs; columns: "
            f"{list(data.obs.columns)}"
        )
    column = data.obs[key]
    missing = column.isna().to_numpy() | (column.astype(str).str.strip() == "").to_numpy()
    labels = np.where(missing, "", column.astype(str).to_numpy())
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
