"""The main namespace's linear algebra: matmul, matrix_transpose, tensordot, vecdot,
einsum (the linalg extension is tapegrad.numpy.linalg).

Floating inputs run tapegrad ops, so results are differentiable; integer / bool ones
(no derivative) may run NumPy directly.
"""


import numpy as np

from tapegrad.numpy import _base as B
from tapegrad.numpy._statistics import sum as _sum
from tapegrad.ops import elementwise as E
from tapegrad.ops import linalg as L
from tapegrad.ops import shape as S

__all__, _export = B.exporter()


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
    return _sum(E.multiply(a, b), axis=axis)


@_export
def einsum(subscripts, *operands):
    ops = B.promote(*operands, op="einsum")
    return L.einsum(subscripts, *ops)
