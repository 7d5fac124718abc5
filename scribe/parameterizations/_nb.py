"""Negative Binomial parameterizations (MATH.md, "Parameterizations (NB family)").

Natural parameters ``r`` and ``p`` with ``p`` numpyro's ``probs``: mean ``r p / (1 - p)``.
Every map below is a product or quotient of its inputs with no subtraction of nearly
equal numbers (``1 - p`` is exact for ``p >= 1/2``), so the direct forms are as accurate
as the inputs allow; the only limits are over- or underflow that the values themselves
imply (``r = mu * phi`` for ``phi`` beyond the float range). The inverses
(``from_natural``) are of the same kind: ``mu = r p / (1 - p)``, ``phi = (1 - p) / p``.
One limit is representational, not a matter of the formulas: a ``p`` near 1 holds
``1 - p`` only to absolute precision ``~eps``, so for ``phi < 1`` a ``phi -> p -> phi``
round trip is accurate to relative error ``~eps / phi`` (``~1e-8`` at ``phi = 1e-8`` in
float64; below ``eps / 2``, ``p`` rounds to 1 and ``phi`` to 0). The other direction,
``p -> phi -> p``, is accurate throughout.
"""

from typing import ClassVar

import equinox as eqx
from jaxtyping import Array

from ._abstract import AbstractParameterization, TransformChoice, freeze_transforms


class AbstractNBParameterization(AbstractParameterization):
    """Coordinates mapped to a Negative Binomial's ``r`` and ``p`` (plus the mean ``mu``)."""

    natural: ClassVar[tuple[str, ...]] = ("r", "p")
    derived: ClassVar[tuple[str, ...]] = ("mu",)


class Canonical(AbstractNBParameterization):
    """Sample ``p`` and ``r`` directly; ``mu = r p / (1 - p)`` is derived.

    Parameters
    ----------
    positive_transform
        ``{"r": "softplus" | "exp"}`` for the unconstrained prior (default softplus).

    Examples
    --------
    >>> float(Canonical().to_natural({"p": 0.5, "r": 2.0})["mu"])
    2.0
    """

    positive_transform: TransformChoice = eqx.field(
        default=(), converter=freeze_transforms, static=True
    )

    name: ClassVar[str] = "canonical"
    aliases: ClassVar[tuple[str, ...]] = ("standard",)
    sampled: ClassVar[tuple[str, ...]] = ("p", "r")

    def _to_natural(self, p: Array, r: Array) -> dict[str, Array]:
        return {"r": r, "p": p, "mu": r * p / (1.0 - p)}

    def _from_natural(self, r: Array, p: Array) -> dict[str, Array]:
        return {"p": p, "r": r}


class MeanProb(AbstractNBParameterization):
    """Sample ``p`` and the mean ``mu``; ``r = mu (1 - p) / p``.

    Parameters
    ----------
    positive_transform
        ``{"mu": "softplus" | "exp"}`` for the unconstrained prior (default softplus).
    """

    positive_transform: TransformChoice = eqx.field(
        default=(), converter=freeze_transforms, static=True
    )

    name: ClassVar[str] = "mean_prob"
    aliases: ClassVar[tuple[str, ...]] = ("linked",)
    sampled: ClassVar[tuple[str, ...]] = ("p", "mu")

    def _to_natural(self, p: Array, mu: Array) -> dict[str, Array]:
        return {"r": mu * (1.0 - p) / p, "p": p, "mu": mu}

    def _from_natural(self, r: Array, p: Array) -> dict[str, Array]:
        return {"p": p, "mu": r * p / (1.0 - p)}


class MeanOdds(AbstractNBParameterization):
    """Sample ``phi = (1 - p) / p`` and ``mu``; ``p = 1 / (1 + phi)``, ``r = mu phi``.

    Pairs with the odds-form capture coordinate ``phi_capture`` (``get_capture``).

    Parameters
    ----------
    positive_transform
        ``{"phi" | "mu": "softplus" | "exp"}`` for the unconstrained prior.
    """

    positive_transform: TransformChoice = eqx.field(
        default=(), converter=freeze_transforms, static=True
    )

    name: ClassVar[str] = "mean_odds"
    aliases: ClassVar[tuple[str, ...]] = ("odds_ratio",)
    sampled: ClassVar[tuple[str, ...]] = ("phi", "mu")
    capture_coordinate: ClassVar[str] = "phi_capture"

    def _to_natural(self, phi: Array, mu: Array) -> dict[str, Array]:
        # 1 / (1 + phi) has no cancellation: tiny phi gives p -> 1, huge phi gives
        # p ~ 1/phi, both to full relative precision.
        return {"r": mu * phi, "p": 1.0 / (1.0 + phi), "mu": mu}

    def _from_natural(self, r: Array, p: Array) -> dict[str, Array]:
        # (1 - p) / p, not 1 / p - 1 (which cancels as p -> 1): exact numerator for
        # p >= 1/2. Tiny phi is limited by p itself (module docstring), not by this form.
        return {"phi": (1.0 - p) / p, "mu": r * p / (1.0 - p)}
