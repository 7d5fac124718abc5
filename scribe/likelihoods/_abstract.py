"""The one interface every count likelihood implements."""

import abc

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray, PyTree

from ._broadcast import sum_broadcast


class AbstractLikelihood(eqx.Module):
    """A distribution over a cells × genes count matrix, given a parameter pytree.

    Conventions shared by every family:

    * each family consumes one small final parameter module (``NBParams``, ...);
    * every array leaf of a parameter module is 2-D and broadcasts against the
      ``(cells, genes)`` count matrix: ``(1, genes)`` for a per-gene value,
      ``(cells, 1)`` for a per-cell value, ``(1, 1)`` for a shared one;
    * ``p`` is numpyro's ``probs`` (NB mean ``r p / (1 - p)``);
    * ``capture`` is a per-cell probability ``nu`` of shape ``(cells,)``; ``thin``
      returns the parameters of the binomially thinned distribution (DESIGN.md's
      thinning table, MATH.md for the formulas).

    Element-wise families return ``(cells, genes)`` log-probabilities from
    ``log_prob``; families whose math couples genes (``Mixture``,
    ``LogisticNormalMultinomial``) reduce over genes and say so in their type.
    """

    @abc.abstractmethod
    def log_prob(self, counts: Float[Array, "cells genes"], params: PyTree) -> Array:
        """Log-probability of ``counts`` under ``params``."""

    @abc.abstractmethod
    def sample(self, params: PyTree, shape: tuple[int, ...], *, key: PRNGKeyArray):
        """Draw counts of the whole ``shape``, ``(..., cells, genes)``, to which every
        parameter leaf broadcasts (``(cells, genes)`` for one draw per entry)."""

    @abc.abstractmethod
    def mean(self, params: PyTree) -> Array:
        """Expected counts, broadcast to the parameters' shape."""

    @abc.abstractmethod
    def variance(self, params: PyTree) -> Array:
        """Variance of the counts, broadcast to the parameters' shape."""

    @abc.abstractmethod
    def thin(self, params: PyTree, capture: Float[Array, " cells"]) -> PyTree:
        """Parameters of the distribution after binomial thinning by ``capture``."""


class AbstractElementwiseLikelihood(AbstractLikelihood):
    """A likelihood that factorizes over the entries of the count matrix.

    Adds ``log_prob_zero``: ``log p(0 | params)`` without lgamma, which the sparse
    path uses to sum the zero entries in closed form and visit nonzeros only.

    A family whose log-pmf splits as ``c(u, φ) + rest(u, θ)``, with ``φ`` a part of the
    parameters (NB: ``c = log Γ(u + r) / (Γ(r) u!)`` and ``φ = r``), says so through
    ``normalizer_params`` and ``log_normalizer``; when ``φ`` is per gene the sparse path
    evaluates ``c`` once per distinct (gene, count) pair instead of once per nonzero.
    The defaults describe a family without such a split.
    """

    @abc.abstractmethod
    def log_prob_zero(self, params: PyTree) -> Array:
        """``log p(u = 0 | params)``, broadcastable to ``(cells, genes)``."""

    def log_prob_zero_sum(
        self, params: PyTree, shape: tuple[int, int], axis: int
    ) -> Float[Array, " kept"]:
        """``Σ`` over ``axis`` of ``log_prob_zero(params)`` broadcast to ``shape``.

        Families whose zero log-probability factorizes override this to avoid forming
        the ``(cells, genes)`` array (NB: ``r_g log(1 - p̂_c)``).
        """
        return sum_broadcast(self.log_prob_zero(params), shape, axis)

    def normalizer_params(self, params: PyTree) -> PyTree | None:
        """The leaves of ``params`` that ``log_normalizer`` reads (None: no split)."""
        return None

    def log_normalizer(self, counts: Float[Array, "..."], params: PyTree) -> Array:
        """The term ``c(u, φ)`` of ``log_prob`` (zero for a family without a split)."""
        return jnp.zeros_like(counts)

    def log_kernel_excess(self, counts: Float[Array, "..."], params: PyTree) -> Array:
        """``log p(u | θ) - log p(0 | θ) - log_normalizer(u, φ)`` at counts ``u > 0``.

        With it the sparse path needs ``log_normalizer`` only as a term to add, which it
        may evaluate once per distinct (gene, count) pair.
        """
        return self.log_prob(counts, params) - self.log_prob_zero(params)

    def log_kernel_rate(self, params: PyTree) -> Array | None:
        """``a`` with ``log_kernel_excess(u, θ) = u · a``, for a family whose kernel is
        linear in the count (NB: ``log p``; Poisson: the log-rate); None otherwise.

        Where ``a`` has no gene axis, a cell's kernel sum is ``a_c · Σ_g u_cg``: the
        mixture's per-cell sums then need no per-nonzero kernel at all.
        """
        return None
