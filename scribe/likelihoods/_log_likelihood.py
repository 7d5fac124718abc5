"""``scribe.log_likelihood``: the one public evaluation of every model's likelihood."""

from collections.abc import Mapping
from typing import Any, Literal

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import logsumexp
from jaxtyping import Array, ArrayLike, Float

from ..data import CountData, load_counts
from ._mixture import Mixture
from ._models import (
    build_params,
    check_parameter_names,
    make_likelihood,
    model_spec,
)
from ._sparse import sparse_component_log_prob_sum, sparse_log_prob_sum

_RETURN_BY = ("cell", "gene")

# The interval each natural parameter must lie in, as (low, high, brackets).
_DOMAINS: dict[str, tuple[float, float, str]] = {
    "p": (0.0, 1.0, "()"),
    "r": (0.0, np.inf, "()"),
    "gate": (0.0, 1.0, "[)"),
    "p_capture": (0.0, 1.0, "(]"),
    "rate": (0.0, np.inf, "()"),
    "alpha": (0.0, np.inf, "()"),
    "beta": (0.0, np.inf, "()"),
    "mixing_weights": (0.0, 1.0, "[]"),
}


def log_likelihood(
    counts: Any,
    model: str,
    params: Mapping[str, ArrayLike],
    *,
    return_by: Literal["cell", "gene"] = "cell",
    split_components: bool = False,
    layer: str | None = None,
) -> Array:
    """Log-likelihood of a count matrix under a model at given natural parameters.

    Parameters
    ----------
    counts
        Cells × genes raw counts: an AnnData (``X`` or ``layer``), a numpy/jax array or a
        scipy sparse matrix. Sparse input is evaluated at its nonzeros and never
        densified. A traced jax array (inside ``jit``/``grad``) takes the dense path.
    model
        nbdm, zinb, nbvcp, zinbvcp, twostate, twostatevcp, pln, nbln, lnm or lnmvcp.
    params
        Natural parameters by name: ``r``, ``p``, ``gate``, ``p_capture``,
        ``mixing_weights``; TwoState ``rate``, ``alpha``, ``beta``; PLN ``log_rate``;
        NBLN ``r``, ``log_mean``; LNM ``r``, ``p`` (of the total), ``alr`` and
        ``reference_gene``. Gene-level parameters are scalars or ``(genes,)``; in a
        mixture (``mixing_weights`` of shape ``(components,)`` present) component-specific
        ones carry a leading component axis. ``p_capture`` is ``(cells,)``.
    return_by
        ``"cell"`` sums over genes, ``"gene"`` over cells.
    split_components
        For mixtures, return ``log π_k + Σ log p_k`` per component (last axis) instead of
        their logsumexp.
    layer
        AnnData layer holding the counts (AnnData input only).

    Returns
    -------
    Array
        ``(cells,)`` or ``(genes,)``; with ``split_components``, ``(cells, components)``
        or ``(genes, components)``.

    Examples
    --------
    >>> import numpy as np, scribe
    >>> counts = np.array([[0, 3], [1, 0]])
    >>> scribe.log_likelihood(counts, "nbdm", {"r": np.array([2.0, 1.0]), "p": 0.3}).shape
    (2,)
    """
    spec = model_spec(model)
    if return_by not in _RETURN_BY:
        raise ValueError(f"return_by must be one of {_RETURN_BY}, found {return_by!r}")
    if not isinstance(params, Mapping):
        raise TypeError(f"params must be a mapping of names to arrays, found {type(params)}")
    mixture = "mixing_weights" in params
    check_parameter_names(model, params, mixture=mixture)
    if split_components and not mixture:
        raise ValueError("split_components=True needs a mixture (params['mixing_weights'])")
    if spec.family == "lnm" and return_by == "gene":
        raise ValueError(
            f"return_by='gene' is undefined for {model!r}: its multinomial couples a cell's genes"
        )
    _check_domains(params)

    traced = isinstance(counts, jax.core.Tracer)
    data = None if traced else load_counts(counts, layer=layer, argument="counts")
    n_cells, n_genes = counts.shape if traced else (data.n_cells, data.n_genes)
    n_components = int(np.shape(params["mixing_weights"])[0]) if mixture else None
    if mixture:
        _check_weights(params["mixing_weights"])
    likelihood = make_likelihood(
        model, n_components=n_components, reference_gene=params.get("reference_gene")
    )
    tree = build_params(model, params, n_cells=n_cells, n_genes=n_genes, n_components=n_components)
    if traced:
        return _dense(likelihood, tree, counts, return_by, split_components)
    return _sparse(likelihood, tree, data, return_by, split_components)


def _dense(likelihood, tree, counts, return_by, split_components) -> Array:
    axis = 1 if return_by == "cell" else 0
    if isinstance(likelihood, Mixture):
        per_component = likelihood.component_log_prob(counts, tree)
        if per_component.ndim == 3:
            per_component = per_component.sum(axis=axis + 1)
        return _mix(per_component, likelihood.log_weights(tree), split_components)
    values = likelihood.log_prob(counts, tree)
    return values if values.ndim == 1 else values.sum(axis=axis)


def _sparse(likelihood, tree, data: CountData, return_by, split) -> Array:
    dtype = jnp.result_type(*jax.tree.leaves(tree))
    nonzeros = data.to_device(dtype=dtype).full_batch().nonzeros
    kwargs = dict(n_cells=data.n_cells, n_genes=data.n_genes, by=return_by)
    if isinstance(likelihood, Mixture):
        per_component = sparse_component_log_prob_sum(likelihood, tree, nonzeros, **kwargs)
        return _mix(per_component, likelihood.log_weights(tree), split)
    return sparse_log_prob_sum(likelihood, tree, nonzeros, **kwargs)


def _mix(
    per_component: Float[Array, "components n"], log_weights: Float[Array, " components"], split
) -> Array:
    # The reference convention: log π_k + the component's sum, whether the sum runs over
    # a cell's genes or over a gene's cells.
    weighted = per_component.T + log_weights[None, :]
    return weighted if split else logsumexp(weighted, axis=1)


def _check_domains(params: Mapping[str, ArrayLike]) -> None:
    for name, (low, high, brackets) in _DOMAINS.items():
        if name not in params or isinstance(params[name], jax.core.Tracer):
            continue
        value = np.asarray(params[name], dtype=float)
        above = value >= low if brackets[0] == "[" else value > low
        below = value <= high if brackets[1] == "]" else value < high
        finite = np.isfinite(value)
        if not np.all(above & below & finite):
            span = (
                f"values in [{value[finite].min()}, {value[finite].max()}]"
                if finite.any()
                else "no finite values"
            )
            raise ValueError(
                f"params[{name!r}] must lie in {brackets[0]}{low}, {high}{brackets[1]}; found "
                f"{span} ({int(np.sum(~finite))} non-finite)"
            )


def _check_weights(weights: ArrayLike) -> None:
    if isinstance(weights, jax.core.Tracer):
        return
    weights = np.asarray(weights, dtype=float)
    if weights.ndim != 1 or not np.isclose(weights.sum(), 1.0, atol=1e-4):
        raise ValueError(
            "params['mixing_weights'] must be a (components,) vector summing to 1, found "
            f"shape {weights.shape} summing to {weights.sum():.6g}"
        )
