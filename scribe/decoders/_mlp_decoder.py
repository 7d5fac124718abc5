"""The VAE decoder: a cell's latent ``z`` -> per-gene NB / ZINB parameters, by an MLP."""

from collections.abc import Sequence

import equinox as eqx
import jax
from jaxtyping import Array, Float, PRNGKeyArray

from ..data import Batch
from ..encoders import MLP
from ..encoders._mlp import check_size
from ._abstract import AbstractDecoder

# output -> its link from the network's raw output onto the parameter's domain
DECODER_OUTPUTS = {"r": jax.nn.softplus, "mu": jax.nn.softplus, "gate": jax.nn.sigmoid}


def _check_outputs(outputs: object, library_size: object) -> tuple[str, ...]:
    if isinstance(outputs, str) or not isinstance(outputs, Sequence):
        raise TypeError(f"outputs must be a tuple of names such as ('r',); found {outputs!r}.")
    names = tuple(outputs)
    unknown = [n for n in names if n not in DECODER_OUTPUTS]
    if not names or unknown or len(set(names)) != len(names):
        raise ValueError(
            f"outputs must be distinct names from {tuple(DECODER_OUTPUTS)}, at least one; "
            f"found {names!r}."
        )
    if not isinstance(library_size, bool):
        raise TypeError(f"library_size must be a bool; found {library_size!r}.")
    if library_size and "mu" not in names:
        raise ValueError(
            "library_size=True makes the decoder output the mean 'mu' (composition × total "
            f"UMI), so outputs must include 'mu'; found {names!r}."
        )
    return names


class MLPDecoder(AbstractDecoder):
    """``z -> `` per-cell, per-gene ``r``, ``mu`` and/or ``gate``, by one MLP.

    ``"r"`` and ``"mu"`` go through softplus (positive), ``"gate"`` through a sigmoid.
    With ``library_size=True``, ``"mu"`` is instead ``softmax_genes(h) × total UMI``: the
    network outputs the cell's composition and the cell's observed library size scales
    it (scVI's decoder), so each cell's means sum to its total over the decoded genes.

    Parameters
    ----------
    n_latent
        Dimension of ``z``.
    n_genes
        Number of genes decoded.
    key
        Initialisation key.
    hidden
        Widths of the hidden layers.
    outputs
        The parameters to output, from ``DECODER_OUTPUTS``: e.g. ``("r",)`` (per-cell NB
        size with a global ``p``), ``("mu",)``, ``("mu", "gate")``.
    activation
        Name of the activation between layers (``scribe.encoders.ACTIVATIONS``).
    library_size
        Output ``"mu"`` as composition × the cell's total UMI (``outputs`` must hold it).

    Examples
    --------
    >>> import jax, numpy as np
    >>> from scribe.data import load_counts
    >>> from scribe.decoders import MLPDecoder
    >>> batch = load_counts(np.array([[0, 2, 1], [1, 0, 4]])).to_device().full_batch()
    >>> decoder = MLPDecoder(2, 3, key=jax.random.key(0), outputs=("mu",), library_size=True)
    >>> mean = decoder(np.zeros((2, 2)), batch)["mu"]
    >>> mean.shape, mean.sum(axis=1).round(4).tolist()
    ((2, 3), [3.0, 5.0])
    """

    n_latent: int = eqx.field(static=True)
    n_genes: int = eqx.field(static=True)
    outputs: tuple[str, ...] = eqx.field(static=True)
    library_size: bool = eqx.field(static=True)
    net: MLP

    def __init__(
        self,
        n_latent: int,
        n_genes: int,
        *,
        key: PRNGKeyArray,
        hidden: Sequence[int] = (128,),
        outputs: Sequence[str] = ("r",),
        activation: str = "relu",
        library_size: bool = False,
    ):
        self.n_latent = check_size("n_latent", n_latent)
        self.n_genes = check_size("n_genes", n_genes)
        self.outputs = _check_outputs(outputs, library_size)
        self.library_size = library_size
        self.net = MLP(n_latent, len(self.outputs) * n_genes, hidden, activation, key=key)

    def __call__(
        self, z: Float[Array, "cells latent"], batch: Batch
    ) -> dict[str, Float[Array, "cells genes"]]:
        self._check_inputs(z, batch)
        raw = self.net(z).reshape(batch.batch_size, len(self.outputs), self.n_genes)
        return {name: self._link(name, raw[:, i], batch) for i, name in enumerate(self.outputs)}

    def _link(
        self, name: str, raw: Float[Array, "cells genes"], batch: Batch
    ) -> Float[Array, "cells genes"]:
        if self.library_size and name == "mu":
            composition = jax.nn.softmax(raw, axis=1)
            return composition * batch.total_counts[:, None].astype(composition.dtype)
        return DECODER_OUTPUTS[name](raw)
