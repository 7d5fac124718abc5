"""Everything a fit trains, built from its config: used by ``fit`` and ``load`` alike."""

from collections.abc import Mapping
from typing import NamedTuple

import numpy as np
import numpyro.distributions as dist

from ..config import FitConfig
from ..data import CountData
from ..decoders import AbstractDecoder
from ..encoders import AbstractEncoder
from ..guides import AbstractGuide
from ..model import ScribeModel
from ._guide import checked_encoder, make_guide_and_encoder
from ._model import make_model
from ._vae import make_vae_networks


class Modules(NamedTuple):
    """The modules of an SVI or VAE fit: the model (with a VAE's networks), the guide of
    its globals and the encoder of its per-cell latents (None when it has none)."""

    model: ScribeModel
    guide: AbstractGuide
    encoder: AbstractEncoder | None


def build_modules(
    config: FitConfig,
    counts: CountData,
    priors: Mapping[str, dist.Distribution] | None = None,
    *,
    encoder: AbstractEncoder | None = None,
    decoder: AbstractDecoder | None = None,
    reference_gene: int | None = None,
    cell_labels: np.ndarray | None = None,
    cell_datasets: np.ndarray | None = None,
) -> Modules:
    """The model, guide and encoder an SVI or VAE fit of ``config`` starts from.

    Parameters
    ----------
    config
        An SVI or VAE fit's config.
    counts
        The data (``load`` passes a stand-in of the saved shapes).
    priors
        The user's prior distributions, by coordinate name.
    encoder, decoder
        A VAE's user-built modules (None: scribe's defaults).
    reference_gene
        The LNM decoder's ALR reference (None: chosen from ``counts``).
    cell_labels
        An annotation-guided mixture's component of each cell (−1: unlabelled).
    cell_datasets
        A multi-dataset fit's dataset of each cell.
    """
    networks = None
    if config.inference_method == "vae":
        encoder, networks = make_vae_networks(
            config, counts, encoder=encoder, decoder=decoder, reference_gene=reference_gene
        )
    model = make_model(
        config,
        counts,
        priors,
        networks=networks,
        cell_labels=cell_labels,
        cell_datasets=cell_datasets,
    )
    guide, default_encoder = make_guide_and_encoder(model, config, counts)
    encoder = default_encoder if encoder is None else checked_encoder(encoder, model)
    return Modules(model=model, guide=guide, encoder=encoder)
