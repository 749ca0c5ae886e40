"""Reductions and statistics of the array API standard (sum, prod, max, mean, var,
cumulative_sum, all, any, diff).

Floating inputs run tapegrad ops, so results are differentiable; integer / bool ones
(no derivative) may run NumPy directly.
"""

import builtins
import math

import numpy as np

from tapegrad.numpy import _base as B
from tapegrad.numpy._manipulation import _norm_axis, concat
from tapegrad.ops import cumulative as C
from tapegrad.ops import elementwise as E
from tapegrad.ops import indexing as I
from tapegrad.ops import linalg as L
from tapegrad.ops import reductions as R
from tapegrad.ops import shape as S

__all__, _export = B.exporter()


def _axes(axis, ndim):
    if axis is None:
        return None
    if isinstance(axis, (list, tuple)):
        return tuple(_norm_axis(a, ndim, "reduction") for a in axis)
    return _norm_axis(axis, ndim, "reduction")


def _sum_dtype(x, dtype):
    if dtype is not None:
        return B.check_dtype(dtype, "sum")
    if x.dtype.kind == "i" and x.dtype.itemsize < 8:
        return np.dtype(np.int64)
    if x.dtype.kind == "u" and x.dtype.itemsize < 8:
        return np.dtype(np.uint64)
    if x.dtype.kind == "b":
        return B.DEFAULT_INT
    return x.dtype


@_export
def sum(x, /, *, axis=None, dtype=None, keepdims=False):
    x = B.as_tensor(x, op="sum")
    ax = _axes(axis, x.ndim)
    dt = _sum_dtype(x, dtype)
    if dt.kind in "fc" and x.dtype.kind in "fc" and (dt.kind == "c" or x.dtype.kind == "f"):
        return R.reduce_sum(B.cast(x, dt), ax, keepdims=keepdims)
    return B.wrap(np.sum(B.values(x), axis=ax, dtype=dt, keepdims=keepdims))


@_export
def prod(x, /, *, axis=None, dtype=None, keepdims=False):
    x = B.as_tensor(x, op="prod")
    ax = _axes(axis, x.ndim)
    dt = _sum_dtype(x, dtype)
    if dt.kind == "f" and x.dtype.kind == "f":
        x = B.cast(x, dt)
        if x.size == 0 or ax == ():
            return B.wrap(np.prod(B.values(x), axis=ax, keepdims=keepdims)) if x.size == 0 \
                else x
        return R.reduce_prod(x, ax, keepdims=keepdims)
    with np.errstate(all="ignore"):
        return B.wrap(np.prod(B.values(x), axis=ax, dtype=dt, keepdims=keepdims))


def _extremum(x, axis, keepdims, is_max):
    op = "max" if is_max else "min"
    x = B.as_tensor(x, op=op)
    ax = _axes(axis, x.ndim)
    if x.size == 0:
        raise ValueError("%s: zero-size array has no %simum" % (op, op))
    if x.dtype.kind == "f" and ax != ():
        v = B.values(x)
        if np.isnan(v).any():
            # NaN propagates (tg's reductions would pick a number); values from NumPy,
            # gradient routed to the NaN-free positions is meaningless: keep NumPy's
            return B.wrap((np.max if is_max else np.min)(v, axis=ax, keepdims=keepdims))
        return (R.reduce_max if is_max else R.reduce_min)(x, ax, keepdims=keepdims)
    if ax == ():
        return x
    return B.wrap((np.max if is_max else np.min)(B.values(x), axis=ax, keepdims=keepdims))


@_export
def max(x, /, *, axis=None, keepdims=False):
    return _extremum(x, axis, keepdims, True)


@_export
def min(x, /, *, axis=None, keepdims=False):
    return _extremum(x, axis, keepdims, False)


def _count(x, ax):
    if ax is None:
        return x.size
    ax = ax if isinstance(ax, tuple) else (ax,)
    return math.prod(x.shape[a] for a in ax)


@_export
def mean(x, /, *, axis=None, keepdims=False, dtype=None):
    x = B.as_tensor(x, op="mean")
    if x.dtype.kind not in "fc":
        x = B.cast(x, B.DEFAULT_FLOAT) if dtype is None else B.cast(x, dtype)
    elif dtype is not None:
        x = B.cast(x, dtype)
    ax = _axes(axis, x.ndim)
    n = _count(x, ax)
    if n == 0:
        with np.errstate(all="ignore"):
            return B.wrap(np.mean(B.values(x), axis=ax, keepdims=keepdims))
    return E.divide(R.reduce_sum(x, ax, keepdims=keepdims), B.wrap(np.asarray(n, x.dtype)))


@_export
def var(x, /, *, axis=None, correction=0.0, keepdims=False, ddof=None):
    x = B.as_tensor(x, op="var")
    if x.dtype.kind != "f":
        x = B.cast(x, B.DEFAULT_FLOAT)
    if ddof is not None:
        correction = ddof
    ax = _axes(axis, x.ndim)
    n = _count(x, ax)
    if n - correction <= 0 or n == 0:
        with np.errstate(all="ignore"):
            return B.wrap(np.var(B.values(x), axis=ax, ddof=correction, keepdims=keepdims))
    m = R.reduce_sum(x, ax, keepdims=True)
    d = E.subtract(x, E.divide(m, B.wrap(np.asarray(n, x.dtype))))
    s = _sum_of_squares(d, ax, keepdims)
    return E.divide(s, B.wrap(np.asarray(n - correction, x.dtype)))


def _sum_of_squares(d, ax, keepdims):
    """sum(d * d) over ``ax`` as one einsum (a dot product, differentiable): square()
    then a sum would allocate a second temporary of d's size, and at 10^5 elements
    that freed pair is what makes glibc trim and re-fault the heap on every call
    (~10x np.var's time; one temporary, as np.var has, stays at ~1.1x)."""
    if d.ndim > 26:
        return R.reduce_sum(E.square(d), ax, keepdims=keepdims)
    red = set(range(d.ndim)) if ax is None else set(ax if isinstance(ax, tuple) else (ax,))
    sub = "abcdefghijklmnopqrstuvwxyz"[:d.ndim]
    out = "".join(c for i, c in enumerate(sub) if i not in red)
    s = L.einsum("%s,%s->%s" % (sub, sub, out), d, d)
    if keepdims:
        s = S.reshape(s, tuple(1 if i in red else k for i, k in enumerate(d.shape)))
    return s


@_export
def std(x, /, *, axis=None, correction=0.0, keepdims=False, ddof=None):
    return E.sqrt(var(x, axis=axis, correction=correction, keepdims=keepdims, ddof=ddof))


def _cumulative(name, tape_op, np_op, fill, x, axis, dtype, include_initial):
    """cumulative_sum / cumulative_prod: floats go through the differentiable op, other
    dtypes through NumPy; ``include_initial`` prepends the identity (``fill``) slice."""
    x = B.as_tensor(x, op=name)
    if axis is None:
        if x.ndim > 1:
            raise ValueError(f"{name}: axis is required for rank > 1")
        axis = 0
    if x.ndim == 0:
        raise ValueError(f"{name}: needs rank >= 1")
    axis = _norm_axis(axis, x.ndim, name)
    dt = _sum_dtype(x, dtype)
    shape = list(x.shape)
    shape[axis] = 1
    if x.dtype.kind in "fc" and dt.kind in "fc" and (dt.kind == "c" or x.dtype.kind == "f"):
        out = tape_op(B.cast(x, dt), axis) if x.shape[axis] else B.cast(x, dt)
        if include_initial:
            out = S.concat([B.wrap(fill(shape, dt)), out], axis)
        return out
    # integer products overflow as NumPy's do (wrap around), without a warning
    with np.errstate(all="ignore"):
        v = np_op(B.values(x), axis=axis, dtype=dt)
    if include_initial:
        v = np.concatenate([fill(shape, dt), v], axis=axis)
    return B.wrap(v)


@_export
def cumulative_sum(x, /, *, axis=None, dtype=None, include_initial=False):
    return _cumulative("cumulative_sum", C.cumsum, np.cumsum, np.zeros,
                       x, axis, dtype, include_initial)


@_export
def cumulative_prod(x, /, *, axis=None, dtype=None, include_initial=False):
    return _cumulative("cumulative_prod", C.cumprod, np.cumprod, np.ones,
                       x, axis, dtype, include_initial)


@_export
def all(x, /, *, axis=None, keepdims=False):
    x = B.as_tensor(x, op="all")
    return B.wrap(np.all(B.values(x), axis=_axes(axis, x.ndim), keepdims=keepdims))


@_export
def any(x, /, *, axis=None, keepdims=False):
    x = B.as_tensor(x, op="any")
    return B.wrap(np.any(B.values(x), axis=_axes(axis, x.ndim), keepdims=keepdims))


@_export
def diff(x, /, *, axis=-1, n=1, prepend=None, append=None):
    x = B.as_tensor(x, op="diff")
    if x.ndim == 0:
        raise ValueError("diff: needs rank >= 1")
    axis = _norm_axis(axis, x.ndim, "diff")
    parts = [B.as_tensor(p, x.dtype, op="diff") for p in (prepend,) if p is not None]
    parts.append(x)
    parts += [B.as_tensor(p, x.dtype, op="diff") for p in (append,) if p is not None]
    if len(parts) > 1:
        x = concat(parts, axis=axis)
    for _ in range(n):
        m = x.shape[axis]
        lead = (slice(None),) * axis
        hi = I._getitem(x, key=lead + (slice(1, m),))
        lo = I._getitem(x, key=lead + (slice(0, builtins.max(m - 1, 0)),))
        if x.dtype.kind == "b":
            x = B.wrap(np.not_equal(B.values(hi), B.values(lo)))
        elif x.dtype.kind == "f":
            x = E.subtract(hi, lo)
        else:
            with np.errstate(all="ignore"):
                x = B.wrap(np.subtract(B.values(hi), B.values(lo)))
    return x
