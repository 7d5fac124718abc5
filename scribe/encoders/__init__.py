"""Encoders of per-cell latents: ``encoder(batch)`` -> their approximate posterior."""

from ._abstract import REAL_LATENTS as REAL_LATENTS
from ._abstract import AbstractEncoder as AbstractEncoder
from ._abstract import latent_transform as latent_transform
from ._abstract import scale_from_raw as scale_from_raw
from ._capture import CaptureEncoder as CaptureEncoder
from ._free import FreeEncoder as FreeEncoder
from ._inputs import INPUT_TRANSFORMS as INPUT_TRANSFORMS
from ._mlp import ACTIVATIONS as ACTIVATIONS
from ._mlp import MLP as MLP
from ._mlp_encoder import MLPEncoder as MLPEncoder
from ._point import PointEncoder as PointEncoder
