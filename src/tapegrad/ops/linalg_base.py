"""Shared pieces of the linear-algebra families (linalg_solve, linalg_spectral, linalg_qr,
linalg_expm): ``LinAlgError``, the argument checks with their messages, and the small
tapegrad-op helpers the VJPs and JVPs are written with (so they differentiate again).
"""

import numpy as np

from tapegrad.errors import InvalidArgumentError
from tapegrad.ops._registry import tensor
from tapegrad.ops.creation import constant
from tapegrad.ops.elementwise import (
    add,
    multiply,
    reciprocal,
    subtract,
    where,
    zeros_like,
)
from tapegrad.ops.linalg import matmul
from tapegrad.ops.shape import _fmt, expand_dims, matrix_transpose


class LinAlgError(InvalidArgumentError):
    """A matrix that the operation cannot factor or invert (singular, not positive
    definite); the message names the op, the batch element, shape and dtype."""


# ---------------------------------------------------------------------------
# helpers (tapegrad ops, so VJPs built from them differentiate again)

def _T(x):
    return matrix_transpose(x)


def _mm(a, b, ta=False, tb=False):
    return matmul(a, b, transpose_a=ta, transpose_b=tb)


def _eye(n, dtype):
    return constant(np.eye(n, dtype=dtype))


def _col(v):
    return expand_dims(v, -1)


def _row(v):
    return expand_dims(v, -2)


def _sym(x):
    return multiply(add(x, _T(x)), 0.5)


def _cj(x):
    # conjugate of a complex tensor, the tensor itself otherwise
    if x.dtype.kind != "c":
        return x
    from tapegrad.ops.complex import _conj

    return _conj(x)


def _H(x):
    # conjugate transpose (the plain transpose for real x)
    return _cj(_T(x))


def _herm(x):
    return multiply(add(x, _cj(_T(x))), 0.5)


def _recip_gaps(d):
    """F[..., i, j] = 1 / (d_j - d_i) off the diagonal, 0 on it (inf where d_i == d_j)."""
    gaps = subtract(_row(d), _col(d))
    n = d.shape[-1]
    eye = np.eye(n, dtype=bool)
    return where(eye, 0, reciprocal(where(eye, 1, gaps)))


def _re(x):
    # a complex tensor's real part, kept complex (eigenvalues are real); real x as it is
    if x.dtype.kind != "c":
        return x
    from tapegrad.ops.complex import _complex, _real

    r = _real(x)
    return _complex(r, zeros_like(r))


def _desc(a):
    return "%s %s" % (_fmt(a.shape), a.dtype.name)


def _batch_index(flat, batch_shape):
    return tuple(int(i) for i in np.unravel_index(flat, batch_shape)) if batch_shape else ()


def _failing_element(a, fn):
    """Index of the first batch element of ``a`` on which ``fn`` raises (or None)."""
    batch = a.shape[:-2]
    flat = a.reshape((-1,) + a.shape[-2:])
    for i in range(flat.shape[0]):
        try:
            fn(flat[i])
        except np.linalg.LinAlgError:
            return _batch_index(i, batch)
    return None


def _where_failed(op, a, fn, what):
    idx = _failing_element(a, fn)
    where_ = "" if not a.shape[:-2] else " at batch element %s" % (idx,)
    return LinAlgError("%s: %s%s (input %s)" % (op, what, where_, _desc(a)))


def _lapack_checked(op, what, probe, f, a, *args, **kwargs):
    """``_lapack(f, a, ...)`` with LAPACK's failure raised as LinAlgError naming ``op``,
    ``what`` went wrong and the first failing batch element (found with ``probe``)."""
    try:
        return _lapack(f, a, *args, **kwargs)
    except np.linalg.LinAlgError:
        raise _where_failed(op, a, probe, what) from None


def _check_square(x, op):
    # the array's own shape tuple: a tensor's TensorShape costs more than this check on
    # calls of ~20 us (slogdet of 64 8x8 matrices)
    shape = x._data.shape
    if len(shape) < 2 or shape[-1] != shape[-2]:
        raise ValueError("%s: needs square matrices [..., N, N], got shape %s"
                         % (op, _fmt(shape)))


def _check_matrix(x, op):
    if x.ndim < 2:
        raise ValueError("%s: needs a matrix or a batch of matrices [..., M, N], got shape %s"
                         % (op, _fmt(x.shape)))


def _check_float(x, op, complex_ok=False):
    kind = x.dtype.kind
    if kind == "f" or (complex_ok and kind == "c"):
        return
    raise TypeError("%s: expected a float32 or float64%s matrix, got dtype %s (shape %s)"
                    % (op, " (or complex64/128)" if complex_ok else "", x.dtype.name,
                       _fmt(x.shape)))


def _check_rhs(a, b, op):
    if b.ndim < 2:
        raise ValueError("%s: rhs must be a matrix [..., M, K] (use rhs[..., None] for a "
                         "vector), got shape %s" % (op, _fmt(b.shape)))
    if b.shape[-2] != a.shape[-1]:
        raise ValueError("%s: matrix %s and rhs %s disagree: rhs needs %d rows"
                         % (op, _fmt(a.shape), _fmt(b.shape), a.shape[-1]))
    if a.dtype != b.dtype:
        raise TypeError("%s: dtypes differ: matrix %s, rhs %s (use tg.cast)"
                        % (op, a.dtype.name, b.dtype.name))
    try:
        np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    except ValueError:
        raise ValueError("%s: batch shapes do not broadcast: matrix %s, rhs %s"
                         % (op, _fmt(a.shape), _fmt(b.shape))) from None


def _prep_square(x, op, complex_ok=False):
    x = tensor(x, op=op)
    _check_float(x, op, complex_ok)
    _check_square(x, op)
    return x


# numpy.linalg calls on matrices up to this order run with NumPy's OpenBLAS at one
# thread (as tapegrad's own products do, docs/architecture.md §5.4): its threads do not
# pay at these sizes, and on 2 cores their spinning costs more than the work (measured
# under load: svd 100x100 3.6 ms with 2 OpenBLAS threads, 0.85 ms with one; solve
# 200x200 140 ms against 0.2 ms).  Larger factorizations keep OpenBLAS's threads, and
# matrices up to _PIN_MIN skip the pin (~1 us): OpenBLAS never threads those.
_PIN_MAX = 256
_PIN_MIN = 32


def _lapack(f, a, *args, **kwargs):
    """``f(a, *args, **kwargs)`` (a numpy.linalg routine or a kernel built on them), with
    OpenBLAS held at one thread when ``a``'s matrices are small (_PIN_MAX)."""
    if a.ndim >= 2 and _PIN_MIN < max(a.shape[-2:]) <= _PIN_MAX:
        from tapegrad._kernels import single_blas_call

        return single_blas_call(lambda: f(a, *args, **kwargs))
    return f(a, *args, **kwargs)


def _default_rules(names):
    """The other transforms' rules shared by every decomposition: vmap through the
    leading batch axes the kernels already map over, no ONNX operator, and (until a
    module gives one) no Taylor rule."""
    from tapegrad import _core
    from tapegrad.ops import _batching as Bt
    from tapegrad.ops._registry import NotSupported

    reg = _core.registered()
    for name in names:
        reg[name].defrule("batch", Bt.leading)
        reg[name].defrule("onnx", NotSupported("no standard ONNX operator for %s" % name))
        if reg[name].differentiable:
            reg[name].defrule("taylor", NotSupported(
                "no Taylor rule for %s yet (nest tapes for its derivatives)" % name))
    return reg
