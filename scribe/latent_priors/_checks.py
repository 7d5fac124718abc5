"""Checks of static arguments, raised before anything is traced."""

import numbers

import numpy as np


def check_int(name: str, value: object, *, minimum: int) -> int:
    """``value`` as an ``int`` no smaller than ``minimum``, or a ``ValueError``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}; found {value!r}")
    return int(value)


def check_positive_float(name: str, value: object, *, allow_zero: bool = False) -> float:
    """``value`` as a finite positive (or non-negative) ``float``, or a ``ValueError``."""
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
    ok = ok and bool(np.isfinite(value)) and (value >= 0 if allow_zero else value > 0)
    if not ok:
        expected = "a finite number >= 0" if allow_zero else "a finite number > 0"
        raise ValueError(f"{name} must be {expected}; found {value!r}")
    return float(value)


def check_latent_shape(z, *, latent_dim: int) -> None:
    """Latent vectors must end in an axis of length ``latent_dim``."""
    shape = np.shape(z)
    if len(shape) == 0 or shape[-1] != latent_dim:
        raise ValueError(
            f"z must have shape (..., {latent_dim}) (its last axis the latent "
            f"dimension); found shape {shape}"
        )


def check_kl_inputs(loc, scale, *, latent_dim: int, n_samples: int) -> None:
    """``loc`` and ``scale`` are ``(batch, latent_dim)``; ``n_samples`` is positive."""
    for name, value in (("loc", loc), ("scale", scale)):
        shape = np.shape(value)
        if len(shape) != 2 or shape[-1] != latent_dim:
            raise ValueError(f"{name} must have shape (batch, {latent_dim}); found shape {shape}")
    if np.shape(loc) != np.shape(scale):
        raise ValueError(
            f"loc and scale must have the same shape; found {np.shape(loc)} and {np.shape(scale)}"
        )
    check_int("n_samples", n_samples, minimum=1)
