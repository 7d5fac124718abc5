"""Independent blocks of a guide: each approximates one or a few parameters jointly.

A guide is a product of factors. A factor is a deterministic, differentiable map from
noise (standard normals, and log-gamma variates of shapes it chooses) to a draw of its
parameters in constrained space, with log q of that draw. Its variational parameters
are unconstrained arrays (scales and concentrations behind a softplus) so that optax
updates them freely.

The guide draws the noise of all its factors in one ``jax.random.normal`` and one
``jax.random.loggamma`` call: each ``jax.random`` call site compiles its own sampler
(the gamma one is large), and one call per factor would multiply compile time.
"""

import abc
from collections.abc import Mapping

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import numpyro.distributions as dist
from jaxtyping import Array, ArrayLike, Float, Int

from ..parameterizations import Beta, BetaPrime
from ._spec import ParamSpec, Restriction, get_bijection, inverse_softplus, replace_fields

# Initial standard deviation of every Normal on an unconstrained coordinate, and about
# that of every initial Beta's log-odds: a moderate spread around ``init``.
INIT_SCALE = 0.1
# Initial low-rank factor entries: small but non-zero, since W = 0 is a stationary
# point of the ELBO (the reparameterized gradient of W is proportional to W). They are
# a fixed pseudo-random pattern, so that building a guide is deterministic and needs
# no PRNG key (and no compiled sampler).
INIT_FACTOR_SCALE = 0.01
INIT_FACTOR_SEED = 0


def normal_marginal(loc: Array, scale: Array, bijection: str) -> dist.Distribution:
    """``Normal(loc, scale)`` pushed through ``bijection``; LogNormal for ``"exp"``.

    numpyro's ``LogNormal`` is that same pushforward with moments attached.
    """
    if bijection == "exp":
        return dist.LogNormal(loc, scale)
    if bijection == "identity":
        return dist.Normal(loc, scale)
    return dist.TransformedDistribution(dist.Normal(loc, scale), get_bijection(bijection))


class AbstractFactor(eqx.Module):
    """A distribution over a few named parameters, independent of the other factors."""

    @property
    @abc.abstractmethod
    def noise_size(self) -> int:
        """How many standard-normal variates one draw consumes."""

    @abc.abstractmethod
    def gamma_concentrations(self) -> Float[Array, " gamma"]:
        """Shapes of the log-gamma variates one draw consumes (empty if none)."""

    @abc.abstractmethod
    def sample_and_log_prob(
        self, normal: Float[Array, " noise"], log_gamma: Float[Array, " gamma"]
    ) -> tuple[dict[str, Array], Array]:
        """One reparameterized draw (constrained) and its log-density (a scalar).

        ``normal`` holds ``noise_size`` standard normals; ``log_gamma`` the logs of
        gamma variates with shapes ``gamma_concentrations()``, whose gradient in those
        shapes jax supplies by implicit reparameterization.
        """

    @abc.abstractmethod
    def log_prob(self, values: Mapping[str, Array]) -> Array:
        """log q of one draw of constrained values (a scalar)."""

    @abc.abstractmethod
    def median(self) -> dict[str, Array]:
        """Point summary of each parameter (see ``AbstractGuide.median``)."""

    @abc.abstractmethod
    def marginals(self) -> dict[str, dist.Distribution]:
        """Per-parameter marginal distributions in constrained space."""

    @abc.abstractmethod
    def restrict(self, keep: Restriction) -> "AbstractFactor | None":
        """The factor's exact marginal over some of its values (``keep`` checked by the guide).

        Parameters
        ----------
        keep
            For each kept parameter, its new spec and the positions, in its flattened
            values, of the new spec's flattened values (distinct, one per new value).
            Parameters of this factor absent from ``keep`` are dropped; names of other
            factors' parameters are ignored.

        Returns
        -------
        AbstractFactor or None
            A factor of the same class over the kept values, or ``None`` where none of
            its parameters is kept.
        """


class NormalFactor(AbstractFactor):
    """Independent ``Normal(loc, scale)`` per coordinate, pushed through ``bijection``.

    With ``bijection="exp"`` this is the LogNormal, with ``"identity"`` the Normal.
    """

    spec: ParamSpec = eqx.field(static=True)
    bijection: str = eqx.field(static=True)
    loc: Float[Array, "..."]
    raw_scale: Float[Array, "..."]

    def __init__(self, spec: ParamSpec, bijection: str, value: np.ndarray):
        self.spec = spec
        self.bijection = bijection
        self.loc = get_bijection(bijection).inv(jnp.asarray(value, dtype=float))
        self.raw_scale = jnp.full(spec.shape, inverse_softplus(INIT_SCALE))

    def _log_prob(self, z: Array, y: Array) -> Array:
        scale = jax.nn.softplus(self.raw_scale)
        jacobian = get_bijection(self.bijection).log_abs_det_jacobian(z, y)
        return jnp.sum(dist.Normal(self.loc, scale).log_prob(z) - jacobian)

    @property
    def noise_size(self) -> int:
        return self.spec.size

    def gamma_concentrations(self) -> Float[Array, " gamma"]:
        return jnp.zeros((0,), self.loc.dtype)

    def sample_and_log_prob(
        self, normal: Float[Array, " noise"], log_gamma: Float[Array, " gamma"]
    ) -> tuple[dict[str, Array], Array]:
        z = self.loc + jax.nn.softplus(self.raw_scale) * normal.reshape(self.spec.shape)
        y = get_bijection(self.bijection)(z)
        return {self.spec.name: y}, self._log_prob(z, y)

    def log_prob(self, values: Mapping[str, Array]) -> Array:
        y = jnp.asarray(values[self.spec.name])
        return self._log_prob(get_bijection(self.bijection).inv(y), y)

    def median(self) -> dict[str, Array]:
        # Monotone maps carry the median of the Normal (its loc) to the pushforward's.
        return {self.spec.name: get_bijection(self.bijection)(self.loc)}

    def marginals(self) -> dict[str, dist.Distribution]:
        scale = jax.nn.softplus(self.raw_scale)
        return {self.spec.name: normal_marginal(self.loc, scale, self.bijection)}

    def restrict(self, keep: Restriction) -> "NormalFactor | None":
        if self.spec.name not in keep:
            return None
        spec, positions = keep[self.spec.name]
        return replace_fields(
            self,
            spec=spec,
            loc=_take(self.loc, spec, positions),
            raw_scale=_take(self.raw_scale, spec, positions),
        )


class BetaFactor(AbstractFactor):
    """``Beta(a, b)`` per coordinate, or with ``odds=True`` its odds ``x / (1 - x)``.

    The odds of a Beta draw is ``BetaPrime(a, b)``, the family of the default prior of
    ``phi`` and ``phi_capture``. Draws are pathwise differentiable in ``(a, b)``
    through jax's implicit reparameterization of gamma variates.

    The variational parameters are the logit of the mean ``a / (a + b)`` and the log of
    the concentration ``a + b``: Adam moves the location and the spread separately, as
    it does a Normal's. On ``(log a, log b)`` a shift of the mean needs both to move
    together, which Adam's per-coordinate steps do slowly; with ``p`` near 1 (the NB
    total of an LNM, or a few highly expressed genes) the mean then trails the
    posterior's for thousands of steps and ``r`` drifts along the ``r``–``p`` ridge
    (``docs/fit.md``).
    """

    spec: ParamSpec = eqx.field(static=True)
    odds: bool = eqx.field(static=True)
    logit_mean: Float[Array, "..."]
    log_concentration: Float[Array, "..."]

    def __init__(self, spec: ParamSpec, odds: bool, value: np.ndarray):
        self.spec = spec
        self.odds = odds
        # Start at the Beta with mean ``value`` (for odds, at the value's probability)
        # whose log-odds have standard deviation about INIT_SCALE, as the Normal
        # factors' coordinates do: Var(log-odds) ≈ 1/a + 1/b = 1 / (κ m (1 - m)).
        value = jnp.asarray(value, float)
        mean = value / (1.0 + value) if odds else value
        self.logit_mean = jnp.log(mean) - jnp.log1p(-mean)
        self.log_concentration = -jnp.log(INIT_SCALE**2 * mean * (1.0 - mean))

    @classmethod
    def from_concentrations(
        cls,
        spec: ParamSpec,
        odds: bool,
        log_concentration1: Float[ArrayLike, "..."],
        log_concentration0: Float[ArrayLike, "..."],
    ) -> "BetaFactor":
        """The factor of ``Beta(exp(log_concentration1), exp(log_concentration0))``
        (the arrays scribe 0.1 saved)."""
        log_a, log_b = jnp.asarray(log_concentration1), jnp.asarray(log_concentration0)
        factor = cls(spec, odds, np.full(spec.shape, 0.5))
        return replace_fields(
            factor, logit_mean=log_a - log_b, log_concentration=jnp.logaddexp(log_a, log_b)
        )

    @property
    def log_concentration1(self) -> Float[Array, "..."]:
        """``log a``."""
        return self.log_concentration + jax.nn.log_sigmoid(self.logit_mean)

    @property
    def log_concentration0(self) -> Float[Array, "..."]:
        """``log b``."""
        return self.log_concentration + jax.nn.log_sigmoid(-self.logit_mean)

    def _concentrations(self) -> tuple[Array, Array]:
        return jnp.exp(self.log_concentration1), jnp.exp(self.log_concentration0)

    def _distribution(self) -> dist.Distribution:
        a, b = self._concentrations()
        return BetaPrime(a, b) if self.odds else Beta(a, b)

    @property
    def noise_size(self) -> int:
        return 0

    def gamma_concentrations(self) -> Float[Array, " gamma"]:
        a, b = self._concentrations()
        return jnp.concatenate([jnp.ravel(a), jnp.ravel(b)])

    def sample_and_log_prob(
        self, normal: Float[Array, " noise"], log_gamma: Float[Array, " gamma"]
    ) -> tuple[dict[str, Array], Array]:
        # log G_a - log G_b is the log-odds of a Beta(a, b) draw, exact in the tails.
        log_g = log_gamma.reshape((2, *self.spec.shape))
        log_odds = log_g[0] - log_g[1]
        if self.odds:
            y = jnp.exp(log_odds)
        else:
            # Keep the draw off 0 and 1 where its density could be infinite, as numpyro does.
            finfo = jnp.finfo(log_odds.dtype)
            y = jnp.clip(jax.nn.sigmoid(log_odds), finfo.tiny, 1.0 - finfo.eps)
        return {self.spec.name: y}, jnp.sum(self._distribution().log_prob(y))

    def log_prob(self, values: Mapping[str, Array]) -> Array:
        return jnp.sum(self._distribution().log_prob(jnp.asarray(values[self.spec.name])))

    def median(self) -> dict[str, Array]:
        # The Beta mean a / (a + b), mapped to odds (a / b) for BetaPrime: close to the
        # median for a, b >= 1, exact at ``init``, and defined for every a, b > 0.
        a, b = self._concentrations()
        return {self.spec.name: a / b if self.odds else a / (a + b)}

    def marginals(self) -> dict[str, dist.Distribution]:
        return {self.spec.name: self._distribution()}

    def restrict(self, keep: Restriction) -> "BetaFactor | None":
        if self.spec.name not in keep:
            return None
        spec, positions = keep[self.spec.name]
        return replace_fields(
            self,
            spec=spec,
            logit_mean=_take(self.logit_mean, spec, positions),
            log_concentration=_take(self.log_concentration, spec, positions),
        )


class LowRankNormalFactor(AbstractFactor):
    """``LowRankMultivariateNormal`` over the concatenated unconstrained coordinates.

    The flattened unconstrained values of ``specs`` form one vector of length
    ``d = sum(spec.size)`` with covariance ``W Wᵀ + diag(scale²)``, ``W`` of shape
    ``(d, rank)``; each block is then mapped through its spec's bijection. numpyro
    evaluates the density through the capacitance matrix: ``O(d · rank²)``.
    """

    specs: tuple[ParamSpec, ...] = eqx.field(static=True)
    loc: Float[Array, " dim"]
    cov_factor: Float[Array, "dim rank"]
    raw_scale: Float[Array, " dim"]

    def __init__(
        self,
        specs: tuple[ParamSpec, ...],
        rank: int,
        values: Mapping[str, np.ndarray],
    ):
        self.specs = specs
        loc = [get_bijection(s.bijection).inv(jnp.asarray(values[s.name], float)) for s in specs]
        self.loc = jnp.concatenate([jnp.ravel(x) for x in loc])
        dim = self.loc.shape[0]
        pattern = np.random.default_rng(INIT_FACTOR_SEED).standard_normal((dim, rank))
        self.cov_factor = jnp.asarray(INIT_FACTOR_SCALE * pattern, dtype=float)
        self.raw_scale = jnp.full((dim,), inverse_softplus(INIT_SCALE))

    def distribution(self) -> dist.LowRankMultivariateNormal:
        """The Gaussian over the concatenated unconstrained coordinates."""
        cov_diag = jax.nn.softplus(self.raw_scale) ** 2
        return dist.LowRankMultivariateNormal(self.loc, self.cov_factor, cov_diag)

    def _split(self, z: Float[Array, " dim"]) -> list[Array]:
        bounds = np.cumsum([s.size for s in self.specs])[:-1].tolist()
        blocks = jnp.split(z, bounds)
        return [b.reshape(s.shape) for s, b in zip(self.specs, blocks, strict=True)]

    def _constrain(self, z: Float[Array, " dim"]) -> tuple[dict[str, Array], Array]:
        # Each block through its own bijection; also log|det J| of the whole map.
        values, log_det = {}, []
        for spec, block in zip(self.specs, self._split(z), strict=True):
            bijection = get_bijection(spec.bijection)
            values[spec.name] = bijection(block)
            log_det.append(jnp.sum(bijection.log_abs_det_jacobian(block, values[spec.name])))
        return values, sum(log_det[1:], log_det[0])

    @property
    def noise_size(self) -> int:
        return sum(self.cov_factor.shape)

    def gamma_concentrations(self) -> Float[Array, " gamma"]:
        return jnp.zeros((0,), self.loc.dtype)

    def sample_and_log_prob(
        self, normal: Float[Array, " noise"], log_gamma: Float[Array, " gamma"]
    ) -> tuple[dict[str, Array], Array]:
        # z = loc + W eps_W + scale * eps_D has covariance W Wᵀ + diag(scale²).
        dim = self.loc.shape[0]
        scale = jax.nn.softplus(self.raw_scale)
        z = self.loc + self.cov_factor @ normal[dim:] + scale * normal[:dim]
        values, log_det = self._constrain(z)
        return values, self.distribution().log_prob(z) - log_det

    def log_prob(self, values: Mapping[str, Array]) -> Array:
        blocks = [get_bijection(s.bijection).inv(jnp.asarray(values[s.name])) for s in self.specs]
        z = jnp.concatenate([jnp.ravel(b) for b in blocks])
        return self.distribution().log_prob(z) - self._constrain(z)[1]

    def median(self) -> dict[str, Array]:
        # Each coordinate's marginal is a Normal through a monotone map: median = map(loc).
        return self._constrain(self.loc)[0]

    def marginals(self) -> dict[str, dist.Distribution]:
        # The diagonal of W Wᵀ + diag(scale²), without the capacitance matrix.
        variance = jnp.sum(self.cov_factor**2, axis=-1) + jax.nn.softplus(self.raw_scale) ** 2
        scale = jnp.sqrt(variance)
        blocks = zip(self.specs, self._split(self.loc), self._split(scale), strict=True)
        return {s.name: normal_marginal(loc, sd, s.bijection) for s, loc, sd in blocks}

    def restrict(self, keep: Restriction) -> "LowRankNormalFactor | None":
        # The marginal of a Gaussian over some coordinates keeps their rows of loc, W and
        # the diagonal: covariance rows and columns of W Wᵀ + diag(scale²) at once.
        offsets = np.cumsum([0] + [s.size for s in self.specs])[:-1]
        kept = [(o, s) for o, s in zip(offsets, self.specs, strict=True) if s.name in keep]
        if not kept:
            return None
        rows = np.concatenate([o + keep[s.name][1] for o, s in kept])
        cov_factor = self.cov_factor[rows]
        if rows.size < cov_factor.shape[1]:
            # More columns than coordinates: an SVD gives the same W Wᵀ with as many
            # columns as coordinates, the shape a guide built for this size has.
            u, s, _ = jnp.linalg.svd(cov_factor, full_matrices=False)
            cov_factor = u * s[None, :]
        return replace_fields(
            self,
            specs=tuple(keep[s.name][0] for _, s in kept),
            loc=self.loc[rows],
            cov_factor=cov_factor,
            raw_scale=self.raw_scale[rows],
        )


def _take(x: Array, spec: ParamSpec, positions: Int[np.ndarray, " values"]) -> Array:
    """The flattened ``x`` at ``positions``, in the shape of the new ``spec``."""
    return jnp.ravel(x)[positions].reshape(spec.shape)
