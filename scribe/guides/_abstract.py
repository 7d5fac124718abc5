"""The interface every variational family over the global parameters implements."""

import abc
import math
from collections.abc import Collection, Mapping

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import numpyro.distributions as dist
from jaxtyping import Array, ArrayLike, Float, Int, PRNGKeyArray

from ._factors import AbstractFactor
from ._spec import (
    ParamSpec,
    Restriction,
    check_restriction,
    component_restriction,
    gene_restriction,
    replace_fields,
)


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
    def restrict(self, keep: Restriction) -> "AbstractGuide":
        """The guide's exact marginal over some of its values, as a guide of the same kind.

        The one restriction ``subset_genes`` and ``select_component`` are built on. Each
        kept parameter's flattened values become those at the given positions of its
        old flattened values, reshaped to its new spec; parameters absent from ``keep``
        are dropped (factors left with nothing go, and so do their rows of a joint
        factor). For a Gaussian (low-rank) factor the rows of ``loc``, ``W`` and the
        diagonal at the kept coordinates are kept, which is exactly the marginal; a
        block left with fewer coordinates than columns of ``W`` is re-factored by an
        SVD to as many columns with the same covariance, and ``rank`` (and ``joint``)
        are adjusted to the kept parameters.

        Parameters
        ----------
        keep
            For each kept parameter name, its new ``ParamSpec`` (same name and
            transform) and the positions, in the old spec's flattened values, of the
            new spec's flattened values: ``new.size`` distinct integers in
            ``[0, old.size)``. At least one parameter.

        Returns
        -------
        AbstractGuide
            A new guide of the same class, its specs those of ``keep`` in the order of
            this guide's; this one is unchanged.

        Raises
        ------
        ValueError
            For an empty ``keep``, a name not in the guide, a spec of another name or
            transform, or positions of the wrong length, outside the old values, or
            repeated.
        """

    def subset_genes(
        self, genes: Int[ArrayLike, " kept"], per_gene: Collection[str] | None = None
    ) -> "AbstractGuide":
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
        per_gene
            The parameters with a gene axis (their last); the others are kept whole.
            None: every parameter with a shape (``ScribeModel.per_gene_globals`` says
            which, for a mixture's or a multi-dataset fit's ``(K,)`` values).

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
        return self.restrict(gene_restriction(self.specs, genes, per_gene))

    def select_component(
        self, k: int, components: Collection[str], drop: Collection[str] = ()
    ) -> "AbstractGuide":
        """The guide's exact marginal over one mixture component, as a guide of the same kind.

        Each parameter in ``components`` has a leading component axis, shape
        ``(n_components, *rest)``; in the result it has shape ``rest``, its values at
        index ``k`` of that axis. Parameters in ``drop`` (the mixing weights, say) are
        left out, and all others kept whole. As for ``subset_genes``, a Gaussian
        (low-rank) factor keeps its rows at the kept coordinates, re-factored where
        fewer coordinates than columns remain; ``rank`` shrinks accordingly, and the
        names in ``drop`` leave a ``JointLowRank``'s ``joint``.

        Parameters
        ----------
        k
            The component: an int in ``[0, n_components)``.
        components
            Names of the per-component parameters, at least one; each must have a
            leading axis, of the same size ``n_components`` for all.
        drop
            Names of parameters to leave out.

        Returns
        -------
        AbstractGuide
            A new guide of the same class; this one is unchanged.

        Raises
        ------
        ValueError
            For a name not in the guide (the message lists the valid ones), a name in
            both ``components`` and ``drop``, no ``components``, a component parameter
            of shape ``()`` or leading axes of different sizes, and a ``k`` that is not
            an int.
        IndexError
            For ``k`` outside ``[0, n_components)``.

        Examples
        --------
        >>> from scribe.guides import MeanFieldUnconstrained, ParamSpec
        >>> specs = [ParamSpec(name="r", shape=(2, 4)), ParamSpec(name="mu", shape=(2,))]
        >>> guide = MeanFieldUnconstrained(specs, init={"r": [[1.0], [3.0]]})
        >>> one = guide.select_component(1, components=("r",), drop=("mu",))
        >>> one.specs
        (ParamSpec(name='r', shape=(4,), transform='softplus'),)
        >>> [round(float(x), 6) for x in one.median()["r"]]
        [3.0, 3.0, 3.0, 3.0]
        """
        return self.restrict(component_restriction(self.specs, k, components, drop))

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


def restrict_factors(guide: AbstractProductGuide, keep: Restriction):
    """``guide`` with its specs and factors restricted to ``keep`` (see ``restrict``).

    Fields other than ``specs`` and ``factors`` (a rank, say) are the caller's to adjust.
    """
    keep = check_restriction(guide.specs, keep)
    factors = (factor.restrict(keep) for factor in guide.factors)
    return replace_fields(
        guide,
        specs=tuple(new for new, _ in keep.values()),
        factors=tuple(factor for factor in factors if factor is not None),
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
