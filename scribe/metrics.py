"""Scores of a fitted model's output that do not depend on the model: embedding quality."""

from typing import Any

import numpy as np
from jaxtyping import ArrayLike, Float, Shaped

# Rows of the (test cells × cells) distance matrix held at once: about 64 MiB of float64.
_BLOCK_ELEMENTS = 2**23


def knn_accuracy(
    embedding: Float[ArrayLike, "cells latent"],
    labels: Shaped[ArrayLike, " cells"],
    *,
    k: int = 15,
    folds: int | None = 5,
    seed: int = 0,
) -> float:
    """Cross-validated accuracy of a k-nearest-neighbour label vote in an embedding.

    The cells are dealt into ``folds`` folds by a permutation seeded with ``seed``
    (``numpy.array_split`` of it, so fold sizes differ by at most one). Each cell's label
    is predicted by the majority label of its ``k`` nearest cells (Euclidean) outside its
    own fold; the score is the fraction of cells predicted right.

    Ties have fixed rules, so the score is a deterministic function of its arguments:
    cells at equal distance are taken in the order of the data (the earlier cell is the
    nearer; distances are computed as ``|a|² + |b|² - 2 a·b`` in float64, so "equal" is up
    to its rounding), and a vote tied between labels goes to the label that sorts first
    (``numpy.unique`` order).

    Parameters
    ----------
    embedding
        One row per cell, finite real numbers.
    labels
        One label per cell (strings, integers, a pandas Categorical ...).
    k
        Neighbours that vote; at least 1 and at most the number of cells outside the
        largest fold (``n_cells - ceil(n_cells / folds)``; ``n_cells - 1`` for
        leave-one-out).
    folds
        Number of folds, from 2 to the number of cells; ``None`` for leave-one-out (every
        other cell is a neighbour candidate; the same score as ``folds=n_cells``).
    seed
        Seed of the permutation that deals cells into folds (unused for leave-one-out).

    Returns
    -------
    float
        The fraction of cells whose label the vote predicts, in [0, 1].

    Examples
    --------
    >>> import numpy as np
    >>> from scribe.metrics import knn_accuracy
    >>> rng = np.random.default_rng(0)
    >>> labels = np.repeat(["B", "T"], 50)
    >>> embedding = rng.normal(size=(100, 2)) + np.where(labels == "B", 0.0, 10.0)[:, None]
    >>> knn_accuracy(embedding, labels, k=5)
    1.0
    >>> knn_accuracy(embedding, labels, k=5, folds=None)  # leave-one-out
    1.0
    """
    points = _check_embedding(embedding)
    n_cells = points.shape[0]
    codes, n_labels = _check_labels(labels, n_cells)
    fold = _fold_of_each_cell(n_cells, folds, seed)
    _check_k(k, n_cells - np.bincount(fold).max())

    squared_norms = np.einsum("ij,ij->i", points, points)
    one_hot = (codes[:, None] == np.arange(n_labels)).astype(np.float64)
    block = max(1, _BLOCK_ELEMENTS // n_cells)
    correct = 0
    for start in range(0, n_cells, block):
        rows = np.arange(start, min(start + block, n_cells))
        distance = squared_norms[rows, None] + squared_norms[None, :]
        distance -= 2.0 * (points[rows] @ points.T)
        # Cells of a row's own fold (itself included) are never its neighbours.
        distance[fold[rows, None] == fold[None, :]] = np.inf
        votes = _nearest(distance, k) @ one_hot
        correct += int(np.sum(votes.argmax(axis=1) == codes[rows]))
    return correct / n_cells


def _nearest(distance: np.ndarray, k: int) -> np.ndarray:
    """Each row's ``k`` smallest entries as a boolean mask, equal ones taken left to
    right: a stable sort's first ``k``, in linear time."""
    kth = np.partition(distance, k - 1, axis=1)[:, k - 1 : k]
    closer = distance < kth
    level = distance == kth
    room = k - closer.sum(axis=1, keepdims=True)
    return closer | (level & (np.cumsum(level, axis=1) <= room))


def _check_embedding(embedding: Any) -> np.ndarray:
    points = np.asarray(embedding)
    if points.dtype == bool or not (
        np.issubdtype(points.dtype, np.integer) or np.issubdtype(points.dtype, np.floating)
    ):
        raise TypeError(f"embedding must hold real numbers, found dtype {points.dtype}")
    if points.ndim != 2 or points.shape[0] < 2 or points.shape[1] < 1:
        raise ValueError(
            f"embedding must be 2-D, cells × dimensions, with at least 2 cells and 1 "
            f"dimension; found shape {points.shape}"
        )
    points = points.astype(np.float64)
    if not np.all(np.isfinite(points)):
        raise ValueError("embedding must be finite; found NaN or infinite values")
    return points


def _check_labels(labels: Any, n_cells: int) -> tuple[np.ndarray, int]:
    values = np.asarray(labels)
    if values.ndim != 1 or values.shape[0] != n_cells:
        raise ValueError(
            f"labels must be 1-D with one label per row of embedding ({n_cells}); found "
            f"shape {values.shape}"
        )
    try:
        unique, codes = np.unique(values, return_inverse=True)
    except TypeError as error:
        raise TypeError(f"labels must be sortable values of one kind: {error}") from None
    return codes.reshape(-1), len(unique)


def _fold_of_each_cell(n_cells: int, folds: Any, seed: Any) -> np.ndarray:
    _check_int("seed", seed)
    if folds is None:
        return np.arange(n_cells)
    _check_int("folds", folds, expected="an int or None")
    if not 2 <= folds <= n_cells:
        raise ValueError(
            f"folds must be between 2 and the number of cells ({n_cells}), or None for "
            f"leave-one-out; found {folds}"
        )
    order = np.random.default_rng(seed).permutation(n_cells)
    fold = np.empty(n_cells, dtype=np.int64)
    for index, members in enumerate(np.array_split(order, folds)):
        fold[members] = index
    return fold


def _check_k(k: Any, n_candidates: int) -> None:
    _check_int("k", k)
    if not 1 <= k <= n_candidates:
        raise ValueError(
            f"k must be between 1 and the number of cells outside the largest fold "
            f"({n_candidates}); found {k}"
        )


def _check_int(argument: str, value: Any, *, expected: str = "an int") -> None:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise TypeError(f"{argument} must be {expected}, found {value!r}")


def adjusted_rand_index(labels_a: Any, labels_b: Any) -> float:
    """The adjusted Rand index of two partitions of the same cells (Hubert & Arabie 1985).

    ``(Σ_ij C(n_ij, 2) − E) / (½ (Σ_i C(a_i, 2) + Σ_j C(b_j, 2)) − E)`` with ``n_ij`` the
    contingency table, ``a``, ``b`` its margins and ``E = Σ_i C(a_i, 2) Σ_j C(b_j, 2) /
    C(n, 2)``: 1 for identical partitions (up to renaming), about 0 for independent ones.

    Parameters
    ----------
    labels_a, labels_b
        One label per cell (any hashable values), the same number of cells.

    Examples
    --------
    >>> adjusted_rand_index([0, 0, 1, 1], ["x", "x", "y", "y"])
    1.0
    """
    a, b = np.asarray(labels_a), np.asarray(labels_b)
    if a.ndim != 1 or a.shape != b.shape or a.size < 2:
        raise ValueError(
            f"labels_a and labels_b must be 1-D of the same length >= 2, found shapes "
            f"{a.shape} and {b.shape}"
        )
    _, rows = np.unique(a, return_inverse=True)
    _, cols = np.unique(b, return_inverse=True)
    table = np.zeros((rows.max() + 1, cols.max() + 1))
    np.add.at(table, (rows, cols), 1.0)

    def pairs(x):
        return np.sum(x * (x - 1.0) / 2.0)

    index, sum_a, sum_b = pairs(table), pairs(table.sum(1)), pairs(table.sum(0))
    expected = sum_a * sum_b / (a.size * (a.size - 1.0) / 2.0)
    maximum = 0.5 * (sum_a + sum_b)
    if maximum == expected:  # both partitions trivial (one cluster, or all singletons)
        return 1.0
    return float((index - expected) / (maximum - expected))
