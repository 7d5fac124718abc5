"""The VAE encoder: a cell's counts -> a Gaussian over its embedding ``z`` (and capture)."""

from collections.abc import Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float, PRNGKeyArray

from ..data import Batch, CountData
from ._abstract import AbstractEncoder, latent_transform, scale_from_raw
from ._inputs import INPUT_TRANSFORMS, batch_inputs, input_moments
from ._mlp import MLP, check_choice, check_size

POSITIVE_TRANSFORMS = ("softplus", "exp")


def _check_capture_names(capture_names: object, positive_transform: str) -> tuple[str, ...]:
    if isinstance(capture_names, str) or not isinstance(capture_names, Sequence):
        raise TypeError(
            f"capture_names must be a tuple of latent names such as ('p_capture',); "
            f"found {capture_names!r}."
        )
    names = tuple(capture_names)
    if "z" in names or len(set(names)) != len(names):
        raise ValueError(
            f"capture_names must be distinct and must not include 'z' (always encoded); "
            f"found {names!r}."
        )
    for name in names:
        latent_transform(name, positive_transform=positive_transform)  # unknown name raises
    return names


def _check_stats(
    input_mean: ArrayLike | None, input_std: ArrayLike | None, n_inputs: int
) -> tuple[Array | None, Array | None]:
    if (input_mean is None) != (input_std is None):
        raise ValueError(
            "input_mean and input_std must be given together (or use MLPEncoder.from_data); "
            f"found input_mean={'set' if input_mean is not None else None}, "
            f"input_std={'set' if input_std is not None else None}."
        )
    if input_mean is None:
        return None, None
    mean, std = np.asarray(input_mean, np.float64), np.asarray(input_std, np.float64)
    for argument, value in (("input_mean", mean), ("input_std", std)):
        if value.shape != (n_inputs,):
            raise ValueError(
                f"{argument} must have shape ({n_inputs},): one value per gene, plus one "
                f"for the library size if include_library; found {value.shape}."
            )
    if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(std)) and np.all(std > 0)):
        raise ValueError("input_mean must be finite and input_std finite and positive.")
    return jnp.asarray(mean, float), jnp.asarray(std, float)


class MLPEncoder(AbstractEncoder):
    """A cell's counts -> a Normal over its embedding ``z`` and over its capture latents.

    The network reads every gene of the cell (dense, scattered from the batch's nonzeros
    when the batch is sparse), transformed by ``input_transform``, optionally followed
    by the library size ``log1p(total UMI)`` (as scVI does) and standardized by fixed
    per-input statistics. One MLP outputs ``(loc, raw scale)`` of ``z``
    (``(cells, n_latent)``, unconstrained) and of each capture latent (``(cells,)``,
    mapped onto its domain as in ``CaptureEncoder``).

    Parameters
    ----------
    n_genes
        Number of genes the encoder reads.
    n_latent
        Dimension of ``z``.
    key
        Initialisation key.
    hidden
        Widths of the hidden layers.
    activation
        Name of the activation between layers (``scribe.encoders.ACTIVATIONS``).
    input_transform
        ``"log1p"``: ``log(1 + u)``; ``"log1p_proportions"``: ``log(1 + 10⁴ u / total)``
        (scanpy's ``normalize_total`` + ``log1p``); ``"none"``: the raw counts.
    include_library
        Append ``log1p(total UMI)`` of the cell to the inputs.
    capture_names
        Capture latents to encode as well, e.g. ``("p_capture",)`` for a VCP model.
    positive_transform
        ``"softplus"`` or ``"exp"``: the transform of positive capture latents.
    input_mean, input_std
        Fixed mean and standard deviation of each input (genes, then the library size
        if included) to standardize with; None for no standardization. They are never
        trained: the network reads them through ``stop_gradient``, so their gradient is
        zero. ``MLPEncoder.from_data`` computes them from the data.

    Examples
    --------
    >>> import jax, numpy as np
    >>> from scribe.data import load_counts
    >>> from scribe.encoders import MLPEncoder
    >>> data = load_counts(np.array([[0, 2, 1], [1, 0, 4], [3, 3, 0]]))
    >>> encoder = MLPEncoder.from_data(
    ...     data, 2, key=jax.random.key(0), capture_names=("p_capture",), hidden=(8,)
    ... )
    >>> draw, log_q = encoder.sample_and_log_prob(
    ...     data.to_device().full_batch(), key=jax.random.key(1)
    ... )
    >>> draw["z"].shape, draw["p_capture"].shape, log_q.shape
    ((3, 2), (3,), (3,))
    """

    n_genes: int = eqx.field(static=True)
    n_latent: int = eqx.field(static=True)
    names: tuple[str, ...] = eqx.field(static=True)
    positive_transform: str = eqx.field(static=True)
    input_transform: str = eqx.field(static=True)
    include_library: bool = eqx.field(static=True)
    net: MLP
    input_mean: Float[Array, " inputs"] | None
    input_std: Float[Array, " inputs"] | None

    def __init__(
        self,
        n_genes: int,
        n_latent: int,
        *,
        key: PRNGKeyArray,
        hidden: Sequence[int] = (128,),
        activation: str = "relu",
        input_transform: str = "log1p",
        include_library: bool = False,
        capture_names: Sequence[str] = (),
        positive_transform: str = "softplus",
        input_mean: Float[ArrayLike, " inputs"] | None = None,
        input_std: Float[ArrayLike, " inputs"] | None = None,
    ):
        self.n_genes = check_size("n_genes", n_genes)
        self.n_latent = check_size("n_latent", n_latent)
        self.input_transform = check_choice("input_transform", input_transform, INPUT_TRANSFORMS)
        if not isinstance(include_library, bool):
            raise TypeError(f"include_library must be a bool; found {include_library!r}.")
        self.include_library = include_library
        self.positive_transform = check_choice(
            "positive_transform", positive_transform, POSITIVE_TRANSFORMS
        )
        capture = _check_capture_names(capture_names, positive_transform)
        self.names = ("z", *capture)
        n_inputs = n_genes + int(include_library)
        self.input_mean, self.input_std = _check_stats(input_mean, input_std, n_inputs)
        n_outputs = 2 * (n_latent + len(capture))
        self.net = MLP(n_inputs, n_outputs, hidden, activation, key=key)

    @classmethod
    def from_data(
        cls,
        data: CountData,
        n_latent: int,
        *,
        key: PRNGKeyArray,
        standardize: bool = True,
        input_transform: str = "log1p",
        include_library: bool = False,
        **kwargs,
    ) -> "MLPEncoder":
        """An encoder for ``data``'s genes, standardizing by the data's input moments.

        Parameters
        ----------
        data
            The counts (``scribe.data.load_counts``) the encoder will read.
        n_latent, key, input_transform, include_library, **kwargs
            As in ``MLPEncoder``.
        standardize
            Standardize each input by its mean and standard deviation over ``data``'s
            cells (computed once, in float64, and fixed).
        """
        if not isinstance(data, CountData):
            raise TypeError(
                f"data must be a CountData (scribe.data.load_counts); found {type(data).__name__}."
            )
        if standardize:
            check_choice("input_transform", input_transform, INPUT_TRANSFORMS)
            mean, std = input_moments(data, input_transform, include_library)
            kwargs = {**kwargs, "input_mean": mean, "input_std": std}
        return cls(
            data.n_genes,
            n_latent,
            key=key,
            input_transform=input_transform,
            include_library=include_library,
            **kwargs,
        )

    @property
    def capture_names(self) -> tuple[str, ...]:
        """The capture latents encoded besides ``z``."""
        return self.names[1:]

    def inputs(self, batch: Batch) -> Float[Array, "cells inputs"]:
        """What the network reads of each cell of ``batch`` (transformed, standardized)."""
        if batch.n_genes != self.n_genes:
            raise ValueError(
                f"The encoder reads {self.n_genes} genes; the batch has {batch.n_genes}."
            )
        x = batch_inputs(batch, self.input_transform, self.include_library, self.net.dtype)
        if self.input_mean is None:
            return x
        mean, std = jax.lax.stop_gradient((self.input_mean, self.input_std))
        return (x - mean[None, :]) / std[None, :]

    def unconstrained_params(self, batch: Batch):
        out = self.net(self.inputs(batch))
        n = self.n_latent
        params = {"z": (out[:, :n], scale_from_raw(out[:, n : 2 * n]))}
        for i, name in enumerate(self.capture_names):
            params[name] = (out[:, 2 * n + 2 * i], scale_from_raw(out[:, 2 * n + 2 * i + 1]))
        return params
