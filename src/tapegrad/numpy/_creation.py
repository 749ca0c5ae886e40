"""Creation functions of the array API standard (asarray, zeros, arange, eye, tril,
meshgrid, ...) and the CPU device object.

Floating inputs run tapegrad ops, so results are differentiable; integer / bool ones
(no derivative) may run NumPy directly.
"""

import builtins
import operator

import numpy as np

from tapegrad import _core
from tapegrad.numpy import _base as B
from tapegrad.ops import elementwise as E

__all__, _export = B.exporter()


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
    # operator.index, as NumPy: int(2.5) would make a shape of 2 silently
    if isinstance(shape, (int, np.integer)):
        return (operator.index(shape),)
    try:
        dims = tuple(operator.index(d) for d in shape)
    except TypeError:
        raise TypeError("shape must be an int or a sequence of ints, got %r" % (shape,)) \
            from None
    return dims


def _new_shape(shape):
    # the shape of a new array: no -1 (reshape's _shape allows it)
    dims = _shape(shape)
    if any(d < 0 for d in dims):
        raise ValueError("negative dimensions are not allowed, got shape %r" % (dims,))
    return dims


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
    return B.wrap(np.zeros(_new_shape(shape), _creation_dtype(dtype)))


@_export
def ones(shape, *, dtype=None, device=None):
    _check_device(device)
    return B.wrap(np.ones(_new_shape(shape), _creation_dtype(dtype)))


@_export
def empty(shape, *, dtype=None, device=None):
    return zeros(shape, dtype=dtype, device=device)


@_export
def full(shape, fill_value, *, dtype=None, device=None):
    _check_device(device)
    if isinstance(fill_value, B.Tensor):
        fill_value = fill_value.numpy().item()
    dt = _creation_dtype(dtype, fill_value)
    return B.wrap(np.full(_new_shape(shape), fill_value, dtype=dt))


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
    if start is None:
        # arange(None) swapped to arange(0, None) would be an empty range, not an error
        raise TypeError("arange: start must be a real number, got None")
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
