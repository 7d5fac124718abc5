"""The logistic-normal multinomial's decoder: ``alr = W z + b``."""

import equinox as eqx
import jax
from jaxtyping import Array, Float, PRNGKeyArray

from ..data import Batch
from ..encoders._mlp import check_size
from ._abstract import AbstractDecoder


class LinearALRDecoder(AbstractDecoder):
    """``z -> alr = W z + b``: a cell's composition in additive log-ratio coordinates.

    The coordinates follow ``LogisticNormalMultinomial(reference_gene)``: one per gene
    but the reference, in gene order, with ``ρ = softmax(alr`` with 0 inserted at
    ``reference_gene)``. Build the likelihood with this decoder's ``reference_gene``.

    Parameters
    ----------
    n_latent
        Dimension of ``z``.
    n_genes
        Number of genes, the reference included (at least 2).
    reference_gene
        Index in ``[0, n_genes)`` of the gene whose log-ratio is fixed at 0.
    key
        Initialisation key.
    """

    n_latent: int = eqx.field(static=True)
    n_genes: int = eqx.field(static=True)
    reference_gene: int = eqx.field(static=True)
    linear: eqx.nn.Linear

    def __init__(self, n_latent: int, n_genes: int, reference_gene: int, *, key: PRNGKeyArray):
        self.n_latent = check_size("n_latent", n_latent)
        self.n_genes = check_size("n_genes", n_genes, minimum=2)
        check_size("reference_gene", reference_gene, minimum=0)
        if reference_gene >= n_genes:
            raise ValueError(
                f"reference_gene must be a gene index in [0, {n_genes}); found {reference_gene}."
            )
        self.reference_gene = reference_gene
        self.linear = eqx.nn.Linear(n_latent, n_genes - 1, key=key)

    @property
    def outputs(self) -> tuple[str, ...]:
        return ("alr",)

    def __call__(
        self, z: Float[Array, "cells latent"], batch: Batch
    ) -> dict[str, Float[Array, "cells genes_minus_one"]]:
        self._check_inputs(z, batch)
        return {"alr": jax.vmap(self.linear)(z.astype(self.linear.weight.dtype))}
