"""Special functions and the remaining elementwise transcendental ops (TF's ``tf.math``).

Forward kernels are NumPy ufuncs or ``scipy.special`` ufuncs (no BLAS, so no second
thread pool).  Every VJP is written in tapegrad ops, so each one differentiates again;
a one-input op's JVP is its VJP applied to the tangent (``defjvp_self_adjoint``: the
Jacobian is diagonal), so its derivative is written once.  Derivatives of division form go
through ``safe_mul`` (exactly 0 where the incoming gradient is 0, see elementwise.py).

Derivatives that neither PyTorch nor scipy provide in closed form (igamma/igammac and
betainc with respect to their shape parameters, zeta with respect to ``x``) raise a
clear ``NotImplementedError`` when a gradient actually needs them; they never return a
silent ``None`` for a differentiable input.
"""

import math

import numpy as np

from tapegrad._tape import needs_input
from tapegrad.ops._registry import FLOAT, primitive, tensor
from tapegrad.ops.elementwise import (
    abs as abs_,
)
from tapegrad.ops.elementwise import (
    add,
    divide,
    equal,
    exp,
    is_finite,
    less,
    log,
    log1p,
    logical_and,
    logical_not,
    maximum,
    multiply,
    negative,
    reciprocal,
    rsqrt,
    safe_mul,
    sign,
    square,
    stop_gradient,
    subtract,
    where,
    zeros_like,
)

_SQRT_PI_2 = math.sqrt(math.pi) / 2.0
_TWO_SQRT_PI = 2.0 / math.sqrt(math.pi)
_SQRT_2PI = math.sqrt(2.0 * math.pi)


def _unary(name, fn, doc, save_inputs=True, save_output=True):
    fn = _kernel(fn, doc)
    return primitive(name, dtypes=FLOAT, save_inputs=save_inputs, save_output=save_output,
                     quiet=True)(fn)


class _LazySpecial:
    """scipy.special, imported on first use: ``import tapegrad`` stays as cheap as NumPy."""

    def __getattr__(self, name):
        import scipy.special

        return getattr(scipy.special, name)


sp = _LazySpecial()


def _scipy(name):
    def call(*xs):
        return getattr(sp, name)(*xs)
    return call


def _kernel(fn, doc):
    # a named wrapper: the primitive's docstring is the forward's, and scipy ufuncs may
    # upcast float32 (they must keep the input dtype, as every tapegrad op does)
    def forward(*xs):
        out = fn(*xs)
        return out.astype(xs[0].dtype, copy=False) if hasattr(out, "astype") else out
    forward.__doc__ = doc
    return forward


def _no_grad(op, what):
    raise NotImplementedError(
        "%s: the derivative with respect to %s is not implemented (neither scipy nor "
        "PyTorch provide it); stop_gradient that argument" % (op, what))


# ---------------------------------------------------------------------------
# trigonometric and hyperbolic (NumPy ufuncs)

tan = _unary("tan", np.tan, "tan(x).", save_inputs=False)


@tan.defvjp
def _tan_vjp(g, ans, x):
    return multiply(g, add(square(ans), 1))


tan.defjvp_self_adjoint()


asin = _unary("asin", np.arcsin, "arcsin(x), in [-pi/2, pi/2].", save_output=False)


@asin.defvjp
def _asin_vjp(g, ans, x):
    return safe_mul(g, rsqrt(subtract(1, square(x))))


asin.defjvp_self_adjoint()


acos = _unary("acos", np.arccos, "arccos(x), in [0, pi].", save_output=False)


@acos.defvjp
def _acos_vjp(g, ans, x):
    return negative(safe_mul(g, rsqrt(subtract(1, square(x)))))


acos.defjvp_self_adjoint()


atan = _unary("atan", np.arctan, "arctan(x).", save_output=False)


@atan.defvjp
def _atan_vjp(g, ans, x):
    return safe_mul(g, reciprocal(add(square(x), 1)))


atan.defjvp_self_adjoint()


sinh = _unary("sinh", np.sinh, "sinh(x).", save_output=False)
cosh = _unary("cosh", np.cosh, "cosh(x).", save_output=False)


@sinh.defvjp
def _sinh_vjp(g, ans, x):
    return multiply(g, cosh(x))


sinh.defjvp_self_adjoint()


@cosh.defvjp
def _cosh_vjp(g, ans, x):
    return multiply(g, sinh(x))


cosh.defjvp_self_adjoint()


asinh = _unary("asinh", np.arcsinh, "arcsinh(x).", save_output=False)


def _rsqrt_square_pm1(x, sign):
    # 1 / sqrt(x^2 + sign), from x / m with m = max(|x|, 1) held constant (degree -1
    # homogeneous in (x, 1), so dividing by m afterwards is exact, derivatives too):
    # x^2 overflows at |x| ~ 1.3e154 (3.4e19 in float32), where it gave 0, not 1/|x|
    m = stop_gradient(maximum(abs_(x), 1))
    xm, um = divide(x, m), reciprocal(m)
    inner = add(square(xm), square(um)) if sign > 0 else subtract(square(xm), square(um))
    return divide(rsqrt(inner), m)


@asinh.defvjp
def _asinh_vjp(g, ans, x):
    return safe_mul(g, _rsqrt_square_pm1(x, 1))


asinh.defjvp_self_adjoint()


acosh = _unary("acosh", np.arccosh, "arccosh(x) for x >= 1 (NaN below).", save_output=False)


@acosh.defvjp
def _acosh_vjp(g, ans, x):
    return safe_mul(g, _rsqrt_square_pm1(x, -1))


acosh.defjvp_self_adjoint()


atanh = _unary("atanh", np.arctanh, "arctanh(x) for |x| < 1.", save_output=False)


@atanh.defvjp
def _atanh_vjp(g, ans, x):
    return safe_mul(g, reciprocal(subtract(1, square(x))))


atanh.defjvp_self_adjoint()


@primitive("atan2", dtypes=FLOAT, save_output=False, quiet=True)
def _atan2(y, x):
    """Angle of the point (x, y), in [-pi, pi]."""
    return np.arctan2(y, x)


def _atan2_parts(y, x):
    # x / (x^2 + y^2) and -y / (x^2 + y^2), from (x, y) / m with m = max(|x|, |y|) held
    # constant: both are homogeneous of degree -1, so dividing by m afterwards is exact
    # (their derivatives too), and x^2 + y^2 can neither underflow (|x|, |y| ~ 1e-200
    # gave inf) nor overflow (~1e200 gave 0)
    m = stop_gradient(maximum(abs_(x), abs_(y)))
    m = where(equal(m, 0), 1, m)
    xs, ys = divide(x, m), divide(y, m)
    r2 = add(square(xs), square(ys))
    return divide(divide(xs, r2), m), negative(divide(divide(ys, r2), m))


@_atan2.defvjp
def _atan2_vjp(g, ans, y, x):
    dy, dx = _atan2_parts(y, x)
    return safe_mul(g, dy), safe_mul(g, dx)


@_atan2.defjvp
def _atan2_jvp(t, ans, y, x):
    dy, dx = _atan2_parts(y, x)
    out = None
    if t[0] is not None:
        out = safe_mul(t[0], dy)
    if t[1] is not None:
        tx = safe_mul(t[1], dx)
        out = tx if out is None else add(out, tx)
    return out


def atan2(y, x, name=None):
    """Elementwise arctan(y / x) in the right quadrant (TF's argument order: y first).
    The gradient at the origin is 0 (the incoming gradient times a 0/0 is taken as 0)."""
    return _atan2(y, x)


# ---------------------------------------------------------------------------
# error function family

erf = _unary("erf", _scipy("erf"), "The error function (scipy.special.erf).", save_output=False)


@erf.defvjp
def _erf_vjp(g, ans, x):
    return multiply(g, multiply(exp(negative(square(x))), _TWO_SQRT_PI))


erf.defjvp_self_adjoint()


erfc = _unary("erfc", _scipy("erfc"), "1 - erf(x), accurate for large x (scipy.special.erfc).",
              save_output=False)


@erfc.defvjp
def _erfc_vjp(g, ans, x):
    return multiply(g, multiply(exp(negative(square(x))), -_TWO_SQRT_PI))


erfc.defjvp_self_adjoint()


erfinv = _unary("erfinv", _scipy("erfinv"), "Inverse of erf on (-1, 1); +-inf at +-1.",
                save_inputs=False)


@erfinv.defvjp
def _erfinv_vjp(g, ans, x):
    return multiply(g, multiply(exp(square(ans)), _SQRT_PI_2))


erfinv.defjvp_self_adjoint()


ndtri = _unary("ndtri", _scipy("ndtri"), "Inverse of the standard normal CDF on (0, 1).",
               save_inputs=False)


@ndtri.defvjp
def _ndtri_vjp(g, ans, x):
    return multiply(g, multiply(exp(multiply(square(ans), 0.5)), _SQRT_2PI))


ndtri.defjvp_self_adjoint()


# ---------------------------------------------------------------------------
# gamma family

lgamma = _unary("lgamma", _scipy("gammaln"), "log|Gamma(x)| (scipy.special.gammaln).",
                save_output=False)


@lgamma.defvjp
def _lgamma_vjp(g, ans, x):
    return multiply(g, digamma(x))


lgamma.defjvp_self_adjoint()


digamma = _unary("digamma", _scipy("digamma"), "d/dx log Gamma(x) (scipy.special.digamma).",
                 save_output=False)


def _trigamma(x):
    return _polygamma(_full_like(x, 1.0), x)


@digamma.defvjp
def _digamma_vjp(g, ans, x):
    return multiply(g, _trigamma(x))


digamma.defjvp_self_adjoint()


def _full_like(x, value):
    return add(zeros_like(x), value)


def _polygamma_kernel(a, x):
    if np.any(a != np.floor(a)) or np.any(a < 0):
        raise ValueError("polygamma: the order a must be a non-negative integer, got %s"
                         % np.unique(a[(a != np.floor(a)) | (a < 0)])[:4].tolist())
    return sp.polygamma(a, x)


_polygamma = _unary("polygamma", _polygamma_kernel,
                    "The a-th derivative of digamma at x (a a non-negative integer).",
                    save_output=False)


@_polygamma.defvjp
def _polygamma_vjp(g, ans, a, x):
    if needs_input(0):
        _no_grad("polygamma", "the integer order a")
    return None, multiply(g, _polygamma(add(a, 1), x))


@_polygamma.defjvp
def _polygamma_jvp(t, ans, a, x):
    if t[0] is not None:
        _no_grad("polygamma", "the integer order a")
    return multiply(t[1], _polygamma(add(a, 1), x))


def polygamma(a, x, name=None):
    """polygamma(a, x): the a-th derivative of digamma (a: float tensor of integers, as
    in TF).  Differentiable in x; the order a is a piecewise-constant argument and its
    gradient raises."""
    return _polygamma(a, x)


def _igamma_dx(a, x):
    # d/dx P(a, x) = x^(a-1) e^-x / Gamma(a), in logs against overflow
    return exp(subtract(subtract(multiply(subtract(a, 1), log(x)), x), lgamma(a)))


_igamma = _unary("igamma", _scipy("gammainc"),
                 "Regularized lower incomplete gamma P(a, x) (scipy.special.gammainc).",
                 save_output=False)
_igammac = _unary("igammac", _scipy("gammaincc"),
                  "Regularized upper incomplete gamma Q(a, x) = 1 - P(a, x).",
                  save_output=False)


@_igamma.defvjp
def _igamma_vjp(g, ans, a, x):
    if needs_input(0):
        _no_grad("igamma", "a")
    return None, safe_mul(g, _igamma_dx(a, x))


@_igamma.defjvp
def _igamma_jvp(t, ans, a, x):
    if t[0] is not None:
        _no_grad("igamma", "a")
    return safe_mul(t[1], _igamma_dx(a, x))


@_igammac.defvjp
def _igammac_vjp(g, ans, a, x):
    if needs_input(0):
        _no_grad("igammac", "a")
    return None, negative(safe_mul(g, _igamma_dx(a, x)))


@_igammac.defjvp
def _igammac_jvp(t, ans, a, x):
    if t[0] is not None:
        _no_grad("igammac", "a")
    return negative(safe_mul(t[1], _igamma_dx(a, x)))


def igamma(a, x, name=None):
    """Regularized lower incomplete gamma P(a, x); differentiable in x (the gradient in
    a raises NotImplementedError, as in PyTorch)."""
    return _igamma(a, x)


def igammac(a, x, name=None):
    """Regularized upper incomplete gamma Q(a, x); differentiable in x."""
    return _igammac(a, x)


def lbeta(x, name=None):
    """log|B(x)| = sum(lgamma(x), -1) - lgamma(sum(x, -1)) over the last axis (TF)."""
    from tapegrad.ops.reductions import reduce_sum

    x = tensor(x, op="lbeta")
    if x.ndim == 0:
        raise ValueError("lbeta: needs rank >= 1 (a vector of Beta parameters), got a scalar")
    return subtract(reduce_sum(lgamma(x), -1), lgamma(reduce_sum(x, -1)))


def _betainc_dx(a, b, x):
    # x^(a-1) (1-x)^(b-1) / B(a, b)
    lb = subtract(add(lgamma(a), lgamma(b)), lgamma(add(a, b)))
    return exp(subtract(add(multiply(subtract(a, 1), log(x)),
                            multiply(subtract(b, 1), log1p(negative(x)))), lb))


_betainc = _unary("betainc", _scipy("betainc"),
                  "Regularized incomplete beta I_x(a, b) (scipy.special.betainc).",
                  save_output=False)


@_betainc.defvjp
def _betainc_vjp(g, ans, a, b, x):
    if needs_input(0) or needs_input(1):
        _no_grad("betainc", "a and b")
    return None, None, safe_mul(g, _betainc_dx(a, b, x))


@_betainc.defjvp
def _betainc_jvp(t, ans, a, b, x):
    if t[0] is not None or t[1] is not None:
        _no_grad("betainc", "a and b")
    return safe_mul(t[2], _betainc_dx(a, b, x))


def betainc(a, b, x, name=None):
    """Regularized incomplete beta function I_x(a, b); differentiable in x."""
    return _betainc(a, b, x)


_zeta = _unary("zeta", _scipy("zeta"), "Hurwitz zeta function zeta(x, q) (scipy.special.zeta).",
               save_output=False)


@_zeta.defvjp
def _zeta_vjp(g, ans, x, q):
    if needs_input(0):
        _no_grad("zeta", "x")
    return None, negative(multiply(g, multiply(x, _zeta(add(x, 1), q))))


@_zeta.defjvp
def _zeta_jvp(t, ans, x, q):
    if t[0] is not None:
        _no_grad("zeta", "x")
    return negative(multiply(t[1], multiply(x, _zeta(add(x, 1), q))))


def zeta(x, q, name=None):
    """Hurwitz zeta sum_k (k + q)^-x; differentiable in q."""
    return _zeta(x, q)


# ---------------------------------------------------------------------------
# exponentially scaled Bessel functions

bessel_i0e = _unary("bessel_i0e", _scipy("i0e"), "exp(-|x|) I0(x) (scipy.special.i0e).",
                    save_output=False)
bessel_i1e = _unary("bessel_i1e", _scipy("i1e"), "exp(-|x|) I1(x) (scipy.special.i1e).")


def _i0e_deriv(x):
    return subtract(bessel_i1e(x), multiply(sign(x), bessel_i0e(x)))


@bessel_i0e.defvjp
def _i0e_vjp(g, ans, x):
    return multiply(g, _i0e_deriv(x))


bessel_i0e.defjvp_self_adjoint()


# I1(x)/x = sum_k (x/2)^2k / (2 k! (k+1)!), to x^8: at |x| < 0.05 the next term is
# ~1e-21 of the first, and its third derivative ~3e-15
_I1_OVER_X = (1 / 2, 1 / 16, 1 / 384, 1 / 18432, 1 / 1474560)


def _i1e_over_x(ans, x):
    # i1e(x) / x, the limit 1/2 at 0.  Near 0 it is e^-|x| times the series of I1(x)/x:
    # ans / x's own derivatives are differences of terms ~1/x^k that cancel (the third
    # derivative of i1e at x = 1e-8 came out 2.0 instead of 1.875)
    small = less(abs_(x), 0.05)
    xs = where(small, x, 0)
    x2 = square(xs)
    series = _I1_OVER_X[-1]
    for c in _I1_OVER_X[-2::-1]:
        series = add(multiply(series, x2), c)
    near = multiply(exp(negative(abs_(xs))), series)
    return where(small, near, divide(ans, where(small, 1, x)))


def _i1e_deriv(ans, x):
    # i0e(x) - i1e(x) (sign(x) + 1/x); 1/2 at x = 0 (TF's choice too)
    return subtract(subtract(bessel_i0e(x), multiply(ans, sign(x))), _i1e_over_x(ans, x))


@bessel_i1e.defvjp
def _i1e_vjp(g, ans, x):
    return multiply(g, _i1e_deriv(ans, x))


bessel_i1e.defjvp_self_adjoint()


# ---------------------------------------------------------------------------
# x * f(y) with 0 wherever x == 0 (TF's xlogy family)

def _xfy(op, x, y, fy):
    x = tensor(x, op=op)
    y = tensor(y, op=op, dtype=x.dtype)
    # Only where f(y) is not finite (y outside f's domain, inf, NaN) does x == 0 need
    # the override to 0, and there every derivative is 0 too; the untaken branch sees a
    # safe y, so no NaN or inf leaks into it.  Where f(y) is finite, x * f(y) is the
    # function itself, also at x == 0: masking every x == 0 (TF's gradient) would make
    # d/dx there 0 instead of f(y), which exists.
    bad = logical_and(equal(x, 0), logical_not(is_finite(fy(stop_gradient(y)))))
    safe_y = where(bad, 1, y)
    return where(bad, zeros_like(multiply(x, safe_y)), multiply(x, fy(safe_y)))


def xlogy(x, y, name=None):
    """x * log(y), and 0 where x == 0 (even where y == 0); d/dx at x == 0 is log(y)
    where that is finite (PyTorch's), 0 where it is not."""
    return _xfy("xlogy", x, y, log)


def xlog1py(x, y, name=None):
    """x * log1p(y), and 0 where x == 0; d/dx at x == 0 is log1p(y) where finite."""
    return _xfy("xlog1py", x, y, log1p)


def xdivy(x, y, name=None):
    """x / y, and 0 where x == 0; d/dx at x == 0 is 1 / y where finite."""
    return _xfy("xdivy", x, y, reciprocal)


def divide_no_nan(x, y, name=None):
    """x / y, and 0 where y == 0 (gradients there are 0 too)."""
    x = tensor(x, op="divide_no_nan")
    y = tensor(y, op="divide_no_nan", dtype=x.dtype)
    zero = equal(y, 0)
    return where(zero, zeros_like(multiply(x, y)), divide(x, where(zero, 1, y)))


def multiply_no_nan(x, y, name=None):
    """x * y, and 0 where y == 0 even if x is inf or NaN."""
    x = tensor(x, op="multiply_no_nan")
    y = tensor(y, op="multiply_no_nan", dtype=x.dtype)
    zero = equal(y, 0)
    return where(zero, zeros_like(multiply(x, y)), multiply(where(zero, 0, x), y))


def _public(prim):
    """The public function in front of a unary primitive: a real signature with
    ``name=None`` and the forward's docstring (a Primitive itself is not public API)."""
    def op(x, name=None):
        return prim(x)

    op.__name__ = op.__qualname__ = prim.name
    op.__doc__ = prim.__doc__
    return op


tan, asin, acos, atan = _public(tan), _public(asin), _public(acos), _public(atan)
sinh, cosh, asinh = _public(sinh), _public(cosh), _public(asinh)
acosh, atanh = _public(acosh), _public(atanh)
erf, erfc, erfinv, ndtri = _public(erf), _public(erfc), _public(erfinv), _public(ndtri)
lgamma, digamma = _public(lgamma), _public(digamma)
bessel_i0e, bessel_i1e = _public(bessel_i0e), _public(bessel_i1e)


def squared_difference(x, y, name=None):
    """(x - y)^2 elementwise; conj(x - y) (x - y) = |x - y|^2 for complex input (TF's)."""
    d = subtract(x, y)
    if d.dtype.kind == "c":
        from tapegrad.ops.complex import conj

        return multiply(conj(d), d)
    return square(d)


def log_sigmoid(x, name=None):
    """log(sigmoid(x)) = -softplus(-x), without overflow."""
    from tapegrad.ops.nn import softplus

    return negative(softplus(negative(tensor(x, op="log_sigmoid"))))


__all__ = ["tan", "asin", "acos", "atan", "sinh", "cosh", "asinh", "acosh", "atanh", "atan2",
           "erf", "erfc", "erfinv", "ndtri", "lgamma", "digamma", "polygamma", "igamma",
           "igammac", "lbeta", "betainc", "zeta", "bessel_i0e", "bessel_i1e", "xlogy",
           "xlog1py", "xdivy", "divide_no_nan", "multiply_no_nan", "squared_difference",
           "log_sigmoid"]



# ---------------------------------------------------------------------------
# rules of the other transforms (tg.jet, tg.vmap, tg.onnx), beside the forwards

def _transform_rules():
    import math as _math

    from tapegrad import _core
    from tapegrad.ops import _batching as Bt
    from tapegrad.ops import _series as S
    from tapegrad.ops._registry import NotSupported, define_rules

    reg = _core.registered()

    def deriv_of_x(h_of_x0_series, y0_fn):
        # y' = h(x) x' with h's series built from x's
        def rule(x):
            return S.integrate(x, y0_fn(x[0]), h_of_x0_series(x))

        return rule

    def one_minus_sq(x, sign=-1.0, shift=1.0):
        sq = S.mul(x, x)
        out = sign * sq
        out[0] = out[0] + shift
        return out

    def rsqrt_series(q):
        return S.power(q, -0.5)

    c_erf = 2.0 / _math.sqrt(_math.pi)
    taylor = {
        "tan": lambda x: S.ode(x, np.tan(x[0]), lambda y, m: (1.0 if m == 0 else 0.0)
                               + S.conv(y, y, m)),
        "sinh": lambda x: S.sinh_cosh(x)[0],
        "cosh": lambda x: S.sinh_cosh(x)[1],
        "atan": deriv_of_x(lambda x: S.div(S.constant(np.ones((), x.dtype), S.order(x)),
                                           one_minus_sq(x, 1.0)), np.arctan),
        "asin": deriv_of_x(lambda x: rsqrt_series(one_minus_sq(x)), np.arcsin),
        "acos": deriv_of_x(lambda x: -rsqrt_series(one_minus_sq(x)), np.arccos),
        "asinh": deriv_of_x(lambda x: rsqrt_series(one_minus_sq(x, 1.0)), np.arcsinh),
        "acosh": deriv_of_x(lambda x: rsqrt_series(one_minus_sq(x, 1.0, -1.0)),
                            np.arccosh),
        "atanh": deriv_of_x(lambda x: S.div(S.constant(np.ones((), x.dtype), S.order(x)),
                                            one_minus_sq(x)), np.arctanh),
        "erf": deriv_of_x(lambda x: c_erf * S.exp(-S.mul(x, x)), _erf_value),
        "erfc": deriv_of_x(lambda x: -c_erf * S.exp(-S.mul(x, x)), _erfc_value),
    }
    define_rules("taylor", taylor)

    def atan2_taylor(y, x):
        q = S.div(y, x)
        h = S.div(S.constant(np.ones((), q.dtype), S.order(q)), one_minus_sq(q, 1.0))
        out = S.integrate(q, 0.0, h)
        out[0] = np.arctan2(y[0], x[0])
        return out

    reg["atan2"].defrule("taylor", atan2_taylor)
    for name in ("bessel_i0e", "bessel_i1e", "betainc", "digamma", "erfinv", "igamma",
                 "igammac", "lgamma", "ndtri", "polygamma", "zeta"):
        if reg[name].differentiable:
            reg[name].defrule("taylor", NotSupported(
                "no Taylor recurrence for %s yet (nest tapes for its derivatives)" % name))

    onnx = {"tan": "Tan", "asin": "Asin", "acos": "Acos", "atan": "Atan", "sinh": "Sinh",
            "cosh": "Cosh", "asinh": "Asinh", "acosh": "Acosh", "atanh": "Atanh",
            "erf": "Erf"}
    from tapegrad.ops._registry import onnx_rules

    onnx_rules(onnx)
    for name in ("atan2", "bessel_i0e", "bessel_i1e", "betainc", "digamma", "erfc",
                 "erfinv", "igamma", "igammac", "lgamma", "ndtri", "polygamma", "zeta"):
        reg[name].defrule("onnx", NotSupported("no ONNX operator for %s" % name))
    for name in list(taylor) + ["atan2", "bessel_i0e", "bessel_i1e", "betainc", "digamma",
                                "erfinv", "igamma", "igammac", "lgamma", "ndtri",
                                "polygamma", "zeta"]:
        reg[name].defrule("batch", Bt.elementwise)


def _erf_value(x0):
    import scipy.special

    return scipy.special.erf(x0)


def _erfc_value(x0):
    import scipy.special

    return scipy.special.erfc(x0)


_transform_rules()
