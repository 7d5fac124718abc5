"""Priors of a model's parameters: per-gene ones over a gene subset, per-cell ones over
the cells of a minibatch."""

import jax.numpy as jnp
import numpy as np
import numpyro.distributions as dist
from jaxtyping import Array, Float, Int


def check_local_prior(name: str, prior: dist.Distribution, n_cells: int) -> None:
    """A per-cell latent's prior is one for every cell (batch shape ``()``) or one per
    cell of the data (``(n_cells,)``)."""
    if tuple(prior.batch_shape) not in ((), (n_cells,)) or prior.event_shape:
        raise ValueError(
            f"priors[{name!r}] is the prior of each cell's {name}: it must have batch shape "
            f"() (the same for every cell) or (n_cells,) = ({n_cells},) (one per cell) and "
            f"no event shape, found batch shape {tuple(prior.batch_shape)} and event shape "
            f"{tuple(prior.event_shape)}"
        )


def local_log_prob(
    prior: dist.Distribution,
    values: Float[Array, " batch"],
    cell_index: Int[Array, " batch"],
    n_cells: int,
) -> Float[Array, " batch"]:
    """``log p(values)`` of the cells ``cell_index`` of the data.

    A prior with one set of parameters per cell (batch shape ``(n_cells,)``) is
    evaluated at every cell, the batch's values in their rows and the first value in the
    others (any value in the support), and read at the batch's rows: any numpyro
    distribution works, whatever its parameters. The cost is ``n_cells`` evaluations.
    """
    if tuple(prior.batch_shape) != (n_cells,):
        return prior.log_prob(values)
    every = jnp.broadcast_to(values[:1], (n_cells,)).at[cell_index].set(values)
    return prior.log_prob(every)[cell_index]


def subset_prior(
    name: str, prior: dist.Distribution, genes: Int[np.ndarray, " kept"], n_genes: int
) -> dist.Distribution:
    """``prior`` at the kept genes when its batch shape is ``(n_genes,)``, else as is.

    The prior is rebuilt from its ``arg_constraints`` parameters (as checkpoints store
    it), each with a last axis of length ``n_genes`` taken at ``genes``.
    """
    if tuple(prior.batch_shape) != (n_genes,):
        return prior
    if prior.event_shape:
        raise TypeError(
            f"priors[{name!r}]: cannot subset a per-gene {type(prior).__name__} with event "
            f"shape {prior.event_shape}; use a prior with scalar events."
        )
    params = {}
    for key in prior.arg_constraints:
        value = getattr(prior, key)
        per_gene = np.ndim(value) >= 1 and np.shape(value)[-1] == n_genes
        params[key] = value[..., genes] if per_gene else value
    try:
        return type(prior)(**params)
    except (TypeError, ValueError) as error:
        raise TypeError(
            f"priors[{name!r}]: cannot rebuild the per-gene {type(prior).__name__} from its "
            f"parameters {sorted(params)} to subset its genes ({error})."
        ) from None
