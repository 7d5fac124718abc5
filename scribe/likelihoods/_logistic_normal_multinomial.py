"""Logistic-normal multinomial observation: NB total × multinomial composition."""

from typing import TYPE_CHECKING

import equinox as eqx
import jax
import jax.numpy as jnp
from jax.scipy.special import gammaln
from jaxtyping import Array, Float, PRNGKeyArray

from ._abstract import AbstractLikelihood
from ._negative_binomial import NBParams, NegativeBinomial

if TYPE_CHECKING:
    from ..data import PaddedNonzeros


class LNMParams(eqx.Module):
    """Parameters of ``LogisticNormalMultinomial``.

    ``total`` holds the NB parameters of each cell's total count (leaves ``(1, 1)`` or
    ``(cells, 1)``); ``alr`` the composition in additive log-ratio coordinates against
    the reference gene (every gene but the reference, in gene order).
    """

    total: NBParams
    alr: Float[Array, "cells genes_minus_one"]


class LogisticNormalMultinomial(AbstractLikelihood):
    """``u_T ~ NB(r, p)``, ``u | u_T ~ Multinomial(u_T, ρ)``, ``ρ = softmax(alr ⊕ 0)``.

    The composition couples a cell's genes, so ``log_prob`` returns one value per cell.
    Thinning by capture thins the NB total only (a thinned multinomial keeps ``ρ``).

    Parameters
    ----------
    reference_gene
        Index of the gene whose ALR coordinate is fixed at 0.
    """

    reference_gene: int = eqx.field(static=True)

    def log_composition(self, params: LNMParams) -> Float[Array, "cells genes"]:
        """``log ρ``: the ALR coordinates with 0 inserted at the reference, log-softmaxed."""
        return self.log_composition_of_alr(params.alr)

    def log_composition_of_alr(
        self, alr: Float[Array, "*cells genes_minus_one"]
    ) -> Float[Array, "*cells genes"]:
        """``log ρ`` of ALR coordinates (any leading axes)."""
        zeros = jnp.zeros_like(alr[..., :1])
        full = jnp.concatenate(
            [alr[..., : self.reference_gene], zeros, alr[..., self.reference_gene :]], axis=-1
        )
        return jax.nn.log_softmax(full, axis=-1)

    def log_prob(
        self, counts: Float[Array, "cells genes"], params: LNMParams
    ) -> Float[Array, " cells"]:
        total = counts.sum(axis=1, keepdims=True)
        log_total = NegativeBinomial().log_prob(total, params.total)[:, 0]
        log_multinomial = (
            gammaln(total[:, 0] + 1.0)
            - gammaln(counts + 1.0).sum(axis=1)
            + (counts * self.log_composition(params)).sum(axis=1)
        )
        return log_total + log_multinomial

    def sparse_log_prob(
        self, params: LNMParams, nonzeros: "PaddedNonzeros", n_cells: int
    ) -> Float[Array, " cells"]:
        """``log_prob`` per cell from the nonzero counts only (``log ρ`` is dense anyway).

        ``log NB(u_T) + lgamma(u_T + 1) + Σ_nonzero [u log ρ_g − lgamma(u + 1)]``, with
        each cell's total ``u_T`` summed from its nonzeros; padding slots are ignored.
        """
        values = nonzeros.values
        total = nonzeros.sum_by_row(values, n_cells)
        log_rho = self.log_composition(params)[nonzeros.rows, nonzeros.cols]
        log_multinomial = gammaln(total + 1.0) + nonzeros.sum_by_row(
            values * log_rho - gammaln(values + 1.0), n_cells
        )
        return NegativeBinomial().log_prob(total[:, None], params.total)[:, 0] + log_multinomial

    def sample(self, params: LNMParams, shape: tuple[int, ...], *, key: PRNGKeyArray):
        key_total, key_split = jax.random.split(key)
        totals = NegativeBinomial().sample(params.total, (*shape[:-1], 1), key=key_total)
        composition = jnp.broadcast_to(jnp.exp(self.log_composition(params)), shape)
        return jax.random.multinomial(
            key_split, totals[..., 0], composition, dtype=composition.dtype
        )

    def mean(self, params: LNMParams) -> Array:
        return NegativeBinomial().mean(params.total) * jnp.exp(self.log_composition(params))

    def variance(self, params: LNMParams) -> Array:
        composition = jnp.exp(self.log_composition(params))
        total_mean = NegativeBinomial().mean(params.total)
        total_variance = NegativeBinomial().variance(params.total)
        return total_mean * composition * (1.0 - composition) + composition**2 * total_variance

    def thin(self, params: LNMParams, capture: Float[Array, " cells"]) -> LNMParams:
        return LNMParams(total=NegativeBinomial().thin(params.total, capture), alr=params.alr)
