"""Encoders: a minibatch in, a distribution over each of its cells' local latents out."""

import abc

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray

from ..data import Batch
from ..parameterizations import unconstrained_transform


class AbstractEncoder(eqx.Module):
    """Maps a ``Batch`` to a Normal over each local latent's unconstrained coordinate.

    ``locals_`` names the latents (e.g. ``("p_capture",)``); ``transforms`` the
    positive transform of each positive one. Concrete encoders implement
    ``unconstrained_params``; sampling, densities and point summaries are shared.
    """

    names: eqx.AbstractVar[tuple[str, ...]]
    positive_transform: eqx.AbstractVar[str]

    @abc.abstractmethod
    def unconstrained_params(
        self, batch: Batch
    ) -> dict[str, tuple[Float[Array, " batch"], Float[Array, " batch"]]]:
        """``(loc, scale)`` of each latent's unconstrained Normal, per cell of the batch."""

    def _transform(self, name: str):
        return unconstrained_transform(name, positive_transform=self.positive_transform)

    def sample_and_log_prob(
        self, batch: Batch, *, key: PRNGKeyArray
    ) -> tuple[dict[str, Array], Float[Array, " batch"]]:
        """A reparameterized draw of every latent (constrained) and ``log q`` per cell."""
        values, log_q = {}, 0.0
        params = self.unconstrained_params(batch)
        for k, name in zip(jax.random.split(key, len(self.names)), self.names, strict=True):
            loc, scale = params[name]
            noise = jax.random.normal(k, loc.shape, loc.dtype)
            z = loc + scale * noise
            transform = self._transform(name)
            x = transform(z)
            log_normal = -0.5 * noise**2 - jnp.log(scale) - 0.5 * jnp.log(2 * jnp.pi)
            log_q = log_q + log_normal - transform.log_abs_det_jacobian(z, x)
            values[name] = x
        return values, log_q

    def median(self, batch: Batch) -> dict[str, Float[Array, " batch"]]:
        """The median of each latent's posterior (the transform of the Normal's loc)."""
        params = self.unconstrained_params(batch)
        return {name: self._transform(name)(params[name][0]) for name in self.names}
