"""Label switching in MCMC draws of K-component mixture models: a deterministic relabelling.

The likelihood of a mixture is invariant to permutations of its components, so NUTS chains
may visit different labellings (between chains, or, rarely, within one). Averaging draws
across labellings mixes components; ``relabel_components`` puts every draw on one common
labelling, that of the draw of highest log-joint, before posterior summaries.
"""

import dataclasses
from collections.abc import Collection

import numpy as np
from jaxtyping import Float, Int
from scipy.optimize import linear_sum_assignment
from scipy.special import log_expit, logit

from ._draws import McmcDraws

__all__ = ["MIXING_LOGITS", "RelabelReport", "relabel_components"]

MIXING_LOGITS = "mixing_logits"
"""The global of the mixing weights: ``K - 1`` unconstrained stick-breaking logits."""

# Features of at most this many float64 elements (draws x components x features) are held
# at once; the draws are processed in blocks of that size.
_CHUNK_ELEMENTS = 2**22


@dataclasses.dataclass(frozen=True, eq=False)
class RelabelReport:
    """What ``relabel_components`` did.

    Attributes
    ----------
    n_permuted
        Draws whose permutation is not the identity (over all chains).
    n_draws
        Draws in all (chains x draws per chain).
    per_chain
        ``n_permuted`` of each chain.
    permutations
        Each draw's permutation, ``(chains, draws, K)``: component ``k`` of the relabelled
        draw is component ``permutations[c, d, k]`` of the input draw.
    n_iterations
        Reference updates made after the first assignment (see ``relabel_components``).
    converged
        Whether the last reference update changed no permutation (always True with
        ``max_iter=0``).
    """

    n_permuted: int
    n_draws: int
    per_chain: list[int]
    permutations: Int[np.ndarray, "chains draws K"]
    n_iterations: int = 0
    converged: bool = True

    @property
    def switched(self) -> bool:
        """Whether any draw was relabelled."""
        return self.n_permuted > 0


def relabel_components(
    draws: McmcDraws,
    components: Collection[str],
    n_components: int,
    *,
    max_iter: int = 10,
) -> tuple[McmcDraws, RelabelReport]:
    """Put every draw of a mixture fit on the labelling of its draw of highest log-joint.

    Parameters
    ----------
    draws
        The MCMC draws; each global named in ``components`` has shape
        ``(chains, draws, K, ...)``, and the mixing weights, if sampled, are the global
        ``"mixing_logits"``, ``(chains, draws, K - 1)`` stick-breaking logits.
    components
        Names of the component-specific globals (e.g. ``("r", "p")``), all positive or in
        (0, 1); not ``"mixing_logits"``, which is relabelled anyway when present.
    n_components
        K, the number of mixture components (at least 2).
    max_iter
        At most this many reference updates after the first assignment (0: the
        best draw alone is the reference).

    Returns
    -------
    relabelled
        A new ``McmcDraws`` (``dataclasses.replace``): each global of ``components`` and
        ``"mixing_logits"`` permuted along its component axis, draw by draw; every other
        field is the input's. The input is not modified.
    report
        A ``RelabelReport``: how many draws were permuted, in all and per chain, and each
        draw's permutation. Nothing is warned here; the caller decides.

    Raises
    ------
    ValueError
        If ``n_components < 2``, ``components`` is empty, a name of ``components`` is not
        a global or has no axis 2 of size K, ``"mixing_logits"`` has not the shape
        ``(chains, draws, K - 1)``, or there are no draws.

    Notes
    -----
    1. *Features.* Each component of each draw is described by one vector: the
       concatenation, over ``components`` (in the given order), of the parameter's values
       for that component on an unbounded scale, the logit when all the parameter's finite
       draws lie in (0, 1), else the log when all are positive, else the values themselves.
       Each feature is centred and divided by its standard deviation over all draws and
       components pooled (1 where that is 0), so that every feature weighs alike; a
       non-finite feature is set to 0 (the pooled mean).
    2. *Reference and assignment.* The reference is the draw of highest ``log_joint``
       over all chains (``McmcDraws.best_index``), in its own labelling. A draw's
       permutation ``s`` minimises ``sum_k ||x[s[k]] - ref[k]||^2`` over the K!
       permutations, ``x`` being the draw's features: a linear assignment on the K x K
       cost ``C[k, j] = -ref[k] . x[j]`` (the squared norms are the same for every
       permutation), solved exactly by ``scipy.optimize.linear_sum_assignment``.
    3. *Iteration* (Stephens 2000; Celeux 1998). The reference is replaced by the
       per-component mean of the relabelled features and every draw reassigned, until no
       permutation changes or ``max_iter`` updates were made. Each update does not
       increase the total squared distance to the reference, a k-means-like descent that
       keeps the labels of the best draw's labelling.
    4. *Application.* Component ``k`` of each relabelled global is component ``s[k]`` of
       the draw's. The mixing logits are mapped to the simplex by stick breaking
       (``numpyro.distributions.transforms.StickBreakingTransform``), the K weights
       permuted and mapped back by its inverse, all in float64 and in log space (the
       same maps, computed without ``1 - cumsum`` round-off), then cast to the input's
       dtype. Draws whose permutation is the identity keep their values bit for bit.

    The procedure is deterministic: same draws, same result. It is the pivotal
    relabelling of Marin, Mengersen & Robert (2005), refined as in Stephens (2000),
    "Dealing with label switching in mixture models", JRSS B 62(4), 795-809.
    """
    names = _validate(draws, components, n_components)
    k = int(n_components)
    n_chains, n_draws = draws.n_chains, draws.n_draws
    flat, _ = draws.flat()
    values = {n: flat[n] for n in names}
    kinds = {n: _kind(v) for n, v in values.items()}
    n_features = sum(int(np.prod(values[n].shape[2:])) for n in names)
    chunk = max(1, _CHUNK_ELEMENTS // max(1, k * n_features))

    def features(start: int, stop: int, center=None, scale=None) -> np.ndarray:
        x = np.concatenate([_transform(values[n][start:stop], kinds[n]) for n in names], axis=-1)
        if center is not None:
            x = (x - center) / scale
            x[~np.isfinite(x)] = 0.0
        return x

    total = n_chains * n_draws
    best = draws.best_index()
    center, scale = _pooled_moments(features, total, chunk, shift=features(best, best + 1)[0])
    reference = features(best, best + 1, center, scale)[0]

    def assign(reference: Float[np.ndarray, "K f"]) -> tuple[np.ndarray, np.ndarray]:
        """Every draw's permutation to ``reference`` and the mean relabelled features."""
        perms = np.empty((total, k), np.intp)
        sums = np.zeros_like(reference)
        for start in range(0, total, chunk):
            stop = min(start + chunk, total)
            x = features(start, stop, center, scale)
            cost = -np.einsum("kf,njf->nkj", reference, x)
            for i in range(stop - start):
                perms[start + i] = linear_sum_assignment(cost[i])[1]
            sums += np.take_along_axis(x, perms[start:stop, :, None], axis=1).sum(axis=0)
        return perms, sums / total

    perms, mean = assign(reference)
    n_iterations, converged = 0, True
    for _ in range(max(0, int(max_iter))):
        new, new_mean = assign(mean)
        n_iterations += 1
        converged = bool(np.array_equal(new, perms))
        perms, mean = new, new_mean
        if converged:
            break

    perms = perms.reshape(n_chains, n_draws, k)
    moved = np.any(perms != np.arange(k), axis=-1)
    globals_ = dict(draws.globals_)
    for name in names:
        value = draws.globals_[name]
        index = perms.reshape(perms.shape + (1,) * (value.ndim - 3))
        globals_[name] = np.take_along_axis(value, index, axis=2)
    if MIXING_LOGITS in draws.globals_:
        globals_[MIXING_LOGITS] = _permute_logits(draws.globals_[MIXING_LOGITS], perms, moved)
    per_chain = [int(c) for c in moved.sum(axis=1)]
    report = RelabelReport(
        n_permuted=sum(per_chain),
        n_draws=total,
        per_chain=per_chain,
        permutations=perms,
        n_iterations=n_iterations,
        converged=converged,
    )
    return dataclasses.replace(draws, globals_=globals_), report


def _validate(draws: McmcDraws, components: Collection[str], n_components: int) -> list[str]:
    """Check the arguments; the component names, each once, in order."""
    if isinstance(components, str):
        raise ValueError(f"`components` must be a collection of names; got {components!r}.")
    if isinstance(n_components, bool) or not isinstance(n_components, int | np.integer):
        raise ValueError(f"`n_components` must be an integer; got {n_components!r}.")
    if n_components < 2:
        raise ValueError(f"`n_components` must be at least 2; got {n_components}.")
    names = list(dict.fromkeys(components))
    if not names:
        raise ValueError("`components` names no component-specific global.")
    if draws.n_chains * draws.n_draws == 0:
        raise ValueError("There are no draws to relabel.")
    lead = (draws.n_chains, draws.n_draws)
    for name in names:
        if name == MIXING_LOGITS:
            raise ValueError(
                f"{MIXING_LOGITS!r} is not a component-specific global (K - 1 logits); it "
                "is relabelled anyway: leave it out of `components`."
            )
        if name not in draws.globals_:
            raise ValueError(
                f"Component-specific global {name!r} is not among the draws' globals "
                f"{sorted(draws.globals_)}."
            )
        shape = np.shape(draws.globals_[name])
        if len(shape) < 3 or shape[:2] != lead or shape[2] != n_components:
            raise ValueError(
                f"Component-specific global {name!r} must have shape (chains, draws, "
                f"{n_components}, ...) = {(*lead, n_components)} + ...; got {shape}."
            )
    if MIXING_LOGITS in draws.globals_:
        shape = np.shape(draws.globals_[MIXING_LOGITS])
        if shape != (*lead, n_components - 1):
            raise ValueError(
                f"{MIXING_LOGITS!r} must have shape (chains, draws, K - 1) = "
                f"{(*lead, n_components - 1)}; got {shape}."
            )
    return names


def _kind(values: np.ndarray) -> str:
    """``"logit"`` when every finite value is in (0, 1), else ``"log"`` when every finite
    value is positive, else ``"identity"``."""
    finite = np.isfinite(values)
    if not finite.any():
        return "identity"
    low = np.min(values, where=finite, initial=np.inf)
    high = np.max(values, where=finite, initial=-np.inf)
    if low > 0 and high < 1:
        return "logit"
    if low > 0:
        return "log"
    return "identity"


def _transform(values: np.ndarray, kind: str) -> Float[np.ndarray, "n K f"]:
    """``values`` ``(n, K, ...)`` on the unbounded scale ``kind``, as ``(n, K, f)`` float64."""
    x = np.asarray(values, np.float64).reshape(values.shape[0], values.shape[1], -1)
    with np.errstate(divide="ignore", invalid="ignore"):
        if kind == "logit":
            return logit(x)
        if kind == "log":
            return np.log(x)
    return x.copy()


def _pooled_moments(features, total: int, chunk: int, shift: np.ndarray):
    """Each feature's mean and standard deviation over all draws and components (finite
    entries only; sd 1 where it is 0 or undefined), shifted sums in blocks of draws."""
    shift = np.where(np.isfinite(shift), shift, 0.0).mean(axis=0)
    s1 = np.zeros_like(shift)
    s2 = np.zeros_like(shift)
    count = np.zeros_like(shift)
    for start in range(0, total, chunk):
        x = features(start, min(start + chunk, total)) - shift
        ok = np.isfinite(x)
        x = np.where(ok, x, 0.0)
        s1 += x.sum(axis=(0, 1))
        s2 += (x * x).sum(axis=(0, 1))
        count += ok.sum(axis=(0, 1))
    n = np.maximum(count, 1.0)
    center = shift + s1 / n
    variance = np.maximum(s2 - s1 * s1 / n, 0.0) / np.maximum(count - 1.0, 1.0)
    sd = np.sqrt(variance)
    scale = np.where((sd > 0) & np.isfinite(sd), sd, 1.0)
    return center, scale


def _log_stick_breaking(logits: Float[np.ndarray, "... Km1"]) -> Float[np.ndarray, "... K"]:
    """Log of ``StickBreakingTransform()(logits)``, in float64: the K log weights."""
    x = np.asarray(logits, np.float64)
    x = x - np.log(x.shape[-1] - np.arange(x.shape[-1]))
    log_z, log_rest = log_expit(x), log_expit(-x)
    before = np.cumsum(log_rest, axis=-1)
    zeros = np.zeros((*x.shape[:-1], 1))
    return np.concatenate([log_z, zeros], axis=-1) + np.concatenate([zeros, before], axis=-1)


def _inverse_log_stick_breaking(
    log_weights: Float[np.ndarray, "... K"],
) -> Float[np.ndarray, "... Km1"]:
    """``StickBreakingTransform().inv`` of the weights ``exp(log_weights)`` (summing to 1),
    in float64: ``log w_j - log(sum_{i > j} w_i) + log(K - 1 - j)``."""
    w = np.asarray(log_weights, np.float64)
    rest = np.flip(np.logaddexp.accumulate(np.flip(w, axis=-1), axis=-1), axis=-1)[..., 1:]
    m = w.shape[-1] - 1
    return w[..., :-1] - rest + np.log(m - np.arange(m))


def _permute_logits(
    logits: Float[np.ndarray, "chains draws Km1"],
    perms: Int[np.ndarray, "chains draws K"],
    moved: np.ndarray,
) -> Float[np.ndarray, "chains draws Km1"]:
    """The stick-breaking logits of the permuted weights (unmoved draws copied as is)."""
    out = np.array(logits, copy=True)
    if moved.any():
        log_w = _log_stick_breaking(logits[moved])
        permuted = np.take_along_axis(log_w, perms[moved], axis=-1)
        out[moved] = _inverse_log_stick_breaking(permuted).astype(out.dtype, copy=False)
    return out
