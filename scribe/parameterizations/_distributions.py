"""Distributions numpyro lacks that the default priors need."""

import jax
import jax.numpy as jnp
import numpyro.distributions as dist
from jax import lax
from jax.scipy.special import gammaln, xlog1py, xlogy
from jaxtyping import Array, ArrayLike, PRNGKeyArray
from numpyro.distributions import constraints
from numpyro.distributions.util import promote_shapes, validate_sample


def _log_beta(a: Array, b: Array) -> Array:
    # jax.scipy.special.betaln is only accurate to ~1e-7 relative even in float64
    # (betaln(1, 9) is off by 6e-7); the gammaln form is exact to rounding here.
    return gammaln(a) + gammaln(b) - gammaln(a + b)


class Beta(dist.Beta):
    """numpyro's Beta with an elementwise ``log_prob``.

    numpyro evaluates the Beta density through a two-component Dirichlet, which
    combines a ``(..., 2)`` stack of the value with the ``(2,)`` concentration: with
    scalar parameters and an array value that mixes ranks and fails under
    ``jax_numpy_rank_promotion="raise"``. Sampling and moments are numpyro's.

    Parameters
    ----------
    concentration1
        ``a > 0``.
    concentration0
        ``b > 0``.
    validate_args
        numpyro's argument validation switch.
    """

    @validate_sample
    def log_prob(self, value: ArrayLike) -> Array:
        """``(a - 1) log x + (b - 1) log(1 - x) - log B(a, b)``, elementwise."""
        a, b = self.concentration1, self.concentration0
        return xlogy(a - 1.0, value) + xlog1py(b - 1.0, -value) - _log_beta(a, b)


class BetaPrime(dist.Distribution):
    """Beta prime distribution: the law of ``x / (1 - x)`` for ``x ~ Beta(a, b)``.

    Density ``y^(a-1) (1 + y)^(-a-b) / B(a, b)`` on ``y > 0``; it is the prior of the
    odds-type coordinates ``phi`` and ``phi_capture``.

    Parameters
    ----------
    concentration1
        ``a > 0`` (the Beta's first shape).
    concentration0
        ``b > 0`` (the Beta's second shape).
    validate_args
        numpyro's argument validation switch.

    Examples
    --------
    >>> float(BetaPrime(1.0, 1.0).log_prob(1.0))  # log(1/4)
    -1.386...
    """

    arg_constraints = {
        "concentration1": constraints.positive,
        "concentration0": constraints.positive,
    }
    support = constraints.positive
    reparametrized_params = ["concentration1", "concentration0"]

    def __init__(
        self,
        concentration1: ArrayLike,
        concentration0: ArrayLike,
        *,
        validate_args: bool | None = None,
    ):
        self.concentration1, self.concentration0 = promote_shapes(concentration1, concentration0)
        batch_shape = lax.broadcast_shapes(jnp.shape(concentration1), jnp.shape(concentration0))
        super().__init__(batch_shape=batch_shape, validate_args=validate_args)

    def sample(self, key: PRNGKeyArray, sample_shape: tuple[int, ...] = ()) -> Array:
        """Draw ``exp(log G_a - log G_b)`` with ``G ~ Gamma``.

        The ratio of log-gammas avoids both ``x / (1 - x)`` at ``x`` rounded to 1 and
        gamma draws underflowing to 0 for small shapes.
        """
        shape = sample_shape + self.batch_shape
        key1, key0 = jax.random.split(key)
        log_g1 = jax.random.loggamma(key1, self.concentration1, shape=shape)
        log_g0 = jax.random.loggamma(key0, self.concentration0, shape=shape)
        return jnp.exp(log_g1 - log_g0)

    @validate_sample
    def log_prob(self, value: ArrayLike) -> Array:
        """Log-density; ``log1p`` keeps it accurate for tiny and huge ``value``."""
        a, b = self.concentration1, self.concentration0
        return xlogy(a - 1.0, value) - (a + b) * jnp.log1p(value) - _log_beta(a, b)

    @property
    def mean(self) -> Array:
        """``a / (b - 1)``; infinite for ``b <= 1``."""
        a, b = self.concentration1, self.concentration0
        return jnp.where(b > 1.0, a / (b - 1.0), jnp.inf)

    @property
    def variance(self) -> Array:
        """``a (a + b - 1) / ((b - 2)(b - 1)^2)``; infinite for ``b <= 2``."""
        a, b = self.concentration1, self.concentration0
        var = a * (a + b - 1.0) / ((b - 2.0) * (b - 1.0) ** 2)
        return jnp.where(b > 2.0, var, jnp.inf)
