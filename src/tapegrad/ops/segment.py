"""Segment reductions: segment_{sum,mean,max,min,prod} (sorted ids) and
unsorted_segment_{sum,mean,max,min,prod} (any ids, ``num_segments`` outputs).

Ids are checked before anything is written: an id >= num_segments (or a negative or
unsorted id for the sorted family) raises ``IndexError``; negative ids in the unsorted
family drop their rows, as in TF.  Empty segments give 0 (sum, mean), 1 (prod), the
dtype's lowest value (max) or highest value (min), as in TF.

sum is the gather_grad primitive (a scatter-add); mean divides by the counts; max and
min are the scatter-add of the selected entries (ties share the gradient equally, as in
TF) anchored to the exact extremum; prod is a primitive whose rules stay finite and
exact with zeros in a segment.
"""

import numpy as np

from tapegrad import _core, _kernels
from tapegrad.ops import elementwise as E
from tapegrad.ops import indexing as I
from tapegrad.ops import shape as S
from tapegrad.ops._registry import (
    NUMERIC,
    host_array,
    int_arg,
    primitive,
    renamed,
    tensor,
)


def _lowest(dtype, is_max):
    if dtype.kind == "f":
        info = np.finfo(dtype)
        return info.min if is_max else info.max
    info = np.iinfo(dtype)
    return info.min if is_max else info.max


def _ids_array(segment_ids, op):
    ids = host_array(segment_ids, "segment_ids", op)
    if ids.dtype.kind not in "iu":
        if ids.size == 0:
            return ids.astype(np.int64)
        raise TypeError("%s: segment_ids must be integers, got %s" % (op, ids.dtype))
    return ids


def _prepare(data, segment_ids, num_segments, op, sorted_ids):
    """data as (N, rest) rows, their segment number (negatives dropped) and the count."""
    x = tensor(data, op=op)
    ids = _ids_array(segment_ids, op)
    if sorted_ids and ids.ndim != 1:
        raise ValueError("%s: segment_ids must be 1-D, got shape %s" % (op, ids.shape))
    if tuple(x.shape[:ids.ndim]) != ids.shape:
        raise ValueError("%s: segment_ids shape %s must be a prefix of data shape %s"
                         % (op, ids.shape, x.shape))
    if sorted_ids:
        if ids.size and (ids[0] < 0 or (ids[1:] < ids[:-1]).any()):
            raise IndexError("%s: segment_ids must be sorted and non-negative, got %s"
                             % (op, ids.tolist() if ids.size < 20 else "an unsorted array"))
        num = int(ids[-1]) + 1 if ids.size else 0
    else:
        num = int_arg(num_segments, "num_segments", op, minimum=0)
        if ids.size and ids.max() >= num:
            raise IndexError("%s: segment id %d is out of range [0, %d)"
                             % (op, int(ids.max()), num))
    rest = tuple(x.shape[ids.ndim:])
    # possibly a view of the caller's ids: _ids() copies it before a tensor (which a
    # tape may keep for the backward pass) holds it; max/min without ties never do
    flat = ids.reshape(-1).astype(np.intp, copy=False)
    rows = S.reshape(x, (flat.size,) + rest)
    # sorted ids were checked non-negative above; unsorted ones drop their negatives
    if not sorted_ids and flat.size and flat.min() < 0:
        sel = np.flatnonzero(flat >= 0)
        rows = I._gather(rows, _core.wrap(sel), axis=0)
        flat = flat[sel]
    return rows, flat, num


def _ids(flat):
    """flat as a tensor that owns its memory (a caller's later write to their segment ids
    must not reach a tape that saved them)."""
    return _core.wrap(flat if flat.base is None and flat.flags.owndata else flat.copy())


def _segment_sum(rows, flat, num):
    return I._gather_grad(rows, _ids(flat), shape=(num,) + tuple(rows.shape[1:]), axis=0)


def _counts(flat, num, rows, dtype):
    c = np.bincount(flat, minlength=num).astype(dtype)
    return c.reshape((num,) + (1,) * (rows.ndim - 1))


def _segment_mean(rows, flat, num):
    s = _segment_sum(rows, flat, num)
    c = _counts(flat, num, rows, s.dtype)
    return E.divide(s, _core.wrap(np.maximum(c, 1)))


def _segment_extremum(rows, flat, num, is_max, op):
    """max/min per segment: exact values, the gradient split among the tied entries."""
    data = rows.numpy()
    if data.ndim == 1 and data.size and data.dtype.kind == "f":
        # one pass gives the extremum, each segment's first winner and its tie count
        got = _kernels.segment_select(data, flat, num, is_max)
        if got is not None:
            m, arg, cnt = got
            finite = np.isfinite(m)
            if not ((cnt > 1) & finite).any():
                # no ties (the usual case for floats): a plain gather of each segment's
                # winner, exact, with gather's cheap rules
                one = (cnt == 1) & finite
                won = I._gather(rows, _core.wrap(np.where(one, arg, 0).astype(np.intp)),
                                axis=0)
                return E.where(_core.wrap(one), won, _core.wrap(m))
    fill = _lowest(data.dtype, is_max)
    m = np.full((num,) + data.shape[1:], fill, dtype=data.dtype)
    (np.maximum if is_max else np.minimum).at(m, flat, data)
    picked = m[flat]
    sel = (data == picked) & np.isfinite(picked) if data.dtype.kind == "f" else data == picked
    if data.dtype.kind != "f":
        return _core.wrap(m)  # integer results carry no gradient
    if data.ndim == 1 and data.size:
        hits = flat[sel]
        cnt1 = np.bincount(hits, minlength=num)
        if cnt1.max(initial=0) <= 1:
            # no ties (the usual case for floats): the result is a plain gather of each
            # segment's winner, exact, with gather's cheap rules
            winner = np.zeros(num, dtype=np.intp)
            winner[hits] = np.flatnonzero(sel)
            won = I._gather(rows, _core.wrap(winner), axis=0)
            return E.where(_core.wrap(cnt1 == 1), won, _core.wrap(m))
    cnt = np.zeros(m.shape, dtype=data.dtype)
    np.add.at(cnt, flat, sel)
    w = np.where(sel, 1.0 / np.maximum(cnt[flat], 1), 0).astype(data.dtype)
    contrib = E.multiply(E.where(_core.wrap(sel), rows, E.zeros_like(rows)), _core.wrap(w))
    s = _segment_sum(contrib, flat, num)
    # value: exactly m; derivative: the weighted scatter of the selected entries
    return E.add(_core.wrap(m), E.subtract(s, E.stop_gradient(s)))


# ---------------------------------------------------------------------------
# prod

def _seg_scan_prod(u, seg):
    """Inclusive running product down axis 0 that restarts at each segment boundary
    (``seg`` sorted): a log-depth scan of multiplies, differentiable at any order."""
    from tapegrad.ops.cumulative import _shift

    n, s, y = u.shape[0], 1, u
    one = E.ones_like(u)
    tail = (1,) * (u.ndim - 1)
    while s < n:
        same = np.zeros(n, dtype=bool)
        same[s:] = seg[s:] == seg[:-s]
        y = E.multiply(y, E.where(_core.wrap(same.reshape((n,) + tail)), _shift(y, s, 1, 0),
                                  one))
        s *= 2
    return y


def _seg_exclusive_prod(u, seg):
    from tapegrad.ops.cumulative import _shift

    n = u.shape[0]
    same = np.zeros(n, dtype=bool)
    same[1:] = seg[1:] == seg[:-1]
    shifted = E.where(_core.wrap(same.reshape((n,) + (1,) * (u.ndim - 1))), _shift(u, 1, 1, 0),
                      E.ones_like(u))
    return _seg_scan_prod(shifted, seg)


def _prod_factor(x, flat, num):
    """d prod_s / d x_i: the product of the segment's other entries, as exclusive
    running products from both ends; exact with zeros, at every order."""
    perm = np.argsort(flat, kind="stable")
    seg = flat[perm]
    xs = I._gather(x, _core.wrap(perm), axis=0)
    left = _seg_exclusive_prod(xs, seg)
    rev = (slice(None, None, -1),)
    right = I._getitem(_seg_exclusive_prod(I._getitem(xs, key=rev), seg[::-1]), key=rev)
    inv = np.empty_like(perm)
    inv[perm] = np.arange(perm.size)
    return I._gather(E.multiply(left, right), _core.wrap(inv), axis=0)


def _gather_rows(t, flat):
    return I._gather(t, _ids(flat), axis=0)


@primitive("unsorted_segment_prod", dtypes=NUMERIC, same_dtype=(0,), save_output=False,
           quiet=True)
def _segment_prod(rows, flat, num):
    """Product of the rows in each segment (1 for an empty one)."""
    out = np.ones((num,) + rows.shape[1:], dtype=rows.dtype)
    np.multiply.at(out, np.asarray(flat), rows)
    return out


@_segment_prod.defvjp
def _segment_prod_vjp(g, ans, rows, flat, num):
    f = np.asarray(flat)
    return E.multiply(_gather_rows(g, f), _prod_factor(rows, f, num)), None


@_segment_prod.defjvp
def _segment_prod_jvp(ts, ans, rows, flat, num):
    f = np.asarray(flat)
    return _segment_sum(E.multiply(ts[0], _prod_factor(rows, f, num)), f, num)


# ---------------------------------------------------------------------------
# public API

def _reducer(kind):
    if kind == "sum":
        return lambda rows, flat, num, op: _segment_sum(rows, flat, num)
    if kind == "mean":
        return lambda rows, flat, num, op: _segment_mean(rows, flat, num)
    if kind == "prod":
        return lambda rows, flat, num, op: _segment_prod(rows, _ids(flat), num=num)
    is_max = kind == "max"
    return lambda rows, flat, num, op: _segment_extremum(rows, flat, num, is_max, op)


def _run(red, rows, flat, num, op):
    # num_segments sizes the output: a huge one fails to allocate in NumPy (outside the
    # dispatch, or inside a helper primitive such as gather_grad), named here by the op
    try:
        return red(rows, flat, num, op)
    except MemoryError as e:
        raise MemoryError("%s: cannot allocate the output for %d segments of shape %s "
                          "(%s)" % (op, num, tuple(rows.shape[1:]), e)) from None
    except ValueError as e:
        if str(e).startswith(op + ":"):
            raise
        raise renamed(e, op) from None   # e.g. NumPy's "Maximum allowed dimension exceeded"


def _unsorted(kind):
    op = "unsorted_segment_" + kind
    red = _reducer(kind)

    def fn(data, segment_ids, num_segments, name=None):
        rows, flat, num = _prepare(data, segment_ids, num_segments, op, False)
        return _run(red, rows, flat, num, op)

    fn.__name__ = fn.__qualname__ = op
    fn.__doc__ = ("The %s of the rows of ``data`` in each of ``num_segments`` segments "
                  "(rows with a negative id are dropped)." % kind)
    return fn


def _sorted(kind):
    op = "segment_" + kind
    red = _reducer(kind)

    def fn(data, segment_ids, name=None):
        rows, flat, num = _prepare(data, segment_ids, None, op, True)
        return _run(red, rows, flat, num, op)

    fn.__name__ = fn.__qualname__ = op
    fn.__doc__ = ("The %s of the rows of ``data`` in each segment; ``segment_ids`` is "
                  "sorted, and there are ids[-1] + 1 segments." % kind)
    return fn


segment_sum = _sorted("sum")
segment_mean = _sorted("mean")
segment_max = _sorted("max")
segment_min = _sorted("min")
segment_prod = _sorted("prod")
unsorted_segment_sum = _unsorted("sum")
unsorted_segment_mean = _unsorted("mean")
unsorted_segment_max = _unsorted("max")
unsorted_segment_min = _unsorted("min")
unsorted_segment_prod = _unsorted("prod")


# ---------------------------------------------------------------------------
# rules of the other transforms (tg.jet, tg.vmap, tg.onnx), beside the forwards

def _transform_rules():
    from tapegrad import _core
    from tapegrad.ops import _batching as Bt
    from tapegrad.ops._registry import NotSupported

    prim = _core.registered()["unsorted_segment_prod"]
    prim.defrule("taylor", NotSupported("no Taylor rule for segment products yet"))
    prim.defrule("batch", Bt.loop)
    prim.defrule("onnx", NotSupported("not mapped to ONNX yet"))


_transform_rules()
