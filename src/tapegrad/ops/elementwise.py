"""Elementwise primitives: arithmetic, transcendental, comparison, logical, where, cast.

Ops flagged ``quiet`` give IEEE inf/NaN without NumPy warnings, as TensorFlow does
(the guide's naive log(1 + exp(100))).

Zero-cotangent safety (docs/architecture.md §3.3): VJPs of division form go through
``safe_mul``, which is exactly 0 wherever the incoming gradient is 0, so a branch
masked off by ``where`` never injects NaN.  Multiplicative forms keep IEEE semantics.

Each primitive's JVP sits beside its VJP and mirrors its choices (the same
subgradients at ties and kinks, the same ``safe_mul`` forms), so forward and reverse
mode agree exactly.  Ops linear in their inputs declare ``deflinear()``; unary ops,
whose Jacobian is diagonal, declare ``defjvp_self_adjoint()``: the VJP's formula,
applied to the tangent, is the JVP.
"""

import numpy as np

from tapegrad import _core, _kernels
from tapegrad._tape import needs_input
from tapegrad.errors import InvalidArgumentError
from tapegrad.ops import _series as _S
from tapegrad.ops._registry import (
    BOOL,
    FLOAT,
    INEXACT,
    NUMERIC,
    REAL,
    as_dtype,
    not_differentiable,
    primitive,
    tensor,
    tensor_list,
    zeros_on_device,
)
from tapegrad.ops._registry import define_rules as _define_rules
from tapegrad.ops._registry import onnx_rules as _onnx_rules

# ---------------------------------------------------------------------------
# forward-mode helpers for the broadcasting binary ops

def _tangent_sum(parts, ans):
    """Sum of the tangent contributions that are not None, at the output's shape (a
    contribution from one broadcast input alone may be smaller)."""
    out = None
    for p in parts:
        if p is not None:
            out = p if out is None else add(out, p)
    if out is not None and out.shape != ans.shape:
        # broadcast by adding zeros of the output's shape (shape.py builds on this module)
        out = add(out, zeros_on_device(ans.shape, ans.dtype, out))
    return out


# ---------------------------------------------------------------------------
# binary arithmetic

add = primitive("add", dtypes=NUMERIC, save_inputs=False, save_output=False,
                fast_code=_kernels.FAST_ADD, quiet=True, args=("x", "y"),
                doc="x + y elementwise, with broadcasting.")(np.add)
add.deflinear()


@add.defvjp
def _add_vjp(g, ans, x, y):
    return g, g


subtract = primitive("subtract", dtypes=NUMERIC, save_inputs=False, save_output=False,
                     fast_code=_kernels.FAST_SUB, quiet=True, args=("x", "y"),
                     doc="x - y elementwise, with broadcasting.")(np.subtract)
subtract.deflinear()


@subtract.defvjp
def _subtract_vjp(g, ans, x, y):
    return g, (negative(g) if needs_input(1) else None)


multiply = primitive("multiply", dtypes=NUMERIC, save_output=False,
                     fast_code=_kernels.FAST_MUL, quiet=True, args=("x", "y"),
                     doc="x * y elementwise, with broadcasting.")(np.multiply)


@multiply.defvjp
def _multiply_vjp(g, ans, x, y):
    # a constant factor (a data batch) needs no adjoint
    return (multiply(g, y) if needs_input(0) else None,
            multiply(g, x) if needs_input(1) else None)


@multiply.defjvp
def _multiply_jvp(ts, ans, x, y):
    tx, ty = ts
    return _tangent_sum([None if tx is None else multiply(tx, y),
                         None if ty is None else multiply(x, ty)], ans)


divide = primitive("divide", dtypes=NUMERIC, fast_code=_kernels.FAST_DIV, quiet=True,
                   args=("x", "y"),
                   doc="x / y elementwise (true division), with broadcasting.")(np.true_divide)


@divide.defvjp
def _divide_vjp(g, ans, x, y):
    return safe_mul(g, reciprocal(y)), negative(safe_mul(g, divide(ans, y)))


@divide.defjvp
def _divide_jvp(ts, ans, x, y):
    tx, ty = ts
    return _tangent_sum([None if tx is None else safe_mul(tx, reciprocal(y)),
                         None if ty is None else negative(safe_mul(ty, divide(ans, y)))],
                        ans)


@primitive("safe_mul", dtypes=INEXACT, save_output=False, quiet=True, args=("g", "z"))
def safe_mul(g, z):
    """g * z, but exactly 0 wherever g == 0 (even where z is inf or NaN)."""
    out = np.multiply(g, z)
    if out.ndim == 0:
        return out if g != 0 else np.zeros_like(out)
    # copyto with a mask: vectorised, where boolean-index assignment is element by element
    np.copyto(out, 0, where=(g == 0))
    return out


@safe_mul.defvjp
def _safe_mul_vjp(gg, ans, g, z):
    return safe_mul(gg, z), safe_mul(gg, g)


@safe_mul.defjvp
def _safe_mul_jvp(ts, ans, g, z):
    tg_, tz = ts
    return _tangent_sum([None if tg_ is None else safe_mul(tg_, z),
                         None if tz is None else safe_mul(g, tz)], ans)


pow = primitive("pow", dtypes=REAL, quiet=True, args=("x", "y"),  # noqa: A001
                doc="x ** y elementwise, with broadcasting.")(np.power)


def _log_where_positive(x):
    # log x where x > 0, else 0: d(x**y)/dy, finite (and 0) where x <= 0
    positive = greater(x, 0)
    return where(positive, log(where(positive, x, 1)), 0)


def _pow_d_dx(x, y):
    # y x^(y-1), exactly 0 where y == 0: x^0 is constant, also at x == 0 where
    # 0 * 0^-1 would be NaN
    return safe_mul(y, pow(x, subtract(y, 1)))


@pow.defvjp
def _pow_vjp(g, ans, x, y):
    gx = safe_mul(g, _pow_d_dx(x, y))
    return gx, safe_mul(g, multiply(ans, _log_where_positive(x)))


@pow.defjvp
def _pow_jvp(ts, ans, x, y):
    tx, ty = ts
    return _tangent_sum(
        [None if tx is None else safe_mul(tx, _pow_d_dx(x, y)),
         None if ty is None else safe_mul(ty, multiply(ans, _log_where_positive(x)))], ans)


maximum = primitive("maximum", dtypes=REAL, save_output=False, fast_code=_kernels.FAST_MAX,
                    args=("x", "y"), doc="max(x, y) elementwise, with broadcasting; ties "
                    "send the gradient to x, as TensorFlow does.")(np.maximum)


def _select_jvp(take_x, tx, ty, ans):
    out = where(take_x, 0 if tx is None else tx, 0 if ty is None else ty)
    return _tangent_sum([out], ans)


@maximum.defvjp
def _maximum_vjp(g, ans, x, y):
    # ties send the gradient to x (the first argument), as TensorFlow does
    take_x = greater_equal(x, y)
    return where(take_x, g, 0), where(take_x, 0, g)


@maximum.defjvp
def _maximum_jvp(ts, ans, x, y):
    return _select_jvp(greater_equal(x, y), ts[0], ts[1], ans)


minimum = primitive("minimum", dtypes=REAL, save_output=False, fast_code=_kernels.FAST_MIN,
                    args=("x", "y"), doc="min(x, y) elementwise, with broadcasting; ties "
                    "send the gradient to x.")(np.minimum)


@minimum.defvjp
def _minimum_vjp(g, ans, x, y):
    take_x = less_equal(x, y)
    return where(take_x, g, 0), where(take_x, 0, g)


@minimum.defjvp
def _minimum_jvp(ts, ans, x, y):
    return _select_jvp(less_equal(x, y), ts[0], ts[1], ans)


def _check_int_divisor(op, y):
    # TF's CPU kernels reject integer division by zero; NumPy would give 0 silently.
    # Floating-point operands keep IEEE results (x // 0 is +-inf or NaN, x % 0 is NaN).
    if y.dtype.kind in "iu" and not np.all(y):
        raise InvalidArgumentError("%s: integer division by zero" % op)


def _floor_divide(x, y):
    """Elementwise floor(x / y); integer division by zero raises InvalidArgumentError,
    floats give IEEE inf/NaN."""
    if y.dtype.kind in "iu":
        _check_int_divisor("floordiv", y)
        return np.floor_divide(x, y)
    # NumPy's loops, except inf // finite (+-inf) and finite // inf (+-0), which NumPy
    # gives as Python's divmod does (NaN, or -1) and the array API standard and TF as
    # floor(x / y) (_kernels_ufuncs.pxi)
    return _kernels.floor_divide(x, y)


def _floor_mod(x, y):
    """Elementwise x - floor(x / y) * y (the sign of y, as Python's %); integer modulo by
    zero raises InvalidArgumentError, floats give NaN."""
    _check_int_divisor("floormod", y)
    return np.mod(x, y)


floordiv = not_differentiable("floordiv", dtypes=REAL, quiet=True, args=("x", "y"),
                              doc="floor(x / y) elementwise (not differentiable); integer "
                              "division by zero raises, floats give IEEE inf/NaN; an "
                              "infinity over a finite number is +-inf, a finite number "
                              "over an infinity +-0 (the array API standard's floor(x / y)"
                              ", where NumPy gives NaN or -1).")(_floor_divide)

floormod = primitive("floormod", dtypes=REAL, save_output=False, quiet=True,
                     args=("x", "y"), doc="x mod y with the sign of y (Python's %), "
                     "elementwise; integer modulo by zero raises, floats give NaN."
                     )(_floor_mod)


@floormod.defvjp
def _floormod_vjp(g, ans, x, y):
    return g, negative(multiply(g, floor(divide(x, y))))


@floormod.defjvp
def _floormod_jvp(ts, ans, x, y):
    tx, ty = ts
    return _tangent_sum([tx, None if ty is None else
                         negative(multiply(ty, floor(divide(x, y))))], ans)


# ---------------------------------------------------------------------------
# unary

negative = primitive("negative", dtypes=NUMERIC, save_inputs=False, save_output=False,
                     args=("x",), doc="-x elementwise.")(np.negative)
negative.deflinear()


@negative.defvjp
def _negative_vjp(g, ans, x):
    return negative(g)


abs = primitive("abs", dtypes=REAL, save_output=False, args=("x",),  # noqa: A001
                doc="|x| elementwise (subgradient 0 at 0).")(np.abs)


@abs.defvjp
def _abs_vjp(g, ans, x):
    # subgradient 0 at x == 0
    return multiply(g, sign(x))


abs.defjvp_self_adjoint()


sign = primitive("sign", dtypes=REAL, save_output=False, args=("x",),
                 doc="-1, 0 or 1 by the sign of x (gradient 0).")(np.sign)
floor = primitive("floor", dtypes=FLOAT, save_output=False, args=("x",),
                  doc="Largest integer <= x, elementwise (gradient 0).")(np.floor)
ceil = primitive("ceil", dtypes=FLOAT, save_output=False, args=("x",),
                 doc="Smallest integer >= x, elementwise (gradient 0).")(np.ceil)
round = primitive("round", dtypes=FLOAT, save_output=False, args=("x",),  # noqa: A001
                  doc="x rounded half to even, elementwise (gradient 0).")(np.rint)


def _zero_vjp(g, ans, x):
    # piecewise-constant ops: gradient exactly zero (not disconnected), as in TF
    return zeros_like(g)


def _zero_jvp(ts, ans, x):
    return None


for _p in (sign, floor, ceil, round):
    _p.defvjp(_zero_vjp)
    _p.defjvp(_zero_jvp)

square = primitive("square", dtypes=NUMERIC, save_output=False, args=("x",),
                   doc="x * x elementwise.")(np.square)
# a small float square runs _kernels.square from the dispatcher (NumPy's ufunc call costs
# more than squaring a thousand numbers); where NumPy would warn it still runs NumPy
square.unary_code = _core.UNARY_SQUARE


@square.defvjp
def _square_vjp(g, ans, x):
    return multiply(g, multiply(x, 2))


square.defjvp_self_adjoint()


exp = primitive("exp", dtypes=INEXACT, save_inputs=False, quiet=True, args=("x",),
                doc="e ** x elementwise.")(np.exp)


@exp.defvjp
def _exp_vjp(g, ans, x):
    return multiply(g, ans)


exp.defjvp_self_adjoint()


# NumPy's expm1 loops, with the array API standard's complex special cases (+-0 + 0j ->
# +0 + 0j, the infinities and NaN + 0j) fixed in C (_kernels_ufuncs.pxi); still a ufunc,
# so large float arrays split over the thread pool as before
expm1 = primitive("expm1", dtypes=INEXACT, save_inputs=False, quiet=True, args=("x",),
                  doc="exp(x) - 1 elementwise, accurate near 0.")(_kernels.expm1)


@expm1.defvjp
def _expm1_vjp(g, ans, x):
    return multiply(g, add(ans, 1))


expm1.defjvp_self_adjoint()


log = primitive("log", dtypes=INEXACT, save_output=False, quiet=True, args=("x",),
                doc="Natural logarithm elementwise (-inf at 0, NaN below, as IEEE).")(np.log)


@log.defvjp
def _log_vjp(g, ans, x):
    return safe_mul(g, reciprocal(x))


log.defjvp_self_adjoint()


log1p = primitive("log1p", dtypes=INEXACT, save_output=False, quiet=True, args=("x",),
                  doc="log(1 + x) elementwise, accurate near 0.")(np.log1p)


@log1p.defvjp
def _log1p_vjp(g, ans, x):
    return safe_mul(g, reciprocal(add(x, 1)))


log1p.defjvp_self_adjoint()


sqrt = primitive("sqrt", dtypes=INEXACT, save_inputs=False, quiet=True, args=("x",),
                 doc="Square root elementwise (NaN below 0, as IEEE).")(np.sqrt)


@sqrt.defvjp
def _sqrt_vjp(g, ans, x):
    return safe_mul(g, divide(0.5, ans))


sqrt.defjvp_self_adjoint()


@primitive("rsqrt", dtypes=INEXACT, quiet=True, args=("x",))
def rsqrt(x):
    """1 / sqrt(x) elementwise."""
    return np.reciprocal(np.sqrt(x))


@rsqrt.defvjp
def _rsqrt_vjp(g, ans, x):
    # -0.5 * ans / x in division form, so a zero cotangent stays exactly zero at x = 0
    # at every order (a product ans**3 would meet 0 * inf at second order)
    return safe_mul(g, multiply(divide(ans, x), -0.5))


rsqrt.defjvp_self_adjoint()


reciprocal = primitive("reciprocal", dtypes=INEXACT, save_output=False, quiet=True,
                       args=("x",), doc="1 / x elementwise.")(np.reciprocal)


@reciprocal.defvjp
def _reciprocal_vjp(g, ans, x):
    # -1 / x**2 in division form (see rsqrt)
    return negative(safe_mul(g, reciprocal(square(x))))


reciprocal.defjvp_self_adjoint()


tanh = primitive("tanh", dtypes=INEXACT, save_inputs=False, args=("x",),
                 doc="Hyperbolic tangent elementwise.")(np.tanh)


@tanh.defvjp
def _tanh_vjp(g, ans, x):
    return multiply(g, subtract(1, square(ans)))


tanh.defjvp_self_adjoint()


@primitive("sigmoid", dtypes=FLOAT, save_inputs=False, quiet=True, args=("x",))
def sigmoid(x):
    """Logistic function 1 / (1 + exp(-x)), computed without overflow for large |x|."""
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype, copy=False)


@sigmoid.defvjp
def _sigmoid_vjp(g, ans, x):
    return multiply(g, multiply(ans, subtract(1, ans)))


sigmoid.defjvp_self_adjoint()


sin = primitive("sin", dtypes=INEXACT, save_output=False, args=("x",),
                doc="Sine elementwise (radians).")(np.sin)
cos = primitive("cos", dtypes=INEXACT, save_output=False, args=("x",),
                doc="Cosine elementwise (radians).")(np.cos)


@sin.defvjp
def _sin_vjp(g, ans, x):
    return multiply(g, cos(x))


sin.defjvp_self_adjoint()


@cos.defvjp
def _cos_vjp(g, ans, x):
    return negative(multiply(g, sin(x)))


cos.defjvp_self_adjoint()


# ---------------------------------------------------------------------------
# comparisons and logic: never recorded

def _predicate(name, ufunc, what, dtypes=None):
    kw = {} if dtypes is None else {"dtypes": dtypes}
    return not_differentiable(name, doc="%s, elementwise (a bool tensor, never "
                              "differentiated)." % what, **kw)(ufunc)


equal = _predicate("equal", np.equal, "x == y")
not_equal = _predicate("not_equal", np.not_equal, "x != y")
less = _predicate("less", np.less, "x < y", REAL)
less_equal = _predicate("less_equal", np.less_equal, "x <= y", REAL)
greater = _predicate("greater", np.greater, "x > y", REAL)
greater_equal = _predicate("greater_equal", np.greater_equal, "x >= y", REAL)
logical_and = _predicate("logical_and", np.logical_and, "x and y", BOOL)
logical_or = _predicate("logical_or", np.logical_or, "x or y", BOOL)
logical_xor = _predicate("logical_xor", np.logical_xor, "x xor y", BOOL)
logical_not = _predicate("logical_not", np.logical_not, "not x", BOOL)
is_nan = _predicate("is_nan", np.isnan, "x is NaN", FLOAT)
is_finite = _predicate("is_finite", np.isfinite, "x is finite", FLOAT)
is_inf = _predicate("is_inf", np.isinf, "x is +-inf", FLOAT)


# ---------------------------------------------------------------------------
# selection and casts

@primitive("where", same_dtype=(1, 2), save_inputs=True, save_output=False)
def _where(cond, x, y):
    """Elementwise cond ? x : y with broadcasting."""
    if cond.dtype != np.bool_:
        raise TypeError("where: condition must be bool, got %s" % cond.dtype)
    return np.where(cond, x, y)


_where.deflinear(1, 2)


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
    """x converted to ``dtype`` (float→int truncates toward zero, like TF; complex→real
    takes the real part, like TF, so its gradient is the real cotangent)."""
    if x.dtype.kind == "c" and dtype.kind != "c":
        x = x.real
    return x.astype(dtype)


_cast.deflinear()


@_cast.defvjp
def _cast_vjp(g, ans, x, dtype):
    if x.dtype.kind not in "fc":
        return None
    return _cast(g, dtype=x.dtype)


def cast(x, dtype, name=None):
    """``x`` converted to ``dtype`` (float to int truncates toward zero, like TF); the
    gradient flows between floating dtypes only."""
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
    """Zeros with the shape (and, unless ``dtype`` is given, the dtype) of ``x``."""
    t = _zeros_like(x)
    return t if dtype is None else cast(t, dtype)


def ones_like(x, dtype=None, name=None):
    """Ones with the shape (and, unless ``dtype`` is given, the dtype) of ``x``."""
    t = _ones_like(x)
    return t if dtype is None else cast(t, dtype)


identity = primitive("identity", save_inputs=False, save_output=False, args=("input",),
                     doc="A new tensor with the value of ``input`` (recorded: the "
                     "gradient passes through).")(np.asarray)
identity.deflinear()


@identity.defvjp
def _identity_vjp(g, ans, x):
    return g


stop_gradient = not_differentiable("stop_gradient", args=("input",),
                                   doc="``input`` as a constant: no gradient flows "
                                   "through it.")(np.asarray)


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


_add_n.deflinear()


@_add_n.defvjp
def _add_n_vjp(g, ans, *xs):
    return (g,) * len(xs)


def add_n(inputs, name=None):
    """Elementwise sum of a list of same-shape tensors."""
    inputs = tensor_list(inputs, "add_n")
    if not inputs:
        raise ValueError("add_n: needs at least one input")
    if len(inputs) == 1:
        return tensor(inputs[0], op="add_n")
    return _add_n(*inputs)


__all__ = [n for n in dir() if not n.startswith("_") and n not in ("np", "primitive",
                                                                   "not_differentiable")]


# ---------------------------------------------------------------------------
# ONNX export rules (run by tapegrad.onnx.export through its context; nothing here
# imports onnx)

def _onnx_dtype(dtype):
    from tapegrad.onnx.export import onnx_type

    return onnx_type(dtype)


def _onnx_square(ctx, node):
    (x,) = ctx.operands(node)
    return ctx.op("Mul", [x, x])


def _onnx_rsqrt(ctx, node):
    return ctx.op("Reciprocal", [ctx.op("Sqrt", ctx.operands(node))])


def _onnx_log1p(ctx, node):
    # Log(1 + x): ONNX has no log1p; within float rounding of x for |x| >~ 1e-7
    (x,) = ctx.operands(node)
    return ctx.op("Log", [ctx.op("Add", [x, ctx.const(1, ctx.out().dtype)])])


def _onnx_expm1(ctx, node):
    (x,) = ctx.operands(node)
    return ctx.op("Sub", [ctx.op("Exp", [x]), ctx.const(1, ctx.out().dtype)])


def _onnx_not_equal(ctx, node):
    return ctx.op("Not", [ctx.op("Equal", ctx.operands(node))])


def _onnx_is_finite(ctx, node):
    (x,) = ctx.operands(node)
    return ctx.op("Not", [ctx.op("Or", [ctx.op("IsNaN", [x]), ctx.op("IsInf", [x])])])


def _onnx_floormod(ctx, node):
    x, y = ctx.operands(node)
    if ctx.out().dtype.kind in "iu":
        return ctx.op("Mod", [x, y], fmod=0)        # integer Mod has NumPy's sign rule
    # floats: x - floor(x / y) * y (NumPy's mod), which ONNX's fmod=1 is not
    q = ctx.op("Floor", [ctx.op("Div", [x, y])])
    return ctx.op("Sub", [x, ctx.op("Mul", [q, y])])


def _onnx_floordiv(ctx, node):
    x, y = ctx.operands(node)
    if ctx.out().dtype.kind in "iu":
        # (x - x mod y) / y is exact, and rounds toward -inf like NumPy
        return ctx.op("Div", [ctx.op("Sub", [x, ctx.op("Mod", [x, y], fmod=0)]), y])
    return ctx.op("Floor", [ctx.op("Div", [x, y])])


def _onnx_cast(ctx, node):
    return ctx.op("Cast", ctx.operands(node), to=_onnx_dtype(node.params["dtype"]))


def _onnx_safe_mul(ctx, node):
    g, z = ctx.operands(node)
    zero = ctx.const(0, ctx.out().dtype)
    return ctx.op("Where", [ctx.op("Equal", [g, zero]), zero, ctx.op("Mul", [g, z])])


def _onnx_fill_like(value):
    def rule(ctx, node):
        from onnx import numpy_helper

        (x,) = ctx.operands(node)
        fill = numpy_helper.from_array(np.array([value], dtype=ctx.out().dtype))
        return ctx.op("ConstantOfShape", [ctx.op("Shape", [x])], value=fill)

    return rule


_onnx_rules({
    "add": "Add", "subtract": "Sub", "multiply": "Mul", "divide": "Div", "pow": "Pow",
    "maximum": "Max", "minimum": "Min", "negative": "Neg", "abs": "Abs", "sign": "Sign",
    "floor": "Floor", "ceil": "Ceil", "round": "Round", "exp": "Exp", "log": "Log",
    "sqrt": "Sqrt", "reciprocal": "Reciprocal", "tanh": "Tanh", "sigmoid": "Sigmoid",
    "sin": "Sin", "cos": "Cos", "equal": "Equal", "less": "Less",
    "less_equal": "LessOrEqual", "greater": "Greater", "greater_equal": "GreaterOrEqual",
    "logical_and": "And", "logical_or": "Or", "logical_xor": "Xor", "logical_not": "Not",
    "is_nan": "IsNaN", "is_inf": "IsInf", "where": "Where", "identity": "Identity",
    "stop_gradient": "Identity", "add_n": "Sum",
    "square": _onnx_square, "rsqrt": _onnx_rsqrt, "log1p": _onnx_log1p,
    "expm1": _onnx_expm1, "not_equal": _onnx_not_equal, "is_finite": _onnx_is_finite,
    "floormod": _onnx_floormod, "floordiv": _onnx_floordiv, "cast": _onnx_cast,
    "safe_mul": _onnx_safe_mul, "zeros_like": _onnx_fill_like(0),
    "ones_like": _onnx_fill_like(1),
})


# ---------------------------------------------------------------------------
# Taylor-mode rules (tg.jet): the operands' truncated series -> the output's
# (ops/_series.py; a series is an array with the Taylor order as its leading axis)

def _t_add(a, b):
    a, b = _S.align(a, b)
    return a + b


def _t_subtract(a, b):
    a, b = _S.align(a, b)
    return a - b


def _t_safe_mul(g, z):
    out = _S.mul(g, z)
    g, _ = _S.align(g, out)
    # exactly 0 where g is 0 along the whole path (z may be inf or NaN there)
    return np.where(np.broadcast_to((g == 0).all(axis=0), out.shape[1:]), 0, out)


def _t_pow(a, b):
    if not b[1:].any():
        return _S.power(a, b[0])
    return _S.exp(_S.mul(b, _S.log(a)))


def _t_extremum(take_first):
    def rule(a, b):
        a, b = _S.align(a, b)
        return _S.select(take_first(a[0], b[0]), a, b)

    return rule


def _t_floormod(a, b):
    a, b = _S.align(a, b)
    q = np.floor(a[0] / b[0])
    out = a - q * b
    out[0] = np.mod(a[0], b[0])
    return out


def _t_piecewise_constant(f):
    def rule(a):
        return _S.constant(f(a[0]), _S.order(a))

    return rule


def _t_expm1(a):
    y = _S.exp(a)
    y[0] = _kernels.expm1(a[0])     # the primitive's own values, special cases included
    return y


def _t_log1p(a):
    y = _S.log(a, shift=1.0)
    y[0] = np.log1p(a[0])
    return y


def _t_reciprocal(a):
    return _S.div(_S.constant(np.ones((), a.dtype), _S.order(a)), a)


def _t_sigmoid(a):
    with np.errstate(over="ignore"):
        y0 = 1.0 / (1.0 + np.exp(-a[0]))
    return _S.sigmoid(a, y0.astype(a.dtype))


def _t_where(c, x, y):
    return _S.select(c[0], x, y)


def _t_cast(a, dtype):
    if np.dtype(dtype).kind == "f":
        return a.astype(dtype)
    return _S.constant(a[0].astype(dtype), _S.order(a))


def _t_add_n(*xs):
    xs = _S.align(*xs)
    out = xs[0]
    for x in xs[1:]:
        out = out + x
    return out


_define_rules("taylor", {
    "add": _t_add, "subtract": _t_subtract, "multiply": _S.mul, "divide": _S.div,
    "safe_mul": _t_safe_mul, "pow": _t_pow,
    "maximum": _t_extremum(np.greater_equal), "minimum": _t_extremum(np.less_equal),
    "floormod": _t_floormod, "negative": np.negative,
    "abs": lambda a: a * _S.align(np.sign(a[0])[None], a)[0],
    "sign": _t_piecewise_constant(np.sign), "floor": _t_piecewise_constant(np.floor),
    "ceil": _t_piecewise_constant(np.ceil), "round": _t_piecewise_constant(np.rint),
    "square": lambda a: _S.mul(a, a), "exp": _S.exp, "expm1": _t_expm1, "log": _S.log,
    "log1p": _t_log1p, "sqrt": _S.sqrt, "rsqrt": lambda a: _S.power(a, -0.5),
    "reciprocal": _t_reciprocal, "tanh": _S.tanh, "sigmoid": _t_sigmoid,
    "sin": lambda a: _S.sin_cos(a)[0], "cos": lambda a: _S.sin_cos(a)[1],
    "where": _t_where, "cast": _t_cast, "identity": lambda a: a, "add_n": _t_add_n,
})


# ---------------------------------------------------------------------------
# batching rules (tg.vmap; ops/_batching.py): every elementwise primitive runs once on
# the whole batch, batched operands reshaped to broadcast against the shared ones

def _batch_rules():
    from tapegrad import _core as core
    from tapegrad.ops import _batching as B

    reg = core.registered()
    for name in ("add", "subtract", "multiply", "divide", "safe_mul", "pow", "maximum",
                 "minimum", "floordiv", "floormod", "negative", "abs", "sign", "floor",
                 "ceil", "round", "square", "exp", "expm1", "log", "log1p", "sqrt",
                 "rsqrt", "reciprocal", "tanh", "sigmoid", "sin", "cos", "equal",
                 "not_equal", "less", "less_equal", "greater", "greater_equal",
                 "logical_and", "logical_or", "logical_xor", "logical_not", "is_nan",
                 "is_finite", "is_inf", "where", "cast", "zeros_like", "ones_like",
                 "identity", "stop_gradient", "add_n"):
        reg[name].defrule("batch", B.elementwise)


_batch_rules()
