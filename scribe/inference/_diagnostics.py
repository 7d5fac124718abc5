"""MCMC convergence diagnostics: rank-normalized split R-hat, bulk ESS and tail ESS.

Follows Vehtari, Gelman, Simpson, Carpenter & Bürkner (2021), "Rank-normalization, folding,
and localization: an improved R-hat for assessing convergence of MCMC", Bayesian Analysis
16(2), 667-718, https://doi.org/10.1214/20-BA1221 (the estimators of Stan and arviz).

Every function takes ``draws`` of shape ``(chains, draws, *shape)`` and returns one float64
value per scalar parameter, an array of shape ``shape``; all parameters are computed at once.
Chains are split in halves (the middle draw is dropped when the draw count is odd), so a single
chain is accepted and yields the split R-hat of its two halves (arviz returns NaN for one
chain). A parameter whose (split) draws are all equal, e.g. one fixed at a boundary, or one
with a NaN draw gets NaN R-hat and ESS, without warnings (arviz reports ESS = number of draws
for a constant parameter).
"""

import numpy as np
from jaxtyping import Float
from numpyro.diagnostics import autocovariance
from scipy.special import ndtri
from scipy.stats import rankdata

__all__ = ["ess_bulk", "ess_tail", "split_rhat"]


def _validate(draws) -> Float[np.ndarray, "params chains draws"]:
    """Check ``draws``; return it as contiguous float64 with the parameters flattened first."""
    arr = np.asarray(draws)
    if arr.dtype.kind not in "biuf":
        raise ValueError(f"`draws` must be a real-valued array; got dtype {arr.dtype}.")
    if arr.ndim < 2 or arr.shape[0] < 1 or arr.shape[1] < 4:
        raise ValueError(
            "`draws` must have shape (chains, draws, *shape) with at least 1 chain and 4 "
            f"draws per chain; got shape {arr.shape}."
        )
    flat = arr.reshape(*arr.shape[:2], int(np.prod(arr.shape[2:])))
    return np.ascontiguousarray(flat.transpose(2, 0, 1), dtype=np.float64)


def _split(x: Float[np.ndarray, "p c n"]) -> Float[np.ndarray, "p c2 n2"]:
    """Split every chain into its first and second half (dropping the middle draw if odd)."""
    half = x.shape[2] // 2
    return np.concatenate([x[..., :half], x[..., x.shape[2] - half :]], axis=1)


def _pooled(x: Float[np.ndarray, "p c n"]) -> Float[np.ndarray, "p cn"]:
    """All chains' draws of each parameter in one row (no ``-1`` reshape: ``p`` may be 0)."""
    return x.reshape(x.shape[0], x.shape[1] * x.shape[2])


def _z_scale(x: Float[np.ndarray, "p c n"]) -> Float[np.ndarray, "p c n"]:
    """Normal scores of the fractional ranks over all chains (Blom offset 3/8)."""
    flat = _pooled(x)
    ranks = rankdata(flat, method="average", axis=1)
    return ndtri((ranks - 0.375) / (flat.shape[1] + 0.25)).reshape(x.shape)


def _rhat(x: Float[np.ndarray, "p c n"]) -> Float[np.ndarray, " p"]:
    """Classic R-hat of (already split) chains."""
    n = x.shape[2]
    between = n * x.mean(axis=2).var(axis=1, ddof=1)
    within = x.var(axis=2, ddof=1).mean(axis=1)
    return np.sqrt((between / within + n - 1) / n)


def _ess(x: Float[np.ndarray, "p c n"]) -> Float[np.ndarray, " p"]:
    """Multi-chain ESS with Geyer's initial monotone sequence (Stan / arviz ``_ess``)."""
    _, chains, n = x.shape
    acov = autocovariance(x, axis=2).mean(axis=1)  # biased (divided by n), chain average
    mean_var = acov[:, 0] * n / (n - 1.0)
    var_plus = mean_var * (n - 1.0) / n
    if chains > 1:
        var_plus = var_plus + x.mean(axis=2).var(axis=1, ddof=1)
    rho = (1.0 - (mean_var[:, None] - acov) / var_plus[:, None]).T  # (n, p)
    rho[0] = 1.0
    # Pair sums S_k = rho_2k + rho_2k+1; stop at the first non-positive one, or the last pair
    # Stan evaluates, k_max (so the sum runs over lags < n - 2).
    k_max = max((n - 1) // 2 - 1, 0)
    pairs = rho[0 : 2 * k_max + 2 : 2] + rho[1 : 2 * k_max + 2 : 2]
    stop = pairs <= 0
    stop[k_max] = True
    k = np.argmax(stop, axis=0)[None]
    # Initial monotone sequence: the pairs before the stop, made non-increasing.
    monotone = np.minimum.accumulate(pairs, axis=0)
    head = np.concatenate([np.zeros_like(monotone[:1]), np.cumsum(monotone, axis=0)])
    head = np.take_along_axis(head, k, axis=0)[0]
    # The even lag of the stopping pair is kept if positive (or if its pair is >= 0).
    rho_even = np.take_along_axis(rho, 2 * k, axis=0)[0]
    keep = (np.take_along_axis(pairs, k, axis=0)[0] >= 0) | (rho_even > 0)
    tau = -1.0 + 2.0 * head + np.where(keep, rho_even, 0.0)
    tau = np.maximum(tau, 1.0 / np.log10(chains * n))  # antithetic chains: ESS <= N log10 N
    return np.where(var_plus > 0, chains * n / tau, np.nan)


def _finish(value: np.ndarray, x: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """NaN for parameters with a NaN draw; reshape to the parameter shape."""
    value = np.where(np.isnan(_pooled(x)).any(axis=1), np.nan, value)
    return value.astype(np.float64).reshape(shape)


def split_rhat(draws) -> np.ndarray:
    """Rank-normalized split R-hat, ``max(bulk R-hat, folded R-hat)``.

    Parameters
    ----------
    draws : array, shape ``(chains, draws, *shape)``
        Post-warmup draws; at least 4 per chain.

    Returns
    -------
    numpy.ndarray, shape ``shape``
        R-hat per parameter; values above 1.01 signal non-convergence. NaN for a constant
        parameter, ``inf`` when every chain is stuck at its own value.
    """
    x = _validate(draws)
    split = _split(x)
    with np.errstate(divide="ignore", invalid="ignore"):
        bulk = _rhat(_z_scale(split))
        folded = _rhat(_z_scale(np.abs(split - np.median(_pooled(split), axis=1)[:, None, None])))
        # fmax: a degenerate fold (e.g. two values, equally often) leaves the bulk R-hat
        return _finish(np.fmax(bulk, folded), x, np.shape(draws)[2:])


def ess_bulk(draws) -> np.ndarray:
    """Bulk effective sample size: the ESS of the rank-normalized split chains.

    Parameters
    ----------
    draws : array, shape ``(chains, draws, *shape)``
        Post-warmup draws; at least 4 per chain.

    Returns
    -------
    numpy.ndarray, shape ``shape``
        Bulk ESS per parameter (NaN for a constant parameter).
    """
    x = _validate(draws)
    with np.errstate(divide="ignore", invalid="ignore"):
        return _finish(_ess(_z_scale(_split(x))), x, np.shape(draws)[2:])


def ess_tail(draws) -> np.ndarray:
    """Tail effective sample size: the smaller ESS of ``I(x <= q05)`` and ``I(x <= q95)``.

    The quantiles are taken over all draws; the indicators' ESS is that of their split chains.
    An indicator that is constant (e.g. more than 5 % of the draws at the maximum) counts as
    fully efficient (ESS = number of split draws), as in arviz.

    Parameters
    ----------
    draws : array, shape ``(chains, draws, *shape)``
        Post-warmup draws; at least 4 per chain.

    Returns
    -------
    numpy.ndarray, shape ``shape``
        Tail ESS per parameter (NaN for a constant parameter).
    """
    x = _validate(draws)
    p = x.shape[0]
    quantiles = np.quantile(_pooled(x), [0.05, 0.95], axis=1)  # (2, p), R's type 7
    indicators = (x <= quantiles[:, :, None, None]).astype(np.float64).reshape(2 * p, *x.shape[1:])
    split = _split(indicators)
    with np.errstate(divide="ignore", invalid="ignore"):
        ess = _ess(split).reshape(2, p)
        ess = np.where(np.isnan(ess), split.shape[1] * split.shape[2], ess).min(axis=0)
        constant = np.ptp(_pooled(_split(x)), axis=1) == 0
        return _finish(np.where(constant, np.nan, ess), x, np.shape(draws)[2:])
