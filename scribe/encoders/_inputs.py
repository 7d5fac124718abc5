"""What a count-reading network sees of a cell: transformed counts and its library size."""

from types import ModuleType

import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from ..data import Batch, CountData

INPUT_TRANSFORMS = ("log1p", "log1p_proportions", "none")

# "log1p_proportions" scales each cell to this many UMI first (scanpy's normalize_total).
TARGET_SUM = 1e4


def transform_counts(counts, totals, kind: str, xp: ModuleType = jnp):
    """The input transform ``kind`` of counts, elementwise given each count's cell total.

    One formula for numpy (data moments) and jax (the network); every kind maps 0 to 0.

    Parameters
    ----------
    counts
        Counts, any shape.
    totals
        The total UMI of each count's cell, broadcastable against ``counts``.
    kind
        ``"log1p"``: ``log(1 + u)``; ``"log1p_proportions"``: ``log(1 + 10⁴ u / total)``
        (a cell with no counts has proportions 0); ``"none"``: ``u``.
    xp
        ``jax.numpy`` or ``numpy``.
    """
    if kind == "log1p":
        return xp.log1p(counts)
    if kind == "log1p_proportions":
        return xp.log1p(TARGET_SUM * counts / xp.maximum(totals, 1.0))
    return counts


def dense_counts(batch: Batch) -> Float[Array, "cells genes"]:
    """The batch's dense counts, scattered from its nonzeros where it has no dense copy."""
    if batch.counts is not None:
        return batch.counts
    return batch.nonzeros.to_dense(batch.batch_size, batch.n_genes)


def batch_inputs(
    batch: Batch, kind: str, include_library: bool, dtype
) -> Float[Array, "cells inputs"]:
    """Transformed counts of every gene, then ``log1p(total)`` if ``include_library``.

    Computed in ``dtype`` (the network's), whatever the dtype the batch's counts are in.
    """
    totals = batch.total_counts[:, None].astype(dtype)
    features = transform_counts(dense_counts(batch).astype(dtype), totals, kind)
    if include_library:
        features = jnp.concatenate([features, jnp.log1p(totals)], axis=1)
    return features


def input_moments(
    data: CountData, kind: str, include_library: bool
) -> tuple[Float[np.ndarray, " inputs"], Float[np.ndarray, " inputs"]]:
    """Mean and standard deviation over all cells of each input ``batch_inputs`` builds.

    Computed from the nonzeros alone (every transform maps 0 to 0), in float64, in two
    passes (mean, then centred squares) so that a constant feature has no rounding
    variance. A feature constant over the data (std ≤ 1e-6 · (1 + |mean|)) gets standard
    deviation 1, so it passes unscaled.
    """
    matrix, n_cells = data.matrix, data.n_cells
    totals = np.repeat(np.asarray(data.total_counts, np.float64), np.diff(matrix.indptr))
    values = transform_counts(np.asarray(matrix.data, np.float64), totals, kind, np)
    mean = np.bincount(matrix.indices, values, minlength=data.n_genes) / n_cells
    n_zeros = n_cells - np.bincount(matrix.indices, minlength=data.n_genes)
    centred = values - mean[matrix.indices]
    squares = np.bincount(matrix.indices, centred**2, minlength=data.n_genes) + n_zeros * mean**2
    std = np.sqrt(squares / n_cells)
    if include_library:
        library = np.log1p(np.asarray(data.total_counts, np.float64))
        mean, std = np.append(mean, library.mean()), np.append(std, library.std())
    return mean, np.where(std > 1e-6 * (1.0 + np.abs(mean)), std, 1.0)
