"""GPU conv2d (im2col + cuBLAS gemm) and pooling, NHWC input, HWIO filters.

The column buffer for a whole batch can be large (N*OH*OW x KH*KW*C), so the
batch is processed in chunks whose columns fit `COLS_BYTES`; each chunk's gemm
writes straight into its slice of the output (forward), its slice of dx
(backprop-input, through the gather-form col2im), or accumulates into dw with
beta = 1 (backprop-filter).
"""
from ctypes import c_int

import numpy as np

from tapegrad.ops.conv import _geometry

from . import launch
from .array import CudaArray
from .elementwise import cast, full, ptr, run_ew, same_device
from .linalg import gemm_ptr

COLS_BYTES = 256 << 20


def conv_meta(x_shape, kh, kw, strides, dilations, pads, out_hw, n=None):
    m = launch.ConvMeta()
    N, H, W, C = x_shape
    m.N, m.H, m.W, m.C = (N if n is None else n), H, W, C
    m.KH, m.KW = kh, kw
    m.OH, m.OW = out_hw
    m.sh, m.sw = strides
    m.dh, m.dw = dilations
    m.pt, m.pl = pads
    return m


def _plan(x_shape, w_shape, strides, padding, dilations):
    # the CPU forward's geometry (TensorFlow's rule; VALID with a too-small input raises)
    oh, pt = _geometry(x_shape[1], w_shape[0], strides[0], dilations[0], padding)
    ow, pl = _geometry(x_shape[2], w_shape[1], strides[1], dilations[1], padding)
    return (oh, ow), (pt, pl)


def _chunk(N, rows_per_image, K, itemsize):
    per = max(1, rows_per_image * K * itemsize)
    return max(1, min(N, COLS_BYTES // per))


def _compute_dtype(*arrays):
    """float16 convolutions run in float32 (cuBLAS sgemm) and are cast back."""
    dt = arrays[0].dtype
    if dt == np.float16:
        return [cast(a, np.float32) for a in arrays], dt
    if dt.kind != "f":
        raise TypeError(f"conv2d: expected floating-point inputs, got {dt}")
    return list(arrays), dt


def conv2d(x, w, strides, padding, dilations):
    same_device("conv2d", x, w)
    (x, w), dt = _compute_dtype(x, w)
    N, H, W, C = x.shape
    KH, KW, Cw, O = w.shape
    if C != Cw:
        raise ValueError(f"conv2d: input has {C} channels but filters expect {Cw} "
                         f"(shapes {x.shape}, {w.shape})")
    out_hw, pads = _plan(x.shape, w.shape, strides, padding, dilations)
    OH, OW = out_hw
    out = CudaArray.empty((N, OH, OW, O), x.dtype, x.device_index)
    K = KH * KW * C
    if out.size == 0:
        return cast(out, dt)
    if K == 0:
        return cast(full(out.shape, 0, x.dtype, x.device_index), dt)
    s = launch.suffix(x.dtype, "conv2d")
    nb = _chunk(N, OH * OW, K, x.itemsize)
    cols = CudaArray.empty((nb * OH * OW, K), x.dtype, x.device_index)
    for n0 in range(0, N, nb):
        n = min(nb, N - n0)
        m = conv_meta(x.shape, KH, KW, strides, dilations, pads, out_hw, n)
        run_ew(x.dev, f"im2col_{s}", n * OH * OW * K, [m, ptr(x, n0 * H * W * C), ptr(cols)])
        gemm_ptr(x.dev, s, cols.ptr, False, w.ptr, False, ptr(out, n0 * OH * OW * O).value,
                 n * OH * OW, O, K, accumulate=False)
    return cast(out, dt)


def conv2d_backprop_input(dy, w, input_shape, strides, padding, dilations):
    same_device("conv2d_backprop_input", dy, w)
    (dy, w), dt = _compute_dtype(dy, w)
    N, H, W, C = (int(d) for d in input_shape)
    KH, KW, _, O = w.shape
    out_hw, pads = _plan((N, H, W, C), w.shape, strides, padding, dilations)
    OH, OW = out_hw
    K = KH * KW * C
    if N * H * W * C == 0 or OH * OW * O == 0 or K == 0:
        return cast(full((N, H, W, C), 0, dy.dtype, dy.device_index), dt)
    dx = CudaArray.empty((N, H, W, C), dy.dtype, dy.device_index)
    s = launch.suffix(dy.dtype, "conv2d_backprop_input")
    nb = _chunk(N, OH * OW, K, dy.itemsize)
    dcols = CudaArray.empty((nb * OH * OW, K), dy.dtype, dy.device_index)
    for n0 in range(0, N, nb):
        n = min(nb, N - n0)
        # dcols [rows, K] = dy [rows, O] @ w[K, O]^T
        gemm_ptr(dy.dev, s, ptr(dy, n0 * OH * OW * O).value, False, w.ptr, True, dcols.ptr,
                 n * OH * OW, K, O, accumulate=False)
        m = conv_meta((N, H, W, C), KH, KW, strides, dilations, pads, out_hw, n)
        run_ew(dy.dev, f"col2im_{s}", n * H * W * C, [m, ptr(dcols), ptr(dx, n0 * H * W * C)])
    return cast(dx, dt)


def conv2d_backprop_filter(x, dy, filter_shape, strides, padding, dilations):
    same_device("conv2d_backprop_filter", x, dy)
    (x, dy), dt = _compute_dtype(x, dy)
    N, H, W, C = x.shape
    KH, KW, _, O = (int(d) for d in filter_shape)
    out_hw, pads = _plan(x.shape, (KH, KW), strides, padding, dilations)
    OH, OW = out_hw
    K = KH * KW * C
    if K * O == 0 or N * OH * OW == 0:
        return cast(full((KH, KW, C, O), 0, x.dtype, x.device_index), dt)
    dw = CudaArray.empty((KH, KW, C, O), x.dtype, x.device_index)
    s = launch.suffix(x.dtype, "conv2d_backprop_filter")
    nb = _chunk(N, OH * OW, K, x.itemsize)
    cols = CudaArray.empty((nb * OH * OW, K), x.dtype, x.device_index)
    for n0 in range(0, N, nb):
        n = min(nb, N - n0)
        m = conv_meta(x.shape, KH, KW, strides, dilations, pads, out_hw, n)
        run_ew(x.dev, f"im2col_{s}", n * OH * OW * K, [m, ptr(x, n0 * H * W * C), ptr(cols)])
        # dw [K, O] (+)= cols^T [K, rows] @ dy [rows, O]
        gemm_ptr(x.dev, s, cols.ptr, True, ptr(dy, n0 * OH * OW * O).value, False, dw.ptr,
                 K, O, n * OH * OW, accumulate=n0 > 0)
    return cast(dw, dt)


# ---------------------------------------------------------------- pooling
def _pool_meta(shape, ksize, strides, pads, out_hw):
    return conv_meta(shape, ksize[0], ksize[1], strides, (1, 1), pads, out_hw)


def _float(x, what):
    if x.dtype.kind != "f":
        raise TypeError(f"{what}: expected a floating-point input, got {x.dtype}")
    return launch.suffix(x.dtype, what)


def _pool(x, ksize, strides, pads, out_hw, avg):
    what = "avg_pool2d" if avg else "max_pool2d"
    s = _float(x, what)
    N, _, _, C = x.shape
    out = CudaArray.empty((N, out_hw[0], out_hw[1], C), x.dtype, x.device_index)
    if out.size:
        m = _pool_meta(x.shape, ksize, strides, pads, out_hw)
        run_ew(x.dev, f"pool_fwd_{s}", out.size, [m, c_int(int(avg)), ptr(x), ptr(out)])
    return out


def max_pool2d(x, ksize, strides, pads, out_hw):
    return _pool(x, ksize, strides, pads, out_hw, False)


def avg_pool2d(x, ksize, strides, pads, out_hw):
    return _pool(x, ksize, strides, pads, out_hw, True)


def max_pool2d_grad(x, g, ksize, strides, pads, out_hw):
    same_device("max_pool2d_grad", x, g)
    s = _float(x, "max_pool2d_grad")
    dx = CudaArray.empty(x.shape, x.dtype, x.device_index)
    if dx.size:
        m = _pool_meta(x.shape, ksize, strides, pads, g.shape[1:3])
        run_ew(x.dev, f"pool_bwd_{s}", dx.size, [m, c_int(0), ptr(x), ptr(g), ptr(dx)])
    return dx


def max_pool2d_select(x, h, ksize, strides, pads, out_hw):
    same_device("max_pool2d_select", x, h)
    s = _float(x, "max_pool2d_select")
    out = CudaArray.empty((x.shape[0], out_hw[0], out_hw[1], x.shape[3]), x.dtype,
                          x.device_index)
    if out.size:
        m = _pool_meta(x.shape, ksize, strides, pads, out_hw)
        run_ew(x.dev, f"pool_select_{s}", out.size, [m, ptr(x), ptr(h), ptr(out)])
    return out


def avg_pool2d_grad(g, input_shape, ksize, strides, pads):
    s = _float(g, "avg_pool2d_grad")
    shape = tuple(int(d) for d in input_shape)
    dx = CudaArray.empty(shape, g.dtype, g.device_index)
    if dx.size:
        m = _pool_meta(shape, ksize, strides, pads, g.shape[1:3])
        # the avg branch of pool_bwd never reads x; pass g as a valid placeholder
        run_ew(g.dev, f"pool_bwd_{s}", dx.size, [m, c_int(1), ptr(g), ptr(g), ptr(dx)])
    return dx
