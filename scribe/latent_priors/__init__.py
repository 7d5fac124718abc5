"""Priors over a VAE's per-cell latent ``z``: the standard Normal and flowjax flows."""

from ._abstract import AbstractLatentPrior as AbstractLatentPrior
from ._annealing import kl_weight as kl_weight
from ._factory import LATENT_PRIORS as LATENT_PRIORS
from ._factory import make_latent_prior as make_latent_prior
from ._flow import FlowPrior as FlowPrior
from ._normal import StandardNormalPrior as StandardNormalPrior
