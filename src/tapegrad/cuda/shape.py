"""GPU shape and indexing ops: getitem (basic and advanced) and its scatter adjoint,
concat, tile, pad, gather/gather_grad, one_hot.

Basic indexing is a strided copy whose view (offset, strides, shape) NumPy itself
computes on a zero-byte stand-in array, so slicing semantics and IndexErrors are
exactly NumPy's.  Advanced indexing turns the key into flat source offsets on the
host (result-sized, never input-sized) and gathers them.
"""
import math
from ctypes import c_int, c_int64, c_uint64

import numpy as np

from . import launch
from .array import CudaArray
from .elementwise import cast, full, ptr, run_ew, same_device, strided_copy, strides_of

_INDEX_DTYPES = (np.dtype(np.int32), np.dtype(np.int64))


def _is_basic(key):
    return all(k is None or k is Ellipsis or isinstance(k, (int, slice)) for k in key)


def basic_view(shape, key):
    """(offset, strides, out_shape) in elements of ``x[key]`` for a basic key."""
    # A 1-byte dtype makes byte strides equal element strides; NumPy only computes
    # the view here and never reads the (single-byte) buffer.
    base = np.zeros(1, np.uint8)
    stand_in = np.lib.stride_tricks.as_strided(base, shape=shape,
                                               strides=launch.contiguous_strides(shape))
    if not any(k is Ellipsis for k in key):
        key = tuple(key) + (Ellipsis,)  # all-int keys then give a 0-d view, not a scalar copy
    view = stand_in[key]
    offset = view.__array_interface__["data"][0] - base.__array_interface__["data"][0]
    return offset, view.strides, view.shape


def flat_offsets(shape, key):
    """Flat source offsets of ``x[key]`` (any NumPy key) as an int64 array of the result's
    shape, built from broadcast coordinate views so memory is result-sized."""
    strides = launch.contiguous_strides(shape)
    total = None
    for d, n in enumerate(shape):
        coord = np.arange(n, dtype=np.int64) * strides[d]
        view_shape = [1] * len(shape)
        view_shape[d] = n
        part = np.broadcast_to(coord.reshape(view_shape), shape)[key]
        total = part.astype(np.int64) if total is None else total + part
    if total is None:  # 0-d x: only None/Ellipsis/() keys are valid
        total = np.zeros(shape, np.int64)[key]
    return np.asarray(total, dtype=np.int64, order="C")  # keeps 0-d results 0-d


def getitem(x, key):
    from tapegrad import _core

    key = _core.key_for_numpy(key if isinstance(key, tuple) else (key,))
    if _is_basic(key):
        offset, st, shape = basic_view(x.shape, key)
        out = CudaArray.empty(shape, x.dtype, x.device_index)
        strided_copy(x, offset, st, out, 0, launch.contiguous_strides(shape), shape)
        return out
    offsets = flat_offsets(x.shape, key)
    idx = CudaArray.from_numpy(offsets, x.device_index)
    flat = gather(x.reshape((x.size,)), idx, 0, check=False)
    return flat.reshape(offsets.shape)


def getitem_grad(g, shape, key):
    """zeros(shape) with g added at ``key`` (repeated advanced indices accumulate)."""
    from tapegrad import _core

    shape = tuple(shape)
    out = full(shape, 0, g.dtype, g.device_index)
    nkey = _core.key_for_numpy(key if isinstance(key, tuple) else (key,))
    if _is_basic(nkey):
        offset, st, vshape = basic_view(shape, nkey)
        if tuple(vshape) != g.shape:
            g = _broadcast(g, vshape)
        strided_copy(g, 0, launch.contiguous_strides(vshape), out, offset, st, vshape)
        return out
    offsets = flat_offsets(shape, nkey)
    if offsets.shape != g.shape:
        g = _broadcast(g, offsets.shape)
    idx = CudaArray.from_numpy(offsets, g.device_index)
    return gather_grad(g.reshape((g.size,)), idx, (math.prod(shape),), 0).reshape(shape)


def _broadcast(g, shape):
    from .elementwise import broadcast_to
    return broadcast_to(g, shape)


def concat(xs, axis):
    first = xs[0]
    same_device("concat", *xs)
    nd = first.ndim
    axis = int(axis) % nd
    for x in xs:
        if x.dtype != first.dtype:
            raise TypeError(f"concat: dtypes differ: {first.dtype} vs {x.dtype}")
        if x.ndim != nd or any(a != b for i, (a, b) in enumerate(zip(x.shape, first.shape))
                               if i != axis):
            raise ValueError("concat: shapes " + ", ".join(str(t.shape) for t in xs)
                             + f" do not match except along axis {axis}")
    shape = list(first.shape)
    shape[axis] = sum(x.shape[axis] for x in xs)
    out = CudaArray.empty(tuple(shape), first.dtype, first.device_index)
    ost = launch.contiguous_strides(out.shape)
    inner = math.prod(shape[axis + 1:])
    start = 0
    for x in xs:
        strided_copy(x, 0, strides_of(x), out, start * inner, ost, x.shape)
        start += x.shape[axis]
    return out


def tile(x, multiples):
    multiples = tuple(int(m) for m in multiples)
    if any(m < 0 for m in multiples):
        raise ValueError(f"tile: multiples must be >= 0, got {multiples}")
    nd = max(len(multiples), x.ndim)
    in_shape = (1,) * (nd - x.ndim) + x.shape
    multiples = (1,) * (nd - len(multiples)) + multiples
    out_shape = tuple(a * m for a, m in zip(in_shape, multiples))
    out = CudaArray.empty(out_shape, x.dtype, x.device_index)
    if out.size == 0:
        return out
    # Drop axes that neither repeat nor have extent (they index nothing).
    dims = [(o, i) for o, i in zip(out_shape, in_shape) if o != 1]
    if len(dims) > launch.MAXD:
        raise ValueError(f"tile: at most {launch.MAXD} non-trivial axes on the GPU, "
                         f"got shape {out_shape}")
    m = launch.Meta()
    m.ndim = max(len(dims), 1)
    m.n = out.size
    in_st = launch.contiguous_strides(tuple(i for _, i in dims))
    if not dims:
        m.shape[0], m.st[0][0], m.st[1][0] = 1, 0, 1
    for d, ((o, i), s) in enumerate(zip(dims, in_st)):
        m.shape[d], m.st[0][d], m.st[1][d] = o, s, i
    run_ew(x.dev, f"tile_{launch.suffix(x.dtype, 'tile')}", out.size, [m, ptr(x), ptr(out)])
    return out


def repeat(x, repeats, axis):
    """np.repeat with one count: a size-1 axis after ``axis`` tiled ``repeats`` times by
    the tile kernel, then merged into ``axis`` (reshapes share the buffer)."""
    axis = int(axis) % max(x.ndim, 1)
    r = int(repeats)
    wide = x.reshape(x.shape[:axis + 1] + (1,) + x.shape[axis + 1:])
    out = tile(wide, (1,) * (axis + 1) + (r,) + (1,) * (x.ndim - axis - 1))
    return out.reshape(x.shape[:axis] + (x.shape[axis] * r,) + x.shape[axis + 1:])


def pad(x, paddings, constant_values):
    paddings = [(int(a), int(b)) for a, b in paddings]
    shape = tuple(d + a + b for d, (a, b) in zip(x.shape, paddings))
    out = full(shape, constant_values, x.dtype, x.device_index)
    ost = launch.contiguous_strides(shape)
    offset = sum(a * s for (a, _), s in zip(paddings, ost))
    strided_copy(x, 0, strides_of(x), out, offset, ost, x.shape)
    return out


def _index_array(indices, what):
    if indices.dtype not in _INDEX_DTYPES:
        if indices.dtype.kind not in "iu":
            raise TypeError(f"{what}: indices must be integers, got {indices.dtype}")
        indices = cast(indices, np.int64)
    return indices, launch.SUFFIX[indices.dtype]


def gather(params, indices, axis, check=True):
    """params.take(indices, axis); out-of-range and negative indices raise IndexError,
    as on the CPU (and TensorFlow's CPU kernel)."""
    same_device("gather", params, indices)
    if params.ndim == 0:
        raise ValueError("gather: params must have rank >= 1")
    axis = int(axis) % params.ndim
    indices, isfx = _index_array(indices, "gather")
    n = params.shape[axis]
    shape = params.shape[:axis] + indices.shape + params.shape[axis + 1:]
    out = CudaArray.empty(shape, params.dtype, params.device_index)
    if out.size == 0:
        return out
    outer, inner = math.prod(params.shape[:axis]), math.prod(params.shape[axis + 1:])
    dev = params.dev
    flag = dev.error_flag()
    run_ew(dev, f"gather_{launch.suffix(params.dtype, 'gather')}_{isfx}", out.size,
           [c_int64(outer), c_int64(n), c_int64(inner), c_int64(indices.size), c_int(0),
            ptr(indices), ptr(params), ptr(out), c_uint64(flag)])
    if check and dev.take_error_flag():
        raise IndexError(f"gather: indices out of range [0, {n}) for axis {axis} of shape "
                         f"{params.shape}")
    return out


def gather_grad(g, indices, shape, axis):
    """Scatter-add g into zeros of ``shape`` at ``indices`` along ``axis``."""
    same_device("gather_grad", g, indices)
    shape = tuple(shape)
    axis = int(axis) % len(shape)
    indices, isfx = _index_array(indices, "gather_grad")
    work = g if g.dtype != np.float16 else cast(g, np.float32)
    if work.dtype == np.bool_:
        raise TypeError("gather_grad: bool gradients are not supported")
    out = full(shape, 0, work.dtype, g.device_index)
    if g.size:
        outer, inner = math.prod(shape[:axis]), math.prod(shape[axis + 1:])
        run_ew(g.dev, f"gather_grad_{launch.suffix(work.dtype)}_{isfx}", g.size,
               [c_int64(outer), c_int64(shape[axis]), c_int64(inner), c_int64(indices.size),
                c_int(1), ptr(indices), ptr(work), ptr(out)])
    return cast(out, g.dtype)


def one_hot(indices, depth, on_value, off_value, axis, dtype):
    dtype = np.dtype(dtype)
    indices, isfx = _index_array(indices, "one_hot")
    depth = int(depth)
    out = CudaArray.empty(indices.shape + (depth,), dtype, indices.device_index)
    if out.size:
        run_ew(indices.dev, f"one_hot_{launch.suffix(dtype, 'one_hot')}_{isfx}", out.size,
               [c_int64(indices.size), c_int64(depth), ptr(indices),
                launch.scalar_arg(on_value, dtype), launch.scalar_arg(off_value, dtype),
                ptr(out)])
    nd = out.ndim
    axis = nd - 1 if axis is None or axis == -1 else int(axis) % nd
    if axis != nd - 1:
        from .elementwise import transpose
        perm = list(range(nd - 1))
        perm.insert(axis, nd - 1)
        out = transpose(out, perm)
    return out
