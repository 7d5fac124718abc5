"""The interface every parameterization implements."""

import abc
from collections.abc import Mapping
from typing import ClassVar

import equinox as eqx
import jax.numpy as jnp
import numpyro.distributions as dist
from jaxtyping import Array, ArrayLike, Float
from numpyro.distributions.transforms import Transform

from . import _priors

TransformChoice = tuple[tuple[str, str], ...]


def freeze_transforms(choice: Mapping[str, str] | TransformChoice | None) -> TransformChoice:
    """Turn a ``{name: "softplus" | "exp"}`` mapping into a hashable static value."""
    return tuple(sorted(dict(choice or {}).items()))


class AbstractParameterization(eqx.Module):
    """Coordinates the user samples in, mapped to a family's natural parameters.

    Class-level attributes (the same for every instance):

    * ``name``: canonical name (``get_parameterization`` also accepts ``aliases``);
    * ``sampled``: names of the sampled coordinates, whose domains and default priors
      are fixed per name (``scribe.parameterizations.COORDINATES``);
    * ``natural``: names of the natural parameters ``to_natural`` produces, plus
      ``derived`` quantities it also returns (the mean ``mu`` for count families);
    * ``capture_coordinate``: the per-cell capture coordinate that pairs with this
      parameterization (see ``get_capture``).

    The one field, ``positive_transform``, chooses ``"softplus"`` or ``"exp"`` per
    positive coordinate for the unconstrained prior. The default is ``exp`` (Normal(0, 1)
    on the log, i.e. LogNormal(0, 1), as the constrained prior): softplus leaves a
    Gaussian tail on the value itself, which shrinks means in the tens to thousands (by
    4–6% already in small simulated fits). A family may change the default through
    ``default_positive_transform``.
    """

    positive_transform: eqx.AbstractVar[TransformChoice]

    name: ClassVar[str]
    aliases: ClassVar[tuple[str, ...]] = ()
    sampled: ClassVar[tuple[str, ...]]
    natural: ClassVar[tuple[str, ...]]
    derived: ClassVar[tuple[str, ...]] = ()
    capture_coordinate: ClassVar[str] = "p_capture"
    default_positive_transform: ClassVar[Mapping[str, str]] = {}

    def __check_init__(self):
        positive = tuple(n for n in self.sampled if _priors.domain(n) == "positive")
        for coordinate, choice in self.positive_transform:
            if coordinate not in positive:
                raise ValueError(
                    f"positive_transform names {coordinate!r}, which is not a positive "
                    f"coordinate of {self.name!r}; valid names: {positive}."
                )
            if choice not in _priors.POSITIVE_TRANSFORMS:
                raise ValueError(
                    f"positive_transform[{coordinate!r}] must be one of "
                    f"{_priors.POSITIVE_TRANSFORMS}, got {choice!r}."
                )

    def _check_sampled(self, name: str) -> None:
        if name not in self.sampled:
            raise ValueError(
                f"{name!r} is not sampled by {self.name!r}; valid names: {self.sampled}."
            )

    def transform_choice(self, name: str) -> str:
        """``"softplus"`` or ``"exp"`` (the default): the positive transform of ``name``."""
        self._check_sampled(name)
        choice = {**self.default_positive_transform, **dict(self.positive_transform)}
        return choice.get(name, "exp")

    def unconstrained_transform(self, name: str) -> Transform:
        """Bijection from the real line onto sampled coordinate ``name``'s domain.

        The SVI engine puts its guide on the unconstrained coordinate and maps it
        through this transform; ``priors(unconstrained=True)[name]`` is
        ``TransformedDistribution(unconstrained_base(), unconstrained_transform(name))``.
        """
        return _priors.unconstrained_transform(
            name, positive_transform=self.transform_choice(name)
        )

    def unconstrained_base(self, name: str) -> dist.Distribution:
        """Default prior of the unconstrained coordinate behind ``name``: Normal(0, 1)."""
        self._check_sampled(name)
        return _priors.unconstrained_base()

    def priors(
        self,
        *,
        unconstrained: bool,
        overrides: Mapping[str, dist.Distribution] | None = None,
    ) -> dict[str, dist.Distribution]:
        """Prior of each sampled coordinate, as a distribution over its constrained value.

        Parameters
        ----------
        unconstrained
            ``False``: the documented constrained defaults (Beta(1, 1), LogNormal(0, 1),
            BetaPrime(1, 1)). ``True``: Normal(0, 1) pushed through
            ``unconstrained_transform(name)``; ``log_prob`` includes the Jacobian.
        overrides
            User priors by coordinate name, used as given in place of the default.

        Returns
        -------
        dict[str, numpyro.distributions.Distribution]
            One prior per name in ``sampled``, in that order.

        Raises
        ------
        ValueError
            If ``overrides`` names a coordinate that is not sampled.
        TypeError
            If an override is not a numpyro distribution.
        """
        overrides = dict(overrides or {})
        unknown = sorted(set(overrides) - set(self.sampled))
        if unknown:
            raise ValueError(
                f"Prior overrides for {unknown}, which {self.name!r} does not sample; "
                f"valid names: {self.sampled}."
            )
        for key, value in overrides.items():
            if not isinstance(value, dist.Distribution):
                raise TypeError(
                    f"Prior override for {key!r} must be a numpyro Distribution, "
                    f"got {type(value).__name__}."
                )
        return {
            key: overrides[key]
            if key in overrides
            else _priors.default_prior(
                key, unconstrained=unconstrained, positive_transform=self.transform_choice(key)
            )
            for key in self.sampled
        }

    def constrain(self, unconstrained: Mapping[str, ArrayLike]) -> dict[str, Array]:
        """Map unconstrained values of the sampled coordinates onto their domains."""
        self._check_keys(unconstrained)
        return {k: self.unconstrained_transform(k)(unconstrained[k]) for k in self.sampled}

    def to_natural(
        self, sampled: Mapping[str, Float[ArrayLike, "..."]]
    ) -> dict[str, Float[Array, "..."]]:
        """Natural parameters (and ``derived`` quantities) from sampled coordinates.

        Parameters
        ----------
        sampled
            A value per name in ``sampled`` (extra keys are ignored). The maps are
            elementwise; values must be scalars or arrays of one common rank that
            broadcast together (e.g. ``(1, genes)`` and ``(cells, 1)``), since rank
            promotion may be disabled.

        Returns
        -------
        dict[str, Array]
            A value per name in ``natural + derived``.
        """
        self._check_keys(sampled)
        return self._to_natural(**self._same_rank(sampled, self.sampled, "Sampled"))

    def from_natural(
        self, natural: Mapping[str, Float[ArrayLike, "..."]]
    ) -> dict[str, Float[Array, "..."]]:
        """Sampled coordinates from natural parameters: the inverse of ``to_natural``.

        Converts a point between parameterizations through the natural parameters
        (``target.from_natural(source.to_natural(point))``), e.g. to start MCMC from an
        SVI fit made in another parameterization.

        Parameters
        ----------
        natural
            A value per name in ``natural`` (extra keys, such as the ``derived`` mean
            ``mu`` that ``to_natural`` also returns, are ignored), each in its domain.
            Elementwise, with the same scalar-or-one-rank broadcasting as ``to_natural``.

        Returns
        -------
        dict[str, Array]
            A value per name in ``sampled``, in that order.

        Raises
        ------
        ValueError
            If a natural parameter is missing (the message names it) or the values
            have different ranks.

        Examples
        --------
        >>> from scribe.parameterizations import MeanOdds
        >>> odds = MeanOdds()
        >>> nat = odds.to_natural({"phi": 0.25, "mu": 3.0})
        >>> {k: round(float(v), 6) for k, v in odds.from_natural(nat).items()}
        {'phi': 0.25, 'mu': 3.0}
        """
        self._check_keys(natural, self.natural, "natural values")
        out = self._from_natural(**self._same_rank(natural, self.natural, "Natural"))
        return {k: out[k] for k in self.sampled}

    def _same_rank(
        self, values: Mapping[str, ArrayLike], names: tuple[str, ...], kind: str
    ) -> dict[str, Array]:
        arrays = {k: jnp.asarray(values[k]) for k in names}
        ranks = {v.ndim for v in arrays.values() if v.ndim > 0}
        if len(ranks) > 1:
            shapes = {k: v.shape for k, v in arrays.items()}
            raise ValueError(
                f"{kind} values of {self.name!r} must be scalars or share one rank; "
                f"got shapes {shapes}."
            )
        return arrays

    def _check_keys(
        self,
        values: Mapping[str, object],
        names: tuple[str, ...] | None = None,
        what: str = "values",
    ) -> None:
        names = self.sampled if names is None else names
        missing = [k for k in names if k not in values]
        if missing:
            raise ValueError(f"{self.name!r} needs {what} for {names}; missing {missing}.")

    @abc.abstractmethod
    def _to_natural(self, **sampled: Array) -> dict[str, Array]:
        """The formulas themselves (MATH.md), one elementwise expression per output."""

    @abc.abstractmethod
    def _from_natural(self, **natural: Array) -> dict[str, Array]:
        """The inverse formulas, one elementwise expression per sampled coordinate."""
