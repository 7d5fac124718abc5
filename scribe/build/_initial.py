"""What the data says before fitting: method-of-moments starting values for the NB
family (where the guide starts) and the LNM's reference gene."""

import jax
import jax.numpy as jnp
import numpy as np
import numpyro.distributions as dist
import scipy.sparse as sp
from jaxtyping import Array, Float, Int
from scipy.cluster.vq import kmeans2

from ..data import CountData
from ..model import ScribeModel
from ..model._mixture import MIXING, mixing_logits
from ..parameterizations import TwoStateMeanFano

# alpha + beta of the two-state starting values: a promoter switching about as fast as
# the mRNA degrades.
TWO_STATE_KAPPA = 2.0


def moment_estimates(
    data: CountData,
    *,
    variable_capture: bool,
    of_totals: bool = False,
    two_state: bool = False,
    capture: Float[np.ndarray, " cells"] | None = None,
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
    ``capture`` replaces the library-size start of ``ν_c`` (e.g. a capture prior's
    median).
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
        if capture is None:
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


# Where a mixture starts: k-means on the leading principal components of each cell's
# log-normalised expression of the most variable genes.
CLUSTER_GENES = 500
CLUSTER_COMPONENTS = 20
CLUSTER_SCALE = 1e4
# Prior draws whose median is a cell's starting capture under a per-cell prior.
CAPTURE_START_DRAWS = 201


def cluster_cells(
    data: CountData,
    n_components: int,
    *,
    seed: int,
    labels: Int[np.ndarray, " cells"] | None = None,
) -> Int[np.ndarray, " cells"]:
    """A starting assignment of every cell to one of ``n_components`` clusters.

    k-means (``scipy.cluster.vq.kmeans2``, k-means++ seeding from ``seed``) on the first
    ``CLUSTER_COMPONENTS`` principal components of ``log1p(CLUSTER_SCALE · u_cg / u_c)``
    over the ``CLUSTER_GENES`` genes of highest variance. With annotation ``labels``
    (−1: unlabelled), a labelled component's centroid starts at its cells' mean and its
    labelled cells keep it. Every cluster keeps at least one cell.
    """
    matrix = sp.csr_array(data.matrix, dtype=np.float64)
    totals = np.maximum(np.asarray(matrix.sum(axis=1)).ravel(), 1.0)
    normalised = sp.csr_array(sp.diags(CLUSTER_SCALE / totals) @ matrix)
    normalised.data = np.log1p(normalised.data)
    mean = np.asarray(normalised.mean(axis=0)).ravel()
    variance = np.asarray(normalised.multiply(normalised).mean(axis=0)).ravel() - mean**2
    genes = np.sort(np.argsort(-variance)[:CLUSTER_GENES])
    dense = normalised[:, genes].toarray() - mean[genes]
    u, s, _ = np.linalg.svd(dense, full_matrices=False)
    features = u[:, :CLUSTER_COMPONENTS] * s[:CLUSTER_COMPONENTS]
    rng = np.random.default_rng(seed)
    if labels is None:
        _, assignment = kmeans2(features, n_components, minit="++", seed=rng)
    else:
        centroids = features[rng.choice(data.n_cells, n_components, replace=False)]
        for k in range(n_components):
            if np.any(labels == k):
                centroids[k] = features[labels == k].mean(axis=0)
        _, assignment = kmeans2(features, centroids, minit="matrix", seed=rng)
        assignment = np.where(labels >= 0, labels, assignment)
    for k in range(n_components):  # an empty cluster takes a random cell
        if not np.any(assignment == k):
            assignment[rng.integers(data.n_cells)] = k
    return assignment


def mixture_estimates(
    data: CountData,
    assignment: Int[np.ndarray, " cells"],
    n_components: int,
    *,
    variable_capture: bool,
    capture: Float[np.ndarray, " cells"] | None = None,
) -> dict[str, np.ndarray]:
    """``moment_estimates`` of each cluster of ``assignment``, stacked on a leading axis
    of K (the per-cell capture is the whole data's), with the clusters' shares as
    ``mixing_weights``."""
    whole = moment_estimates(data, variable_capture=variable_capture, capture=capture)
    capture = whole.get("p_capture")
    per_cluster = []
    for k in range(n_components):
        cells = np.flatnonzero(assignment == k)
        subset = data.take_cells(cells)
        sub_capture = None if capture is None else capture[cells]
        per_cluster.append(
            moment_estimates(subset, variable_capture=variable_capture, capture=sub_capture)
        )
    names = ("p", "r", "mu", "phi", "gate")
    values = {n: np.stack([c[n] for c in per_cluster]) for n in names}
    shares = np.bincount(assignment, minlength=n_components) / assignment.size
    values["mixing_weights"] = np.clip(shares, 1e-3, None) / np.clip(shares, 1e-3, None).sum()
    for name in ("p_capture", "phi_capture"):
        if name in whole:
            values[name] = whole[name]
    return values


def starting_values(
    model: ScribeModel,
    data: CountData,
    *,
    seed: int,
    capture: Float[np.ndarray, " cells"] | None = None,
) -> dict[str, np.ndarray]:
    """Where a fit of ``model`` starts: every global (shaped as ``model.global_shapes``)
    and every coordinate of the per-cell capture, on their domains.

    Method-of-moments estimates (``moment_estimates``); for a mixture, the
    component-specific globals are those of each cluster of ``cluster_cells`` (its
    annotation labels respected) and the weights the clusters' shares.
    """
    start = moment_estimates(
        data,
        variable_capture=model.capture is not None,
        of_totals=model.models_totals,
        two_state=model.model.startswith("twostate"),
        capture=capture,
    )
    if model.is_mixture:
        labels = None if model.cell_labels is None else np.asarray(model.cell_labels)
        assignment = cluster_cells(data, model.n_components, seed=seed, labels=labels)
        mixture = mixture_estimates(
            data,
            assignment,
            model.n_components,
            variable_capture=model.capture is not None,
            capture=start.get("p_capture"),
        )
        start.update({n: mixture[n] for n in model.mixture_params})
        start[MIXING] = np.asarray(mixing_logits(mixture["mixing_weights"]))
        start["mixing_weights"] = mixture["mixing_weights"]
    shapes = model.global_shapes
    if all(n in start for n in shapes):
        values = {n: np.reshape(start[n], s) for n, s in shapes.items()}
    else:  # coordinates the estimates do not hold directly (the two-state families')
        values = {n: np.asarray(v) for n, v in model.globals_from_natural(start).items()}
    values.update({n: start[n] for n in ("p_capture", "phi_capture") if n in start})
    return values


def capture_start(model: ScribeModel) -> Float[np.ndarray, " cells"] | None:
    """Each cell's starting capture under a per-cell capture prior (its median), or None
    (the library-size start of ``moment_estimates``)."""
    if model.capture is None:
        return None
    ((name, prior),) = model.local_priors.items()
    if prior.batch_shape != (model.n_cells,):
        return None
    try:
        median = {name: _median(prior)}
    except NotImplementedError:  # no quantile function: the median of draws
        keys = jax.random.split(jax.random.key(0), CAPTURE_START_DRAWS)
        median = {name: jnp.median(jax.vmap(lambda key: prior.sample(key))(keys), axis=0)}
    natural = model.capture.to_natural(median)["p_capture"]
    return np.clip(np.asarray(natural), 1e-6, 1.0 - 1e-6)


def _median(prior: dist.Distribution) -> Array:
    """A distribution's median from its quantile function, pushed through the (monotone)
    transforms of a ``TransformedDistribution``, which map a median to the median."""
    if isinstance(prior, dist.TransformedDistribution):
        value = _median(prior.base_dist)
        for transform in prior.transforms:
            value = transform(value)
        return value
    return prior.icdf(jnp.full(prior.batch_shape, 0.5))
