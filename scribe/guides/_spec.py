"""What a guide is built from: one ``ParamSpec`` per global parameter, and its checks."""

import dataclasses
import math
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from numbers import Integral
from typing import TypeAlias, TypeVar

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

    def select_component(self) -> "ParamSpec":
        """This spec for one mixture component: the leading (component) axis removed.

        ``(n_components, n_genes)`` becomes ``(n_genes,)``, ``(n_components,)`` becomes
        ``()``.

        Raises
        ------
        ValueError
            For a shared spec (shape ``()``), which has no component axis.
        """
        if not self.shape:
            raise ValueError(
                f"ParamSpec {self.name!r} has shape (), with no leading component axis."
            )
        return dataclasses.replace(self, shape=self.shape[1:])

    def component_positions(self, k: int) -> Int[np.ndarray, " values"]:
        """Positions, in the flattened values, of the entries of component ``k``.

        The component axis is the first one, so these are ``size // shape[0]``
        consecutive positions, in the order of ``select_component``'s flattened shape.
        """
        if not self.shape:
            raise ValueError(
                f"ParamSpec {self.name!r} has shape (), with no leading component axis."
            )
        return np.arange(self.size).reshape(self.shape)[k].reshape(-1)


# What a guide is restricted to (``AbstractGuide.restrict``): for each kept parameter,
# its new spec and the positions, in the old spec's flattened values, of its new
# flattened values. A parameter absent from the mapping is dropped.
Restriction: TypeAlias = Mapping[str, tuple[ParamSpec, Int[np.ndarray, " values"]]]


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


def gene_restriction(
    specs: tuple[ParamSpec, ...],
    genes: Int[ArrayLike, " kept"],
    per_gene: Collection[str] | None = None,
) -> dict[str, tuple[ParamSpec, Int[np.ndarray, " values"]]]:
    """The restriction of ``specs`` to some genes (see ``AbstractGuide.subset_genes``).

    Every parameter is kept: per-gene ones at ``genes`` (checked by ``check_genes``),
    shared ones whole. ``per_gene`` names the specs with a gene axis (their last); None:
    every spec with a shape (wrong for a mixture's ``(K,)`` parameters).
    """
    if per_gene is None:
        per_gene = [s.name for s in specs if s.shape]
    genes = check_genes(tuple(s for s in specs if s.name in per_gene), genes)
    whole = {s.name: (s, np.arange(s.size)) for s in specs if s.name not in per_gene}
    return {
        s.name: whole.get(s.name) or (s.subset_genes(len(genes)), s.gene_positions(genes))
        for s in specs
    }


def _check_names(kind: str, names: Collection[str], valid: tuple[str, ...]) -> tuple[str, ...]:
    """``names`` as a tuple without repeats, each in ``valid``."""
    if isinstance(names, str):
        raise ValueError(f"{kind} must be a collection of names, got the string {names!r}.")
    names = tuple(dict.fromkeys(names))
    unknown = [n for n in names if n not in valid]
    if unknown:
        raise ValueError(f"{kind} names {unknown}, not in the guide; valid names: {valid}.")
    return names


def component_restriction(
    specs: tuple[ParamSpec, ...],
    k: int,
    components: Collection[str],
    drop: Collection[str] = (),
) -> dict[str, tuple[ParamSpec, Int[np.ndarray, " values"]]]:
    """The restriction of ``specs`` to mixture component ``k``.

    See ``AbstractGuide.select_component``: parameters in ``components`` are taken at
    index ``k`` of their leading axis, those in ``drop`` are left out, and the others
    kept whole.

    Parameters
    ----------
    specs
        The guide's specs.
    k
        An int in ``[0, n_components)``.
    components
        Names of the per-component parameters; every one must have a leading axis, of
        the same size ``n_components`` for all.
    drop
        Names of parameters to leave out (the mixing weights, say).

    Returns
    -------
    dict[str, tuple[ParamSpec, np.ndarray]]
        New spec and flattened positions of each kept parameter, in the order of
        ``specs``.

    Raises
    ------
    ValueError
        For names not in ``specs``, a name in both ``components`` and ``drop``, no
        ``components``, one without a leading axis or leading axes of different sizes,
        and a ``k`` that is not an int.
    IndexError
        For ``k`` outside ``[0, n_components)``.
    """
    names = tuple(s.name for s in specs)
    components = _check_names("components", components, names)
    drop = _check_names("drop", drop, names)
    if not components:
        raise ValueError("components must name at least one per-component parameter.")
    both = [n for n in components if n in drop]
    if both:
        raise ValueError(f"{both} are named in both components and drop.")
    by_name = {s.name: s for s in specs}
    shared = [n for n in components if not by_name[n].shape]
    if shared:
        raise ValueError(
            f"components names {shared}, of shape (): they have no leading component axis."
        )
    sizes = {n: by_name[n].shape[0] for n in components}
    if len(set(sizes.values())) > 1:
        raise ValueError(
            f"components disagree on the number of components (leading axis): {sizes}."
        )
    n = sizes[components[0]]
    if isinstance(k, bool) or not isinstance(k, Integral):
        raise ValueError(f"k must be an int in [0, K) = [0, {n}), got {k!r} (K = {n}).")
    if not 0 <= k < n:
        raise IndexError(f"k = {k} is outside [0, K) = [0, {n}) (K = {n}).")
    # Components are never dropped, so at least one parameter is kept.
    return {
        s.name: (s.select_component(), s.component_positions(int(k)))
        if s.name in components
        else (s, np.arange(s.size))
        for s in specs
        if s.name not in drop
    }


def check_restriction(
    specs: tuple[ParamSpec, ...], keep: Restriction
) -> dict[str, tuple[ParamSpec, Int[np.ndarray, " values"]]]:
    """``keep`` checked against ``specs``, in their order, positions as numpy arrays.

    Each kept name must be in ``specs``; its new spec must share the name and
    transform of the old one, and its positions must be distinct integers in
    ``[0, old.size)``, one per new value. At least one parameter must be kept.
    """
    names = tuple(s.name for s in specs)
    unknown = [n for n in keep if n not in names]
    if unknown:
        raise ValueError(f"keep names {unknown}, not in the guide; valid names: {names}.")
    if not keep:
        raise ValueError("keep must name at least one parameter; a guide needs one.")
    checked = {}
    for old in specs:
        if old.name not in keep:
            continue
        new, positions = keep[old.name]
        if not isinstance(new, ParamSpec) or (new.name, new.transform) != (
            old.name,
            old.transform,
        ):
            raise ValueError(
                f"keep[{old.name!r}] must hold a ParamSpec of the same name and transform "
                f"as {old}, got {new!r}."
            )
        positions = np.asarray(positions)
        valid = (
            positions.shape == (new.size,)
            and np.issubdtype(positions.dtype, np.integer)
            and np.all((positions >= 0) & (positions < old.size))
            and np.unique(positions).size == positions.size
        )
        if not valid:
            raise ValueError(
                f"keep[{old.name!r}] positions must be {new.size} distinct integers in "
                f"[0, {old.size}), got shape {positions.shape} and dtype {positions.dtype}."
            )
        checked[old.name] = (new, positions)
    return checked


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
