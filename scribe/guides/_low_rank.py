"""Low-rank Gaussian guides on the unconstrained coordinates."""

from collections.abc import Iterable, Mapping
from numbers import Integral

import equinox as eqx
from jaxtyping import ArrayLike

from ._abstract import AbstractProductGuide, restrict_factors
from ._factors import LowRankNormalFactor
from ._spec import ParamSpec, Restriction, check_specs, initial_values, replace_fields


def check_rank(rank: int, dim: int, applies_to: str) -> int:
    """``rank`` if it is a positive int no larger than ``dim``, else ``ValueError``."""
    if isinstance(rank, bool) or not isinstance(rank, Integral) or rank < 1:
        raise ValueError(f"guide_rank (rank) must be a positive integer, got {rank!r}.")
    if rank > dim:
        raise ValueError(
            f"guide_rank (rank) = {rank} exceeds the dimension {dim} of {applies_to}; "
            f"use a rank between 1 and {dim}."
        )
    return int(rank)


def check_joint(joint: Iterable[str], specs: tuple[ParamSpec, ...]) -> tuple[str, ...]:
    """The names in ``joint`` as a tuple: at least two, all in ``specs``, none twice."""
    names = tuple(s.name for s in specs)
    if isinstance(joint, str):
        raise ValueError(f"joint_params must be a sequence of names, got the string {joint!r}.")
    joint = tuple(joint)
    if len(joint) < 2:
        raise ValueError(
            f"joint_params must name at least 2 parameters to correlate, got {joint}."
        )
    unknown = [n for n in joint if n not in names]
    if unknown:
        raise ValueError(f"joint_params names {unknown}, not in the guide; valid names: {names}.")
    if len(set(joint)) < len(joint):
        raise ValueError(f"joint_params names a parameter more than once: {joint}.")
    return joint


def _factors(
    blocks: list[tuple[ParamSpec, ...]], rank: int, values: Mapping
) -> tuple[LowRankNormalFactor, ...]:
    # A block of dimension d <= rank already has a full covariance at rank d.
    return tuple(
        LowRankNormalFactor(block, min(rank, sum(s.size for s in block)), values)
        for block in blocks
    )


class LowRank(AbstractProductGuide):
    """A low-rank Gaussian per parameter, on its unconstrained coordinates.

    Each parameter's flattened unconstrained values ``z`` (length ``d = spec.size``)
    follow ``LowRankMultivariateNormal(loc, W, diag(scale²))`` with ``W`` of shape
    ``(d, min(rank, d))``, mapped onto the domain by the spec's bijection; parameters
    are independent of each other. ``log_prob`` costs ``O(d · rank²)``.

    Parameters
    ----------
    specs
        One ``ParamSpec`` per global parameter.
    rank
        Number of columns of each ``W``: a positive int no larger than the largest
        parameter's size (smaller parameters use their own size, which already gives
        them a full covariance).
    init
        Constrained starting values by name: ``loc`` starts at the inverse bijection of
        the value, each coordinate's scale at about 0.1 (``W`` starts small and
        non-zero, a fixed pattern: ``W = 0`` is a stationary point of the ELBO).
        Missing names start at 0.5 (unit), 1.0 (positive) or 0.0 (real).

    Examples
    --------
    >>> guide = LowRank([ParamSpec(name="p", shape=()), ParamSpec(name="r", shape=(4,))], 2)
    >>> [f.cov_factor.shape for f in guide.factors]
    [(1, 1), (4, 2)]
    >>> {name: q.batch_shape for name, q in guide.marginals().items()}
    {'p': (), 'r': (4,)}
    """

    specs: tuple[ParamSpec, ...] = eqx.field(static=True)
    rank: int = eqx.field(static=True)
    factors: tuple[LowRankNormalFactor, ...]

    def __init__(
        self,
        specs: Iterable[ParamSpec],
        rank: int,
        init: Mapping[str, ArrayLike] | None = None,
    ):
        self.specs = check_specs(specs)
        largest = max(self.specs, key=lambda s: s.size)
        self.rank = check_rank(rank, largest.size, f"the largest parameter, {largest.name!r}")
        values = initial_values(self.specs, init)
        self.factors = _factors([(s,) for s in self.specs], self.rank, values)

    def restrict(self, keep: Restriction) -> "LowRank":
        restricted = restrict_factors(self, keep)
        # The rank check of __init__, for the restriction's largest parameter.
        largest = max(s.size for s in restricted.specs)
        return replace_fields(restricted, rank=min(self.rank, largest))


class JointLowRank(AbstractProductGuide):
    """One low-rank Gaussian over several parameters' unconstrained coordinates.

    The flattened unconstrained values of the ``joint`` parameters are concatenated
    into one vector with covariance ``W Wᵀ + diag(scale²)``, so the guide captures
    correlations between them (say the ``mu`` and ``phi`` of the same gene). Every
    other parameter gets its own low-rank Gaussian of the same rank, as in ``LowRank``.

    Parameters
    ----------
    specs
        One ``ParamSpec`` per global parameter.
    joint
        Names of at least two parameters in ``specs`` to model jointly.
    rank
        Columns of the joint ``W``: a positive int no larger than the joint dimension
        (the sum of the joint parameters' sizes); other parameters use
        ``min(rank, size)``.
    init
        Constrained starting values by name, as in ``LowRank``.

    Notes
    -----
    ``select_component`` (and ``restrict``) may drop joint parameters: ``joint`` then
    names the kept ones only, possibly fewer than two (or none, when the joint factor
    is gone), which ``__init__`` would refuse; the guide is still the exact marginal.

    Examples
    --------
    >>> specs = [ParamSpec(name=n, shape=(3,)) for n in ("mu", "phi", "gate")]
    >>> guide = JointLowRank(specs, ("mu", "phi"), 2)
    >>> [f.cov_factor.shape for f in guide.factors]
    [(6, 2), (3, 2)]
    >>> JointLowRank(specs, ("mu", "r"), 2)
    Traceback (most recent call last):
    ...
    ValueError: joint_params names ['r'], not in the guide; valid names: ('mu', 'phi', 'gate').
    """

    specs: tuple[ParamSpec, ...] = eqx.field(static=True)
    joint: tuple[str, ...] = eqx.field(static=True)
    rank: int = eqx.field(static=True)
    factors: tuple[LowRankNormalFactor, ...]

    def __init__(
        self,
        specs: Iterable[ParamSpec],
        joint: Iterable[str],
        rank: int,
        init: Mapping[str, ArrayLike] | None = None,
    ):
        self.specs = check_specs(specs)
        self.joint = check_joint(joint, self.specs)
        by_name = {s.name: s for s in self.specs}
        joint_specs = tuple(by_name[n] for n in self.joint)
        dim = sum(s.size for s in joint_specs)
        self.rank = check_rank(rank, dim, f"the joint parameters {self.joint}")
        values = initial_values(self.specs, init)
        rest = [(s,) for s in self.specs if s.name not in self.joint]
        self.factors = _factors([joint_specs, *rest], self.rank, values)

    def restrict(self, keep: Restriction) -> "JointLowRank":
        restricted = restrict_factors(self, keep)
        # Dropped parameters leave ``joint``; the rank check of __init__ then applies to
        # the kept joint dimension, or, with no joint parameter left, to the largest
        # parameter (whose factor has min(rank, size) columns, as in LowRank).
        joint = tuple(n for n in self.joint if n in keep)
        if joint:
            dim = sum(s.size for s in restricted.specs if s.name in joint)
        else:
            dim = max(s.size for s in restricted.specs)
        return replace_fields(restricted, joint=joint, rank=min(self.rank, dim))
