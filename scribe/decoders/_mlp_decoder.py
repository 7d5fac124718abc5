"""The VAE decoder: a cell's latent ``z`` -> per-gene NB / ZINB parameters, by an MLP."""

from collections.abc import Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray

from ..data import Batch
from ..encoders import MLP
from ..encoders._mlp import check_size
from ._abstract import AbstractDecoder

# Below this, log(softplus(x)) = x + log(1 - e^x / 2 + e^2x / 3 - ...) is x - e^x / 2 to
# within e^2x / 24 (1e-27): exact in float32 and float64 alike. Above it softplus(x) >
# 9e-14 is far from underflow and its log is accurate.
_LOG_SOFTPLUS_CUT = -30.0


def log_softplus(x: Float[Array, "..."]) -> Float[Array, "..."]:
    """``log(softplus(x))``, finite with a finite gradient for every finite ``x``.

    ``softplus(x)`` underflows to 0 below about -104 in float32 (-745 in float64), where
    ``log`` of it is ``-inf``; its log is ``≈ x`` there, which this returns instead.

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> from scribe.decoders._mlp_decoder import log_softplus
    >>> [round(float(v), 4) for v in log_softplus(jnp.array([-1000.0, 0.0, 1000.0]))]
    [-1000.0, -0.3665, 6.9078]
    """
    low = x < _LOG_SOFTPLUS_CUT
    # Each branch sees only its own inputs (the other's stand in as a safe constant), so
    # neither an underflowed log nor an overflowed exp reaches the gradient.
    x_low = jnp.where(low, x, _LOG_SOFTPLUS_CUT)
    x_high = jnp.where(low, 0.0, x)
    return jnp.where(low, x_low - 0.5 * jnp.exp(x_low), jnp.log(jax.nn.softplus(x_high)))


# output -> its link from the network's raw output onto the parameter's domain. "log_mu"
# is the NB mean as its log (what the likelihood reads); "mu" the mean itself, whose log
# the model must take and which underflows to 0 for very negative raw outputs.
DECODER_OUTPUTS = {
    "r": jax.nn.softplus,
    "mu": jax.nn.softplus,
    "log_mu": log_softplus,
    "gate": jax.nn.sigmoid,
}
MEAN_OUTPUTS = ("log_mu", "mu")


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
    if all(n in names for n in MEAN_OUTPUTS):
        raise ValueError(
            f"outputs must hold the mean once, as 'log_mu' or as 'mu'; found {names!r}."
        )
    if library_size and not any(n in names for n in MEAN_OUTPUTS):
        raise ValueError(
            "library_size=True makes the decoder output the mean (composition × total UMI), "
            f"so outputs must include 'log_mu' (or 'mu'); found {names!r}."
        )
    return names


class MLPDecoder(AbstractDecoder):
    """``z -> `` per-cell, per-gene ``r``, ``log_mu`` (or ``mu``) and/or ``gate``, by one MLP.

    ``"r"`` and ``"mu"`` go through softplus (positive), ``"log_mu"`` through
    ``log(softplus)`` computed stably (``≈ h`` for very negative ``h``: finite where the
    mean itself would underflow to 0), ``"gate"`` through a sigmoid. With
    ``library_size=True`` the mean is instead ``softmax_genes(h) × total UMI``, and
    ``"log_mu"`` is ``log_softmax_genes(h) + log(total UMI)``: the network outputs the
    cell's composition and the cell's observed library size scales it (scVI's decoder),
    so each cell's means sum to its total over the decoded genes. A cell with no counts
    has mean 0, ``log_mu = -inf``: the NB likelihood reads that as a point mass at 0
    (log-likelihood 0, gradient 0).

    The VAE's likelihood reads the log-mean, so ``"log_mu"`` is the output to use
    (``scribe.fit``'s default decoder does); ``"mu"`` is kept for decoders built before
    it, and the model takes its log, ``-inf`` wherever the mean underflowed.

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
        size with a global ``p``), ``("log_mu",)``, ``("log_mu", "gate")``; the mean as
        ``"log_mu"`` or ``"mu"``, not both.
    activation
        Name of the activation between layers (``scribe.encoders.ACTIVATIONS``).
    library_size
        Output the mean as composition × the cell's total UMI (``outputs`` must hold
        ``"log_mu"`` or ``"mu"``).

    Examples
    --------
    >>> import jax, numpy as np
    >>> from scribe.data import load_counts
    >>> from scribe.decoders import MLPDecoder
    >>> batch = load_counts(np.array([[0, 2, 1], [1, 0, 4]])).to_device().full_batch()
    >>> decoder = MLPDecoder(
    ...     2, 3, key=jax.random.key(0), outputs=("log_mu",), library_size=True
    ... )
    >>> mean = np.exp(decoder(np.zeros((2, 2)), batch)["log_mu"])
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
        if self.library_size and name == "log_mu":
            log_total = jnp.log(batch.total_counts[:, None].astype(raw.dtype))
            return jax.nn.log_softmax(raw, axis=1) + log_total
        if self.library_size and name == "mu":
            composition = jax.nn.softmax(raw, axis=1)
            return composition * batch.total_counts[:, None].astype(composition.dtype)
        return DECODER_OUTPUTS[name](raw)
