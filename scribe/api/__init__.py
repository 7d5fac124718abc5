"""The front door: ``fit`` and ``load`` turn the user's words into typed configs, once,
and hand them to the build, inference and results layers."""

from ._fit import fit as fit
from ._load import load as load
