"""Keras' gradient clipping for every optimizer: ``clipnorm``, ``clipvalue``, ``global_clipnorm``.

``clipnorm=c`` rescales each gradient whose L2 norm exceeds ``c`` to norm ``c``;
``global_clipnorm=c`` rescales all gradients together by ``c / max(global_norm, c)``
(the global norm is that of all gradients concatenated); ``clipvalue=v`` clips every
element to ``[-v, v]``.  They apply in that order, in tapegrad ops (so on any device),
before the update rule, as Keras does.  ``clipnorm`` and ``global_clipnorm`` exclude
each other.
"""

import math

import numpy as np

import tapegrad as tg

__all__ = ["check_clipping", "clip_pairs"]


def _positive(where, what, value):
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{where}: {what} must be a number, got {value!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{where}: {what} must be finite and > 0, got {value}")
    return value


def check_clipping(where, clipnorm, clipvalue, global_clipnorm):
    """The validated settings as a dict (empty when no clipping is asked for)."""
    if clipnorm is not None and global_clipnorm is not None:
        raise ValueError(f"{where}: give clipnorm or global_clipnorm, not both")
    out = {}
    if clipnorm is not None:
        out["clipnorm"] = _positive(where, "clipnorm", clipnorm)
    if global_clipnorm is not None:
        out["global_clipnorm"] = _positive(where, "global_clipnorm", global_clipnorm)
    if clipvalue is not None:
        out["clipvalue"] = _positive(where, "clipvalue", clipvalue)
    return out


def _tensor(grad, var):
    from tapegrad.ops.indexed_slices import IndexedSlices

    if type(grad) is IndexedSlices:
        grad = grad.to_dense()   # clipping needs the dense norm / values
    if not isinstance(grad, (tg.Tensor, tg.Variable)):
        grad = tg.convert_to_tensor(np.asarray(grad))
    if grad.dtype != var.dtype:
        grad = tg.cast(grad, var.dtype)
    return grad


def clip_pairs(pairs, settings):
    """``[(clipped gradient, variable)]`` for ``settings`` from :func:`check_clipping`."""
    grads = [_tensor(g, v) for g, v in pairs]
    clipnorm = settings.get("clipnorm")
    if clipnorm is not None:
        grads = [tg.clip_by_norm(g, clipnorm) for g in grads]
    global_clipnorm = settings.get("global_clipnorm")
    if global_clipnorm is not None:
        total = sum(float(tg.reduce_sum(tg.square(tg.cast(g, tg.float64))).numpy())
                    for g in grads)
        norm = math.sqrt(total)
        if not math.isfinite(norm):
            # as tf.clip_by_global_norm: a non-finite norm makes every gradient NaN
            grads = [g * float("nan") for g in grads]
        elif norm > global_clipnorm:
            grads = [g * (global_clipnorm / norm) for g in grads]
    clipvalue = settings.get("clipvalue")
    if clipvalue is not None:
        grads = [tg.clip_by_value(g, -clipvalue, clipvalue) for g in grads]
    return [(g, v) for g, (_, v) in zip(grads, pairs)]
