"""Pure-Python launch metadata: kernel argument structs, strides, grids.

Nothing here touches CUDA, so all of it is unit-tested without a GPU.  The
structs mirror the ones at the top of kernels.cu field for field.
"""
import ctypes
from ctypes import c_int, c_int64, c_uint64

import numpy as np

MAXD = 8      # dims a strided kernel indexes (after collapsing)
MAXOPS = 4    # strided operands per kernel (inputs + output)
BLOCK = 256   # threads per block of elementwise kernels
MAX_GRID_X = 2**31 - 1
MAX_GRID_YZ = 65535


class Meta(ctypes.Structure):
    _fields_ = [("ndim", c_int), ("pad_", c_int), ("n", c_int64),
                ("shape", c_int64 * MAXD), ("st", (c_int64 * MAXD) * MAXOPS)]


class ConvMeta(ctypes.Structure):
    _fields_ = [(f, c_int64) for f in
                ("N", "H", "W", "C", "KH", "KW", "OH", "OW", "sh", "sw", "dh", "dw", "pt", "pl")]


class Ptrs(ctypes.Structure):
    _fields_ = [("p", c_uint64 * 8)]


# dtype -> kernel-name suffix; the only dtypes the device backend stores.
SUFFIX = {np.dtype(np.float16): "f16", np.dtype(np.float32): "f32",
          np.dtype(np.float64): "f64", np.dtype(np.int32): "i32",
          np.dtype(np.int64): "i64", np.dtype(np.bool_): "b8"}

# ctypes type of a kernel's by-value scalar for each storage dtype (Acc<T> in C).
_SCALAR = {"f16": ctypes.c_float, "f32": ctypes.c_float, "f64": ctypes.c_double,
           "i32": ctypes.c_int32, "i64": ctypes.c_int64, "b8": ctypes.c_ubyte}


def suffix(dtype, what="cuda"):
    """Kernel suffix of ``dtype``; TypeError naming ``what`` for dtypes the GPU lacks."""
    try:
        return SUFFIX[np.dtype(dtype)]
    except (KeyError, TypeError):
        raise TypeError(f"{what}: dtype {dtype} is not supported on the GPU (supported: "
                        "float16, float32, float64, int32, int64, bool)") from None


def scalar_arg(value, dtype):
    """``value`` as the by-value kernel argument type matching storage ``dtype``."""
    s = suffix(dtype)
    if s == "b8":
        return ctypes.c_ubyte(1 if value else 0)
    if s in ("i32", "i64"):
        return _SCALAR[s](int(value))
    return _SCALAR[s](float(value))


def contiguous_strides(shape):
    """C-order strides in elements."""
    strides = [0] * len(shape)
    acc = 1
    for d in range(len(shape) - 1, -1, -1):
        strides[d] = acc if shape[d] != 1 else 0
        acc *= shape[d]
    return tuple(strides)


def broadcast_shapes(*shapes, what="broadcast"):
    """NumPy broadcasting of shapes; ValueError naming ``what`` when incompatible."""
    ndim = max((len(s) for s in shapes), default=0)
    out = []
    for d in range(ndim):
        dim = 1
        for s in shapes:
            k = d - (ndim - len(s))
            if k < 0 or s[k] == 1:
                continue
            if dim not in (1, s[k]):
                raise ValueError(f"{what}: shapes {' and '.join(map(str, map(tuple, shapes)))} "
                                 "cannot be broadcast together")
            dim = s[k]
        out.append(dim)
    return tuple(out)


def broadcast_strides(shape, strides, out_shape):
    """Strides that read an operand of ``shape``/``strides`` over ``out_shape``
    (0 on broadcast and size-1 axes)."""
    lead = len(out_shape) - len(shape)
    if lead < 0:
        raise ValueError(f"broadcast_strides: shape {tuple(shape)} has more dims than "
                         f"{tuple(out_shape)}")
    res = [0] * len(out_shape)
    for d, (n, s) in enumerate(zip(shape, strides)):
        o = out_shape[lead + d]
        if n == o and n != 1:
            res[lead + d] = s
        elif n != 1:
            raise ValueError(f"broadcast_strides: cannot broadcast {tuple(shape)} to "
                             f"{tuple(out_shape)}")
    return tuple(res)


def collapse(shape, strides_list):
    """Drop size-1 dims and merge neighbours that are contiguous in every operand.

    Returns (shape, strides_list) with the fewest dims that index the same
    elements; a 0-d or all-ones shape becomes (1,) with zero strides.
    """
    dims = [(n, [s[d] for s in strides_list]) for d, n in enumerate(shape) if n != 1]
    merged = []
    for n, st in dims:
        if merged:
            pn, pst = merged[-1]
            if all(ps == s * n for ps, s in zip(pst, st)):
                merged[-1] = (pn * n, st)
                continue
        merged.append((n, st))
    if not merged:
        return (1,), [(0,) for _ in strides_list]
    shape_out = tuple(n for n, _ in merged)
    strides_out = [tuple(st[k] for _, st in merged) for k in range(len(strides_list))]
    return shape_out, strides_out


def make_meta(shape, strides_list, what="cuda"):
    """A `Meta` for iterating ``shape`` with one strides tuple per operand."""
    if len(strides_list) > MAXOPS:
        raise ValueError(f"{what}: at most {MAXOPS} strided operands, got {len(strides_list)}")
    n = 1
    for d in shape:
        n *= int(d)
    shape, strides_list = collapse(shape, strides_list)
    if len(shape) > MAXD:
        raise ValueError(f"{what}: the GPU kernels index at most {MAXD} non-mergeable "
                         f"dimensions, got shape {tuple(shape)}")
    m = Meta()
    m.ndim = len(shape)
    m.n = n
    for d, v in enumerate(shape):
        m.shape[d] = v
    for k, st in enumerate(strides_list):
        for d, v in enumerate(st):
            m.st[k][d] = v
    return m


def elementwise_grid(n, sm_count=80, block=BLOCK):
    """(grid, block) for a grid-stride loop over ``n`` elements: enough blocks to fill
    the device (32 per SM) without launching one per element for huge ``n``."""
    if n <= 0:
        return (0, 1, 1), (block, 1, 1)
    blocks = min(-(-n // block), max(1, sm_count) * 32, MAX_GRID_X)
    return (blocks, 1, 1), (block, 1, 1)


def _pow2_at_most(x, cap):
    p = 1
    while p * 2 <= min(x, cap):
        p *= 2
    return p


def _pow2_at_least(x, cap):
    p = 1
    while p < x and p < cap:
        p *= 2
    return p


def reduce_config(outer, R, inner, sm_count=80, threads=256):
    """Launch shape for ``reduce_*`` over x viewed as [outer, R, inner].

    Returns (grid, block, chunk).  threadIdx.x walks ``inner`` (coalesced),
    threadIdx.y strides over R; when there are too few (outer, inner) outputs to
    fill the device and R is long, R is split into chunks (grid.z) whose partial
    results a second pass reduces.
    """
    bx = _pow2_at_least(inner, 32) if inner > 1 else 1
    by = _pow2_at_most(max(1, R), threads // bx) if R > 1 else 1
    gx = -(-inner // bx)
    gy = min(max(outer, 1), MAX_GRID_YZ)
    chunk = max(R, 1)
    want = 4 * max(1, sm_count)
    if gx * gy < want and R > 8 * by:
        nchunks = min(-(-want // (gx * gy)), -(-R // (4 * by)), MAX_GRID_YZ)
        chunk = -(-R // nchunks)
    gz = -(-max(R, 1) // chunk)
    return (gx, gy, gz), (bx, by, 1), chunk


def rows_config(rows, D, threads=256):
    """One block per row (grid-stride over rows) with a power-of-two block ≤ ``threads``."""
    block = max(32, _pow2_at_least(max(1, D), threads))
    return (max(1, min(rows, MAX_GRID_YZ * 16)), 1, 1), (block, 1, 1)


def matmul_grid(batch, M, N):
    """Grid/block for the 16x16-tiled fallback matmul kernel."""
    return (max(1, -(-N // 16)), max(1, -(-M // 16)), max(1, min(batch, MAX_GRID_YZ))), (16, 16, 1)


def conv_out_size(size, k, stride, dilation, padding, what="conv2d"):
    """(output size, pad before) along one spatial axis, TensorFlow's rules.

    ``padding`` is "SAME", "VALID" or an explicit (before, after) pair.
    """
    eff = (k - 1) * dilation + 1
    if isinstance(padding, str):
        p = padding.upper()
        if p == "VALID":
            if size < eff:
                raise ValueError(f"{what}: window {eff} (kernel {k}, dilation {dilation}) "
                                 f"is larger than the input size {size} with VALID padding")
            return (size - eff) // stride + 1, 0
        if p == "SAME":
            out = -(-size // stride)
            total = max((out - 1) * stride + eff - size, 0)
            return out, total // 2
        raise ValueError(f"{what}: padding must be 'SAME', 'VALID' or explicit pairs, "
                         f"got {padding!r}")
    before, after = (int(v) for v in padding)
    if before < 0 or after < 0:
        raise ValueError(f"{what}: negative padding {padding!r}")
    span = size + before + after
    if span < eff:
        raise ValueError(f"{what}: padded input {span} is smaller than the window {eff}")
    return (span - eff) // stride + 1, before
