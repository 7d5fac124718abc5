"""Method-of-moments starting values for the NB family (where the guide starts)."""

import numpy as np

from .data import CountData


def moment_estimates(data: CountData, *, variable_capture: bool) -> dict[str, np.ndarray]:
    """Natural-parameter starting values from per-gene means and variances.

    NB variance = mean / (1 - p) per gene; pooling the genes gives one shared ``p`` and
    ``r_g = mean_g (1 - p) / p``. With capture, each cell's ``ν_c`` starts at its library
    size relative to the largest, and ``odds(p)`` is divided by the mean ``ν`` so the
    average cell keeps its mean (``odds(p̂) = odds(p) ν``).
    """
    matrix = data.matrix
    mean = np.asarray(matrix.mean(axis=0)).ravel()
    second = np.asarray(matrix.multiply(matrix).mean(axis=0)).ravel()
    variance = np.maximum(second - mean**2, 1e-12)
    p = float(np.clip(1.0 - mean.sum() / variance.sum(), 0.05, 0.95))
    values = {"gate": np.full(data.n_genes, 0.05)}
    # r from the pooled p: capture rescales odds(p), not r.
    r = np.clip(mean * (1.0 - p) / p, 1e-2, None)
    if variable_capture:
        totals = np.asarray(data.total_counts, dtype=float)
        capture = np.clip(totals / max(totals.max(), 1.0), 0.05, 0.95)
        odds = p / (1.0 - p) / capture.mean()
        values["p_capture"] = capture
        values["phi_capture"] = 1.0 / capture - 1.0
        p = float(np.clip(odds / (1.0 + odds), 0.05, 0.95))
    values.update(p=np.asarray(p), r=r, mu=r * p / (1.0 - p), phi=np.asarray((1.0 - p) / p))
    return values
