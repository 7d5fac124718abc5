"""What the data says before fitting: method-of-moments starting values for the NB
family (where the guide starts) and the LNM's reference gene."""

import numpy as np
import scipy.sparse as sp

from ..data import CountData
from ..parameterizations import TwoStateMeanFano

# alpha + beta of the two-state starting values: a promoter switching about as fast as
# the mRNA degrades.
TWO_STATE_KAPPA = 2.0


def moment_estimates(
    data: CountData, *, variable_capture: bool, of_totals: bool = False, two_state: bool = False
) -> dict[str, np.ndarray]:
    """Natural-parameter starting values from per-gene means and variances.

    NB variance = mean / (1 - p) per gene; pooling the genes gives one shared ``p`` and
    ``r_g = mean_g (1 - p) / p``. With capture, each cell's ``ν_c`` starts at its library
    size relative to the largest, and ``odds(p)`` is divided by the mean ``ν`` so the
    average cell keeps its mean (``odds(p̂) = odds(p) ν``). With ``of_totals`` the
    estimates are those of each cell's total count, as one "gene" (the LNM's NB total).
    With ``two_state`` they also hold the Poisson-Beta ``rate``, ``alpha``, ``beta`` with
    each gene's mean and variance and ``alpha + beta = TWO_STATE_KAPPA`` (the
    ``TwoStateMeanFano`` map at excess Fano ``variance / mean - 1``, at least 0.1).
    """
    matrix = data.matrix
    if of_totals:
        matrix = sp.csr_array(np.asarray(data.total_counts, dtype=float)[:, None])
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
    if two_state:
        mu = np.maximum(mean, 1e-3)
        fano = np.maximum(variance / mu - 1.0, 0.1)
        kappa = np.full_like(mu, TWO_STATE_KAPPA)
        natural = TwoStateMeanFano().to_natural({"mu": mu, "F": fano, "kappa": kappa})
        values.update({n: np.asarray(natural[n]) for n in ("rate", "alpha", "beta")})
    return values


def reference_gene(data: CountData, *, pseudocount: float = 0.5, block: int = 256) -> int:
    """The LNM's ALR reference gene: among genes whose mean count is above the median
    gene mean, the one whose log-proportion varies least across cells.

    A cell's log-proportion of gene g is ``log((u_cg + pseudocount) / u_c)`` over cells
    with counts; the chosen gene is the argmin of its variance across cells (the lowest
    index on ties). When no gene is above the median (all means equal), every gene is a
    candidate. A stable, well-expressed reference makes each ALR coordinate close to a
    log-proportion shifted by a near-constant, so the linear decoder's coordinates are
    comparable across cells.

    Parameters
    ----------
    data
        The counts (empty cells are ignored).
    pseudocount
        Added to each count before the log.
    block
        Genes per dense block (memory is ``n_cells × block`` floats).

    Examples
    --------
    >>> import numpy as np
    >>> from scribe.data import load_counts
    >>> counts = np.array([[5, 10, 0, 1], [10, 20, 3, 0], [5, 11, 1, 6]])
    >>> reference_gene(load_counts(counts))  # genes 0 and 1 are above the median mean
    1
    """
    matrix = sp.csr_array(data.matrix, dtype=np.float64)
    totals = np.asarray(matrix.sum(axis=1)).ravel()
    matrix = matrix[totals > 0]
    log_totals = np.log(totals[totals > 0])[:, None]
    means = np.asarray(matrix.mean(axis=0)).ravel()
    candidates = np.flatnonzero(means > np.median(means))
    if candidates.size == 0:
        candidates = np.arange(data.n_genes)
    variances = np.concatenate(
        [
            np.var(np.log(matrix[:, genes].toarray() + pseudocount) - log_totals, axis=0)
            for genes in np.array_split(candidates, max(1, -(-candidates.size // block)))
        ]
    )
    return int(candidates[np.argmin(variances)])
