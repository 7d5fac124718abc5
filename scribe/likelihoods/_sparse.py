"""Log-likelihood sums that visit nonzero counts only.

scRNA-seq matrices are ~90% zeros. For an element-wise family,
``Σ log p(u_cg) = Σ_all log p(0 | θ_cg) + Σ_nonzero [log p(u_cg | θ_cg) - log p(0 | θ_cg)]``.
The first sum needs no lgamma (NB: ``r log(1 - p̂)``; with ``r`` per gene and ``p̂`` per
cell it is the closed form ``log(1 - p̂_c) Σ_g r_g``), so lgamma runs at nonzeros only.
The dense ``log_prob`` stays the reference this path is tested against.
"""

from typing import TYPE_CHECKING, Literal, NamedTuple

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, Int, PyTree

from ._abstract import AbstractElementwiseLikelihood, AbstractLikelihood
from ._logistic_normal_multinomial import LogisticNormalMultinomial
from ._mixture import Mixture, loop_components, map_components
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
    family: AbstractElementwiseLikelihood,
    params: PyTree,
    nonzeros: "PaddedNonzeros",
    *,
    kernel: bool = True,
) -> tuple[Float[Array, " capacity"] | None, Float[Array, " pairs"] | None]:
    """``log p(u) - log p(0)`` at each slot, in two parts.

    When the family's normaliser reads only per-gene or shared leaves and the batch
    carries its distinct (gene, count) pairs, the normaliser is returned as a table over
    the pairs (to be gathered or weighted by the caller) and left out of the slot terms;
    otherwise the slot terms are complete and the table is None. ``kernel=False`` leaves
    the kernel out too (a caller that sums it per cell from `log_kernel_rate`); the slot
    terms are then None when nothing is left at the slots. Padding slots hold 0.
    """
    at = gather_entries(params, nonzeros.rows, nonzeros.cols)
    terms = family.log_kernel_excess(nonzeros.values, at) if kernel else None
    read, pairs, table = family.normalizer_params(params), nonzeros.pairs, None
    if read is not None:
        per_gene = all(leaf.shape[0] == 1 for leaf in jax.tree.leaves(read))
        if pairs is not None and per_gene:
            at_pairs = gather_entries(params, jnp.zeros_like(pairs.genes), pairs.genes)
            table = family.log_normalizer(pairs.counts, at_pairs)
        else:
            normalizer = family.log_normalizer(nonzeros.values, at)
            terms = normalizer if terms is None else terms + normalizer
    if terms is not None:
        terms = jnp.where(nonzeros.mask, terms, 0.0)
    return terms, table


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


class _ComponentTerms(NamedTuple):
    """Each mixture component's pieces of ``Σ_g log p_k(u_cg)``, stacked on axis 0.

    ``zeros`` is the closed-form zero part per cell. The kernel is either ``rates``
    (a per-cell coefficient of the cell's total count, when the family's kernel is
    linear in the count with no gene axis) or part of ``slots`` (per-slot terms, masked),
    and the normaliser is either ``table`` (per distinct pair) or part of ``slots``.
    """

    zeros: Float[Array, "components cells"]
    rates: Float[Array, "components cells"] | None
    slots: Float[Array, "components capacity"] | None
    table: Float[Array, "components pairs"] | None


def _component_terms(
    mixture: Mixture, params: PyTree, nonzeros: "PaddedNonzeros", n_cells: int, n_genes: int
) -> _ComponentTerms:
    def pieces(component: PyTree) -> _ComponentTerms:
        family, thinned = _without_capture(mixture.base, component)
        zeros = family.log_prob_zero_sum(thinned, (n_cells, n_genes), 1)
        rate = family.log_kernel_rate(thinned)
        per_cell = rate is not None and rate.shape[-1] == 1
        slots, table = _nonzero_terms(family, thinned, nonzeros, kernel=not per_cell)
        rates = jnp.broadcast_to(rate[:, 0], (n_cells,)) if per_cell else None
        return _ComponentTerms(zeros, rates, slots, table)

    # A loop, not vmap: the table is then computed once and gathered (see `_cell_sums`).
    return loop_components(pieces, params.components)


def _cell_sums(
    terms: _ComponentTerms, nonzeros: "PaddedNonzeros", n_cells: int
) -> tuple[Float[Array, "components cells"], Float[Array, " cells"] | None]:
    """``Σ_g log p_k(u_cg)`` for every component and cell of the batch, and each cell's
    total count when the kernel is summed from ``rates`` (None otherwise).

    The per-slot part (slot terms plus the table gathered at each slot's pair) is one
    1-D segment sum per component, vectorized: on CPU twice as fast as one sum of a
    ``(capacity, K)`` array. The terms must be computed arrays (`_component_terms`):
    were the table's lgamma fused into the gather, it would run once per nonzero.
    """
    # Padding slots go to segment n_cells, which segment_sum drops: no mask per component
    # (slot terms are finite at padding, and the table at the padding's pair index 0).
    rows = jnp.where(nonzeros.mask, nonzeros.rows, n_cells)

    def per_cell(values: Float[Array, " capacity"]) -> Float[Array, " cells"]:
        return jax.ops.segment_sum(values, rows, num_segments=n_cells)

    sums, totals = terms.zeros, None
    if terms.rates is not None:
        totals = per_cell(nonzeros.values)
        sums = sums + terms.rates * totals[None, :]
    if terms.slots is None and terms.table is None:
        return sums, totals

    def one_component(slots, table) -> Float[Array, " cells"]:
        at_slots = 0.0 if slots is None else slots
        if table is not None:
            at_slots = at_slots + table[nonzeros.pairs.index]
        return per_cell(at_slots)

    return sums + jax.vmap(one_component)(terms.slots, terms.table), totals


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
    if by == "cell":
        terms = _component_terms(mixture, params, nonzeros, n_cells, n_genes)
        return _cell_sums(terms, nonzeros, n_cells)[0]

    def one_component(component: PyTree) -> Array:
        return sparse_log_prob_sum(
            mixture.base, component, nonzeros, n_cells=n_cells, n_genes=n_genes, by=by
        )

    return map_components(one_component, params.components)


def _pair_weights(
    resp: Float[Array, "cells components"], nonzeros: "PaddedNonzeros"
) -> Float[Array, "components pairs"]:
    """``Σ_{slots holding the pair} γ_{row(slot), k}``: how much of each component's
    normaliser table a batch's responsibilities hold. One scatter of ``(capacity, K)``
    rows (on CPU faster than K scatters of one column each)."""
    n_pairs = nonzeros.pairs.counts.shape[0]
    # Padding slots go to pair n_pairs, which segment_sum drops.
    index = jnp.where(nonzeros.mask, nonzeros.pairs.index, n_pairs)
    return jax.ops.segment_sum(resp[nonzeros.rows], index, num_segments=n_pairs).T


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
    form every sum stays linear in the per-entry terms: the normaliser table enters as a
    dot product with responsibility-weighted pair counts (as in `sparse_log_prob_total`),
    a kernel linear in the count with a per-cell rate as ``γ_ck a_ck Σ_g u_cg``, and no
    ``cells × genes × K`` array is formed.
    """
    stop = jax.lax.stop_gradient
    terms = _component_terms(mixture, params, nonzeros, n_cells, n_genes)
    sums, totals = _cell_sums(jax.tree.map(stop, terms), nonzeros, n_cells)
    joint = sums.T + stop(log_weights)
    value = jnp.sum(jax.nn.logsumexp(joint, axis=1))
    resp = stop(jax.nn.softmax(joint, axis=1))
    linear = jnp.sum(resp * (terms.zeros.T + log_weights))
    if terms.rates is not None:
        linear = linear + jnp.sum(resp * (terms.rates * totals[None, :]).T)
    if terms.slots is not None:
        at_slots = jnp.where(nonzeros.mask[:, None], resp[nonzeros.rows], 0.0)
        linear = linear + jnp.sum(at_slots.T * terms.slots)
    if terms.table is not None:
        linear = linear + jnp.sum(stop(_pair_weights(resp, nonzeros)) * terms.table)
    return stop(value - linear) + linear
