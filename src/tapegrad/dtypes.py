"""tapegrad's dtype objects: ``tg.float32`` and friends, and ``tg.as_dtype``.

A ``DType`` wraps a NumPy dtype and interoperates with it everywhere: NumPy accepts it
wherever a dtype is expected (``np.zeros(3, tg.float32)``, ``arr.astype(tg.int32)``),
``tensor.dtype == tg.float32`` holds (tensors report NumPy dtypes), and it hashes like
the NumPy dtype, so either finds the other in a dict.  It adds TensorFlow's properties:
``is_floating``, ``is_integer``, ``is_unsigned``, ``is_complex``, ``is_bool``,
``as_numpy_dtype``, ``base_dtype``, ``real_dtype``, ``name``, ``min``, ``max``,
``size``, ``is_compatible_with``.  ``tg.as_dtype(tensor.dtype).is_floating`` answers
the TF question for a tensor.  Any other attribute is the NumPy dtype's (``kind``,
``itemsize``, ``char``, ...).
"""

import numpy as np

__all__ = ["DType", "as_dtype", "float16", "float32", "float64", "int8", "int16", "int32",
           "int64", "uint8", "bool", "half", "double", "complex64", "complex128"]


class DType:
    """A dtype object with TensorFlow's properties over a NumPy dtype (see module doc)."""

    __slots__ = ("_np", "name", "kind", "itemsize")

    def __init__(self, np_dtype):
        np_dtype = np.dtype(np_dtype)
        object.__setattr__(self, "_np", np_dtype)
        object.__setattr__(self, "name", np_dtype.name)
        object.__setattr__(self, "kind", np_dtype.kind)
        object.__setattr__(self, "itemsize", np_dtype.itemsize)

    def __setattr__(self, attr, value):
        raise AttributeError("DType objects are immutable")

    @property
    def dtype(self):
        """The NumPy dtype (NumPy reads this attribute to accept a DType as a dtype)."""
        return self._np

    def __getattr__(self, attr):
        return getattr(object.__getattribute__(self, "_np"), attr)

    @property
    def as_numpy_dtype(self):
        return self._np.type

    @property
    def base_dtype(self):
        return self

    @property
    def real_dtype(self):
        if self.kind == "c":
            return as_dtype(np.finfo(self._np).dtype)
        return self

    @property
    def is_floating(self):
        return self.kind == "f"

    @property
    def is_integer(self):
        return self.kind in "iu"

    @property
    def is_unsigned(self):
        return self.kind in "ub"

    @property
    def is_complex(self):
        return self.kind == "c"

    @property
    def is_bool(self):
        return self.kind == "b"

    @property
    def is_numpy_compatible(self):
        return True

    @property
    def size(self):
        return self.itemsize

    @property
    def min(self):
        """The lowest finite value (False for bool)."""
        if self.kind == "b":
            return False
        if self.kind in "iu":
            return int(np.iinfo(self._np).min)
        if self.kind in "fc":
            return float(np.finfo(self._np).min)
        raise TypeError("DType %s has no min" % self.name)

    @property
    def max(self):
        """The largest finite value (True for bool)."""
        if self.kind == "b":
            return True
        if self.kind in "iu":
            return int(np.iinfo(self._np).max)
        if self.kind in "fc":
            return float(np.finfo(self._np).max)
        raise TypeError("DType %s has no max" % self.name)

    def is_compatible_with(self, other):
        return self == other

    def __eq__(self, other):
        if isinstance(other, DType):
            return self._np == other._np
        try:
            return self._np == np.dtype(other)
        except (TypeError, ValueError):
            return False

    def __ne__(self, other):
        return not self == other

    def __hash__(self):
        return hash(self._np)

    def __reduce__(self):
        return as_dtype, (self.name,)

    def __repr__(self):
        return "tg.%s" % self.name

    def __str__(self):
        return self.name


_cache = {}


def as_dtype(value):
    """A ``DType`` for ``value``: a DType, NumPy dtype or scalar type, a name
    (``"float32"``), or a tensor's ``.dtype``."""
    if isinstance(value, DType):
        return value
    if value is None:
        # np.dtype(None) is float64; TF (and an explicit API) says "no dtype given".
        raise TypeError("as_dtype: None is not a dtype")
    try:
        np_dtype = np.dtype(value)
    except TypeError:
        raise TypeError("as_dtype: %r is not a dtype" % (value,)) from None
    if np_dtype.kind not in "biufc":
        raise TypeError("as_dtype: %s is not a tapegrad dtype (bool, integer, floating or "
                        "complex)" % np_dtype)
    out = _cache.get(np_dtype)
    if out is None:
        out = _cache.setdefault(np_dtype, DType(np_dtype))
    return out


float16 = as_dtype(np.float16)
float32 = as_dtype(np.float32)
float64 = as_dtype(np.float64)
int8 = as_dtype(np.int8)
int16 = as_dtype(np.int16)
int32 = as_dtype(np.int32)
int64 = as_dtype(np.int64)
uint8 = as_dtype(np.uint8)
bool = as_dtype(np.bool_)  # noqa: A001
complex64 = as_dtype(np.complex64)
complex128 = as_dtype(np.complex128)
half = float16
double = float64
