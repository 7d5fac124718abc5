"""The guide of a model's globals and the encoder of its per-cell latents."""

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ..config import FitConfig
from ..data import CountData
from ..encoders import AbstractEncoder, CaptureEncoder, FreeEncoder
from ..guides import AbstractGuide, ParamSpec, make_guide
from ..model import ScribeModel
from ..parameterizations import unconstrained_transform
from ._initial import capture_start, starting_values


def make_guide_and_encoder(
    model: ScribeModel, config: FitConfig, counts: CountData
) -> tuple[AbstractGuide, AbstractEncoder | None]:
    """The guide of ``model``'s globals and, without a decoder, the encoder of its
    per-cell latents, both starting at the data's moment estimates.

    The guide is mean-field, or low-rank of rank ``config.guide_rank`` (jointly over
    ``config.svi.joint_params``); the LNM's NB total (r, p) always has a joint rank-1
    guide. The non-amortized guide of the capture is a
    ``FreeEncoder`` (one location and scale per cell); with ``svi.amortize_capture`` a
    ``CaptureEncoder`` maps each cell's total to its capture posterior. A VAE's encoder
    comes from ``make_vae_networks``: this returns None for it.

    Raises
    ------
    ValueError
        ``joint_params`` names a parameter the model does not sample.
    """
    start = starting_values(model, counts, seed=config.seed, capture=capture_start(model))
    shapes = model.global_shapes
    rank, joint = config.guide_rank, config.svi.joint_params
    if joint is not None:
        unknown = sorted(set(joint) - set(shapes))
        if unknown:
            raise ValueError(
                f"joint_params names {unknown}, which the model does not sample; valid "
                f"names: {sorted(shapes)}"
            )
    if model.models_totals and rank is None:
        # The NB total's r and p trade along a ridge (their product of odds is the
        # mean): a joint Gaussian guide follows it, and saved LNM fits have this guide.
        rank, joint = 1, tuple(shapes)
    guide = make_guide(
        [ParamSpec(name=n, shape=s) for n, s in shapes.items()],
        unconstrained=config.model.unconstrained,
        rank=rank,
        joint=joint,
        init={n: start[n] for n in shapes},
    )
    encoder = None
    if model.decoder is None and model.local_names:
        names = model.local_names
        if config.svi.amortize_capture:
            centre = float(np.mean(np.log1p(counts.total_counts)))
            encoder = CaptureEncoder(names, key=jax.random.key(config.seed + 1), centre=centre)
        else:
            init = {n: unconstrained_transform(n).inv(jnp.asarray(start[n])) for n in names}
            encoder = FreeEncoder(names, counts.n_cells, init=init)
    return guide, encoder


def checked_encoder(encoder: Any, model: ScribeModel) -> AbstractEncoder:
    """``encoder``, after checking it outputs exactly the model's per-cell latents."""
    if not isinstance(encoder, AbstractEncoder):
        raise TypeError(
            f"encoder must implement scribe.encoders.AbstractEncoder, found "
            f"{type(encoder).__name__}"
        )
    if tuple(sorted(encoder.names)) != tuple(sorted(model.local_names)):
        raise ValueError(
            f"encoder {type(encoder).__name__} outputs latents {encoder.names}; model "
            f"{model.model!r} needs {model.local_names}"
        )
    return encoder
