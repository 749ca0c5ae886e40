"""``tg.train.CheckpointManager``: numbered saves in one directory, old ones deleted."""

import numbers
import os
import re
import time
from collections import OrderedDict

import numpy as np

from . import index
from .checkpoint import Checkpoint
from .format import FILE_SUFFIX, stale_temporaries

__all__ = ["CheckpointManager"]


def _now():
    # One indirection so tests can drive the clock of keep_checkpoint_every_n_hours.
    return time.time()


def _checkpoint_number(value):
    array = np.asarray(value)
    if array.shape != () or array.dtype.kind not in "iu":
        raise TypeError(
            "CheckpointManager.save: checkpoint_number must be an integer scalar "
            "(int, integer Variable or Tensor), got %r" % (value,)
        )
    number = int(array)
    if number < 0:
        raise ValueError("CheckpointManager.save: checkpoint_number must be >= 0, got %d"
                         % number)
    return number


class CheckpointManager:
    """Saves ``checkpoint`` as ``<directory>/<checkpoint_name>-<n>``, keeping the newest.

    ``max_to_keep``: how many recent checkpoints to keep (``None``: all).  With
    ``keep_checkpoint_every_n_hours``, a checkpoint that would be deleted is kept for good
    when at least that many hours passed since the last one kept that way.  An existing
    index in ``directory`` is picked up, so a restarted program continues the rotation.
    """

    def __init__(self, checkpoint, directory, max_to_keep=5,
                 keep_checkpoint_every_n_hours=None, checkpoint_name="ckpt"):
        if not isinstance(checkpoint, Checkpoint):
            raise TypeError(
                "CheckpointManager: checkpoint must be a tg.train.Checkpoint, got %s"
                % type(checkpoint).__name__
            )
        if max_to_keep is not None and (
            isinstance(max_to_keep, bool)
            or not isinstance(max_to_keep, numbers.Integral)
            or max_to_keep < 1
        ):
            raise ValueError(
                "CheckpointManager: max_to_keep must be a positive int or None, got %r"
                % (max_to_keep,)
            )
        if keep_checkpoint_every_n_hours is not None:
            if (
                isinstance(keep_checkpoint_every_n_hours, bool)
                or not isinstance(keep_checkpoint_every_n_hours, numbers.Real)
                or not keep_checkpoint_every_n_hours > 0
            ):
                raise ValueError(
                    "CheckpointManager: keep_checkpoint_every_n_hours must be a positive "
                    "number or None, got %r" % (keep_checkpoint_every_n_hours,)
                )
            if max_to_keep is None:
                raise ValueError(
                    "CheckpointManager: keep_checkpoint_every_n_hours needs max_to_keep "
                    "(with max_to_keep=None every checkpoint is kept anyway)"
                )
        if not isinstance(checkpoint_name, str) or not checkpoint_name or (
            os.sep in checkpoint_name or (os.altsep and os.altsep in checkpoint_name)
        ):
            raise ValueError(
                "CheckpointManager: checkpoint_name must be a non-empty file name, got %r"
                % (checkpoint_name,)
            )
        self._checkpoint = checkpoint
        self._directory = os.fspath(directory)
        self._max_to_keep = None if max_to_keep is None else int(max_to_keep)
        self._keep_seconds = (
            None if keep_checkpoint_every_n_hours is None
            else 3600.0 * keep_checkpoint_every_n_hours
        )
        self._prefix = os.path.join(self._directory, checkpoint_name)
        self._maybe_delete = OrderedDict()
        self._latest_checkpoint = None
        self._last_preserved = _now()
        self._remove_stale_temporaries()
        state = index.read_state(self._directory)
        if state is not None:
            self._recover(state)

    def _remove_stale_temporaries(self):
        # A save killed mid-write leaves its temp file (the real file is untouched).
        # Only this manager's own kinds of files: its prefix's checkpoints and the
        # directory's index, and only those whose writer is gone.
        name = re.escape(os.path.basename(self._prefix))
        pattern = r"%s-\d+%s|%s" % (name, re.escape(FILE_SUFFIX), re.escape(index.INDEX_FILENAME))
        for path in stale_temporaries(self._directory, pattern):
            try:
                os.remove(path)
            except OSError:
                pass  # already gone, or not ours to remove after all

    def _recover(self, state):
        paths = state.all_model_checkpoint_paths
        stamps = state.all_model_checkpoint_timestamps
        if len(stamps) != len(paths):
            stamps = [self._last_preserved] * len(paths)
        for path, stamp in zip(paths, stamps):
            if index.checkpoint_exists(path):
                self._maybe_delete[path] = stamp
        if state.last_preserved_timestamp is not None:
            self._last_preserved = state.last_preserved_timestamp
        latest = state.model_checkpoint_path
        if latest is not None and index.checkpoint_exists(latest):
            self._latest_checkpoint = latest
        elif self._maybe_delete:
            self._latest_checkpoint = next(reversed(self._maybe_delete))

    @property
    def checkpoint(self):
        return self._checkpoint

    @property
    def directory(self):
        return self._directory

    @property
    def checkpoints(self):
        """Prefixes of the managed checkpoints, oldest first (deleted ones excluded)."""
        return list(self._maybe_delete)

    @property
    def latest_checkpoint(self):
        """Prefix of the newest checkpoint, or ``None`` (pass it to ``restore``)."""
        return self._latest_checkpoint

    def save(self, checkpoint_number=None):
        """Save a new checkpoint, update the index, delete the surplus; return its prefix.

        ``checkpoint_number`` (an int, or an integer Variable such as the global step)
        numbers the file; by default the checkpoint's incremented ``save_counter`` does.
        Saving again under an existing number replaces that checkpoint.
        """
        number = None if checkpoint_number is None else _checkpoint_number(checkpoint_number)
        counter = self._checkpoint.save_counter
        previous = int(counter.numpy())
        counter.assign(previous + 1)
        try:
            if number is None:
                number = previous + 1
            save_path = self._checkpoint.write("%s-%d" % (self._prefix, number))
        except BaseException:
            counter.assign(previous)
            raise
        self._maybe_delete.pop(save_path, None)
        self._maybe_delete[save_path] = _now()
        self._latest_checkpoint = save_path
        doomed = self._sweep()
        # The index is replaced before any file is deleted: a crash in between leaves
        # stray files, never an index naming a deleted checkpoint.
        index.write_state(
            self._directory,
            save_path,
            list(self._maybe_delete),
            list(self._maybe_delete.values()),
            self._last_preserved,
        )
        for path in doomed:
            try:
                os.remove(path + FILE_SUFFIX)
            except FileNotFoundError:
                pass
        return save_path

    def _sweep(self):
        if self._max_to_keep is None:
            return []
        doomed = []
        while len(self._maybe_delete) > self._max_to_keep:
            path, stamp = self._maybe_delete.popitem(last=False)
            keep = self._keep_seconds
            if keep is not None and stamp - self._last_preserved >= keep:
                self._last_preserved = stamp
                continue
            doomed.append(path)
        return doomed
