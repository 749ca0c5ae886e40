"""Summary file writers: TensorBoard event files through the tensorboard package.

Events are serialized with tensorboard's protobuf classes and written by its
``EventFileWriter``: the training thread only enqueues a serialized record
(bounded by ``max_queue``); a daemon thread frames it (TFRecord, masked CRC32C)
and appends it to ``logdir/events.out.tfevents.<time>.<host>.<pid>.<uid>``,
flushing at least every ``flush_millis``. A crash therefore loses at most the
events still queued. tensorboard is imported on the first writer creation, so
``import tapegrad`` stays cheap.

Lifecycle: ``close()`` drains the queue, flushes and closes the file; it is
idempotent and also runs when the writer is garbage-collected or the
interpreter exits. Writing to a closed writer raises ``RuntimeError``;
``init()`` reopens a closed writer on a fresh event file.
"""

import os
import time
import weakref

import numpy as np

from tapegrad.summary.policy import _state

__all__ = ["SummaryWriter", "create_file_writer", "flush"]


def _close_event_writer(event_writer):
    event_writer.close()


class _DefaultScope:
    """``with writer.as_default():`` -- the writer is the default in the body."""

    __slots__ = ("_writer", "_saved")

    def __init__(self, writer):
        self._writer = writer
        self._saved = []

    def __enter__(self):
        self._writer._check_open("as_default")
        self._saved.append(_state.writer)
        _state.writer = self._writer
        return self._writer

    def __exit__(self, exc_type, exc, tb):
        _state.writer = self._saved.pop()
        return False


class SummaryWriter:
    """Writes summaries of one log directory; build it with ``create_file_writer``."""

    def __init__(self, logdir, max_queue=10, flush_millis=120000, filename_suffix=None):
        if not isinstance(logdir, (str, os.PathLike)):
            raise TypeError(
                f"create_file_writer: logdir must be a str or os.PathLike, "
                f"got {type(logdir).__name__}"
            )
        logdir = os.fspath(logdir)
        if not logdir:
            raise ValueError("create_file_writer: logdir must be a non-empty path")
        if (
            isinstance(max_queue, (bool, np.bool_))
            or not isinstance(max_queue, (int, np.integer))
            or max_queue < 1
        ):
            raise ValueError(
                f"create_file_writer: max_queue must be a positive integer, got {max_queue!r}"
            )
        if (
            isinstance(flush_millis, (bool, np.bool_))
            or not isinstance(flush_millis, (int, float, np.integer, np.floating))
            or not 0 < flush_millis < float("inf")
        ):
            raise ValueError(
                f"create_file_writer: flush_millis must be a positive finite number, "
                f"got {flush_millis!r}"
            )
        if filename_suffix is not None and not isinstance(filename_suffix, str):
            raise TypeError(
                f"create_file_writer: filename_suffix must be a str or None, "
                f"got {type(filename_suffix).__name__}"
            )
        self._logdir = logdir
        self._max_queue = int(max_queue)
        self._flush_secs = float(flush_millis) / 1000.0
        self._filename_suffix = filename_suffix or ""
        self._event_writer = None
        self._finalizer = None
        self._open()

    def _open(self):
        from tensorboard.summary.writer.event_file_writer import EventFileWriter

        try:
            event_writer = EventFileWriter(
                self._logdir,
                max_queue_size=self._max_queue,
                flush_secs=self._flush_secs,
                filename_suffix=self._filename_suffix,
            )
        except OSError as e:
            # an unwritable logdir or one below a file: TensorBoard's bare OSError named
            # only the path; keep the OSError subclass, name the call
            raise type(e)(e.errno, f"create_file_writer: cannot open an event file in "
                          f"{self._logdir!r}: {e.strerror}", e.filename) from None
        self._event_writer = event_writer
        # Runs on garbage collection and at interpreter exit, whichever comes
        # first: the writer thread is a daemon, so without this the events still
        # queued at exit would be lost. The finalizer holds the EventFileWriter,
        # never self, so it does not keep the SummaryWriter alive.
        self._finalizer = weakref.finalize(self, _close_event_writer, event_writer)

    @property
    def logdir(self):
        """The directory the event files are written to."""
        return self._logdir

    @property
    def closed(self):
        return self._event_writer is None

    def _check_open(self, where):
        if self._event_writer is None:
            raise RuntimeError(
                f"{where}: the summary writer for logdir {self._logdir!r} is closed; "
                f"call writer.init() to reopen it on a new event file"
            )

    def as_default(self):
        """Context manager making this writer the thread's default in its body."""
        return _DefaultScope(self)

    def set_as_default(self):
        """Make this writer the thread's default until another is set."""
        self._check_open("set_as_default")
        _state.writer = self

    def init(self):
        """Reopen a closed writer on a new event file; no-op while open."""
        if self._event_writer is None:
            self._open()

    def flush(self):
        """Block until every queued event is written to the file; no-op once closed."""
        if self._event_writer is not None:
            self._event_writer.flush()

    def close(self):
        """Flush and close the event file. Idempotent."""
        if self._event_writer is not None:
            self._event_writer = None
            self._finalizer()

    def _write(self, values, step, where):
        """Append one Event holding ``values`` (a list of ``Summary.Value``)."""
        event_writer = self._event_writer
        if event_writer is None:
            self._check_open(where)
        from tensorboard.compat.proto import event_pb2, summary_pb2

        event = event_pb2.Event(
            wall_time=time.time(), step=step, summary=summary_pb2.Summary(value=values)
        )
        event_writer.add_event(event)

    def __repr__(self):
        state = "closed" if self._event_writer is None else "open"
        return f"<SummaryWriter logdir={self._logdir!r} {state}>"


def create_file_writer(logdir, max_queue=10, flush_millis=120000, filename_suffix=None):
    """Create a ``SummaryWriter`` writing TensorBoard event files into ``logdir``.

    The directory is created if needed and the event file is created at once.
    ``max_queue`` bounds the events held in memory awaiting the writer thread;
    ``flush_millis`` is the longest interval between flushes of the file.
    """
    return SummaryWriter(
        logdir, max_queue=max_queue, flush_millis=flush_millis, filename_suffix=filename_suffix
    )


def flush(writer=None):
    """Flush ``writer``, or the thread's default writer when None (no-op without one)."""
    if writer is None:
        writer = _state.writer
        if writer is None:
            return
    elif not isinstance(writer, SummaryWriter):
        raise TypeError(f"flush: writer must be a SummaryWriter, got {type(writer).__name__}")
    writer.flush()
