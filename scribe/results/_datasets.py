"""One dataset of a multi-dataset fit, as a results object of its own cells."""

import dataclasses
from typing import Any

import equinox as eqx
import numpy as np
from jaxtyping import Int

from ..config import FitConfig
from ..encoders import FreeEncoder
from ..inference import McmcDraws
from ..model import ScribeModel
from ..model._priors import subset_prior
from ._components import component_index


def dataset_model(model: ScribeModel, cells: Int[np.ndarray, " kept"]) -> ScribeModel:
    """The single-dataset model of one dataset's ``cells``: the copies' priors are the
    globals' own (as if fitted alone), per-cell priors taken at ``cells``."""
    hyper = set(model.datasets.hyper_names)
    priors = {n: p for n, p in model.global_priors.items() if n not in hyper}
    local = {n: subset_prior(n, p, cells, model.n_cells) for n, p in model.local_priors.items()}
    return ScribeModel(
        model.model,
        model.parameterization,
        n_cells=len(cells),
        n_genes=model.n_genes,
        priors={**priors, **local},
        hierarchies=model.hierarchy_kinds,
    )


def dataset_config(config: FitConfig) -> FitConfig:
    """The config of one dataset's results: the model without the datasets."""
    model = dataclasses.replace(
        config.model, dataset_key=None, dataset_params=None, dataset_names=None
    )
    return dataclasses.replace(config, model=model)


def dataset_encoder(encoder, cells: Int[np.ndarray, " kept"]):
    """The per-cell encoder at ``cells``: a ``FreeEncoder``'s table rows; an amortized
    encoder (no per-cell state) as it is."""
    if not isinstance(encoder, FreeEncoder):
        return encoder
    return eqx.tree_at(
        lambda e: (e.loc, e.raw_scale),
        encoder,
        (
            {n: v[cells] for n, v in encoder.loc.items()},
            {n: v[cells] for n, v in encoder.raw_scale.items()},
        ),
    )


def dataset_draws(
    draws: McmcDraws, d: int, model: ScribeModel, cells: Int[np.ndarray, " kept"]
) -> McmcDraws:
    """MCMC draws of dataset ``d``: its copies (the dataset axis follows the chain and
    draw axes), without the population's globals, and the per-cell latents of ``cells``."""
    copies, hyper = set(model.dataset_params), set(model.datasets.hyper_names)
    globals_ = {
        n: (v[:, :, d] if n in copies else v) for n, v in draws.globals_.items() if n not in hyper
    }
    locals_ = {n: v[:, :, cells] for n, v in draws.locals_.items()}
    summary = draws.cells
    if summary is not None:
        summary = {
            n: (v[:, cells] if np.ndim(v) >= 2 and np.shape(v)[1] == model.n_cells else v)
            for n, v in summary.items()
        }
    return dataclasses.replace(draws, globals_=globals_, locals_=locals_, cells=summary)


def dataset_results(results: Any, d: int | str) -> Any:
    """``results.get_dataset(d)`` (see there)."""
    model = results.model
    d = component_index(d, results.dataset_names, what="dataset")
    cells = np.flatnonzero(np.asarray(model.cell_datasets) == d)
    guide, draws, encoder = results.guide, results.draws, results.encoder
    if results.is_mcmc:
        draws = dataset_draws(draws, d, model, cells)
    else:
        guide = guide.select_component(d, model.dataset_params, drop=model.datasets.hyper_names)
        encoder = dataset_encoder(encoder, cells)
    return dataclasses.replace(
        results,
        model=dataset_model(model, cells),
        guide=guide,
        encoder=encoder,
        draws=draws,
        counts=results.counts.take_cells(cells),
        config=dataset_config(results.config),
    )
