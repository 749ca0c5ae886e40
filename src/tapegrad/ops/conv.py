"""Convolution and pooling primitives (NHWC input, HWIO filters): conv2d (im2col + BLAS
on the thread pool) with its two backprops, max/avg pooling with their adjoints, and
every rule of each beside it (VJP, JVP, Taylor, batching, ONNX).  ``tg.nn`` re-exports
the public names."""

import functools

import numpy as np

from tapegrad import _kernels
from tapegrad._tape import needs_input
from tapegrad.ops._registry import (
    FLOAT,
    NotSupported,
    define_rules,
    primitive,
    tensor,
)
from tapegrad.ops._registry import format_shape as _fmt
from tapegrad.ops._registry import onnx_rules as _onnx_rules
from tapegrad.ops.elementwise import add

__all__ = ["conv2d", "max_pool2d", "avg_pool2d", "max_pool", "avg_pool"]


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
    out = _pair_values(v, name, op)
    if max(out) > _INT_MAX:
        # the kernels take C ints: 2**40 failed there with "value too large to convert"
        raise ValueError("%s: %s %r is too large (the limit is %d)" % (op, name, v, _INT_MAX))
    return out


_INT_MAX = 2 ** 31 - 1


def _pair_values(v, name, op):
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


def _geometry(in_size, k, stride, dilation, padding, op="conv2d"):
    eff = (k - 1) * dilation + 1
    if padding == "SAME":
        out = -(-in_size // stride)
        total = max((out - 1) * stride + eff - in_size, 0)
        return out, total // 2
    # TensorFlow's VALID size, (in - eff + stride) / stride in C's truncating division:
    # an input a little smaller than the window gives an empty output, a negative size
    # is an error (TF raises it too, and an empty result would only fail later)
    num = in_size - eff + stride
    out = num // stride if num >= 0 else -(-num // stride)
    if out < 0:
        raise ValueError("%s: VALID padding with an input of %d along a spatial axis and a "
                         "%swindow of %d (stride %d) gives a negative output size; use "
                         "padding='SAME' or a smaller window"
                         % (op, in_size, "dilated " if dilation > 1 else "", eff, stride))
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
    oh, pt = _geometry(x.shape[1], k[0], s[0], 1, p, op)
    ow, pl = _geometry(x.shape[2], k[1], s[1], 1, p, op)
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


_GRAD_ONLY = NotSupported("a gradient-only primitive: exported graphs are inference "
                          "forwards")
_onnx_rules({
    "conv2d": _onnx_conv2d, "max_pool2d": _onnx_pool("MaxPool"),
    "avg_pool2d": _onnx_pool("AveragePool", count_include_pad=0),
    "conv2d_backprop_input": _GRAD_ONLY, "conv2d_backprop_filter": _GRAD_ONLY,
    "max_pool2d_grad": _GRAD_ONLY, "max_pool2d_select": _GRAD_ONLY,
    "avg_pool2d_grad": _GRAD_ONLY,
})


# ---------------------------------------------------------------------------
# Taylor-mode rules (tg.jet; ops/_series.py)

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

    define_rules("taylor", {
        "conv2d": _t_bilinear(cpu("conv2d")),
        "conv2d_backprop_input": _t_bilinear(cpu("conv2d_backprop_input")),
        "conv2d_backprop_filter": _t_bilinear(cpu("conv2d_backprop_filter")),
        "max_pool2d": _t_pool_select,
        "max_pool2d_grad": _t_linear_second(cpu("max_pool2d_grad")),
        "max_pool2d_select": _t_linear_second(cpu("max_pool2d_select")),
        "avg_pool2d": _t_linear_first(cpu("avg_pool2d")),
        "avg_pool2d_grad": _t_linear_first(cpu("avg_pool2d_grad")),
    })


_taylor_rules()


# ---------------------------------------------------------------------------
# batching rules (tg.vmap; ops/_batching.py): the vmap batch is folded into the op's
# own batch axis N; conv2d_backprop_filter sums over N, so it runs per example (the
# loop fallback), as do convolutions with per-example filters

def _batch_rules():
    from tapegrad.ops import _batching as B

    define_rules("batch", {
        "conv2d": B.folded(1), "conv2d_backprop_input": B.folded(1, "input_shape"),
        "conv2d_backprop_filter": B.loop, "max_pool2d": B.folded(1),
        "avg_pool2d": B.folded(1), "max_pool2d_grad": B.folded(2),
        "max_pool2d_select": B.folded(2), "avg_pool2d_grad": B.folded(1, "input_shape"),
    })


_batch_rules()
