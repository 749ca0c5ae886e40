"""More of ``tg.nn``, all compositions of existing primitives (their gradients, of every
order, come from the primitives'): selu, gelu, swish/silu, l2_normalize, embedding_lookup,
and the non-differentiable in_top_k.

Re-exported by ``tapegrad.ops.nn``; kept apart so that module stays about primitives.
"""

import math

import numpy as np

from tapegrad.ops._registry import int_arg, norm_axes, tensor
from tapegrad.ops.elementwise import abs as tg_abs
from tapegrad.ops.elementwise import (
    add,
    divide,
    expm1,
    greater,
    maximum,
    multiply,
    rsqrt,
    sigmoid,
    square,
    tanh,
    where,
)
from tapegrad.ops.indexing import gather
from tapegrad.ops.linalg import clip_by_norm
from tapegrad.ops.reductions import reduce_sum
from tapegrad.ops.shape import _fmt

__all__ = ["selu", "gelu", "swish", "silu", "softsign", "l2_normalize", "embedding_lookup",
           "in_top_k"]

# SELU's fixed point constants (Klambauer et al. 2017), as TF and PyTorch use them.
_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def _float(x, op):
    t = tensor(x, op=op)
    if t.dtype.kind != "f":
        raise TypeError("%s: features must be floating, got %s" % (op, t.dtype.name))
    return t


def selu(features, name=None):
    """scale * (x if x > 0 else alpha * (exp(x) - 1)), the self-normalizing ELU."""
    x = _float(features, "selu")
    pos = greater(x, 0)
    # expm1 sees only the non-positive side, so a large x never overflows into the
    # unused branch (whose zero cotangent would otherwise meet an inf).
    neg = multiply(expm1(where(pos, 0, x)), _SELU_ALPHA)
    return multiply(where(pos, x, neg), _SELU_SCALE)


def softsign(features, name=None):
    """x / (1 + |x|)."""
    x = _float(features, "softsign")
    return divide(x, add(tg_abs(x), 1.0))


def gelu(features, approximate=False, name=None):
    """x * P(X <= x) for X ~ N(0, 1) (Hendrycks and Gimpel).

    ``approximate=True`` is the tanh form ``0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))``;
    the exact form uses ``tg.math.erf``.
    """
    x = _float(features, "gelu")
    if approximate:
        inner = multiply(add(x, multiply(multiply(square(x), x), 0.044715)),
                         math.sqrt(2.0 / math.pi))
        return multiply(multiply(x, 0.5), add(tanh(inner), 1.0))
    # (through the tg.math namespace: ops.special reaches this module through nn, so a
    # direct import would close a cycle)
    from tapegrad.math import erf

    return multiply(multiply(x, 0.5), add(erf(multiply(x, 1.0 / math.sqrt(2.0))), 1.0))


def swish(features, beta=1.0, name=None):
    """x * sigmoid(beta * x) (SiLU when beta = 1)."""
    return _swish(features, beta, "swish")


def silu(features, beta=1.0, name=None):
    """x * sigmoid(beta * x): :func:`swish` under PyTorch's and Keras' name."""
    return _swish(features, beta, "silu")


def _swish(features, beta, op):
    x = _float(features, op)
    return multiply(x, sigmoid(x if beta == 1.0 else multiply(x, beta)))


def l2_normalize(x, axis=None, epsilon=1e-12, name=None):
    """x / sqrt(max(sum(x**2, axis), epsilon)): unit L2 norm along ``axis`` (all if None).

    The floor ``epsilon`` keeps an all-zero slice finite (it stays zero) and its gradient
    finite, as in TF."""
    x = _float(x, "l2_normalize")
    axes = norm_axes(axis, x.ndim, "l2_normalize")
    ss = reduce_sum(square(x), axes, keepdims=True)
    return multiply(x, rsqrt(maximum(ss, float(epsilon))))


def embedding_lookup(params, ids, max_norm=None, name=None):
    """Rows of ``params`` (a tensor, or a list of shards split by the "mod" strategy as
    TF 1.x's default does) at ``ids``; rows with an L2 norm above ``max_norm`` are
    scaled down to it.  Gradients flow to ``params``."""
    return _embedding_lookup(params, ids, "mod", max_norm, "embedding_lookup")


def _embedding_lookup(params, ids, strategy, max_norm, op):
    if isinstance(params, (list, tuple)):
        if not params:
            raise ValueError("%s: params is an empty list" % op)
        shards = [tensor(p, op=op) for p in params]
    else:
        shards = [tensor(params, op=op)]
    ids = tensor(ids, op=op)
    if ids.dtype.kind not in "iu":
        raise TypeError("%s: ids must be integers, got %s" % (op, ids.dtype.name))
    if any(s.ndim < 1 for s in shards):
        raise ValueError("%s: params must have rank >= 1" % op)
    if any(s.shape[1:] != shards[0].shape[1:] or s.dtype != shards[0].dtype for s in shards):
        raise ValueError("%s: the params shards differ in row shape or dtype: %s"
                         % (op, ", ".join("%s %s" % (_fmt(s.shape), s.dtype.name)
                                          for s in shards)))
    if len(shards) == 1:
        table, pos = shards[0], ids
    else:
        table, pos = _sharded_positions(shards, ids.numpy(), strategy, op)
    total = table.shape[0]
    idx = np.asarray(pos)
    if idx.size and (idx.min() < 0 or idx.max() >= total):
        raise ValueError("%s: ids must be in [0, %d), got values in [%d, %d]"
                         % (op, total, int(np.min(ids.numpy())), int(np.max(ids.numpy()))))
    rows = gather(table, pos)
    if max_norm is not None:
        axes = list(range(ids.ndim, rows.ndim))
        rows = clip_by_norm(rows, float(max_norm), axes=axes) if axes else rows
    return rows


def _sharded_positions(shards, ids, strategy, op):
    """The shards concatenated into one table, and each id's row in it."""
    from tapegrad.ops.shape import concat

    n = len(shards)
    sizes = np.array([s.shape[0] for s in shards], dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    ids = ids.astype(np.int64)
    if strategy == "mod":
        shard, row = ids % n, ids // n
    elif strategy == "div":
        # TF's "div" gives each shard a contiguous block of ids, so the concatenated
        # shards are the table itself.
        return concat(shards, 0), ids
    else:
        raise ValueError("%s: partition_strategy must be 'mod' or 'div', got %r"
                         % (op, strategy))
    shard_c = np.clip(shard, 0, n - 1)
    bad = (ids < 0) | (row >= sizes[shard_c])
    if bad.any():
        raise ValueError("%s: ids out of range for %d shards of %s rows: %s"
                         % (op, n, sizes.tolist(), ids[bad][:5].tolist()))
    return concat(shards, 0), starts[shard_c] + row


def in_top_k(targets, predictions, k, name=None):
    """Whether ``targets[i]`` is among the ``k`` largest of ``predictions[i]`` (TF 2 order).

    Ties count for the target, as in TF: it is in when fewer than ``k`` classes score
    strictly higher.  A non-finite row gives False."""
    preds = tensor(predictions, op="in_top_k").numpy()
    tg_targets = tensor(targets, op="in_top_k").numpy()
    if preds.ndim != 2 or tg_targets.ndim != 1 or preds.shape[0] != tg_targets.shape[0]:
        raise ValueError("in_top_k: predictions must be [batch, classes] and targets [batch], "
                         "got %s and %s" % (_fmt(preds.shape), _fmt(tg_targets.shape)))
    if preds.dtype.kind != "f" or tg_targets.dtype.kind not in "iu":
        raise TypeError("in_top_k: predictions must be floating and targets integers, got "
                        "%s and %s" % (preds.dtype.name, tg_targets.dtype.name))
    k = int_arg(k, "k", "in_top_k")
    n, classes = preds.shape
    valid = (tg_targets >= 0) & (tg_targets < classes)
    if classes == 0:
        return tensor(np.zeros(n, dtype=bool), op="in_top_k")
    t = np.clip(tg_targets, 0, classes - 1).astype(np.int64)
    target_score = preds[np.arange(n), t]
    higher = np.sum(preds > target_score[:, None], axis=1)
    finite = np.isfinite(preds).all(axis=1)
    out = valid & finite & (higher < k)
    return tensor(out, op="in_top_k")
