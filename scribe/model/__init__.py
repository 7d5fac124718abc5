"""``ScribeModel``: the one generative model every inference method shares."""

from ._datasets import DatasetHierarchy as DatasetHierarchy
from ._hierarchy import GeneHierarchy as GeneHierarchy
from ._scribe_model import ScribeModel as ScribeModel
from ._scribe_model import VAENetworks as VAENetworks
