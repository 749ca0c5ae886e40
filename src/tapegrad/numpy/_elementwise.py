"""The array API's elementwise functions (plus NumPy spellings), over tapegrad ops.

A function whose inputs are all floating runs the differentiable tapegrad primitive; on
integer / bool inputs (which carry no derivative) it runs NumPy's ufunc and wraps the
result, so every dtype the standard allows works and values match NumPy.  Complex
inputs run the primitive where tapegrad has a complex one (the arithmetic, exp, log,
sqrt, sin, cos, tanh, reciprocal, abs, real / imag / conj, and pow composed from them:
differentiable, with the gradient convention of ops/complex.py); the other complex
functions the standard lists (tan, the hyperbolic and inverse trigonometric ones,
log2 / log10, sign, round) run NumPy and carry no derivative.
"""

import numpy as np

from tapegrad.numpy import _base as B
from tapegrad.ops import complex as _C
from tapegrad.ops import elementwise as E
from tapegrad.ops import ufuncs as U

__all__ = []


def _export(name, fn):
    fn.__name__ = fn.__qualname__ = name
    globals()[name] = fn
    __all__.append(name)
    return fn


def _unary(name, ufunc, tg_fn=None, kinds="biuf", complex_fn=None):
    def fn(x, /):
        x = B.as_tensor(x, op=name)
        if x.dtype.kind not in kinds:
            raise TypeError("tapegrad.numpy.%s: dtype %s is not supported" % (name, x.dtype))
        if tg_fn is not None and x.dtype.kind == "f":
            return tg_fn(x)
        if complex_fn is not None and x.dtype.kind == "c":
            return complex_fn(x)
        with np.errstate(all="ignore"):
            return B.wrap(ufunc(B.values(x)))

    fn.__doc__ = "Elementwise %s (NumPy's np.%s); differentiable for floating input." % (
        name, ufunc.__name__)
    return _export(name, fn)


def _binary(name, ufunc, tg_fn=None, kinds="biufc", complex_ok=False):
    def fn(x1, x2, /):
        a, b = B.promote(x1, x2, op=name)
        if a.dtype.kind not in kinds:
            raise TypeError("tapegrad.numpy.%s: dtype %s is not supported" % (name, a.dtype))
        if tg_fn is not None and (a.dtype.kind == "f" or (complex_ok and a.dtype.kind == "c")):
            return tg_fn(a, b)
        if name == "pow" and a.dtype.kind == "c":
            return _complex_pow(a, b)
        with np.errstate(all="ignore"):
            return B.wrap(ufunc(B.values(a), B.values(b)))

    fn.__doc__ = "Elementwise %s (NumPy's np.%s), broadcasting; differentiable for " \
        "floating input." % (name, ufunc.__name__)
    return _export(name, fn)


NUM = "iuf"
FLT = "f"
CNUM = "iufc"  # the functions the standard also defines on complex input
CFLT = "fc"
INT = "iu"
INTB = "biu"

# unary, differentiable on floats
_unary("abs", np.abs, E.abs, CNUM, _C.abs)
_unary("negative", np.negative, E.negative, CNUM, E.negative)
_unary("positive", np.positive, E.identity, CNUM, E.identity)
_unary("square", np.square, E.square, CNUM, E.square)
_unary("sqrt", np.sqrt, E.sqrt, CFLT, E.sqrt)
_unary("exp", np.exp, E.exp, CFLT, E.exp)
_unary("expm1", np.expm1, E.expm1, CFLT, E.expm1)
_unary("log", np.log, E.log, CFLT, E.log)
_unary("log1p", np.log1p, E.log1p, CFLT, E.log1p)
_unary("log2", np.log2, U.log2, CFLT)
_unary("log10", np.log10, U.log10, CFLT)
_unary("sin", np.sin, E.sin, CFLT, E.sin)
_unary("cos", np.cos, E.cos, CFLT, E.cos)
_unary("tan", np.tan, U.tan, CFLT)
_unary("sinh", np.sinh, U.sinh, CFLT)
_unary("cosh", np.cosh, U.cosh, CFLT)
_unary("tanh", np.tanh, E.tanh, CFLT, E.tanh)
_unary("asin", np.arcsin, U.asin, CFLT)
_unary("acos", np.arccos, U.acos, CFLT)
_unary("atan", np.arctan, U.atan, CFLT)
_unary("asinh", np.arcsinh, U.asinh, CFLT)
_unary("acosh", np.arccosh, U.acosh, CFLT)
_unary("atanh", np.arctanh, U.atanh, CFLT)
_unary("reciprocal", np.reciprocal, E.reciprocal, CFLT, E.reciprocal)
_unary("sign", np.sign, E.sign, CNUM)
_unary("floor", np.floor, E.floor, NUM)
_unary("ceil", np.ceil, E.ceil, NUM)
_unary("trunc", np.trunc, U.trunc, NUM)
_unary("round", np.round, E.round, CNUM)
# predicates and bit operations: no derivative
_unary("isnan", np.isnan, None, CNUM)
_unary("isinf", np.isinf, None, CNUM)
_unary("isfinite", np.isfinite, None, CNUM)
_unary("signbit", np.signbit, None, FLT)
_unary("logical_not", np.logical_not, None, "b")
_unary("bitwise_invert", np.invert, None, INTB)

# binary
_binary("add", np.add, E.add, CNUM, complex_ok=True)
_binary("subtract", np.subtract, E.subtract, CNUM, complex_ok=True)
_binary("multiply", np.multiply, E.multiply, CNUM, complex_ok=True)
_binary("divide", np.divide, E.divide, CFLT, complex_ok=True)
_binary("pow", np.power, E.pow, CNUM)


def _complex_pow(a, b):
    """a ** b for promoted complex operands: tg's complex pow (repeated squaring for a
    whole-number constant exponent, else exp(b log a); differentiable in a)."""
    return _C.complex_pow(a, b)
_binary("maximum", np.maximum, E.maximum, NUM)
_binary("minimum", np.minimum, E.minimum, NUM)
_binary("remainder", np.remainder, E.floormod, NUM)
_binary("floor_divide", np.floor_divide, E.floordiv, NUM)
_binary("atan2", np.arctan2, U.atan2, FLT)
_binary("hypot", np.hypot, U.hypot, FLT)
_binary("logaddexp", np.logaddexp, U.logaddexp, FLT)
_binary("nextafter", np.nextafter, None, FLT)
_binary("equal", np.equal)
_binary("not_equal", np.not_equal)
_binary("less", np.less, None, NUM)
_binary("less_equal", np.less_equal, None, NUM)
_binary("greater", np.greater, None, NUM)
_binary("greater_equal", np.greater_equal, None, NUM)
_binary("logical_and", np.logical_and, None, "b")
_binary("logical_or", np.logical_or, None, "b")
_binary("logical_xor", np.logical_xor, None, "b")
_binary("bitwise_and", np.bitwise_and, None, INTB)
_binary("bitwise_or", np.bitwise_or, None, INTB)
_binary("bitwise_xor", np.bitwise_xor, None, INTB)


def _shift(name, ufunc):
    def fn(x1, x2, /):
        a, b = B.promote(x1, x2, op=name)
        if a.dtype.kind not in INT:
            raise TypeError("tapegrad.numpy.%s: needs integer input, got %s" % (name, a.dtype))
        bv = B.values(b)
        if (bv < 0).any():
            raise ValueError("tapegrad.numpy.%s: negative shift count" % name)
        av = B.values(a)
        bits = av.dtype.itemsize * 8
        with np.errstate(all="ignore"):
            out = ufunc(av, np.minimum(bv, bits - 1).astype(av.dtype))
            if name == "bitwise_left_shift":
                out = np.where(bv >= bits, 0, out).astype(av.dtype)
        return B.wrap(out)

    return _export(name, fn)


_shift("bitwise_left_shift", np.left_shift)
_shift("bitwise_right_shift", np.right_shift)


def copysign(x1, x2, /):
    """|x1| with the sign bit of x2 (differentiable in x1)."""
    a, b = B.promote(x1, x2, op="copysign")
    if a.dtype.kind != "f":
        raise TypeError("tapegrad.numpy.copysign: needs floating input, got %s" % a.dtype)
    shape = np.broadcast_shapes(a.shape, b.shape)
    keep = np.broadcast_to(np.signbit(B.values(a)) == np.signbit(B.values(b)), shape)
    from tapegrad.ops.shape import broadcast_to

    a = broadcast_to(a, shape) if a.shape != shape else a
    return E.where(B.wrap(keep), a, E.negative(a))


_export("copysign", copysign)


def clip(x, /, min=None, max=None):
    """x limited to [min, max] (either may be None, a scalar or an array)."""
    x = B.as_tensor(x, op="clip")
    if x.dtype.kind == "b":
        raise TypeError("tapegrad.numpy.clip: bool input is not supported")
    out = x
    for bound, fn, npf in ((min, E.maximum, np.maximum), (max, E.minimum, np.minimum)):
        if bound is None:
            continue
        if isinstance(bound, (int, float)) and not isinstance(bound, bool):
            b = B.wrap(np.asarray(bound).astype(x.dtype)) if x.dtype.kind == "f" or \
                _in_range(bound, x.dtype) else None
            if b is None:
                continue  # an int bound outside the dtype's range cannot bind
        else:
            b = B.cast(B.as_tensor(bound, op="clip"), x.dtype)
        if x.dtype.kind == "f":
            out = fn(out, b)
        else:
            out = B.wrap(npf(B.values(out), B.values(b)))
    shape = np.broadcast_shapes(tuple(out.shape), tuple(x.shape))
    if out.shape != shape:
        # the bounds broadcast against x (an int bound outside the dtype skips its op)
        from tapegrad.ops.shape import broadcast_to

        out = broadcast_to(out, shape)
    return out


def _in_range(v, dt):
    info = np.iinfo(dt)
    return info.min <= v <= info.max


_export("clip", clip)


def real(x, /):
    """The real part (a real tensor of the same precision); real input unchanged."""
    x = B.as_tensor(x, op="real")
    return _C.real(x) if x.dtype.kind == "c" else x


def imag(x, /):
    """The imaginary part (zeros for real input)."""
    x = B.as_tensor(x, op="imag")
    if x.dtype.kind == "c":
        return _C.imag(x)
    return E.zeros_like(x) if x.dtype.kind == "f" else B.wrap(np.zeros(x.shape, x.dtype))


def conj(x, /):
    """The complex conjugate; real input unchanged."""
    x = B.as_tensor(x, op="conj")
    return _C.conj(x) if x.dtype.kind == "c" else x


for _f in (real, imag, conj):
    _export(_f.__name__, _f)

# NumPy spellings
for _alias, _target in (("absolute", "abs"), ("arcsin", "asin"), ("arccos", "acos"),
                        ("arctan", "atan"), ("arcsinh", "asinh"), ("arccosh", "acosh"),
                        ("arctanh", "atanh"), ("arctan2", "atan2"), ("power", "pow"),
                        ("true_divide", "divide"), ("mod", "remainder"),
                        ("invert", "bitwise_invert"),
                        ("left_shift", "bitwise_left_shift"),
                        ("right_shift", "bitwise_right_shift"), ("rint", "round")):
    globals()[_alias] = globals()[_target]
    __all__.append(_alias)
