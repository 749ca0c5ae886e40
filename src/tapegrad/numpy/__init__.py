"""``import tapegrad.numpy as tnp``: the Python array API standard (2024.12) over
``tg.Tensor``, differentiable.

Every function takes and returns tapegrad tensors, so it works inside a
``GradientTape`` and under ``tg.grad``; NumPy spellings that autograd/JAX code writes
(``dot``, ``concatenate``, ``outer``, ``sum(axis=, keepdims=)``, ``einsum``, ``clip``,
``logaddexp``, ...) are here too, so ``import autograd.numpy as np`` code runs after
changing the import::

    import tapegrad as tg
    import tapegrad.numpy as np

    def loss(w):
        return np.sum(np.tanh(np.dot(X, w)) ** 2)

    g = tg.grad(loss)(w0)

Differences from NumPy and from ``tg``:

* Type promotion follows the standard (int8 + int16 -> int16, Python scalars are weak,
  no int/float mixing of arrays).  ``tg.*`` functions and the ``Tensor`` operators keep
  TF 1.x's rules (mixed dtypes raise), so ``x + y`` on tensors of different dtypes
  raises where ``tnp.add(x, y)`` promotes.
* Default dtypes are NumPy's: float64 and int64 (``tg`` defaults to float32/int32).
* Tensors are immutable: ``x[i] = v`` raises; write ``x = x.at[i].set(v)`` (or
  ``.add``, ``.max``, ...), which is differentiable.
* Only the CPU device.  complex64 / complex128 are supported (the default complex
  dtype is complex128).  The ``linalg`` and ``fft`` extensions (``tnp.linalg``,
  ``tnp.fft``) are composed of tapegrad's differentiable linear-algebra and DFT
  primitives, with the standard's signatures.
* Integer / bool inputs run NumPy directly (they have no derivative); floating inputs
  run tapegrad primitives.
"""

import functools as _functools
import math as _math
import re as _re
import types as _types

import numpy as _np

from tapegrad.interop import from_dlpack
from tapegrad.numpy import _base, fft, linalg
from tapegrad.numpy._elementwise import *  # noqa: F403
from tapegrad.numpy._elementwise import __all__ as _ew_all
from tapegrad.numpy._functions import *  # noqa: F403
from tapegrad.numpy._functions import CPU as _CPU
from tapegrad.numpy._functions import __all__ as _fn_all
from tapegrad.ops._registry import with_message as _with_message

__array_api_version__ = "2024.12"

# data types (NumPy dtype objects: tensors report their dtype as one)
bool = _np.dtype("bool")
int8 = _np.dtype("int8")
int16 = _np.dtype("int16")
int32 = _np.dtype("int32")
int64 = _np.dtype("int64")
uint8 = _np.dtype("uint8")
uint16 = _np.dtype("uint16")
uint32 = _np.dtype("uint32")
uint64 = _np.dtype("uint64")
float32 = _np.dtype("float32")
float64 = _np.dtype("float64")
complex64 = _np.dtype("complex64")
complex128 = _np.dtype("complex128")

e = _math.e
pi = _math.pi
inf = _math.inf
nan = _math.nan
newaxis = None

ndarray = _base.Tensor


class _Info:
    """``__array_namespace_info__()``: devices, default and supported dtypes."""

    def capabilities(self):
        return {"boolean indexing": True, "data-dependent shapes": True,
                "max dimensions": 64}

    def default_device(self):
        return _CPU

    def devices(self):
        return [_CPU]

    def default_dtypes(self, *, device=None):
        return {"real floating": float64, "complex floating": complex128, "integral": int64,
                "indexing": int64}

    def dtypes(self, *, device=None, kind=None):
        all_ = {"bool": bool, "int8": int8, "int16": int16, "int32": int32, "int64": int64,
                "uint8": uint8, "uint16": uint16, "uint32": uint32, "uint64": uint64,
                "float32": float32, "float64": float64, "complex64": complex64,
                "complex128": complex128}
        if kind is None:
            return all_
        return {name: dt for name, dt in all_.items() if isdtype(dt, kind)}  # noqa: F405


def __array_namespace_info__():
    return _Info()


__all__ = (["__array_api_version__", "__array_namespace_info__", "from_dlpack", "fft",
            "linalg", "bool",
            "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
            "float32", "float64", "complex64", "complex128", "e", "pi", "inf", "nan",
            "newaxis", "ndarray"]
           + list(_ew_all) + list(_fn_all))


_NAMED = _re.compile(r"tapegrad\.numpy\.[\w.]+:")


def _named_errors(fn, name):
    """``fn`` with its argument errors naming it.

    Helpers deep in the namespace (conversion, promotion, NumPy itself) raise messages
    such as "cannot convert 'dict' to an array" or NumPy's "setting an array element
    with a sequence" that do not say which function was called; the public entry point
    prefixes ``tapegrad.numpy.<name>:`` (once: inner calls go to the unwrapped
    functions, and a message already naming a ``tapegrad.numpy`` function is kept).
    Exception types NumPy builds with extra arguments fall back to their builtin base
    (MemoryError, TypeError...).
    """
    prefix = "tapegrad.numpy.%s" % name

    @_functools.wraps(fn)
    def call(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except (TypeError, ValueError, IndexError, OverflowError, MemoryError,
                ZeroDivisionError) as e:
            msg = str(e)
            if _NAMED.match(msg):
                raise           # already names a function of the namespace
            raise _with_message(e, "%s: %s" % (prefix, msg)) from None
    return call


def _wrap_public():
    g = globals()
    for name in __all__:
        fn = g.get(name)
        if isinstance(fn, _types.FunctionType) and \
                getattr(fn, "__module__", "").startswith("tapegrad.numpy"):
            g[name] = _named_errors(fn, name)


_wrap_public()
