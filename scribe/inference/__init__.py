"""Training: SVI loops, checkpoints and resume."""

from ._checkpoint import CheckpointStore as CheckpointStore
from ._checkpoint import CheckpointWarning as CheckpointWarning
