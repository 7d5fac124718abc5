"""Encoders: a minibatch in, a distribution over each of its cells' local latents out."""

import abc

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float, PRNGKeyArray
from numpyro.distributions.transforms import IdentityTransform, Transform

from ..data import Batch
from ..parameterizations import unconstrained_transform

# Latents that live on the whole real line: the VAE / LNM / PLN embedding ``z``.
REAL_LATENTS = ("z",)

# The smallest scale any encoder outputs: it keeps log q finite when a raw head diverges.
SCALE_FLOOR = 1e-4


def scale_from_raw(raw: Float[ArrayLike, "..."]) -> Float[Array, "..."]:
    """``softplus(raw) + 1e-4``: every encoder's map from a raw output to a Normal scale."""
    return jax.nn.softplus(raw) + SCALE_FLOOR


def raw_from_scale(scale: float) -> Float[Array, ""]:
    """The raw value whose ``scale_from_raw`` is ``scale`` (for initialising a table)."""
    if not scale > SCALE_FLOOR:
        raise ValueError(f"A scale must exceed the floor {SCALE_FLOOR}; got {scale!r}.")
    return jnp.log(jnp.expm1(jnp.asarray(scale - SCALE_FLOOR, float)))


def latent_transform(name: str, *, positive_transform: str = "softplus") -> Transform:
    """The bijection from a latent's unconstrained coordinate onto its domain.

    ``"z"`` (see ``REAL_LATENTS``) is already unconstrained: the identity. Every other
    name is a coordinate of ``scribe.parameterizations`` (``"p_capture"``,
    ``"phi_capture"``, ...) and gets its ``unconstrained_transform``.
    """
    if name in REAL_LATENTS:
        return IdentityTransform()
    return unconstrained_transform(name, positive_transform=positive_transform)


def _sum_event(x: Float[Array, "batch ..."]) -> Float[Array, " batch"]:
    return jnp.sum(x, axis=tuple(range(1, x.ndim)))


class AbstractEncoder(eqx.Module):
    """Maps a ``Batch`` to a Normal over each local latent's unconstrained coordinate.

    ``names`` names the latents (e.g. ``("p_capture",)``, or ``("z", "p_capture")`` for a
    VAE with variable capture). A latent is a scalar per cell (``loc`` and ``scale`` of
    shape ``(batch,)``) or a vector per cell (``(batch, dim)``, e.g. ``"z"``); ``"z"`` is
    unconstrained, every other latent is mapped onto its domain by
    ``latent_transform(name, positive_transform=...)``.

    Scale convention, shared by every encoder: a network head or table holds a raw
    value and the Normal's scale is ``softplus(raw) + 1e-4`` (``scale_from_raw``).
    Softplus grows linearly, not exponentially like a log-std, so a large raw output
    cannot overflow a scale during early training, and the floor keeps ``log q`` finite.

    Concrete encoders implement ``unconstrained_params``; sampling, densities and point
    summaries are shared.
    """

    names: eqx.AbstractVar[tuple[str, ...]]
    positive_transform: eqx.AbstractVar[str]

    @abc.abstractmethod
    def unconstrained_params(
        self, batch: Batch
    ) -> dict[str, tuple[Float[Array, "batch ..."], Float[Array, "batch ..."]]]:
        """``(loc, scale)`` of each latent's unconstrained Normal, per cell of the batch.

        Both of shape ``(batch,)`` for a scalar latent, ``(batch, dim)`` for a vector one.
        """

    def _transform(self, name: str) -> Transform:
        return latent_transform(name, positive_transform=self.positive_transform)

    def sample_and_log_prob(
        self, batch: Batch, *, key: PRNGKeyArray
    ) -> tuple[dict[str, Float[Array, "batch ..."]], Float[Array, " batch"]]:
        """A reparameterized draw of every latent (constrained) and ``log q`` per cell.

        ``log q`` is the joint density of all of a cell's latents: summed over the names
        and over each vector latent's dimensions, with the Jacobian of each transform.
        """
        values, log_q = self.sample_and_log_prob_by_name(batch, key=key)
        return values, sum(log_q.values(), 0.0)

    def sample_and_log_prob_by_name(
        self, batch: Batch, *, key: PRNGKeyArray
    ) -> tuple[dict[str, Float[Array, "batch ..."]], dict[str, Float[Array, " batch"]]]:
        """As ``sample_and_log_prob``, with ``log q`` of each latent kept apart (a VAE
        replaces the Monte Carlo ``log q(z)`` by a closed-form KL where one exists)."""
        values, log_q = {}, {}
        params = self.unconstrained_params(batch)
        for k, name in zip(jax.random.split(key, len(self.names)), self.names, strict=True):
            loc, scale = params[name]
            noise = jax.random.normal(k, loc.shape, loc.dtype)
            z = loc + scale * noise
            transform = self._transform(name)
            x = transform(z)
            log_normal = -0.5 * noise**2 - jnp.log(scale) - 0.5 * jnp.log(2 * jnp.pi)
            log_q[name] = _sum_event(log_normal - transform.log_abs_det_jacobian(z, x))
            values[name] = x
        return values, log_q

    def median(self, batch: Batch) -> dict[str, Float[Array, "batch ..."]]:
        """The median of each latent's posterior (the transform of the Normal's loc)."""
        params = self.unconstrained_params(batch)
        return {name: self._transform(name)(params[name][0]) for name in self.names}
