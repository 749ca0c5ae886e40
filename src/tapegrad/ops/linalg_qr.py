"""QR, pseudo-inverse and least squares: qr, pinv, lstsq (batched over ``[..., M, N]``).
"""

import functools

import numpy as np

from tapegrad.ops._registry import INEXACT, primitive, tensor
from tapegrad.ops.elementwise import (
    add,
    multiply,
    negative,
    subtract,
    zeros_like,
)
from tapegrad.ops.linalg_base import (
    _H,
    _T,
    LinAlgError,
    _check_float,
    _check_matrix,
    _cj,
    _default_rules,
    _eye,
    _lapack,
    _lapack_checked,
    _mm,
    _re,
)
from tapegrad.ops.linalg_matrix import _diag, _diag_part, band_part
from tapegrad.ops.linalg_solve import _cholesky, _tri_solve, cholesky_solve
from tapegrad.ops.shape import _fmt, concat, reshape

# ---------------------------------------------------------------------------
# QR (packed along the last axis: q flattened | r flattened)

def _qr_sizes(m, n, full):
    k = min(m, n)
    return (m, m) if full else (k, k)


@primitive("qr", dtypes=INEXACT, save_inputs=False, quiet=True)
def _qr(a, full_matrices):
    """q, r of a = q r (np.linalg.qr), packed [..., m*kq + kr*n]."""
    m, n = a.shape[-2:]
    kq, kr = _qr_sizes(m, n, full_matrices)
    batch = a.shape[:-2]
    q, r = _lapack(np.linalg.qr, a, mode="complete" if full_matrices else "reduced")
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
    # TF's QrGrad for m >= n (A = QR, R square upper triangular), in the user-visible
    # convention: gq, gr and the result are conjugated by the caller.  X R^-H is one
    # triangular solve, R X^H = ... transposed.  For complex input TF adds a correction
    # for the imaginary part of diag(R gR^H - gQ^H Q) (the phase freedom of the diagonal
    # of R that LAPACK fixes).
    qdq = _mm(_cj(q), gq, ta=True)
    rdr = _mm(r, _cj(gr), tb=True)
    tril = band_part(add(subtract(qdq, _H(qdq)), subtract(rdr, _H(rdr))), -1, 0)
    ret = _mm(q, add(gr, _rinv_h_lead(tril, r, q)))
    if q.shape[-2] != q.shape[-1]:
        # (I - Q Q^H) gQ R^-H: the part of gQ outside Q's span.  For a square Q it is
        # zero, but computed it is rounding noise of size eps that R^-H multiplies by
        # 1/r_kk: at a square input of rank m-1 (where Q and R are still differentiable:
        # Q's last column is fixed by the others) that noise was the whole answer.
        # The tril term is safe there: its last column is exactly zero.
        ret = add(ret, _rinv_h(subtract(gq, _mm(q, qdq)), r))
    if q.dtype.kind == "c":
        d = _diag_part(subtract(rdr, _H(qdq)))
        corr = _diag(subtract(d, _re(d)), rows=r.shape[-1], cols=r.shape[-1])
        ret = add(ret, _rinv_h(_mm(q, _H(corr)), r))
    return ret


def _rinv_h(x, r):
    # x R^-H for upper-triangular R: (R^-1 x^H)^H
    return _H(_tri_solve(r, _H(x), lower=False, adjoint=False))


def _square_real(q):
    return q.shape[-2] == q.shape[-1] and q.shape[-1] > 1 and q.dtype.kind != "c"


def _rinv_h_lead(x, r, q):
    # x R^-H where, for a square real Q, x's last column is exactly zero (the skew
    # part's diagonal): only R's leading (k-1)x(k-1) block enters, so an input of rank
    # k-1, where LAPACK may put an exact 0 in r[k-1, k-1], still has its derivative.
    if not _square_real(q):
        return _rinv_h(x, r)
    k = r.shape[-1]
    lead = _rinv_h(x[..., :, :k - 1], r[..., :k - 1, :k - 1])
    return concat([lead, x[..., :, k - 1:]], axis=-1)


def _qr_check(a, full_matrices, what):
    m, n = a.shape[-2:]
    if full_matrices and m > n:
        raise NotImplementedError(
            "qr: the %s of qr(full_matrices=True) with more rows than columns %s is not "
            "defined (the extra columns of q are an arbitrary basis; TF refuses it too): "
            "use full_matrices=False" % (what, _fmt(a.shape)))
    return m, n


def _rank_error(what, a):
    m, n = a.shape[-2:]
    need = ("rank >= %d (q square: its last column is then still fixed by the others)"
            % (m - 1) if m <= n else "full column rank %d" % n)
    return LinAlgError(
        "qr: the %s is not defined at this input %s %s: r has a zero on its diagonal, "
        "so q is not a differentiable function of the first %d columns; QR's derivative "
        "needs %s" % (what, _fmt(a.shape), a.dtype.name, min(m, n), need))


def _naming_rank_errors(what):
    # a rule's inner triangular solve fails on r's zero pivot: say so in qr's terms
    def wrap(rule):
        @functools.wraps(rule)
        def checked(t, ans, a, full_matrices):
            try:
                return rule(t, ans, a, full_matrices)
            except LinAlgError:
                raise _rank_error(what, a) from None
        return checked
    return wrap


@_qr.defvjp
@_naming_rank_errors("gradient")
def _qr_vjp(g, ans, a, full_matrices):
    m, n = _qr_check(a, full_matrices, "gradient")
    q, r = _unpack_qr(ans, m, n, full_matrices)
    gq, gr = _unpack_qr(g, m, n, full_matrices)
    gq, gr = _cj(gq), _cj(gr)           # TF's formulas are in the user-visible convention
    if m >= n:
        return _cj(_qr_vjp_deep(q, r, gq, gr))
    # wide: A = [X | Y], X = Q U square; r = [U | Q^H Y]
    y = _mm(q, r[..., m:])            # Y = Q (Q^H Y): the input is not saved
    u = r[..., :m]
    dv = gr[..., m:]
    dq = add(gq, _mm(y, _cj(dv), tb=True))
    dx = _qr_vjp_deep(q, u, dq, gr[..., :m])
    dy = _mm(q, dv)
    return _cj(concat([dx, dy], axis=-1))


def _qr_jvp_deep(q, r, dx):
    # JAX's qr_jvp_rule: dQ = Q (do - Q^H dA R^-1) + dA R^-1, dR = (Q^H dA R^-1 - do) R with
    # do the skew-Hermitian part of the strictly lower triangle, plus i Im diag(Q^H dA R^-1)
    # for complex input (R's diagonal stays real)
    if _square_real(q):
        # square real Q: Q Q^H = I, so dQ = Q do and dR = Q^H dA - do R, and do needs
        # only the strictly lower part of Q^H dA R^-1, whose columns :k-1 use R's
        # leading block alone.  The general form below subtracts dA R^-1 from itself,
        # which at an input of rank k-1 is 1/r_kk times rounding noise (or 0/0).
        k = r.shape[-1]
        lead = _right_tri_solve(dx[..., :, :k - 1], r[..., :k - 1, :k - 1])
        low = band_part(_mm(q, lead, ta=True), -1, 0)
        low = subtract(low, _diag(_diag_part(low), rows=k, cols=k - 1))
        low = concat([low, zeros_like(dx[..., :, k - 1:])], axis=-1)
        do = subtract(low, _H(low))
        return _mm(q, do), subtract(_mm(q, dx, ta=True), _mm(do, r))
    dx_rinv = _right_tri_solve(dx, r)
    qt = _mm(_cj(q), dx_rinv, ta=True)
    low = band_part(qt, -1, 0)
    dg = _diag_part(low)
    low = subtract(low, _diag(dg, rows=low.shape[-2], cols=low.shape[-1]))
    do = subtract(low, _H(low))
    if q.dtype.kind == "c":
        do = add(do, _diag(subtract(dg, _re(dg)), rows=low.shape[-2], cols=low.shape[-1]))
    dq = add(_mm(q, subtract(do, qt)), dx_rinv)
    dr = _mm(subtract(qt, do), r)
    return dq, dr


@_qr.defjvp
@_naming_rank_errors("forward-mode derivative")
def _qr_jvp(t, ans, a, full_matrices):
    m, n = _qr_check(a, full_matrices, "forward-mode derivative")
    q, r = _unpack_qr(ans, m, n, full_matrices)
    da = t[0]
    if m >= n:
        dq, dr = _qr_jvp_deep(q, r, da)
    else:
        dq, du = _qr_jvp_deep(q, r[..., :m], da[..., :m])
        y = _mm(q, r[..., m:])            # Y = Q (Q^H Y): the input is not saved
        dr = concat([du, add(_mm(_cj(dq), y, ta=True), _mm(_cj(q), da[..., m:], ta=True))],
                    axis=-1)
    batch = tuple(ans.shape[:-1])
    return concat([reshape(dq, batch + (dq.shape[-2] * dq.shape[-1],)),
                   reshape(dr, batch + (dr.shape[-2] * dr.shape[-1],))], axis=-1)


def qr(input, full_matrices=False, name=None):
    """(q, r) with ``input = q @ r``, q orthonormal columns, r upper triangular, for
    ``[..., M, N]`` float or complex (np.linalg.qr; for complex input LAPACK's
    Householder QR gives r a real diagonal, which fixes the phases, so every loss of q
    and r has a gradient).  The gradient assumes r has a non-zero diagonal (full
    column rank of the leading square block), as in TF and PyTorch; gradients of
    ``full_matrices=True`` with M > N raise NotImplementedError."""
    x = tensor(input, op="qr")
    _check_float(x, "qr", complex_ok=True)
    _check_matrix(x, "qr")
    return _unpack_qr(_qr(x, full_matrices=bool(full_matrices)), x.shape[-2], x.shape[-1],
                      bool(full_matrices))


# ---------------------------------------------------------------------------
# pseudo-inverse and least squares

@primitive("pinv", dtypes=INEXACT, save_inputs=True, quiet=True)
def _pinv(a, rcond):
    """Moore-Penrose pseudo-inverse (np.linalg.pinv, relative cutoff ``rcond``)."""
    return _lapack_checked("pinv", "SVD did not converge", np.linalg.svd, np.linalg.pinv,
                           a, rcond=rcond)


def _pinv_rule(a, p, d):
    # Golub & Pereyra: dP = -P dA P + P P^H dA^H (I - A P) + (I - P A) dA^H P^H P
    m, n = a.shape[-2:]
    i_ap = subtract(_eye(m, a.dtype), _mm(a, p))
    i_pa = subtract(_eye(n, a.dtype), _mm(p, a))
    dh = _H(d)
    return add(add(negative(_mm(p, _mm(d, p))), _mm(_mm(p, _H(p)), _mm(dh, i_ap))),
               _mm(i_pa, _mm(dh, _mm(_H(p), p))))


@_pinv.defvjp
def _pinv_vjp(g, ans, a, rcond):
    # the adjoint of the rule above in the user-visible convention, on conj(g) and
    # conjugated back (for real input the _cj are no-ops):
    #   gA = -P^H G P^H + (I - A P) G^H P P^H + P^H P G^H (I - P A)
    m, n = a.shape[-2:]
    p = ans
    g = _cj(g)
    ph = _H(p)
    i_ap = subtract(_eye(m, a.dtype), _mm(a, p))
    i_pa = subtract(_eye(n, a.dtype), _mm(p, a))
    gh = _H(g)
    t1 = negative(_mm(ph, _mm(g, ph)))
    t2 = _mm(i_ap, _mm(gh, _mm(p, ph)))
    t3 = _mm(_mm(ph, p), _mm(gh, i_pa))
    return _cj(add(add(t1, t2), t3))


@_pinv.defjvp
def _pinv_jvp(t, ans, a, rcond):
    return _pinv_rule(a, ans, t[0])


def pinv(a, rcond=None, validate_args=False, name=None):
    """Moore-Penrose pseudo-inverse of ``[..., M, N]``; singular values below
    ``rcond * max(s)`` are dropped (default ``10 * max(M, N) * eps``, TF's).  The
    gradient is that of a constant-rank pseudo-inverse (it jumps where the rank does)."""
    x = tensor(a, op="pinv")
    _check_float(x, "pinv", complex_ok=True)
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
# rules of the other transforms, beside the forwards

_default_rules(("pinv", "qr"))
