"""Log-pmf of the Poisson-Beta compound by mode-centred double-exponential quadrature.

``P(u) = ∫ Poisson(u | rate·x) Beta(x | α, β) dx`` (MATH.md, "TwoState"). In ``t = logit x``
the integrand is ``exp g(t)``, ``g = a log σ(t) + β log σ(-t) - rate σ(t)``, ``a = α + u``:
smooth, unimodal, with tails ``e^{a t}`` and ``e^{-β t}`` (slow when ``a`` or ``β`` is small).
The mode ``x* = σ(t*)`` solves ``rate x² - (a + β + rate) x + a = 0`` in closed form. Nodes
``t = t* + s·sinh(τ)`` (``s`` from the curvature at the mode) are equally spaced in ``τ`` over a
range chosen per entry so that each tail is cut where it no longer matters; the trapezoid rule in
``τ`` then converges double-exponentially. ``g - g(t*)`` is evaluated around the mode in a form
that does not cancel, and ``g(t*)`` is folded with the normalising constants into a Poisson and a
Beta "saddle-point" term, so float32 keeps its digits at large counts and parameters.

Gradients come from a custom JVP, with the posterior of ``x`` given ``u`` taken by the same
nodes: ``∂/∂α = E[log x] - ψ(α) + ψ(α+β)``, ``∂/∂β = E[log(1-x)] - ψ(β) + ψ(α+β)``,
``∂/∂rate = u/rate - E[x]``. Nothing of shape ``(..., n_nodes)`` is kept for the backward pass,
and nothing is differentiated through the node placement. The placement moves in discrete steps
(tail doubling), so the value is continuous in the parameters only to within the quadrature
error (~1e-7).
"""

import functools

import jax
import jax.numpy as jnp
from jax.scipy.special import digamma, gammaln
from jaxtyping import Array, Float

# Stirling series of lgamma(z) - (z - 1/2) log z + z - log(2π)/2; five terms reach float64
# precision from z = 10 on.
_STIRLING = (1.0 / 12.0, -1.0 / 360.0, 1.0 / 1260.0, -1.0 / 1680.0, 1.0 / 1188.0)
_STIRLING_FROM = 10.0
# Each tail is extended (doubling, at most this many times) until it lies below the cut-off.
_N_DOUBLINGS = 3


def _stirling_remainder(z: Array) -> Array:
    """``lgamma(z) - (z - 1/2) log z + z``: small for every ``z > 0``, unlike its parts."""
    large = z >= _STIRLING_FROM
    z_large = jnp.where(large, z, _STIRLING_FROM)
    z_small = jnp.where(large, 1.0, z)
    inv2 = 1.0 / (z_large * z_large)
    series = _STIRLING[-1]
    for coefficient in reversed(_STIRLING[:-1]):
        series = coefficient + inv2 * series
    asymptotic = 0.5 * jnp.log(2.0 * jnp.pi) + series / z_large
    direct = gammaln(z_small) - (z_small - 0.5) * jnp.log(z_small) + z_small
    return jnp.where(large, asymptotic, direct)


def _mode(a: Array, b: Array, rate: Array) -> tuple[Array, Array]:
    """``(x*, 1 - x*)`` at the mode in logit space, each accurate when it is small."""
    d = a + b - rate
    root = jnp.sqrt(d * d + 4.0 * b * rate)  # (a + b + rate)² - 4 a rate without cancelling
    x = 2.0 * a / (a + b + rate + root)
    # 1 - x is the root of the mirrored quadratic; pick the form that does not cancel.
    safe_rate = jnp.where(d >= 0, 1.0, rate)
    y = jnp.where(d >= 0, 2.0 * b / jnp.where(d >= 0, d + root, 1.0), (root - d) / safe_rate / 2)
    x_small = x <= 0.5
    return jnp.where(x_small, x, 1.0 - y), jnp.where(x_small, 1.0 - x, y)


def _log1p(z: Array, w: Array) -> Array:
    """``log1p(z)`` given ``w = 1 + z`` computed more accurately than ``1 + z`` would be.

    ``log(w) · z / (w - 1)`` (Kahan's trick) is accurate both near ``z = 0``, where ``w - 1`` is
    exact, and near ``z = -1``, where ``log1p`` of a rounded ``z`` would lose every digit.
    """
    step = w - 1.0
    at_one = step == 0
    return jnp.where(at_one, z, jnp.log(w) * z / jnp.where(at_one, 1.0, step))


def _log_shift(a, b, rate, x, y, delta):
    """``g(t* + δ) - g(t*)`` and the node values the gradients need.

    Returns ``(shift, log_ratio, sigma_step)`` with ``log_ratio = log x* - log σ(t)`` and
    ``sigma_step = σ(t) - x*``. Written with ``e^{-|δ|}`` only, so nothing overflows and the
    terms that are linear in ``δ`` at the mode are never formed and subtracted.
    """
    right = delta >= 0
    abs_delta = jnp.abs(delta)
    expm1 = jnp.expm1(-abs_delta)
    far = jnp.where(right, y, x)  # the mass that moves away from the mode on this side
    denominator = jnp.where(right, x, y) + far * (1.0 + expm1)
    log1p = _log1p(far * expm1, denominator)
    sigma_step = jnp.where(right, -1.0, 1.0) * (x * y) * expm1 / denominator
    shift = -(a + b) * log1p - jnp.where(right, b, a) * abs_delta - rate * sigma_step
    log_ratio = log1p + jnp.where(right, 0.0, abs_delta)
    return shift, log_ratio, sigma_step


def _tail_extent(a, b, rate, x, y, scale, side, log_eps):
    """Distance from the mode, on one side, beyond which the tail holds less than ``eps``."""
    if side > 0:
        decay, offset = b, -(a + b) * jnp.log(x) - rate * y
    else:
        decay, offset = a, -(a + b) * jnp.log(y) + rate * x
    # Far out g(t* + δ) - g(t*) → offset - decay·|δ|; the cut-off allows for the tail's length.
    cut = log_eps + jnp.log(jnp.minimum(1.0, decay * scale))
    extent = jnp.maximum(4.0 * scale, (offset - cut) / decay)
    for _ in range(_N_DOUBLINGS):
        too_short = _log_shift(a, b, rate, x, y, side * extent)[0] > cut
        extent = jnp.where(too_short, 2.0 * extent, extent)
    return extent


def _placement(a, b, rate):
    """Mode ``(x*, 1 - x*)``, width ``s`` and the ``τ`` range ``[-lower, upper]`` of the nodes."""
    dtype = a.dtype
    # Cut each tail at float32's resolution, or at 1e-10 in float64 (10⁵× inside the 1e-5 goal).
    log_eps = jnp.log(jnp.asarray(max(float(jnp.finfo(dtype).eps), 1e-10), dtype))
    x, y = _mode(a, b, rate)
    # The curvature -g''(t*) = a y² + b x² sets the width; a cap keeps the logit-space poles at
    # t = ±iπ (which limit the trapezoid's strip of analyticity) from being resolved too coarsely.
    scale = jnp.minimum(jax.lax.rsqrt(a * y * y + b * x * x), 2.0)
    upper = jnp.arcsinh(_tail_extent(a, b, rate, x, y, scale, 1.0, log_eps) / scale)
    lower = jnp.arcsinh(_tail_extent(a, b, rate, x, y, scale, -1.0, log_eps) / scale)
    return jax.lax.stop_gradient((x, y, scale, jnp.minimum(lower, 10.0), jnp.minimum(upper, 10.0)))


def _quadrature(a, b, rate, n_nodes, moments):
    """Trapezoid sums over the nodes: ``Σ w e^{shift}`` and, with ``moments``, its moments.

    A loop over the nodes, not a trailing node axis: every intermediate stays the size of the
    input, in memory and in the (custom) backward pass.
    """
    x, y, scale, lower, upper = _placement(a, b, rate)
    step = (upper + lower) / (n_nodes - 1)
    growth = jnp.exp(step)

    def add_node(_, carry):
        # e^{±τ} by recurrence: sinh and cosh at every node for two multiplications.
        up, down, sums = carry
        delta = 0.5 * scale * (up - down)
        shift, log_ratio, sigma_step = _log_shift(a, b, rate, x, y, delta)
        weight = jnp.exp(shift) * (up + down)
        terms = (weight, weight * log_ratio, weight * delta, weight * sigma_step)
        return up * growth, down / growth, sums + jnp.stack(terms[: sums.shape[0]])

    zeros = jnp.zeros((4 if moments else 1, *a.shape), a.dtype)
    start = (jnp.exp(-lower), jnp.exp(lower), zeros)
    # Unrolling lets XLA fuse several nodes into one pass over the inputs (~20% faster on CPU).
    sums = jax.lax.fori_loop(0, n_nodes, add_node, start, unroll=4)[2]
    return x, y, jnp.log(0.5 * step * scale), sums


def _log_poisson(counts, mean):
    """``log Poisson(u | mean)`` as Loader's saddle point: no cancellation at large ``u``."""
    positive = counts > 0
    safe = jnp.where(positive, counts, 1.0)
    excess = safe - mean
    deviance = safe * _log1p(excess / mean, safe / mean) - excess
    value = -deviance - 0.5 * jnp.log(safe) - _stirling_remainder(safe)
    return jnp.where(positive, value, -mean)


def _log_beta_at(alpha, beta, x, y):
    """``α log x + β log(1 - x) - log B(α, β)``, expanded around the prior mean ``α/(α+β)``."""
    total = alpha + beta
    mean, complement = alpha / total, beta / total
    # One difference used on both sides, so its rounding cancels to first order.
    excess = jnp.where(x <= 0.5, x - mean, complement - y)
    spread = alpha * _log1p(excess / mean, x / mean) + beta * _log1p(
        -excess / complement, y / complement
    )
    normaliser = 0.5 * (jnp.log(alpha) + jnp.log(beta) - jnp.log(total))
    remainders = (
        _stirling_remainder(total) - _stirling_remainder(alpha) - _stirling_remainder(beta)
    )
    return spread + normaliser + remainders


def _evaluate(counts, rate, alpha, beta, n_nodes, moments):
    """Log-pmf, plus the posterior means of ``log x``, ``log(1 - x)``, ``x`` with ``moments``."""
    x, y, log_step, sums = _quadrature(alpha + counts, beta, rate, n_nodes, moments)
    log_pmf = (
        _log_poisson(counts, rate * x)
        + _log_beta_at(alpha, beta, x, y)
        + jnp.log(sums[0])
        + log_step
    )
    if not moments:
        return log_pmf, None
    mean_log_ratio, mean_delta, mean_sigma_step = (s / sums[0] for s in sums[1:])
    mean_log_x = jnp.log(x) - mean_log_ratio
    return log_pmf, (mean_log_x, jnp.log(y) - mean_log_ratio - mean_delta, x + mean_sigma_step)


@functools.partial(jax.custom_jvp, nondiff_argnums=(4,))
def _log_pmf(counts, rate, alpha, beta, n_nodes):
    return _evaluate(counts, rate, alpha, beta, n_nodes, moments=False)[0]


@_log_pmf.defjvp
def _log_pmf_jvp(n_nodes, primals, tangents):
    counts, rate, alpha, beta = primals
    log_pmf, (mean_log_x, mean_log_1mx, mean_x) = _evaluate(*primals, n_nodes, moments=True)
    digamma_total = digamma(alpha + beta)
    partials = (
        jnp.log(rate) - digamma(counts + 1.0) + mean_log_x,
        counts / rate - mean_x,
        mean_log_x - digamma(alpha) + digamma_total,
        mean_log_1mx - digamma(beta) + digamma_total,
    )
    tangent = sum(p * t for p, t in zip(partials, tangents, strict=True))
    return log_pmf, tangent


def poisson_beta_log_pmf(
    counts: Float[Array, "..."],
    rate: Float[Array, "..."],
    alpha: Float[Array, "..."],
    beta: Float[Array, "..."],
    *,
    n_nodes: int = 72,
) -> Float[Array, "..."]:
    """Elementwise ``log P(u)`` for ``x ~ Beta(alpha, beta)``, ``u | x ~ Poisson(rate x)``.

    Parameters
    ----------
    counts
        Non-negative counts ``u``.
    rate, alpha, beta
        Positive parameters. All four arguments broadcast (numpy rules) to a common shape.
    n_nodes
        Quadrature nodes per entry; the cost is linear in it. With the default the log-pmf is
        within ~1e-6 of the exact value in float64 (worst found 1.1e-6) for ``alpha, beta`` in
        [0.05, 1e3], ``rate`` in [1e-2, 1e4] and counts up to 1e3; each 8 nodes more divide
        the worst error by ~3. Float32 is limited by rounding instead (about 3e-5 ·
        max(1, |log p|)), which 48 nodes already reach.

    Returns
    -------
    Array
        The log-pmf, in the floating dtype of the parameters. Its gradients in ``rate``,
        ``alpha``, ``beta`` (and ``counts``, for the continuous extension) are finite.

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> counts = jnp.arange(200.0)
    >>> p = jnp.exp(poisson_beta_log_pmf(counts, 50.0, 0.5, 2.0))
    >>> bool(jnp.abs(p.sum() - 1.0) < 1e-5)
    True
    """
    if n_nodes < 2:
        raise ValueError(f"n_nodes must be at least 2, got {n_nodes}.")
    dtype = jnp.result_type(float, rate, alpha, beta)
    arrays = (jnp.asarray(v, dtype) for v in (counts, rate, alpha, beta))
    return _log_pmf(*jnp.broadcast_arrays(*arrays), n_nodes)
