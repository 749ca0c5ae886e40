"""GPU reductions (sum/prod/max/min/any/all, argmax/argmin) and softmax.

Every reduction is run on the input viewed as [outer, R, inner]: when the reduced
axes are adjacent (after ignoring size-1 axes) that view is free; otherwise the
input is first transposed so the reduced axes come last.
"""
import math
from ctypes import c_double, c_int, c_int64

import numpy as np

from . import launch
from .array import CudaArray
from .elementwise import cast, ptr, transpose

OPS = {"sum": 0, "prod": 1, "max": 2, "min": 3}


def _kept_shape(shape, axes, keepdims):
    if keepdims:
        return tuple(1 if i in axes else d for i, d in enumerate(shape))
    return tuple(d for i, d in enumerate(shape) if i not in axes)


def as_3d(x, axes):
    """(array, outer, R, inner) with ``axes`` of ``x`` folded into R, transposing
    only when the reduced axes are not adjacent."""
    axes = set(axes)
    live = [i for i, d in enumerate(x.shape) if d != 1]
    red = [i for i in live if i in axes]
    if not red:
        return x, x.size, 1, 1
    first, last = live.index(red[0]), live.index(red[-1])
    if last - first + 1 == len(red):
        outer = math.prod(x.shape[i] for i in live[:first])
        R = math.prod(x.shape[i] for i in red)
        inner = math.prod(x.shape[i] for i in live[last + 1:])
        return x, outer, R, inner
    kept = [i for i in range(x.ndim) if i not in axes]
    xt = transpose(x, kept + sorted(axes))
    R = math.prod(x.shape[i] for i in axes)
    return xt, (x.size // R if R else math.prod(x.shape[i] for i in kept)), R, 1


def _launch_reduce(dev, s, op, x, outer, R, inner, scale):
    grid, block, chunk = launch.reduce_config(outer, R, inner, dev.sm_count)
    nchunks = grid[2]
    out = CudaArray.empty((outer, nchunks, inner), x.dtype, x.device_index)
    dev.launch(f"reduce_{s}", grid, block,
               [c_int(op), c_int64(outer), c_int64(R), c_int64(inner), c_int64(chunk),
                c_double(scale if nchunks == 1 else 1.0), ptr(x), ptr(out)])
    if nchunks > 1:
        return _launch_reduce(dev, s, op, out, outer, nchunks, inner, scale)
    return out


def reduce(op, x, axes, keepdims, what=None, scale=1.0):
    """Reduce ``x`` with ``op`` ("sum", "prod", "max", "min") over the tuple ``axes``."""
    what = what or f"reduce_{op}"
    s = launch.suffix(x.dtype, what)
    axes = tuple(sorted(int(a) % max(x.ndim, 1) for a in axes)) if x.ndim else ()
    out_shape = _kept_shape(x.shape, axes, keepdims)
    R = math.prod(x.shape[a] for a in axes)
    if R == 0 and op in ("max", "min"):
        raise ValueError(f"{what}: cannot reduce an empty tensor of shape {x.shape}")
    if math.prod(out_shape) == 0:
        return CudaArray.empty(out_shape, x.dtype, x.device_index)
    if R == 0:
        from .elementwise import full
        return full(out_shape, 0 if op == "sum" else 1, x.dtype, x.device_index)
    xv, outer, R, inner = as_3d(x, axes)
    out = _launch_reduce(x.dev, s, OPS[op], xv, outer, R, inner, scale)
    return out.reshape(out_shape)


def reduce_bool(op, x, axes, keepdims):
    """reduce_any ("max" on bool) / reduce_all ("min" on bool)."""
    what = "reduce_any" if op == "max" else "reduce_all"
    if x.dtype != np.bool_:
        raise TypeError(f"{what}: expected a bool input, got {x.dtype}")
    if math.prod(x.shape[a] for a in axes) == 0:
        from .elementwise import full
        return full(_kept_shape(x.shape, axes, keepdims), op == "min", np.bool_,
                    x.device_index)
    return reduce(op, x, axes, keepdims, what)


def argminmax(is_max, x, axis, output_type):
    what = "argmax" if is_max else "argmin"
    s = launch.suffix(x.dtype, what)
    if x.ndim == 0:
        raise ValueError(f"{what}: input must have rank >= 1")
    axis = int(axis) % x.ndim
    if x.shape[axis] == 0:
        raise ValueError(f"{what}: axis {axis} of shape {x.shape} is empty")
    out_shape = x.shape[:axis] + x.shape[axis + 1:]
    out = CudaArray.empty(out_shape, np.int64, x.device_index)
    if out.size:
        outer = math.prod(x.shape[:axis])
        R = x.shape[axis]
        inner = math.prod(x.shape[axis + 1:])
        grid, block, _ = launch.reduce_config(outer, R, inner, x.dev.sm_count)
        x.dev.launch(f"arg_{s}", (grid[0], grid[1], 1), block,
                     [c_int(1 if is_max else 0), c_int64(outer), c_int64(R), c_int64(inner),
                      ptr(x), ptr(out)])
    return cast(out, np.dtype(output_type))


def softmax(x, axis=-1, log=False):
    """softmax / log_softmax along ``axis`` (moved last for the row kernel)."""
    what = "log_softmax" if log else "softmax"
    if x.dtype.kind != "f":
        raise TypeError(f"{what}: expected a floating-point input, got {x.dtype}")
    if x.ndim == 0:
        raise ValueError(f"{what}: input must have rank >= 1")
    axis = int(axis) % x.ndim
    if axis != x.ndim - 1:
        perm = [i for i in range(x.ndim) if i != axis] + [axis]
        inv = np.argsort(perm).tolist()
        return transpose(softmax(transpose(x, perm), -1, log), inv)
    out = CudaArray.empty(x.shape, x.dtype, x.device_index)
    if out.size:
        D = x.shape[-1]
        rows = x.size // D
        grid, block = launch.rows_config(rows, D)
        x.dev.launch(f"softmax_{launch.suffix(x.dtype)}", grid, block,
                     [c_int64(rows), c_int64(D), c_int(1 if log else 0), ptr(x), ptr(out)])
    return out
