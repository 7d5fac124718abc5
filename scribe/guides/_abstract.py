"""The interface every variational family over the global parameters implements."""

import abc
import math
from collections.abc import Mapping

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import numpyro.distributions as dist
from jaxtyping import Array, ArrayLike, Float, Int, PRNGKeyArray

from ._factors import AbstractFactor
from ._spec import ParamSpec, check_genes, replace_fields


class AbstractGuide(eqx.Module):
    """A variational distribution q over the global parameters named by ``specs``.

    Values are dictionaries ``{name: array}`` in constrained space, each array of its
    spec's shape (with leading sample axes where a method says so). The array leaves of
    a guide are its trainable parameters: train with
    ``eqx.filter(guide, eqx.is_inexact_array)`` and optax.
    """

    specs: eqx.AbstractVar[tuple[ParamSpec, ...]]

    @abc.abstractmethod
    def sample_and_log_prob(
        self, *, key: PRNGKeyArray
    ) -> tuple[dict[str, Array], Float[Array, ""]]:
        """One reparameterized draw of every parameter and its log-density.

        Parameters
        ----------
        key
            A PRNG key.

        Returns
        -------
        tuple[dict[str, Array], Array]
            The draw in constrained space, and log q of it (a scalar; it includes the
            Jacobian of the bijection where the family is defined on unconstrained
            coordinates). Gradients reach the guide's parameters pathwise.
        """

    @abc.abstractmethod
    def log_prob(self, values: Mapping[str, Array]) -> Array:
        """log q of constrained ``values``.

        Parameters
        ----------
        values
            One array per parameter, of shape ``sample_shape + spec.shape``.

        Returns
        -------
        Array
            The log-density, of shape ``sample_shape``.
        """

    @abc.abstractmethod
    def median(self) -> dict[str, Array]:
        """A point summary of each parameter in constrained space.

        For families on unconstrained coordinates (Normal, LogNormal, low-rank) this is
        the exact median of each marginal, the bijection of the Gaussian's location.
        For Beta-based families it is the Beta mean ``a / (a + b)``, or its odds
        ``a / b`` for BetaPrime: no closed-form median exists, and this summary is
        close to it for ``a, b >= 1``. Either way it equals ``init`` at construction.
        """

    @abc.abstractmethod
    def marginals(self) -> dict[str, dist.Distribution]:
        """Marginal distribution of each parameter, batch shape ``spec.shape``."""

    @abc.abstractmethod
    def subset_genes(self, genes: Int[ArrayLike, " kept"]) -> "AbstractGuide":
        """The guide's exact marginal over some genes, as a guide of the same kind.

        The gene axis is the last axis of every spec with a shape: per-gene values are
        taken at ``genes``, in that order, and shared ones (shape ``()``) kept. For a
        Gaussian (low-rank) family the rows of ``loc``, ``W`` and the diagonal are kept,
        which is exactly the marginal; a block left with fewer coordinates than columns
        of ``W`` is re-factored to as many columns with the same covariance, and
        ``rank`` shrinks accordingly, so the subset has the shapes of a guide built for
        its size.

        Parameters
        ----------
        genes
            Distinct integers in ``[0, n_genes)``, at least one.

        Returns
        -------
        AbstractGuide
            A new guide of the same class; this one is unchanged.

        Raises
        ------
        ValueError
            For ``genes`` that are empty, not 1-D integers, or repeated.
        IndexError
            For ``genes`` outside ``[0, n_genes)``.
        """

    @property
    def names(self) -> tuple[str, ...]:
        """Names of the parameters, in the order of ``specs``."""
        return tuple(s.name for s in self.specs)

    def sample(self, sample_shape: tuple[int, ...] = (), *, key: PRNGKeyArray) -> dict[str, Array]:
        """Draws with leading axes ``sample_shape``.

        ``sample((), key=key)`` is the draw of ``sample_and_log_prob(key=key)``; with a
        ``sample_shape``, the draws are those of the keys
        ``jax.random.split(key, prod(sample_shape))``, in order.

        Parameters
        ----------
        sample_shape
            Leading axes of the result.
        key
            A PRNG key.

        Returns
        -------
        dict[str, Array]
            One array per parameter, of shape ``sample_shape + spec.shape``.
        """
        if sample_shape == ():
            return self.sample_and_log_prob(key=key)[0]
        keys = jax.random.split(key, math.prod(sample_shape))
        draws = jax.vmap(lambda k: self.sample_and_log_prob(key=k)[0])(keys)
        return {name: x.reshape(sample_shape + x.shape[1:]) for name, x in draws.items()}


class AbstractProductGuide(AbstractGuide):
    """A guide that is a product of independent factors.

    One ``jax.random.normal`` and one ``jax.random.loggamma`` call draw the noise of
    every factor: each ``jax.random`` call site compiles its own sampler.
    """

    factors: eqx.AbstractVar[tuple[AbstractFactor, ...]]

    def sample_and_log_prob(
        self, *, key: PRNGKeyArray
    ) -> tuple[dict[str, Array], Float[Array, ""]]:
        key_normal, key_gamma = jax.random.split(key)
        # Sizes are static, so a guide that needs no normals (or no gammas) does not
        # compile that sampler at all.
        sizes = [factor.noise_size for factor in self.factors]
        normal = jnp.zeros((0,))
        if sum(sizes):
            normal = jax.random.normal(key_normal, (sum(sizes),))
        concentrations = [factor.gamma_concentrations() for factor in self.factors]
        log_gamma = jnp.concatenate(concentrations)
        if log_gamma.size:
            log_gamma = jax.random.loggamma(key_gamma, log_gamma)
        normal = _split(normal, sizes)
        log_gamma = _split(log_gamma, [c.size for c in concentrations])
        values, log_q = {}, []
        for factor, eps, log_g in zip(self.factors, normal, log_gamma, strict=True):
            draw, lp = factor.sample_and_log_prob(eps, log_g)
            values.update(draw)
            log_q.append(lp)
        return {s.name: values[s.name] for s in self.specs}, sum(log_q[1:], log_q[0])

    def log_prob(self, values: Mapping[str, Array]) -> Array:
        sample_shape = _sample_shape(self.specs, values)
        # Factors score one draw; leading axes are vmapped rather than broadcast, which
        # keeps every factor valid under jax_numpy_rank_promotion="raise".
        flat = {s.name: jnp.reshape(values[s.name], (-1, *s.shape)) for s in self.specs}
        log_q = jax.vmap(self._log_prob_one)(flat)
        return log_q.reshape(sample_shape)

    def _log_prob_one(self, values: Mapping[str, Array]) -> Array:
        terms = [factor.log_prob(values) for factor in self.factors]
        return sum(terms[1:], terms[0])

    def median(self) -> dict[str, Array]:
        summary = {}
        for factor in self.factors:
            summary.update(factor.median())
        return {s.name: summary[s.name] for s in self.specs}

    def marginals(self) -> dict[str, dist.Distribution]:
        marginals = {}
        for factor in self.factors:
            marginals.update(factor.marginals())
        return {s.name: marginals[s.name] for s in self.specs}


def subset_factors(guide: AbstractProductGuide, genes: Int[ArrayLike, " kept"]):
    """``guide`` with every spec and factor restricted to ``genes`` (see ``subset_genes``)."""
    genes = check_genes(guide.specs, genes)
    return replace_fields(
        guide,
        specs=tuple(s.subset_genes(len(genes)) for s in guide.specs),
        factors=tuple(f.subset_genes(genes) for f in guide.factors),
    )


def _sample_shape(specs: tuple[ParamSpec, ...], values: Mapping[str, Array]) -> tuple[int, ...]:
    """The leading axes ``values`` share in front of each spec's shape."""
    names = tuple(s.name for s in specs)
    missing = [n for n in names if n not in values]
    if missing:
        raise ValueError(f"values lack {missing}; the guide covers {names}.")
    shapes = {}
    for spec in specs:
        shape = jnp.shape(values[spec.name])
        lead = len(shape) - len(spec.shape)
        if lead < 0 or shape[lead:] != spec.shape:
            raise ValueError(
                f"values[{spec.name!r}] has shape {shape}; expected sample axes followed by "
                f"the spec's shape {spec.shape}."
            )
        shapes[spec.name] = shape[:lead]
    if len(set(shapes.values())) > 1:
        raise ValueError(f"values disagree on their leading sample axes: {shapes}.")
    return shapes[names[0]]


def _split(x: Array, sizes: list[int]) -> list[Array]:
    return jnp.split(x, np.cumsum(sizes)[:-1].tolist())
