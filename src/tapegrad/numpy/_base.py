"""Shared machinery of tapegrad.numpy: conversion, dtype promotion (the array API's
rules, via NumPy 2's NEP 50 promotion), and the float-vs-integer dispatch.

Floating inputs go through tapegrad ops (differentiable); integer and bool inputs have
no derivative, so a function may compute them with NumPy directly and wrap the result.
"""

import builtins

import numpy as np

from tapegrad import _core
from tapegrad.ops import elementwise as E

Tensor = _core.Tensor

DEFAULT_FLOAT = np.dtype(np.float64)
DEFAULT_INT = np.dtype(np.int64)
DEFAULT_INDEX = np.dtype(np.int64)
DEFAULT_COMPLEX = np.dtype(np.complex128)

SUPPORTED = tuple(np.dtype(d) for d in (
    "bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
    "float32", "float64", "complex64", "complex128"))


def is_tensor(x):
    return isinstance(x, Tensor)


def dtype_of(x):
    return x.dtype if isinstance(x, (Tensor, _core.BaseVariable, np.ndarray)) else None


def check_dtype(dt, op):
    dt = np.dtype(dt)
    if not dt.isnative:
        # a byte-swapped dtype ('>f8' on little-endian) is the same data type; the array
        # is converted to native order where it becomes a tensor (as_tensor)
        dt = dt.newbyteorder("=")
    if dt not in SUPPORTED:
        raise TypeError("tapegrad.numpy.%s: dtype %s is not supported (supported: %s)"
                        % (op, dt, ", ".join(d.name for d in SUPPORTED)))
    return dt


def wrap(a):
    """An ndarray (or NumPy scalar) result as a constant tensor."""
    return _core.wrap(np.asarray(a))


def as_tensor(x, dtype=None, op="asarray"):
    """x as a Tensor (tensors pass through untouched, so the tape still sees them)."""
    if isinstance(x, Tensor):
        if dtype is not None and x.dtype != dtype:
            return cast(x, dtype)
        return x
    if isinstance(x, _core.BaseVariable):
        t = _core.convert(x, None, op)
        return cast(t, dtype) if dtype is not None and t.dtype != dtype else t
    if dtype is None:
        a = to_numpy_default(x)
    else:
        a = np.asarray(x, dtype=check_dtype(dtype, op))
    native = check_dtype(a.dtype, op)
    if a.dtype != native:
        # tensors hold native byte order (the kernels read raw buffers)
        a = a.astype(native)
    return _core.wrap(a)


def to_numpy_default(x):
    """NumPy's conversion with the namespace's default dtypes (float64, int64)."""
    if isinstance(x, builtins.bool):
        return np.asarray(x)
    if isinstance(x, int):
        return np.asarray(x, dtype=DEFAULT_INT)
    if isinstance(x, float):
        return np.asarray(x, dtype=DEFAULT_FLOAT)
    if isinstance(x, complex):
        return np.asarray(x, dtype=DEFAULT_COMPLEX)
    if isinstance(x, (list, tuple)):
        a = np.asarray([v.numpy() if isinstance(v, Tensor) else v for v in x]
                       if any(isinstance(v, Tensor) for v in x) else x)
    else:
        a = np.asarray(x)
    if a.dtype.kind == "O":
        raise TypeError("tapegrad.numpy: cannot convert %r to an array" % (type(x).__name__,))
    return a


def cast(x, dtype):
    dtype = np.dtype(dtype)
    if x.dtype == dtype:
        return x
    if x.dtype.kind in "fc" and dtype.kind in "fc":
        return E.cast(x, dtype)  # differentiable (complex -> real keeps the real part)
    return wrap(np.asarray(x.numpy()).astype(dtype))


def result_type(*args):
    """The array API's promotion: arrays and dtypes promote by the table; Python
    scalars are weak (they take the array's dtype)."""
    dts, scalars = [], []
    for a in args:
        if isinstance(a, (Tensor, _core.BaseVariable, np.ndarray)):
            dts.append(a.dtype)
        elif isinstance(a, (np.dtype, type)) or hasattr(a, "kind"):
            dts.append(np.dtype(a))
        elif isinstance(a, (builtins.bool, int, float, complex)):
            scalars.append(a)
        else:
            raise TypeError("result_type: %r is neither an array, a dtype nor a scalar"
                            % (a,))
    if not dts:
        if not scalars:
            raise ValueError("result_type: at least one array or dtype is required")
        return to_numpy_default(scalars[0]).dtype
    out = dts[0]
    for d in dts[1:]:
        if (d.kind == "b") != (out.kind == "b"):
            raise TypeError("tapegrad.numpy: cannot promote %s and %s" % (out, d))
        out = np.promote_types(out, d)
    for s in scalars:
        if isinstance(s, builtins.bool):
            continue
        if isinstance(s, int) and out.kind == "b":
            raise TypeError("tapegrad.numpy: cannot mix a Python int with a bool array")
        if isinstance(s, float) and out.kind in "biu":
            raise TypeError("tapegrad.numpy: cannot mix a Python float with an integer or "
                            "bool array (cast first)")
        if isinstance(s, complex) and out.kind in "biu":
            raise TypeError("tapegrad.numpy: cannot mix a Python complex with an integer "
                            "or bool array (cast first)")
        if isinstance(s, complex) and out.kind == "f":
            # a weak complex scalar keeps the array's precision: float32 -> complex64
            out = np.promote_types(out, np.complex64)
    return out


def promote(*xs, op="op"):
    """The operands as tensors of one promoted dtype (scalars take the array's)."""
    dt = result_type(*xs)
    out = []
    for x in xs:
        if isinstance(x, (Tensor, _core.BaseVariable)):
            out.append(cast(as_tensor(x, op=op), dt))
        else:
            out.append(_core.wrap(np.asarray(x, dtype=dt)))
    return out


def is_float(x):
    return x.dtype.kind == "f"


def is_inexact(x):
    """Floating or complex: the dtypes that carry a derivative."""
    return x.dtype.kind in "fc"


def values(x):
    return np.asarray(x.numpy())


def norm_axis_arg(axis, ndim):
    if axis is None:
        return None
    if isinstance(axis, (list, tuple)):
        return tuple(int(a) % builtins.max(ndim, 1) if ndim else 0 for a in axis)
    return int(axis)


def exporter():
    """(names, decorator) for a namespace module: its ``__all__`` and the decorator that
    adds a function's name to it."""
    names = []

    def export(fn):
        names.append(fn.__name__)
        return fn

    return names, export
