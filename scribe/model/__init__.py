"""``ScribeModel``: the one generative model every inference method shares."""

from ._scribe_model import ScribeModel as ScribeModel
from ._scribe_model import VAENetworks as VAENetworks
