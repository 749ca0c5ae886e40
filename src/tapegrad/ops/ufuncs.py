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


def _unary(name, ufunc, deriv):
    """Register primitive ``name`` = ufunc(x) with d/dx = deriv(x, ans)."""

    @primitive(name, dtypes=FLOAT, quiet=True)
    def prim(x):
        return ufunc(x)

    @prim.defvjp
    def _vjp(g, ans, x):
        return E.safe_mul(g, deriv(x, ans))

    @prim.defjvp
    def _jvp(ts, ans, x):
        return E.safe_mul(ts[0], deriv(x, ans))

    UNARY[name] = prim
    return prim


def _one_minus_sq(x):
    return E.subtract(1.0, E.square(x))


def _d_sinh(x, ans):
    return cosh(x)


def _d_cosh(x, ans):
    return sinh(x)


def _d_tan(x, ans):
    return E.add(1.0, E.square(ans))


def _d_asin(x, ans):
    return E.rsqrt(_one_minus_sq(x))


def _d_acos(x, ans):
    return E.negative(E.rsqrt(_one_minus_sq(x)))


def _d_atan(x, ans):
    return E.reciprocal(E.add(1.0, E.square(x)))


def _d_asinh(x, ans):
    return E.rsqrt(E.add(E.square(x), 1.0))


def _d_acosh(x, ans):
    return E.rsqrt(E.subtract(E.square(x), 1.0))


def _d_atanh(x, ans):
    return E.reciprocal(_one_minus_sq(x))


def _d_log2(x, ans):
    return E.reciprocal(E.multiply(x, math.log(2.0)))


def _d_log10(x, ans):
    return E.reciprocal(E.multiply(x, math.log(10.0)))


def _d_trunc(x, ans):
    return E.zeros_like(x)


sinh = _unary("sinh", np.sinh, _d_sinh)
cosh = _unary("cosh", np.cosh, _d_cosh)
tan = _unary("tan", np.tan, _d_tan)
asin = _unary("asin", np.arcsin, _d_asin)
acos = _unary("acos", np.arccos, _d_acos)
atan = _unary("atan", np.arctan, _d_atan)
asinh = _unary("asinh", np.arcsinh, _d_asinh)
acosh = _unary("acosh", np.arccosh, _d_acosh)
atanh = _unary("atanh", np.arctanh, _d_atanh)
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


def _r2(y, x):
    return E.add(E.square(x), E.square(y))


def _d_atan2_y(y, x, ans):
    return E.divide(x, _r2(y, x))


def _d_atan2_x(y, x, ans):
    return E.negative(E.divide(y, _r2(y, x)))


def _d_hypot_x(x, y, ans):
    return E.divide(x, ans)


def _d_hypot_y(x, y, ans):
    return E.divide(y, ans)


def _d_lae_x(x, y, ans):
    return E.exp(E.subtract(x, ans))


def _d_lae_y(x, y, ans):
    return E.exp(E.subtract(y, ans))


atan2 = _binary("atan2", np.arctan2, _d_atan2_y, _d_atan2_x)
hypot = _binary("hypot", np.hypot, _d_hypot_x, _d_hypot_y)
logaddexp = _binary("logaddexp", np.logaddexp, _d_lae_x, _d_lae_y)
