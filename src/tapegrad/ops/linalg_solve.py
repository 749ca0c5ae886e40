"""Inverse, solves, Cholesky and determinants: inv, solve, triangular_solve, cholesky,
cholesky_solve, det, slogdet, logdet (batched over ``[..., N, N]``; float and complex).

Forward kernels are ``numpy.linalg`` (one BLAS/LAPACK, one thread pool): a triangular
solve is NumPy's LU solve on the masked triangle, not ``scipy.linalg`` (see
ops/linalg_decomp.py).  Every VJP/JVP is written in tapegrad ops.
"""

import numpy as np

from tapegrad.ops._registry import INEXACT, primitive, tensor
from tapegrad.ops.creation import constant
from tapegrad.ops.elementwise import (
    add,
    multiply,
    negative,
    subtract,
    zeros_like,
)
from tapegrad.ops.linalg_base import (
    _T,
    LinAlgError,
    _check_rhs,
    _cj,
    _col,
    _default_rules,
    _desc,
    _herm,
    _lapack,
    _lapack_checked,
    _mm,
    _prep_square,
    _re,
    _where_failed,
)
from tapegrad.ops.linalg_matrix import _diag_part, band_part
from tapegrad.ops.reductions import reduce_sum
from tapegrad.ops.shape import concat

# ---------------------------------------------------------------------------
# inverse and general solve

@primitive("matrix_inverse", dtypes=INEXACT, save_inputs=False, quiet=True)
def _inv(a):
    """Batched inverse (np.linalg.inv)."""
    return _lapack_checked("matrix_inverse", "matrix is singular", np.linalg.inv,
                           np.linalg.inv, a)


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
    return _lapack_checked("matrix_solve", "matrix is singular", np.linalg.inv,
                           np.linalg.solve, m, b)


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
    if a.dtype.kind == "f" and a.dtype == b.dtype:
        from tapegrad._kernels import trsm

        batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
        n, k = b.shape[-2:]
        b3 = np.ascontiguousarray(np.broadcast_to(b, batch + (n, k))).reshape((-1, n, k))
        a3 = a.reshape((1, n, n)) if a.ndim == 2 else np.broadcast_to(
            a, batch + (n, n)).reshape((-1, n, n))
        a3 = np.ascontiguousarray(a3)
        if not np.diagonal(a3, axis1=-2, axis2=-1).all():
            raise np.linalg.LinAlgError("zero on the diagonal")      # as LU would say
        x = trsm(a3, b3, lower, adjoint)
        if x is not None:
            return x.reshape(batch + (n, k))
    # complex input, or no bound trsm: NumPy's LU solve on the masked triangle
    m = np.tril(a) if lower else np.triu(a)
    if adjoint:
        m = m.swapaxes(-1, -2)
    return np.linalg.solve(m, b)


@primitive("matrix_triangular_solve", dtypes=INEXACT, save_inputs=True, quiet=True)
def _tri_solve(a, b, lower, adjoint):
    """x with op(tri(a)) x = b: only the ``lower`` (or upper) triangle of a is read.

    BLAS's trsm from NumPy's own OpenBLAS (``_kernels.trsm``, on tapegrad's pool) for
    float input, not scipy.linalg.solve_triangular (SciPy's second OpenBLAS pool);
    complex input takes NumPy's LU solve on the masked triangle."""
    try:
        return _lapack(_tri_kernel, a, b, lower, adjoint)
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
    return _lapack_checked("cholesky", "matrix is not positive definite",
                           np.linalg.cholesky, np.linalg.cholesky, a)


def _phi_mask(n, dtype, scale):
    # Phi as one product: the lower triangle, the diagonal halved, times ``scale``
    m = np.tril(np.ones((n, n)))
    np.fill_diagonal(m, 0.5)
    return constant((m * scale).astype(dtype))


def _right_solve_h(x, chol):
    # x conj(L)^-1 = (conj(L)^-T x^T)^T: one triangular solve (the primitive's adjoint
    # is the plain transpose)
    return _T(_tri_solve(_cj(chol), _T(x), lower=True, adjoint=True))


@_cholesky.defvjp
def _cholesky_vjp(g, ans, a):
    # TF's CholeskyGrad / PyTorch's cholesky_backward: gA = L^-T S L^-1 with
    # S = sym(Phi(L^T g)), Phi the lower triangle with its diagonal halved: one product
    # and two triangular solves.  The input is taken as symmetric, so gA is too.
    # Complex (Hermitian positive definite) input: TF's formula is in the user-visible
    # convention; the internal one is its conjugate applied to conj(g) (ops/complex.py),
    # which leaves L^-T S conj(L)^-1 with S Hermitian.
    middle = multiply(_mm(ans, g, ta=True), _phi_mask(ans.shape[-1], ans.dtype, 0.5))
    s = add(middle, _cj(_T(middle)))
    return _right_solve_h(_tri_solve(ans, s, lower=True, adjoint=True), ans)   # L^-T S ..


@_cholesky.defjvp
def _cholesky_jvp(t, ans, a):
    # dL = L Phi(L^-1 dA L^-H): two triangular solves
    da = _herm(t[0])
    y = _tri_solve(ans, da, lower=True, adjoint=False)                    # L^-1 dA
    x = _cj(_T(_tri_solve(ans, _cj(_T(y)), lower=True, adjoint=False)))   # .. L^-H
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
    return _lapack(np.linalg.det, a)


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
    return _lapack(_cofactor_kernel, a).astype(a.dtype, copy=False)


def _pair_products(s):
    """Q[..., i, j] = prod_{k != i, j} s_k off the diagonal, 0 on it, without dividing
    (exact when several s_k are 0): a prefix product, the running product strictly
    between i and j, and a suffix product."""
    n = s.shape[-1]
    ones = np.ones(s.shape[:-1] + (1,), dtype=s.dtype)
    before = np.cumprod(np.concatenate([ones, s[..., :-1]], axis=-1), axis=-1)
    after = np.cumprod(np.concatenate([ones, s[..., :0:-1]], axis=-1), axis=-1)[..., ::-1]
    i, k = np.indices((n, n))
    # between[..., i, j] = prod_{i < k < j} s_k for i < j: a running product along k of
    # s_k (k > i), read one place to the left
    run = np.cumprod(np.where(k > i, s[..., None, :], 1), axis=-1)
    between = np.concatenate([np.ones(s.shape[:-1] + (n, 1), dtype=s.dtype),
                              run[..., :-1]], axis=-1)
    upper = before[..., :, None] * between * after[..., None, :]
    upper = np.where(k > i, upper, 0)
    return upper + np.swapaxes(upper, -1, -2)


def _cofactor_deriv_kernel(a, e):
    # d cof(A)[E] from A = U S V^H: adj(A + E) = det(U) det(V^H) V adj(S + E') U^H with
    # E' = U^H E V, and at a diagonal S, d adj(S)[E'] = diag(Q diag(E')) - Q * E'
    # (Q from _pair_products): products of singular values only, no inverse, so it
    # stays exact at (near-)singular A, where det(A) A^-T's derivative is O(1) terms
    # of size det/s_min^2 cancelling (rounding noise times 1/s_min)
    n = a.shape[-1]
    if n == 0:
        return np.zeros(np.broadcast_shapes(a.shape, e.shape), dtype=a.dtype)
    u, s, vt = np.linalg.svd(a)
    ep = np.swapaxes(np.conj(u), -1, -2) @ e @ np.swapaxes(np.conj(vt), -1, -2)
    q = _pair_products(s)
    dg = np.einsum("...ij,...j->...i", q, np.diagonal(ep, axis1=-2, axis2=-1))
    d_adj_t = -q * np.swapaxes(ep, -1, -2)
    idx = np.arange(n)
    d_adj_t[..., idx, idx] = dg
    sign = np.linalg.det(u) * np.linalg.det(vt)
    return (np.conj(u) @ d_adj_t @ np.conj(vt)) * sign[..., None, None]


@primitive("det_cofactor_deriv", dtypes=INEXACT, save_output=False, quiet=True)
def _cofactor_deriv(a, e):
    """d cofactor(a)[e], the second derivative of det applied to e; finite and exact
    for singular a too."""
    a, e = np.asarray(a), np.asarray(e)
    return _lapack(_cofactor_deriv_kernel, a, e).astype(a.dtype, copy=False)


def _cofactor_third(a, e, g):
    # d/dt cof'(A + tG)[E], the third derivative of det, symmetric in E and G; with
    # B = A^-1, X = BE, Y = BG: det [(tr X tr Y - tr XY) B^T - tr Y (XB)^T - tr X (YB)^T
    # + ((XY + YX) B)^T].  Built on the inverse: it needs A invertible (LinAlgError at an
    # exactly singular matrix), only derivatives of third and higher order use it.
    b = _inv(a)
    x, y = _mm(b, e), _mm(b, g)
    trx = _col(_col(_trace(x)))
    tr_y = _col(_col(_trace(y)))
    trxy = _col(_col(reduce_sum(multiply(x, _T(y)), [-2, -1])))
    inner = subtract(multiply(subtract(multiply(trx, tr_y), trxy), b),
                     add(multiply(tr_y, _mm(x, b)), multiply(trx, _mm(y, b))))
    inner = add(inner, _mm(add(_mm(x, y), _mm(y, x)), b))
    return multiply(_col(_col(_det(a))), _T(inner))


def _trace(x):
    return reduce_sum(_diag_part(x), -1)


@_cofactor_deriv.defvjp
def _cofactor_deriv_vjp(g, ans, a, e):
    # <G, d cof[E]> is the second derivative of det at (E, G), symmetric: the map of e
    # is its own transpose; the derivative in a is the third derivative, symmetric too
    return _cofactor_third(a, e, g), _cofactor_deriv(a, g)


@_cofactor_deriv.defjvp
def _cofactor_deriv_jvp(t, ans, a, e):
    ta, te = t
    out = None if te is None else _cofactor_deriv(a, te)
    if ta is not None:
        third = _cofactor_third(a, e, ta)
        out = third if out is None else add(out, third)
    return out


@_cofactor.defvjp
def _cofactor_vjp(g, ans, a):
    # <G, d cof> is symmetric in the direction and G (the second derivative of det), so
    # the VJP is the JVP's map applied to G
    return _cofactor_deriv(a, g)


@_cofactor.defjvp
def _cofactor_jvp(t, ans, a):
    return _cofactor_deriv(a, t[0])


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


@primitive("log_abs_det", dtypes=INEXACT, quiet=True)
def _slogdet(a):
    """(sign, log|det(a)|) packed along a new last axis of size 2 (one np.linalg.slogdet);
    log|det| is -inf for a singular matrix."""
    sign, logabs = _lapack(np.linalg.slogdet, a)
    out = np.empty(a.shape[:-2] + (2,), dtype=a.dtype)
    out[..., 0] = sign
    out[..., 1] = logabs
    return out


def _i_im(x):
    # i Im(x), kept complex
    return multiply(subtract(x, _cj(x)), 0.5)


@_slogdet.defvjp
def _slogdet_vjp(g, ans, a):
    # With t = tr(A^-1 dA): d log|det| = Re t, and for complex A the sign s = det/|det|
    # moves too, ds = i s Im t (a real sign is piecewise constant).  In the internal
    # convention both pull back along A^-T: Re(g1 Re t) + Re(g0 i s Im t)
    # = Re((Re g1 + i Im(g0 s)) t).
    c = _re(g[..., 1])
    if a.dtype.kind == "c":
        c = add(c, _i_im(multiply(g[..., 0], ans[..., 0])))
    return multiply(_col(_col(c)), _T(_inv(a)))


@_slogdet.defjvp
def _slogdet_jvp(t, ans, a):
    tr = reduce_sum(multiply(_T(_inv(a)), t[0]), [-2, -1])
    if a.dtype.kind == "c":
        ds = multiply(ans[..., 0], _i_im(tr))
    else:
        ds = zeros_like(tr)
    return concat([_col(ds), _col(_re(tr))], axis=-1)


def slogdet(input, name=None):
    """(sign, log|det|) of each square matrix (TF's ``log_matrix_determinant``).  A real
    sign is piecewise constant (zero gradient); a complex one, det/|det|, is smooth and
    differentiated (PyTorch's).  The gradient of log|det| is inv(A)^T, and at a singular
    matrix (log|det| = -inf) it raises ``LinAlgError``."""
    packed = _slogdet(_prep_square(input, "slogdet", complex_ok=True))
    logabs = packed[..., 1]
    if packed.dtype.kind == "c":  # complex input: a complex sign (phase), a real log|det|
        from tapegrad.ops.complex import _real

        logabs = _real(logabs)
    return packed[..., 0], logabs


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


def _h(x):
    return np.conj(np.swapaxes(x, -1, -2))


def _t_cholesky(a):
    # L L^H = A (the Hermitian part, as the JVP reads it): at order k
    # L_0 L_k^H + L_k L_0^H = R_k = A_k - sum_{j=1..k-1} L_j L_{k-j}^H, so
    # L_k = L_0 Phi(L_0^-1 R_k L_0^-H), Phi the lower triangle with the diagonal halved
    K = a.shape[0] - 1
    out = np.empty_like(a)
    out[0] = np.linalg.cholesky(a[0])
    if K == 0:
        return out
    n = a.shape[-1]
    phi = np.tril(np.ones((n, n)))
    np.fill_diagonal(phi, 0.5)
    linv = np.linalg.inv(out[0])
    for k in range(1, K + 1):
        r = 0.5 * (a[k] + _h(a[k])) - sum(out[j] @ _h(out[k - j]) for j in range(1, k))
        out[k] = out[0] @ ((linv @ r @ _h(linv)) * phi)
    return out


def _t_logdet_rate(a):
    # g(t) = tr(A(t)^-1 A'(t)) = d/dt log det A(t), a series of order K - 1 (needs A_0
    # invertible: the rules below raise LinAlgError at a singular matrix)
    K = a.shape[0] - 1
    da = np.stack([(k + 1) * a[k + 1] for k in range(K)])
    try:
        x = _t_solve(a[:K], da)
    except np.linalg.LinAlgError:
        raise LinAlgError("det/slogdet: the Taylor rule needs an invertible matrix at the "
                          "expansion point (input %s)" % _desc(a[0])) from None
    return np.trace(x, axis1=-2, axis2=-1)


def _t_det(a):
    # d' = d g: (k + 1) d_{k+1} = sum_{j=0..k} d_j g_{k-j}
    K = a.shape[0] - 1
    d = np.empty((K + 1,) + a.shape[1:-2], dtype=a.dtype)
    d[0] = np.linalg.det(a[0])
    if K:
        g = _t_logdet_rate(a)
        for k in range(K):
            d[k + 1] = sum(d[j] * g[k - j] for j in range(k + 1)) / (k + 1)
    return d


def _t_slogdet(a):
    # (sign, log|det|) packed: d/dt log|det A| = Re g; a real sign is piecewise constant,
    # a complex one s = exp(i theta) has s' = i s Im g (as its VJP says)
    K = a.shape[0] - 1
    out = np.zeros((K + 1,) + a.shape[1:-2] + (2,), dtype=a.dtype)
    sign, logabs = np.linalg.slogdet(a[0])
    out[0, ..., 0] = sign
    out[0, ..., 1] = logabs
    if K:
        g = _t_logdet_rate(a)
        for k in range(K):
            out[k + 1, ..., 1] = g[k].real / (k + 1)
            if a.dtype.kind == "c":
                out[k + 1, ..., 0] = sum(out[j, ..., 0] * 1j * g[k - j].imag
                                         for j in range(k + 1)) / (k + 1)
    return out


def _transform_rules():
    reg = _default_rules(("cholesky", "det_cofactor", "det_cofactor_deriv", "log_abs_det",
                          "matrix_determinant", "matrix_inverse", "matrix_solve",
                          "matrix_triangular_solve"))
    reg["matrix_inverse"].defrule("taylor", _t_inverse)
    reg["matrix_solve"].defrule("taylor", _t_solve)
    reg["cholesky"].defrule("taylor", _t_cholesky)
    reg["matrix_determinant"].defrule("taylor", _t_det)
    reg["log_abs_det"].defrule("taylor", _t_slogdet)


_transform_rules()
