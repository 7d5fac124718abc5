"""Finite mixtures of any count family, with shared per-cell parameters."""

from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
from jax.scipy.special import logsumexp
from jaxtyping import Array, Float, PRNGKeyArray, PyTree

from ._abstract import AbstractLikelihood

#: A component-specific leaf carries a leading component axis on top of the two
#: ``(cells, genes)`` axes every parameter leaf has; per-cell leaves such as capture
#: (``(cells,)``) and shared 2-D leaves are used by every component as they are.
COMPONENT_LEAF_NDIM = 3


class MixtureParams(eqx.Module):
    """Parameters of ``Mixture``: the base family's parameters and the mixing weights.

    Leaves of ``components`` that differ between components are 3-D
    ``(components, ·, ·)``; any other leaf is shared by all components.
    """

    components: PyTree
    weights: Float[Array, " components"]


def component_axes(components: PyTree) -> PyTree:
    """``vmap`` axes for a component pytree: 0 for component-specific leaves, else None."""
    return jax.tree.map(lambda leaf: 0 if leaf.ndim == COMPONENT_LEAF_NDIM else None, components)


def map_components(
    fn: Callable[..., Any],
    components: PyTree,
    *args: Any,
    args_axes: tuple[int | None, ...] | None = None,
    out_axes: Any = 0,
) -> Any:
    """Apply ``fn(component_params, *args)`` to every component; stack along axis 0.

    ``args`` are shared by all components unless ``args_axes`` says otherwise.
    """
    axes = component_axes(components)
    args_axes = (None,) * len(args) if args_axes is None else args_axes
    return jax.vmap(fn, in_axes=(axes, *args_axes), out_axes=out_axes)(components, *args)


def loop_components(fn: Callable[[PyTree], Any], components: PyTree) -> Any:
    """`map_components` as a loop (`jax.lax.map`): one component per iteration.

    The outputs are then computed arrays. Under `map_components` XLA may fuse an
    output's elementwise work into each later gather of it, evaluating it once per
    gathered element (on CPU it does so for the NB normaliser table gathered at every
    nonzero); a loop boundary keeps it evaluated once.
    """
    leaves, treedef = jax.tree.flatten(components)
    mapped = [leaf.ndim == COMPONENT_LEAF_NDIM for leaf in leaves]

    def one_component(own: list[Array]) -> Any:
        own = iter(own)
        return fn(
            treedef.unflatten([next(own) if m else x for x, m in zip(leaves, mapped, strict=True)])
        )

    return jax.lax.map(one_component, [x for x, m in zip(leaves, mapped, strict=True) if m])


class Mixture(AbstractLikelihood):
    """``p(u_c) = Σ_k π_k ∏_g p_k(u_cg)``: each cell belongs to one of K components.

    ``log_prob`` reduces over genes (a cell's genes share its component) and returns the
    per-cell mixture log-likelihood; ``cell_component_log_prob`` returns
    ``log π_k + Σ_g log p_k(u_cg)`` per cell and component, and
    ``component_log_prob`` the unweighted per-entry values of each component.

    Parameters
    ----------
    base
        The family of every component (e.g. ``VariableCapture(ZeroInflated(NB))``).
    n_components
        The number of components K.
    """

    base: AbstractLikelihood
    n_components: int = eqx.field(static=True)

    def __check_init__(self):
        if self.n_components < 2:
            raise ValueError(f"n_components must be >= 2, found {self.n_components}")

    def log_weights(self, params: MixtureParams) -> Float[Array, " components"]:
        """``log π_k``."""
        return jnp.log(params.weights)

    def component_log_prob(self, counts: Float[Array, "cells genes"], params: MixtureParams):
        """Each component's log-probabilities, shape ``(components,) + base shape``."""
        return map_components(
            lambda component, u: self.base.log_prob(u, component), params.components, counts
        )

    def cell_component_log_prob(
        self, counts: Float[Array, "cells genes"], params: MixtureParams
    ) -> Float[Array, "cells components"]:
        """``log π_k + Σ_g log p_k(u_cg)`` for every cell and component."""
        per_component = self.component_log_prob(counts, params)
        if per_component.ndim == COMPONENT_LEAF_NDIM:
            per_component = per_component.sum(axis=-1)
        return per_component.T + self.log_weights(params)[None, :]

    def log_prob(
        self, counts: Float[Array, "cells genes"], params: MixtureParams
    ) -> Float[Array, " cells"]:
        return logsumexp(self.cell_component_log_prob(counts, params), axis=-1)

    def sample(self, params: MixtureParams, shape: tuple[int, ...], *, key: PRNGKeyArray):
        key_assign, key_draws = jax.random.split(key)
        keys = jax.random.split(key_draws, self.n_components)
        draws = map_components(
            lambda component, k: self.base.sample(component, shape, key=k),
            params.components,
            keys,
            args_axes=(0,),
        )
        assignment = jax.random.categorical(key_assign, self.log_weights(params), shape=shape[:-1])
        return jnp.take_along_axis(draws, assignment[None, ..., None], axis=0)[0]

    def mean(self, params: MixtureParams) -> Array:
        means = map_components(self.base.mean, params.components)
        return jnp.tensordot(params.weights, means, axes=1)

    def variance(self, params: MixtureParams) -> Array:
        means = map_components(self.base.mean, params.components)
        second = map_components(self.base.variance, params.components) + means**2
        mean = jnp.tensordot(params.weights, means, axes=1)
        return jnp.tensordot(params.weights, second, axes=1) - mean**2

    def thin(self, params: MixtureParams, capture: Float[Array, " cells"]) -> MixtureParams:
        # Thinning is leaf-wise, so shared leaves stay shared (unmapped) after it.
        axes = component_axes(params.components)
        thinned = map_components(self.base.thin, params.components, capture, out_axes=axes)
        return MixtureParams(components=thinned, weights=params.weights)
