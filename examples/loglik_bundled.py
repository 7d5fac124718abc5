"""Log-likelihood of bundled real 10x data under every scribe model.

Parameters are plug-in method-of-moments estimates (no fitting yet): per-gene means and
variances give the NB size ``r_g`` with a shared ``p``; the capture of each cell is its
library size relative to the largest; zero inflation takes the excess of observed zeros
over the NB's; the two-state model is the NB-like corner of the Poisson-Beta; PLN/NBLN
use the per-cell expected log-rate, and LNM the mean composition.

Run: ``python examples/loglik_bundled.py``
"""

import warnings

import numpy as np

import scribe


def moments(matrix) -> tuple[np.ndarray, np.ndarray]:
    mean = np.asarray(matrix.mean(axis=0)).ravel()
    second = np.asarray(matrix.multiply(matrix).mean(axis=0)).ravel()
    return mean, second - mean**2


def main() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", scribe.DataWarning)  # 1 empty cell, 285 empty genes
        data = scribe.data.load_counts(scribe.datasets.mouse_10x_10k_subset()).drop_empty()
    counts = data.matrix
    n_cells, n_genes = counts.shape
    print(f"mouse_10x_10k_subset: {n_cells} cells × {n_genes} genes, {data.nnz} nonzeros")

    mean, variance = moments(counts)
    # NB: variance = mean / (1 - p) per gene; pool the genes for one shared p.
    p = float(np.clip(1.0 - mean.sum() / variance.sum(), 1e-3, 1 - 1e-3))
    r = np.clip(mean * (1.0 - p) / p, 1e-3, None)
    totals = data.total_counts
    capture = np.clip(totals / totals.max(), 1e-3, 1.0)
    # With capture, odds(p̂_c) = odds(p) ν_c: rescale odds so the average cell keeps its mean.
    odds_vcp = p / (1.0 - p) / capture.mean()
    p_vcp = float(np.clip(odds_vcp / (1.0 + odds_vcp), 1e-3, 1 - 1e-3))
    nb_zero = (1.0 - p) ** r
    observed_zero = 1.0 - np.asarray((counts > 0).mean(axis=0)).ravel()
    gate = np.clip((observed_zero - nb_zero) / (1.0 - nb_zero), 1e-3, 0.99)
    # Poisson-Beta with β ≫ α is NB-like with r ≈ α and burst size rate/β.
    alpha, beta = r, np.full(n_genes, 50.0)
    rate = mean * (alpha + beta) / alpha
    log_rate = np.log(np.outer(totals / totals.mean(), mean) + 1e-3)
    composition = mean / mean.sum()
    reference = int(np.argmax(composition))
    alr = np.log(composition) - np.log(composition[reference])
    alr = np.tile(np.delete(alr, reference), (n_cells, 1))
    total_mean, total_var = totals.mean(), totals.var()
    p_total = float(1.0 - total_mean / total_var)
    r_total = total_mean * (1.0 - p_total) / p_total

    models = {
        "nbdm": {"r": r, "p": p},
        "zinb": {"r": r, "p": p, "gate": gate},
        "nbvcp": {"r": r, "p": p_vcp, "p_capture": capture},
        "zinbvcp": {"r": r, "p": p_vcp, "p_capture": capture, "gate": gate},
        "twostate": {"rate": rate, "alpha": alpha, "beta": beta},
        "pln": {"log_rate": log_rate, "p_capture": np.ones(n_cells)},
        "nbln": {"r": r, "log_mean": log_rate, "p_capture": np.ones(n_cells)},
        "lnm": {"r": r_total, "p": p_total, "alr": alr, "reference_gene": reference},
    }
    print(f"{'model':10s} {'total log-likelihood':>22s} {'per cell':>10s}")
    for name, params in models.items():
        per_cell = np.asarray(scribe.log_likelihood(counts, name, params))
        print(f"{name:10s} {per_cell.sum():22.1f} {per_cell.mean():10.2f}")


if __name__ == "__main__":
    main()
