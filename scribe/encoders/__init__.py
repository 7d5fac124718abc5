"""Encoders of per-cell latents: ``encoder(batch)`` -> their approximate posterior."""

from ._abstract import AbstractEncoder as AbstractEncoder
from ._capture import CaptureEncoder as CaptureEncoder
from ._free import FreeEncoder as FreeEncoder
