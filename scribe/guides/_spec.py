"""What a guide is built from: one ``ParamSpec`` per global parameter, and its checks."""

import dataclasses
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from numbers import Integral
from typing import TypeVar

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Int
from numpyro.distributions.transforms import (
    ExpTransform,
    IdentityTransform,
    SigmoidTransform,
    SoftplusTransform,
    Transform,
)

from ..parameterizations import COORDINATES
from ..parameterizations._priors import POSITIVE_TRANSFORMS, domain

# Where a guide starts when ``init`` does not name a parameter: the centre of each
# domain on the unconstrained scale (logit 0, log 1, 0).
DEFAULT_INIT = {"unit": 0.5, "positive": 1.0, "real": 0.0}


@dataclass(frozen=True, kw_only=True)
class ParamSpec:
    """One global parameter a guide approximates.

    Parameters
    ----------
    name
        A coordinate name from ``scribe.parameterizations.COORDINATES`` (``"p"``,
        ``"mu"``, ``"phi"``, ``"gate"``, ...); it fixes the parameter's domain.
    shape
        The parameter's shape: ``()`` for a shared value, ``(n_genes,)`` per gene,
        ``(n_components, n_genes)`` per component and gene.
    transform
        ``"softplus"`` or ``"exp"``: the bijection from the real line onto a positive
        coordinate, used by the families defined on unconstrained coordinates.
        Ignored for unit-interval coordinates (always the sigmoid).

    Examples
    --------
    >>> spec = ParamSpec(name="mu", shape=(3,))
    >>> spec.domain, spec.size, spec.bijection
    ('positive', 3, 'softplus')
    """

    name: str
    shape: tuple[int, ...]
    transform: str = "softplus"

    def __post_init__(self):
        if self.name not in COORDINATES:
            raise ValueError(
                f"ParamSpec name {self.name!r} is not a coordinate; valid names: {COORDINATES}."
            )
        shape = self.shape
        valid = isinstance(shape, tuple) and all(
            isinstance(n, Integral) and not isinstance(n, bool) and n >= 1 for n in shape
        )
        if not valid:
            raise ValueError(
                f"ParamSpec {self.name!r}: shape must be a tuple of positive ints, got {shape!r}."
            )
        # numpy integers are accepted but stored as int so the spec hashes and
        # serializes like one written by hand.
        object.__setattr__(self, "shape", tuple(int(n) for n in shape))
        if self.transform not in POSITIVE_TRANSFORMS:
            raise ValueError(
                f"ParamSpec {self.name!r}: transform must be one of {POSITIVE_TRANSFORMS}, "
                f"got {self.transform!r}."
            )

    @property
    def domain(self) -> str:
        """``"unit"``, ``"positive"`` or ``"real"``: where the parameter lives."""
        return domain(self.name)

    @property
    def size(self) -> int:
        """Number of scalar values in the parameter (1 for shape ``()``)."""
        return math.prod(self.shape)

    @property
    def bijection(self) -> str:
        """Name of the map from the real line onto the domain (see ``get_bijection``).

        The same map as ``scribe.parameterizations.unconstrained_transform``, so that
        a guide and the unconstrained prior share each coordinate's real-line scale.
        """
        if self.domain == "unit":
            return "sigmoid"
        return self.transform if self.domain == "positive" else "identity"

    def subset_genes(self, n_kept: int) -> "ParamSpec":
        """This spec over ``n_kept`` genes: the last axis of a per-gene shape resized.

        A shared parameter (shape ``()``) is returned as it is.
        """
        if not self.shape:
            return self
        return dataclasses.replace(self, shape=(*self.shape[:-1], n_kept))

    def gene_positions(self, genes: Int[np.ndarray, " kept"]) -> Int[np.ndarray, " values"]:
        """Positions, in the flattened values, of the entries of the kept ``genes``.

        The gene axis is the last one; a shared parameter keeps its single value.
        """
        if not self.shape:
            return np.arange(1)
        return np.arange(self.size).reshape(self.shape)[..., genes].reshape(-1)


_BIJECTIONS: dict[str, type[Transform]] = {
    "sigmoid": SigmoidTransform,
    "softplus": SoftplusTransform,
    "exp": ExpTransform,
    "identity": IdentityTransform,
}
BIJECTIONS = tuple(_BIJECTIONS)


def get_bijection(name: str) -> Transform:
    """The numpyro transform called ``name`` (one of ``BIJECTIONS``).

    Guides store the name, a static string, rather than the transform object, which is
    not hashable and so cannot be a static field.
    """
    return _BIJECTIONS[name]()


def check_specs(specs: Iterable[ParamSpec]) -> tuple[ParamSpec, ...]:
    """Specs as a tuple, each a ``ParamSpec`` and no name twice."""
    specs = tuple(specs)
    if not specs:
        raise ValueError("specs must name at least one parameter, got none.")
    for spec in specs:
        if not isinstance(spec, ParamSpec):
            raise TypeError(f"specs must hold ParamSpec instances, got {type(spec).__name__}.")
    names = [spec.name for spec in specs]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ValueError(f"specs name {repeated} more than once; each parameter needs one spec.")
    return specs


def initial_values(
    specs: tuple[ParamSpec, ...], init: Mapping[str, ArrayLike] | None
) -> dict[str, np.ndarray]:
    """Constrained starting value of every parameter, checked against its spec.

    Parameters missing from ``init`` start at ``DEFAULT_INIT`` of their domain.
    """
    init = dict(init or {})
    names = tuple(spec.name for spec in specs)
    unknown = sorted(set(init) - set(names))
    if unknown:
        raise ValueError(f"init names {unknown}, which are not in specs; valid names: {names}.")
    values = {}
    for spec in specs:
        value = np.asarray(init.get(spec.name, DEFAULT_INIT[spec.domain]), dtype=np.float64)
        try:
            value = np.broadcast_to(value, spec.shape)
        except ValueError:
            raise ValueError(
                f"init[{spec.name!r}] has shape {value.shape}, which does not broadcast to "
                f"the spec's shape {spec.shape}."
            ) from None
        inside = np.isfinite(value)
        if spec.domain == "unit":
            inside &= (value > 0.0) & (value < 1.0)
        elif spec.domain == "positive":
            inside &= value > 0.0
        if not inside.all():
            raise ValueError(
                f"init[{spec.name!r}] must lie inside the {spec.domain!r} domain; "
                f"got {value[~inside][:3].tolist()}."
            )
        values[spec.name] = value
    return values


def check_genes(
    specs: tuple[ParamSpec, ...], genes: Int[ArrayLike, " kept"]
) -> Int[np.ndarray, " kept"]:
    """``genes`` as a numpy int array, checked against the gene axis of ``specs``.

    The gene axis is the last axis of every spec with a non-empty shape; ``genes`` must
    be a non-empty one-dimensional array of distinct integers in ``[0, n_genes)``.
    Duplicates are refused: a repeated gene is not a marginal of the guide.
    """
    genes = np.asarray(genes)
    if genes.ndim != 1 or genes.size == 0 or not np.issubdtype(genes.dtype, np.integer):
        raise ValueError(
            f"genes must be a non-empty 1-D integer array, found shape {genes.shape} "
            f"and dtype {genes.dtype}."
        )
    sizes = {s.shape[-1] for s in specs if s.shape}
    if len(sizes) > 1:
        raise ValueError(f"specs disagree on the number of genes (last axis): {sorted(sizes)}.")
    if sizes:
        n_genes = sizes.pop()
        outside = genes[(genes < 0) | (genes >= n_genes)]
        if outside.size:
            raise IndexError(f"genes must lie in [0, {n_genes}), found {outside[:5].tolist()}.")
    if np.unique(genes).size < genes.size:
        raise ValueError(f"genes must be distinct, found {genes.tolist()}.")
    return genes


Module = TypeVar("Module", bound=eqx.Module)


def replace_fields(module: Module, **changes) -> Module:
    """A copy of an equinox ``module`` with ``changes`` to its fields, static ones too.

    ``eqx.tree_at`` cannot change static fields and ``dataclasses.replace`` would call
    a custom ``__init__``; this builds the copy as equinox unflattens a module, so the
    caller is responsible for the new fields being consistent.
    """
    fields = {f.name for f in dataclasses.fields(module)}
    unknown = sorted(set(changes) - fields)
    if unknown:
        raise TypeError(f"{type(module).__name__} has no fields {unknown}.")
    copy = object.__new__(type(module))
    for name in fields:
        object.__setattr__(copy, name, changes.get(name, getattr(module, name)))
    return copy


def inverse_softplus(x: ArrayLike) -> Array:
    """``log(exp(x) - 1)``, written to stay finite for large and small ``x``."""
    x = jnp.asarray(x, dtype=float)
    return x + jnp.log(-jnp.expm1(-x))
