"""Sorting and searching: sort, argsort, top_k, searchsorted, unique.

``sort`` is a primitive whose forward is NumPy's sort; its rules recompute the (stable)
permutation from the saved input and route gradients through ``take_along_axis``, so
equal values keep TF's order (the earlier index first) in both directions.  argsort,
searchsorted and unique return integers and are not differentiable.
"""

import numpy as np

from tapegrad import _core
from tapegrad.ops._registry import (
    NUMERIC,
    int_arg,
    norm_axis,
    not_differentiable,
    primitive,
    tensor,
)


def _argsort_np(x, axis, descending):
    """Stable argsort; descending keeps equal values in increasing index order."""
    if not descending:
        return np.argsort(x, axis=axis, kind="stable")
    n = x.shape[axis]
    rev = np.flip(x, axis)
    idx = np.flip(np.argsort(rev, axis=axis, kind="stable"), axis)
    return (n - 1) - idx


def _direction(direction, op):
    d = str(direction).upper()
    if d not in ("ASCENDING", "DESCENDING"):
        raise ValueError("%s: direction must be 'ASCENDING' or 'DESCENDING', got %r"
                         % (op, direction))
    return d == "DESCENDING"


# ---------------------------------------------------------------------------
# take_along_axis and its adjoint (the gradient path of sort and top_k)

def _check_along(x, idx, axis, op):
    if idx.dtype.kind not in "iu":
        raise TypeError("%s: indices must be integers, got %s" % (op, idx.dtype))
    n = x.shape[axis] if x.ndim else 0
    if idx.size and (idx.min() < -n or idx.max() >= n):
        raise IndexError("%s: indices out of range [-%d, %d) for axis %d of shape %s"
                         % (op, n, n, axis, x.shape))


@primitive("take_along_axis", same_dtype=(), save_output=False)
def _take_along(x, idx, axis):
    """out[..., i, ...] = x[..., idx[..., i, ...], ...] along ``axis``."""
    _check_along(x, idx, axis, "take_along_axis")
    return np.take_along_axis(x, idx, axis=axis)


@_take_along.defvjp
def _take_along_vjp(g, ans, x, idx, axis):
    return _take_along_grad(g, idx, shape=x.shape, axis=axis), None


@_take_along.defjvp
def _take_along_jvp(ts, ans, x, idx, axis):
    return None if ts[0] is None else _take_along(ts[0], idx, axis=axis)


@primitive("take_along_axis_grad", same_dtype=(), save_output=False)
def _take_along_grad(g, idx, shape, axis):
    """Adjoint of take_along_axis: zeros of ``shape`` with g added at idx (repeats add)."""
    out = np.zeros(shape, dtype=g.dtype)
    grids = list(np.ix_(*[np.arange(d) for d in idx.shape])) if idx.ndim else []
    grids[axis] = idx
    np.add.at(out, tuple(np.broadcast_arrays(*grids)), g)
    return out


@_take_along_grad.defvjp
def _take_along_grad_vjp(gg, ans, g, idx, shape, axis):
    return _take_along(gg, idx, axis=axis), None


@_take_along_grad.defjvp
def _take_along_grad_jvp(ts, ans, g, idx, shape, axis):
    return None if ts[0] is None else _take_along_grad(ts[0], idx, shape=shape, axis=axis)


def take_along_axis(arr, indices, axis):
    """NumPy's take_along_axis, differentiable in ``arr``; indices are range-checked."""
    x = tensor(arr, op="take_along_axis")
    idx = tensor(indices, op="take_along_axis")
    if axis is None:
        raise ValueError("take_along_axis: axis=None is not supported; flatten first")
    if x.ndim == 0 or idx.ndim != x.ndim:
        raise ValueError("take_along_axis: indices (shape %s) must have the rank of arr "
                         "(shape %s), which must be >= 1" % (idx.shape, x.shape))
    axis = norm_axis(axis, x.ndim, "take_along_axis")
    try:
        np.broadcast_shapes(tuple(d for i, d in enumerate(x.shape) if i != axis),
                            tuple(d for i, d in enumerate(idx.shape) if i != axis))
    except ValueError:
        raise ValueError("take_along_axis: shapes %s and %s do not broadcast outside axis %d"
                         % (x.shape, idx.shape, axis)) from None
    return _take_along(x, idx, axis=axis)


# ---------------------------------------------------------------------------
# sort / argsort / top_k

@primitive("sort", dtypes=NUMERIC, save_output=False)
def _sort(x, axis, descending):
    """Values sorted along ``axis``."""
    if descending:
        return np.take_along_axis(x, _argsort_np(x, axis, True), axis=axis)
    return np.sort(x, axis=axis)


def _perm(x, axis, descending):
    # the sorting permutation as an op (not a host read), so tg.function traces it
    return _argsort(x, axis=axis, descending=descending, out_dtype=np.dtype(np.int64))


@_sort.defvjp
def _sort_vjp(g, ans, x, axis, descending):
    return _take_along_grad(g, _perm(x, axis, descending), shape=x.shape, axis=axis)


@_sort.defjvp
def _sort_jvp(ts, ans, x, axis, descending):
    return _take_along(ts[0], _perm(x, axis, descending), axis=axis)


@not_differentiable("argsort", dtypes=NUMERIC)
def _argsort(x, axis, descending, out_dtype):
    """Stable sorting permutation along ``axis``."""
    return _argsort_np(x, axis, descending).astype(out_dtype, copy=False)


def _sort_args(values, axis, op):
    x = tensor(values, op=op)
    if x.ndim == 0:
        raise ValueError("%s: input must have rank >= 1, got a scalar" % op)
    if x.dtype == np.bool_:
        raise TypeError("%s: bool input is not supported" % op)
    return x, norm_axis(axis, x.ndim, op)


def sort(values, axis=-1, direction="ASCENDING", name=None):
    """Sorted values along ``axis`` (NaNs last in ASCENDING order, as in NumPy)."""
    desc = _direction(direction, "sort")
    x, axis = _sort_args(values, axis, "sort")
    return _sort(x, axis=axis, descending=desc)


def argsort(values, axis=-1, direction="ASCENDING", stable=False, name=None):
    """int32 indices that sort ``values`` along ``axis`` (always stable here)."""
    desc = _direction(direction, "argsort")
    x, axis = _sort_args(values, axis, "argsort")
    return _argsort(x, axis=axis, descending=desc, out_dtype=np.dtype(np.int32))


def top_k(input, k=1, sorted=True, name=None):
    """The ``k`` largest entries of the last axis and their int32 indices.

    Equal values keep the lower index first; ``sorted=False`` returns them in the same
    (sorted) order, which TF allows.
    """
    x, _ = _sort_args(input, -1, "top_k")
    k = int_arg(k, "k", "top_k")
    n = x.shape[-1]
    if not 0 <= k <= n:
        raise ValueError("top_k: k=%d must be in [0, %d] (the last axis of shape %s)"
                         % (k, n, x.shape))
    idx = _perm(x, x.ndim - 1, True)[..., :k]
    from tapegrad.ops.elementwise import cast

    return _take_along(x, idx, axis=x.ndim - 1), cast(idx, np.int32)


# ---------------------------------------------------------------------------
# searchsorted / unique

@not_differentiable("searchsorted", dtypes=NUMERIC, same_dtype=(0, 1))
def _searchsorted(seq, values, side, out_dtype):
    """Row-wise insertion points of ``values`` into the sorted rows of ``seq``."""
    if seq.ndim == 1:
        return np.searchsorted(seq, values, side=side).astype(out_dtype)
    lead = seq.shape[:-1]
    s2 = seq.reshape(-1, seq.shape[-1])
    v2 = values.reshape(-1, values.shape[-1])
    out = np.empty(v2.shape, dtype=out_dtype)
    for i in range(s2.shape[0]):
        out[i] = np.searchsorted(s2[i], v2[i], side=side)
    return out.reshape(lead + (values.shape[-1],))


def searchsorted(sorted_sequence, values, side="left", out_type=np.int32, name=None):
    """For each row, where ``values`` would be inserted to keep ``sorted_sequence`` sorted."""
    seq = tensor(sorted_sequence, op="searchsorted")
    vals = tensor(values, op="searchsorted")
    if side not in ("left", "right"):
        raise ValueError("searchsorted: side must be 'left' or 'right', got %r" % (side,))
    if seq.ndim == 0 or vals.ndim == 0 or seq.shape[:-1] != vals.shape[:-1]:
        raise ValueError("searchsorted: sorted_sequence %s and values %s must have rank >= 1 "
                         "and the same leading dimensions" % (seq.shape, vals.shape))
    if seq.dtype != vals.dtype:
        raise TypeError("searchsorted: dtypes differ: %s and %s" % (seq.dtype, vals.dtype))
    out = np.dtype(out_type.as_numpy_dtype if hasattr(out_type, "as_numpy_dtype") else out_type)
    if out not in (np.int32, np.int64):
        raise TypeError("searchsorted: out_type must be int32 or int64, got %s" % out)
    return _searchsorted(seq, vals, side=side, out_dtype=out)


def _unique_np(x, out_idx):
    if x.ndim != 1:
        raise ValueError("unique: input must be 1-D, got shape %s" % (x.shape,))
    vals, first, inverse, counts = np.unique(x, return_index=True, return_inverse=True,
                                             return_counts=True)
    # TF keeps the order of first appearance, not sorted order
    order = np.argsort(first, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    out = np.dtype(out_idx.as_numpy_dtype if hasattr(out_idx, "as_numpy_dtype") else out_idx)
    if out not in (np.int32, np.int64):
        raise TypeError("unique: out_idx must be int32 or int64, got %s" % out)
    return (vals[order], rank[inverse.reshape(-1)].astype(out),
            counts[order].astype(out))


def unique(x, out_idx=np.int32, name=None):
    """(y, idx): the distinct values in order of first appearance, and x == y[idx]."""
    y, idx, _ = _unique_np(tensor(x, op="unique").numpy(), out_idx)
    return _core.wrap(y), _core.wrap(idx)


def unique_with_counts(x, out_idx=np.int32, name=None):
    """(y, idx, count): unique() plus how often each distinct value occurs."""
    y, idx, count = _unique_np(tensor(x, op="unique_with_counts").numpy(), out_idx)
    return _core.wrap(y), _core.wrap(idx), _core.wrap(count)


__all__ = ["sort", "argsort", "top_k", "searchsorted", "unique", "unique_with_counts",
           "take_along_axis"]


# ---------------------------------------------------------------------------
# rules of the other transforms (tg.jet, tg.vmap, tg.onnx), beside the forwards

def _transform_rules():
    from tapegrad import _core
    from tapegrad.ops import _batching as Bt
    from tapegrad.ops._registry import NotSupported

    reg = _core.registered()
    take, take_grad = reg["take_along_axis"].cpu, reg["take_along_axis_grad"].cpu

    def sort_taylor(x, axis, descending):
        # piecewise linear: the permutation of the primal carries every coefficient
        perm = _argsort_np(x[0], axis, descending)
        return np.stack([np.take_along_axis(x[k], perm, axis=axis)
                         for k in range(x.shape[0])])

    def take_taylor(x, idx, axis):
        return np.stack([take(x[k], idx[0], axis=axis) for k in range(x.shape[0])])

    def take_grad_taylor(g, idx, shape, axis):
        return np.stack([take_grad(g[k], idx[0], shape=shape, axis=axis)
                         for k in range(g.shape[0])])

    reg["sort"].defrule("taylor", sort_taylor)
    reg["take_along_axis"].defrule("taylor", take_taylor)
    reg["take_along_axis_grad"].defrule("taylor", take_grad_taylor)

    def take_batch(prim, B, args, bdims, axis):
        x, idx = [Bt.materialize(a, bd, B) for a, bd in zip(args, bdims)]
        return prim(x, idx, axis=axis + 1)

    def take_grad_batch(prim, B, args, bdims, shape, axis):
        g, idx = [Bt.materialize(a, bd, B) for a, bd in zip(args, bdims)]
        return prim(g, idx, shape=(B,) + tuple(shape), axis=axis + 1)

    reg["sort"].defrule("batch", Bt.shift_axes("axis"))
    reg["argsort"].defrule("batch", Bt.shift_axes("axis"))
    reg["take_along_axis"].defrule("batch", take_batch)
    reg["take_along_axis_grad"].defrule("batch", take_grad_batch)
    reg["searchsorted"].defrule("batch", Bt.loop)
    for name in ("sort", "argsort", "searchsorted", "take_along_axis",
                 "take_along_axis_grad"):
        reg[name].defrule("onnx", NotSupported("not mapped to ONNX yet"))


_transform_rules()
