"""``tf.contrib.summary`` with TF 1.x's recording default: ``compat.tf1.contrib.summary``.

In TF 1.x a summary call records only inside a ``record_summaries_every_n_global_steps``,
``always_record_summaries`` or ``record_if`` scope; outside one it writes nothing, even
with a default writer.  tapegrad's own ``tg.summary`` records by default (TF 2), so this
namespace counts the scopes entered through it (per thread, like the writer and the
policy) and makes ``scalar``/``histogram``/``image``/``text`` no-ops outside them.
Scopes entered through ``tg.summary`` directly do not count here.
"""

import threading

from tapegrad import summary as _summary
from tapegrad.summary import SummaryWriter, flush

__all__ = ["SummaryWriter", "create_file_writer", "flush", "scalar", "histogram", "image",
           "text", "record_if", "always_record_summaries", "never_record_summaries",
           "record_summaries_every_n_global_steps", "should_record_summaries"]


class _Depth(threading.local):
    def __init__(self):
        self.value = 0


_depth = _Depth()


class _CountedScope:
    """A ``tg.summary`` recording scope that also marks "inside a TF 1.x scope"."""

    __slots__ = ("_scope",)

    def __init__(self, scope):
        self._scope = scope

    def __enter__(self):
        result = self._scope.__enter__()
        _depth.value += 1
        return result

    def __exit__(self, exc_type, exc, tb):
        _depth.value -= 1
        return self._scope.__exit__(exc_type, exc, tb)


def always_record_summaries():
    return _CountedScope(_summary.always_record_summaries())


def never_record_summaries():
    return _CountedScope(_summary.never_record_summaries())


def record_if(condition):
    return _CountedScope(_summary.record_if(condition))


def record_summaries_every_n_global_steps(n, global_step=None):
    return _CountedScope(_summary.record_summaries_every_n_global_steps(n, global_step))


def should_record_summaries():
    """True inside a recording scope of this namespace, with a default writer set."""
    return _depth.value > 0 and _summary.should_record_summaries()


def create_file_writer(logdir, max_queue=None, flush_millis=None, filename_suffix=None,
                       name=None):
    kwargs = {}
    if max_queue is not None:
        kwargs["max_queue"] = max_queue
    if flush_millis is not None:
        kwargs["flush_millis"] = flush_millis
    return _summary.create_file_writer(logdir, filename_suffix=filename_suffix, **kwargs)


def scalar(name, tensor, family=None, step=None):
    """Record a scalar when inside a recording scope (TF 1.x); False when nothing was
    written."""
    if not _depth.value:
        return False
    return _summary.scalar(name, tensor, step=step)


def histogram(name, tensor, family=None, step=None):
    if not _depth.value:
        return False
    return _summary.histogram(name, tensor, step=step)


def image(name, tensor, bad_color=None, max_images=3, family=None, step=None):
    if not _depth.value:
        return False
    return _summary.image(name, tensor, step=step, max_outputs=max_images)


def text(name, tensor, step=None):
    if not _depth.value:
        return False
    return _summary.text(name, tensor, step=step)


def __getattr__(name):
    from tapegrad.compat._graph_only import missing

    raise missing("tf.contrib.summary", name)
