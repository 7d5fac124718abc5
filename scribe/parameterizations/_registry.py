"""Names and aliases -> parameterization classes, mapped exactly once."""

from ._abstract import AbstractParameterization
from ._nb import Canonical, MeanOdds, MeanProb
from ._two_state import (
    TwoStateMeanFano,
    TwoStateMomentDelta,
    TwoStateNatural,
    TwoStateRatio,
)

_CLASSES: tuple[type[AbstractParameterization], ...] = (
    Canonical,
    MeanProb,
    MeanOdds,
    TwoStateNatural,
    TwoStateRatio,
    TwoStateMeanFano,
    TwoStateMomentDelta,
)

PARAMETERIZATIONS: tuple[str, ...] = tuple(cls.name for cls in _CLASSES)

_BY_NAME: dict[str, type[AbstractParameterization]] = {
    alias: cls for cls in _CLASSES for alias in (cls.name, *cls.aliases)
}


def get_parameterization(name: str, **kwargs) -> AbstractParameterization:
    """Build the parameterization called ``name`` (a canonical name or an alias).

    Parameters
    ----------
    name
        One of ``PARAMETERIZATIONS`` or an alias (``"standard"``, ``"linked"``,
        ``"odds_ratio"``).
    **kwargs
        Passed to the class (``positive_transform={"mu": "exp"}``).

    Returns
    -------
    AbstractParameterization

    Raises
    ------
    TypeError
        If ``name`` is not a string.
    ValueError
        If ``name`` is unknown; the message lists the valid names and aliases.

    Examples
    --------
    >>> get_parameterization("linked").name
    'mean_prob'
    """
    if not isinstance(name, str):
        raise TypeError(f"parameterization must be a string, got {type(name).__name__}.")
    if name not in _BY_NAME:
        aliases = {a: c.name for a, c in _BY_NAME.items() if a != c.name}
        raise ValueError(
            f"Unknown parameterization {name!r}; valid names: {PARAMETERIZATIONS}, "
            f"aliases: {aliases}."
        )
    return _BY_NAME[name](**kwargs)
