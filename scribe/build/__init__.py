"""The build layer: configs -> modules, and the data's starting values.

``fit`` and ``load`` both build what a fit trains through here, so that a loaded fit is
rebuilt exactly as it was fitted.
"""

from ._guide import make_guide_and_encoder as make_guide_and_encoder
from ._initial import capture_start as capture_start
from ._initial import moment_estimates as moment_estimates
from ._initial import reference_gene as reference_gene
from ._initial import starting_values as starting_values
from ._model import make_model as make_model
from ._modules import Modules as Modules
from ._modules import build_modules as build_modules
from ._vae import make_vae_networks as make_vae_networks
