"""Decoders: a cell's latent ``z`` (and its batch) -> the likelihood's parameters."""

from ._abstract import AbstractDecoder as AbstractDecoder
from ._linear_alr import LinearALRDecoder as LinearALRDecoder
from ._mlp_decoder import DECODER_OUTPUTS as DECODER_OUTPUTS
from ._mlp_decoder import MLPDecoder as MLPDecoder
