"""Variational families over the global (per-gene and shared) parameters."""

from ._abstract import AbstractGuide as AbstractGuide
from ._abstract import AbstractProductGuide as AbstractProductGuide
from ._factors import BetaFactor as BetaFactor
from ._factory import make_guide as make_guide
from ._low_rank import JointLowRank as JointLowRank
from ._low_rank import LowRank as LowRank
from ._mean_field import MeanFieldConstrained as MeanFieldConstrained
from ._mean_field import MeanFieldUnconstrained as MeanFieldUnconstrained
from ._spec import ParamSpec as ParamSpec
