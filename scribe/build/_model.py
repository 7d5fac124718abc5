"""The model a config describes."""

from collections.abc import Mapping

import numpy as np
import numpyro.distributions as dist

from ..config import FitConfig
from ..data import CountData
from ..model import ScribeModel, VAENetworks
from ..parameterizations import get_parameterization


def make_model(
    config: FitConfig,
    counts: CountData,
    priors: Mapping[str, dist.Distribution] | None = None,
    *,
    networks: VAENetworks | None = None,
    cell_labels: np.ndarray | None = None,
    cell_datasets: np.ndarray | None = None,
) -> ScribeModel:
    """The ``ScribeModel`` of ``config`` on data shaped like ``counts``.

    Parameters
    ----------
    config
        The fit's config; its ``model`` says the likelihood, parameterization and priors.
    counts
        The data (only its numbers of cells and genes are read).
    priors
        The user's prior distributions, by coordinate name (``config.model.priors``
        holds their descriptions).
    networks
        A VAE's decoder and latent prior (``make_vae_networks``); None otherwise.
    cell_labels
        An annotation-guided mixture's component of each cell (−1: unlabelled), from
        ``scribe.data.annotation_labels``.
    cell_datasets
        A multi-dataset fit's dataset of each cell, from ``scribe.data.dataset_labels``.
    """
    decoder = latent_prior = None
    if networks is not None:
        decoder, latent_prior = networks.decoder, networks.latent_prior
    return ScribeModel(
        config.model.model,
        get_parameterization(config.model.parameterization),
        n_cells=counts.n_cells,
        n_genes=counts.n_genes,
        unconstrained=config.model.unconstrained,
        priors=priors,
        decoder=decoder,
        latent_prior=latent_prior,
        n_components=config.model.n_components,
        mixture_params=config.model.mixture_params,
        cell_labels=cell_labels,
        annotation_confidence=config.model.annotation_confidence,
        hierarchies=dict(config.model.hierarchies),
        cell_datasets=cell_datasets,
        dataset_params=config.model.dataset_params if cell_datasets is not None else None,
    )
