"""The decoder interface: per-cell latents in, per-cell likelihood parameters out."""

import abc

import equinox as eqx
from jaxtyping import Array, Float

from ..data import Batch


class AbstractDecoder(eqx.Module):
    """Maps each cell's latent ``z`` (and its batch) to the likelihood's natural parameters.

    Contract of ``__call__``: a dict with one entry per name in ``outputs``, each a 2-D
    array whose first axis is the batch's cells, ready to go into a likelihood's
    parameter module (``NBParams``, ``ZIParams``, ``LNMParams``) next to the global
    parameters it broadcasts against:

    * ``"log_mu"`` (log of the NB mean): real, ``(cells, genes)``; ``-inf`` only where
      the mean is exactly 0 (a point mass at 0, e.g. a cell with no counts decoded
      with its library size). The likelihood reads the mean in this form, so compute
      it in log space (``log_softmax``, not ``log(softmax)``): a mean that underflows
      to 0 at a nonzero count makes that cell's likelihood ``-inf`` and the training
      step's gradient non-finite;
    * ``"mu"`` (the NB mean itself), accepted in place of ``"log_mu"`` from decoders
      written before it: positive, ``(cells, genes)``; the model takes its log;
    * ``"r"`` (NB size): positive, ``(cells, genes)``;
    * ``"gate"`` (zero-inflation probability): in (0, 1), ``(cells, genes)``;
    * ``"alr"`` (composition in additive log-ratio coordinates against
      ``reference_gene``, the convention of ``LogisticNormalMultinomial``): real,
      ``(cells, genes - 1)``.

    ``n_latent`` is the dimension of ``z``; ``n_genes`` the number of genes decoded.
    """

    n_latent: eqx.AbstractVar[int]
    n_genes: eqx.AbstractVar[int]
    outputs: eqx.AbstractVar[tuple[str, ...]]

    @abc.abstractmethod
    def __call__(
        self, z: Float[Array, "cells latent"], batch: Batch
    ) -> dict[str, Float[Array, "cells _"]]:
        """The natural parameters of each cell of ``batch`` given its latent ``z``."""

    def _check_inputs(self, z: Float[Array, "cells latent"], batch: Batch) -> None:
        if batch.n_genes != self.n_genes:
            raise ValueError(
                f"The decoder outputs {self.n_genes} genes; the batch has {batch.n_genes}."
            )
        if z.ndim != 2 or z.shape != (batch.batch_size, self.n_latent):
            raise ValueError(
                f"z must have shape (cells, n_latent) = ({batch.batch_size}, {self.n_latent}) "
                f"for this batch; found {z.shape}."
            )
