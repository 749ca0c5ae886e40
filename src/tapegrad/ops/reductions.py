"""Reductions: max, min, prod (primitives; reduce_sum's primitive lives in shape.py beside
its adjoint broadcast_to); mean, logsumexp, variance, any/all; argmax/argmin."""

import numpy as np

from tapegrad._core import apply as _apply
from tapegrad.ops._registry import (
    BOOL,
    REAL,
    norm_axes,
    norm_axis,
    not_differentiable,
    primitive,
    tensor,
)
from tapegrad.ops._registry import onnx_rules as _onnx_rules
from tapegrad.ops.elementwise import (
    add,
    cast,
    divide,
    equal,
    exp,
    greater,
    is_finite,
    log,
    multiply,
    not_equal,
    sqrt,
    square,
    stop_gradient,
    subtract,
    where,
)
from tapegrad.ops.shape import _reshape, _sum, kept_shape, reshape


def _extremum_vjp(g, ans, x, axes, keepdims):
    # the gradient is shared equally among tied extrema, as TensorFlow does
    kept = kept_shape(x.shape, axes)
    if not keepdims:
        g = reshape(g, kept)
        ans = reshape(ans, kept)
    hit = cast(equal(x, ans), x.dtype)
    count = _sum(hit, axes=axes, keepdims=True)
    return multiply(divide(g, count), hit)


@primitive("reduce_max", dtypes=REAL)
def _max(x, axes, keepdims):
    """Maximum over ``axes``."""
    if x.size == 0:
        raise ValueError("reduce_max: cannot reduce an empty tensor of shape %s" % (x.shape,))
    return np.max(x, axis=axes, keepdims=keepdims)


@primitive("reduce_min", dtypes=REAL)
def _min(x, axes, keepdims):
    """Minimum over ``axes``."""
    if x.size == 0:
        raise ValueError("reduce_min: cannot reduce an empty tensor of shape %s" % (x.shape,))
    return np.min(x, axis=axes, keepdims=keepdims)


def _extremum_jvp(ts, ans, x, axes, keepdims):
    # the mean tangent over the tied extrema (the VJP's choice, transposed)
    a = ans if keepdims else _reshape(ans, shape=kept_shape(x.shape, axes))
    hit = cast(equal(x, a), x.dtype)
    out = divide(_sum(multiply(ts[0], hit), axes=axes, keepdims=True),
                 _sum(hit, axes=axes, keepdims=True))
    return out if keepdims else _reshape(out, shape=tuple(ans.shape))


for _p in (_max, _min):
    _p.defvjp(_extremum_vjp)
    _p.defjvp(_extremum_jvp)


@primitive("reduce_prod", dtypes=REAL, quiet=True)
def _prod(x, axes, keepdims):
    """Product over ``axes``."""
    return np.prod(x, axis=axes, keepdims=keepdims, dtype=x.dtype)


def _prod_partials(x, axes):
    """d prod / d x_i = product of the others, as (exclusive running product from the
    left) * (exclusive running product from the right) over the flattened ``axes``.
    No division, so zeros are exact; and unlike prod / x_i masked by a zero count, the
    result is the product of the others as a function too: its own derivative in a zero
    x_j (the others' product, nonzero beside one zero) survives, which second order
    needs.  cumprod's rules are exact at zeros, so this differentiates to any order."""
    from tapegrad import _core
    from tapegrad.ops.elementwise import ones_like
    from tapegrad.ops.shape import _transpose

    # the cumprod primitive by name: ops/cumulative.py builds on this module (and loads on
    # first use: registry() imports the op families import tapegrad defers)
    _cumprod = _core.registry()["cumprod"]
    axes = tuple(a for a in axes if a < x.ndim)  # a scalar's axis 0 reduces nothing
    if not axes:
        return ones_like(x)
    rest = tuple(a for a in range(x.ndim) if a not in axes)
    perm = rest + axes
    moved = x if perm == tuple(range(x.ndim)) else _transpose(x, perm=perm)
    n = int(np.prod([x.shape[a] for a in axes]))
    flat = reshape(moved, tuple(x.shape[a] for a in rest) + (n,))
    last = len(rest)
    others = multiply(_cumprod(flat, axis=last, exclusive=True, reverse=False),
                      _cumprod(flat, axis=last, exclusive=True, reverse=True))
    others = reshape(others, tuple(moved.shape))
    if moved is x:
        return others
    return _transpose(others, perm=tuple(int(i) for i in np.argsort(perm)))


@_prod.defvjp
def _prod_vjp(g, ans, x, axes, keepdims):
    if not keepdims:
        g = reshape(g, kept_shape(x.shape, axes))
    return multiply(g, _prod_partials(x, axes))


@_prod.defjvp
def _prod_jvp(ts, ans, x, axes, keepdims):
    return _sum(multiply(ts[0], _prod_partials(x, axes)), axes=axes, keepdims=keepdims)


def reduce_sum(input_tensor, axis=None, keepdims=False, name=None):
    """Sum over ``axis`` (None: all axes)."""
    x = tensor(input_tensor, op="reduce_sum")
    if x.dtype == np.bool_:
        raise TypeError("reduce_sum: bool tensors cannot be summed; cast them first")
    return _sum(x, axes=norm_axes(axis, x.ndim, "reduce_sum"), keepdims=bool(keepdims))


def reduce_max(input_tensor, axis=None, keepdims=False, name=None):
    """Maximum over ``axis``; tied maxima share the gradient equally."""
    x = tensor(input_tensor, op="reduce_max")
    return _max(x, axes=norm_axes(axis, x.ndim, "reduce_max"), keepdims=bool(keepdims))


def reduce_min(input_tensor, axis=None, keepdims=False, name=None):
    """Minimum over ``axis``; tied minima share the gradient equally."""
    x = tensor(input_tensor, op="reduce_min")
    return _min(x, axes=norm_axes(axis, x.ndim, "reduce_min"), keepdims=bool(keepdims))


def reduce_prod(input_tensor, axis=None, keepdims=False, name=None):
    """Product over ``axis`` (an exact gradient where entries are zero)."""
    x = tensor(input_tensor, op="reduce_prod")
    return _prod(x, axes=norm_axes(axis, x.ndim, "reduce_prod"), keepdims=bool(keepdims))


def reduce_mean(input_tensor, axis=None, keepdims=False, name=None):
    """Mean over ``axis``; integer tensors use integer (truncating) division like TF."""
    x = tensor(input_tensor, op="reduce_mean")
    kind = x.dtype.kind
    if kind == "b":
        raise TypeError("reduce_mean: bool tensors cannot be averaged; cast them first")
    if axis is None:
        # the usual mean of a loss, over every axis: its count is the size, and the sum
        # goes straight to dispatch (the primitive's keyword check is for user calls)
        axes = tuple(range(x.ndim))
        count = x.size
    else:
        axes = norm_axes(axis, x.ndim, "reduce_mean")
        shape = tuple(x.shape)
        count = 1
        for a in axes:
            count *= shape[a]
    total = _apply(_sum, (x,), {"axes": axes, "keepdims": bool(keepdims)})
    if kind in "fc":
        if count == 0:
            return divide(total, float("nan"))
        return multiply(total, 1.0 / count)
    if count == 0:
        raise ValueError("reduce_mean: integer mean over an empty axis")
    return total // count


def reduce_logsumexp(input_tensor, axis=None, keepdims=False, name=None):
    """log(sum(exp(x))) computed stably (max-shifted)."""

    x = tensor(input_tensor, op="reduce_logsumexp")
    axes = norm_axes(axis, x.ndim, "reduce_logsumexp")
    m = stop_gradient(_max(x, axes=axes, keepdims=True))
    # the mask as an op, not from m's values in Python: a traced graph recomputes it
    m = where(is_finite(m), m, 0)
    out = add(log(_sum(exp(subtract(x, m)), axes=axes, keepdims=True)), m)
    return out if keepdims else reshape(out, tuple(d for i, d in enumerate(x.shape)
                                                   if i not in axes))


def reduce_variance(input_tensor, axis=None, keepdims=False, name=None):
    """Population variance over ``axis``; real, the mean of |x - mean|^2, for complex
    input (TF's, NumPy's)."""
    x = tensor(input_tensor, op="reduce_variance")
    mean = reduce_mean(x, axis, keepdims=True)
    d = subtract(x, mean)
    if d.dtype.kind == "c":
        # Re^2 + Im^2 rather than abs(d)^2: smooth at d == 0 to every order
        from tapegrad.ops.complex import imag, real

        return reduce_mean(add(square(real(d)), square(imag(d))), axis, keepdims)
    return reduce_mean(square(d), axis, keepdims)


def reduce_std(input_tensor, axis=None, keepdims=False, name=None):
    """sqrt(reduce_variance(x)); where the variance is 0 the gradient is the subgradient 0.

    sqrt's derivative is infinite at 0, and times the variance's zero gradient it gave
    NaN for a constant input.  As in PyTorch, a zero standard deviation passes no
    gradient; the square root only ever sees positive variances, so every higher
    derivative is finite too.
    """
    var = reduce_variance(input_tensor, axis, keepdims)
    if var.dtype.kind != "f":
        return sqrt(var)
    positive = greater(var, 0)
    return where(positive, sqrt(where(positive, var, 1)), 0)


@not_differentiable("reduce_any", dtypes=BOOL)
def _any(x, axes, keepdims):
    """Logical or over ``axes``."""
    return np.any(x, axis=axes, keepdims=keepdims)


@not_differentiable("reduce_all", dtypes=BOOL)
def _all(x, axes, keepdims):
    """Logical and over ``axes``."""
    return np.all(x, axis=axes, keepdims=keepdims)


def reduce_any(input_tensor, axis=None, keepdims=False, name=None):
    """Logical or of a bool tensor over ``axis``."""
    x = tensor(input_tensor, op="reduce_any")
    return _any(x, axes=norm_axes(axis, x.ndim, "reduce_any"), keepdims=bool(keepdims))


def reduce_all(input_tensor, axis=None, keepdims=False, name=None):
    """Logical and of a bool tensor over ``axis``."""
    x = tensor(input_tensor, op="reduce_all")
    return _all(x, axes=norm_axes(axis, x.ndim, "reduce_all"), keepdims=bool(keepdims))


@not_differentiable("argmax", dtypes=REAL)
def _argmax(x, axis, output_type):
    """Index of the first maximum along ``axis``."""
    if x.shape[axis] == 0:
        raise ValueError("argmax: axis %d of shape %s is empty" % (axis, x.shape))
    return np.argmax(x, axis=axis).astype(output_type)


@not_differentiable("argmin", dtypes=REAL)
def _argmin(x, axis, output_type):
    """Index of the first minimum along ``axis``."""
    if x.shape[axis] == 0:
        raise ValueError("argmin: axis %d of shape %s is empty" % (axis, x.shape))
    return np.argmin(x, axis=axis).astype(output_type)


def argmax(input, axis=None, output_type=np.int64, name=None):
    """Like tf.argmax: ``axis=None`` means axis 0; int64 indices by default."""
    x = tensor(input, op="argmax")
    if x.ndim == 0:
        raise ValueError("argmax: input must have rank >= 1")
    return _argmax(x, axis=norm_axis(0 if axis is None else axis, x.ndim, "argmax"),
                   output_type=np.dtype(output_type))


def argmin(input, axis=None, output_type=np.int64, name=None):
    """Index of the first minimum along ``axis`` (default 0)."""
    x = tensor(input, op="argmin")
    if x.ndim == 0:
        raise ValueError("argmin: input must have rank >= 1")
    return _argmin(x, axis=norm_axis(0 if axis is None else axis, x.ndim, "argmin"),
                   output_type=np.dtype(output_type))


def count_nonzero(input, axis=None, keepdims=False, dtype=np.int64, name=None):
    """Number of non-zero entries over ``axis``."""
    x = tensor(input, op="count_nonzero")
    return reduce_sum(cast(not_equal(x, 0), dtype), axis, keepdims)


# ---------------------------------------------------------------------------
# ONNX export rules (run by tapegrad.onnx.export through its context)

def _onnx_reduce(op_type, axes_input_from):
    # ReduceSum takes its axes as an input from opset 13, the others from opset 18
    def rule(ctx, node):
        (x,) = ctx.operands(node)
        axes = list(node.params["axes"])
        keep = int(bool(node.params["keepdims"]))
        if not axes:
            return ctx.op("Identity", [x])
        if ctx.opset >= axes_input_from:
            return ctx.op(op_type, [x, ctx.ints(axes)], keepdims=keep)
        return ctx.op(op_type, [x], axes=axes, keepdims=keep)

    return rule


def _onnx_bool_reduce(op_type):
    # any/all as max/min over 0/1 integers
    def rule(ctx, node):
        (x,) = ctx.operands(node)
        as_int = ctx.op("Cast", [x], to=7)
        axes = list(node.params["axes"])
        keep = int(bool(node.params["keepdims"]))
        if not axes:
            red = as_int
        elif ctx.opset >= 18:
            red = ctx.op(op_type, [as_int, ctx.ints(axes)], keepdims=keep)
        else:
            red = ctx.op(op_type, [as_int], axes=axes, keepdims=keep)
        return ctx.op("Cast", [red], to=9)

    return rule


def _onnx_arg(op_type):
    def rule(ctx, node):
        from tapegrad.onnx.export import onnx_type

        (x,) = ctx.operands(node)
        # select_last_index=0: the first extremum, as NumPy and TF
        idx = ctx.op(op_type, [x], axis=int(node.params["axis"]), keepdims=0,
                     select_last_index=0)
        out = ctx.out().dtype
        return idx if out == np.int64 else ctx.op("Cast", [idx], to=onnx_type(out))

    return rule


_onnx_rules({
    "reduce_sum": _onnx_reduce("ReduceSum", 13),
    "reduce_max": _onnx_reduce("ReduceMax", 18),
    "reduce_min": _onnx_reduce("ReduceMin", 18),
    "reduce_prod": _onnx_reduce("ReduceProd", 18),
    "reduce_any": _onnx_bool_reduce("ReduceMax"),
    "reduce_all": _onnx_bool_reduce("ReduceMin"),
    "argmax": _onnx_arg("ArgMax"),
    "argmin": _onnx_arg("ArgMin"),
})


# ---------------------------------------------------------------------------
# Taylor-mode rules (tg.jet; ops/_series.py)

def _t_sum(x, axes, keepdims):
    return np.add.reduce(x, axis=tuple(a + 1 for a in axes), keepdims=keepdims)


def _t_extremum(pick):
    # the coefficients of the selected entries (ties share equally, as the VJP does)
    def rule(x, axes, keepdims):
        ax = tuple(a + 1 for a in axes)
        top = pick(x[0], axis=axes, keepdims=True)
        mask = (x[0] == top)
        count = mask.sum(axis=axes, keepdims=True)
        out = np.add.reduce(x * mask, axis=ax, keepdims=True) / count
        out[0] = top
        return out if keepdims else out.reshape(
            out.shape[:1] + tuple(d for i, d in enumerate(out.shape[1:]) if i not in axes))

    return rule


def _t_prod(x, axes, keepdims):
    from tapegrad.ops import _series as S

    nd = x.ndim - 1
    rest = [a for a in range(nd) if a not in axes]
    moved = np.transpose(x, [0] + [a + 1 for a in rest] + [a + 1 for a in axes])
    kept = moved.shape[1:1 + len(rest)]
    flat = moved.reshape(moved.shape[:1] + kept + (-1,))
    out = S.constant(np.ones(kept, x.dtype), S.order(x))
    for i in range(flat.shape[-1]):
        out = S.mul(out, flat[..., i])
    if keepdims:
        shape = [1 if a in axes else x.shape[a + 1] for a in range(nd)]
        out = out.reshape(out.shape[:1] + tuple(shape))
    return out


def _registry_of(name):
    from tapegrad import _core

    return _core.registered()[name]


for _name, _rule in (("reduce_sum", _t_sum), ("reduce_max", _t_extremum(np.max)),
                     ("reduce_min", _t_extremum(np.min)), ("reduce_prod", _t_prod)):
    _registry_of(_name).defrule("taylor", _rule)


# batching rules (tg.vmap): the reduced axes move past the batch axis
def _batch_rules():
    from tapegrad.ops import _batching as B

    for name in ("reduce_sum", "reduce_max", "reduce_min", "reduce_prod", "reduce_any",
                 "reduce_all"):
        _registry_of(name).defrule("batch", B.shift_axes("axes", multi=True))
    for name in ("argmax", "argmin"):
        _registry_of(name).defrule("batch", B.shift_axes("axis"))


_batch_rules()
