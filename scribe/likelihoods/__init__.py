"""Count likelihoods behind one Equinox interface (see ``AbstractLikelihood``)."""

from ._abstract import AbstractElementwiseLikelihood as AbstractElementwiseLikelihood
from ._abstract import AbstractLikelihood as AbstractLikelihood
from ._log_likelihood import log_likelihood as log_likelihood
from ._logistic_normal_multinomial import LNMParams as LNMParams
from ._logistic_normal_multinomial import LogisticNormalMultinomial as LogisticNormalMultinomial
from ._mixture import Mixture as Mixture
from ._mixture import MixtureParams as MixtureParams
from ._models import MODELS as MODELS
from ._models import make_likelihood as make_likelihood
from ._negative_binomial import NBLogMeanParams as NBLogMeanParams
from ._negative_binomial import NBParams as NBParams
from ._negative_binomial import NegativeBinomial as NegativeBinomial
from ._negative_binomial import NegativeBinomialLogMean as NegativeBinomialLogMean
from ._poisson import PoissonLogRate as PoissonLogRate
from ._poisson import PoissonParams as PoissonParams
from ._poisson_beta import PoissonBeta as PoissonBeta
from ._poisson_beta import PoissonBetaParams as PoissonBetaParams
from ._sparse import sparse_log_prob_sum as sparse_log_prob_sum
from ._variable_capture import CaptureParams as CaptureParams
from ._variable_capture import VariableCapture as VariableCapture
from ._zero_inflated import ZeroInflated as ZeroInflated
from ._zero_inflated import ZIParams as ZIParams
