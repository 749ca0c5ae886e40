"""Cumulative (scan) ops along one axis: cumsum, cumprod, cumulative_logsumexp.

All three take TF's flags: ``exclusive`` (element i combines only the elements before
it) and ``reverse`` (scan from the end).  Forwards are NumPy's accumulate loops; the
rules beside them are written in tapegrad ops, so they differentiate again.

cumprod's gradient is not ``revcumsum(g * y) / x`` (NaN at a zero): its VJP and JVP
replay the product as a log-depth scan of multiplies (Hillis-Steele), whose derivative
is exact with zeros in the input.  cumulative_logsumexp's rules rescale by the slice's
maximum, so they are exact while a slice's values span less than ~700 (float64) or ~85
(float32) in log space; beyond that an exp() overflows.
"""

import numpy as np

from tapegrad import _core
from tapegrad.ops import elementwise as E
from tapegrad.ops import indexing as I
from tapegrad.ops import reductions as R
from tapegrad.ops import shape as S
from tapegrad.ops._registry import FLOAT, NUMERIC, norm_axis, primitive, tensor


def _flip_np(x, axis, reverse):
    return np.flip(x, axis) if reverse else x


def _scan_np(ufunc_acc, x, axis, exclusive, reverse, fill):
    """The shared NumPy forward: flip, accumulate, shift by one, flip back."""
    v = _flip_np(x, axis, reverse)
    if exclusive:
        out = np.empty_like(v)
        head = [slice(None)] * v.ndim
        head[axis] = slice(0, 1)
        out[tuple(head)] = fill
        if v.shape[axis] > 1:
            src = [slice(None)] * v.ndim
            src[axis] = slice(0, -1)
            dst = [slice(None)] * v.ndim
            dst[axis] = slice(1, None)
            ufunc_acc(v[tuple(src)], axis=axis, out=out[tuple(dst)])
    else:
        out = ufunc_acc(v, axis=axis, dtype=v.dtype)
    return _flip_np(out, axis, reverse)


# --- tapegrad-level helpers used by the rules (each is a differentiable op) ---

def _flip(t, axis, reverse):
    if not reverse:
        return t
    return I._getitem(t, key=(slice(None),) * axis + (slice(None, None, -1),))


def _shift(t, s, fill, axis):
    """out[i] = t[i - s] along ``axis`` (s > 0: toward the end), ``fill`` where undefined.

    Its adjoint is ``_shift(g, -s, 0)``.
    """
    n = t.shape[axis]
    s = max(-n, min(n, s))
    if s == 0:
        return t
    pad_shape = list(t.shape)
    pad_shape[axis] = abs(s)
    block = _core.wrap(np.full(pad_shape, fill, dtype=t.dtype))
    if abs(s) == n:
        return block
    lead = (slice(None),) * axis
    if s > 0:
        return S._concat(block, I._getitem(t, key=lead + (slice(0, n - s),)), axis=axis)
    return S._concat(I._getitem(t, key=lead + (slice(-s, n),)), block, axis=axis)


# ---------------------------------------------------------------------------
# cumsum

@primitive("cumsum", dtypes=NUMERIC, save_inputs=False, save_output=False)
def _cumsum(x, axis, exclusive, reverse):
    """Running sum along ``axis``."""
    return _scan_np(np.add.accumulate, x, axis, exclusive, reverse, 0)


@_cumsum.defvjp
def _cumsum_vjp(g, ans, x, axis, exclusive, reverse):
    # the adjoint of a running sum is the running sum from the other end
    return _cumsum(g, axis=axis, exclusive=exclusive, reverse=not reverse)


@_cumsum.defjvp
def _cumsum_jvp(ts, ans, x, axis, exclusive, reverse):
    return _cumsum(ts[0], axis=axis, exclusive=exclusive, reverse=reverse)


def _scan_args(x, axis, op):
    x = tensor(x, op=op)
    if x.ndim == 0:
        raise ValueError("%s: input must have rank >= 1, got a scalar" % op)
    return x, norm_axis(axis, x.ndim, op)


def cumsum(x, axis=0, exclusive=False, reverse=False, name=None):
    """Cumulative sum along ``axis`` (TF's flags: ``exclusive``, ``reverse``)."""
    x, axis = _scan_args(x, axis, "cumsum")
    if x.dtype == np.bool_:
        raise TypeError("cumsum: bool input is not supported (cast it to a number first)")
    return _cumsum(x, axis=axis, exclusive=bool(exclusive), reverse=bool(reverse))


# ---------------------------------------------------------------------------
# cumprod

def _cumprod_steps(u, axis):
    """The states y_0 = u, y_{k+1} = y_k * shift(y_k, 2^k, 1) of the log-depth scan."""
    ys = [u]
    s, n = 1, u.shape[axis]
    while s < n:
        y = ys[-1]
        ys.append(E.multiply(y, _shift(y, s, 1, axis)))
        s *= 2
    return ys


def _cumprod_pre(t, axis, exclusive, reverse, fill):
    t = _flip(t, axis, reverse)
    return _shift(t, 1, fill, axis) if exclusive else t


@primitive("cumprod", dtypes=NUMERIC, save_output=False, quiet=True)
def _cumprod(x, axis, exclusive, reverse):
    """Running product along ``axis``."""
    return _scan_np(np.multiply.accumulate, x, axis, exclusive, reverse, 1)


@_cumprod.defvjp
def _cumprod_vjp(g, ans, x, axis, exclusive, reverse):
    u = _cumprod_pre(x, axis, exclusive, reverse, 1)
    ys = _cumprod_steps(u, axis)
    gy = _flip(g, axis, reverse)
    s = 1 << (len(ys) - 2) if len(ys) > 1 else 0
    for k in range(len(ys) - 2, -1, -1):
        y = ys[k]
        # y_{k+1} = y * shift(y): both factors carry y
        gy = E.add(E.multiply(gy, _shift(y, s, 1, axis)),
                   _shift(E.multiply(gy, y), -s, 0, axis))
        s //= 2
    if exclusive:
        gy = _shift(gy, -1, 0, axis)
    return _flip(gy, axis, reverse)


@_cumprod.defjvp
def _cumprod_jvp(ts, ans, x, axis, exclusive, reverse):
    u = _cumprod_pre(x, axis, exclusive, reverse, 1)
    tu = _cumprod_pre(ts[0], axis, exclusive, reverse, 0)
    y, t, s, n = u, tu, 1, u.shape[axis]
    while s < n:
        ys = _shift(y, s, 1, axis)
        t = E.add(E.multiply(t, ys), E.multiply(y, _shift(t, s, 0, axis)))
        y = E.multiply(y, ys)
        s *= 2
    return _flip(t, axis, reverse)


def cumprod(x, axis=0, exclusive=False, reverse=False, name=None):
    """Cumulative product along ``axis``; its gradient is exact where x has zeros."""
    x, axis = _scan_args(x, axis, "cumprod")
    if x.dtype == np.bool_:
        raise TypeError("cumprod: bool input is not supported (cast it to a number first)")
    return _cumprod(x, axis=axis, exclusive=bool(exclusive), reverse=bool(reverse))


# ---------------------------------------------------------------------------
# cumulative_logsumexp

@primitive("cumulative_logsumexp", dtypes=FLOAT, save_output=False, quiet=True)
def _cumlse(x, axis, exclusive, reverse):
    """log(cumsum(exp(x))) without overflow (NumPy's logaddexp accumulate)."""
    return _scan_np(np.logaddexp.accumulate, x, axis, exclusive, reverse, -np.inf)


def _lse_ref(x, axis):
    # any per-slice constant cancels out of the rules; the maximum keeps exp() <= 1
    m = R.reduce_max(E.stop_gradient(x), axis=axis, keepdims=True)
    return E.where(E.is_finite(m), m, E.zeros_like(m))


@_cumlse.defvjp
def _cumlse_vjp(g, ans, x, axis, exclusive, reverse):
    # d y_i / d x_j = exp(x_j - y_i) for j <= i (inclusive scan from the start)
    u = _flip(x, axis, reverse)
    y = _cumlse(u, axis=axis, exclusive=False, reverse=False)
    gy = _flip(g, axis, reverse)
    if exclusive:
        gy = _shift(gy, -1, 0, axis)
    r = _lse_ref(u, axis)
    acc = _cumsum(E.multiply(gy, E.exp(E.subtract(r, y))), axis=axis, exclusive=False,
                  reverse=True)
    return _flip(E.multiply(E.exp(E.subtract(u, r)), acc), axis, reverse)


@_cumlse.defjvp
def _cumlse_jvp(ts, ans, x, axis, exclusive, reverse):
    u = _flip(x, axis, reverse)
    y = _cumlse(u, axis=axis, exclusive=False, reverse=False)
    r = _lse_ref(u, axis)
    t = E.multiply(E.exp(E.subtract(r, y)),
                   _cumsum(E.multiply(_flip(ts[0], axis, reverse), E.exp(E.subtract(u, r))),
                           axis=axis, exclusive=False, reverse=False))
    if exclusive:
        t = _shift(t, 1, 0, axis)
    return _flip(t, axis, reverse)


def cumulative_logsumexp(x, axis=0, exclusive=False, reverse=False, name=None):
    """log(cumsum(exp(x))) along ``axis``, computed stably (TF's tf.math.cumulative_logsumexp)."""
    x, axis = _scan_args(x, axis, "cumulative_logsumexp")
    if x.dtype.kind != "f":
        raise TypeError("cumulative_logsumexp: needs a floating-point input, got %s" % x.dtype)
    return _cumlse(x, axis=axis, exclusive=bool(exclusive), reverse=bool(reverse))


# ---------------------------------------------------------------------------
# rules of the other transforms (tg.jet, tg.vmap, tg.onnx), beside the forwards

def _transform_rules():
    from tapegrad import _core
    from tapegrad.ops import _batching as Bt
    from tapegrad.ops._registry import NotSupported

    reg = _core.registered()
    forward = reg["cumsum"].cpu

    def cumsum_taylor(x, **params):
        # linear: each Taylor coefficient is scanned on its own
        return np.stack([forward(x[k], **params) for k in range(x.shape[0])])

    reg["cumsum"].defrule("taylor", cumsum_taylor)

    def cumsum_onnx(ctx, node):
        (x,) = ctx.operands(node)
        p = node.params
        return ctx.op("CumSum", [x, ctx.ints([int(p["axis"])])],
                      exclusive=int(bool(p["exclusive"])), reverse=int(bool(p["reverse"])))

    reg["cumsum"].defrule("onnx", cumsum_onnx)
    for name in ("cumsum", "cumprod", "cumulative_logsumexp"):
        reg[name].defrule("batch", Bt.shift_axes("axis"))
    for name in ("cumprod", "cumulative_logsumexp"):
        reg[name].defrule("taylor", NotSupported("no Taylor rule for %s yet" % name))
        reg[name].defrule("onnx", NotSupported("no ONNX operator for %s" % name))


_transform_rules()
