"""Mean-field guides: every scalar coordinate independent of every other."""

from collections.abc import Iterable, Mapping

import equinox as eqx
from jaxtyping import ArrayLike

from ..parameterizations._priors import is_odds
from ._abstract import AbstractProductGuide, restrict_factors
from ._factors import AbstractFactor, BetaFactor, NormalFactor
from ._spec import ParamSpec, Restriction, check_specs, initial_values


def _constrained_factor(spec: ParamSpec, value) -> AbstractFactor:
    if spec.domain == "unit":
        return BetaFactor(spec, False, value)
    if spec.domain == "real":
        return NormalFactor(spec, "identity", value)
    # Odds coordinates (phi, phi_capture) take the family of their default prior.
    if is_odds(spec.name):
        return BetaFactor(spec, True, value)
    return NormalFactor(spec, "exp", value)


class MeanFieldConstrained(AbstractProductGuide):
    """Independent guides in each coordinate's natural constrained family.

    Unit-interval coordinates get ``Beta(a, b)``; odds coordinates (``phi``,
    ``phi_capture``) ``BetaPrime(a, b)``, drawn as the odds of a Beta; other positive
    coordinates ``LogNormal(loc, scale)`` (``spec.transform`` is not used); real ones
    ``Normal(loc, scale)``. Concentrations and scales are stored as raw values behind a
    softplus.

    Parameters
    ----------
    specs
        One ``ParamSpec`` per global parameter.
    init
        Constrained starting values by name (broadcast to each spec's shape). Beta and
        BetaPrime start with the Beta mean at the value (its odds for BetaPrime) and
        log-odds of standard deviation about 0.1; LogNormal and Normal at ``loc`` = the value's
        log (or the value) with scale 0.1. Missing names start at 0.5 (unit), 1.0
        (positive) or 0.0 (real).

    Examples
    --------
    >>> specs = [ParamSpec(name="p", shape=()), ParamSpec(name="phi", shape=(3,))]
    >>> guide = MeanFieldConstrained(specs, init={"p": 0.25, "phi": 2.0})
    >>> {name: type(q).__name__ for name, q in guide.marginals().items()}
    {'p': 'Beta', 'phi': 'BetaPrime'}
    >>> [round(float(x), 6) for x in guide.median()["phi"]]
    [2.0, 2.0, 2.0]
    """

    specs: tuple[ParamSpec, ...] = eqx.field(static=True)
    factors: tuple[AbstractFactor, ...]

    def __init__(self, specs: Iterable[ParamSpec], init: Mapping[str, ArrayLike] | None = None):
        self.specs = check_specs(specs)
        values = initial_values(self.specs, init)
        self.factors = tuple(_constrained_factor(s, values[s.name]) for s in self.specs)

    def restrict(self, keep: Restriction) -> "MeanFieldConstrained":
        return restrict_factors(self, keep)


class MeanFieldUnconstrained(AbstractProductGuide):
    """Independent Normals on each coordinate's unconstrained scale.

    Each scalar ``z ~ Normal(loc, softplus(raw_scale))`` is mapped onto the domain by
    the spec's bijection (sigmoid, softplus or exp, identity); ``log_prob`` includes
    the log-Jacobian of that map.

    Parameters
    ----------
    specs
        One ``ParamSpec`` per global parameter.
    init
        Constrained starting values by name: ``loc`` starts at the inverse bijection of
        the value, the scale at 0.1. Missing names start at 0.5 (unit), 1.0 (positive)
        or 0.0 (real).

    Examples
    --------
    >>> import jax
    >>> guide = MeanFieldUnconstrained([ParamSpec(name="mu", shape=(2,))], init={"mu": 5.0})
    >>> _, log_q = guide.sample_and_log_prob(key=jax.random.key(0))
    >>> log_q.shape
    ()
    >>> [round(float(x), 6) for x in guide.median()["mu"]]
    [5.0, 5.0]
    """

    specs: tuple[ParamSpec, ...] = eqx.field(static=True)
    factors: tuple[AbstractFactor, ...]

    def __init__(self, specs: Iterable[ParamSpec], init: Mapping[str, ArrayLike] | None = None):
        self.specs = check_specs(specs)
        values = initial_values(self.specs, init)
        self.factors = tuple(NormalFactor(s, s.bijection, values[s.name]) for s in self.specs)

    def restrict(self, keep: Restriction) -> "MeanFieldUnconstrained":
        return restrict_factors(self, keep)
