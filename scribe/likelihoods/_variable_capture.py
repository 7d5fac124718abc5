"""Per-cell binomial capture of any count family."""

import equinox as eqx
from jaxtyping import Array, Float, PRNGKeyArray, PyTree

from ._abstract import AbstractLikelihood


class CaptureParams(eqx.Module):
    """Parameters of ``VariableCapture``: the base family's and each cell's capture ``ν``."""

    base: PyTree
    capture: Float[Array, " cells"]


class VariableCapture(AbstractLikelihood):
    """The base family after binomial thinning of each cell's molecules by ``ν_c``.

    Every method evaluates the base at ``base.thin(params.base, params.capture)``, so
    the thinning formula lives in the base family only (DESIGN.md's thinning table).
    ``log_prob`` has the base family's shape.

    Parameters
    ----------
    base
        Any likelihood that implements ``thin``.
    """

    base: AbstractLikelihood

    def thinned(self, params: CaptureParams) -> PyTree:
        """The base family's parameters after thinning by each cell's capture."""
        return self.base.thin(params.base, params.capture)

    def log_prob(self, counts: Float[Array, "cells genes"], params: CaptureParams) -> Array:
        return self.base.log_prob(counts, self.thinned(params))

    def sample(self, params: CaptureParams, shape: tuple[int, ...], *, key: PRNGKeyArray):
        return self.base.sample(self.thinned(params), shape, key=key)

    def mean(self, params: CaptureParams) -> Array:
        return self.base.mean(self.thinned(params))

    def variance(self, params: CaptureParams) -> Array:
        return self.base.variance(self.thinned(params))

    def thin(self, params: CaptureParams, capture: Float[Array, " cells"]) -> CaptureParams:
        # Thinning twice by ν₁ then ν₂ is thinning once by ν₁ν₂.
        return CaptureParams(base=params.base, capture=params.capture * capture)
