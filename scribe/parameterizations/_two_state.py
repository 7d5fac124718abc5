"""TwoState (Poisson-Beta) parameterizations (MATH.md, "TwoState (Poisson-Beta)").

Natural parameters ``rate``, ``alpha``, ``beta``: ``x ~ Beta(alpha, beta)``,
``u | x ~ Poisson(rate x)``, so mean ``rate alpha / (alpha + beta)`` and variance
``mean + rate^2 alpha beta / ((alpha + beta)^2 (alpha + beta + 1))``. Every
parameterization here gives mean exactly ``mu``. In kinetic terms (rates in units of
the degradation rate) ``alpha = k_on``, ``beta = k_off``, and ``b = rate / (k_on + k_off)``
in both ``TwoStateNatural`` and ``TwoStateRatio``.

The inverses (``from_natural``) use ``kappa = alpha + beta`` and ``mu = rate alpha / kappa``,
computed as ``rate (alpha / kappa)`` (and ``F`` as ``rate (beta / kappa) / (kappa + 1)``):
fractions in (0, 1] first, not products such as ``rate beta`` that overflow before the
result does. Maps both ways are products, quotients and sums of positive numbers,
accurate to a few ulps, except for ``1 - delta`` in ``TwoStateMomentDelta``:
``delta = 1 / (kappa + 1)`` holds a ``kappa`` far below 1 only to relative error
``~eps / kappa``, so ``natural -> (mu, F, delta) -> natural`` loses relative precision in
``alpha`` and ``beta`` as ``kappa -> 0`` (the other direction does not).
"""

from typing import ClassVar

import equinox as eqx
from jaxtyping import Array

from ._abstract import AbstractParameterization, TransformChoice, freeze_transforms


class AbstractTwoStateParameterization(AbstractParameterization):
    """Coordinates mapped to a Poisson-Beta's ``rate``, ``alpha``, ``beta`` (plus ``mu``)."""

    natural: ClassVar[tuple[str, ...]] = ("rate", "alpha", "beta")
    derived: ClassVar[tuple[str, ...]] = ("mu",)


class TwoStateNatural(AbstractTwoStateParameterization):
    """Sample mean ``mu``, ``b`` and ``k_off``; the kinetic parameterization.

    ``alpha = mu / b``, ``beta = k_off``, ``rate = mu + b k_off``; inversely
    ``mu = rate alpha / (alpha + beta)``, ``b = mu / alpha = rate / (alpha + beta)``,
    ``k_off = beta``.

    Fano factor ``1 + b k_off / (k_off + 1 + mu / b)``, which tends to the Negative
    Binomial's ``1 + b`` as ``k_off -> inf`` at fixed ``b``.

    Parameters
    ----------
    positive_transform
        ``{name: "softplus" | "exp"}`` for the unconstrained prior.
    """

    positive_transform: TransformChoice = eqx.field(
        default=(), converter=freeze_transforms, static=True
    )

    name: ClassVar[str] = "two_state_natural"
    sampled: ClassVar[tuple[str, ...]] = ("mu", "b", "k_off")

    def _to_natural(self, mu: Array, b: Array, k_off: Array) -> dict[str, Array]:
        return {"rate": mu + b * k_off, "alpha": mu / b, "beta": k_off, "mu": mu}

    def _from_natural(self, rate: Array, alpha: Array, beta: Array) -> dict[str, Array]:
        kappa = alpha + beta
        # b = mu / alpha = rate / kappa, without the rounding of mu.
        return {"mu": rate * (alpha / kappa), "b": rate / kappa, "k_off": beta}


class TwoStateRatio(AbstractTwoStateParameterization):
    """Sample mean ``mu``, ``b`` and the off/on ratio ``s = k_off / k_on``.

    ``alpha = k_on = mu / b``, ``beta = s k_on``, ``rate = mu (1 + s)``; inversely
    ``b = rate / (alpha + beta)``, ``s = beta / alpha``.

    Parameters
    ----------
    positive_transform
        ``{name: "softplus" | "exp"}`` for the unconstrained prior.
    """

    positive_transform: TransformChoice = eqx.field(
        default=(), converter=freeze_transforms, static=True
    )

    name: ClassVar[str] = "two_state_ratio"
    sampled: ClassVar[tuple[str, ...]] = ("mu", "b", "s")

    def _to_natural(self, mu: Array, b: Array, s: Array) -> dict[str, Array]:
        k_on = mu / b
        return {"rate": mu * (1.0 + s), "alpha": k_on, "beta": s * k_on, "mu": mu}

    def _from_natural(self, rate: Array, alpha: Array, beta: Array) -> dict[str, Array]:
        kappa = alpha + beta
        return {"mu": rate * (alpha / kappa), "b": rate / kappa, "s": beta / alpha}


class TwoStateMeanFano(AbstractTwoStateParameterization):
    """Sample mean ``mu``, excess Fano ``F`` and ``kappa = alpha + beta``.

    With ``D = mu + F (kappa + 1)``: ``alpha = kappa mu / D``,
    ``beta = kappa F (kappa + 1) / D``, ``rate = D``. ``F`` is the *excess* Fano factor
    ``variance / mean - 1`` (the part above Poisson), not the Fano factor itself.
    Inversely ``kappa = alpha + beta``, ``F = rate beta / (kappa (kappa + 1))``.

    Parameters
    ----------
    positive_transform
        ``{name: "softplus" | "exp"}`` for the unconstrained prior.
    """

    positive_transform: TransformChoice = eqx.field(
        default=(), converter=freeze_transforms, static=True
    )

    name: ClassVar[str] = "two_state_mean_fano"
    sampled: ClassVar[tuple[str, ...]] = ("mu", "F", "kappa")

    def _to_natural(self, mu: Array, F: Array, kappa: Array) -> dict[str, Array]:
        rate = mu + F * (kappa + 1.0)
        alpha = kappa * mu / rate
        beta = kappa * F * (kappa + 1.0) / rate
        return {"rate": rate, "alpha": alpha, "beta": beta, "mu": mu}

    def _from_natural(self, rate: Array, alpha: Array, beta: Array) -> dict[str, Array]:
        kappa = alpha + beta
        F = rate * (beta / kappa) / (kappa + 1.0)
        return {"mu": rate * (alpha / kappa), "F": F, "kappa": kappa}


class TwoStateMomentDelta(AbstractTwoStateParameterization):
    """Sample mean ``mu``, excess Fano ``F`` and ``delta = 1 / (alpha + beta + 1)``.

    With ``D = mu delta + F``: ``alpha = mu (1 - delta) / D``,
    ``beta = F (1 - delta) / (delta D)``, ``rate = D / delta``. As in
    ``TwoStateMeanFano``, ``F`` is the excess Fano factor ``variance / mean - 1``.
    Inversely ``delta = 1 / (alpha + beta + 1)`` and ``F`` as in ``TwoStateMeanFano``.

    Parameters
    ----------
    positive_transform
        ``{name: "softplus" | "exp"}`` for the unconstrained prior.
    """

    positive_transform: TransformChoice = eqx.field(
        default=(), converter=freeze_transforms, static=True
    )

    name: ClassVar[str] = "two_state_moment_delta"
    sampled: ClassVar[tuple[str, ...]] = ("mu", "F", "delta")

    def _to_natural(self, mu: Array, F: Array, delta: Array) -> dict[str, Array]:
        d = mu * delta + F
        alpha = mu * (1.0 - delta) / d
        beta = F * (1.0 - delta) / (delta * d)
        return {"rate": d / delta, "alpha": alpha, "beta": beta, "mu": mu}

    def _from_natural(self, rate: Array, alpha: Array, beta: Array) -> dict[str, Array]:
        kappa = alpha + beta
        F = rate * (beta / kappa) / (kappa + 1.0)
        return {"mu": rate * (alpha / kappa), "F": F, "delta": 1.0 / (kappa + 1.0)}
