"""What results say of a mixture's components: responsibilities, names, one component."""

import dataclasses
from typing import Any

import jax
import numpy as np
from jaxtyping import Array, Float

from ..config import FitConfig
from ..model import ScribeModel
from ..model._mixture import MIXING


def component_names(config: FitConfig) -> tuple[str, ...]:
    """Each component's name: its annotation label, else ``component_<k>``."""
    model = config.model
    labels = model.annotation_component_order or ()
    return tuple(
        labels[k] if k < len(labels) else f"component_{k}" for k in range(model.n_components)
    )


def responsibilities(
    model: ScribeModel, globals_, locals_, batch
) -> Float[Array, "draws cells k"]:
    """Each draw's posterior probability of every cell's component,
    ``softmax_k(log w_ck + Σ_g log p_k(u_cg))``."""

    def one(draw):
        return jax.nn.softmax(model.cell_component_log_prob(*draw, batch), axis=-1)

    return jax.lax.map(one, (globals_, locals_))


def component_index(k: Any, names: tuple[str, ...], what: str = "component") -> int:
    """The position of component (or dataset, ``what``) ``k``: an int, negative from the
    end, or a name."""
    if isinstance(k, str):
        if k not in names:
            raise ValueError(f"{what} {k!r} is not one of {list(names)}")
        return names.index(k)
    if isinstance(k, bool) or not isinstance(k, int | np.integer):
        raise TypeError(f"{what} must be an int or a {what} name, found {k!r}")
    if not -len(names) <= k < len(names):
        raise IndexError(f"{what} {k} is out of range for {len(names)} {what}s")
    return int(k) % len(names)


def component_model(model: ScribeModel) -> ScribeModel:
    """The one-component model of a mixture's component: the same likelihood family,
    parameterization and per-component priors, without the weights."""
    priors = {n: p for n, p in model.global_priors.items() if n != MIXING}
    return ScribeModel(
        model.model,
        model.parameterization,
        n_cells=model.n_cells,
        n_genes=model.n_genes,
        priors={**priors, **model.local_priors},
        hierarchies=model.hierarchy_kinds,
    )


def component_config(config: FitConfig) -> FitConfig:
    """The config of one component's results: the model without the mixture."""
    model = dataclasses.replace(
        config.model,
        n_components=None,
        mixture_params=None,
        annotation_key=None,
        annotation_component_order=None,
    )
    return dataclasses.replace(config, model=model)


def component_draws(draws, k: int, components: tuple[str, ...]):
    """MCMC draws of component ``k``: its values of the component-specific globals (the
    component axis follows the chain and draw axes), without the weights."""
    globals_ = {
        n: (v[:, :, k] if n in components else v) for n, v in draws.globals_.items() if n != MIXING
    }
    return dataclasses.replace(draws, globals_=globals_)


def component_results(results: Any, k: int | str) -> Any:
    """``results.get_component(k)`` (see there)."""
    k = component_index(k, results.component_names)
    components = results.model.mixture_params
    guide, draws = results.guide, results.draws
    if results.is_mcmc:
        draws = component_draws(draws, k, components)
    else:
        guide = guide.select_component(k, components, drop=(MIXING,))
    return dataclasses.replace(
        results,
        model=component_model(results.model),
        guide=guide,
        draws=draws,
        config=component_config(results.config),
    )
