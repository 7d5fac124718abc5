"""Inference engines: SVI loops, NUTS on the same log-joint, diagnostics, checkpoints."""

from ._checkpoint import CheckpointStore as CheckpointStore
from ._checkpoint import CheckpointWarning as CheckpointWarning
from ._diagnostics import ess_bulk as ess_bulk
from ._diagnostics import ess_tail as ess_tail
from ._diagnostics import split_rhat as split_rhat
from ._draws import McmcDraws as McmcDraws
from ._relabel import RelabelReport as RelabelReport
from ._relabel import relabel_components as relabel_components
from ._sample import chain_starts as chain_starts
from ._sample import empty_draws as empty_draws
from ._sample import float64 as float64
from ._sample import sample as sample
from ._store import CHECKPOINT_FORMAT as CHECKPOINT_FORMAT
from ._train import SviRun as SviRun
from ._train import train as train
