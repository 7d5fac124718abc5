"""Per-cell capture probability ``nu`` (``p_capture``): its coordinate, priors and map.

The capture coordinate pairs with the count parameterization: odds-form parameterizations
(``MeanOdds``) sample ``phi_capture = 1 / nu - 1`` ~ BetaPrime(1, 1), all others sample
``p_capture = nu`` ~ Beta(1, 1) (MATH.md, "Variable capture").
"""

from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import numpyro.distributions as dist
from jaxtyping import Array, ArrayLike, Float
from numpyro.distributions.transforms import AffineTransform, ExpTransform

from ._abstract import AbstractParameterization, TransformChoice, freeze_transforms

# Expected mRNA molecules per cell (MATH.md): the M0 of informed_capture_prior.
MRNA_PER_CELL = {"human": 2e5, "mouse": 2e5, "yeast": 6e4, "ecoli": 3e3}


class CaptureProb(AbstractParameterization):
    """Sample the capture probability itself: ``p_capture = nu`` ~ Beta(1, 1)."""

    positive_transform: TransformChoice = eqx.field(
        default=(), converter=freeze_transforms, static=True
    )

    name: ClassVar[str] = "capture_prob"
    sampled: ClassVar[tuple[str, ...]] = ("p_capture",)
    natural: ClassVar[tuple[str, ...]] = ("p_capture",)

    def _to_natural(self, p_capture: Array) -> dict[str, Array]:
        return {"p_capture": p_capture}

    def _from_natural(self, p_capture: Array) -> dict[str, Array]:
        return {"p_capture": p_capture}


class CaptureOdds(AbstractParameterization):
    """Sample ``phi_capture = 1 / nu - 1`` ~ BetaPrime(1, 1); ``nu = 1 / (1 + phi_capture)``.

    Parameters
    ----------
    positive_transform
        ``{"phi_capture": "softplus" | "exp"}`` for the unconstrained prior.
    """

    positive_transform: TransformChoice = eqx.field(
        default=(), converter=freeze_transforms, static=True
    )

    name: ClassVar[str] = "capture_odds"
    sampled: ClassVar[tuple[str, ...]] = ("phi_capture",)
    natural: ClassVar[tuple[str, ...]] = ("p_capture",)

    def _to_natural(self, phi_capture: Array) -> dict[str, Array]:
        return {"p_capture": 1.0 / (1.0 + phi_capture)}

    def _from_natural(self, p_capture: Array) -> dict[str, Array]:
        # (1 - nu) / nu, not 1 / nu - 1 (which cancels as nu -> 1): exact numerator for
        # nu >= 1/2. As for MeanOdds' phi, a nu near 1 holds a tiny phi_capture only to
        # relative error ~eps / phi_capture.
        return {"phi_capture": (1.0 - p_capture) / p_capture}


_CAPTURES = {"p_capture": CaptureProb, "phi_capture": CaptureOdds}


def get_capture(parameterization: AbstractParameterization, **kwargs) -> CaptureProb | CaptureOdds:
    """The capture parameterization that pairs with ``parameterization``.

    Parameters
    ----------
    parameterization
        The count parameterization; its ``capture_coordinate`` decides.
    **kwargs
        Passed to the capture class (``positive_transform``).

    Returns
    -------
    CaptureProb | CaptureOdds

    Examples
    --------
    >>> from scribe.parameterizations import MeanOdds
    >>> get_capture(MeanOdds()).sampled
    ('phi_capture',)
    """
    return _CAPTURES[parameterization.capture_coordinate](**kwargs)


def informed_capture_prior(
    total_counts: Float[ArrayLike, " cells"],
    *,
    m0: float = MRNA_PER_CELL["human"],
    sigma: float = 0.3,
    coordinate: str = "p_capture",
) -> dist.TransformedDistribution:
    """Biology-informed capture prior from each cell's total UMI count (MATH.md).

    ``eta_c = -log nu_c ~ TruncatedNormal(log m0 - log L_c, sigma, low=0)``; the result
    is the induced distribution of ``nu = exp(-eta)`` (``coordinate="p_capture"``) or of
    ``phi_capture = exp(eta) - 1`` (``coordinate="phi_capture"``), so it can be passed
    as ``priors(overrides={coordinate: ...})`` of the matching capture class.

    Parameters
    ----------
    total_counts
        ``L_c > 0``, each cell's total UMI count.
    m0
        Expected mRNA molecules per cell (``MRNA_PER_CELL``: 2e5 human/mouse, 6e4 yeast,
        3e3 E. coli).
    sigma
        Scale of ``eta`` (the spread of log capture efficiency).
    coordinate
        ``"p_capture"`` or ``"phi_capture"``.

    Returns
    -------
    numpyro.distributions.TransformedDistribution
        Batch shape ``(cells,)``; ``log_prob`` includes the Jacobian of the map from
        ``eta``.

    Examples
    --------
    >>> prior = informed_capture_prior(jnp.array([2e3, 1e4]))
    >>> prior.log_prob(jnp.array([0.01, 0.05])).tolist()
    [4.89..., 3.28...]
    """
    if coordinate not in _CAPTURES:
        raise ValueError(f"coordinate must be one of {tuple(_CAPTURES)}, got {coordinate!r}.")
    if not (m0 > 0 and sigma > 0):
        raise ValueError(f"m0 and sigma must be positive, got m0={m0}, sigma={sigma}.")
    if not isinstance(total_counts, jax.core.Tracer):
        empty = int(np.sum(np.asarray(total_counts) <= 0))
        if empty:
            raise ValueError(
                f"total_counts must be > 0 for every cell (the biology-informed capture "
                f"prior); {empty} cells have none (drop them: CountData.drop_empty())"
            )
    loc = jnp.log(m0) - jnp.log(jnp.asarray(total_counts))
    eta = dist.TruncatedNormal(loc, sigma, low=0.0)
    if coordinate == "p_capture":
        transforms = [AffineTransform(0.0, -1.0), ExpTransform()]
    else:
        # exp then -1: eta = log1p(phi) in the inverse; eta is O(1) for realistic
        # libraries (L << m0), where the lost log1p precision is immaterial.
        transforms = [ExpTransform(), AffineTransform(-1.0, 1.0)]
    return dist.TransformedDistribution(eta, transforms)
