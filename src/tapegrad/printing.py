"""``tg.print``: write tensors' values (TF's ``tf.print``), in eager mode a plain write."""

import sys

import numpy as np

from tapegrad import _core

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


def print_(*inputs, output_stream=None, summarize=3, sep=" ", end="\n", name=None):
    """``tf.print``: write the values (tensors as their NumPy values) to ``output_stream``
    (stderr by default, as in TF; ``sys.stdout`` works too).  ``summarize`` is how many
    items per axis are shown at each end (``None`` or -1: all).  Inside a ``tg.function``
    it prints on every call (Python's ``print`` runs only while tracing)."""
    tracer = _core._get_tracer()
    if tracer is not None:
        # inside tg.function: a host step of the graph, so it prints on every replay
        # (the tracer's own host_call; the graph package is not imported for this)
        return tracer.host_call(_print_now, inputs, dict(
            output_stream=output_stream, summarize=summarize, sep=sep, end=end))
    return _print_now(*inputs, output_stream=output_stream, summarize=summarize, sep=sep,
                      end=end)


def _print_now(*inputs, output_stream=None, summarize=3, sep=" ", end="\n"):
    stream = output_stream
    if stream is None:
        stream = sys.stderr
    text = sep.join(_format(x, summarize) for x in inputs) + end
    stream.write(text)
    flush = getattr(stream, "flush", None)
    if flush is not None:
        flush()
    return None
