"""Typed configs: what ``scribe.fit`` was asked, validated once and saved as JSON."""

from ._fit_config import INFERENCE_METHODS as INFERENCE_METHODS
from ._fit_config import FitConfig as FitConfig
from ._json import CONFIG_FORMAT as CONFIG_FORMAT
from ._json import RESUMABLE as RESUMABLE
from ._json import config_from_json as config_from_json
from ._json import config_from_v1 as config_from_v1
from ._json import config_to_json as config_to_json
from ._json import resumable_view as resumable_view
from ._methods import CHAIN_METHODS as CHAIN_METHODS
from ._methods import McmcConfig as McmcConfig
from ._methods import SviConfig as SviConfig
from ._methods import VaeConfig as VaeConfig
from ._model import NB_MODELS as NB_MODELS
from ._model import TWO_STATE_MODELS as TWO_STATE_MODELS
from ._model import VAE_MODELS as VAE_MODELS
from ._model import ModelConfig as ModelConfig
from ._priors import check_priors as check_priors
from ._priors import describe_prior as describe_prior
from ._priors import describe_priors as describe_priors
from ._priors import prior_from_json as prior_from_json
from ._priors import prior_to_json as prior_to_json
