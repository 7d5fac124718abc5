"""``make_guide``: the one place a guide configuration becomes a guide."""

from collections.abc import Iterable, Mapping

from jaxtyping import ArrayLike

from ._abstract import AbstractGuide
from ._low_rank import JointLowRank, LowRank
from ._mean_field import MeanFieldConstrained, MeanFieldUnconstrained
from ._spec import ParamSpec


def make_guide(
    specs: Iterable[ParamSpec],
    *,
    unconstrained: bool,
    rank: int | None,
    joint: Iterable[str] | None,
    init: Mapping[str, ArrayLike] | None = None,
) -> AbstractGuide:
    """Build the guide a configuration describes.

    Parameters
    ----------
    specs
        One ``ParamSpec`` per global parameter.
    unconstrained
        For mean-field guides (``rank=None``): ``True`` gives ``MeanFieldUnconstrained``,
        ``False`` ``MeanFieldConstrained``. Low-rank guides always live on the
        unconstrained coordinates, whatever this flag says.
    rank
        ``None`` for a mean-field guide; a positive int for ``LowRank`` (or, with
        ``joint``, ``JointLowRank``).
    joint
        ``None``, or the names of at least two parameters to correlate in
        ``JointLowRank`` (needs ``rank``).
    init
        Constrained starting values by name.

    Returns
    -------
    AbstractGuide
        ``MeanFieldConstrained``, ``MeanFieldUnconstrained``, ``LowRank`` or
        ``JointLowRank``.

    Raises
    ------
    ValueError
        For a ``rank`` (``guide_rank``) that is not a positive int or exceeds the
        dimension it applies to, and for ``joint`` (``joint_params``) without a rank,
        with fewer than two names, or naming a parameter not in ``specs``.

    Examples
    --------
    >>> specs = [ParamSpec(name="mu", shape=(10,)), ParamSpec(name="phi", shape=(10,))]
    >>> type(make_guide(specs, unconstrained=False, rank=None, joint=None)).__name__
    'MeanFieldConstrained'
    >>> type(make_guide(specs, unconstrained=True, rank=4, joint=("mu", "phi"))).__name__
    'JointLowRank'
    """
    if joint is not None:
        if rank is None:
            raise ValueError(
                f"joint_params={tuple(joint)!r} needs guide_rank: a joint guide is low-rank."
            )
        return JointLowRank(specs, joint, rank, init)
    if rank is not None:
        return LowRank(specs, rank, init)
    if unconstrained:
        return MeanFieldUnconstrained(specs, init)
    return MeanFieldConstrained(specs, init)
