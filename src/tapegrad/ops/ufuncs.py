"""Elementwise functions the array API standard needs beyond tg's core set: inverse
and hyperbolic trig, log2/log10, trunc, atan2, hypot, logaddexp.

Forwards are NumPy's ufuncs (so values match NumPy bit for bit); each derivative is
written in tapegrad ops and multiplied in with ``safe_mul`` (exactly 0 where the
incoming gradient is 0, so a branch masked off by ``where`` never injects NaN at the
poles of asin, atanh, log2, ...).  ``UNARY`` / ``BINARY`` map each name to its primitive.
"""

import math

import numpy as np

from tapegrad.ops import elementwise as E
from tapegrad.ops._registry import FLOAT, primitive

UNARY = {}
BINARY = {}


def _existing(name, table):
    # the trigonometric/hyperbolic family and atan2 are tg.math's (ops/special.py): one
    # primitive each, reused here under the array API's names
    from tapegrad import _core
    from tapegrad.ops import special  # noqa: F401  (registers them)

    prim = _core.registered()[name]
    table[name] = prim
    return prim


def _unary(name, ufunc, deriv):
    """Register primitive ``name`` = ufunc(x) with d/dx = deriv(x, ans)."""

    @primitive(name, dtypes=FLOAT, quiet=True)
    def prim(x):
        return ufunc(x)

    @prim.defvjp
    def _vjp(g, ans, x):
        return E.safe_mul(g, deriv(x, ans))

    prim.defjvp_self_adjoint()

    UNARY[name] = prim
    return prim


def _d_log2(x, ans):
    return E.reciprocal(E.multiply(x, math.log(2.0)))


def _d_log10(x, ans):
    return E.reciprocal(E.multiply(x, math.log(10.0)))


def _d_trunc(x, ans):
    return E.zeros_like(x)


sinh = _existing("sinh", UNARY)
cosh = _existing("cosh", UNARY)
tan = _existing("tan", UNARY)
asin = _existing("asin", UNARY)
acos = _existing("acos", UNARY)
atan = _existing("atan", UNARY)
asinh = _existing("asinh", UNARY)
acosh = _existing("acosh", UNARY)
atanh = _existing("atanh", UNARY)
log2 = _unary("log2", np.log2, _d_log2)
log10 = _unary("log10", np.log10, _d_log10)
trunc = _unary("trunc", np.trunc, _d_trunc)


def _binary(name, ufunc, dx, dy):
    """Register primitive ``name`` = ufunc(x, y) with partials dx(x, y, ans), dy(...).

    The engine's unbroadcast reduces each gradient back to its input's shape.
    """

    @primitive(name, dtypes=FLOAT, quiet=True)
    def prim(x, y):
        return ufunc(x, y)

    @prim.defvjp
    def _vjp(g, ans, x, y):
        return E.safe_mul(g, dx(x, y, ans)), E.safe_mul(g, dy(x, y, ans))

    @prim.defjvp
    def _jvp(ts, ans, x, y):
        parts = []
        if ts[0] is not None:
            parts.append(E.safe_mul(ts[0], dx(x, y, ans)))
        if ts[1] is not None:
            parts.append(E.safe_mul(ts[1], dy(x, y, ans)))
        out = parts[0] if len(parts) == 1 else E.add(parts[0], parts[1])
        if out.shape != ans.shape:
            from tapegrad.ops.shape import broadcast_to

            out = broadcast_to(out, ans.shape)
        return out

    BINARY[name] = prim
    return prim


def _d_hypot_x(x, y, ans):
    return E.divide(x, ans)


def _d_hypot_y(x, y, ans):
    return E.divide(y, ans)


def _d_lae_x(x, y, ans):
    return E.exp(E.subtract(x, ans))


def _d_lae_y(x, y, ans):
    return E.exp(E.subtract(y, ans))


atan2 = _existing("atan2", BINARY)
hypot = _binary("hypot", np.hypot, _d_hypot_x, _d_hypot_y)
logaddexp = _binary("logaddexp", np.logaddexp, _d_lae_x, _d_lae_y)


# ---------------------------------------------------------------------------
# rules of the other transforms (tg.jet, tg.vmap, tg.onnx), beside the forwards

def _transform_rules():
    from tapegrad import _core
    from tapegrad.ops import _batching as Bt
    from tapegrad.ops import _series as S

    reg = _core.registered()

    def log_base(base, exact):
        def rule(x):
            y = S.log(x) / math.log(base)
            y[0] = exact(x[0])
            return y

        return rule

    def trunc_taylor(x):
        return S.constant(np.trunc(x[0]), S.order(x))

    def hypot_taylor(x, y):
        x, y = S.align(x, y)
        out = S.sqrt(S.mul(x, x) + S.mul(y, y))
        out[0] = np.hypot(x[0], y[0])
        return out

    def logaddexp_taylor(x, y):
        x, y = S.align(x, y)
        shape = np.broadcast_shapes(x.shape[1:], y.shape[1:])
        x, y = S.fit(x, shape), S.fit(y, shape)
        m = np.maximum(x[0], y[0])
        xs, ys = x.copy(), y.copy()
        xs[0] = x[0] - m
        ys[0] = y[0] - m
        out = S.log(S.exp(xs) + S.exp(ys))
        out[0] = np.logaddexp(x[0], y[0])
        return out

    taylor = {"log2": log_base(2.0, np.log2), "log10": log_base(10.0, np.log10),
              "trunc": trunc_taylor, "hypot": hypot_taylor, "logaddexp": logaddexp_taylor}

    def onnx_log_base(base):
        def rule(ctx, node):
            (x,) = ctx.operands(node)
            return ctx.op("Div", [ctx.op("Log", [x]), ctx.const(math.log(base),
                                                                ctx.out().dtype)])

        return rule

    def onnx_trunc(ctx, node):
        (x,) = ctx.operands(node)
        return ctx.op("Mul", [ctx.op("Sign", [x]), ctx.op("Floor", [ctx.op("Abs", [x])])])

    def onnx_hypot(ctx, node):
        x, y = ctx.operands(node)
        return ctx.op("Sqrt", [ctx.op("Add", [ctx.op("Mul", [x, x]), ctx.op("Mul", [y, y])])])

    def onnx_logaddexp(ctx, node):
        x, y = ctx.operands(node)
        m = ctx.op("Max", [x, y])
        s = ctx.op("Add", [ctx.op("Exp", [ctx.op("Sub", [x, m])]),
                           ctx.op("Exp", [ctx.op("Sub", [y, m])])])
        return ctx.op("Add", [m, ctx.op("Log", [s])])

    onnx = {"log2": onnx_log_base(2.0), "log10": onnx_log_base(10.0), "trunc": onnx_trunc,
            "hypot": onnx_hypot, "logaddexp": onnx_logaddexp}
    for name in taylor:
        reg[name].defrule("taylor", taylor[name])
        reg[name].defrule("onnx", onnx[name])
        reg[name].defrule("batch", Bt.elementwise)


_transform_rules()
