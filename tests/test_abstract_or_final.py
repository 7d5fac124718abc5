"""Equinox's abstract-or-final pattern, kept true by walking every subclass."""

import inspect

import equinox as eqx
import pytest

import scribe  # noqa: F401  (imports every layer so that every subclass is registered)


def _all_subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _all_subclasses(sub)


def _scribe_modules():
    return sorted(
        {c for c in _all_subclasses(eqx.Module) if c.__module__.startswith("scribe")},
        key=lambda c: c.__qualname__,
    )


def test_scribe_defines_modules():
    names = {c.__name__ for c in _scribe_modules()}
    expected = {"AbstractLikelihood", "NegativeBinomial", "Mixture", "PoissonBeta"}
    expected |= {"AbstractGuide", "JointLowRank", "AbstractParameterization", "MeanOdds"}
    expected |= {"AbstractEncoder", "FreeEncoder", "ScribeModel"}
    assert expected <= names


@pytest.mark.parametrize("cls", _scribe_modules(), ids=lambda c: c.__qualname__)
def test_abstract_or_final(cls):
    is_abstract = cls.__name__.startswith("Abstract")
    if is_abstract:
        init = cls.__dict__.get("__init__")
        # dataclass-generated initialisers are compiled from a string; hand-written ones are not
        handwritten = init is not None and init.__code__.co_filename != "<string>"
        assert not handwritten, f"{cls.__name__} is abstract but defines __init__"
        own_fields = [
            name
            for name, annotation in cls.__dict__.get("__annotations__", {}).items()
            if "Abstract" not in str(annotation) and "ClassVar" not in str(annotation)
        ]
        assert not own_fields, f"{cls.__name__} is abstract but declares fields {own_fields}"
    else:
        assert not inspect.isabstract(cls), f"{cls.__name__} is concrete but has abstract methods"
        subclasses = [s.__name__ for s in cls.__subclasses__()]
        assert not subclasses, f"concrete {cls.__name__} is subclassed by {subclasses}"
