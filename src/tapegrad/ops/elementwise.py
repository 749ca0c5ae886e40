"""Elementwise primitives: arithmetic, transcendental, comparison, logical, where, cast.

Ops flagged ``quiet`` give IEEE inf/NaN without NumPy warnings, as TensorFlow does
(the guide's naive log(1 + exp(100))).

Zero-cotangent safety (ARCHITECTURE §2): VJPs of division form go through
``safe_mul``, which is exactly 0 wherever the incoming gradient is 0, so a branch
masked off by ``where`` never injects NaN.  Multiplicative forms keep IEEE semantics.
"""

import numpy as np

from tapegrad import _kernels
from tapegrad._tape import needs_input
from tapegrad.errors import InvalidArgumentError
from tapegrad.ops._registry import (
    BOOL,
    FLOAT,
    NUMERIC,
    as_dtype,
    not_differentiable,
    primitive,
    tensor,
    tensor_list,
)

# ---------------------------------------------------------------------------
# binary arithmetic

add = primitive("add", dtypes=NUMERIC, save_inputs=False, save_output=False,
                fast_code=_kernels.FAST_ADD, quiet=True)(np.add)


@add.defvjp
def _add_vjp(g, ans, x, y):
    return g, g


subtract = primitive("subtract", dtypes=NUMERIC, save_inputs=False, save_output=False,
                     fast_code=_kernels.FAST_SUB, quiet=True)(np.subtract)


@subtract.defvjp
def _subtract_vjp(g, ans, x, y):
    return g, (negative(g) if needs_input(1) else None)


multiply = primitive("multiply", dtypes=NUMERIC, save_output=False,
                     fast_code=_kernels.FAST_MUL, quiet=True)(np.multiply)


@multiply.defvjp
def _multiply_vjp(g, ans, x, y):
    # a constant factor (a data batch) needs no adjoint
    return (multiply(g, y) if needs_input(0) else None,
            multiply(g, x) if needs_input(1) else None)


divide = primitive("divide", dtypes=NUMERIC, fast_code=_kernels.FAST_DIV,
                   quiet=True)(np.true_divide)


@divide.defvjp
def _divide_vjp(g, ans, x, y):
    return safe_mul(g, reciprocal(y)), negative(safe_mul(g, divide(ans, y)))


@primitive("safe_mul", dtypes=FLOAT, save_output=False, quiet=True)
def safe_mul(g, z):
    """g * z, but exactly 0 wherever g == 0 (even where z is inf or NaN)."""
    out = np.multiply(g, z)
    if out.ndim == 0:
        return out if g != 0 else np.zeros_like(out)
    zero = np.broadcast_to(g == 0, out.shape)
    if zero.any():
        out[zero] = 0
    return out


@safe_mul.defvjp
def _safe_mul_vjp(gg, ans, g, z):
    return safe_mul(gg, z), safe_mul(gg, g)


pow = primitive("pow", dtypes=NUMERIC, quiet=True)(np.power)  # noqa: A001


@pow.defvjp
def _pow_vjp(g, ans, x, y):
    gx = safe_mul(g, multiply(y, pow(x, subtract(y, 1))))
    positive = greater(x, 0)
    log_x = where(positive, log(where(positive, x, 1)), 0)
    return gx, safe_mul(g, multiply(ans, log_x))


maximum = primitive("maximum", dtypes=NUMERIC, save_output=False,
                    fast_code=_kernels.FAST_MAX)(np.maximum)


@maximum.defvjp
def _maximum_vjp(g, ans, x, y):
    # ties send the gradient to x (the first argument), as TensorFlow does
    take_x = greater_equal(x, y)
    return where(take_x, g, 0), where(take_x, 0, g)


minimum = primitive("minimum", dtypes=NUMERIC, save_output=False,
                    fast_code=_kernels.FAST_MIN)(np.minimum)


@minimum.defvjp
def _minimum_vjp(g, ans, x, y):
    take_x = less_equal(x, y)
    return where(take_x, g, 0), where(take_x, 0, g)


def _check_int_divisor(op, y):
    # TF's CPU kernels reject integer division by zero; NumPy would give 0 silently.
    # Floating-point operands keep IEEE results (x // 0 is +-inf or NaN, x % 0 is NaN).
    if y.dtype.kind in "iu" and not np.all(y):
        raise InvalidArgumentError("%s: integer division by zero" % op)


def _floor_divide(x, y):
    """Elementwise floor(x / y); integer division by zero raises InvalidArgumentError,
    floats give IEEE inf/NaN."""
    _check_int_divisor("floordiv", y)
    return np.floor_divide(x, y)


def _floor_mod(x, y):
    """Elementwise x - floor(x / y) * y (the sign of y, as Python's %); integer modulo by
    zero raises InvalidArgumentError, floats give NaN."""
    _check_int_divisor("floormod", y)
    return np.mod(x, y)


floordiv = not_differentiable("floordiv", dtypes=NUMERIC, quiet=True)(_floor_divide)

floormod = primitive("floormod", dtypes=NUMERIC, save_output=False, quiet=True)(_floor_mod)


@floormod.defvjp
def _floormod_vjp(g, ans, x, y):
    return g, negative(multiply(g, floor(divide(x, y))))


# ---------------------------------------------------------------------------
# unary

negative = primitive("negative", dtypes=NUMERIC, save_inputs=False,
                     save_output=False)(np.negative)


@negative.defvjp
def _negative_vjp(g, ans, x):
    return negative(g)


abs = primitive("abs", dtypes=NUMERIC, save_output=False)(np.abs)  # noqa: A001


@abs.defvjp
def _abs_vjp(g, ans, x):
    # subgradient 0 at x == 0
    return multiply(g, sign(x))


sign = primitive("sign", dtypes=NUMERIC, save_output=False)(np.sign)
floor = primitive("floor", dtypes=FLOAT, save_output=False)(np.floor)
ceil = primitive("ceil", dtypes=FLOAT, save_output=False)(np.ceil)
round = primitive("round", dtypes=FLOAT, save_output=False)(np.rint)  # noqa: A001


def _zero_vjp(g, ans, x):
    # piecewise-constant ops: gradient exactly zero (not disconnected), as in TF
    return zeros_like(g)


for _p in (sign, floor, ceil, round):
    _p.defvjp(_zero_vjp)

square = primitive("square", dtypes=NUMERIC, save_output=False)(np.square)


@square.defvjp
def _square_vjp(g, ans, x):
    return multiply(g, multiply(x, 2))


exp = primitive("exp", dtypes=FLOAT, save_inputs=False, quiet=True)(np.exp)


@exp.defvjp
def _exp_vjp(g, ans, x):
    return multiply(g, ans)


expm1 = primitive("expm1", dtypes=FLOAT, save_inputs=False, quiet=True)(np.expm1)


@expm1.defvjp
def _expm1_vjp(g, ans, x):
    return multiply(g, add(ans, 1))


log = primitive("log", dtypes=FLOAT, save_output=False, quiet=True)(np.log)


@log.defvjp
def _log_vjp(g, ans, x):
    return safe_mul(g, reciprocal(x))


log1p = primitive("log1p", dtypes=FLOAT, save_output=False, quiet=True)(np.log1p)


@log1p.defvjp
def _log1p_vjp(g, ans, x):
    return safe_mul(g, reciprocal(add(x, 1)))


sqrt = primitive("sqrt", dtypes=FLOAT, save_inputs=False, quiet=True)(np.sqrt)


@sqrt.defvjp
def _sqrt_vjp(g, ans, x):
    return safe_mul(g, divide(0.5, ans))


@primitive("rsqrt", dtypes=FLOAT, quiet=True)
def rsqrt(x):
    """1 / sqrt(x)."""
    return np.reciprocal(np.sqrt(x))


@rsqrt.defvjp
def _rsqrt_vjp(g, ans, x):
    # -0.5 * ans / x in division form, so a zero cotangent stays exactly zero at x = 0
    # at every order (a product ans**3 would meet 0 * inf at second order)
    return safe_mul(g, multiply(divide(ans, x), -0.5))


reciprocal = primitive("reciprocal", dtypes=FLOAT, save_output=False,
                       quiet=True)(np.reciprocal)


@reciprocal.defvjp
def _reciprocal_vjp(g, ans, x):
    # -1 / x**2 in division form (see rsqrt)
    return negative(safe_mul(g, reciprocal(square(x))))


tanh = primitive("tanh", dtypes=FLOAT, save_inputs=False)(np.tanh)


@tanh.defvjp
def _tanh_vjp(g, ans, x):
    return multiply(g, subtract(1, square(ans)))


@primitive("sigmoid", dtypes=FLOAT, save_inputs=False, quiet=True)
def sigmoid(x):
    """Logistic function, computed without overflow for large |x|."""
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype, copy=False)


@sigmoid.defvjp
def _sigmoid_vjp(g, ans, x):
    return multiply(g, multiply(ans, subtract(1, ans)))


sin = primitive("sin", dtypes=FLOAT, save_output=False)(np.sin)
cos = primitive("cos", dtypes=FLOAT, save_output=False)(np.cos)


@sin.defvjp
def _sin_vjp(g, ans, x):
    return multiply(g, cos(x))


@cos.defvjp
def _cos_vjp(g, ans, x):
    return negative(multiply(g, sin(x)))


# ---------------------------------------------------------------------------
# comparisons and logic: never recorded

equal = not_differentiable("equal")(np.equal)
not_equal = not_differentiable("not_equal")(np.not_equal)
less = not_differentiable("less", dtypes=NUMERIC)(np.less)
less_equal = not_differentiable("less_equal", dtypes=NUMERIC)(np.less_equal)
greater = not_differentiable("greater", dtypes=NUMERIC)(np.greater)
greater_equal = not_differentiable("greater_equal", dtypes=NUMERIC)(np.greater_equal)
logical_and = not_differentiable("logical_and", dtypes=BOOL)(np.logical_and)
logical_or = not_differentiable("logical_or", dtypes=BOOL)(np.logical_or)
logical_xor = not_differentiable("logical_xor", dtypes=BOOL)(np.logical_xor)
logical_not = not_differentiable("logical_not", dtypes=BOOL)(np.logical_not)
is_nan = not_differentiable("is_nan", dtypes=FLOAT)(np.isnan)
is_finite = not_differentiable("is_finite", dtypes=FLOAT)(np.isfinite)
is_inf = not_differentiable("is_inf", dtypes=FLOAT)(np.isinf)


# ---------------------------------------------------------------------------
# selection and casts

@primitive("where", same_dtype=(1, 2), save_inputs=True, save_output=False)
def _where(cond, x, y):
    """Elementwise cond ? x : y with broadcasting."""
    if cond.dtype != np.bool_:
        raise TypeError("where: condition must be bool, got %s" % cond.dtype)
    return np.where(cond, x, y)


@_where.defvjp
def _where_vjp(g, ans, cond, x, y):
    return None, _where(cond, g, 0), _where(cond, 0, g)


def where(condition, x=None, y=None, name=None):
    """Elementwise select; with only ``condition``, the indices of True entries (int64)."""
    if x is None and y is None:
        c = tensor(condition, op="where")
        if c.dtype != np.bool_:
            raise TypeError("where: condition must be bool, got %s" % c.dtype)
        return tensor(np.argwhere(c.numpy()).astype(np.int64))
    if x is None or y is None:
        raise ValueError("where: give both x and y, or neither")
    return _where(condition, x, y)


@primitive("cast", save_inputs=False, save_output=False, quiet=True)
def _cast(x, dtype):
    """x converted to ``dtype`` (float→int truncates toward zero, like TF)."""
    return x.astype(dtype)


@_cast.defvjp
def _cast_vjp(g, ans, x, dtype):
    if x.dtype.kind != "f":
        return None
    return _cast(g, dtype=x.dtype)


def cast(x, dtype, name=None):
    dt = as_dtype(dtype, "cast")
    t = tensor(x, op="cast")
    if t.dtype == dt:
        return t
    return _cast(t, dtype=dt)


@primitive("zeros_like", differentiable=False, save_inputs=False, save_output=False)
def _zeros_like(x):
    """Zeros of x's shape, dtype and device."""
    return np.zeros_like(x)


@primitive("ones_like", differentiable=False, save_inputs=False, save_output=False)
def _ones_like(x):
    """Ones of x's shape, dtype and device."""
    return np.ones_like(x)


def zeros_like(x, dtype=None, name=None):
    t = _zeros_like(x)
    return t if dtype is None else cast(t, dtype)


def ones_like(x, dtype=None, name=None):
    t = _ones_like(x)
    return t if dtype is None else cast(t, dtype)


identity = primitive("identity", save_inputs=False, save_output=False)(np.asarray)


@identity.defvjp
def _identity_vjp(g, ans, x):
    return g


stop_gradient = not_differentiable("stop_gradient")(np.asarray)


@primitive("add_n", dtypes=NUMERIC, save_inputs=False, save_output=False)
def _add_n(*xs):
    """Sum of same-shape tensors (the tape's gradient aggregation)."""
    out = np.array(xs[0], copy=True)
    for x in xs[1:]:
        if x.shape != out.shape:
            out = out + x
        else:
            np.add(out, x, out=out)
    return out


@_add_n.defvjp
def _add_n_vjp(g, ans, *xs):
    return (g,) * len(xs)


def add_n(inputs, name=None):
    inputs = tensor_list(inputs, "add_n")
    if not inputs:
        raise ValueError("add_n: needs at least one input")
    if len(inputs) == 1:
        return tensor(inputs[0], op="add_n")
    return _add_n(*inputs)


__all__ = [n for n in dir() if not n.startswith("_") and n not in ("np", "primitive",
                                                                   "not_differentiable")]
