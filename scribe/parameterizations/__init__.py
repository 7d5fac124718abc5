"""Coordinates the user samples in, mapped to each likelihood family's natural parameters."""

from ._abstract import AbstractParameterization as AbstractParameterization
from ._capture import MRNA_PER_CELL as MRNA_PER_CELL
from ._capture import CaptureOdds as CaptureOdds
from ._capture import CaptureProb as CaptureProb
from ._capture import get_capture as get_capture
from ._capture import informed_capture_prior as informed_capture_prior
from ._distributions import Beta as Beta
from ._distributions import BetaPrime as BetaPrime
from ._nb import AbstractNBParameterization as AbstractNBParameterization
from ._nb import Canonical as Canonical
from ._nb import MeanOdds as MeanOdds
from ._nb import MeanProb as MeanProb
from ._priors import COORDINATES as COORDINATES
from ._priors import default_prior as default_prior
from ._priors import unconstrained_transform as unconstrained_transform
from ._registry import PARAMETERIZATIONS as PARAMETERIZATIONS
from ._registry import get_parameterization as get_parameterization
from ._two_state import AbstractTwoStateParameterization as AbstractTwoStateParameterization
from ._two_state import TwoStateMeanFano as TwoStateMeanFano
from ._two_state import TwoStateMomentDelta as TwoStateMomentDelta
from ._two_state import TwoStateNatural as TwoStateNatural
from ._two_state import TwoStateRatio as TwoStateRatio
