"""The standard Normal latent prior, with its closed-form KL."""

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray

from ._abstract import AbstractLatentPrior
from ._checks import check_int, check_kl_inputs


class StandardNormalPrior(AbstractLatentPrior):
    """``p(z) = N(0, I)``: the VAE's usual prior, with no trainable parameters.

    Parameters
    ----------
    latent_dim
        The dimension of each cell's latent vector.

    Examples
    --------
    >>> import jax, jax.numpy as jnp
    >>> from scribe.latent_priors import StandardNormalPrior
    >>> prior = StandardNormalPrior(3)
    >>> prior.sample(jax.random.key(0), (4,)).shape
    (4, 3)
    >>> loc, scale = jnp.zeros((2, 3)), jnp.ones((2, 3))
    >>> prior.kl_divergence(loc, scale, key=jax.random.key(1)).tolist()
    [0.0, 0.0]
    """

    latent_dim: int = eqx.field(static=True)

    def __init__(self, latent_dim: int):
        self.latent_dim = check_int("latent_dim", latent_dim, minimum=1)

    def log_prob(self, z: Float[Array, "*shape latent"]) -> Float[Array, "*shape"]:
        """The standard Normal log-density of each latent vector."""
        self._check_latent(z)
        z = jnp.asarray(z)
        return -0.5 * jnp.sum(z**2, axis=-1) - 0.5 * self.latent_dim * jnp.log(2 * jnp.pi)

    def sample(
        self, key: PRNGKeyArray, sample_shape: tuple[int, ...] = ()
    ) -> Float[Array, "*sample_shape latent"]:
        """Independent standard Normal draws of shape ``(*sample_shape, latent_dim)``."""
        return jax.random.normal(key, (*sample_shape, self.latent_dim))

    def kl_divergence(
        self,
        loc: Float[Array, "batch latent"],
        scale: Float[Array, "batch latent"],
        *,
        key: PRNGKeyArray,
        n_samples: int = 1,
    ) -> Float[Array, " batch"]:
        """The exact KL, ``0.5 * sum(scale**2 + loc**2 - 1 - 2 log scale)`` per cell.

        ``key`` and ``n_samples`` are accepted for a uniform interface and unused.
        """
        del key
        check_kl_inputs(loc, scale, latent_dim=self.latent_dim, n_samples=n_samples)
        return 0.5 * jnp.sum(scale**2 + loc**2 - 1.0 - 2.0 * jnp.log(scale), axis=-1)
