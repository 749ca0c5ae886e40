"""Creation, manipulation, indexing, reductions, searching, sorting, sets and utility
functions of the array API standard, plus common NumPy spellings.

Floating inputs run tapegrad ops, so results are differentiable; integer / bool ones
(no derivative) may run NumPy directly.
"""

import builtins
import math
from collections import namedtuple

import numpy as np

from tapegrad import _core
from tapegrad.numpy import _base as B
from tapegrad.ops import cumulative as C
from tapegrad.ops import elementwise as E
from tapegrad.ops import linalg as L
from tapegrad.ops import reductions as R
from tapegrad.ops import shape as S
from tapegrad.ops import sorting as SO

__all__ = []


def _export(fn):
    __all__.append(fn.__name__)
    return fn


def _check_device(device):
    if device not in (None, "cpu", "/cpu:0", CPU):
        raise ValueError("tapegrad.numpy: unsupported device %r (only 'cpu')" % (device,))


class _Device:
    """The CPU device object (array.device, __array_namespace_info__().devices())."""

    def __eq__(self, other):
        return isinstance(other, _Device) or other in ("cpu", "/cpu:0")

    def __hash__(self):
        return hash("/cpu:0")

    def __repr__(self):
        return "Device('cpu')"


CPU = _Device()


# ---------------------------------------------------------------------------
# creation

@_export
def asarray(obj, /, *, dtype=None, device=None, copy=None):
    """obj as a tensor; tensors pass through (same object when no cast is needed)."""
    _check_device(device)
    if dtype is not None:
        dtype = B.check_dtype(dtype, "asarray")
    if isinstance(obj, B.Tensor):
        if copy is False and dtype is not None and dtype != obj.dtype:
            raise ValueError("asarray: copy=False but a cast to %s is needed" % dtype)
        return B.cast(obj, dtype) if dtype is not None else obj
    if copy is False and not isinstance(obj, np.ndarray) and not hasattr(obj, "__dlpack__"):
        raise ValueError("asarray: copy=False cannot wrap a %s without copying"
                         % type(obj).__name__)
    if hasattr(obj, "__dlpack__") and not isinstance(obj, np.ndarray):
        from tapegrad.interop import from_dlpack

        t = from_dlpack(obj)
        return B.cast(t, dtype) if dtype is not None else t
    if isinstance(obj, (builtins.bool, int, float)) and dtype is not None:
        if np.dtype(dtype).kind in "iu" and isinstance(obj, float):
            raise TypeError("asarray: a Python float cannot become %s" % dtype)
        if np.dtype(dtype).kind in "iu" and isinstance(obj, int) and not \
                np.iinfo(dtype).min <= obj <= np.iinfo(dtype).max:
            raise OverflowError("asarray: %d is out of range for %s" % (obj, dtype))
    if isinstance(obj, np.ndarray):
        a = np.array(obj, dtype=dtype, copy=True if copy is None else copy)
        B.check_dtype(a.dtype, "asarray")
        a.flags.writeable = False
        return _core.wrap(a)
    return B.as_tensor(obj, dtype, op="asarray")


def _shape(shape):
    if isinstance(shape, (int, np.integer)):
        return (int(shape),)
    return tuple(int(d) for d in shape)


def _creation_dtype(dtype, value=None):
    if dtype is not None:
        return B.check_dtype(dtype, "creation")
    if isinstance(value, builtins.bool):
        return np.dtype(bool)
    if isinstance(value, int):
        return B.DEFAULT_INT
    if isinstance(value, complex):
        return B.DEFAULT_COMPLEX
    return B.DEFAULT_FLOAT


@_export
def zeros(shape, *, dtype=None, device=None):
    _check_device(device)
    return B.wrap(np.zeros(_shape(shape), _creation_dtype(dtype)))


@_export
def ones(shape, *, dtype=None, device=None):
    _check_device(device)
    return B.wrap(np.ones(_shape(shape), _creation_dtype(dtype)))


@_export
def empty(shape, *, dtype=None, device=None):
    return zeros(shape, dtype=dtype, device=device)


@_export
def full(shape, fill_value, *, dtype=None, device=None):
    _check_device(device)
    if isinstance(fill_value, B.Tensor):
        fill_value = fill_value.numpy().item()
    dt = _creation_dtype(dtype, fill_value)
    return B.wrap(np.full(_shape(shape), fill_value, dtype=dt))


def _like_dtype(x, dtype):
    return B.check_dtype(dtype, "like") if dtype is not None else x.dtype


@_export
def zeros_like(x, /, *, dtype=None, device=None):
    x = B.as_tensor(x, op="zeros_like")
    return B.wrap(np.zeros(x.shape, _like_dtype(x, dtype)))


@_export
def ones_like(x, /, *, dtype=None, device=None):
    x = B.as_tensor(x, op="ones_like")
    return B.wrap(np.ones(x.shape, _like_dtype(x, dtype)))


@_export
def empty_like(x, /, *, dtype=None, device=None):
    return zeros_like(x, dtype=dtype, device=device)


@_export
def full_like(x, /, fill_value, *, dtype=None, device=None):
    x = B.as_tensor(x, op="full_like")
    return B.wrap(np.full(x.shape, fill_value, dtype=_like_dtype(x, dtype)))


@_export
def arange(start, /, stop=None, step=1, *, dtype=None, device=None):
    _check_device(device)
    if stop is None:
        start, stop = 0, start
    if dtype is None:
        dtype = B.DEFAULT_FLOAT if builtins.any(isinstance(v, float) for v in (start, stop, step)) \
            else B.DEFAULT_INT
    return B.wrap(np.arange(start, stop, step, dtype=B.check_dtype(dtype, "arange")))


@_export
def linspace(start, stop, /, num, *, dtype=None, device=None, endpoint=True):
    _check_device(device)
    if dtype is not None:
        dt = B.check_dtype(dtype, "linspace")
    else:
        dt = B.DEFAULT_COMPLEX if builtins.any(isinstance(v, complex) for v in (start, stop)) \
            else B.DEFAULT_FLOAT
    return B.wrap(np.linspace(start, stop, num, endpoint=endpoint, dtype=dt))


@_export
def eye(n_rows, n_cols=None, /, *, k=0, dtype=None, device=None):
    _check_device(device)
    return B.wrap(np.eye(n_rows, n_cols, k=k, dtype=_creation_dtype(dtype)))


def _tri(x, k, upper):
    x = B.as_tensor(x, op="triu" if upper else "tril")
    if x.ndim < 2:
        raise ValueError("tri%s: needs rank >= 2, got shape %s" % ("u" if upper else "l",
                                                                   x.shape))
    n, m = x.shape[-2:]
    mask = np.tri(n, m, k - 1 if upper else k, dtype=bool)
    if upper:
        mask = ~mask
    if x.dtype.kind not in "fc":
        return B.wrap(np.where(mask, B.values(x), 0).astype(x.dtype))
    return E.where(B.wrap(np.broadcast_to(mask, x.shape)), x, E.zeros_like(x))


@_export
def tril(x, /, *, k=0):
    return _tri(x, k, False)


@_export
def triu(x, /, *, k=0):
    return _tri(x, k, True)


@_export
def meshgrid(*arrays, indexing="xy"):
    from tapegrad.ops.manip import meshgrid as _mg

    arrays = [B.as_tensor(a, op="meshgrid") for a in arrays]
    if not arrays:
        return []
    dt = B.result_type(*arrays)
    return list(_mg(*[B.cast(a, dt) for a in arrays], indexing=indexing))


# ---------------------------------------------------------------------------
# data types

@_export
def astype(x, dtype, /, *, copy=True, device=None):
    x = B.as_tensor(x, op="astype")
    dtype = B.check_dtype(dtype, "astype")
    if x.dtype == dtype:
        return x
    if x.dtype.kind in "fc" and dtype.kind in "fc":
        return E.cast(x, dtype)  # differentiable; complex -> real keeps the real part
    with np.errstate(all="ignore"):
        return B.wrap(B.values(x).astype(dtype))


@_export
def can_cast(from_, to, /):
    src = from_.dtype if hasattr(from_, "dtype") and not isinstance(from_, np.dtype) else from_
    src, to = np.dtype(src), np.dtype(to)
    if src.kind == "b" or to.kind == "b":
        return src == to or src.kind == to.kind
    if src.kind in "fc" and to.kind in "iu":
        return False
    return np.can_cast(src, to, casting="safe") if not (src.kind in "iu" and to.kind == "f") \
        else np.promote_types(src, to) == to


@_export
def result_type(*arrays_and_dtypes):
    return B.result_type(*arrays_and_dtypes)


class finfo_object(namedtuple("finfo_object", ["bits", "eps", "max", "min",
                                                "smallest_normal", "dtype"])):
    """The standard's finfo: Python floats, not NumPy scalars."""


@_export
def finfo(type, /):
    dt = type.dtype if hasattr(type, "dtype") and not isinstance(type, np.dtype) else type
    fi = np.finfo(np.dtype(dt))
    return finfo_object(int(fi.bits), float(fi.eps), float(fi.max), float(fi.min),
                        float(fi.smallest_normal), fi.dtype)


@_export
def iinfo(type, /):
    dt = type.dtype if hasattr(type, "dtype") and not isinstance(type, np.dtype) else type
    return np.iinfo(np.dtype(dt))


_KINDS = {"bool": "b", "signed integer": "i", "unsigned integer": "u", "integral": "iu",
          "real floating": "f", "complex floating": "c", "numeric": "iufc"}


@_export
def isdtype(dtype, kind):
    dtype = np.dtype(dtype)
    if isinstance(kind, tuple):
        return builtins.any(isdtype(dtype, k) for k in kind)
    if isinstance(kind, str):
        if kind not in _KINDS:
            raise ValueError("isdtype: unknown kind %r" % kind)
        return dtype.kind in _KINDS[kind]
    return dtype == np.dtype(kind)


# ---------------------------------------------------------------------------
# manipulation

def _norm_axis(axis, ndim, op):
    if not -ndim <= axis < ndim if ndim else axis not in (0, -1):
        raise IndexError("%s: axis %d is out of range for rank %d" % (op, axis, ndim))
    return axis % builtins.max(ndim, 1)


@_export
def broadcast_arrays(*arrays):
    arrays = [B.as_tensor(a, op="broadcast_arrays") for a in arrays]
    shape = np.broadcast_shapes(*[a.shape for a in arrays])
    return [a if a.shape == shape else S.broadcast_to(a, shape) for a in arrays]


@_export
def broadcast_to(x, /, shape):
    x = B.as_tensor(x, op="broadcast_to")
    shape = _shape(shape)
    if np.broadcast_shapes(x.shape, shape) != shape:
        raise ValueError("broadcast_to: cannot broadcast %s to %s" % (x.shape, shape))
    return x if x.shape == shape else S.broadcast_to(x, shape)


@_export
def concat(arrays, /, *, axis=0):
    arrays = B.promote(*arrays, op="concat")
    if axis is None:
        arrays = [S.reshape(a, (-1,)) for a in arrays]
        axis = 0
    if len(arrays) == 1:
        return arrays[0]
    return S.concat(arrays, axis)


@_export
def expand_dims(x, /, axis=0):
    x = B.as_tensor(x, op="expand_dims")
    if not -x.ndim - 1 <= axis <= x.ndim:
        raise IndexError("expand_dims: axis %d out of range for rank %d" % (axis, x.ndim))
    return S.expand_dims(x, axis)


@_export
def flip(x, /, *, axis=None):
    from tapegrad.ops.manip import reverse

    x = B.as_tensor(x, op="flip")
    if axis is None:
        axis = list(range(x.ndim))
    elif not isinstance(axis, (list, tuple)):
        axis = [axis]
    for a in axis:
        _norm_axis(a, x.ndim, "flip")
    return reverse(x, list(axis))


@_export
def moveaxis(x, source, destination, /):
    x = B.as_tensor(x, op="moveaxis")
    src = source if isinstance(source, (list, tuple)) else [source]
    dst = destination if isinstance(destination, (list, tuple)) else [destination]
    if len(src) != len(dst):
        raise ValueError("moveaxis: source and destination differ in length")
    perm = list(range(x.ndim))
    src = [_norm_axis(a, x.ndim, "moveaxis") for a in src]
    dst = [_norm_axis(a, x.ndim, "moveaxis") for a in dst]
    if len(set(src)) != len(src) or len(set(dst)) != len(dst):
        raise ValueError("moveaxis: repeated axis in source %r or destination %r"
                         % (source, destination))
    rest = [a for a in perm if a not in src]
    order = [None] * x.ndim
    for s, d in zip(src, dst):
        order[d] = s
    it = iter(rest)
    order = [next(it) if o is None else o for o in order]
    return S.transpose(x, order) if order != perm else x


@_export
def permute_dims(x, /, axes):
    x = B.as_tensor(x, op="permute_dims")
    return S.transpose(x, [_norm_axis(int(a), x.ndim, "permute_dims") for a in axes])


@_export
def reshape(x, /, shape, *, copy=None):
    x = B.as_tensor(x, op="reshape")
    return S.reshape(x, _shape(shape))


@_export
def roll(x, /, shift, *, axis=None):
    from tapegrad.ops.manip import roll as _roll

    x = B.as_tensor(x, op="roll")
    if axis is None:
        return S.reshape(_roll(S.reshape(x, (-1,)), shift, 0), x.shape)
    return _roll(x, shift, axis)


@_export
def squeeze(x, /, axis):
    x = B.as_tensor(x, op="squeeze")
    axes = axis if isinstance(axis, (list, tuple)) else (axis,)
    return S.squeeze(x, [_norm_axis(a, x.ndim, "squeeze") for a in axes])


@_export
def stack(arrays, /, *, axis=0):
    arrays = B.promote(*arrays, op="stack")
    return S.stack(arrays, axis)


@_export
def tile(x, repetitions, /):
    x = B.as_tensor(x, op="tile")
    reps = tuple(repetitions)
    nd = builtins.max(x.ndim, len(reps))
    x = S.reshape(x, (1,) * (nd - x.ndim) + x.shape) if x.ndim < nd else x
    return S.tile(x, (1,) * (nd - len(reps)) + reps)


@_export
def unstack(x, /, *, axis=0):
    x = B.as_tensor(x, op="unstack")
    return tuple(S.unstack(x, axis=axis))


@_export
def repeat(x, repeats, /, *, axis=None):
    from tapegrad.ops.manip import repeat as _repeat

    x = B.as_tensor(x, op="repeat")
    if isinstance(repeats, B.Tensor):
        repeats = repeats.numpy()
    return _repeat(x, repeats, axis)


# ---------------------------------------------------------------------------
# indexing

@_export
def take(x, indices, /, *, axis=None):
    x = B.as_tensor(x, op="take")
    if axis is None:
        if x.ndim != 1:
            raise ValueError("take: axis is required for arrays of rank != 1")
        axis = 0
    return S.gather(x, B.as_tensor(indices, op="take"), axis=axis)


@_export
def take_along_axis(x, indices, /, *, axis=-1):
    return SO.take_along_axis(B.as_tensor(x, op="take_along_axis"),
                              B.as_tensor(indices, op="take_along_axis"), axis)


# ---------------------------------------------------------------------------
# linear algebra (the main-namespace part; the linalg extension is separate)

@_export
def matmul(x1, x2, /):
    a, b = B.promote(x1, x2, op="matmul")
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError("matmul: operands must have rank >= 1")
    if a.dtype.kind == "b":
        raise TypeError("matmul: bool operands are not supported")
    return L.matmul(a, b)


@_export
def matrix_transpose(x, /):
    return S.matrix_transpose(B.as_tensor(x, op="matrix_transpose"))


@_export
def tensordot(x1, x2, /, *, axes=2):
    a, b = B.promote(x1, x2, op="tensordot")
    return L.tensordot(a, b, axes)


@_export
def vecdot(x1, x2, /, *, axis=-1):
    a, b = B.promote(x1, x2, op="vecdot")
    shape = np.broadcast_shapes(a.shape, b.shape)
    n = len(shape)
    if not -n <= axis < n or a.shape[axis] != b.shape[axis]:
        raise ValueError("vecdot: axis %d must have the same size in %s and %s"
                         % (axis, a.shape, b.shape))
    if a.dtype.kind not in "fc":
        with np.errstate(all="ignore"):
            return B.wrap(np.sum(B.values(a) * B.values(b), axis=axis, dtype=a.dtype))
    if a.dtype.kind == "c":
        # the standard's vecdot conjugates the first operand: sum(conj(x1) * x2)
        from tapegrad.ops.complex import conj

        a = conj(a)
    return sum(E.multiply(a, b), axis=axis)


@_export
def einsum(subscripts, *operands):
    ops = B.promote(*operands, op="einsum")
    return L.einsum(subscripts, *ops)


# ---------------------------------------------------------------------------
# reductions and statistics

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
    s = R.reduce_sum(E.square(d), ax, keepdims=keepdims)
    return E.divide(s, B.wrap(np.asarray(n - correction, x.dtype)))


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
        hi = S._getitem(x, key=lead + (slice(1, m),))
        lo = S._getitem(x, key=lead + (slice(0, builtins.max(m - 1, 0)),))
        if x.dtype.kind == "b":
            x = B.wrap(np.not_equal(B.values(hi), B.values(lo)))
        elif x.dtype.kind == "f":
            x = E.subtract(hi, lo)
        else:
            with np.errstate(all="ignore"):
                x = B.wrap(np.subtract(B.values(hi), B.values(lo)))
    return x


# ---------------------------------------------------------------------------
# searching

def _arg(x, axis, keepdims, is_max):
    x = B.as_tensor(x, op="argmax" if is_max else "argmin")
    if x.size == 0:
        raise ValueError("argmax/argmin of an empty array")
    fn = np.argmax if is_max else np.argmin
    return B.wrap(np.asarray(fn(B.values(x), axis=axis, keepdims=keepdims), B.DEFAULT_INDEX))


@_export
def argmax(x, /, *, axis=None, keepdims=False):
    return _arg(x, axis, keepdims, True)


@_export
def argmin(x, /, *, axis=None, keepdims=False):
    return _arg(x, axis, keepdims, False)


@_export
def count_nonzero(x, /, *, axis=None, keepdims=False):
    x = B.as_tensor(x, op="count_nonzero")
    out = np.count_nonzero(B.values(x), axis=_axes(axis, x.ndim), keepdims=keepdims)
    return B.wrap(np.asarray(out, B.DEFAULT_INDEX))


@_export
def nonzero(x, /):
    x = B.as_tensor(x, op="nonzero")
    if x.ndim == 0:
        raise ValueError("nonzero: 0-d arrays are not supported (the standard forbids them)")
    return tuple(B.wrap(i.astype(B.DEFAULT_INDEX)) for i in np.nonzero(B.values(x)))


@_export
def searchsorted(x1, x2, /, *, side="left", sorter=None):
    a = B.as_tensor(x1, op="searchsorted")
    v = B.as_tensor(x2, op="searchsorted") if not isinstance(x2, (int, float)) else x2
    sv = None if sorter is None else B.values(B.as_tensor(sorter, op="searchsorted"))
    out = np.searchsorted(B.values(a), v if isinstance(v, (int, float)) else B.values(v),
                          side=side, sorter=sv)
    return B.wrap(np.asarray(out, B.DEFAULT_INDEX))


@_export
def where(condition, x1=None, x2=None, /):
    if x1 is None and x2 is None:
        return nonzero(condition)
    c = B.as_tensor(condition, op="where")
    if c.dtype.kind != "b":
        raise TypeError("where: condition must be bool, got %s" % c.dtype)
    a, b = B.promote(x1, x2, op="where")
    shape = np.broadcast_shapes(c.shape, a.shape, b.shape)
    if a.dtype.kind in "fc":
        c, a, b = (t if t.shape == shape else S.broadcast_to(t, shape) for t in (c, a, b))
        return E.where(c, a, b)
    return B.wrap(np.where(B.values(c), B.values(a), B.values(b)))


# ---------------------------------------------------------------------------
# sorting and sets

@_export
def sort(x, /, *, axis=-1, descending=False, stable=True):
    x = B.as_tensor(x, op="sort")
    if x.ndim == 0:
        raise ValueError("sort: needs rank >= 1")
    if x.dtype.kind == "b":
        v = np.sort(B.values(x), axis=axis)
        return B.wrap(np.flip(v, axis) if descending else v)
    return SO.sort(x, axis, "DESCENDING" if descending else "ASCENDING")


@_export
def argsort(x, /, *, axis=-1, descending=False, stable=True):
    x = B.as_tensor(x, op="argsort")
    if x.ndim == 0:
        raise ValueError("argsort: needs rank >= 1")
    v = B.values(x)
    axis = _norm_axis(axis, x.ndim, "argsort")
    return B.wrap(SO._argsort_np(v, axis, descending).astype(B.DEFAULT_INDEX))


UniqueAllResult = namedtuple("UniqueAllResult", ["values", "indices", "inverse_indices",
                                                 "counts"])
UniqueCountsResult = namedtuple("UniqueCountsResult", ["values", "counts"])
UniqueInverseResult = namedtuple("UniqueInverseResult", ["values", "inverse_indices"])


def _unique(x):
    x = B.as_tensor(x, op="unique")
    v = B.values(x)
    flat = v.reshape(-1)
    vals, idx, inv, counts = np.unique(flat, return_index=True, return_inverse=True,
                                       return_counts=True, equal_nan=False)
    return x, vals, idx, inv.reshape(v.shape), counts


@_export
def unique_all(x, /):
    x, vals, idx, inv, counts = _unique(x)
    ix = B.DEFAULT_INDEX
    return UniqueAllResult(B.wrap(vals), B.wrap(idx.astype(ix)), B.wrap(inv.astype(ix)),
                           B.wrap(counts.astype(ix)))


@_export
def unique_counts(x, /):
    x, vals, idx, inv, counts = _unique(x)
    return UniqueCountsResult(B.wrap(vals), B.wrap(counts.astype(B.DEFAULT_INDEX)))


@_export
def unique_inverse(x, /):
    x, vals, idx, inv, counts = _unique(x)
    return UniqueInverseResult(B.wrap(vals), B.wrap(inv.astype(B.DEFAULT_INDEX)))


@_export
def unique_values(x, /):
    return B.wrap(_unique(x)[1])


# ---------------------------------------------------------------------------
# NumPy spellings beyond the standard (what autograd.numpy code writes)

@_export
def array(obj, dtype=None, copy=True):
    return asarray(obj, dtype=dtype)


@_export
def concatenate(arrays, axis=0):
    return concat(list(arrays), axis=axis)


@_export
def dot(a, b):
    a, b = B.promote(a, b, op="dot")
    if a.ndim == 0 or b.ndim == 0:
        return E.multiply(a, b)
    if b.ndim <= 2:
        return L.matmul(a, b)
    return L.tensordot(a, b, [[a.ndim - 1], [b.ndim - 2]])


@_export
def outer(a, b):
    a, b = B.promote(a, b, op="outer")
    return E.multiply(S.reshape(a, (-1, 1)), S.reshape(b, (1, -1)))


@_export
def inner(a, b):
    a, b = B.promote(a, b, op="inner")
    if a.ndim == 0 or b.ndim == 0:
        return E.multiply(a, b)
    return L.tensordot(a, b, [[a.ndim - 1], [b.ndim - 1]])


@_export
def transpose(a, axes=None):
    a = B.as_tensor(a, op="transpose")
    return S.transpose(a, axes)


@_export
def swapaxes(a, axis1, axis2):
    a = B.as_tensor(a, op="swapaxes")
    perm = list(range(a.ndim))
    perm[axis1], perm[axis2] = perm[axis2], perm[axis1]
    return S.transpose(a, perm)


@_export
def ravel(a):
    return S.reshape(B.as_tensor(a, op="ravel"), (-1,))


@_export
def atleast_1d(a):
    a = B.as_tensor(a, op="atleast_1d")
    return S.reshape(a, (1,)) if a.ndim == 0 else a


@_export
def atleast_2d(a):
    a = B.as_tensor(a, op="atleast_2d")
    return S.reshape(a, (1,) * (2 - a.ndim) + a.shape) if a.ndim < 2 else a


@_export
def vstack(arrays):
    return concat([atleast_2d(a) for a in arrays], axis=0)


@_export
def hstack(arrays):
    arrays = [atleast_1d(a) for a in arrays]
    return concat(arrays, axis=0 if arrays[0].ndim == 1 else 1)


@_export
def trace(a, offset=0, axis1=0, axis2=1):
    a = B.as_tensor(a, op="trace")
    n, m = a.shape[axis1], a.shape[axis2]
    mask = np.eye(n, m, k=offset, dtype=a.dtype)
    shape = [1] * a.ndim
    shape[axis1], shape[axis2] = n, m
    return R.reduce_sum(E.multiply(a, B.wrap(mask.reshape(shape))), [axis1, axis2])


@_export
def diag(v, k=0):
    v = B.as_tensor(v, op="diag")
    if v.ndim == 1:
        n = v.shape[0] + builtins.abs(k)
        rows = np.arange(v.shape[0]) + builtins.max(-k, 0)
        cols = np.arange(v.shape[0]) + builtins.max(k, 0)
        from tapegrad.ops.scatter import scatter_nd

        return scatter_nd(np.stack([rows, cols], 1), v, [n, n])
    if v.ndim == 2:
        idx = np.nonzero(np.eye(*v.shape, k=k, dtype=bool))
        from tapegrad.ops.scatter import gather_nd

        return gather_nd(v, np.stack(idx, 1))
    raise ValueError("diag: input must be 1-D or 2-D")


@_export
def logsumexp(a, axis=None, keepdims=False):
    return R.reduce_logsumexp(B.as_tensor(a, op="logsumexp"), axis, keepdims=keepdims)


@_export
def cumsum(a, axis=None):
    a = B.as_tensor(a, op="cumsum")
    if axis is None:
        a, axis = S.reshape(a, (-1,)), 0
    return cumulative_sum(a, axis=axis, dtype=a.dtype if a.dtype.kind == "f" else None)


@_export
def cumprod(a, axis=None):
    a = B.as_tensor(a, op="cumprod")
    if axis is None:
        a, axis = S.reshape(a, (-1,)), 0
    return cumulative_prod(a, axis=axis, dtype=a.dtype if a.dtype.kind == "f" else None)


@_export
def allclose(a, b, rtol=1e-05, atol=1e-08, equal_nan=False):
    return builtins.bool(np.allclose(np.asarray(a), np.asarray(b), rtol, atol, equal_nan))


@_export
def shape(a):
    return tuple(B.as_tensor(a, op="shape").shape)


@_export
def ndim(a):
    return B.as_tensor(a, op="ndim").ndim


@_export
def size(a):
    return B.as_tensor(a, op="size").size


@_export
def average(a, axis=None, weights=None):
    if weights is None:
        return mean(a, axis=axis)
    a, w = B.promote(a, weights, op="average")
    return E.divide(R.reduce_sum(E.multiply(a, w), axis), R.reduce_sum(w, axis)
                    if w.shape == a.shape else R.reduce_sum(w))


amax = max
amin = min
__all__ += ["amax", "amin"]
