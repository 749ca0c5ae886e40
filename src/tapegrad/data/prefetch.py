"""prefetch: run the upstream pipeline on a background thread, a bounded queue ahead.

The producer thread owns the upstream iterator from start to close (a generator may
only be resumed or closed by one thread at a time). An exception raised upstream is
handed through the queue and re-raised in the consumer. When the consumer stops early
(the iterator is closed or garbage-collected) the producer is told to stop, unblocked
and joined; closing its upstream iterator stops any nested prefetch threads in turn.
"""

import queue
import threading

from ._node import Unary

_POLL_SECONDS = 0.05
_JOIN_SECONDS = 2.0
_END = object()


def background(start, size):
    """Iterate ``start()`` on a daemon thread, at most ``size`` items ahead."""
    items = queue.Queue(maxsize=size)
    stop = threading.Event()

    def put(entry):
        while not stop.is_set():
            try:
                items.put(entry, timeout=_POLL_SECONDS)
                return True
            except queue.Full:
                continue
        return False

    def produce():
        upstream = start()
        try:
            for item in upstream:
                if not put((item, None)):
                    return
            put((_END, None))
        except BaseException as error:   # noqa: B036 - every failure must reach the consumer
            put((None, error))
        finally:
            upstream.close()

    thread = threading.Thread(target=produce, name="tapegrad-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            item, error = items.get()
            if error is not None:
                raise error
            if item is _END:
                return
            yield item
    finally:
        stop.set()
        # Free a producer blocked on a full queue, then wait for it to wind down.
        while True:
            try:
                items.get_nowait()
            except queue.Empty:
                break
        if thread is not threading.current_thread():
            thread.join(_JOIN_SECONDS)


class Prefetch(Unary):
    """``prefetch(n)``: keeps up to ``n`` elements (or chunks) ready ahead of the consumer."""

    def __init__(self, child, buffer_size):
        super().__init__(child)
        self.buffer_size = buffer_size

    def elements(self):
        return background(self.child.elements, self.buffer_size)

    def chunks(self):
        return background(self.child.chunks, self.buffer_size)

    def cardinality(self):
        return self.child.cardinality()
