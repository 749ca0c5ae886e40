"""``tg.print``: write tensors' values (TF's ``tf.print``), in eager mode a plain write."""

import sys

import numpy as np

from tapegrad import _core
from tapegrad.graph.trace import host_call

__all__ = ["print_"]


def _format(x, summarize):
    if isinstance(x, (_core.Tensor, _core.BaseVariable)):
        arr = np.asarray(x.numpy())
        if summarize is None or summarize < 0:
            threshold = sys.maxsize
        else:
            threshold = max(int(summarize), 1)
        with np.printoptions(threshold=threshold, edgeitems=max(int(summarize or 3), 1)):
            return np.array2string(arr, separator=" ")
    if isinstance(x, (list, tuple, dict)):
        return repr(type(x)(_format(v, summarize) for v in x)) if not isinstance(x, dict) \
            else "{%s}" % ", ".join("%r: %s" % (k, _format(v, summarize)) for k, v in x.items())
    return str(x)


@host_call  # inside tg.function: a graph step, so it prints on every replay
def print_(*inputs, output_stream=None, summarize=3, sep=" ", end="\n", name=None):
    """``tf.print``: write the values (tensors as their NumPy values) to ``output_stream``
    (stderr by default, as in TF; ``sys.stdout`` works too).  ``summarize`` is how many
    items per axis are shown at each end (``None`` or -1: all).  Inside a ``tg.function``
    it prints on every call (Python's ``print`` runs only while tracing)."""
    stream = output_stream
    if stream is None:
        stream = sys.stderr
    text = sep.join(_format(x, summarize) for x in inputs) + end
    stream.write(text)
    flush = getattr(stream, "flush", None)
    if flush is not None:
        flush()
    return None
