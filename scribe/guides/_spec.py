"""What a guide is built from: one ``ParamSpec`` per global parameter, and its checks."""

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from numbers import Integral

import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike
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


def inverse_softplus(x: ArrayLike) -> Array:
    """``log(exp(x) - 1)``, written to stay finite for large and small ``x``."""
    x = jnp.asarray(x, dtype=float)
    return x + jnp.log(-jnp.expm1(-x))
