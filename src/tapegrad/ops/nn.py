"""Neural-network primitives: relu, softmax/log_softmax, conv2d (im2col + BLAS), pooling,
and compositions (softplus, dropout, cross-entropies)."""

import functools

import numpy as np

from tapegrad import _kernels
from tapegrad._tape import needs_input
from tapegrad.ops import random as tg_random
from tapegrad.ops._registry import (
    FLOAT,
    INT,
    NotSupported,
    define_rules,
    norm_axis,
    primitive,
    tensor,
)
from tapegrad.ops._registry import format_shape as _fmt
from tapegrad.ops._registry import onnx_rules as _onnx_rules
from tapegrad.ops.elementwise import (
    add,
    cast,
    exp,
    expm1,
    greater,
    log1p,
    minimum,
    multiply,
    negative,
    ones_like,
    sigmoid,
    square,
    subtract,
    where,
)
from tapegrad.ops.elementwise import tanh as _tanh
from tapegrad.ops.reductions import _sum, reduce_mean, reduce_sum
from tapegrad.ops.shape import reshape, squeeze

__all__ = ["relu", "relu6", "leaky_relu", "elu", "softplus", "sigmoid", "tanh", "softmax",
           "log_softmax", "conv2d", "max_pool2d", "avg_pool2d", "max_pool", "avg_pool",
           "dropout", "bias_add", "l2_loss", "sparse_softmax_cross_entropy_with_logits",
           "softmax_cross_entropy_with_logits", "sigmoid_cross_entropy_with_logits",
           "moments"]


@primitive("relu", dtypes=FLOAT | INT, save_inputs=False, args=("features",))
def relu(features):
    """max(features, 0) elementwise (subgradient 0 at 0)."""
    x = features
    out = _kernels.relu(x)
    return np.maximum(x, 0, dtype=x.dtype) if out is None else out


@relu.defvjp
def _relu_vjp(g, ans, x):
    return _relu_grad(g, ans)


relu.defjvp_self_adjoint()


@primitive("relu_grad", dtypes=FLOAT | INT, save_output=False)
def _relu_grad(g, ans):
    """g where ans > 0, else 0 (the subgradient at 0 is 0); one fused pass.

    A select, not a product: an infinite or NaN cotangent where the unit is off gives
    0, as in PyTorch (``g * (ans > 0)`` would give NaN there)."""
    out = _kernels.relu_grad(g, ans)
    if out is None:
        out = np.where(ans > 0, g, np.zeros((), dtype=g.dtype))
    return out


_relu_grad.deflinear(0)      # piecewise constant in ans


@_relu_grad.defvjp
def _relu_grad_vjp(gg, out, g, ans):
    # linear in g; piecewise constant in ans
    return _relu_grad(gg, ans), None


def relu6(features, name=None):
    """min(max(features, 0), 6)."""
    return minimum(relu(features), 6)


def leaky_relu(features, alpha=0.2, name=None):
    """``features`` where positive, ``alpha * features`` elsewhere."""
    x = tensor(features, op="leaky_relu")
    return where(greater(x, 0), x, multiply(x, alpha))


def elu(features, name=None):
    """``features`` where positive, ``exp(features) - 1`` elsewhere."""
    x = tensor(features, op="elu")
    return where(greater(x, 0), x, expm1(where(greater(x, 0), 0, x)))


def softplus(features, name=None):
    """log(1 + exp(x)) without overflow, with every derivative right at 0.

    ``max(x, 0) + log1p(exp(-|x|))`` is the same function, but the derivatives of
    ``max`` and ``abs`` disagree at the tie (its gradient at 0 came out 1, not 1/2).
    Instead each side is a smooth expression, evaluated only on its own side:
    ``log1p(exp(x))`` for x <= 0 and ``x + log1p(exp(-x))`` for x > 0; the other side's
    input is replaced by 0 so that neither overflows nor feeds NaN into the gradient.
    """
    x = tensor(features, op="softplus")
    return _softplus(x)


def _softplus(x):
    positive = greater(x, 0)
    x_neg = where(positive, 0, x)
    x_pos = where(positive, x, 0)
    return where(positive, add(x_pos, log1p(exp(negative(x_pos)))), log1p(exp(x_neg)))


def tanh(x, name=None):
    """Hyperbolic tangent elementwise (tg.tanh)."""
    return _tanh(x)


@primitive("softmax", dtypes=FLOAT, save_inputs=False, quiet=True)
def _softmax(x, axis):
    """exp(x) / sum(exp(x)) along ``axis``, max-shifted."""
    if x.size == 0:
        return np.empty_like(x)
    if axis == x.ndim - 1:
        out = _kernels.softmax_last(x)   # fused rows on the thread pool, same values
        if out is not None:
            return out
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


@_softmax.defvjp
def _softmax_vjp(g, ans, x, axis):
    return _softmax_grad(ans, g, axis=axis)


_softmax.defjvp_self_adjoint()     # its Jacobian diag(p) - p p^T is symmetric


@primitive("softmax_grad", dtypes=FLOAT, quiet=True)
def _softmax_grad(y, g, axis):
    """softmax's adjoint y * (g - sum(g * y)) along ``axis`` (y the softmax output): one
    fused pass per row instead of four NumPy passes with three temporaries."""
    if y.shape == g.shape and y.dtype == g.dtype and axis == y.ndim - 1 and y.size:
        out = _kernels.softmax_last_grad(y, g)
        if out is not None:
            return out
    return y * (g - np.sum(g * y, axis=axis, keepdims=True))


def _softmax_grad_parts(y, g, t, axis):
    # d/dy of y * (g - s), s = sum(g * y), against t: t * (g - s) - y * sum(g * t)
    s = _sum(multiply(g, y), axes=(axis,), keepdims=True)
    return subtract(multiply(t, subtract(g, s)),
                    multiply(y, _sum(multiply(g, t), axes=(axis,), keepdims=True)))


@_softmax_grad.defvjp
def _softmax_grad_vjp(c, ans, y, g, axis):
    # linear in g with a symmetric Jacobian (softmax's own), so g's adjoint is the op on
    # c; y's adjoint: c * (g - s) - g * sum(c * y)
    gy = _softmax_grad(y, c, axis=axis) if needs_input(1) else None
    if not needs_input(0):
        return None, gy
    s = _sum(multiply(g, y), axes=(axis,), keepdims=True)
    t = _sum(multiply(c, y), axes=(axis,), keepdims=True)
    return subtract(multiply(c, subtract(g, s)), multiply(g, t)), gy


@_softmax_grad.defjvp
def _softmax_grad_jvp(ts, ans, y, g, axis):
    ty, tg_ = ts
    parts = []
    if tg_ is not None:
        parts.append(_softmax_grad(y, tg_, axis=axis))
    if ty is not None:
        parts.append(_softmax_grad_parts(y, g, ty, axis))
    return parts[0] if len(parts) == 1 else add(parts[0], parts[1])


@primitive("log_softmax", dtypes=FLOAT, save_inputs=False, quiet=True)
def _log_softmax(x, axis):
    """x - logsumexp(x) along ``axis``, max-shifted."""
    if x.size == 0:
        return np.empty_like(x)
    shifted = x - np.max(x, axis=axis, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


@_log_softmax.defvjp
def _log_softmax_vjp(g, ans, x, axis):
    return subtract(g, multiply(exp(ans), _sum(g, axes=(axis,), keepdims=True)))


@_log_softmax.defjvp
def _log_softmax_jvp(ts, ans, x, axis):
    t = ts[0]
    return subtract(t, _sum(multiply(exp(ans), t), axes=(axis,), keepdims=True))


def softmax(logits, axis=-1, name=None):
    """exp(logits) normalised to sum to 1 along ``axis`` (computed max-shifted)."""
    x = tensor(logits, op="softmax")
    if x.ndim == 0:
        raise ValueError("softmax: logits must have rank >= 1")
    return _softmax(x, axis=norm_axis(axis, x.ndim, "softmax"))


def log_softmax(logits, axis=-1, name=None):
    """logits - logsumexp(logits) along ``axis`` (computed max-shifted)."""
    x = tensor(logits, op="log_softmax")
    if x.ndim == 0:
        raise ValueError("log_softmax: logits must have rank >= 1")
    return _log_softmax(x, axis=norm_axis(axis, x.ndim, "log_softmax"))


# ---------------------------------------------------------------------------
# float16 convolution and pooling: the kernels and BLAS have float32/float64 loops only,
# so half-precision inputs are widened, computed in float32 and rounded back once (as
# TF's and PyTorch's CPU kernels do); rounding each partial sum to float16 would lose
# the accumulation.

def _half_via_float32(forward):
    @functools.wraps(forward)
    def wrapped(*args, **params):
        if not any(type(a) is np.ndarray and a.dtype == np.float16 for a in args):
            return forward(*args, **params)
        wide = [a.astype(np.float32) if type(a) is np.ndarray and a.dtype == np.float16
                else a for a in args]
        return forward(*wide, **params).astype(np.float16)

    return wrapped


# ---------------------------------------------------------------------------
# convolution (NHWC input, HWIO filters)

def _pair(v, name, op):
    if isinstance(v, (int, np.integer)) and not isinstance(v, bool):
        return (int(v), int(v))
    if not isinstance(v, (list, tuple)) or not all(
            isinstance(i, (int, np.integer)) and not isinstance(i, bool) for i in v):
        raise TypeError("%s: %s must be an int or a list of ints, got %r" % (op, name, v))
    v = [int(i) for i in v]
    if len(v) == 1:
        return (v[0], v[0])
    if len(v) == 2:
        return tuple(v)
    if len(v) == 4:
        if v[0] != 1 or v[3] != 1:
            raise ValueError("%s: %s over the batch or channel axis must be 1, got %s"
                             % (op, name, v))
        return (v[1], v[2])
    raise ValueError("%s: %s must be an int or a list of 1, 2 or 4 ints, got %s" % (op, name, v))


def _geometry(in_size, k, stride, dilation, padding):
    eff = (k - 1) * dilation + 1
    if padding == "SAME":
        out = -(-in_size // stride)
        total = max((out - 1) * stride + eff - in_size, 0)
        return out, total // 2
    out = (in_size - eff) // stride + 1 if in_size >= eff else 0
    return out, 0


def _padding(padding, op):
    p = str(padding).upper()
    if p not in ("SAME", "VALID"):
        raise ValueError("%s: padding must be 'SAME' or 'VALID', got %r" % (op, padding))
    return p


def _conv_geometry(x_shape, f_shape, strides, padding, dilations):
    (sh, sw), (dh, dw) = strides, dilations
    oh, pt = _geometry(x_shape[1], f_shape[0], sh, dh, padding)
    ow, pl = _geometry(x_shape[2], f_shape[1], sw, dw, padding)
    return oh, ow, pt, pl


# Convolutions run im2col + GEMM over chunks of images, so each chunk's patch matrix
# (~4 MiB) stays in cache between the copy and the product instead of streaming a
# 40 MB matrix through memory twice.
_CHUNK_BYTES = 4 << 20


def _chunks(n, rows_per_image, width, itemsize):
    per = max(1, _CHUNK_BYTES // max(1, rows_per_image * width * itemsize))
    return [(i, min(n, i + per)) for i in range(0, n, per)]


def _im2col(x, kh, kw, strides, dilations, pt, pl, oh, ow):
    return _kernels.im2col(x, kh, kw, strides[0], strides[1], dilations[0], dilations[1],
                           pt, pl, oh, ow)


@primitive("conv2d", dtypes=FLOAT, save_output=False)
@_half_via_float32
def _conv2d(x, w, strides, padding, dilations):
    """2-D convolution (cross-correlation), NHWC x HWIO -> NHWC."""
    kh, kw, c, o = w.shape
    oh, ow, pt, pl = _conv_geometry(x.shape, w.shape, strides, padding, dilations)
    w2 = np.ascontiguousarray(w).reshape(kh * kw * c, o)
    out = _kernels.conv2d(x, w2, kh, kw, strides[0], strides[1], dilations[0], dilations[1],
                          pt, pl, oh, ow)
    if out is not None:       # im2col + GEMM on the thread pool
        return out
    out = np.empty((x.shape[0], oh, ow, o), dtype=x.dtype)
    for a, b in _chunks(x.shape[0], oh * ow, kh * kw * c, x.itemsize):
        cols = _im2col(x[a:b], kh, kw, strides, dilations, pt, pl, oh, ow)
        np.matmul(cols, w2, out=out[a:b].reshape((b - a) * oh * ow, o))
    return out


@_conv2d.defvjp
def _conv2d_vjp(g, ans, x, w, strides, padding, dilations):
    need_x, need_w = needs_input(0), needs_input(1)
    kw_ = dict(strides=strides, padding=padding, dilations=dilations)
    return (_conv2d_backprop_input(g, w, input_shape=x.shape, **kw_) if need_x else None,
            _conv2d_backprop_filter(x, g, filter_shape=w.shape, **kw_) if need_w else None)


def _bilinear_jvp(op, ts, a, b, **params):
    """The product rule for an op linear in each of its two tensor inputs."""
    ta, tb = ts
    parts = ([op(ta, b, **params)] if ta is not None else []) + \
        ([op(a, tb, **params)] if tb is not None else [])
    return parts[0] if len(parts) == 1 else add(parts[0], parts[1])


@_conv2d.defjvp
def _conv2d_jvp(ts, ans, x, w, strides, padding, dilations):
    return _bilinear_jvp(_conv2d, ts, x, w, strides=strides, padding=padding,
                         dilations=dilations)


@primitive("conv2d_backprop_input", dtypes=FLOAT, save_output=False)
@_half_via_float32
def _conv2d_backprop_input(dy, w, input_shape, strides, padding, dilations):
    """Adjoint of conv2d with respect to its input."""
    kh, kw, c, o = w.shape
    input_shape = tuple(input_shape)
    oh, ow, pt, pl = _conv_geometry(input_shape, w.shape, strides, padding, dilations)
    w2 = np.ascontiguousarray(w).reshape(kh * kw * c, o)
    dx = _kernels.conv2d_input_grad(dy, w2, input_shape, kh, kw, strides[0], strides[1],
                                    dilations[0], dilations[1], pt, pl, oh, ow)
    if dx is not None:
        return dx
    w2t = w2.T
    dy = np.ascontiguousarray(dy)
    dx = np.zeros(input_shape, dtype=dy.dtype)
    for a, b in _chunks(input_shape[0], oh * ow, kh * kw * c, dy.itemsize):
        dcols = np.matmul(dy[a:b].reshape((b - a) * oh * ow, o), w2t)
        _kernels.col2im(dcols, (b - a,) + input_shape[1:], kh, kw, strides[0], strides[1],
                        dilations[0], dilations[1], pt, pl, oh, ow, dx[a:b])
    return dx


@_conv2d_backprop_input.defvjp
def _conv2d_backprop_input_vjp(g, ans, dy, w, input_shape, strides, padding, dilations):
    kw_ = dict(strides=strides, padding=padding, dilations=dilations)
    return _conv2d(g, w, **kw_), _conv2d_backprop_filter(g, dy, filter_shape=w.shape, **kw_)


@_conv2d_backprop_input.defjvp
def _conv2d_backprop_input_jvp(ts, ans, dy, w, input_shape, strides, padding, dilations):
    return _bilinear_jvp(_conv2d_backprop_input, ts, dy, w, input_shape=input_shape,
                         strides=strides, padding=padding, dilations=dilations)


@primitive("conv2d_backprop_filter", dtypes=FLOAT, save_output=False)
@_half_via_float32
def _conv2d_backprop_filter(x, dy, filter_shape, strides, padding, dilations):
    """Adjoint of conv2d with respect to its filter."""
    kh, kw, c, o = filter_shape
    oh, ow, pt, pl = _conv_geometry(x.shape, filter_shape, strides, padding, dilations)
    dw = _kernels.conv2d_filter_grad(x, dy, kh, kw, strides[0], strides[1], dilations[0],
                                     dilations[1], pt, pl, oh, ow)
    if dw is not None:
        return dw.reshape(filter_shape)
    dy = np.ascontiguousarray(dy)
    dw = np.zeros((kh * kw * c, o), dtype=x.dtype)
    for a, b in _chunks(x.shape[0], oh * ow, kh * kw * c, x.itemsize):
        cols = _im2col(x[a:b], kh, kw, strides, dilations, pt, pl, oh, ow)
        dw += _cols_t_dot(cols, dy[a:b].reshape((b - a) * oh * ow, o))
    return dw.reshape(filter_shape)


def _cols_t_dot(cols, dy):
    """cols.T @ dy for tall operands (many patch rows).  When the result is tiny (a first
    layer: 25 x 32), OpenBLAS handles the single long inner dimension badly (measured
    ~15x slower); summing products over 1024-row blocks keeps every call in its fast
    small-matrix path."""
    if cols.shape[1] * dy.shape[1] > 4096 or cols.shape[0] <= 2048:
        return np.matmul(cols.T, dy)
    out = np.matmul(cols[:1024].T, dy[:1024])
    for i in range(1024, cols.shape[0], 1024):
        out += np.matmul(cols[i:i + 1024].T, dy[i:i + 1024])
    return out


@_conv2d_backprop_filter.defvjp
def _conv2d_backprop_filter_vjp(g, ans, x, dy, filter_shape, strides, padding, dilations):
    kw_ = dict(strides=strides, padding=padding, dilations=dilations)
    return (_conv2d_backprop_input(dy, g, input_shape=x.shape, **kw_),
            _conv2d(x, g, **kw_))


@_conv2d_backprop_filter.defjvp
def _conv2d_backprop_filter_jvp(ts, ans, x, dy, filter_shape, strides, padding, dilations):
    return _bilinear_jvp(_conv2d_backprop_filter, ts, x, dy, filter_shape=filter_shape,
                         strides=strides, padding=padding, dilations=dilations)


def conv2d(input, filters, strides=1, padding="VALID", data_format="NHWC", dilations=None,
           name=None):
    """tf.nn.conv2d: NHWC input, [kh, kw, in, out] filters, 'SAME'/'VALID' padding."""
    op = "conv2d"
    if data_format != "NHWC":
        raise ValueError("conv2d: only data_format='NHWC' is supported, got %r" % (data_format,))
    x = tensor(input, op=op)
    w = tensor(filters, op=op)
    if x.ndim != 4 or w.ndim != 4:
        raise ValueError("conv2d: input must be rank 4 (NHWC) and filters rank 4 (HWIO), got "
                         "%s and %s" % (_fmt(x.shape), _fmt(w.shape)))
    if x.shape[3] != w.shape[2]:
        raise ValueError("conv2d: input has %d channels but filters expect %d (shapes %s, %s)"
                         % (x.shape[3], w.shape[2], _fmt(x.shape), _fmt(w.shape)))
    if x.dtype != w.dtype:
        raise TypeError("conv2d: dtypes differ: %s vs %s" % (x.dtype.name, w.dtype.name))
    s = _pair(strides, "strides", op)
    d = _pair(1 if dilations is None else dilations, "dilations", op)
    if min(s) < 1 or min(d) < 1:
        raise ValueError("conv2d: strides and dilations must be >= 1, got %s, %s" % (s, d))
    if s != (1, 1) and d != (1, 1):
        raise ValueError("conv2d: strides > 1 together with dilations > 1 is not supported")
    if min(w.shape[:2]) < 1:
        raise ValueError("conv2d: empty filter window %s" % _fmt(w.shape))
    return _conv2d(x, w, strides=s, padding=_padding(padding, op), dilations=d)


# ---------------------------------------------------------------------------
# pooling

def _pool_args(x, ksize, strides, padding, op):
    if x.ndim != 4:
        raise ValueError("%s: input must be rank 4 (NHWC), got %s" % (op, _fmt(x.shape)))
    k = _pair(ksize, "ksize", op)
    s = _pair(strides, "strides", op)
    if min(k) < 1 or min(s) < 1:
        raise ValueError("%s: ksize and strides must be >= 1, got %s, %s" % (op, k, s))
    p = _padding(padding, op)
    oh, pt = _geometry(x.shape[1], k[0], s[0], 1, p)
    ow, pl = _geometry(x.shape[2], k[1], s[1], 1, p)
    return dict(ksize=k, strides=s, pads=(pt, pl), out_hw=(oh, ow))


@primitive("max_pool2d", dtypes=FLOAT, save_output=False)
@_half_via_float32
def _max_pool2d(x, ksize, strides, pads, out_hw):
    """Max over each window (padding never wins)."""
    return _kernels.max_pool(x, ksize[0], ksize[1], strides[0], strides[1], pads[0], pads[1],
                             out_hw[0], out_hw[1])


@_max_pool2d.defvjp
def _max_pool2d_vjp(g, ans, x, ksize, strides, pads, out_hw):
    return _max_pool2d_grad(x, g, ksize=ksize, strides=strides, pads=pads, out_hw=out_hw)


@_max_pool2d.defjvp
def _max_pool2d_jvp(ts, ans, x, ksize, strides, pads, out_hw):
    # the tangent at each window's first maximum (the element the VJP routes to)
    return _max_pool2d_select(x, ts[0], ksize=ksize, strides=strides, pads=pads,
                              out_hw=out_hw)


@primitive("max_pool2d_grad", dtypes=FLOAT, save_output=False)
@_half_via_float32
def _max_pool2d_grad(x, g, ksize, strides, pads, out_hw):
    """Route pooled gradients to each window's first maximum."""
    return _kernels.max_pool_scatter(x, g, ksize[0], ksize[1], strides[0], strides[1],
                                     pads[0], pads[1])


_max_pool2d_grad.deflinear(1)   # piecewise constant in x


@_max_pool2d_grad.defvjp
def _max_pool2d_grad_vjp(gg, ans, x, g, ksize, strides, pads, out_hw):
    # linear in g; piecewise constant in x (zero almost everywhere)
    return None, _max_pool2d_select(x, gg, ksize=ksize, strides=strides, pads=pads,
                                    out_hw=out_hw)


@primitive("max_pool2d_select", dtypes=FLOAT, save_output=False)
@_half_via_float32
def _max_pool2d_select(x, h, ksize, strides, pads, out_hw):
    """Read an input-shaped h at each window's first maximum of x."""
    return _kernels.max_pool_select(x, h, ksize[0], ksize[1], strides[0], strides[1],
                                    pads[0], pads[1], out_hw[0], out_hw[1])


_max_pool2d_select.deflinear(1)   # piecewise constant in x


@_max_pool2d_select.defvjp
def _max_pool2d_select_vjp(gg, ans, x, h, ksize, strides, pads, out_hw):
    return None, _max_pool2d_grad(x, gg, ksize=ksize, strides=strides, pads=pads,
                                  out_hw=out_hw)


@primitive("avg_pool2d", dtypes=FLOAT, save_inputs=False, save_output=False)
@_half_via_float32
def _avg_pool2d(x, ksize, strides, pads, out_hw):
    """Mean over each window's valid (unpadded) inputs, as TF does."""
    return _kernels.avg_pool(x, ksize[0], ksize[1], strides[0], strides[1], pads[0], pads[1],
                             out_hw[0], out_hw[1])


_avg_pool2d.deflinear()


@_avg_pool2d.defvjp
def _avg_pool2d_vjp(g, ans, x, ksize, strides, pads, out_hw):
    return _avg_pool2d_grad(g, input_shape=x.shape, ksize=ksize, strides=strides, pads=pads)


@primitive("avg_pool2d_grad", dtypes=FLOAT, save_inputs=False, save_output=False)
@_half_via_float32
def _avg_pool2d_grad(g, input_shape, ksize, strides, pads):
    """Adjoint of avg_pool2d."""
    return _kernels.avg_pool_grad(g, tuple(input_shape), ksize[0], ksize[1], strides[0],
                                  strides[1], pads[0], pads[1])


_avg_pool2d_grad.deflinear()


@_avg_pool2d_grad.defvjp
def _avg_pool2d_grad_vjp(gg, ans, g, input_shape, ksize, strides, pads):
    return _avg_pool2d(gg, ksize=ksize, strides=strides, pads=pads, out_hw=g.shape[1:3])


def max_pool2d(input, ksize, strides, padding, data_format="NHWC", name=None):
    """Max over ``ksize`` windows of an NHWC ``input``, 'SAME' or 'VALID' padding."""
    x = tensor(input, op="max_pool2d")
    if data_format != "NHWC":
        raise ValueError("max_pool2d: only data_format='NHWC' is supported")
    return _max_pool2d(x, **_pool_args(x, ksize, strides, padding, "max_pool2d"))


def avg_pool2d(input, ksize, strides, padding, data_format="NHWC", name=None):
    """Mean over ``ksize`` windows of an NHWC ``input`` (padding excluded, as TF)."""
    x = tensor(input, op="avg_pool2d")
    if data_format != "NHWC":
        raise ValueError("avg_pool2d: only data_format='NHWC' is supported")
    return _avg_pool2d(x, **_pool_args(x, ksize, strides, padding, "avg_pool2d"))


max_pool = max_pool2d
avg_pool = avg_pool2d


# ---------------------------------------------------------------------------
# compositions

def bias_add(value, bias, name=None):
    """``value + bias``, the bias broadcast along the last axis."""
    return add(value, bias)


def l2_loss(t, name=None):
    """sum(t ** 2) / 2."""
    return multiply(reduce_sum(square(t)), 0.5)


def moments(x, axes, keepdims=False, name=None):
    """``(mean, variance)`` of ``x`` over ``axes``."""
    mean = reduce_mean(x, axes, keepdims=True)
    var = reduce_mean(square(subtract(x, mean)), axes, keepdims=True)
    if not keepdims:
        mean, var = squeeze(mean, axes), squeeze(var, axes)
    return mean, var


def dropout(x, rate, noise_shape=None, seed=None, name=None):
    """Zero each entry with probability ``rate`` and scale the rest by 1 / (1 - rate)."""

    x = tensor(x, op="dropout")
    rate = float(rate)
    if not 0 <= rate < 1:
        raise ValueError("dropout: rate must be in [0, 1), got %r" % rate)
    if x.dtype.kind != "f":
        raise TypeError("dropout: x must be floating, got %s" % x.dtype.name)
    if rate == 0:
        return x
    shape = x.shape if noise_shape is None else tuple(noise_shape)
    keep = tg_random.uniform(shape, dtype=x.dtype, seed=seed) >= rate
    return multiply(x, multiply(cast(keep, x.dtype), 1.0 / (1.0 - rate)))


def sparse_softmax_cross_entropy_with_logits(labels=None, logits=None, name=None):
    """-log softmax(logits)[label] per example; labels are class indices."""
    if labels is None or logits is None:
        raise ValueError("sparse_softmax_cross_entropy_with_logits: pass labels= and logits=")
    logits = tensor(logits, op="sparse_softmax_cross_entropy_with_logits")
    labels = tensor(labels, op="sparse_softmax_cross_entropy_with_logits")
    if labels.dtype.kind not in "iu":
        raise TypeError("sparse_softmax_cross_entropy_with_logits: labels must be integers, "
                        "got %s" % labels.dtype.name)
    if logits.ndim < 1 or labels.shape != logits.shape[:-1]:
        raise ValueError("sparse_softmax_cross_entropy_with_logits: labels shape %s must equal "
                         "logits shape %s without its last axis"
                         % (_fmt(labels.shape), _fmt(logits.shape)))
    if logits.dtype.kind != "f":
        raise TypeError("sparse_softmax_cross_entropy_with_logits: logits must be floating, "
                        "got %s" % logits.dtype.name)
    return _sparse_xent(logits, labels)


def _check_labels(labels, depth):
    if labels.size:
        lo, hi = np.minimum.reduce(labels, axis=None), np.maximum.reduce(labels, axis=None)
        if lo < 0 or hi >= depth:
            raise ValueError("sparse_softmax_cross_entropy_with_logits: labels must be in "
                             "[0, %d), got values in [%d, %d]" % (depth, lo, hi))


def _label_index(labels, depth):
    # flat positions of each example's label in a (..., depth) array
    rows = labels.size
    return np.arange(0, rows * depth, depth) + labels.reshape(rows)


@primitive("sparse_softmax_xent", dtypes=FLOAT | INT, same_dtype=(), save_output=False,
           quiet=True)
def _sparse_xent(logits, labels):
    """Per-example -log softmax(logits)[label], in one max-shifted pass."""
    out = _kernels.softmax_xent(logits, labels)
    if out is not None:
        return out
    depth = logits.shape[-1]
    _check_labels(labels, depth)
    if logits.size == 0:
        return np.zeros(logits.shape[:-1], dtype=logits.dtype)
    shifted = logits - np.maximum.reduce(logits, axis=-1, keepdims=True)
    lse = np.log(np.add.reduce(np.exp(shifted), axis=-1))
    picked = shifted.reshape(-1)[_label_index(labels, depth)].reshape(labels.shape)
    return (lse - picked).astype(logits.dtype, copy=False)


# the JVPs of the fused cross-entropy pair would restate their VJPs (softmax minus the
# one-hot, contracted with the tangent): forward mode transposes the VJPs instead
_sparse_xent.defjvp_by_transposition()


@_sparse_xent.defvjp
def _sparse_xent_vjp(g, ans, logits, labels):
    return _sparse_xent_grad(logits, labels, g), None


@primitive("sparse_softmax_xent_grad", dtypes=FLOAT | INT, same_dtype=(), save_output=False,
           quiet=True)
def _sparse_xent_grad(logits, labels, g):
    """(softmax(logits) - onehot(labels)) * g[..., None]: the logits adjoint of
    sparse_softmax_xent in one pass, instead of five dispatched ops."""
    out = _kernels.softmax_xent(logits, labels, g)
    if out is not None:
        return out
    depth = logits.shape[-1]
    _check_labels(labels, depth)
    if logits.size == 0:
        return np.zeros(logits.shape, dtype=logits.dtype)
    e = np.exp(logits - np.maximum.reduce(logits, axis=-1, keepdims=True))
    e /= np.add.reduce(e, axis=-1, keepdims=True)
    e.reshape(-1)[_label_index(labels, depth)] -= 1
    e *= g.reshape(g.shape + (1,))
    return e.astype(logits.dtype, copy=False)


_sparse_xent_grad.defjvp_by_transposition()


@_sparse_xent_grad.defvjp
def _sparse_xent_grad_vjp(u, ans, logits, labels, g):
    # With p = softmax(logits): d/dlogits is the softmax Jacobian applied to u * g, and
    # d/dg is sum((p - onehot) * u) over the class axis.  Written in tapegrad ops, so
    # every order differentiates again.
    axis = logits.ndim - 1
    grad_logits = grad_g = None
    if needs_input(0):
        ug = multiply(u, reshape(g, g.shape + (1,)))
        grad_logits = _softmax_vjp(ug, _softmax(logits, axis=axis), logits, axis)
    if needs_input(2):
        grad_g = _sum(multiply(_sparse_xent_grad(logits, labels, ones_like(g)), u),
                      axes=(axis,), keepdims=False)
    return grad_logits, None, grad_g


def softmax_cross_entropy_with_logits(labels=None, logits=None, axis=-1, name=None):
    """-sum(labels * log_softmax(logits)) along ``axis``; labels are distributions."""
    if labels is None or logits is None:
        raise ValueError("softmax_cross_entropy_with_logits: pass labels= and logits=")
    logits = tensor(logits, op="softmax_cross_entropy_with_logits")
    labels = tensor(labels, dtype=logits.dtype, op="softmax_cross_entropy_with_logits")
    if labels.shape != logits.shape:
        raise ValueError("softmax_cross_entropy_with_logits: labels %s and logits %s differ"
                         % (_fmt(labels.shape), _fmt(logits.shape)))
    return negative(reduce_sum(multiply(labels, log_softmax(logits, axis)), axis))


def sigmoid_cross_entropy_with_logits(labels=None, logits=None, name=None):
    """softplus(x) - x * z, stable for large |logits|."""
    if labels is None or logits is None:
        raise ValueError("sigmoid_cross_entropy_with_logits: pass labels= and logits=")
    x = tensor(logits, op="sigmoid_cross_entropy_with_logits")
    z = tensor(labels, dtype=x.dtype, op="sigmoid_cross_entropy_with_logits")
    if z.shape != x.shape:
        raise ValueError("sigmoid_cross_entropy_with_logits: labels %s and logits %s differ"
                         % (_fmt(z.shape), _fmt(x.shape)))
    # softplus(x) - x z; softplus is exact (every derivative) at x = 0, where logits
    # often sit at initialization
    return subtract(_softplus(x), multiply(x, z))





# More activations, l2_normalize, embedding_lookup, in_top_k (compositions).
from tapegrad.ops.nn_extra import (  # noqa: E402
    embedding_lookup,
    gelu,
    in_top_k,
    l2_normalize,
    selu,
    silu,
    softsign,
    swish,
)

__all__ += ["selu", "gelu", "swish", "silu", "softsign", "l2_normalize", "embedding_lookup",
            "in_top_k"]
# ---------------------------------------------------------------------------
# ONNX export rules (run by tapegrad.onnx.export through its context).  tapegrad is
# NHWC with HWIO filters; ONNX's Conv and pools are NCHW with OIHW filters, so the
# rules transpose around them (ONNX Runtime's optimizer folds back-to-back transposes).

def _onnx_window_pads(in_hw, out_hw, k, s, d, top_left):
    pads_end = []
    for n, o, kk, ss, dd, p0 in zip(in_hw, out_hw, k, s, d, top_left):
        total = max((o - 1) * ss + (kk - 1) * dd + 1 - n, 0)
        pads_end.append(max(total - p0, 0))
    return list(top_left) + pads_end


def _onnx_conv2d(ctx, node):
    x, w = ctx.operands(node)
    xs = ctx.value(node.args[0]).shape
    fs = ctx.value(node.args[1]).shape
    p = node.params
    oh, ow, pt, pl = _conv_geometry(xs, fs, p["strides"], p["padding"], p["dilations"])
    pads = _onnx_window_pads(xs[1:3], (oh, ow), fs[:2], p["strides"], p["dilations"],
                             (pt, pl))
    w_oihw = ctx.op("Transpose", [w], perm=[3, 2, 0, 1])
    y = ctx.op("Conv", [ctx.nhwc_to_nchw(x), w_oihw], kernel_shape=list(fs[:2]),
               strides=list(p["strides"]), dilations=list(p["dilations"]), pads=pads)
    return ctx.nchw_to_nhwc(y)


def _onnx_pool(op_type, **extra):
    def rule(ctx, node):
        (x,) = ctx.operands(node)
        xs = ctx.value(node.args[0]).shape
        p = node.params
        pads = _onnx_window_pads(xs[1:3], p["out_hw"], p["ksize"], p["strides"], (1, 1),
                                 p["pads"])
        y = ctx.op(op_type, [ctx.nhwc_to_nchw(x)], kernel_shape=list(p["ksize"]),
                   strides=list(p["strides"]), pads=pads, **extra)
        return ctx.nchw_to_nhwc(y)

    return rule


def _onnx_softmax(op_type):
    def rule(ctx, node):
        return ctx.op(op_type, ctx.operands(node), axis=int(node.params["axis"]))

    return rule


def _onnx_sparse_xent(ctx, node):
    # logsumexp(logits) - logits[label], per example
    logits, labels = ctx.operands(node)
    lse = ctx.op("ReduceLogSumExp", [logits, ctx.ints([-1])], keepdims=0) \
        if ctx.opset >= 18 else ctx.op("ReduceLogSumExp", [logits], axes=[-1], keepdims=0)
    idx = ctx.op("Unsqueeze", [ctx.op("Cast", [labels], to=7), ctx.ints([-1])])
    picked = ctx.op("Squeeze", [ctx.op("GatherElements", [logits, idx], axis=-1),
                                ctx.ints([-1])])
    return ctx.op("Sub", [lse, picked])


_NN_GRAD_ONLY = NotSupported("a gradient-only primitive: exported graphs are inference "
                             "forwards")
_onnx_rules({
    "relu": "Relu", "softmax": _onnx_softmax("Softmax"),
    "log_softmax": _onnx_softmax("LogSoftmax"), "conv2d": _onnx_conv2d,
    "max_pool2d": _onnx_pool("MaxPool"),
    "avg_pool2d": _onnx_pool("AveragePool", count_include_pad=0),
    "sparse_softmax_xent": _onnx_sparse_xent,
    "relu_grad": _NN_GRAD_ONLY, "conv2d_backprop_input": _NN_GRAD_ONLY,
    "conv2d_backprop_filter": _NN_GRAD_ONLY, "max_pool2d_grad": _NN_GRAD_ONLY,
    "max_pool2d_select": _NN_GRAD_ONLY, "avg_pool2d_grad": _NN_GRAD_ONLY,
    "sparse_softmax_xent_grad": _NN_GRAD_ONLY, "softmax_grad": _NN_GRAD_ONLY,
})


# ---------------------------------------------------------------------------
# Taylor-mode rules (tg.jet; ops/_series.py)

def _t_relu(x):
    return x * (x[0] > 0)


def _t_relu_grad(g, y):
    return g * (y[0] > 0)


def _t_softmax_parts(x, axis):
    from tapegrad.ops import _series as S

    shifted = x.copy()
    shifted[0] = x[0] - np.max(x[0], axis=axis, keepdims=True)
    e = S.exp(shifted)
    total = np.add.reduce(e, axis=axis + 1, keepdims=True)
    return shifted, e, total


def _t_softmax(x, axis):
    from tapegrad.ops import _series as S

    _, e, total = _t_softmax_parts(x, axis)
    return S.div(e, total)


def _t_softmax_grad(y, g, axis):
    from tapegrad.ops import _series as S

    s = np.add.reduce(S.mul(g, y), axis=axis + 1, keepdims=True)
    return S.mul(y, g - s)


def _t_log_softmax(x, axis):
    from tapegrad.ops import _series as S

    shifted, _, total = _t_softmax_parts(x, axis)
    return shifted - S.log(total)


def _t_sparse_xent(logits, labels):
    ls = _t_log_softmax(logits, logits.ndim - 2)
    idx = labels[0].astype(np.int64)[None, ..., None]
    picked = np.take_along_axis(ls, np.broadcast_to(idx, ls.shape[:-1] + (1,)), axis=-1)
    return -picked[..., 0]


def _t_sparse_xent_grad(logits, labels, g):
    from tapegrad.ops import _series as S

    p = _t_softmax(logits, logits.ndim - 2)
    hot = np.zeros(p.shape[1:], p.dtype)
    np.put_along_axis(hot, labels[0].astype(np.int64)[..., None], 1, axis=-1)
    p[0] = p[0] - hot
    return S.mul(p, g[..., None])


def _t_bilinear(forward):
    def rule(a, b, **params):
        from tapegrad.ops import _series as S

        return S.bilinear(lambda x, y: forward(x, y, **params), a, b)

    return rule


def _t_pool_select(x, **params):
    # piecewise linear: each output follows the window's first maximum of the primal
    from tapegrad import _core

    reg = _core.registered()
    out = [reg["max_pool2d"].cpu(x[0], **params)]
    select = reg["max_pool2d_select"].cpu
    out += [select(x[0], x[k], **params) for k in range(1, x.shape[0])]
    return np.stack(out)


def _t_linear_second(forward):
    # linear in the second operand, the first fixed by its primal value
    def rule(x, h, **params):
        return np.stack([forward(x[0], h[k], **params) for k in range(h.shape[0])])

    return rule


def _t_linear_first(forward):
    def rule(g, **params):
        return np.stack([forward(g[k], **params) for k in range(g.shape[0])])

    return rule


def _taylor_rules():
    from tapegrad import _core

    reg = _core.registered()

    def cpu(name):
        return reg[name].cpu

    rules = {
        "relu": _t_relu, "relu_grad": _t_relu_grad, "softmax": _t_softmax,
        "softmax_grad": _t_softmax_grad,
        "log_softmax": _t_log_softmax, "sparse_softmax_xent": _t_sparse_xent,
        "sparse_softmax_xent_grad": _t_sparse_xent_grad,
        "conv2d": _t_bilinear(cpu("conv2d")),
        "conv2d_backprop_input": _t_bilinear(cpu("conv2d_backprop_input")),
        "conv2d_backprop_filter": _t_bilinear(cpu("conv2d_backprop_filter")),
        "max_pool2d": _t_pool_select,
        "max_pool2d_grad": _t_linear_second(cpu("max_pool2d_grad")),
        "max_pool2d_select": _t_linear_second(cpu("max_pool2d_select")),
        "avg_pool2d": _t_linear_first(cpu("avg_pool2d")),
        "avg_pool2d_grad": _t_linear_first(cpu("avg_pool2d_grad")),
    }
    define_rules("taylor", rules)


_taylor_rules()


# ---------------------------------------------------------------------------
# batching rules (tg.vmap; ops/_batching.py): the vmap batch is folded into the op's
# own batch axis N where there is one; conv2d_backprop_filter sums over N, so it runs
# per example (the loop fallback), as do convolutions with per-example filters

def _batch_rules():
    from tapegrad.ops import _batching as B

    define_rules("batch", {
        "relu": B.elementwise, "relu_grad": B.elementwise,
        "softmax": B.shift_axes("axis"), "log_softmax": B.shift_axes("axis"),
        "softmax_grad": B.loop,
        "conv2d": B.folded(1), "conv2d_backprop_input": B.folded(1, "input_shape"),
        "conv2d_backprop_filter": B.loop, "max_pool2d": B.folded(1),
        "avg_pool2d": B.folded(1), "max_pool2d_grad": B.folded(2),
        "max_pool2d_select": B.folded(2), "avg_pool2d_grad": B.folded(1, "input_shape"),
        "sparse_softmax_xent": B.folded(2), "sparse_softmax_xent_grad": B.folded(3),
    })


_batch_rules()
# array ops (h18): tf.nn.top_k is the same function as tg.top_k
from tapegrad.ops.sorting import top_k  # noqa: E402

__all__ += ["top_k"]
