"""Checks of single config values, each raising the error a user should read."""

import math
from typing import Any


def check_int(name: str, value: Any, *, low: int = 1) -> None:
    """``value`` is an int (not a bool) of at least ``low``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, found {type(value).__name__} ({value!r})")
    if value < low:
        raise ValueError(f"{name} must be >= {low}, found {value}")


def check_optional_int(name: str, value: Any, *, low: int = 1) -> None:
    """``value`` is None or an int of at least ``low``."""
    if value is not None:
        check_int(name, value, low=low)


def check_bool(name: str, value: Any) -> None:
    """``value`` is True or False."""
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, found {value!r}")


def check_positive_float(name: str, value: Any) -> None:
    """``value`` is a finite number above 0."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{name} must be a float, found {value!r}")
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be > 0 and finite, found {value}")


def check_choice(name: str, value: Any, choices: tuple[str, ...]) -> None:
    """``value`` is one of ``choices``."""
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {choices}, found {value!r}")


def check_config(name: str, value: Any, cls: type) -> None:
    """``value`` is None or an instance of the config class ``cls``."""
    if value is not None and not isinstance(value, cls):
        raise TypeError(
            f"{name} must be a scribe.{cls.__name__} or None, found {type(value).__name__}"
        )
