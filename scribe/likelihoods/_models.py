"""Model names → likelihood compositions and parameter pytrees, defined exactly once."""

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

import jax.numpy as jnp
from jaxtyping import Array, ArrayLike

from ._abstract import AbstractLikelihood
from ._logistic_normal_multinomial import LNMParams, LogisticNormalMultinomial
from ._mixture import Mixture, MixtureParams
from ._negative_binomial import (
    NBLogMeanParams,
    NBParams,
    NegativeBinomial,
    NegativeBinomialLogMean,
)
from ._poisson import PoissonLogRate, PoissonParams
from ._poisson_beta import PoissonBeta, PoissonBetaParams
from ._variable_capture import CaptureParams, VariableCapture
from ._zero_inflated import ZeroInflated, ZIParams


@dataclasses.dataclass(frozen=True, kw_only=True)
class Family:
    """A base count family: its module, natural parameter names and pytree builder."""

    make: Callable[[], AbstractLikelihood]
    natural: tuple[str, ...]
    build: Callable[..., Any]


@dataclasses.dataclass(frozen=True, kw_only=True)
class ModelSpec:
    """What a model name spells: a base family plus zero inflation and/or capture."""

    family: str
    zero_inflated: bool = False
    variable_capture: bool = False


FAMILIES: dict[str, Family] = {
    "nb": Family(make=NegativeBinomial, natural=("r", "p"), build=NBParams),
    "two_state": Family(
        make=PoissonBeta, natural=("rate", "alpha", "beta"), build=PoissonBetaParams
    ),
    "poisson_log_rate": Family(make=PoissonLogRate, natural=("log_rate",), build=PoissonParams),
    "nb_log_mean": Family(
        make=NegativeBinomialLogMean, natural=("r", "log_mean"), build=NBLogMeanParams
    ),
    "lnm": Family(
        make=LogisticNormalMultinomial,
        natural=("r", "p", "alr", "reference_gene"),
        build=lambda r, p, alr: LNMParams(total=NBParams(r=r, p=p), alr=alr),
    ),
}

MODELS: dict[str, ModelSpec] = {
    "nbdm": ModelSpec(family="nb"),
    "zinb": ModelSpec(family="nb", zero_inflated=True),
    "nbvcp": ModelSpec(family="nb", variable_capture=True),
    "zinbvcp": ModelSpec(family="nb", zero_inflated=True, variable_capture=True),
    "twostate": ModelSpec(family="two_state"),
    "twostatevcp": ModelSpec(family="two_state", variable_capture=True),
    # MATH.md: PLN/NBLN rates include each cell's capture, x_cg + log ν_c.
    "pln": ModelSpec(family="poisson_log_rate", variable_capture=True),
    "nbln": ModelSpec(family="nb_log_mean", variable_capture=True),
    "lnm": ModelSpec(family="lnm"),
    "lnmvcp": ModelSpec(family="lnm", variable_capture=True),
}


def model_spec(model: str) -> ModelSpec:
    """The ``ModelSpec`` of a model name; a clear ValueError for unknown names."""
    if not isinstance(model, str):
        raise TypeError(f"model must be a str, found {type(model).__name__}")
    if model not in MODELS:
        raise ValueError(f"model must be one of {sorted(MODELS)}, found {model!r}")
    return MODELS[model]


def make_likelihood(
    model: str,
    *,
    n_components: int | None = None,
    reference_gene: int | None = None,
    family: str | None = None,
) -> AbstractLikelihood:
    """Compose the likelihood a model name spells.

    Parameters
    ----------
    model
        One of ``MODELS`` (nbdm, zinb, nbvcp, zinbvcp, twostate, twostatevcp, pln, nbln,
        lnm, lnmvcp).
    n_components
        K ≥ 2 for a mixture, None for a single component.
    reference_gene
        The LNM reference gene (lnm and lnmvcp only).
    family
        A base family of ``FAMILIES`` in place of the model's own, under the same zero
        inflation and capture: a VAE decodes its NB models' means, so their base is
        ``"nb_log_mean"``.

    Examples
    --------
    >>> from scribe.likelihoods import make_likelihood
    >>> make_likelihood("zinbvcp")
    VariableCapture(base=ZeroInflated(base=NegativeBinomial()))
    >>> make_likelihood("nbvcp", family="nb_log_mean")
    VariableCapture(base=NegativeBinomialLogMean())
    """
    spec = model_spec(model)
    family = spec.family if family is None else family
    if family not in FAMILIES:
        raise ValueError(f"family must be one of {sorted(FAMILIES)}, found {family!r}")
    if family == "lnm":
        if reference_gene is None:
            raise ValueError(f"model {model!r} needs reference_gene, found None")
        likelihood: AbstractLikelihood = LogisticNormalMultinomial(reference_gene=reference_gene)
    else:
        likelihood = FAMILIES[family].make()
    if spec.zero_inflated:
        likelihood = ZeroInflated(likelihood)
    if spec.variable_capture:
        likelihood = VariableCapture(likelihood)
    if n_components is not None:
        likelihood = Mixture(likelihood, n_components)
    return likelihood


def expected_parameter_names(model: str, *, mixture: bool) -> tuple[str, ...]:
    """The natural parameter names a model's parameter dictionary holds."""
    spec = model_spec(model)
    names = [n for n in FAMILIES[spec.family].natural]
    if spec.zero_inflated:
        names.append("gate")
    if spec.variable_capture:
        names.append("p_capture")
    if mixture:
        names.append("mixing_weights")
    return tuple(names)


def build_params(
    model: str,
    params: Mapping[str, ArrayLike],
    *,
    n_cells: int,
    n_genes: int,
    n_components: int | None,
) -> Any:
    """Turn a dictionary of natural parameters into the composition's parameter pytree.

    Gene-level parameters may be scalars (shared), ``(genes,)``, or, in a mixture,
    carry a leading component axis: ``(components,)`` or ``(components, genes)``.
    ``p_capture`` is ``(cells,)``; per-cell, per-gene parameters are ``(cells, genes)``.
    """
    spec = model_spec(model)
    family = FAMILIES[spec.family]
    shape = _ShapeRules(n_cells=n_cells, n_genes=n_genes, n_components=n_components)
    if spec.family == "lnm":
        alr = jnp.asarray(params["alr"])
        if alr.shape != (n_cells, n_genes - 1):
            raise ValueError(
                f"params['alr'] must have shape (cells, genes - 1) = {(n_cells, n_genes - 1)}, "
                f"found {alr.shape}"
            )
        r, p = shape.gene_level("r", params["r"]), shape.gene_level("p", params["p"])
        base = family.build(r=r, p=p, alr=alr)
    else:
        base = family.build(**{n: shape.gene_level(n, params[n]) for n in family.natural})
    if spec.zero_inflated:
        base = ZIParams(base=base, gate=shape.gene_level("gate", params["gate"]))
    if spec.variable_capture:
        base = CaptureParams(base=base, capture=shape.per_cell("p_capture", params["p_capture"]))
    if n_components is not None:
        weights = jnp.asarray(params["mixing_weights"])
        base = MixtureParams(components=base, weights=weights)
    return base


@dataclasses.dataclass(frozen=True)
class _ShapeRules:
    n_cells: int
    n_genes: int
    n_components: int | None

    def gene_level(self, name: str, value: ArrayLike) -> Array:
        """Reshape to the 2-D (or component-stacked 3-D) leaf convention."""
        value = jnp.asarray(value)
        cells, genes, k = self.n_cells, self.n_genes, self.n_components
        if k is not None and value.ndim == 3 and value.shape[0] in (1, k):
            # Already in the leaf layout: (K or 1, 1 or cells, 1 or genes).
            return value[0] if value.shape[0] == 1 and k > 1 else value
        if value.ndim == 0:
            return value.reshape(1, 1)
        if k is not None and value.shape == (k,):
            return value.reshape(k, 1, 1)
        if value.shape == (genes,):
            return value.reshape(1, genes)
        if k is not None and value.shape == (k, genes):
            return value.reshape(k, 1, genes)
        if k is None and value.ndim == 2 and value.shape[0] in (1, cells):
            if value.shape[1] in (1, genes):  # already a leaf: (1 or cells, 1 or genes)
                return value
        if k is not None and value.shape == (k, cells, genes):
            return value
        allowed = ["()", f"(genes,)={(genes,)}", f"(cells, genes)={(cells, genes)}"]
        if k is not None:
            allowed = ["()", f"(components,)={(k,)}", f"(genes,)={(genes,)}"]
            allowed += [f"(components, genes)={(k, genes)}", f"{(k, cells, genes)}"]
        raise ValueError(
            f"params[{name!r}] must have one of the shapes {', '.join(allowed)}, "
            f"found {tuple(value.shape)}"
        )

    def per_cell(self, name: str, value: ArrayLike) -> Array:
        value = jnp.asarray(value)
        if value.shape != (self.n_cells,):
            raise ValueError(
                f"params[{name!r}] must have shape (cells,) = {(self.n_cells,)}, "
                f"found {tuple(value.shape)}"
            )
        return value


def check_parameter_names(model: str, params: Mapping[str, Any], *, mixture: bool) -> None:
    """Raise a ValueError naming missing or unknown parameter names."""
    expected = set(expected_parameter_names(model, mixture=mixture)) - {"reference_gene"}
    found = set(params) - {"reference_gene"}
    missing, unknown = sorted(expected - found), sorted(found - expected)
    if missing or unknown:
        raise ValueError(
            f"params for model {model!r}{' (mixture)' if mixture else ''} must hold "
            f"{sorted(expected)}; missing {missing}, unknown {unknown}"
        )
