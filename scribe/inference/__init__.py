"""Inference engines: SVI loops, NUTS on the same log-joint, diagnostics, checkpoints."""

from ._checkpoint import CheckpointStore as CheckpointStore
from ._checkpoint import CheckpointWarning as CheckpointWarning
from ._diagnostics import ess_bulk as ess_bulk
from ._diagnostics import ess_tail as ess_tail
from ._diagnostics import split_rhat as split_rhat
from ._draws import McmcDraws as McmcDraws
