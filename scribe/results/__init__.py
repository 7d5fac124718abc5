"""What a fit returns and everything asked of it: samples, MAP, latents, gene
selections, summaries, denoising, persistence. Reads models and trained state; never
the front door."""

from . import _persist as persist
from ._results import ScribeResults as ScribeResults
from ._summary import warn_on_diagnostics as warn_on_diagnostics
