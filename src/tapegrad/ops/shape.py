"""Shape and indexing primitives: reshape, transpose, broadcast_to, concat, tile,
getitem, gather (and their scatter adjoints), plus compositions built on them."""

import math

import numpy as np

from tapegrad import _core
from tapegrad.ops._registry import (
    INT,
    as_dtype,
    norm_axes,
    norm_axis,
    norm_shape,
    not_differentiable,
    primitive,
    tensor,
    tensor_list,
)


def _fmt(shape):
    return "(%s)" % ", ".join(str(d) for d in shape) if len(shape) != 1 else "(%d,)" % shape[0]


def _resolve_shape(shape, size, op):
    shape = list(shape)
    unknown = [i for i, d in enumerate(shape) if d == -1]
    if len(unknown) > 1 or any(d < -1 for d in shape):
        raise ValueError("%s: invalid target shape %s" % (op, _fmt(shape)))
    known = 1
    for d in shape:
        if d != -1:
            known *= d
    if unknown:
        if known == 0 or size % known:
            raise ValueError("%s: cannot reshape a tensor of %d elements to %s"
                             % (op, size, _fmt(shape)))
        shape[unknown[0]] = size // known
    elif known != size:
        raise ValueError("%s: cannot reshape a tensor of %d elements to %s"
                         % (op, size, _fmt(shape)))
    return tuple(shape)


@primitive("reshape", save_inputs=False, save_output=False)
def _reshape(x, shape):
    """x with a new shape of the same size (a view when possible)."""
    return x.reshape(shape)


@_reshape.defvjp
def _reshape_vjp(g, ans, x, shape):
    return _reshape(g, shape=x.shape)


def reshape(tensor_, shape, name=None):
    x = tensor(tensor_, op="reshape")
    shape = _resolve_shape(norm_shape(shape, "reshape"), x.size, "reshape")
    if shape == x.shape:
        return x
    return _reshape(x, shape=shape)


@primitive("transpose", save_inputs=False, save_output=False)
def _transpose(x, perm):
    """Axes permuted by ``perm``."""
    return np.transpose(x, perm)


@_transpose.defvjp
def _transpose_vjp(g, ans, x, perm):
    return _transpose(g, perm=tuple(np.argsort(perm).tolist()))


def transpose(a, perm=None, conjugate=False, name=None):
    x = tensor(a, op="transpose")
    if perm is None:
        perm = tuple(range(x.ndim - 1, -1, -1))
    else:
        perm = norm_shape(perm, "transpose")
        if sorted(perm) != list(range(x.ndim)):
            raise ValueError("transpose: perm %s is not a permutation of the %d axes of shape %s"
                             % (list(perm), x.ndim, _fmt(x.shape)))
    return _transpose(x, perm=tuple(perm))


def matrix_transpose(a, name=None):
    x = tensor(a, op="matrix_transpose")
    if x.ndim < 2:
        raise ValueError("matrix_transpose: needs rank >= 2, got shape %s" % _fmt(x.shape))
    perm = tuple(range(x.ndim - 2)) + (x.ndim - 1, x.ndim - 2)
    return _transpose(x, perm=perm)


@primitive("broadcast_to", save_inputs=False, save_output=False)
def _broadcast_to(x, shape):
    """x broadcast to ``shape``: materialised when small (so later ops on it take the
    contiguous fast paths, and np.broadcast_to's Python overhead is skipped), a
    read-only view when large (no memory blow-up)."""
    if len(shape) and math.prod(shape) <= 65536:
        out = np.empty(shape, dtype=x.dtype)
        out[...] = x
        return out
    return np.broadcast_to(x, shape)


@_broadcast_to.defvjp
def _broadcast_to_vjp(g, ans, x, shape):
    # the engine's single unbroadcast (sum_to) reduces g back to x's shape
    return g


def broadcast_to(input, shape, name=None):
    x = tensor(input, op="broadcast_to")
    shape = norm_shape(shape, "broadcast_to")
    if shape == x.shape:
        return x
    try:
        np.broadcast_shapes(x.shape, shape)
    except ValueError:
        raise ValueError("broadcast_to: cannot broadcast shape %s to %s"
                         % (_fmt(x.shape), _fmt(shape))) from None
    if len(shape) < x.ndim or np.broadcast_shapes(x.shape, shape) != shape:
        raise ValueError("broadcast_to: cannot broadcast shape %s to %s"
                         % (_fmt(x.shape), _fmt(shape)))
    return _broadcast_to(x, shape=shape)


# (x.shape, target) -> (axes, keepdims, reshape): the plan is pure shape arithmetic, and
# a training loop asks for the same few (every bias gradient) on every step.
_SUM_TO_PLANS = {}


def _sum_to_plan(xshape, shape):
    lead = len(xshape) - len(shape)
    if lead < 0 or any(d != 1 and xshape[lead + i] != d for i, d in enumerate(shape)):
        raise ValueError("sum_to: cannot reduce shape %s to %s" % (_fmt(xshape), _fmt(shape)))
    kept = tuple(lead + i for i, d in enumerate(shape) if d == 1 and xshape[lead + i] != 1)
    axes = tuple(range(lead)) + kept
    # only leading axes to drop: a plain reduction lands on the target shape directly
    keepdims = bool(kept)
    if axes:
        out = tuple(1 if i in axes else d for i, d in enumerate(xshape)) if keepdims else \
            xshape[lead:]
    else:
        out = xshape
    plan = (axes, keepdims, out != shape)
    if len(_SUM_TO_PLANS) < 4096:
        _SUM_TO_PLANS[(xshape, shape)] = plan
    return plan


_SUM = None


def _reduce_sum():
    # reductions imports this module, so its primitive is fetched on first use (once:
    # a function-level import on every call cost a microsecond per bias gradient)
    global _SUM
    if _SUM is None:
        from tapegrad.ops.reductions import _sum as _SUM
    return _SUM


def sum_to(x, shape):
    """Sum ``x`` down to ``shape`` (the inverse of broadcasting): the engine's unbroadcast."""
    x = tensor(x, op="sum_to")
    shape = tuple(shape)
    plan = _SUM_TO_PLANS.get((x.shape, shape))
    axes, keepdims, reshape_after = plan if plan is not None else _sum_to_plan(x.shape, shape)
    if axes:
        x = _reduce_sum()(x, axes=axes, keepdims=keepdims)
    if reshape_after:
        x = _reshape(x, shape=shape)
    return x


def expand_dims(input, axis, name=None):
    x = tensor(input, op="expand_dims")
    axis = norm_axis(axis, x.ndim + 1, "expand_dims")
    return _reshape(x, shape=x.shape[:axis] + (1,) + x.shape[axis:])


def squeeze(input, axis=None, name=None):
    x = tensor(input, op="squeeze")
    if axis is None:
        axes = tuple(i for i, d in enumerate(x.shape) if d == 1)
    else:
        axes = norm_axes(axis, x.ndim, "squeeze")
        for a in axes:
            if x.shape[a] != 1:
                raise ValueError("squeeze: cannot squeeze axis %d of size %d (shape %s)"
                                 % (a, x.shape[a], _fmt(x.shape)))
    shape = tuple(d for i, d in enumerate(x.shape) if i not in axes)
    return x if shape == x.shape else _reshape(x, shape=shape)


@primitive("concat", save_inputs=False, save_output=False)
def _concat(*xs, axis):
    """Join along ``axis``."""
    return np.concatenate(xs, axis=axis)


@_concat.defvjp
def _concat_vjp(g, ans, *xs, axis):
    grads, start = [], 0
    for x in xs:
        stop = start + x.shape[axis]
        key = (slice(None),) * axis + (slice(start, stop),)
        grads.append(_getitem(g, key=key))
        start = stop
    return tuple(grads)


def concat(values, axis, name=None):
    values = tensor_list(values, "concat")
    if not values:
        raise ValueError("concat: needs at least one tensor")
    ndim = values[0].ndim
    if ndim == 0:
        raise ValueError("concat: cannot concatenate 0-d tensors (use stack)")
    axis = norm_axis(axis, ndim, "concat")
    for v in values[1:]:
        if v.ndim != ndim or any(a != b for i, (a, b) in enumerate(zip(v.shape, values[0].shape))
                                 if i != axis):
            raise ValueError("concat: shapes %s do not match except along axis %d"
                             % (", ".join(_fmt(t.shape) for t in values), axis))
    if len(values) == 1:
        return values[0]
    return _concat(*values, axis=axis)


def stack(values, axis=0, name=None):
    values = tensor_list(values, "stack")
    if not values:
        raise ValueError("stack: needs at least one tensor")
    shape = values[0].shape
    for v in values[1:]:
        if v.shape != shape:
            raise ValueError("stack: shapes differ: %s" % ", ".join(_fmt(t.shape) for t in values))
    axis = norm_axis(axis, len(shape) + 1, "stack")
    return concat([expand_dims(v, axis) for v in values], axis)


def unstack(value, num=None, axis=0, name=None):
    x = tensor(value, op="unstack")
    axis = norm_axis(axis, x.ndim, "unstack")
    n = x.shape[axis]
    if num is not None and num != n:
        raise ValueError("unstack: num=%d but axis %d has size %d" % (num, axis, n))
    return [_getitem(x, key=(slice(None),) * axis + (i,)) for i in range(n)]


def split(value, num_or_size_splits, axis=0, num=None, name=None):
    x = tensor(value, op="split")
    axis = norm_axis(axis, x.ndim, "split")
    n = x.shape[axis]
    if isinstance(num_or_size_splits, (int, np.integer)):
        k = int(num_or_size_splits)
        if k <= 0 or n % k:
            raise ValueError("split: axis %d of size %d cannot be split into %d equal parts"
                             % (axis, n, k))
        sizes = [n // k] * k
    else:
        sizes = list(norm_shape(num_or_size_splits, "split"))
        if sizes.count(-1) == 1:
            sizes[sizes.index(-1)] = n - (sum(sizes) + 1)
        if sum(sizes) != n or any(s < 0 for s in sizes):
            raise ValueError("split: sizes %s do not add up to %d (axis %d)" % (sizes, n, axis))
    out, start = [], 0
    for s in sizes:
        out.append(_getitem(x, key=(slice(None),) * axis + (slice(start, start + s),)))
        start += s
    return out


@primitive("tile", save_inputs=False, save_output=False)
def _tile(x, multiples):
    """x repeated ``multiples[i]`` times along each axis."""
    return np.tile(x, multiples)


@_tile.defvjp
def _tile_vjp(g, ans, x, multiples):
    from tapegrad.ops.reductions import _sum

    split_shape = []
    for m, d in zip(multiples, x.shape):
        split_shape += [m, d]
    g = _reshape(g, shape=tuple(split_shape))
    g = _sum(g, axes=tuple(range(0, 2 * x.ndim, 2)), keepdims=False)
    return g


def tile(input, multiples, name=None):
    x = tensor(input, op="tile")
    multiples = norm_shape(multiples, "tile")
    if len(multiples) != x.ndim or any(m < 0 for m in multiples):
        raise ValueError("tile: multiples %s must be %d non-negative ints for shape %s"
                         % (list(multiples), x.ndim, _fmt(x.shape)))
    return _tile(x, multiples=multiples)


# ---------------------------------------------------------------------------
# indexing

@primitive("getitem", save_inputs=False, save_output=False)
def _getitem(x, key):
    """NumPy basic/advanced indexing with a normalised key."""
    return x[_core.key_for_numpy(key)]


@_getitem.defvjp
def _getitem_vjp(g, ans, x, key):
    return _getitem_grad(g, shape=x.shape, key=key)


@primitive("getitem_grad", save_inputs=False, save_output=False)
def _getitem_grad(g, shape, key):
    """Adjoint of getitem: zeros of ``shape`` with g added at ``key`` (repeats accumulate)."""
    out = np.zeros(shape, dtype=g.dtype)
    np.add.at(out, _core.key_for_numpy(key), g)
    return out


@_getitem_grad.defvjp
def _getitem_grad_vjp(gg, ans, g, shape, key):
    return _getitem(gg, key=key)


@primitive("gather", same_dtype=(), save_output=False)
def _gather(params, indices, axis):
    """params.take(indices, axis) with indices checked against the axis size."""
    if indices.dtype.kind not in "iu":
        raise TypeError("gather: indices must be integers, got %s" % indices.dtype)
    n = params.shape[axis]
    if indices.size and (indices.min() < -n or indices.max() >= n):
        raise IndexError("gather: indices out of range [0, %d) for axis %d of shape %s"
                         % (n, axis, params.shape))
    return np.take(params, indices, axis=axis)


@_gather.defvjp
def _gather_vjp(g, ans, params, indices, axis):
    return _gather_grad(g, indices, shape=params.shape, axis=axis), None


@primitive("gather_grad", same_dtype=(), save_output=False)
def _gather_grad(g, indices, shape, axis):
    """Adjoint of gather: scatter-add g into zeros of ``shape`` at ``indices``."""
    if len(shape) == 1 and g.dtype.kind == "f" and indices.size:
        # a 1-D scatter-add is a weighted bincount (several times faster than add.at)
        idx = indices.ravel()
        if idx.min() < 0:  # negative indices count from the end (rare: skip the copy)
            idx = np.where(idx < 0, idx + shape[0], idx)
        return np.bincount(idx, weights=g.ravel(), minlength=shape[0]).astype(g.dtype)
    out = np.zeros(shape, dtype=g.dtype)
    moved = np.moveaxis(out, axis, 0)
    gm = np.moveaxis(g, list(range(axis, axis + indices.ndim)), list(range(indices.ndim)))
    np.add.at(moved, indices, gm)
    return out


@_gather_grad.defvjp
def _gather_grad_vjp(gg, ans, g, indices, shape, axis):
    return _gather(gg, indices, axis=axis), None


def gather(params, indices, axis=None, batch_dims=0, name=None):
    if batch_dims:
        raise ValueError("gather: batch_dims is not supported (use tg.gather on each batch "
                         "or tg.einsum with one_hot)")
    p = tensor(params, op="gather")
    idx = tensor(indices, op="gather")
    if p.ndim == 0:
        raise ValueError("gather: params must have rank >= 1")
    axis = norm_axis(0 if axis is None else axis, p.ndim, "gather")
    return _gather(p, idx, axis=axis)


@not_differentiable("one_hot", dtypes=INT)
def _one_hot(indices, depth, on_value, off_value, axis, dtype):
    """One-hot encoding; out-of-range indices give all-off rows, as in TF."""
    hit = np.expand_dims(indices, -1) == np.arange(depth)
    out = np.where(hit, on_value, off_value).astype(dtype)
    if axis != -1 and axis != out.ndim - 1:
        out = np.moveaxis(out, -1, axis)
    return out


def one_hot(indices, depth, on_value=None, off_value=None, axis=None, dtype=None, name=None):
    idx = tensor(indices, op="one_hot")
    depth = int(depth)
    if depth < 0:
        raise ValueError("one_hot: depth must be >= 0, got %d" % depth)
    dt = as_dtype(dtype if dtype is not None else np.float32, "one_hot")
    ax = -1 if axis is None else norm_axis(axis, idx.ndim + 1, "one_hot")
    return _one_hot(idx, depth=depth, on_value=1 if on_value is None else on_value,
                    off_value=0 if off_value is None else off_value, axis=ax, dtype=dt)


@primitive("pad", save_inputs=False, save_output=False)
def _pad(x, paddings, constant_values):
    """Constant padding."""
    return np.pad(x, paddings, mode="constant", constant_values=constant_values)


@_pad.defvjp
def _pad_vjp(g, ans, x, paddings, constant_values):
    key = tuple(slice(lo, lo + d) for (lo, _), d in zip(paddings, x.shape))
    return _getitem(g, key=key)


def pad(tensor_, paddings, mode="CONSTANT", constant_values=0, name=None):
    x = tensor(tensor_, op="pad")
    mode = str(mode).upper()
    if mode not in ("CONSTANT", "REFLECT", "SYMMETRIC"):
        raise ValueError("pad: mode must be 'CONSTANT', 'REFLECT' or 'SYMMETRIC', got %r"
                         % (mode,))
    p = np.asarray(paddings.numpy() if isinstance(paddings, _core.Tensor) else paddings)
    if p.size == 0 and x.ndim == 0:
        from tapegrad.ops.elementwise import identity

        return identity(x)
    if p.shape != (x.ndim, 2) or p.dtype.kind not in "iu" or (p < 0).any():
        raise ValueError("pad: paddings must be a [%d, 2] array of non-negative ints, got %r"
                         % (x.ndim, paddings))
    pads = tuple(tuple(int(v) for v in row) for row in p)
    if mode != "CONSTANT":
        from tapegrad.ops.manip import pad_indexed

        return pad_indexed(x, pads, mode)
    return _pad(x, paddings=pads, constant_values=constant_values)


def shape(input, out_type=np.int32, name=None):
    x = tensor(input, op="shape")
    return _core.wrap(np.array(x.shape, dtype=out_type))


def size(input, out_type=np.int32, name=None):
    x = tensor(input, op="size")
    return _core.wrap(np.array(x.size, dtype=out_type))


def rank(input, name=None):
    x = tensor(input, op="rank")
    return _core.wrap(np.array(x.ndim, dtype=np.int32))

