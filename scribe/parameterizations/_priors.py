"""Every sampled coordinate's domain and default prior, in one table.

A coordinate name means the same thing in every parameterization (``mu`` is always a
mean, ``p`` always numpyro's ``probs``), so its domain and default prior are properties
of the name, not of the parameterization that samples it.
"""

from collections.abc import Callable

import numpyro.distributions as dist
from numpyro.distributions.transforms import (
    ExpTransform,
    IdentityTransform,
    SigmoidTransform,
    SoftplusTransform,
    Transform,
)

from ._distributions import Beta, BetaPrime

POSITIVE_TRANSFORMS = ("softplus", "exp")


def _uniform() -> dist.Distribution:
    return Beta(1.0, 1.0)


def _lognormal() -> dist.Distribution:
    return dist.LogNormal(0.0, 1.0)


def _betaprime() -> dist.Distribution:
    return BetaPrime(1.0, 1.0)


def _mixing_logits() -> dist.Distribution:
    raise ValueError(
        "the prior of mixing_logits depends on the number of components: "
        "scribe.model.mixing_prior(n_components) builds it"
    )


def _gate() -> dist.Distribution:
    # Most genes are not zero-inflated: mean 0.1 pulls the gate towards zero.
    return Beta(1.0, 9.0)


# name -> (domain, constrained default prior). Factories, not instances, so that the
# prior's dtype follows jax's x64 setting at call time rather than at import time.
_COORDINATES: dict[str, tuple[str, Callable[[], dist.Distribution]]] = {
    "p": ("unit", _uniform),
    "delta": ("unit", _uniform),
    "p_capture": ("unit", _uniform),
    "gate": ("unit", _gate),
    "r": ("positive", _lognormal),
    "mu": ("positive", _lognormal),
    "b": ("positive", _lognormal),
    "k_off": ("positive", _lognormal),
    "s": ("positive", _lognormal),
    "F": ("positive", _lognormal),
    "kappa": ("positive", _lognormal),
    "phi": ("positive", _betaprime),
    "phi_capture": ("positive", _betaprime),
    # A mixture's weights as K - 1 stick-breaking logits (scribe.model.mixing_weights).
    "mixing_logits": ("real", _mixing_logits),
}

_GLOBAL_COORDINATES = tuple(_COORDINATES)

#: The globals a hierarchy (``scribe.model.GeneHierarchy``) may make gene-specific, and
#: the map from the real line onto each.
HIERARCHY_TARGETS = {"p": "sigmoid", "gate": "sigmoid", "phi": "exp"}

#: The kinds of hierarchy (``scribe.model.GeneHierarchy``).
HIERARCHY_KINDS = ("normal", "horseshoe", "neg")

#: The parts a hierarchy samples, named ``<target>_<part>``, and their domains.
HIERARCHY_PARTS = {
    "loc": "real",
    "raw": "real",
    "scale": "positive",
    "tau": "positive",
    "lambda": "positive",
    "slab": "positive",
    "zeta": "positive",
    "omega": "positive",
}


def _hierarchy_part() -> dist.Distribution:
    raise ValueError(
        "a hierarchy's coordinates have the priors of their kind: "
        "scribe.model.GeneHierarchy.priors builds them"
    )


for _target in HIERARCHY_TARGETS:
    for _part, _domain in HIERARCHY_PARTS.items():
        _COORDINATES[f"{_target}_{_part}"] = (_domain, _hierarchy_part)

#: The globals that may have one copy per dataset (``scribe.model.DatasetHierarchy``);
#: each copy's population is sampled as ``<name>_dataset_loc`` and ``<name>_dataset_scale``.
DATASET_COORDINATES = tuple(
    n for n in _GLOBAL_COORDINATES if n not in ("p_capture", "phi_capture", "mixing_logits")
)


def _dataset_part() -> dist.Distribution:
    raise ValueError(
        "a dataset hierarchy's coordinates have fixed default priors: "
        "scribe.model.DatasetHierarchy.priors builds them"
    )


for _name in DATASET_COORDINATES:
    _COORDINATES[f"{_name}_dataset_loc"] = ("real", _dataset_part)
    _COORDINATES[f"{_name}_dataset_scale"] = ("positive", _dataset_part)

COORDINATES = tuple(_COORDINATES)


def _check_name(name: str) -> None:
    if name not in _COORDINATES:
        raise ValueError(f"Unknown coordinate {name!r}; known coordinates: {COORDINATES}.")


def domain(name: str) -> str:
    """Domain of coordinate ``name``: ``"unit"`` (0, 1), ``"positive"`` (0, inf) or
    ``"real"``.

    Parameters
    ----------
    name
        A coordinate name from ``COORDINATES``.

    Returns
    -------
    str
        ``"unit"``, ``"positive"`` or ``"real"``.
    """
    _check_name(name)
    return _COORDINATES[name][0]


def is_odds(name: str) -> bool:
    """Whether coordinate ``name`` is an odds ratio (``phi``, ``phi_capture``): positive,
    with a BetaPrime default prior."""
    _check_name(name)
    return _COORDINATES[name][1] is _betaprime


def unconstrained_transform(name: str, *, positive_transform: str = "softplus") -> Transform:
    """The bijection from the real line onto coordinate ``name``'s domain.

    Parameters
    ----------
    name
        A coordinate name from ``COORDINATES``.
    positive_transform
        ``"softplus"`` or ``"exp"``; used only for positive coordinates.

    Returns
    -------
    numpyro.distributions.transforms.Transform
        ``SigmoidTransform`` for unit-interval coordinates, ``SoftplusTransform`` or
        ``ExpTransform`` for positive ones.
    """
    if positive_transform not in POSITIVE_TRANSFORMS:
        raise ValueError(
            f"positive_transform must be one of {POSITIVE_TRANSFORMS}, got {positive_transform!r}."
        )
    if domain(name) == "unit":
        return SigmoidTransform()
    if domain(name) == "real":
        return IdentityTransform()
    return ExpTransform() if positive_transform == "exp" else SoftplusTransform()


def default_prior(
    name: str, *, unconstrained: bool, positive_transform: str = "softplus"
) -> dist.Distribution:
    """Default prior of coordinate ``name``.

    Parameters
    ----------
    name
        A coordinate name from ``COORDINATES`` (``"gate"`` included).
    unconstrained
        ``False``: the documented constrained prior (Beta(1, 1) on unit-interval
        coordinates, Beta(1, 9) on ``gate``, LogNormal(0, 1) on positive ones,
        BetaPrime(1, 1) on ``phi`` and ``phi_capture``). ``True``: Normal(0, 1) pushed
        through ``unconstrained_transform(name)``, a ``TransformedDistribution`` whose
        ``log_prob`` at a constrained value includes the Jacobian.
    positive_transform
        ``"softplus"`` or ``"exp"``; used only for positive coordinates.

    Returns
    -------
    numpyro.distributions.Distribution
        A distribution over the constrained value of ``name``.

    Examples
    --------
    >>> prior = default_prior("gate", unconstrained=False)  # Beta(1, 9)
    >>> float(prior.concentration1), float(prior.concentration0)
    (1.0, 9.0)
    """
    transform = unconstrained_transform(name, positive_transform=positive_transform)
    if unconstrained:
        return dist.TransformedDistribution(unconstrained_base(), transform)
    return _COORDINATES[name][1]()


def unconstrained_base() -> dist.Distribution:
    """Normal(0, 1): the default prior of every unconstrained coordinate."""
    return dist.Normal(0.0, 1.0)
