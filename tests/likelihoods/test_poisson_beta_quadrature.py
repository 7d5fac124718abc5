"""``poisson_beta_log_pmf`` against an independent oracle (STYLE.md, "Tests").

The oracle integrates the original ``x``-integrand with QUADPACK, split at the mode and at
geometrically spaced distances from it; endpoint singularities (``a < 1`` or ``β < 1``) go to the
algebraic-weight rule (QAWS), which integrates them exactly. It was checked against mpmath's
``hyp1f1`` at 40 digits to ~1e-10 over the accuracy box; ``test_oracle_and_quadrature_agree_with
_kummer`` keeps a cheaper closed-form cross-check in the suite.
"""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.integrate
import scipy.special

from scribe.likelihoods._poisson_beta_quadrature import poisson_beta_log_pmf


def _oracle_log_integral(a, b, rate):
    """``log ∫_0^1 x^(a-1) (1-x)^(b-1) e^(-rate x) dx`` by adaptive quadrature in ``x``."""
    root = np.sqrt((a + b - rate) ** 2 + 4 * b * rate)
    peak = 2 * a / (a + b + rate + root)  # maximum of x^a (1-x)^b e^(-rate x)
    width = peak * (1 - peak) / np.sqrt(a * (1 - peak) ** 2 + b * peak**2)
    shift = a * np.log(peak) + b * np.log1p(-peak) - rate * peak  # keeps quad's values O(1)
    offsets = width * 4.0 ** np.arange(-2, 40)
    breaks = np.concatenate([[0.0, peak, 1.0], peak - offsets, peak + offsets])
    breaks = np.unique(breaks[(breaks >= 0) & (breaks <= 1)])

    def without_left(x):
        return np.exp((b - 1) * np.log1p(-x) - rate * x - shift)

    def without_right(x):
        return np.exp((a - 1) * np.log(x) - rate * x - shift)

    def whole(x):
        return np.exp((a - 1) * np.log(x) + (b - 1) * np.log1p(-x) - rate * x - shift)

    total = 0.0
    for lo, hi in itertools.pairwise(breaks):
        if lo == 0 and a < 1:
            integrand, weight = without_left, {"weight": "alg", "wvar": (a - 1, 0)}
        elif hi == 1 and b < 1:
            integrand, weight = without_right, {"weight": "alg", "wvar": (0, b - 1)}
        else:
            integrand, weight = whole, {}
        total += scipy.integrate.quad(
            integrand, lo, hi, limit=200, epsabs=1e-15, epsrel=1e-12, **weight
        )[0]
    return shift + np.log(total)


def oracle_log_pmf(counts, rate, alpha, beta):
    """Float64 log-pmf of the Poisson-Beta compound, elementwise over broadcast arrays."""
    arrays = np.broadcast_arrays(*(np.asarray(v, np.float64) for v in (counts, rate, alpha, beta)))
    out = np.empty(arrays[0].shape)
    for idx in np.ndindex(out.shape):
        u, lam, a, b = (v[idx] for v in arrays)
        out[idx] = (
            u * np.log(lam)
            - scipy.special.gammaln(u + 1)
            - scipy.special.betaln(a, b)
            + _oracle_log_integral(a + u, b, lam)
        )
    return out


def kummer_log_pmf(counts, rate, alpha, beta):
    """Closed form ``B(a, β)/B(α, β) · e^{-rate} ₁F₁(β; a + β; rate) rate^u/u!``, ``a = α + u``."""
    a = alpha + counts
    return (
        counts * np.log(rate)
        - scipy.special.gammaln(counts + 1)
        - scipy.special.betaln(alpha, beta)
        + scipy.special.betaln(a, beta)
        - rate
        + np.log(scipy.special.hyp1f1(beta, a + beta, rate))
    )


def _grid(n_params, n_counts):
    """Log-spaced grid over the accuracy box, corners included; rows are (u, rate, α, β)."""
    shape = np.geomspace(0.05, 1e3, n_params)
    rate = np.geomspace(1e-2, 1e4, n_params)
    counts = np.unique(np.round(np.geomspace(1, 1001, n_counts)) - 1)
    return np.array(list(itertools.product(counts, rate, shape, shape))).T


def _evaluate(points, dtype):
    return np.asarray(jax.jit(poisson_beta_log_pmf)(*(jnp.asarray(p, dtype) for p in points)))


@pytest.fixture(scope="module")
def grid():
    points = _grid(6, 7)
    return points, oracle_log_pmf(*points)


def test_matches_oracle_float64(grid):
    points, expected = grid
    error = np.abs(_evaluate(points, jnp.float64) - expected)
    assert error.max() <= 1e-5, f"max |Δ log p| = {error.max():.2e} at {points[:, error.argmax()]}"


@pytest.mark.slow
def test_matches_oracle_on_a_dense_grid_float64():
    points = _grid(11, 13)
    error = np.abs(_evaluate(points, jnp.float64) - oracle_log_pmf(*points))
    assert error.max() <= 1e-5, f"max |Δ log p| = {error.max():.2e} at {points[:, error.argmax()]}"


def test_matches_oracle_float32(grid):
    points, expected = grid
    got = _evaluate(points, jnp.float32)
    assert got.dtype == np.float32
    error = np.abs(got - expected) / np.maximum(1.0, np.abs(expected))
    assert error.max() <= 1e-4, f"max relative error {error.max():.2e}"


def test_oracle_and_quadrature_agree_with_kummer():
    # Where scipy's hyp1f1 is reliable: moderate rate and shapes.
    points = np.array(
        list(itertools.product([0, 1, 7, 30], [0.01, 0.7, 20], [0.05, 3, 50], [0.05, 3, 50]))
    ).T
    expected = kummer_log_pmf(*points)
    np.testing.assert_allclose(oracle_log_pmf(*points), expected, rtol=0, atol=1e-10)
    np.testing.assert_allclose(_evaluate(points, jnp.float64), expected, rtol=0, atol=1e-6)


def _gradients(points, dtype):
    grad = jax.vmap(jax.grad(poisson_beta_log_pmf, argnums=(1, 2, 3)))
    return np.stack(
        [np.asarray(g) for g in jax.jit(grad)(*(jnp.asarray(p, dtype) for p in points))]
    )


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float64])
def test_gradients_are_finite(grid, dtype):
    # The accuracy box plus counts of 0 and 1e5 at extreme rates (STYLE.md).
    extremes = np.array(
        list(itertools.product([0, 1e5], [1e-2, 1e4, 1e6], [0.05, 1e3], [0.05, 1e3]))
    ).T
    gradients = _gradients(np.concatenate([grid[0], extremes], axis=1), dtype)
    assert np.isfinite(gradients).all(), f"{(~np.isfinite(gradients)).sum()} non-finite"


def test_gradients_match_finite_differences_of_the_oracle(grid):
    points = grid[0][:, ::53]
    gradients = _gradients(points, jnp.float64)
    for i, (u, *params) in enumerate(points.T):
        for j, value in enumerate(params):
            step = 1e-5 * value
            up, down = list(params), list(params)
            up[j], down[j] = value + step, value - step
            slope = (oracle_log_pmf(u, *up) - oracle_log_pmf(u, *down)) / (2 * step)
            # Compare d log p / d log θ: absolute 1e-6 for slopes near zero, else relative 1e-4.
            assert abs(value * (gradients[j, i] - slope)) <= 1e-4 * abs(value * slope) + 1e-6, (
                f"d/d{['rate', 'alpha', 'beta'][j]} at u={u}, params={params}: "
                f"{gradients[j, i]} vs {slope}"
            )


@pytest.mark.parametrize(
    ("rate", "alpha", "beta"),
    [(5.0, 0.05, 0.05), (50.0, 0.5, 2.0), (300.0, 2.0, 0.1), (1e3, 1e3, 0.05), (20.0, 1e3, 1e3)],
)
def test_pmf_sums_to_one_with_the_stated_moments(rate, alpha, beta):
    counts = jnp.arange(4001.0)
    pmf = np.exp(np.asarray(poisson_beta_log_pmf(counts, rate, alpha, beta)))
    counts = np.asarray(counts)
    # MATH.md: mean rate α/(α+β), variance mean + rate² αβ/((α+β)²(α+β+1)).
    mean = rate * alpha / (alpha + beta)
    variance = mean + rate**2 * alpha * beta / ((alpha + beta) ** 2 * (alpha + beta + 1))
    assert abs(pmf.sum() - 1.0) <= 1e-6
    assert abs((counts * pmf).sum() - mean) <= 1e-6 * max(mean, 1.0)
    assert abs(((counts - mean) ** 2 * pmf).sum() - variance) <= 1e-5 * max(variance, 1.0)


def test_broadcasts_under_jit_and_vmap():
    rng = np.random.default_rng(0)
    n_cells, n_genes = 6, 5
    counts = rng.poisson(20.0, size=(n_cells, n_genes))
    rate = rng.uniform(1.0, 100.0, size=(1, n_genes))
    alpha = rng.uniform(0.1, 5.0, size=(n_cells, 1))
    beta = rng.uniform(0.1, 5.0, size=(1, n_genes))
    expected = oracle_log_pmf(counts, rate, alpha, beta)
    args = (jnp.asarray(counts), *(jnp.asarray(v, jnp.float32) for v in (rate, alpha, beta)))

    batched = jax.jit(poisson_beta_log_pmf)(*args)
    assert batched.shape == (n_cells, n_genes) and batched.dtype == jnp.float32
    np.testing.assert_allclose(batched, expected, rtol=1e-5)

    def per_cell(cell_counts, cell_alpha):
        return poisson_beta_log_pmf(cell_counts, args[1][0], cell_alpha, args[3][0])

    mapped = jax.jit(jax.vmap(per_cell))(args[0], args[2])
    np.testing.assert_allclose(mapped, batched, rtol=1e-6)


def test_rejects_fewer_than_two_nodes():
    with pytest.raises(ValueError, match="n_nodes"):
        poisson_beta_log_pmf(jnp.zeros(3), 1.0, 1.0, 1.0, n_nodes=1)
