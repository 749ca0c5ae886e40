"""Side effects that a traced graph keeps: ``tg.print`` prints on every call."""

import sys

from tapegrad import _core
from tapegrad.graph.trace import host_call


def _fmt(x):
    if isinstance(x, (_core.Tensor, _core.BaseVariable)):
        return str(x.numpy())
    return str(x)


@host_call
def print_(*inputs, sep=" ", end="\n", output_stream=None):
    """Print tensors' values (and other objects) now, and on every replay of a traced
    function that calls it (Python's ``print`` runs only while tracing).
    ``output_stream`` is a file object (default ``sys.stderr``, as ``tf.print``)."""
    stream = sys.stderr if output_stream is None else output_stream
    stream.write(sep.join(_fmt(x) for x in inputs) + end)
    flush = getattr(stream, "flush", None)
    if flush is not None:
        flush()
