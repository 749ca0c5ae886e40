"""``tg.train.Checkpoint``: object-based saving and restoring."""

import os
import time
import warnings

from tapegrad import tracking

from . import index
from .errors import CheckpointNotFoundError
from .format import FILE_SUFFIX, read_file, write_file
from .graph import SavedGraph, build_graph
from .restore import CheckpointLoadStatus, InitializationOnlyStatus, RestoreState

__all__ = ["Checkpoint"]


def _checkpoint_file(save_path):
    """The file behind ``save_path`` (a prefix, or the file name itself)."""
    save_path = index.fspath(save_path, "Checkpoint.restore")
    if os.path.isfile(save_path + FILE_SUFFIX):
        return save_path + FILE_SUFFIX
    if save_path.endswith(FILE_SUFFIX) and os.path.isfile(save_path):
        return save_path
    if os.path.isdir(save_path):
        raise CheckpointNotFoundError(
            "Checkpoint.restore: %r is a directory; pass a checkpoint prefix such as "
            "tg.train.latest_checkpoint(%r)" % (save_path, save_path)
        )
    raise CheckpointNotFoundError(
        "Checkpoint.restore: no checkpoint at %r (looked for %r)"
        % (save_path, save_path + FILE_SUFFIX)
    )


class Checkpoint(tracking.Trackable):
    """Groups trackable objects for saving and restoring: ``Checkpoint(model=m, optimizer=o)``.

    Each keyword becomes the root edge of its object's variables (``model/dense/kernel``).
    A ``save_counter`` variable counts ``save()`` calls and is saved too.  Values may be
    Variables, Trackables (layers, models, optimizers, metrics, Checkpoints) or
    lists/dicts of them.
    """

    def __init__(self, **kwargs):
        import tapegrad

        variable_type = tracking._variable_type()
        for name, value in kwargs.items():
            if name.startswith("_") or name == "save_counter" or hasattr(Checkpoint, name):
                raise ValueError(
                    "Checkpoint: %r cannot be used as a name: it is reserved by Checkpoint"
                    % name
                )
            if not isinstance(value, (variable_type, tracking.Trackable, list, tuple, dict)):
                raise TypeError(
                    "Checkpoint: %r must be a tg.Variable or a trackable object (layer, model, "
                    "optimizer, metric, Checkpoint) or a list/dict of them, got %s"
                    % (name, type(value).__name__)
                )
            setattr(self, name, value)
        self.save_counter = tapegrad.Variable(
            0, trainable=False, name="save_counter", dtype=tapegrad.int64
        )
        self.__dict__["_restore_state"] = None

    # ------------------------------------------------------------------ saving

    def write(self, file_prefix):
        """Write a checkpoint at ``file_prefix`` (no numbering, no index update); return it.

        The file (``file_prefix + ".tgckpt"``) appears complete or not at all.
        """
        file_prefix = index.fspath(file_prefix, "Checkpoint.write")
        directory = os.path.dirname(file_prefix)
        if directory:
            try:
                os.makedirs(directory, exist_ok=True)
            except OSError as e:
                # e.g. a path component is a file: the bare FileExistsError named only
                # the path; keep the OSError subclass, name the call
                raise type(e)(e.errno, "Checkpoint.write: cannot create the directory of "
                              "%r: %s" % (file_prefix, e.strerror), e.filename) from None
        graph, variables = build_graph(self)
        # .numpy() is a read-only view (a host copy for GPU variables): nothing is
        # copied for CPU variables, and nothing runs between the reads and the write.
        tensors = [(path, variable.numpy()) for path, variable in variables]
        write_file(file_prefix + FILE_SUFFIX, graph, tensors)
        return file_prefix

    def save(self, file_prefix):
        """Save as ``"<file_prefix>-<n>"`` (n = the incremented ``save_counter``); return it.

        The directory's ``checkpoint`` index then names this checkpoint as the latest.
        """
        file_prefix = index.fspath(file_prefix, "Checkpoint.save")
        previous = int(self.save_counter.numpy())
        self.save_counter.assign(previous + 1)
        try:
            save_path = self.write("%s-%d" % (file_prefix, previous + 1))
        except BaseException:
            # A failed save must not consume a number (the next save reuses it).
            self.save_counter.assign(previous)
            raise
        _record_in_index(save_path)
        return save_path

    # ------------------------------------------------------------------ restoring

    def read(self, save_path):
        """Restore from ``save_path`` (a prefix from ``save``/``write``); see ``restore``."""
        if save_path is None:
            raise TypeError("Checkpoint.read: save_path is None; use restore() to allow that")
        return self.restore(save_path)

    def restore(self, save_path):
        """Assign the saved values to the matching variables; return a load status.

        ``save_path=None`` (what ``latest_checkpoint`` gives for an empty directory)
        restores nothing.  The whole file is verified, and every matched variable's dtype
        and shape checked, before any variable changes: on a corrupt or missing file, or
        a dtype/shape mismatch, this raises and no variable is modified.  Saved values
        whose objects do not exist yet (layers built later, optimizer slots) are
        assigned when those objects are created.
        """
        if save_path is None:
            self._replace_state(None)
            return InitializationOnlyStatus()
        filename = _checkpoint_file(save_path)
        graph, tensors = read_file(filename)
        return self._restore_decoded(graph, tensors, repr(filename))

    def _restore_decoded(self, graph, tensors, where):
        """``restore`` of an already verified image (``format.decode``'s output): the
        model files of tapegrad.saving hold a checkpoint image inside their archive."""
        saved = SavedGraph(graph, tensors, where)
        state = RestoreState(self, saved)
        state.extend([(self, 0)])
        self._replace_state(state)
        state.activate()
        return CheckpointLoadStatus(state)

    def _replace_state(self, state):
        old = self.__dict__.get("_restore_state")
        if old is not None:
            old.deactivate()
            pending = old.pending_nodes()
            if pending and not old.partial_expected:
                paths = [old.saved.path[node] for node in pending]
                warnings.warn(
                    "Checkpoint: %d value(s) from %s were never used: %s (call "
                    "expect_partial() on the restore status if that is intended)"
                    % (len(paths), old.saved.where, ", ".join(paths[:10])),
                    stacklevel=3,
                )
        self.__dict__["_restore_state"] = state


def _record_in_index(save_path):
    """Make ``save_path`` the latest entry of its directory's index."""
    directory = os.path.dirname(save_path) or os.curdir
    state = index.read_state(directory)
    now = time.time()
    paths, timestamps = [], []
    last_preserved = None
    if state is not None:
        old_paths = state.all_model_checkpoint_paths
        old_times = state.all_model_checkpoint_timestamps
        if len(old_times) != len(old_paths):
            old_times = [now] * len(old_paths)
        absolute = os.path.abspath(save_path)
        for path, stamp in zip(old_paths, old_times):
            if os.path.abspath(path) != absolute and index.checkpoint_exists(path):
                paths.append(path)
                timestamps.append(stamp)
        last_preserved = state.last_preserved_timestamp
    paths.append(save_path)
    timestamps.append(now)
    index.write_state(directory, save_path, paths, timestamps, last_preserved)
