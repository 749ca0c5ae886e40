"""Matrix decompositions and solvers: inv, solve, cholesky, triangular_solve, det, slogdet,
eigh, svd, qr, pinv, expm (batched over leading axes ``[..., M, N]``, float32/float64).

Forward kernels are ``numpy.linalg`` (NumPy's one BLAS/LAPACK and its one thread pool).
Nothing here calls ``scipy.linalg``: a triangular solve is NumPy's LU solve on the
masked triangle and expm is Higham's scaling-and-squaring Padé-13 written on NumPy's
matmul/solve, so SciPy's bundled OpenBLAS pool never alternates with NumPy's in a
training step (the cost measured in docs/architecture.md §5.4).

Every VJP and JVP is written in tapegrad ops, so each differentiates again.  Ops with
several outputs (eigh, svd, qr) are one primitive that returns the outputs packed in one
array; the public function unpacks them with slices, so the engine records one
primitive per decomposition and a cotangent of an unused output is an exact zero.

Degenerate inputs follow PyTorch's documented behaviour, as each docstring says:
eigenvector and singular-vector gradients are infinite/NaN at repeated eigenvalues or
singular values *only* where the loss depends on the ill-defined part (the terms are
formed with ``safe_mul``, exact 0 under a zero cotangent); ``det`` of a singular matrix
has a finite gradient (its cofactor matrix, computed from an SVD).

Errors name the op, the shapes and dtypes; a failing factorization says which batch
element failed.  They are ``tg.linalg.LinAlgError`` (an ``InvalidArgumentError``, so a
``ValueError``), never NumPy's raw ``LinAlgError``.
"""

import numpy as np

from tapegrad.errors import InvalidArgumentError
from tapegrad.ops._registry import FLOAT, INEXACT, primitive, tensor
from tapegrad.ops.creation import constant
from tapegrad.ops.elementwise import (
    add,
    equal,
    multiply,
    negative,
    reciprocal,
    safe_mul,
    square,
    subtract,
    where,
    zeros_like,
)
from tapegrad.ops.linalg import matmul
from tapegrad.ops.linalg_matrix import _diag, _diag_part, band_part
from tapegrad.ops.reductions import reduce_sum
from tapegrad.ops.shape import _fmt, concat, expand_dims, matrix_transpose, reshape


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


def _herm(x):
    return multiply(add(x, _cj(_T(x))), 0.5)


def _recip_gaps(d):
    """F[..., i, j] = 1 / (d_j - d_i) off the diagonal, 0 on it (inf where d_i == d_j)."""
    gaps = subtract(_row(d), _col(d))
    n = d.shape[-1]
    eye = np.eye(n, dtype=bool)
    return where(eye, 0, reciprocal(where(eye, 1, gaps)))


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


def _check_square(x, op):
    if x.ndim < 2 or x.shape[-1] != x.shape[-2]:
        raise ValueError("%s: needs square matrices [..., N, N], got shape %s"
                         % (op, _fmt(x.shape)))


def _check_matrix(x, op):
    if x.ndim < 2:
        raise ValueError("%s: needs a matrix or a batch of matrices [..., M, N], got shape %s"
                         % (op, _fmt(x.shape)))


def _check_float(x, op, complex_ok=False):
    if x.dtype.kind == "f" or (complex_ok and x.dtype.kind == "c"):
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


# ---------------------------------------------------------------------------
# inverse and general solve

@primitive("matrix_inverse", dtypes=INEXACT, save_inputs=False, quiet=True)
def _inv(a):
    """Batched inverse (np.linalg.inv)."""
    try:
        return np.linalg.inv(a)
    except np.linalg.LinAlgError:
        raise _where_failed("matrix_inverse", a, np.linalg.inv, "matrix is singular") from None


@_inv.defvjp
def _inv_vjp(g, ans, a):
    return negative(_mm(ans, _mm(g, ans, tb=True), ta=True))


@_inv.defjvp
def _inv_jvp(t, ans, a):
    return negative(_mm(ans, _mm(t[0], ans)))


def inv(input, adjoint=False, name=None):
    """Inverse of each square matrix in ``[..., N, N]`` (TF's ``matrix_inverse``).
    A singular matrix raises ``LinAlgError`` naming the batch element."""
    x = _prep_square(input, "inv", complex_ok=True)
    if adjoint:
        x = _T(x)
    return _inv(x)


@primitive("matrix_solve", dtypes=INEXACT, save_inputs=True, quiet=True)
def _solve(a, b, adjoint):
    """x with op(a) x = b, op = transpose when ``adjoint`` (np.linalg.solve)."""
    m = a.swapaxes(-1, -2) if adjoint else a
    try:
        return np.linalg.solve(m, b)
    except np.linalg.LinAlgError:
        raise _where_failed("matrix_solve", m, np.linalg.inv, "matrix is singular") from None


@_solve.defvjp
def _solve_vjp(g, ans, a, b, adjoint):
    gb = _solve(a, g, adjoint=not adjoint)
    ga = negative(_mm(ans, gb, tb=True) if adjoint else _mm(gb, ans, tb=True))
    return ga, gb


@_solve.defjvp
def _solve_jvp(t, ans, a, b, adjoint):
    ta, tb = t
    rhs = tb
    if ta is not None:
        da_x = _mm(ta, ans, ta=adjoint)
        rhs = negative(da_x) if rhs is None else subtract(rhs, da_x)
    return _solve(a, rhs, adjoint=adjoint)


def solve(matrix, rhs, adjoint=False, name=None):
    """x with ``matrix @ x = rhs`` (``adjoint``: the transpose) for ``[..., N, N]`` and
    ``[..., N, K]``; batch axes broadcast.  Singular matrices raise ``LinAlgError``."""
    a = _prep_square(matrix, "solve", complex_ok=True)
    b = tensor(rhs, op="solve")
    _check_rhs(a, b, "solve")
    if adjoint and a.dtype.kind == "c":
        # the primitive's ``adjoint`` is the plain transpose (holomorphic in a);
        # A^-H b = conj(A^-T conj(b)), and the conjugates carry their own rules
        return _cj(_solve(a, _cj(b), adjoint=True))
    return _solve(a, b, adjoint=bool(adjoint))


# ---------------------------------------------------------------------------
# triangular solve and Cholesky

def _tri_kernel(a, b, lower, adjoint):
    m = np.tril(a) if lower else np.triu(a)
    if adjoint:
        m = m.swapaxes(-1, -2)
    return np.linalg.solve(m, b)


@primitive("matrix_triangular_solve", dtypes=INEXACT, save_inputs=True, quiet=True)
def _tri_solve(a, b, lower, adjoint):
    """x with op(tri(a)) x = b: only the ``lower`` (or upper) triangle of a is read.

    NumPy's LU solve on the masked triangle rather than scipy.linalg.solve_triangular:
    batched, and on NumPy's BLAS pool (see the module docstring)."""
    try:
        return _tri_kernel(a, b, lower, adjoint)
    except np.linalg.LinAlgError:
        tri = np.tril(a) if lower else np.triu(a)
        raise _where_failed("matrix_triangular_solve", tri, np.linalg.inv,
                            "triangular matrix is singular (a zero on its diagonal)") from None


def _tri_mask(x, lower):
    return band_part(x, -1, 0) if lower else band_part(x, 0, -1)


@_tri_solve.defvjp
def _tri_solve_vjp(g, ans, a, b, lower, adjoint):
    gb = _tri_solve(a, g, lower=lower, adjoint=not adjoint)
    ga = negative(_mm(ans, gb, tb=True) if adjoint else _mm(gb, ans, tb=True))
    return _tri_mask(ga, lower), gb


@_tri_solve.defjvp
def _tri_solve_jvp(t, ans, a, b, lower, adjoint):
    ta, tb = t
    rhs = tb
    if ta is not None:
        da_x = _mm(_tri_mask(ta, lower), ans, ta=adjoint)
        rhs = negative(da_x) if rhs is None else subtract(rhs, da_x)
    return _tri_solve(a, rhs, lower=lower, adjoint=adjoint)


def triangular_solve(matrix, rhs, lower=True, adjoint=False, name=None):
    """x with ``tri(matrix) @ x = rhs`` (``adjoint``: its transpose), reading only the
    lower (``lower=True``) or upper triangle of ``matrix``; batch axes broadcast.
    A zero on the diagonal raises ``LinAlgError``."""
    a = _prep_square(matrix, "triangular_solve", complex_ok=True)
    b = tensor(rhs, op="triangular_solve")
    _check_rhs(a, b, "triangular_solve")
    return _tri_solve_public(a, b, bool(lower), bool(adjoint))


def _tri_solve_public(a, b, lower, adjoint):
    if adjoint and a.dtype.kind == "c":   # conjugate transpose, as for solve
        return _cj(_tri_solve(a, _cj(b), lower=lower, adjoint=True))
    return _tri_solve(a, b, lower=lower, adjoint=adjoint)


@primitive("cholesky", dtypes=INEXACT, save_inputs=False, quiet=True)
def _cholesky(a):
    """Lower Cholesky factor (np.linalg.cholesky; reads the lower triangle)."""
    try:
        return np.linalg.cholesky(a)
    except np.linalg.LinAlgError:
        raise _where_failed("cholesky", a, np.linalg.cholesky,
                            "matrix is not positive definite") from None


def _phi_mask(n, dtype, scale):
    # Phi as one product: the lower triangle, the diagonal halved, times ``scale``
    m = np.tril(np.ones((n, n)))
    np.fill_diagonal(m, 0.5)
    return constant((m * scale).astype(dtype))


@_cholesky.defvjp
def _cholesky_vjp(g, ans, a):
    # TF's CholeskyGrad: grad = sym(L^-T Phi(L^T g) L^-1), symmetric (the input is taken
    # as symmetric).  One inverse of the triangular factor and two products: fewer ops
    # than two triangular solves, which NumPy would do as LU solves anyway.  The 1/2 of
    # sym() is folded into the Phi mask.
    # Complex (Hermitian positive definite) input: TF's formula is in the user-visible
    # convention; the internal one is its conjugate applied to conj(g) (ops/complex.py),
    # which leaves L^-T Phi(L^T g) conj(L^-1) and a Hermitian part.
    middle = multiply(_mm(ans, g, ta=True), _phi_mask(ans.shape[-1], ans.dtype, 0.5))
    linv = _inv(ans)
    x = _mm(linv, _mm(middle, _cj(linv)), ta=True)                     # L^-T middle L^-1
    return add(x, _cj(_T(x)))


@_cholesky.defjvp
def _cholesky_jvp(t, ans, a):
    da = _herm(t[0])
    linv = _inv(ans)
    x = _mm(linv, _mm(da, _cj(linv), tb=True))                           # L^-1 dA L^-H
    return _mm(ans, multiply(x, _phi_mask(ans.shape[-1], ans.dtype, 1.0)))


def cholesky(input, name=None):
    """Lower-triangular L with ``L @ L^T = input`` for symmetric positive-definite
    ``[..., N, N]``; only the lower triangle is read.  The gradient is symmetric (the
    input is taken as a symmetric matrix, as in TF and PyTorch).  A matrix that is not
    positive definite raises ``LinAlgError`` naming the batch element."""
    return _cholesky(_prep_square(input, "cholesky", complex_ok=True))


def cholesky_solve(chol, rhs, name=None):
    """x with ``A x = rhs`` given ``chol = cholesky(A)`` (two triangular solves)."""
    c = _prep_square(chol, "cholesky_solve", complex_ok=True)
    b = tensor(rhs, op="cholesky_solve")
    _check_rhs(c, b, "cholesky_solve")
    y = _tri_solve(c, b, lower=True, adjoint=False)
    return _tri_solve_public(c, y, True, True)


# ---------------------------------------------------------------------------
# determinants

@primitive("matrix_determinant", dtypes=INEXACT, save_output=False, quiet=True)
def _det(a):
    """Batched determinant (np.linalg.det)."""
    return np.linalg.det(a)


def _cofactor_kernel(a):
    # cofactor(A) = det(A) A^-T, finite for singular A: from A = U S V^T,
    # cofactor = det(U) det(V) U diag(prod_{j != i} s_j) V^T
    n = a.shape[-1]
    if n == 0:
        return np.zeros_like(a)
    u, s, vt = np.linalg.svd(a)
    ones = np.ones(s.shape[:-1] + (1,), dtype=s.dtype)
    before = np.cumprod(np.concatenate([ones, s[..., :-1]], axis=-1), axis=-1)
    after = np.cumprod(np.concatenate([ones, s[..., :0:-1]], axis=-1), axis=-1)[..., ::-1]
    others = before * after
    sign = np.linalg.det(u) * np.linalg.det(vt)
    # complex A = U S V^H: cofactor = det(U) det(V^H) conj(U) diag(others) conj(V^H)
    # (the conjugates are no-ops for real input)
    return (np.conj(u) * others[..., None, :]) @ np.conj(vt) * sign[..., None, None]


@primitive("det_cofactor", dtypes=INEXACT, save_output=False, quiet=True)
def _cofactor(a):
    """det(a) * inv(a)^T, finite for singular a (the gradient of det)."""
    return _cofactor_kernel(a).astype(a.dtype, copy=False)


def _cofactor_rule(a, d):
    # d cof = det(A) [ <A^-T, dA> A^-T - A^-T dA^T A^-T ]; needs A invertible (second
    # derivatives of det at an exactly singular matrix raise LinAlgError)
    ait = _T(_inv(a))
    det = _col(_col(_det(a)))
    first = multiply(_col(_col(reduce_sum(multiply(ait, d), [-2, -1]))), ait)
    return multiply(det, subtract(first, _mm(ait, _mm(d, ait, ta=True))))


@_cofactor.defvjp
def _cofactor_vjp(g, ans, a):
    # <G, d cof> = det [<A^-T, dA><G, A^-T> - <A^-T G^T A^-T, dA>]
    ait = _T(_inv(a))
    det = _col(_col(_det(a)))
    first = multiply(_col(_col(reduce_sum(multiply(g, ait), [-2, -1]))), ait)
    return multiply(det, subtract(first, _mm(ait, _mm(g, ait, ta=True))))


@_cofactor.defjvp
def _cofactor_jvp(t, ans, a):
    return _cofactor_rule(a, t[0])


@_det.defvjp
def _det_vjp(g, ans, a):
    return multiply(_col(_col(g)), _cofactor(a))


@_det.defjvp
def _det_jvp(t, ans, a):
    return reduce_sum(multiply(_cofactor(a), t[0]), [-2, -1])


def det(input, name=None):
    """Determinant of each square matrix in ``[..., N, N]``.  The gradient is the
    cofactor matrix, finite also for a singular matrix (PyTorch's behaviour); second
    derivatives at an exactly singular matrix raise ``LinAlgError``."""
    return _det(_prep_square(input, "det", complex_ok=True))


@primitive("log_abs_det", dtypes=INEXACT, save_output=False, quiet=True)
def _slogdet(a):
    """(sign, log|det(a)|) packed along a new last axis of size 2 (one np.linalg.slogdet);
    log|det| is -inf for a singular matrix."""
    sign, logabs = np.linalg.slogdet(a)
    return np.stack([sign, logabs], axis=-1).astype(a.dtype, copy=False)


@_slogdet.defvjp
def _slogdet_vjp(g, ans, a):
    # the sign is piecewise constant (for complex input its phase is not differentiated
    # either): only the log|det| half of g counts; d log|det| = Re tr(A^-1 dA), whose
    # internal-convention cotangent is g A^-T for real and complex A alike
    return multiply(_col(_col(_re(g[..., 1]))), _T(_inv(a)))


@_slogdet.defjvp
def _slogdet_jvp(t, ans, a):
    d = _re(reduce_sum(multiply(_T(_inv(a)), t[0]), [-2, -1]))
    return concat([_col(zeros_like(d)), _col(d)], axis=-1)


def slogdet(input, name=None):
    """(sign, log|det|) of each square matrix (TF's ``log_matrix_determinant``).  The
    sign is piecewise constant (zero gradient); the gradient of log|det| is inv(A)^T, and
    at a singular matrix (log|det| = -inf) it raises ``LinAlgError``."""
    from tapegrad.ops.elementwise import stop_gradient

    packed = _slogdet(_prep_square(input, "slogdet", complex_ok=True))
    logabs = packed[..., 1]
    if packed.dtype.kind == "c":  # complex input: a complex sign (phase), a real log|det|
        from tapegrad.ops.complex import _real

        logabs = _real(logabs)
    return stop_gradient(packed[..., 0]), logabs


def logdet(matrix, name=None):
    """log det of Hermitian positive-definite matrices, 2 * sum(log(diag(cholesky)));
    raises ``LinAlgError`` (naming the batch element) when one is not positive definite."""
    from tapegrad.ops.elementwise import log

    c = _cholesky(_prep_square(matrix, "logdet", complex_ok=True))
    d = _diag_part(c)
    if d.dtype.kind == "c":  # the factor's diagonal is real and positive
        from tapegrad.ops.complex import _real

        d = _real(d)
    return multiply(reduce_sum(log(d), -1), 2.0)


# ---------------------------------------------------------------------------
# symmetric eigendecomposition (packed: row 0 = eigenvalues, rows 1.. = eigenvectors)

@primitive("self_adjoint_eig", dtypes=INEXACT, save_inputs=False, quiet=True)
def _eigh(a):
    """Eigenvalues (ascending) and eigenvectors of symmetric a, packed [..., N+1, N]
    (np.linalg.eigh, lower triangle)."""
    n = a.shape[-1]
    try:
        w, v = np.linalg.eigh(a)
    except np.linalg.LinAlgError:
        raise _where_failed("self_adjoint_eig", a, np.linalg.eigh,
                            "eigendecomposition did not converge") from None
    out = np.empty(a.shape[:-2] + (n + 1, n), dtype=a.dtype)
    out[..., 0, :] = w
    out[..., 1:, :] = v
    return out


def _unpack_eigh(p):
    return p[..., 0, :], p[..., 1:, :]


def _re(x):
    # a complex tensor's real part, kept complex (eigenvalues are real); real x as it is
    if x.dtype.kind != "c":
        return x
    from tapegrad.ops.complex import _complex, _real

    r = _real(x)
    return _complex(r, zeros_like(r))


@_eigh.defvjp
def _eigh_vjp(g, ans, a):
    # gA = V (diag(ge) + F o (V^H gV)) V^H (PyTorch's), Hermitian part; for complex input
    # written in the internal convention: conj(V) (diag(Re ge) + F o (V^T gV)) V^T
    e, v = _unpack_eigh(ans)
    ge, gv = _unpack_eigh(g)
    inner = add(_diag(_re(ge), rows=e.shape[-1], cols=e.shape[-1]),
                safe_mul(_mm(v, gv, ta=True), _recip_gaps(e)))
    return _herm(_mm(_cj(v), _mm(inner, v, tb=True)))


@_eigh.defjvp
def _eigh_jvp(t, ans, a):
    e, v = _unpack_eigh(ans)
    m = _mm(_cj(v), _mm(_herm(t[0]), v), ta=True)                        # V^H dA V
    de = _re(_diag_part(m))
    dv = _mm(v, safe_mul(m, _recip_gaps(e)))
    return concat([_row(de), dv], axis=-2)


def eigh(tensor_, name=None):
    """(e, v) of symmetric ``[..., N, N]`` (TF's ``self_adjoint_eig``): ascending
    eigenvalues and eigenvectors as columns; only the lower triangle is read.

    Gradients follow PyTorch: well defined for the eigenvalues always; for the
    eigenvectors infinite/NaN at repeated eigenvalues, but only where the loss depends
    on those eigenvectors (a loss of the eigenvalues alone stays finite)."""
    x = _prep_square(tensor_, "eigh", complex_ok=True)
    e, v = _unpack_eigh(_eigh(x))
    if x.dtype.kind == "c":  # Hermitian: real eigenvalues, as NumPy returns them
        from tapegrad.ops.complex import _real

        e = _real(e)
    return e, v


@primitive("self_adjoint_eigvals", dtypes=INEXACT, save_output=False, quiet=True)
def _eigvalsh(a):
    """Eigenvalues (ascending) of symmetric a (np.linalg.eigvalsh)."""
    try:
        return np.linalg.eigvalsh(a)
    except np.linalg.LinAlgError:
        raise _where_failed("self_adjoint_eigvals", a, np.linalg.eigvalsh,
                            "eigendecomposition did not converge") from None


@_eigvalsh.defvjp
def _eigvalsh_vjp(g, ans, a):
    _, v = _unpack_eigh(_eigh(a))
    if v.dtype.kind == "c":
        from tapegrad.ops.complex import _complex

        g = _complex(g, zeros_like(g))
    return _herm(_mm(multiply(_cj(v), _row(g)), v, tb=True))


@_eigvalsh.defjvp
def _eigvalsh_jvp(t, ans, a):
    _, v = _unpack_eigh(_eigh(a))
    d = _diag_part(_mm(_cj(v), _mm(_herm(t[0]), v), ta=True))
    if d.dtype.kind == "c":
        from tapegrad.ops.complex import _real

        d = _real(d)
    return d


def eigvalsh(tensor_, name=None):
    """Ascending eigenvalues of symmetric ``[..., N, N]`` (TF's ``self_adjoint_eigvals``);
    the gradient is finite also at repeated eigenvalues."""
    return _eigvalsh(_prep_square(tensor_, "eigvalsh", complex_ok=True))


# ---------------------------------------------------------------------------
# SVD (packed along the last axis: s | u flattened | v flattened)

def _svd_sizes(m, n, full):
    k = min(m, n)
    ku, kv = (m, n) if full else (k, k)
    return k, ku, kv


@primitive("svd", dtypes=FLOAT, save_inputs=False, quiet=True)
def _svd(a, full_matrices):
    """s, u, v of a = u diag(s) v^T (np.linalg.svd), packed [..., k + m*ku + n*kv]."""
    m, n = a.shape[-2:]
    k, ku, kv = _svd_sizes(m, n, full_matrices)
    batch = a.shape[:-2]
    try:
        u, s, vt = np.linalg.svd(a, full_matrices=full_matrices)
    except np.linalg.LinAlgError:
        raise _where_failed("svd", a, np.linalg.svd, "SVD did not converge") from None
    out = np.empty(batch + (k + m * ku + n * kv,), dtype=a.dtype)
    out[..., :k] = s
    out[..., k:k + m * ku] = u.reshape(batch + (m * ku,))
    out[..., k + m * ku:] = vt.swapaxes(-1, -2).reshape(batch + (n * kv,))
    return out


def _unpack_svd(p, m, n, full):
    k, ku, kv = _svd_sizes(m, n, full)
    batch = tuple(p.shape[:-1])
    s = p[..., :k]
    u = reshape(p[..., k:k + m * ku], batch + (m, ku))
    v = reshape(p[..., k + m * ku:], batch + (n, kv))
    return s, u, v


def _svd_thin(a, ans, full_matrices, what):
    m, n = a.shape[-2:]
    if full_matrices and m != n:
        raise NotImplementedError(
            "svd: the %s of svd(full_matrices=True) of a non-square matrix %s is not "
            "defined (the extra singular vectors are an arbitrary basis; TF and PyTorch "
            "refuse it too): use full_matrices=False" % (what, _fmt(a.shape)))
    return m, n


def _inv_nonzero(s):
    # 1/s with 1/0 taken as 0 (JAX's choice for rank-deficient inputs)
    zero = equal(s, 0)
    return where(zero, 0, reciprocal(where(zero, 1, s)))


@_svd.defvjp
def _svd_vjp(g, ans, a, full_matrices):
    m, n = _svd_thin(a, ans, full_matrices, "gradient")
    s, u, v = _unpack_svd(ans, m, n, full_matrices)
    gs, gu, gv = _unpack_svd(g, m, n, full_matrices)
    k = min(m, n)
    f = _recip_gaps(square(s))                       # 1 / (s_j^2 - s_i^2)
    utgu = _mm(u, gu, ta=True)
    vtgv = _mm(v, gv, ta=True)
    j = safe_mul(subtract(utgu, _T(utgu)), f)
    kk = safe_mul(subtract(vtgv, _T(vtgv)), f)
    inner = add(add(multiply(j, _row(s)), multiply(_col(s), kk)), _diag(gs, rows=k, cols=k))
    ga = _mm(u, _mm(inner, v, tb=True))
    sinv = _row(reciprocal(s))
    if m > k:
        ga = add(ga, _mm(safe_mul(subtract(gu, _mm(u, utgu)), sinv), v, tb=True))
    if n > k:
        ga = add(ga, _mm(u, safe_mul(subtract(gv, _mm(v, vtgv)), sinv), tb=True))
    return ga


@_svd.defjvp
def _svd_jvp(t, ans, a, full_matrices):
    m, n = _svd_thin(a, ans, full_matrices, "forward-mode derivative")
    s, u, v = _unpack_svd(ans, m, n, full_matrices)
    da = t[0]
    dp = _mm(u, _mm(da, v), ta=True)                 # U^T dA V  (k x k)
    ds = _diag_part(dp)
    f = _recip_gaps(square(s))
    dss = multiply(dp, _row(s))                      # dP S
    sds = multiply(_col(s), dp)                      # S dP
    du = _mm(u, safe_mul(add(dss, _T(dss)), f))
    dv = _mm(v, safe_mul(add(sds, _T(sds)), f))
    sinv = _row(_inv_nonzero(s))
    if m > n:
        dav = _mm(da, v)
        du = add(du, multiply(subtract(dav, _mm(u, _mm(u, dav, ta=True))), sinv))
    if n > m:
        dau = _mm(da, u, ta=True)
        dv = add(dv, multiply(subtract(dau, _mm(v, _mm(v, dau, ta=True))), sinv))
    batch = tuple(ans.shape[:-1])
    return concat([ds, reshape(du, batch + (m * du.shape[-1],)),
                   reshape(dv, batch + (n * dv.shape[-1],))], axis=-1)


@primitive("singular_values", dtypes=FLOAT, save_output=False, quiet=True)
def _svals(a):
    """Singular values, descending (np.linalg.svd(compute_uv=False))."""
    try:
        return np.linalg.svd(a, compute_uv=False)
    except np.linalg.LinAlgError:
        raise _where_failed("singular_values", a, np.linalg.svd,
                            "SVD did not converge") from None


@_svals.defvjp
def _svals_vjp(g, ans, a):
    m, n = a.shape[-2:]
    _, u, v = _unpack_svd(_svd(a, full_matrices=False), m, n, False)
    return _mm(multiply(u, _row(g)), v, tb=True)


@_svals.defjvp
def _svals_jvp(t, ans, a):
    m, n = a.shape[-2:]
    _, u, v = _unpack_svd(_svd(a, full_matrices=False), m, n, False)
    return _diag_part(_mm(u, _mm(t[0], v), ta=True))


def svd(tensor_, full_matrices=False, compute_uv=True, name=None):
    """Singular value decomposition of ``[..., M, N]``: ``(s, u, v)`` in TF's order, with
    ``a = u @ diag(s) @ v^T`` (v, not v^T); ``compute_uv=False`` returns s alone.

    Gradients follow PyTorch: the singular values' gradient is always finite; the
    singular vectors' is infinite/NaN at repeated (or, for non-square input, zero)
    singular values, but only where the loss depends on those vectors.  Gradients of
    ``full_matrices=True`` for a non-square input raise NotImplementedError."""
    x = tensor(tensor_, op="svd")
    _check_float(x, "svd")
    _check_matrix(x, "svd")
    if not compute_uv:
        return _svals(x)
    return _unpack_svd(_svd(x, full_matrices=bool(full_matrices)), x.shape[-2], x.shape[-1],
                       bool(full_matrices))


# ---------------------------------------------------------------------------
# QR (packed along the last axis: q flattened | r flattened)

def _qr_sizes(m, n, full):
    k = min(m, n)
    return (m, m) if full else (k, k)


@primitive("qr", dtypes=FLOAT, save_inputs=False, quiet=True)
def _qr(a, full_matrices):
    """q, r of a = q r (np.linalg.qr), packed [..., m*kq + kr*n]."""
    m, n = a.shape[-2:]
    kq, kr = _qr_sizes(m, n, full_matrices)
    batch = a.shape[:-2]
    q, r = np.linalg.qr(a, mode="complete" if full_matrices else "reduced")
    out = np.empty(batch + (m * kq + kr * n,), dtype=a.dtype)
    out[..., :m * kq] = q.reshape(batch + (m * kq,))
    out[..., m * kq:] = r.reshape(batch + (kr * n,))
    return out


def _unpack_qr(p, m, n, full):
    kq, kr = _qr_sizes(m, n, full)
    batch = tuple(p.shape[:-1])
    return (reshape(p[..., :m * kq], batch + (m, kq)),
            reshape(p[..., m * kq:], batch + (kr, n)))


def _right_tri_solve(x, r):
    # x R^-1 for upper-triangular R
    return _T(_tri_solve(r, _T(x), lower=False, adjoint=True))


def _qr_vjp_deep(q, r, gq, gr):
    # TF's QrGrad for m >= n: A = QR with R square upper triangular
    qdq = _mm(q, gq, ta=True)
    rdr = _mm(r, gr, tb=True)
    tril = band_part(add(subtract(qdq, _T(qdq)), subtract(rdr, _T(rdr))), -1, 0)
    grad_a = _mm(q, add(gr, _T(_tri_solve(r, _T(tril), lower=False, adjoint=False))))
    grad_b = _T(_tri_solve(r, _T(subtract(gq, _mm(q, qdq))), lower=False, adjoint=False))
    return add(grad_a, grad_b)


def _qr_check(a, full_matrices, what):
    m, n = a.shape[-2:]
    if full_matrices and m > n:
        raise NotImplementedError(
            "qr: the %s of qr(full_matrices=True) with more rows than columns %s is not "
            "defined (the extra columns of q are an arbitrary basis; TF refuses it too): "
            "use full_matrices=False" % (what, _fmt(a.shape)))
    return m, n


@_qr.defvjp
def _qr_vjp(g, ans, a, full_matrices):
    m, n = _qr_check(a, full_matrices, "gradient")
    q, r = _unpack_qr(ans, m, n, full_matrices)
    gq, gr = _unpack_qr(g, m, n, full_matrices)
    if m >= n:
        return _qr_vjp_deep(q, r, gq, gr)
    # wide: A = [X | Y], X = Q U square; r = [U | Q^T Y]
    y = _mm(q, r[..., m:])            # Y = Q (Q^T Y): the input is not saved
    u = r[..., :m]
    dv = gr[..., m:]
    dq = add(gq, _mm(y, dv, tb=True))
    dx = _qr_vjp_deep(q, u, dq, gr[..., :m])
    dy = _mm(q, dv)
    return concat([dx, dy], axis=-1)


def _qr_jvp_deep(q, r, dx):
    # JAX's qr_jvp_rule (real): dQ = Q (do - Q^T dA R^-1) + dA R^-1, dR = (Q^T dA R^-1 - do) R
    dx_rinv = _right_tri_solve(dx, r)
    qt = _mm(q, dx_rinv, ta=True)
    low = band_part(qt, -1, 0)
    low = subtract(low, _diag(_diag_part(low), rows=low.shape[-2], cols=low.shape[-1]))
    do = subtract(low, _T(low))
    dq = add(_mm(q, subtract(do, qt)), dx_rinv)
    dr = _mm(subtract(qt, do), r)
    return dq, dr


@_qr.defjvp
def _qr_jvp(t, ans, a, full_matrices):
    m, n = _qr_check(a, full_matrices, "forward-mode derivative")
    q, r = _unpack_qr(ans, m, n, full_matrices)
    da = t[0]
    if m >= n:
        dq, dr = _qr_jvp_deep(q, r, da)
    else:
        dq, du = _qr_jvp_deep(q, r[..., :m], da[..., :m])
        y = _mm(q, r[..., m:])            # Y = Q (Q^T Y): the input is not saved
        dr = concat([du, add(_mm(dq, y, ta=True), _mm(q, da[..., m:], ta=True))], axis=-1)
    batch = tuple(ans.shape[:-1])
    return concat([reshape(dq, batch + (dq.shape[-2] * dq.shape[-1],)),
                   reshape(dr, batch + (dr.shape[-2] * dr.shape[-1],))], axis=-1)


def qr(input, full_matrices=False, name=None):
    """(q, r) with ``input = q @ r``, q orthonormal columns, r upper triangular, for
    ``[..., M, N]`` (np.linalg.qr).  The gradient assumes r has a non-zero diagonal (full
    column rank of the leading square block), as in TF and PyTorch; gradients of
    ``full_matrices=True`` with M > N raise NotImplementedError."""
    x = tensor(input, op="qr")
    _check_float(x, "qr")
    _check_matrix(x, "qr")
    return _unpack_qr(_qr(x, full_matrices=bool(full_matrices)), x.shape[-2], x.shape[-1],
                      bool(full_matrices))


# ---------------------------------------------------------------------------
# pseudo-inverse and least squares

@primitive("pinv", dtypes=FLOAT, save_inputs=True, quiet=True)
def _pinv(a, rcond):
    """Moore-Penrose pseudo-inverse (np.linalg.pinv, relative cutoff ``rcond``)."""
    try:
        return np.linalg.pinv(a, rcond=rcond)
    except np.linalg.LinAlgError:
        raise _where_failed("pinv", a, np.linalg.svd, "SVD did not converge") from None


def _pinv_rule(a, p, d):
    # Golub & Pereyra: dP = -P dA P + P P^T dA^T (I - A P) + (I - P A) dA^T P^T P
    m, n = a.shape[-2:]
    i_ap = subtract(_eye(m, a.dtype), _mm(a, p))
    i_pa = subtract(_eye(n, a.dtype), _mm(p, a))
    return add(add(negative(_mm(p, _mm(d, p))), _mm(_mm(p, p, tb=True), _mm(d, i_ap, ta=True))),
               _mm(i_pa, _mm(d, _mm(p, p, ta=True), ta=True)))


@_pinv.defvjp
def _pinv_vjp(g, ans, a, rcond):
    m, n = a.shape[-2:]
    p = ans
    i_ap = subtract(_eye(m, a.dtype), _mm(a, p))
    i_pa = subtract(_eye(n, a.dtype), _mm(p, a))
    t1 = negative(_mm(p, _mm(g, p, tb=True), ta=True))
    t2 = _mm(i_ap, _mm(g, _mm(p, p, tb=True), ta=True))
    t3 = _mm(_mm(p, p, ta=True), _mm(g, i_pa, ta=True))
    return add(add(t1, t2), t3)


@_pinv.defjvp
def _pinv_jvp(t, ans, a, rcond):
    return _pinv_rule(a, ans, t[0])


def pinv(a, rcond=None, validate_args=False, name=None):
    """Moore-Penrose pseudo-inverse of ``[..., M, N]``; singular values below
    ``rcond * max(s)`` are dropped (default ``10 * max(M, N) * eps``, TF's).  The
    gradient is that of a constant-rank pseudo-inverse (it jumps where the rank does)."""
    x = tensor(a, op="pinv")
    _check_float(x, "pinv")
    _check_matrix(x, "pinv")
    if rcond is None:
        rcond = 10.0 * max(x.shape[-2:]) * float(np.finfo(x.dtype).eps)
    return _pinv(x, rcond=float(rcond))


def lstsq(matrix, rhs, l2_regularizer=0.0, fast=True, name=None):
    """Least-squares solutions of ``matrix @ x = rhs`` for ``[..., M, N]`` and
    ``[..., M, K]``, with ridge term ``l2_regularizer`` (TF's fast path): for M >= N,
    ``x = (A^T A + l2 I)^-1 A^T b`` by Cholesky; for M < N the minimum-norm solution
    ``A^T (A A^T + l2 I)^-1 b``.  Needs full rank when ``l2_regularizer`` is 0."""
    a = tensor(matrix, op="lstsq")
    _check_float(a, "lstsq", complex_ok=True)
    _check_matrix(a, "lstsq")
    b = tensor(rhs, op="lstsq")
    if b.ndim < 2 or b.shape[-2] != a.shape[-2]:
        raise ValueError("lstsq: matrix %s and rhs %s disagree: rhs needs %d rows"
                         % (_fmt(a.shape), _fmt(b.shape), a.shape[-2]))
    if a.dtype != b.dtype:
        raise TypeError("lstsq: dtypes differ: matrix %s, rhs %s" % (a.dtype.name, b.dtype.name))
    m, n = a.shape[-2:]
    ah = _cj(a)  # A^H = conj(A)^T (the plain transpose for real A)
    if m >= n:
        gram = _mm(ah, a, ta=True)
        if l2_regularizer:
            gram = add(gram, multiply(_eye(n, a.dtype), l2_regularizer))
        return cholesky_solve(_cholesky(gram), _mm(ah, b, ta=True))
    gram = _mm(a, ah, tb=True)
    if l2_regularizer:
        gram = add(gram, multiply(_eye(m, a.dtype), l2_regularizer))
    return _mm(ah, cholesky_solve(_cholesky(gram), b), ta=True)


# ---------------------------------------------------------------------------
# matrix exponential: Higham (2005) scaling and squaring with a degree-13 Padé
# approximant, on NumPy's matmul and solve

_PADE13 = (64764752532480000.0, 32382376266240000.0, 7771770303897600.0,
           1187353796428800.0, 129060195264000.0, 10559470521600.0, 670442572800.0,
           33522128640.0, 1323241920.0, 40840800.0, 960960.0, 16380.0, 182.0, 1.0)
_THETA13 = 5.371920351148152


_PADE_LOW = {
    3: (120.0, 60.0, 12.0, 1.0),
    5: (30240.0, 15120.0, 3360.0, 420.0, 30.0, 1.0),
    7: (17297280.0, 8648640.0, 1995840.0, 277200.0, 25200.0, 1512.0, 56.0, 1.0),
    9: (17643225600.0, 8821612800.0, 2075673600.0, 302702400.0, 30270240.0, 2162160.0,
        110880.0, 3960.0, 90.0, 1.0),
}
_THETA_LOW = ((3, 1.495585217958292e-2), (5, 2.539398330063230e-1),
              (7, 9.504178996162932e-1), (9, 2.097847961257068e0))


def _pade_low(x, m, ident):
    b = _PADE_LOW[m]
    x2 = x @ x
    powers = [ident, x2]                       # x^(2j)
    while len(powers) < (m + 1) // 2:
        powers.append(powers[-1] @ x2)
    u = x @ sum(b[2 * j + 1] * p for j, p in enumerate(powers))
    v = sum(b[2 * j] * p for j, p in enumerate(powers))
    return np.linalg.solve(v - u, v + u)


def _expm_kernel(a):
    n = a.shape[-1]
    if n == 0 or a.size == 0:
        return np.array(a, copy=True)
    work = a.astype(np.complex128 if a.dtype.kind == "c" else np.float64, copy=False)
    norm1 = np.abs(work).sum(axis=-2).max(axis=-1)
    with np.errstate(divide="ignore"):
        s = np.where(norm1 > _THETA13, np.ceil(np.log2(norm1 / _THETA13)), 0)
    s = np.nan_to_num(s, nan=0.0, posinf=0.0).astype(np.int64)
    ident = np.broadcast_to(np.eye(n, dtype=work.dtype), work.shape)
    top = float(norm1.max()) if norm1.size else 0.0
    for m, theta in _THETA_LOW:
        if top <= theta:
            # Higham's lower-degree approximants: exact to double precision below theta_m
            return _pade_low(work, m, ident).astype(a.dtype, copy=False)
    x = work / np.exp2(s)[..., None, None]
    b = _PADE13
    x2 = x @ x
    x4 = x2 @ x2
    x6 = x4 @ x2
    u = x @ (x6 @ (b[13] * x6 + b[11] * x4 + b[9] * x2) + b[7] * x6 + b[5] * x4 + b[3] * x2
             + b[1] * ident)
    v = x6 @ (b[12] * x6 + b[10] * x4 + b[8] * x2) + b[6] * x6 + b[4] * x4 + b[2] * x2 \
        + b[0] * ident
    r = np.linalg.solve(v - u, v + u)
    smax = int(s.max()) if s.size else 0
    if smax:
        flat_r = r.reshape((-1, n, n))
        flat_s = s.reshape(-1)
        for step in range(smax):
            idx = np.nonzero(flat_s > step)[0]
            flat_r[idx] = flat_r[idx] @ flat_r[idx]
        r = flat_r.reshape(r.shape)
    return r.astype(a.dtype, copy=False)


@primitive("expm", dtypes=INEXACT, save_output=False, quiet=True)
def _expm(a):
    """Matrix exponential (scaling and squaring, Padé 13, computed in float64)."""
    try:
        return _expm_kernel(a)
    except np.linalg.LinAlgError:
        raise LinAlgError("expm: the Padé denominator is singular (input %s has non-finite "
                          "or huge entries)" % _desc(a)) from None


def _expm_frechet(a, e):
    # L(a, e) = expm([[a, e], [0, a]])[:n, n:]: the block form keeps it one expm, and
    # differentiable again
    n = a.shape[-1]
    zero = zeros_like(a)
    big = concat([concat([a, e], axis=-1), concat([zero, a], axis=-1)], axis=-2)
    return _expm(big)[..., :n, n:]


@_expm.defvjp
def _expm_vjp(g, ans, a):
    return _expm_frechet(_T(a), g)


@_expm.defjvp
def _expm_jvp(t, ans, a):
    return _expm_frechet(a, t[0])


def expm(input, name=None):
    """Matrix exponential of each square matrix in ``[..., N, N]``; its gradient is the
    Fréchet derivative at the transpose, computed as one expm of a 2N x 2N block matrix."""
    return _expm(_prep_square(input, "expm", complex_ok=True))



# ---------------------------------------------------------------------------
# rules of the other transforms (tg.jet, tg.vmap, tg.onnx), beside the forwards

def _t_inverse(a):
    # Y = A^-1: Y_k = -Y_0 sum_{j=1..k} A_j Y_{k-j}
    K = a.shape[0] - 1
    y = np.empty_like(a)
    y[0] = np.linalg.inv(a[0])
    for k in range(1, K + 1):
        acc = sum(a[j] @ y[k - j] for j in range(1, k + 1))
        y[k] = -(y[0] @ acc)
    return y


def _t_solve(a, b, **params):
    # X = A^-1 B: A_0 X_k = B_k - sum_{j=1..k} A_j X_{k-j}
    if params.get("adjoint"):
        a = np.conj(np.swapaxes(a, -1, -2))
    K = a.shape[0] - 1
    x = [np.linalg.solve(a[0], b[0])]
    for k in range(1, K + 1):
        rhs = b[k] - sum(a[j] @ x[k - j] for j in range(1, k + 1))
        x.append(np.linalg.solve(a[0], rhs))
    return np.stack(x)


def _transform_rules():
    from tapegrad import _core
    from tapegrad.ops import _batching as Bt
    from tapegrad.ops._registry import NotSupported

    reg = _core.registered()
    names = ("cholesky", "det_cofactor", "expm", "log_abs_det", "matrix_determinant",
             "matrix_inverse", "matrix_solve", "matrix_triangular_solve", "pinv", "qr",
             "self_adjoint_eig", "self_adjoint_eigvals", "singular_values", "svd")
    for name in names:
        reg[name].defrule("batch", Bt.leading)
        reg[name].defrule("onnx", NotSupported("no standard ONNX operator for %s" % name))
        if reg[name].differentiable:
            reg[name].defrule("taylor", NotSupported(
                "no Taylor rule for %s yet (nest tapes for its derivatives)" % name))
    reg["matrix_inverse"].defrule("taylor", _t_inverse)
    if "adjoint" in getattr(reg["matrix_solve"], "keywords", ()) or True:
        reg["matrix_solve"].defrule("taylor", _t_solve)


_transform_rules()
