"""Elementwise GPU ops: strided unary/binary/compare/where/clip/cast, copies, fills.

One kernel per arity and dtype, selected by an op code (the enums in
kernels.cu, mirrored below); broadcasting and arbitrary strides come from the
`launch.Meta` built here, so transpose, broadcast_to and slicing are all the
same ``unary`` kernel with the identity op code.
"""
from ctypes import c_int, c_int64, c_uint64

import numpy as np

from . import launch
from .array import CudaArray

UNARY = {name: i for i, name in enumerate(
    "identity negative abs sign square sqrt rsqrt exp expm1 log log1p tanh sigmoid sin cos "
    "tan asin acos atan sinh cosh asinh acosh atanh erf relu reciprocal floor ceil round "
    "logical_not softplus".split())}
PRED = {"is_nan": 0, "is_inf": 1, "is_finite": 2}
BINARY = {name: i for i, name in enumerate(
    "add subtract multiply divide floordiv floormod pow maximum minimum atan2 div_no_nan "
    "mul_no_nan squared_difference logical_and logical_or logical_xor safe_div "
    "safe_mul".split())}
COMPARE = {name: i for i, name in enumerate(
    "equal not_equal less less_equal greater greater_equal".split())}

_FLOAT_ONLY_UNARY = {"sqrt", "rsqrt", "exp", "expm1", "log", "log1p", "tanh", "sigmoid", "sin",
                     "cos", "tan", "asin", "acos", "atan", "sinh", "cosh", "asinh", "acosh",
                     "atanh", "erf", "reciprocal", "floor", "ceil", "round", "softplus"}
BOOL = np.dtype(np.bool_)


def ptr(x, offset=0):
    """Kernel argument: device address of element ``offset`` of array ``x``."""
    return c_uint64(x.ptr + offset * x.dtype.itemsize)


def same_device(what, *arrays):
    """The `Device` all ``arrays`` live on; ValueError naming ``what`` otherwise."""
    idx = {a.device_index for a in arrays}
    if len(idx) != 1:
        raise ValueError(f"{what}: inputs are on different devices "
                         f"({', '.join(sorted(a.device for a in arrays))})")
    return arrays[0].dev


def run_ew(dev, kernel, n, args):
    grid, block = launch.elementwise_grid(n, dev.sm_count)
    dev.launch(kernel, grid, block, args)


def strides_of(x):
    return launch.contiguous_strides(x.shape)


def _broadcast_meta(out_shape, operands, what):
    """Meta over ``out_shape`` for contiguous ``operands`` (broadcast) + contiguous output."""
    st = [launch.broadcast_strides(a.shape, strides_of(a), out_shape) for a in operands]
    st.append(launch.contiguous_strides(out_shape))
    return launch.make_meta(out_shape, st, what)


# ---------------------------------------------------------------- generic maps
def _map(dev, kernel, what, operands, dtype, *lead):
    """Launch an elementwise kernel over the broadcast of ``operands`` (all on ``dev``)
    into a new array of ``dtype``; ``lead``: scalar arguments before the metadata (the
    op code)."""
    shape = launch.broadcast_shapes(*[o.shape for o in operands], what=what)
    out = CudaArray.empty(shape, dtype, operands[0].device_index)
    if out.size:
        m = _broadcast_meta(shape, operands, what)
        run_ew(dev, kernel, out.size, [*lead, m, *[ptr(o) for o in operands], ptr(out)])
    return out


def unary(op, x, what=None):
    """``op`` (a name of `UNARY`) applied elementwise; same dtype and shape."""
    what = what or op
    s = launch.suffix(x.dtype, what)
    if op in _FLOAT_ONLY_UNARY and x.dtype.kind != "f":
        raise TypeError(f"{what}: expected a floating-point input, got {x.dtype}")
    return _map(x.dev, f"unary_{s}", what, [x], x.dtype, c_int(UNARY[op]))


def predicate(op, x):
    """is_nan / is_inf / is_finite: bool result."""
    if x.dtype.kind != "f":
        raise TypeError(f"{op}: expected a floating-point input, got {x.dtype}")
    return _map(x.dev, f"pred_{launch.suffix(x.dtype)}", op, [x], BOOL, c_int(PRED[op]))


def _check_pair(what, a, b):
    if a.dtype != b.dtype:
        raise TypeError(f"{what}: dtypes differ: {a.dtype} vs {b.dtype}")
    return same_device(what, a, b)


def binary(op, a, b, what=None):
    """``op`` (a name of `BINARY`) with NumPy broadcasting; result has a's dtype."""
    what = what or op
    dev = _check_pair(what, a, b)
    s = launch.suffix(a.dtype, what)
    return _map(dev, f"binary_{s}", what, [a, b], a.dtype, c_int(BINARY[op]))


def true_divide(a, b):
    """NumPy's true division: integers divide in float64."""
    if a.dtype.kind in "iub":
        return binary("divide", cast(a, np.float64), cast(b, np.float64), "divide")
    return binary("divide", a, b)


def compare(op, a, b):
    dev = _check_pair(op, a, b)
    s = launch.suffix(a.dtype, op)
    return _map(dev, f"compare_{s}", op, [a, b], BOOL, c_int(COMPARE[op]))


def where(cond, x, y):
    if cond.dtype != BOOL:
        raise TypeError(f"where: condition must be bool, got {cond.dtype}")
    dev = _check_pair("where", x, y)
    same_device("where", cond, x)
    return _map(dev, f"where_{launch.suffix(x.dtype, 'where')}", "where", [cond, x, y],
                x.dtype)


def clip(x, lo, hi):
    """min(max(x, lo), hi) with broadcasting; NaN stays NaN."""
    dev = _check_pair("clip_by_value", x, lo)
    _check_pair("clip_by_value", x, hi)
    return _map(dev, f"clip_{launch.suffix(x.dtype, 'clip_by_value')}", "clip_by_value",
                [x, lo, hi], x.dtype)


def cast(x, dtype):
    dtype = np.dtype(dtype)
    if dtype == x.dtype:
        return x
    si, so = launch.suffix(x.dtype, "cast"), launch.suffix(dtype, "cast")
    out = CudaArray.empty(x.shape, dtype, x.device_index)
    if out.size:
        m = _broadcast_meta(x.shape, [x], "cast")
        run_ew(x.dev, f"cast_{si}_{so}", out.size, [m, ptr(x), ptr(out)])
    return out


# ---------------------------------------------------------------- strided copies
def strided_copy(src, src_offset, src_strides, dst, dst_offset, dst_strides, shape):
    """dst[view] = src[view]: both views given by element offset + strides over ``shape``."""
    n = 1
    for d in shape:
        n *= d
    if n == 0:
        return
    if src.dtype != dst.dtype:
        raise TypeError(f"strided_copy: dtypes differ: {src.dtype} vs {dst.dtype}")
    m = launch.make_meta(shape, [src_strides, dst_strides], "copy")
    run_ew(src.dev, f"unary_{launch.suffix(src.dtype)}", n,
           [c_int(UNARY["identity"]), m, ptr(src, src_offset), ptr(dst, dst_offset)])


def broadcast_to(x, shape):
    shape = tuple(shape)
    out = CudaArray.empty(shape, x.dtype, x.device_index)
    st = launch.broadcast_strides(x.shape, strides_of(x), shape)
    strided_copy(x, 0, st, out, 0, launch.contiguous_strides(shape), shape)
    return out


def transpose(x, perm):
    perm = tuple(int(p) for p in perm)
    if sorted(perm) != list(range(x.ndim)):
        raise ValueError(f"transpose: perm {perm} is not a permutation of {x.ndim} axes")
    st = strides_of(x)
    shape = tuple(x.shape[p] for p in perm)
    out = CudaArray.empty(shape, x.dtype, x.device_index)
    strided_copy(x, 0, tuple(st[p] for p in perm), out, 0, launch.contiguous_strides(shape),
                 shape)
    return out


# ---------------------------------------------------------------- fills
def full(shape, value, dtype, device_index):
    dtype = np.dtype(dtype)
    out = CudaArray.empty(shape, dtype, device_index)
    if out.size:
        if value == 0 or (dtype == BOOL and not value):
            out.dev.memset(out.ptr, 0, out.nbytes)
        else:
            run_ew(out.dev, f"fill_{launch.suffix(dtype, 'fill')}", out.size,
                   [c_int64(out.size), launch.scalar_arg(value, dtype), ptr(out)])
    return out


def full_like_array(shape, value_arr):
    """Broadcast a 0-d device array to ``shape`` (exact for every dtype, e.g. int64)."""
    return broadcast_to(value_arr.reshape(()), shape)


def arange(start, delta, n, dtype, device_index):
    out = CudaArray.empty((n,), dtype, device_index)
    if n:
        run_ew(out.dev, f"arange_{launch.suffix(dtype, 'range')}", n,
               [c_int64(n), launch.scalar_arg(start, dtype), launch.scalar_arg(delta, dtype),
                ptr(out)])
    return out


def eye(batch_shape, rows, cols, k, dtype, device_index):
    shape = tuple(batch_shape) + (rows, cols)
    out = CudaArray.empty(shape, dtype, device_index)
    if out.size:
        batch = out.size // max(rows * cols, 1)
        run_ew(out.dev, f"eye_{launch.suffix(dtype, 'eye')}", out.size,
               [c_int64(batch), c_int64(rows), c_int64(cols), c_int64(k), ptr(out)])
    return out


def add_n(arrays):
    """Sum of same-shape, same-dtype arrays (8 per kernel launch)."""
    first = arrays[0]
    for a in arrays[1:]:
        if a.shape != first.shape or a.dtype != first.dtype:
            out = first
            for b in arrays[1:]:
                out = binary("add", out, b, "add_n")
            return out
    dev = same_device("add_n", *arrays)
    out = CudaArray.empty(first.shape, first.dtype, first.device_index)
    if out.size == 0:
        return out
    s = launch.suffix(first.dtype, "add_n")
    if s == "b8":
        raise TypeError("add_n: bool tensors cannot be summed")
    for start in range(0, len(arrays), 8):
        group = arrays[start:start + 8]
        p = launch.Ptrs()
        for j, a in enumerate(group):
            p.p[j] = a.ptr
        run_ew(dev, f"add_n_{s}", out.size, [c_int64(out.size), c_int(len(group)),
                                             c_int(1 if start else 0), p, ptr(out)])
    return out
