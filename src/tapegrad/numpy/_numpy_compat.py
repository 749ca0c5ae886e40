"""NumPy spellings beyond the standard that autograd.numpy / jax.numpy code writes
(array, concatenate, dot, outer, ravel, vstack, trace, diag, cumsum, average, ...).

Floating inputs run tapegrad ops, so results are differentiable; integer / bool ones
(no derivative) may run NumPy directly.
"""

import builtins

import numpy as np

from tapegrad.numpy import _base as B
from tapegrad.numpy._creation import asarray
from tapegrad.numpy._manipulation import concat
from tapegrad.numpy._statistics import cumulative_prod, cumulative_sum, max, mean, min
from tapegrad.ops import elementwise as E
from tapegrad.ops import linalg as L
from tapegrad.ops import reductions as R
from tapegrad.ops import shape as S

__all__, _export = B.exporter()


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


def _numpy_cumulative(standard, a, axis, op):
    # NumPy's spelling on the standard's cumulative_sum/prod: axis=None runs over the
    # flattened array; a float input states its own dtype, others take the default
    a = B.as_tensor(a, op=op)
    if axis is None:
        a, axis = S.reshape(a, (-1,)), 0
    return standard(a, axis=axis, dtype=a.dtype if a.dtype.kind == "f" else None)


@_export
def cumsum(a, axis=None):
    return _numpy_cumulative(cumulative_sum, a, axis, "cumsum")


@_export
def cumprod(a, axis=None):
    return _numpy_cumulative(cumulative_prod, a, axis, "cumprod")


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
