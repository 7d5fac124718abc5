"""User priors as JSON: a description for configs and a spec that rebuilds the distribution.

A prior is a numpyro distribution. Its JSON spec names its class and holds its
parameters (``arg_constraints``); a transformed or truncated distribution holds the spec
of its base and of each transform. Code is never stored: a class is found again by its
module and name, and only numpyro's and scribe's own classes are rebuilt.
"""

import hashlib
import importlib
import json
from collections.abc import Mapping
from typing import Any

import numpy as np
import numpyro.distributions as dist
from numpyro.distributions.transforms import Transform

# Modules a spec may name: a saved file must not make ``load`` import arbitrary code.
_TRUSTED = ("numpyro.", "scribe.")
# Arrays with more elements are described by shape and digest, not by value.
_SHOWN_ELEMENTS = 8
# Distributions that wrap another one, and the fields (besides ``base_dist``) that say how.
_WRAPPERS = {
    "LeftTruncatedDistribution": ("low",),
    "RightTruncatedDistribution": ("high",),
    "TwoSidedTruncatedDistribution": ("low", "high"),
    "Independent": ("reinterpreted_batch_ndims",),
}


def check_priors(priors: Any) -> dict[str, dist.Distribution]:
    """``priors`` as a dict of numpyro distributions by name (empty for None)."""
    if priors is None:
        return {}
    if not isinstance(priors, Mapping):
        raise TypeError(f"priors must be a mapping of names to distributions, found {priors!r}")
    for name, prior in priors.items():
        if not isinstance(prior, dist.Distribution):
            raise TypeError(
                f"priors[{name!r}] must be a numpyro Distribution, found {type(prior).__name__}"
            )
    return dict(priors)


def describe_priors(priors: Mapping[str, dist.Distribution]) -> tuple[tuple[str, str], ...]:
    """``((name, description), ...)`` sorted by name: what a config records of user priors."""
    return tuple((name, describe_prior(prior)) for name, prior in sorted(priors.items()))


def describe_prior(prior: dist.Distribution) -> str:
    """A short, JSON-friendly description that differs whenever the prior does.

    Small parameters are written out (``Beta(concentration1=1.0, concentration0=9.0)``);
    an array of more than 8 values by its shape and a digest of its values.
    """
    return _describe(prior_to_json(prior))


def _describe(spec: dict) -> str:
    name = spec["class"].rpartition(":")[2]
    parts = [f"{k}={_describe_value(v)}" for k, v in spec.get("params", {}).items()]
    if "base" in spec:
        parts.insert(0, f"base={_describe(spec['base'])}")
    if "transforms" in spec:
        parts.append(f"transforms=[{', '.join(_describe(t) for t in spec['transforms'])}]")
    return f"{name}({', '.join(parts)})"


def _describe_value(value: Any) -> str:
    array = np.asarray(value)
    if array.size <= _SHOWN_ELEMENTS:
        return str(array.tolist())
    digest = hashlib.sha1(json.dumps(array.tolist()).encode()).hexdigest()[:12]
    return f"<{array.dtype} array {list(array.shape)} sha1:{digest}>"


def prior_to_json(prior: dist.Distribution) -> dict:
    """The JSON spec of a prior (see the module docstring).

    Raises
    ------
    TypeError
        For a distribution or transform whose parameters are not all numbers or arrays
        (it could not be rebuilt from JSON).
    """
    cls = type(prior)
    spec: dict[str, Any] = {"class": _class_path(cls)}
    # Subclasses such as LogNormal are rebuilt from their own parameters.
    if cls is dist.TransformedDistribution:
        spec["base"] = prior_to_json(prior.base_dist)
        spec["transforms"] = [_transform_to_json(t) for t in prior.transforms]
        return spec
    if cls.__name__ in _WRAPPERS:
        spec["base"] = prior_to_json(prior.base_dist)
        names = _WRAPPERS[cls.__name__]
    else:
        names = tuple(prior.arg_constraints)
    spec["params"] = {k: _numbers(cls, k, getattr(prior, k)) for k in names}
    return spec


def _transform_to_json(transform: Transform) -> dict:
    cls = type(transform)
    params = {k: v for k, v in vars(transform).items() if not k.startswith("_")}
    return {
        "class": _class_path(cls),
        "params": {k: _numbers(cls, k, v) for k, v in params.items()},
    }


def _numbers(cls: type, name: str, value: Any) -> Any:
    try:
        array = np.asarray(value)
    except (TypeError, ValueError):
        array = np.asarray(None, dtype=object)
    if array.dtype == object:
        raise TypeError(
            f"cannot record the prior {cls.__name__}: its {name!r} is "
            f"{type(value).__name__}, not a number or array"
        )
    return array.tolist()


def _class_path(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


def _trusted_class(path: str) -> type:
    module, _, name = path.partition(":")
    if not module.startswith(_TRUSTED):
        raise ValueError(f"a saved prior names class {path!r}, outside numpyro and scribe")
    return getattr(importlib.import_module(module), name)


def prior_from_json(spec: Mapping) -> dist.Distribution:
    """The distribution a spec of ``prior_to_json`` describes."""
    cls = _trusted_class(spec["class"])
    params = {k: np.asarray(v) for k, v in spec.get("params", {}).items()}
    if cls is dist.TransformedDistribution:
        transforms = [_trusted_class(t["class"])(**_arrays(t)) for t in spec["transforms"]]
        return cls(prior_from_json(spec["base"]), transforms)
    if "base" in spec:
        if "reinterpreted_batch_ndims" in params:
            params["reinterpreted_batch_ndims"] = int(params["reinterpreted_batch_ndims"])
        return cls(prior_from_json(spec["base"]), **params)
    return cls(**params)


def _arrays(spec: Mapping) -> dict[str, np.ndarray]:
    return {k: np.asarray(v) for k, v in spec.get("params", {}).items()}
