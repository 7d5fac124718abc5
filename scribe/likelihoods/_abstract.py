"""The one interface every count likelihood implements."""

import abc

import equinox as eqx
from jaxtyping import Array, Float, PRNGKeyArray, PyTree


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
    def sample(self, params: PyTree, sample_shape: tuple[int, ...] = (), *, key: PRNGKeyArray):
        """Draw counts of shape ``sample_shape + (cells, genes)``."""

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
    """

    @abc.abstractmethod
    def log_prob_zero(self, params: PyTree) -> Array:
        """``log p(u = 0 | params)``, broadcastable to ``(cells, genes)``."""
