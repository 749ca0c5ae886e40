"""N-d gathers and scatters: gather with batch_dims, gather_nd, scatter_nd and the
tensor_scatter_nd_* family.

Every index is checked against the shape it addresses before any memory is touched:
an out-of-range index raises ``IndexError`` naming the op, the offending index and the
shape (TF's CPU kernels do the same), never reads or writes outside a buffer.  The ops
are compositions of the gather / gather_grad primitives over a flattened leading
block, except ``tensor_scatter_nd_update``, whose overwrite needs a primitive of its own.
"""

import math

import numpy as np

from tapegrad import _core
from tapegrad.ops import elementwise as E
from tapegrad.ops import indexing as I
from tapegrad.ops import shape as S
from tapegrad.ops._registry import (
    host_array,
    norm_axis,
    norm_shape,
    primitive,
    renamed,
    tensor,
)


def _index_array(indices, op):
    idx = host_array(indices, "indices", op)
    if idx.dtype.kind not in "iu":
        if idx.size == 0:
            idx = idx.astype(np.int64)
        else:
            raise TypeError("%s: indices must be integers, got %s" % (op, idx.dtype))
    return idx


def _flat_index(idx, shape, op):
    """(..., K) int coordinates into ``shape[:K]`` → (...) flat row numbers, checked."""
    k = idx.shape[-1]
    dims = shape[:k]
    for j, d in enumerate(dims):
        col = idx[..., j]
        if col.size and (col.min() < 0 or col.max() >= d):
            bad = col[(col < 0) | (col >= d)].ravel()[0]
            raise IndexError("%s: index %d in column %d is out of range [0, %d) for shape %s"
                             % (op, int(bad), j, d, tuple(shape)))
    if k == 0:
        return np.zeros(idx.shape[:-1], dtype=np.intp)
    if k == 1:  # rows already (checked above): skip ravel_multi_index's copies
        return idx[..., 0].astype(np.intp, copy=False)
    return np.ravel_multi_index(tuple(np.moveaxis(idx, -1, 0)), dims).astype(np.intp)


def _check_nd(idx, rank_avail, op):
    if idx.ndim == 0:
        raise ValueError("%s: indices must have rank >= 1 (the last axis holds coordinates)"
                         % op)
    if idx.shape[-1] > rank_avail:
        raise ValueError("%s: indices.shape[-1] = %d exceeds the rank %d it indexes"
                         % (op, idx.shape[-1], rank_avail))


def gather_nd(params, indices, batch_dims=0, name=None):
    """Slices of ``params`` at the coordinates in the last axis of ``indices`` (TF's)."""
    p = tensor(params, op="gather_nd")
    idx = _index_array(indices, "gather_nd")
    b = int(batch_dims)
    if b < 0 or b >= max(p.ndim, 1) or (idx.ndim and b >= idx.ndim):
        if b:
            raise ValueError("gather_nd: batch_dims=%d must be less than the ranks of params "
                             "%s and indices %s" % (b, p.shape, idx.shape))
    _check_nd(idx, p.ndim - b, "gather_nd")
    if b:
        if idx.shape[:b] != p.shape[:b]:
            raise ValueError("gather_nd: batch dimensions differ: params %s, indices %s"
                             % (p.shape, idx.shape))
        grids = np.indices(idx.shape[:-1])[:b]
        idx = np.concatenate([np.moveaxis(grids, 0, -1), idx], axis=-1)
    k = idx.shape[-1]
    flat = _flat_index(idx, p.shape, "gather_nd")
    rows = S.reshape(p, (math.prod(p.shape[:k]),) + p.shape[k:])
    # 1-D indices give a NumPy scalar here (one full-depth index: a scalar result)
    return I._gather(rows, _core.wrap(np.asarray(flat)), axis=0)


def _scatter_rows(idx, updates, shape, op):
    """updates reshaped to (N, rest) rows and their flat row numbers in shape[:K]."""
    _check_nd(idx, len(shape), op)
    k = idx.shape[-1]
    want = idx.shape[:-1] + tuple(shape[k:])
    if tuple(updates.shape) != want:
        raise ValueError("%s: updates have shape %s; indices %s into shape %s need %s"
                         % (op, updates.shape, idx.shape, tuple(shape), want))
    flat = _flat_index(idx, tuple(shape), op).reshape(-1)
    rest = tuple(shape[k:])
    return flat, S.reshape(updates, (flat.size,) + rest), (math.prod(shape[:k]),) + rest


def scatter_nd(indices, updates, shape, name=None):
    """Zeros of ``shape`` with ``updates`` added at ``indices`` (duplicates add, as in TF)."""
    upd = tensor(updates, op="scatter_nd")
    # norm_shape rejects float entries (int(3.5) would silently make a shape of 3)
    shape = norm_shape(shape.numpy().reshape(-1) if isinstance(shape, _core.Tensor)
                       else shape, "scatter_nd")
    if any(d < 0 for d in shape):
        raise ValueError("scatter_nd: shape %s has a negative dimension" % (shape,))
    idx = _index_array(indices, "scatter_nd")
    flat, rows, row_shape = _scatter_rows(idx, upd, shape, "scatter_nd")
    try:
        out = I._gather_grad(rows, _core.wrap(flat), shape=row_shape, axis=0)
    except (MemoryError, ValueError) as e:
        # the output is allocated by the helper primitive gather_grad: name scatter_nd
        raise renamed(e, "scatter_nd") from None
    return S.reshape(out, shape)


@primitive("tensor_scatter_update", same_dtype=(0, 2), save_output=False)
def _scatter_update(t, flat, upd, winners):
    """Rows ``flat`` of t overwritten by ``upd`` (for repeated rows the last one wins)."""
    out = np.array(t, copy=True)
    out[flat[winners]] = upd[winners]
    return out


def _hit_mask(flat, rows_shape):
    hit = np.zeros(rows_shape[0], dtype=bool)
    hit[flat] = True
    return _core.wrap(hit.reshape((-1,) + (1,) * (len(rows_shape) - 1)))


def flat_winners(flat):
    """True at the last occurrence of each row number (the update that lands)."""
    win = np.zeros(flat.size, dtype=bool)
    if flat.size:
        _, last = np.unique(flat[::-1], return_index=True)
        win[flat.size - 1 - last] = True
    return win


@_scatter_update.defvjp
def _scatter_update_vjp(g, ans, t, flat, upd, winners):
    flat_np = np.asarray(flat)
    zero = E.zeros_like(g)
    gt = E.where(_hit_mask(flat_np, g.shape), zero, g)
    gu = I._gather(g, flat, axis=0)
    win = _core.wrap(np.asarray(winners).reshape((-1,) + (1,) * (g.ndim - 1)))
    gu = E.where(win, gu, E.zeros_like(gu))
    return gt, None, gu, None


@_scatter_update.defjvp
def _scatter_update_jvp(ts, ans, t, flat, upd, winners):
    tt = ts[0] if ts[0] is not None else _core.wrap(np.zeros(t.shape, dtype=t.dtype))
    tu = ts[2] if ts[2] is not None else _core.wrap(np.zeros(upd.shape, dtype=upd.dtype))
    return _scatter_update(tt, flat, tu, winners)


def _tensor_scatter_args(tensor_, indices, updates, op):
    t = tensor(tensor_, op=op)
    # a Python list/number takes the tensor's dtype, as a TF constant would
    upd = updates if isinstance(updates, _core.Tensor) else tensor(updates, t.dtype, op=op)
    if upd.dtype != t.dtype:
        raise TypeError("%s: updates dtype %s differs from tensor dtype %s"
                        % (op, upd.dtype, t.dtype))
    idx = _index_array(indices, op)
    flat, rows, row_shape = _scatter_rows(idx, upd, t.shape, op)
    return t, flat, rows, row_shape


def tensor_scatter_nd_update(tensor, indices, updates, name=None):
    """A copy of ``tensor`` with the slices at ``indices`` replaced by ``updates``.

    Tensors are immutable: this is the functional form of ``t[idx] = v``.
    """
    t, flat, rows, row_shape = _tensor_scatter_args(tensor, indices, updates,
                                                    "tensor_scatter_nd_update")
    out = _scatter_update(S.reshape(t, row_shape), _core.wrap(flat), rows,
                          _core.wrap(flat_winners(flat)))
    return S.reshape(out, t.shape)


def tensor_scatter_nd_add(tensor, indices, updates, name=None):
    """``tensor`` plus ``updates`` added at ``indices`` (duplicates add)."""
    t, flat, rows, row_shape = _tensor_scatter_args(tensor, indices, updates,
                                                    "tensor_scatter_nd_add")
    add = I._gather_grad(rows, _core.wrap(flat), shape=row_shape, axis=0)
    return E.add(t, S.reshape(add, t.shape))


def tensor_scatter_nd_sub(tensor, indices, updates, name=None):
    """``tensor`` minus ``updates`` at ``indices`` (duplicates add up)."""
    t, flat, rows, row_shape = _tensor_scatter_args(tensor, indices, updates,
                                                    "tensor_scatter_nd_sub")
    sub = I._gather_grad(rows, _core.wrap(flat), shape=row_shape, axis=0)
    return E.subtract(t, S.reshape(sub, t.shape))


def _tensor_scatter_extremum(tensor_, indices, updates, op, is_max):
    from tapegrad.ops import segment

    t, flat, rows, row_shape = _tensor_scatter_args(tensor_, indices, updates, op)
    red = segment._segment_extremum(rows, flat, row_shape[0], is_max, op)
    combine = E.maximum if is_max else E.minimum
    # ties between tensor and an update keep the tensor's value (maximum sends ties to x)
    return S.reshape(combine(S.reshape(t, row_shape), red), t.shape)


def tensor_scatter_nd_max(tensor, indices, updates, name=None):
    """Elementwise maximum of ``tensor`` and the ``updates`` scattered at ``indices``."""
    return _tensor_scatter_extremum(tensor, indices, updates, "tensor_scatter_nd_max", True)


def tensor_scatter_nd_min(tensor, indices, updates, name=None):
    """Elementwise minimum of ``tensor`` and the ``updates`` scattered at ``indices``."""
    return _tensor_scatter_extremum(tensor, indices, updates, "tensor_scatter_nd_min", False)


def gather(params, indices, axis=None, batch_dims=0, name=None):
    """TF's gather, with ``batch_dims``: the first ``batch_dims`` axes of params and
    indices are paired, and each batch gathers along ``axis`` (>= batch_dims)."""
    p = tensor(params, op="gather")
    b = int(batch_dims)
    if not b:
        return I.gather(p, indices, axis=axis)
    idx = _index_array(indices, "gather")
    if b < 0:
        b += idx.ndim
    if not 0 <= b <= idx.ndim or b >= p.ndim:
        raise ValueError("gather: batch_dims=%d out of range for params %s and indices %s"
                         % (batch_dims, p.shape, idx.shape))
    axis = norm_axis(b if axis is None else axis, p.ndim, "gather")
    if axis < b:
        raise ValueError("gather: axis %d must be >= batch_dims %d" % (axis, b))
    if idx.shape[:b] != p.shape[:b]:
        raise ValueError("gather: batch dimensions differ: params %s, indices %s"
                         % (p.shape, idx.shape))
    n = p.shape[axis]
    if idx.size and (idx.min() < -n or idx.max() >= n):
        raise IndexError("gather: indices out of range [-%d, %d) for axis %d of shape %s"
                         % (n, n, axis, p.shape))
    idx = np.where(idx < 0, idx + n, idx)
    # bring ``axis`` next to the batch axes, merge batch and axis into one row index
    perm = list(range(b)) + [axis] + [i for i in range(b, p.ndim) if i != axis]
    pt = S.transpose(p, perm) if perm != list(range(p.ndim)) else p
    nb = math.prod(p.shape[:b])
    rows = S.reshape(pt, (nb * n,) + pt.shape[b + 1:])
    offs = (np.arange(nb).reshape(p.shape[:b]) * n).reshape(p.shape[:b] + (1,) * (idx.ndim - b))
    out = I._gather(rows, _core.wrap((idx + offs).astype(np.intp)), axis=0)
    # out: batch + index dims + params[b:axis] + params[axis+1:]; TF wants the index
    # dims where ``axis`` was
    ni, nmid = idx.ndim - b, axis - b
    if ni and nmid:
        order = (list(range(b)) + list(range(b + ni, b + ni + nmid)) +
                 list(range(b, b + ni)) + list(range(b + ni + nmid, out.ndim)))
        out = S.transpose(out, order)
    return out


# ---------------------------------------------------------------------------
# rules of the other transforms (tg.jet, tg.vmap, tg.onnx), beside the forwards

def _transform_rules():
    from tapegrad import _core
    from tapegrad.ops import _batching as Bt
    from tapegrad.ops._registry import NotSupported

    reg = _core.registered()
    forward = reg["tensor_scatter_update"].cpu

    def update_taylor(t, flat, upd, winners):
        # linear in (t, updates) together, the indices fixed by the primal
        return np.stack([forward(t[k], flat[0], upd[k], winners[0])
                         for k in range(t.shape[0])])

    reg["tensor_scatter_update"].defrule("taylor", update_taylor)
    reg["tensor_scatter_update"].defrule("batch", Bt.loop)
    reg["tensor_scatter_update"].defrule("onnx", NotSupported("not mapped to ONNX yet"))


_transform_rules()
