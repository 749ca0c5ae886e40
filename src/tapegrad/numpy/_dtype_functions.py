"""Data type functions of the array API standard: astype, can_cast, result_type,
finfo, iinfo, isdtype.

Floating inputs run tapegrad ops, so results are differentiable; integer / bool ones
(no derivative) may run NumPy directly.
"""

import builtins
from collections import namedtuple

import numpy as np

from tapegrad.numpy import _base as B
from tapegrad.ops import elementwise as E

__all__, _export = B.exporter()


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
    if src.kind == "b":
        # bool -> any numeric type is a safe cast (False -> 0, True -> 1), as in NumPy
        # and PyTorch; the standard leaves cross-kind casts to the library
        return True
    if to.kind == "b":
        return False
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
