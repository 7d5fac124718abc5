"""The latent prior interface: a density over a VAE's per-cell latent ``z``."""

import abc

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray

from ._checks import check_kl_inputs, check_latent_shape


class AbstractLatentPrior(eqx.Module):
    """A prior ``p(z)`` over each cell's latent vector, with a KL to Gaussian posteriors.

    Concrete priors implement ``log_prob``, ``sample`` and ``kl_divergence``; a prior
    without a closed-form KL delegates to ``monte_carlo_kl_divergence``, which every
    prior shares.
    """

    latent_dim: eqx.AbstractVar[int]

    @abc.abstractmethod
    def log_prob(self, z: Float[Array, "*shape latent"]) -> Float[Array, "*shape"]:
        """The log-density of each latent vector.

        Parameters
        ----------
        z
            Latent vectors; leading axes are batch axes.

        Returns
        -------
        The log-density of each vector, with ``z``'s leading shape.
        """

    @abc.abstractmethod
    def sample(
        self, key: PRNGKeyArray, sample_shape: tuple[int, ...] = ()
    ) -> Float[Array, "*sample_shape latent"]:
        """Independent draws from the prior.

        Parameters
        ----------
        key
            A PRNG key.
        sample_shape
            The leading shape of the draws.

        Returns
        -------
        Draws of shape ``(*sample_shape, latent_dim)``.
        """

    @abc.abstractmethod
    def kl_divergence(
        self,
        loc: Float[Array, "batch latent"],
        scale: Float[Array, "batch latent"],
        *,
        key: PRNGKeyArray,
        n_samples: int = 1,
    ) -> Float[Array, " batch"]:
        """``KL(N(loc, diag(scale**2)) || prior)`` for each cell of a batch.

        Parameters
        ----------
        loc, scale
            Each cell's Gaussian posterior over its latent vector (``scale > 0``).
        key
            A PRNG key, used by priors whose KL is estimated by Monte Carlo.
        n_samples
            The number of Monte Carlo draws per cell, where the KL is estimated.

        Returns
        -------
        The KL divergence of each cell's posterior from the prior.
        """

    def monte_carlo_kl_divergence(
        self,
        loc: Float[Array, "batch latent"],
        scale: Float[Array, "batch latent"],
        *,
        key: PRNGKeyArray,
        n_samples: int = 1,
    ) -> Float[Array, " batch"]:
        """The KL of ``kl_divergence``, estimated from reparameterized Gaussian draws.

        ``z = loc + scale * eps`` with ``eps ~ N(0, I)``, so the estimate is
        differentiable with respect to ``loc``, ``scale`` and the prior's parameters;
        ``log q(z) - log p(z)`` is averaged over ``n_samples`` draws per cell.

        Parameters
        ----------
        loc, scale
            Each cell's Gaussian posterior over its latent vector (``scale > 0``).
        key
            A PRNG key.
        n_samples
            The number of draws per cell.

        Returns
        -------
        The unbiased estimate of each cell's KL divergence.
        """
        check_kl_inputs(loc, scale, latent_dim=self.latent_dim, n_samples=n_samples)
        noise = jax.random.normal(key, (n_samples, *loc.shape), jnp.result_type(loc, scale))
        z = loc[None] + scale[None] * noise
        log_q = jnp.sum(-0.5 * noise**2 - jnp.log(scale)[None] - 0.5 * jnp.log(2 * jnp.pi), -1)
        return jnp.mean(log_q - self.log_prob(z), axis=0)

    def _check_latent(self, z: Array) -> None:
        check_latent_shape(z, latent_dim=self.latent_dim)
