"""The array API methods of ``tg.Tensor`` (its Cython class forwards here): the
namespace, ``mT``/``T``, ``to_device``, DLPack, bit operators, and the immutability of
``__setitem__`` with its functional replacement ``x.at[idx].set(v)``.
"""

import numpy as np

from tapegrad import _core
from tapegrad.numpy import _base as B


def namespace(t, api_version=None):
    if api_version not in (None, "2021.12", "2022.12", "2023.12", "2024.12"):
        raise ValueError("__array_namespace__: unsupported api_version %r" % (api_version,))
    import tapegrad.numpy

    return tapegrad.numpy


def mT(t):
    from tapegrad.ops.shape import matrix_transpose

    return matrix_transpose(t)


def T(t):
    # the standard defines T for 2-D arrays; for other ranks it reverses the axes, as
    # NumPy's does (a property should not raise on a valid tensor)
    from tapegrad.ops.shape import transpose

    return transpose(t)


def to_device(t, device, stream=None):
    from tapegrad.numpy._functions import CPU

    if device == CPU or device == t.device:
        return t
    return t.to(device)


def setitem(t, key, value):
    raise TypeError("tg.Tensor is immutable: `x[...] = v` is not supported. Use the "
                    "functional update `x = x.at[...].set(v)` (or .add(v)), or "
                    "tg.tensor_scatter_nd_update(x, indices, updates)")


def binop(name, a, b):
    import tapegrad.numpy as tnp

    return getattr(tnp, name)(a, b)


class _AtIndexer:
    """``x.at[key]``: functional updates that return a new tensor (JAX's spelling)."""

    __slots__ = ("_t",)

    def __init__(self, t):
        self._t = t

    def __getitem__(self, key):
        return _AtUpdate(self._t, key)


class _AtUpdate:
    __slots__ = ("_t", "_key")

    def __init__(self, t, key):
        self._t = t
        self._key = key

    def _positions(self):
        t = self._t
        key = self._key
        if isinstance(key, _core.Tensor):
            key = key.numpy()
        elif isinstance(key, tuple):
            key = tuple(k.numpy() if isinstance(k, _core.Tensor) else k for k in key)
        try:
            pos = np.arange(t.size, dtype=np.intp).reshape(t.shape)[key]
        except IndexError as e:
            raise IndexError("Tensor.at[%r]: %s (shape %s)" % (self._key, e, t.shape)) from None
        return np.asarray(pos)

    def _apply(self, value, op):
        from tapegrad.ops import scatter
        from tapegrad.ops.shape import broadcast_to, reshape

        t = self._t
        pos = self._positions()
        v = B.as_tensor(value, op="at") if isinstance(value, _core.Tensor) else \
            _core.wrap(np.asarray(value, dtype=t.dtype))
        v = B.cast(v, t.dtype)
        if v.shape != pos.shape:
            v = broadcast_to(v, pos.shape)
        flat = reshape(t, (-1,))
        idx = pos.reshape(-1, 1)
        upd = reshape(v, (-1,))
        fn = {"set": scatter.tensor_scatter_nd_update, "add": scatter.tensor_scatter_nd_add,
              "max": scatter.tensor_scatter_nd_max, "min": scatter.tensor_scatter_nd_min}[op]
        return reshape(fn(flat, idx, upd), t.shape)

    def set(self, value):
        """A copy with the indexed entries replaced by ``value``."""
        return self._apply(value, "set")

    def add(self, value):
        """A copy with ``value`` added at the indexed entries (repeats add up)."""
        return self._apply(value, "add")

    def subtract(self, value):
        return self._apply(-np.asarray(value) if not isinstance(value, _core.Tensor)
                           else -value, "add")

    def multiply(self, value):
        cur = self.get()
        return self._apply(cur * (value if isinstance(value, _core.Tensor) else
                                  np.asarray(value, self._t.dtype)), "set")

    def divide(self, value):
        cur = self.get()
        return self._apply(cur / (value if isinstance(value, _core.Tensor) else
                                  np.asarray(value, self._t.dtype)), "set")

    def power(self, value):
        cur = self.get()
        return self._apply(cur ** value, "set")

    def max(self, value):
        return self._apply(value, "max")

    def min(self, value):
        return self._apply(value, "min")

    def get(self):
        return self._t[self._key]


def at(t):
    return _AtIndexer(t)
