"""scribe: Bayesian inference for single-cell RNA-seq UMI counts, on JAX."""

from importlib.metadata import PackageNotFoundError, version

from . import data as data
from . import datasets as datasets
from . import decoders as decoders
from . import encoders as encoders
from . import guides as guides
from . import latent_priors as latent_priors
from . import likelihoods as likelihoods
from . import metrics as metrics
from . import parameterizations as parameterizations
from ._fit import fit as fit
from ._log_likelihood import log_likelihood as log_likelihood
from ._persist import load as load
from ._warnings import DataWarning as DataWarning
from ._warnings import McmcWarning as McmcWarning
from ._warnings import ScribeWarning as ScribeWarning
from .inference import CheckpointWarning as CheckpointWarning
from .results import ScribeResults as ScribeResults

try:
    __version__ = version("scribe")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"
