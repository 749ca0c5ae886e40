"""Training utilities: object-based checkpoints, their manager, and the global step."""

from .checkpoint import Checkpoint
from .errors import (
    CheckpointCorruptError,
    CheckpointError,
    CheckpointMismatchError,
    CheckpointNotFoundError,
    MismatchReport,
)
from .global_step import get_global_step, get_or_create_global_step
from .index import CheckpointState, latest_checkpoint
from .index import read_state as get_checkpoint_state
from .manager import CheckpointManager

__all__ = [
    "Checkpoint",
    "CheckpointCorruptError",
    "CheckpointError",
    "CheckpointManager",
    "CheckpointMismatchError",
    "CheckpointNotFoundError",
    "CheckpointState",
    "MismatchReport",
    "get_checkpoint_state",
    "get_global_step",
    "get_or_create_global_step",
    "latest_checkpoint",
]
