"""``tapegrad.numpy.linalg``: the array API standard's ``linalg`` extension (2024.12),
plus NumPy's ``norm`` spelling.

Every function composes the differentiable primitives of ``tg.linalg``
(ops/linalg*.py), so results carry gradients of any order; only ``matrix_rank``
(an integer) runs NumPy.  The standard's conventions differ from TF's in places, and
this module follows the standard: ``svd`` returns ``(U, S, Vh)`` with
``full_matrices=True`` by default (TF returns ``(s, u, v)``, thin), ``qr`` takes
``mode='reduced' | 'complete'``, ``cholesky`` takes ``upper=``, ``solve`` accepts a
vector right-hand side, and the tuple results are named tuples.
"""

import builtins
import math
from collections import namedtuple

import numpy as np

from tapegrad.numpy import _base as B
from tapegrad.numpy import _functions as F
from tapegrad.ops import elementwise as E
from tapegrad.ops import indexing as I
from tapegrad.ops import linalg as L
from tapegrad.ops import linalg_matrix as LM
from tapegrad.ops import reductions as R
from tapegrad.ops import shape as S

__all__ = ["cholesky", "cross", "det", "diagonal", "eigh", "eigvalsh", "inv", "matmul",
           "matrix_norm", "matrix_power", "matrix_rank", "matrix_transpose", "outer", "pinv",
           "qr", "slogdet", "solve", "svd", "svdvals", "tensordot", "trace", "vecdot",
           "vector_norm", "norm"]

EighResult = namedtuple("EighResult", ["eigenvalues", "eigenvectors"])
QRResult = namedtuple("QRResult", ["Q", "R"])
SlogdetResult = namedtuple("SlogdetResult", ["sign", "logabsdet"])
SVDResult = namedtuple("SVDResult", ["U", "S", "Vh"])

# the main namespace's functions are the extension's (the standard lists them in both)
matmul = F.matmul
matrix_transpose = F.matrix_transpose
tensordot = F.tensordot
vecdot = F.vecdot


def _decomp():
    # loaded on first use, as tg.linalg does (linalg_decomp pulls in the LAPACK paths)
    from tapegrad.ops import linalg_decomp

    return linalg_decomp


def __getattr__(name):
    if name == "LinAlgError":
        return _decomp().LinAlgError
    raise AttributeError("module 'tapegrad.numpy.linalg' has no attribute %r" % (name,))


def _inexact(x, op):
    """x as a floating (or complex) tensor: the standard's linalg functions take
    floating input; integer input is promoted to the default float, as NumPy does."""
    x = B.as_tensor(x, op=op)
    if x.dtype.kind in "fc":
        return x
    if x.dtype.kind == "b":
        raise TypeError("tapegrad.numpy.linalg.%s: bool input is not supported" % op)
    return B.cast(x, B.DEFAULT_FLOAT)


def _matrix(x, op):
    x = _inexact(x, op)
    if x.ndim < 2:
        raise ValueError("tapegrad.numpy.linalg.%s: needs a stack of matrices [..., M, N], "
                         "got shape %s" % (op, x.shape))
    return x


def _adjoint(x):
    return LM.adjoint(x)


def _real_dtype(dt):
    return np.dtype(np.float32) if dt == np.complex64 else (
        np.dtype(np.float64) if dt == np.complex128 else dt)


# ---------------------------------------------------------------------------
# decompositions and solvers

def cholesky(x, /, *, upper=False):
    """The Cholesky factor of each Hermitian positive-definite matrix: lower ``L`` with
    ``x = L L^H``, or (``upper=True``) ``U = L^H`` with ``x = U^H U``."""
    lo = _decomp().cholesky(_matrix(x, "cholesky"))
    return _adjoint(lo) if upper else lo


def det(x, /):
    return _decomp().det(_matrix(x, "det"))


def inv(x, /):
    return _decomp().inv(_matrix(x, "inv"))


def eigh(x, /):
    """``EighResult(eigenvalues, eigenvectors)`` of each Hermitian matrix (ascending
    eigenvalues; the eigenvectors are the columns)."""
    w, v = _decomp().eigh(_matrix(x, "eigh"))
    return EighResult(w, v)


def eigvalsh(x, /):
    return _decomp().eigvalsh(_matrix(x, "eigvalsh"))


def slogdet(x, /):
    """``SlogdetResult(sign, logabsdet)``; for a singular matrix sign is 0 and logabsdet
    -inf (the standard's convention, as NumPy's)."""
    sign, logabs = _decomp().slogdet(_matrix(x, "slogdet"))
    return SlogdetResult(sign, logabs)


def svd(x, /, *, full_matrices=True):
    """``SVDResult(U, S, Vh)`` with ``x = U @ diag(S) @ Vh`` and descending S, real or
    complex.  The standard's default is ``full_matrices=True``; gradients through U/Vh
    of a non-square input need ``full_matrices=False`` (the extra columns are not
    unique), and for complex input a loss that depends on the singular vectors' common
    phase gets the gradient of LAPACK's choice (see ``tg.linalg.svd``)."""
    x = _matrix(x, "svd")
    s, u, v = _decomp().svd(x, full_matrices=bool(full_matrices))
    return SVDResult(u, s, _adjoint(v))


def svdvals(x, /):
    """The singular values of each matrix, descending, real or complex (differentiable
    where they are distinct and non-zero; PyTorch's subgradient at zero)."""
    return _decomp().svd(_matrix(x, "svdvals"), compute_uv=False)


def qr(x, /, *, mode="reduced"):
    """``QRResult(Q, R)``; ``mode='reduced'`` (K = min(M, N) columns) or ``'complete'``."""
    if mode not in ("reduced", "complete"):
        raise ValueError("tapegrad.numpy.linalg.qr: mode must be 'reduced' or 'complete', "
                         "got %r" % (mode,))
    x = _matrix(x, "qr")
    if x.size == 0:
        # nothing to differentiate: NumPy's (empty or identity-block) factors
        q, r = np.linalg.qr(B.values(x), mode=mode)
        return QRResult(B.wrap(q), B.wrap(r))
    if x.dtype.kind == "c":
        return QRResult(*_householder_qr(x, mode == "complete"))
    q, r = _decomp().qr(x, full_matrices=mode == "complete")
    return QRResult(q, r)


def _householder_qr(a, complete):
    """QR of complex matrices by Householder reflections, composed of differentiable
    ops (the QR primitive has no complex kernel).  Step k is LAPACK's zlarfg/zgeqrf:
    H = I - tau v v^H with v_k = 1 maps column k onto beta e_k with beta real,
    -sign(Re alpha) |column| (alpha the diagonal entry); a column that is already real
    on the diagonal and zero below is left alone (tau = 0).  So Q and R are NumPy's,
    R with a real diagonal.  O(min(M, N)) steps of O(M N) work each."""
    m, n = a.shape[-2:]
    dt = a.dtype
    rdt = _real_dtype(dt)
    from tapegrad.ops.complex import conj

    def const(v, dtype=dt):
        return B.wrap(np.asarray(v, dtype=dtype))

    r = a
    q = B.wrap(np.broadcast_to(np.eye(m, dtype=dt), a.shape[:-2] + (m, m)).copy())
    rows = np.arange(m)
    for k in range(builtins.min(m, n)):
        col = r[..., :, k]
        alpha = col[..., k]
        x = E.multiply(col, const((rows > k).astype(rdt)))     # below the diagonal
        full = L.norm(E.multiply(col, const((rows >= k).astype(rdt))), axis=-1)
        # the branch tests read values only (they carry no derivative)
        cv = B.values(col)
        av = cv[..., k]
        keep = np.logical_and(np.all(cv[..., k + 1:] == 0, axis=-1), av.imag == 0)
        sgn = np.where(av.real >= 0, 1.0, -1.0).astype(rdt)
        beta = E.cast(E.multiply(const(-sgn, rdt), full), dt)     # real, as complex
        # where tau = 0 the divisions are replaced by harmless ones (their results unused)
        safe_beta = E.where(B.wrap(keep), const(1), beta)
        denom = E.where(B.wrap(keep), const(1), E.subtract(alpha, beta))
        tau = E.where(B.wrap(keep), const(0), E.divide(E.subtract(beta, alpha), safe_beta))
        v = E.add(const((rows == k).astype(dt)), E.divide(x, S.expand_dims(denom, -1)))
        # R <- H^H R = R - conj(tau) v (v^H R);  Q <- Q H = Q - tau (Q v) v^H
        vr = L.matmul(S.expand_dims(conj(v), -2), r)            # [..., 1, N]
        r = E.subtract(r, E.multiply(S.expand_dims(S.expand_dims(conj(tau), -1), -1),
                                     E.multiply(S.expand_dims(v, -1), vr)))
        qv = L.matmul(q, S.expand_dims(v, -1))                  # [..., M, 1]
        q = E.subtract(q, E.multiply(S.expand_dims(S.expand_dims(tau, -1), -1),
                                     E.multiply(qv, S.expand_dims(conj(v), -2))))
    # exactly upper triangular (the reflections leave rounding-size entries below)
    r = E.multiply(r, const(np.triu(np.ones((m, n)))))
    if complete:
        return q, r
    kk = builtins.min(m, n)
    return q[..., :, :kk], r[..., :kk, :]


def _pinv_one(x, rtol):
    return _decomp().pinv(x, rcond=rtol)


def pinv(x, /, *, rtol=None):
    """Moore-Penrose pseudo-inverse; singular values at or below ``rtol * max(s)`` are
    dropped (default ``max(M, N) * eps``, the standard's).  ``rtol`` may be an array
    broadcasting against the batch shape (one cutoff per matrix); real or complex."""
    x = _matrix(x, "pinv")
    m, n = x.shape[-2:]
    batch = x.shape[:-2]
    if rtol is None:
        rtol = builtins.max(m, n) * float(np.finfo(_real_dtype(x.dtype)).eps)
    if x.size == 0:
        return B.wrap(np.zeros(batch + (n, m), x.dtype))
    r = np.asarray(B.values(rtol) if isinstance(rtol, B.Tensor) else rtol, dtype=np.float64)
    uniq = np.unique(r)
    if uniq.size == 1:
        return _pinv_one(x, float(uniq[0]))
    # one cutoff per matrix: each matrix of the flattened batch on its own
    r = np.broadcast_to(r, batch).reshape(-1)
    flat = S.reshape(x, (-1, m, n))
    outs = [_pinv_one(flat[k], float(r[k])) for k in range(flat.shape[0])]
    return S.reshape(S.stack(outs, 0), batch + (n, m))


def solve(x1, x2, /):
    """The solution of ``x1 @ x = x2``.  ``x2`` of rank 1 is one right-hand-side vector
    (shared by every matrix of the stack); otherwise ``[..., M, K]`` with batch axes
    broadcasting against x1's (the standard's rules)."""
    a, b = B.promote(_inexact(x1, "solve"), _inexact(x2, "solve"), op="solve")
    if a.ndim < 2 or a.shape[-1] != a.shape[-2]:
        raise ValueError("tapegrad.numpy.linalg.solve: x1 must be a stack of square "
                         "matrices, got shape %s" % (a.shape,))
    vector = b.ndim == 1
    if vector:
        if b.shape[0] != a.shape[-1]:
            raise ValueError("tapegrad.numpy.linalg.solve: x2 of shape %s does not match "
                             "x1 of shape %s" % (b.shape, a.shape))
        b = S.reshape(b, (b.shape[0], 1))
    batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    if a.shape[:-2] != batch:
        a = S.broadcast_to(a, batch + a.shape[-2:])
    if b.shape[:-2] != batch:
        b = S.broadcast_to(b, batch + b.shape[-2:])
    out = _decomp().solve(a, b)
    return S.reshape(out, out.shape[:-1]) if vector else out


def cross(x1, x2, /, *, axis=-1):
    """Cross product of 3-vectors along ``axis`` (the other axes broadcast)."""
    a, b = B.promote(x1, x2, op="cross")
    if a.dtype.kind == "b":
        raise TypeError("tapegrad.numpy.linalg.cross: bool input is not supported")
    shape = np.broadcast_shapes(a.shape, b.shape)
    if not -len(shape) <= axis < len(shape) or a.shape[axis] != 3 or b.shape[axis] != 3:
        raise ValueError("tapegrad.numpy.linalg.cross: axis %d must have size 3 in both "
                         "inputs, got %s and %s" % (axis, a.shape, b.shape))
    if a.dtype.kind in "iu":
        with np.errstate(all="ignore"):
            return B.wrap(np.cross(B.values(a), B.values(b), axis=axis))
    a = S.broadcast_to(a, shape) if a.shape != shape else a
    b = S.broadcast_to(b, shape) if b.shape != shape else b
    ax = axis % len(shape)
    last = len(shape) - 1
    if ax != last:
        a, b = F.moveaxis(a, ax, last), F.moveaxis(b, ax, last)
    out = LM.cross(a, b)
    return F.moveaxis(out, last, ax) if ax != last else out


def matrix_power(x, n, /):
    """x to the integer power n by repeated squaring (n < 0 inverts first; n = 0 gives
    identity matrices)."""
    if isinstance(n, builtins.bool) or not isinstance(n, (int, np.integer)):
        raise TypeError("tapegrad.numpy.linalg.matrix_power: n must be an int, got %r" % (n,))
    x = B.as_tensor(x, op="matrix_power")
    if x.ndim < 2 or x.shape[-1] != x.shape[-2]:
        raise ValueError("tapegrad.numpy.linalg.matrix_power: needs square matrices, got "
                         "shape %s" % (x.shape,))
    n = int(n)
    if n == 0:
        eye = np.broadcast_to(np.eye(x.shape[-1], dtype=x.dtype), x.shape)
        return B.wrap(np.array(eye))
    if n < 0:
        x, n = inv(x), -n
    if x.dtype.kind not in "fc":
        return B.wrap(np.linalg.matrix_power(B.values(x), n))
    result = None
    base = x
    while n:
        if n & 1:
            result = base if result is None else L.matmul(result, base)
        n >>= 1
        if n:
            base = L.matmul(base, base)
    return result


def matrix_rank(x, /, *, rtol=None):
    """The number of singular values above ``rtol * max(s)`` (default
    ``max(M, N) * eps``), as int64 (no derivative)."""
    x = _matrix(x, "matrix_rank")
    s = np.linalg.svd(B.values(x), compute_uv=False)  # no derivative: NumPy's LAPACK
    if rtol is None:
        tol = s[..., :1] * (builtins.max(x.shape[-2:]) * np.finfo(s.dtype).eps) \
            if s.shape[-1] else s[..., :0]
    else:
        r = B.values(rtol) if isinstance(rtol, B.Tensor) else np.asarray(rtol)
        tol = (s[..., :1] if s.shape[-1] else np.zeros(s.shape[:-1] + (1,), s.dtype)) * \
            r[..., None]
    return B.wrap(np.count_nonzero(s > tol, axis=-1).astype(np.int64))


def outer(x1, x2, /):
    """Outer product of two vectors."""
    a, b = B.promote(x1, x2, op="outer")
    if a.ndim != 1 or b.ndim != 1:
        raise ValueError("tapegrad.numpy.linalg.outer: needs two vectors, got shapes %s "
                         "and %s" % (a.shape, b.shape))
    return F.outer(a, b)


# ---------------------------------------------------------------------------
# diagonals and trace

def diagonal(x, /, *, offset=0):
    """The ``offset``-th diagonal of each matrix (> 0 above the main one), as
    ``[..., K]``: a gather on the flattened matrices, so it differentiates (its
    transpose is a scatter)."""
    x = B.as_tensor(x, op="diagonal")
    if x.ndim < 2:
        raise ValueError("tapegrad.numpy.linalg.diagonal: needs rank >= 2, got shape %s"
                         % (x.shape,))
    m, n = x.shape[-2:]
    offset = int(offset)
    rows = np.arange(builtins.max(0, builtins.min(m + builtins.min(offset, 0),
                                                  n - builtins.max(offset, 0))))
    flat = (rows + builtins.max(-offset, 0)) * n + rows + builtins.max(offset, 0)
    if x.dtype.kind not in "fc":
        return B.wrap(np.diagonal(B.values(x), offset, -2, -1).copy())
    if offset == 0 and m == n:
        return LM.diag_part(x)
    return I.gather(S.reshape(x, x.shape[:-2] + (m * n,)), flat.astype(np.int64), axis=-1)


def trace(x, /, *, offset=0, dtype=None):
    """The sum of each matrix's ``offset``-th diagonal; integer input sums in int64 (or
    ``dtype``), as ``sum`` does."""
    return F.sum(diagonal(x, offset=offset), axis=-1, dtype=dtype)


# ---------------------------------------------------------------------------
# norms

def _move_to_end(x, axes):
    """x with ``axes`` moved (in order) to the end."""
    rest = [i for i in range(x.ndim) if i not in axes]
    perm = rest + list(axes)
    return x if perm == list(range(x.ndim)) else S.transpose(x, perm)


def _restore_kept(out, axes, ndim):
    # out has the reduced axes removed; put size-1 axes back where they were
    for ax in sorted(axes):
        out = S.expand_dims(out, ax)
    return out


def vector_norm(x, /, *, axis=None, keepdims=False, ord=2):
    """The ``ord``-norm over ``axis`` (None: all entries; a tuple: those axes as one
    vector): ``ord`` any real p (including 0: the count of non-zeros, and negative
    p), ``inf`` or ``-inf``.  The result is real for complex input.  p >= 1 and 2
    scale by the largest |x| first (finite values and gradients in float32's whole
    range; the subgradient 0 at the zero vector)."""
    x = _inexact(x, "vector_norm")
    if x.size == 0:
        # nothing to differentiate: NumPy's value (and its error for min-norms)
        with np.errstate(all="ignore"):
            return B.wrap(np.asarray(np.linalg.vector_norm(
                B.values(x), axis=axis, keepdims=keepdims, ord=ord),
                dtype=_real_dtype(x.dtype)))
    nd = x.ndim
    if axis is None:
        axes = tuple(range(nd))
    elif isinstance(axis, (tuple, list)):
        axes = tuple(F._norm_axis(a, nd, "vector_norm") for a in axis)
    else:
        axes = (F._norm_axis(axis, nd, "vector_norm"),)
    if len(set(axes)) != len(axes):
        raise ValueError("tapegrad.numpy.linalg.vector_norm: repeated axis in %r" % (axis,))
    flat = _move_to_end(x, axes)
    keep_shape = flat.shape[:nd - len(axes)]
    size = int(np.prod([x.shape[a] for a in axes], dtype=np.int64))
    flat = S.reshape(flat, keep_shape + (size,))
    if isinstance(ord, builtins.bool) or not isinstance(ord, (int, float, np.number)):
        raise ValueError("tapegrad.numpy.linalg.vector_norm: ord must be a number or "
                         "+-inf, got %r" % (ord,))
    ord = float(ord)
    mag = L._abs(flat) if x.dtype.kind == "c" else E.abs(flat)
    if size == 0:
        # empty vectors: 0 for the sums (and inf), NaN-free; min-style norms have no
        # defined value (NumPy raises for -inf; the standard leaves it open)
        fill = np.inf if ord < 0 else 0.0
        out = B.wrap(np.full(keep_shape, fill, dtype=_real_dtype(x.dtype)))
    elif ord == math.inf:
        out = R.reduce_max(mag, -1)
    elif ord == -math.inf:
        out = R.reduce_min(mag, -1)
    elif ord == 0:
        out = R.reduce_sum(E.cast(E.not_equal(mag, 0), mag.dtype), -1)
    elif ord >= 1:
        out = L.norm(flat, ord=2 if ord == 2 else ord, axis=-1)
    else:
        # 0 < p < 1 and p < 0: (sum |x|^p)^(1/p) directly (no scaling helps a sum of
        # negative powers; a zero entry gives 0 for p < 0, as NumPy does)
        out = E.pow(R.reduce_sum(E.pow(mag, ord), -1), 1.0 / ord)
    if keepdims:
        out = _restore_kept(out, axes, nd)
    return out


def matrix_norm(x, /, *, keepdims=False, ord="fro"):
    """Norm of each matrix over the last two axes: ``'fro'``, ``'nuc'``, 1 / -1 (max /
    min column sum of |x|), inf / -inf (max / min row sum), 2 / -2 (largest / smallest
    singular value)."""
    x = _matrix(x, "matrix_norm")
    if x.size == 0:
        with np.errstate(all="ignore"):
            return B.wrap(np.asarray(np.linalg.matrix_norm(B.values(x), keepdims=keepdims,
                                                           ord=ord),
                                     dtype=_real_dtype(x.dtype)))
    if ord in (2, "nuc") and not isinstance(ord, builtins.bool):
        s_ = svdvals(x)
        out = R.reduce_max(s_, -1) if ord == 2 else R.reduce_sum(s_, -1)
    elif ord in ("fro", 1, math.inf) and not isinstance(ord, builtins.bool):
        out = L.norm(x, ord=ord, axis=(-2, -1))
    elif ord in (-1, -math.inf) and not isinstance(ord, builtins.bool):
        mag = L._abs(x) if x.dtype.kind == "c" else E.abs(x)
        inner, outer_ = (-2, -1) if ord == -1 else (-1, -2)
        out = R.reduce_min(R.reduce_sum(mag, inner, True), outer_, True)
        out = S.reshape(out, out.shape[:-2])
    elif ord == -2 and not isinstance(ord, builtins.bool):
        out = R.reduce_min(svdvals(x), -1)
    else:
        raise ValueError("tapegrad.numpy.linalg.matrix_norm: unsupported ord %r (use 'fro', "
                         "'nuc', 1, -1, 2, -2, inf or -inf)" % (ord,))
    if keepdims:
        out = S.expand_dims(S.expand_dims(out, -1), -1)
    return out


def norm(x, ord=None, axis=None, keepdims=False):
    """NumPy's ``np.linalg.norm``: a vector norm over ``axis`` (an int, or None for a
    1-D input), a matrix norm over an axis pair (or None for a 2-D input); ``ord=None``
    is the 2-norm / Frobenius norm of the flattened input when axis is None."""
    x = _inexact(x, "norm")
    if axis is None:
        if ord is None:
            return vector_norm(x, keepdims=keepdims)
        if x.ndim == 1:
            return vector_norm(x, ord=ord, keepdims=keepdims)
        if x.ndim == 2:
            return matrix_norm(x, ord=ord, keepdims=keepdims)
        raise ValueError("tapegrad.numpy.linalg.norm: ord=%r needs a 1-D or 2-D input, "
                         "or axis" % (ord,))
    if isinstance(axis, (tuple, list)) and len(axis) == 2:
        r, c = (F._norm_axis(a, x.ndim, "norm") for a in axis)
        moved = _move_to_end(x, (r, c))
        out = matrix_norm(moved, ord="fro" if ord is None else ord)
        return _restore_kept(out, (r, c), x.ndim) if keepdims else out
    if isinstance(axis, (tuple, list)):
        if len(axis) != 1:
            raise ValueError("tapegrad.numpy.linalg.norm: axis must be an int or a pair, "
                             "got %r" % (axis,))
        axis = axis[0]
    return vector_norm(x, axis=axis, keepdims=keepdims, ord=2 if ord is None else ord)

