"""Counter-based random numbers on the GPU (Philox4x32-10 in kernels.cu).

Each call is a pure function of (key, element index): the same key gives the same
tensor on every run and every device of the same kind, and no generator state
lives on the GPU.  The host draws ``key`` from tapegrad's seeded generator.
"""
from ctypes import c_int, c_int64, c_uint64

import numpy as np

from . import launch
from .array import CudaArray
from .elementwise import ptr, run_ew

_DIST = {"uniform": 0, "normal": 1, "truncated_normal": 2}
_MASK64 = (1 << 64) - 1


def _shape(shape, what):
    shape = tuple(int(d) for d in shape)
    if any(d < 0 for d in shape):
        raise ValueError(f"{what}: negative dimension in shape {shape}")
    return shape


def sample(dist, shape, a, b, dtype, key, device_index, what):
    """``dist`` samples: uniform in [a, b), or normal / truncated normal (mean a, stddev b)."""
    dtype = np.dtype(dtype)
    shape = _shape(shape, what)
    out = CudaArray.empty(shape, dtype, device_index)
    if dtype.kind in "iu":
        if dist != "uniform":
            raise TypeError(f"{what}: expected a floating-point dtype, got {dtype}")
        lo, hi = int(a), int(b)
        if hi <= lo:
            raise ValueError(f"{what}: maxval ({hi}) must be greater than minval ({lo}) "
                             "for integer dtypes")
        if out.size:
            run_ew(out.dev, f"randint_{launch.suffix(dtype, what)}", out.size,
                   [c_int64(out.size), c_uint64(int(key) & _MASK64), c_uint64(0),
                    c_int64(lo), c_int64(hi), ptr(out)])
        return out
    if dtype.kind != "f":
        raise TypeError(f"{what}: unsupported dtype {dtype}")
    if out.size:
        s = launch.suffix(dtype, what)
        run_ew(out.dev, f"random_{s}", out.size,
               [c_int(_DIST[dist]), c_int64(out.size), c_uint64(int(key) & _MASK64),
                c_uint64(0), launch.scalar_arg(a, dtype), launch.scalar_arg(b, dtype),
                ptr(out)])
    return out
