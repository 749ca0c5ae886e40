"""Reductions: sum, max, min, prod (primitives); mean, logsumexp, any/all; argmax/argmin."""

import math

import numpy as np

from tapegrad import _kernels
from tapegrad.ops._registry import (
    BOOL,
    NUMERIC,
    REAL,
    norm_axes,
    norm_axis,
    not_differentiable,
    primitive,
    tensor,
)
from tapegrad.ops.elementwise import (
    add,
    cast,
    divide,
    equal,
    exp,
    log,
    multiply,
    not_equal,
    sqrt,
    square,
    stop_gradient,
    subtract,
    where,
)
from tapegrad.ops.shape import _broadcast_to, _reshape, reshape


def _kept_shape(shape, axes):
    return tuple(1 if i in axes else d for i, d in enumerate(shape))


@primitive("reduce_sum", dtypes=NUMERIC, save_inputs=False, save_output=False, quiet=True)
def _sum(x, axes, keepdims):
    """Sum over ``axes`` (a normalised tuple)."""
    k = len(axes)
    if 0 < k < x.ndim and x.size >= 4096 and axes == tuple(range(k)) and \
            math.prod(x.shape[k:]) > 1:
        # leading axes of a big float array (a bias gradient): a row-accumulating
        # kernel, bit-identical to NumPy's order here and several times faster (a
        # single kept element would be NumPy's pairwise sum, so it stays there)
        out = _kernels.sum_rows(x, math.prod(x.shape[:k]))
        if out is not None:
            return out.reshape(((1,) * k if keepdims else ()) + x.shape[k:])
    # the ufunc method directly: np.sum's Python wrapper costs more than a small sum
    return np.add.reduce(x, axis=axes, keepdims=keepdims, dtype=x.dtype)


@_sum.defvjp
def _sum_vjp(g, ans, x, axes, keepdims):
    # straight to the primitives: the shapes are known to be consistent here
    kept = _kept_shape(x.shape, axes)
    if not keepdims and g.ndim and g.shape != kept:
        # (a 0-d g, from a full reduction, broadcasts as it is)
        g = _reshape(g, shape=kept)
    return g if g.shape == x.shape else _broadcast_to(g, shape=x.shape)


def _extremum_vjp(g, ans, x, axes, keepdims):
    # the gradient is shared equally among tied extrema, as TensorFlow does
    kept = _kept_shape(x.shape, axes)
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


_max.defvjp(_extremum_vjp)
_min.defvjp(_extremum_vjp)


@primitive("reduce_prod", dtypes=REAL, quiet=True)
def _prod(x, axes, keepdims):
    """Product over ``axes``."""
    return np.prod(x, axis=axes, keepdims=keepdims, dtype=x.dtype)


@_prod.defvjp
def _prod_vjp(g, ans, x, axes, keepdims):
    # d prod / d x_i = product of the others, written so that zeros are exact:
    # no zero in the slice -> prod / x_i; one zero -> the others' product at the zero;
    # two or more -> 0.  All in tapegrad ops, so it differentiates again.
    kept = _kept_shape(x.shape, axes)
    if not keepdims:
        g = reshape(g, kept)
    is_zero = equal(x, 0)
    x_nz = where(is_zero, 1, x)
    prod_nz = _prod(x_nz, axes=axes, keepdims=True)
    n_zero = _sum(cast(is_zero, x.dtype), axes=axes, keepdims=True)
    at_zero = where(equal(n_zero, 1), prod_nz, 0)
    elsewhere = where(equal(n_zero, 0), divide(prod_nz, x_nz), 0)
    return multiply(g, where(is_zero, at_zero, elsewhere))


def reduce_sum(input_tensor, axis=None, keepdims=False, name=None):
    x = tensor(input_tensor, op="reduce_sum")
    if x.dtype == np.bool_:
        raise TypeError("reduce_sum: bool tensors cannot be summed; cast them first")
    return _sum(x, axes=norm_axes(axis, x.ndim, "reduce_sum"), keepdims=bool(keepdims))


def reduce_max(input_tensor, axis=None, keepdims=False, name=None):
    x = tensor(input_tensor, op="reduce_max")
    return _max(x, axes=norm_axes(axis, x.ndim, "reduce_max"), keepdims=bool(keepdims))


def reduce_min(input_tensor, axis=None, keepdims=False, name=None):
    x = tensor(input_tensor, op="reduce_min")
    return _min(x, axes=norm_axes(axis, x.ndim, "reduce_min"), keepdims=bool(keepdims))


def reduce_prod(input_tensor, axis=None, keepdims=False, name=None):
    x = tensor(input_tensor, op="reduce_prod")
    return _prod(x, axes=norm_axes(axis, x.ndim, "reduce_prod"), keepdims=bool(keepdims))


def reduce_mean(input_tensor, axis=None, keepdims=False, name=None):
    """Mean over ``axis``; integer tensors use integer (truncating) division like TF."""
    x = tensor(input_tensor, op="reduce_mean")
    if x.dtype == np.bool_:
        raise TypeError("reduce_mean: bool tensors cannot be averaged; cast them first")
    axes = norm_axes(axis, x.ndim, "reduce_mean")
    count = 1
    for a in axes:
        count *= x.shape[a]
    total = _sum(x, axes=axes, keepdims=bool(keepdims))
    if x.dtype.kind in "fc":
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
    m = where(np.isfinite(m.numpy()), m, 0)
    out = add(log(_sum(exp(subtract(x, m)), axes=axes, keepdims=True)), m)
    return out if keepdims else reshape(out, tuple(d for i, d in enumerate(x.shape)
                                                   if i not in axes))


def reduce_variance(input_tensor, axis=None, keepdims=False, name=None):
    x = tensor(input_tensor, op="reduce_variance")
    mean = reduce_mean(x, axis, keepdims=True)

    return reduce_mean(square(subtract(x, mean)), axis, keepdims)


def reduce_std(input_tensor, axis=None, keepdims=False, name=None):
    return sqrt(reduce_variance(input_tensor, axis, keepdims))


@not_differentiable("reduce_any", dtypes=BOOL)
def _any(x, axes, keepdims):
    """Logical or over ``axes``."""
    return np.any(x, axis=axes, keepdims=keepdims)


@not_differentiable("reduce_all", dtypes=BOOL)
def _all(x, axes, keepdims):
    """Logical and over ``axes``."""
    return np.all(x, axis=axes, keepdims=keepdims)


def reduce_any(input_tensor, axis=None, keepdims=False, name=None):
    x = tensor(input_tensor, op="reduce_any")
    return _any(x, axes=norm_axes(axis, x.ndim, "reduce_any"), keepdims=bool(keepdims))


def reduce_all(input_tensor, axis=None, keepdims=False, name=None):
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
    x = tensor(input, op="argmin")
    if x.ndim == 0:
        raise ValueError("argmin: input must have rank >= 1")
    return _argmin(x, axis=norm_axis(0 if axis is None else axis, x.ndim, "argmin"),
                   output_type=np.dtype(output_type))


def count_nonzero(input, axis=None, keepdims=False, dtype=np.int64, name=None):
    x = tensor(input, op="count_nonzero")
    return reduce_sum(cast(not_equal(x, 0), dtype), axis, keepdims)
