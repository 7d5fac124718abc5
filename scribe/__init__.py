"""scribe: Bayesian inference for single-cell RNA-seq UMI counts, on JAX."""

from importlib.metadata import PackageNotFoundError, version

from . import data as data
from . import datasets as datasets
from . import likelihoods as likelihoods
from . import parameterizations as parameterizations
from ._log_likelihood import log_likelihood as log_likelihood
from ._warnings import DataWarning as DataWarning
from ._warnings import ScribeWarning as ScribeWarning

try:
    __version__ = version("scribe")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"
