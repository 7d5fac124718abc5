"""Log-likelihood sums that visit nonzero counts only.

scRNA-seq matrices are ~90% zeros. For an element-wise family,
``Σ log p(u_cg) = Σ_all log p(0 | θ_cg) + Σ_nonzero [log p(u_cg | θ_cg) - log p(0 | θ_cg)]``.
The first sum needs no lgamma (NB: ``r log(1 - p̂)``; with ``r`` per gene and ``p̂`` per
cell it is the closed form ``log(1 - p̂_c) Σ_g r_g``), so lgamma runs at nonzeros only.
The dense ``log_prob`` stays the reference this path is tested against.
"""

from typing import TYPE_CHECKING, Literal

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, Int, PyTree

from ._abstract import AbstractElementwiseLikelihood, AbstractLikelihood
from ._logistic_normal_multinomial import LogisticNormalMultinomial
from ._mixture import Mixture, map_components
from ._variable_capture import VariableCapture

if TYPE_CHECKING:
    from ..data import PaddedNonzeros


def gather_entries(params: PyTree, rows: Int[Array, " nnz"], cols: Int[Array, " nnz"]) -> PyTree:
    """Each 2-D parameter leaf's value at the entries ``(rows, cols)`` of the count matrix.

    Leaves of size one along an axis are broadcast along it, so per-gene, per-cell and
    shared leaves need no dense copy.
    """

    def gather(leaf: Array) -> Array:
        return leaf[rows if leaf.shape[0] > 1 else 0, cols if leaf.shape[1] > 1 else 0]

    return jax.tree.map(gather, params)


def _without_capture(likelihood: AbstractLikelihood, params: PyTree):
    # Capture only reparameterizes its base, so the sum runs on the thinned base.
    if isinstance(likelihood, VariableCapture):
        return _without_capture(likelihood.base, likelihood.thinned(params))
    if not isinstance(likelihood, AbstractElementwiseLikelihood | LogisticNormalMultinomial):
        raise TypeError(
            "the sparse path needs an element-wise likelihood or the logistic-normal "
            f"multinomial, found {type(likelihood).__name__}"
        )
    return likelihood, params


def _nonzero_terms(
    family: AbstractElementwiseLikelihood, params: PyTree, nonzeros: "PaddedNonzeros"
) -> tuple[Float[Array, " capacity"], Float[Array, " pairs"] | None]:
    """``log p(u) - log p(0)`` at each slot, in two parts.

    When the family's normaliser reads only per-gene or shared leaves and the batch
    carries its distinct (gene, count) pairs, the normaliser is returned as a table over
    the pairs (to be gathered or weighted by the caller) and left out of the slot terms;
    otherwise the slot terms are complete and the table is None. Padding slots hold 0.
    """
    at = gather_entries(params, nonzeros.rows, nonzeros.cols)
    terms = family.log_kernel_excess(nonzeros.values, at)
    read, pairs, table = family.normalizer_params(params), nonzeros.pairs, None
    if read is not None:
        per_gene = all(leaf.shape[0] == 1 for leaf in jax.tree.leaves(read))
        if pairs is not None and per_gene:
            at_pairs = gather_entries(params, jnp.zeros_like(pairs.genes), pairs.genes)
            table = family.log_normalizer(pairs.counts, at_pairs)
        else:
            terms = terms + family.log_normalizer(nonzeros.values, at)
    return jnp.where(nonzeros.mask, terms, 0.0), table


def sparse_log_prob_sum(
    likelihood: AbstractLikelihood,
    params: PyTree,
    nonzeros: "PaddedNonzeros",
    *,
    n_cells: int,
    n_genes: int,
    by: Literal["cell", "gene"] = "cell",
) -> Array:
    """``Σ_g log p(u_cg)`` per cell (``by="cell"``) or ``Σ_c`` per gene (``by="gene"``).

    Parameters
    ----------
    likelihood
        An element-wise family or ``LogisticNormalMultinomial`` (per cell only),
        possibly wrapped in ``VariableCapture``.
    params
        Its parameters (2-D leaves broadcasting to ``(n_cells, n_genes)``).
    nonzeros
        The nonzero entries in a padded COO layout (``scribe.data.PaddedNonzeros``);
        entries where its ``mask`` is False are ignored.
    """
    family, params = _without_capture(likelihood, params)
    if isinstance(family, LogisticNormalMultinomial):
        if by != "cell":
            raise ValueError(
                f"by={by!r} is undefined for the logistic-normal multinomial: its "
                "composition couples a cell's genes"
            )
        return family.sparse_log_prob(params, nonzeros, n_cells)
    axis = 1 if by == "cell" else 0
    zeros = family.log_prob_zero_sum(params, (n_cells, n_genes), axis)
    terms, table = _nonzero_terms(family, params, nonzeros)
    if table is not None:
        terms = terms + jnp.where(nonzeros.mask, table[nonzeros.pairs.index], 0.0)
    segments = nonzeros.rows if by == "cell" else nonzeros.cols
    return zeros + jax.ops.segment_sum(terms, segments, num_segments=zeros.shape[0])


def sparse_log_prob_total(
    likelihood: AbstractLikelihood,
    params: PyTree,
    nonzeros: "PaddedNonzeros",
    *,
    n_cells: int,
    n_genes: int,
) -> Float[Array, ""]:
    """``Σ_cg log p(u_cg)``: the sum of `sparse_log_prob_sum`, cheaper to differentiate.

    The normaliser table enters as ``Σ_pairs n_pair · c_pair`` with ``n_pair`` the number
    of slots holding each pair, so its gradient is a dot product rather than a scatter
    of one cotangent per nonzero (the slowest operation of a training step on CPU).
    """
    family, params = _without_capture(likelihood, params)
    if isinstance(family, LogisticNormalMultinomial):
        return family.sparse_log_prob(params, nonzeros, n_cells).sum()
    total = family.log_prob_zero_sum(params, (n_cells, n_genes), 1).sum()
    terms, table = _nonzero_terms(family, params, nonzeros)
    total = total + terms.sum()
    if table is not None:
        pairs = nonzeros.pairs
        held = jnp.zeros(table.shape, table.dtype).at[pairs.index].add(nonzeros.mask)
        total = total + jnp.dot(jax.lax.stop_gradient(held), table)
    return total


def sparse_component_log_prob_sum(
    mixture: Mixture,
    params: PyTree,
    nonzeros: "PaddedNonzeros",
    *,
    n_cells: int,
    n_genes: int,
    by: Literal["cell", "gene"] = "cell",
) -> Float[Array, "components cells_or_genes"]:
    """Each mixture component's ``sparse_log_prob_sum`` (unweighted), stacked on axis 0."""

    def one_component(component: PyTree) -> Array:
        return sparse_log_prob_sum(
            mixture.base,
            component,
            nonzeros,
            n_cells=n_cells,
            n_genes=n_genes,
            by=by,
        )

    return map_components(one_component, params.components)


def sparse_mixture_log_prob_total(
    mixture: Mixture,
    params: PyTree,
    nonzeros: "PaddedNonzeros",
    *,
    n_cells: int,
    n_genes: int,
    log_weights: Float[Array, "cells components"],
) -> Float[Array, ""]:
    """``Σ_c logsumexp_k [log w_ck + Σ_g log p_k(u_cg)]`` with per-cell log weights.

    The value is the mixture log-likelihood; its gradient is computed as that of
    ``Σ_ck γ_ck · (log w_ck + Σ_g log p_k(u_cg))`` with the responsibilities ``γ``
    held fixed, which is the same gradient (``∂ logsumexp / ∂ a_k = γ_k``). In that
    form every sum stays linear in the per-entry terms, so the normaliser table enters
    as a dot product with responsibility-weighted pair counts (as in
    `sparse_log_prob_total`) and no ``cells × genes × K`` array is formed.
    """

    def pieces(component: PyTree):
        family, thinned = _without_capture(mixture.base, component)
        zeros = family.log_prob_zero_sum(thinned, (n_cells, n_genes), 1)
        terms, table = _nonzero_terms(family, thinned, nonzeros)
        return zeros, terms, table

    zeros, terms, table = map_components(pieces, params.components)
    stop = jax.lax.stop_gradient
    rows, mask, pairs = nonzeros.rows, nonzeros.mask, nonzeros.pairs
    slots = stop(terms)
    if table is not None:
        slots = slots + jnp.where(mask, stop(table)[:, pairs.index], 0.0)
    segment = jax.ops.segment_sum(slots.T, rows, num_segments=n_cells)
    joint = stop(zeros).T + segment + stop(log_weights)
    value = jnp.sum(jax.nn.logsumexp(joint, axis=1))
    resp = stop(jax.nn.softmax(joint, axis=1))
    at_slots = jnp.where(mask[:, None], resp[rows], 0.0)
    linear = jnp.sum(resp * (zeros.T + log_weights)) + jnp.sum(at_slots.T * terms)
    if table is not None:
        held = (
            jnp.zeros(table.shape, table.dtype)
            .at[:, pairs.index]
            .add(at_slots.T.astype(table.dtype))
        )
        linear = linear + jnp.sum(stop(held) * table)
    return stop(value - linear) + linear
