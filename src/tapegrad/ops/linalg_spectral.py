"""Hermitian eigendecomposition and SVD: eigh, eigvalsh, svd (with singular_values for
``compute_uv=False``), batched over ``[..., M, N]``, float and complex.

Decompositions with several outputs are one primitive whose outputs are packed in one
array and unpacked by slicing (ops/linalg_decomp.py).
"""

import numpy as np

from tapegrad.ops._registry import INEXACT, primitive, tensor
from tapegrad.ops.elementwise import (
    add,
    equal,
    multiply,
    reciprocal,
    safe_mul,
    square,
    subtract,
    where,
    zeros_like,
)
from tapegrad.ops.linalg_base import (
    _H,
    _check_float,
    _check_matrix,
    _cj,
    _col,
    _default_rules,
    _herm,
    _lapack,
    _lapack_checked,
    _mm,
    _prep_square,
    _re,
    _recip_gaps,
    _row,
    _where_failed,
)
from tapegrad.ops.linalg_matrix import _diag, _diag_part
from tapegrad.ops.shape import _fmt, concat, reshape

# ---------------------------------------------------------------------------
# symmetric eigendecomposition (packed: row 0 = eigenvalues, rows 1.. = eigenvectors)

@primitive("self_adjoint_eig", dtypes=INEXACT, save_inputs=False, quiet=True)
def _eigh(a):
    """Eigenvalues (ascending) and eigenvectors of symmetric a, packed [..., N+1, N]
    (np.linalg.eigh, lower triangle)."""
    n = a.shape[-1]
    w, v = _lapack_checked("self_adjoint_eig", "eigendecomposition did not converge",
                           np.linalg.eigh, np.linalg.eigh, a)
    out = np.empty(a.shape[:-2] + (n + 1, n), dtype=a.dtype)
    out[..., 0, :] = w
    out[..., 1:, :] = v
    return out


def _unpack_eigh(p):
    return p[..., 0, :], p[..., 1:, :]


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
    return _lapack_checked("self_adjoint_eigvals", "eigendecomposition did not converge",
                           np.linalg.eigvalsh, np.linalg.eigvalsh, a)


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


@primitive("svd", dtypes=INEXACT, save_inputs=False, quiet=True)
def _svd(a, full_matrices):
    """s, u, v of a = u diag(s) v^H (np.linalg.svd), packed [..., k + m*ku + n*kv] in a's
    dtype (for complex a, s is stored with a zero imaginary part)."""
    m, n = a.shape[-2:]
    k, ku, kv = _svd_sizes(m, n, full_matrices)
    batch = a.shape[:-2]
    try:
        u, s, vh = _lapack(np.linalg.svd, a, full_matrices=full_matrices)
    except np.linalg.LinAlgError:
        raise _where_failed("svd", a, np.linalg.svd, "SVD did not converge") from None
    out = np.empty(batch + (k + m * ku + n * kv,), dtype=a.dtype)
    out[..., :k] = s
    out[..., k:k + m * ku] = u.reshape(batch + (m * ku,))
    v = vh.swapaxes(-1, -2)
    out[..., k + m * ku:] = (np.conj(v) if a.dtype.kind == "c" else v).reshape(batch + (n * kv,))
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


def _skew(x):
    return subtract(x, _H(x))


@_svd.defvjp
def _svd_vjp(g, ans, a, full_matrices):
    # PyTorch's svd_backward, written in the user-visible (conjugate) convention on
    # conj(g) and conjugated back (the internal convention, ops/complex.py); for real
    # input every _cj is the tensor itself:
    #   gA = U [F o (skew(U^H gU) S + S skew(V^H gV)) + diag(gs) + i Im diag(U^H gU)/S] V^H
    #        + (I - U U^H) gU S^-1 V^H + U S^-1 gV^H (I - V V^H)
    # with F_ij = 1/(s_j^2 - s_i^2) off the diagonal.  The imaginary diagonal term is the
    # complex gauge: a loss invariant under u_i -> u_i e^{it}, v_i -> v_i e^{it} gets the
    # same gradient whichever phases LAPACK picked (PyTorch's condition).
    m, n = _svd_thin(a, ans, full_matrices, "gradient")
    s, u, v = _unpack_svd(ans, m, n, full_matrices)
    gs, gu, gv = _unpack_svd(g, m, n, full_matrices)
    gs, gu, gv = _re(gs), _cj(gu), _cj(gv)
    k = min(m, n)
    f = _recip_gaps(square(s))                       # 1 / (s_j^2 - s_i^2)
    uhgu = _mm(_cj(u), gu, ta=True)
    vhgv = _mm(_cj(v), gv, ta=True)
    j = safe_mul(_skew(uhgu), f)
    kk = safe_mul(_skew(vhgv), f)
    inner = add(add(multiply(j, _row(s)), multiply(_col(s), kk)), _diag(gs, rows=k, cols=k))
    sinv = reciprocal(s)
    if u.dtype.kind == "c":
        im = subtract(_diag_part(uhgu), _re(_diag_part(uhgu)))     # i Im diag(U^H gU)
        inner = add(inner, _diag(safe_mul(im, sinv), rows=k, cols=k))
    ga = _mm(u, _mm(inner, _cj(v), tb=True))
    sinv = _row(sinv)
    if m > k:
        ga = add(ga, _mm(safe_mul(subtract(gu, _mm(u, uhgu)), sinv), _cj(v), tb=True))
    if n > k:
        ga = add(ga, _mm(u, _H(safe_mul(subtract(gv, _mm(v, vhgv)), sinv))))
    return _cj(ga)


@_svd.defjvp
def _svd_jvp(t, ans, a, full_matrices):
    # JAX's svd_jvp_rule, complex included: the imaginary diagonal of U^H dA V goes to dU
    # (the same gauge as the VJP above)
    m, n = _svd_thin(a, ans, full_matrices, "forward-mode derivative")
    s, u, v = _unpack_svd(ans, m, n, full_matrices)
    da = t[0]
    dp = _mm(_cj(u), _mm(da, v), ta=True)            # U^H dA V  (k x k)
    ds = _re(_diag_part(dp))
    f = _recip_gaps(square(s))
    dss = multiply(dp, _row(s))                      # dP S
    sds = multiply(_col(s), dp)                      # S dP
    dui = safe_mul(add(dss, _H(dss)), f)
    if u.dtype.kind == "c":
        im = subtract(_diag_part(dp), ds)            # i Im diag(U^H dA V)
        dui = add(dui, _diag(multiply(im, _inv_nonzero(s)), rows=dp.shape[-1],
                             cols=dp.shape[-1]))
    du = _mm(u, dui)
    dv = _mm(v, safe_mul(add(sds, _H(sds)), f))
    sinv = _row(_inv_nonzero(s))
    if m > n:
        dav = _mm(da, v)
        du = add(du, multiply(subtract(dav, _mm(u, _mm(_cj(u), dav, ta=True))), sinv))
    if n > m:
        dau = _mm(_cj(da), u, ta=True)
        dv = add(dv, multiply(subtract(dau, _mm(v, _mm(_cj(v), dau, ta=True))), sinv))
    batch = tuple(ans.shape[:-1])
    return concat([ds, reshape(du, batch + (m * du.shape[-1],)),
                   reshape(dv, batch + (n * dv.shape[-1],))], axis=-1)


@primitive("singular_values", dtypes=INEXACT, save_output=False, quiet=True)
def _svals(a):
    """Singular values, descending (np.linalg.svd(compute_uv=False)); real for complex a."""
    try:
        return _lapack(np.linalg.svd, a, compute_uv=False)
    except np.linalg.LinAlgError:
        raise _where_failed("singular_values", a, np.linalg.svd,
                            "SVD did not converge") from None


def _as_complex(x, like):
    if like.dtype.kind != "c":
        return x
    from tapegrad.ops.complex import _complex

    return _complex(x, zeros_like(x))


@_svals.defvjp
def _svals_vjp(g, ans, a):
    # ds_i = Re(u_i^H dA v_i): internal-convention cotangent conj(U) diag(g) V^T
    m, n = a.shape[-2:]
    _, u, v = _unpack_svd(_svd(a, full_matrices=False), m, n, False)
    return _mm(multiply(_cj(u), _row(_as_complex(g, u))), v, tb=True)


@_svals.defjvp
def _svals_jvp(t, ans, a):
    m, n = a.shape[-2:]
    _, u, v = _unpack_svd(_svd(a, full_matrices=False), m, n, False)
    d = _diag_part(_mm(_cj(u), _mm(t[0], v), ta=True))
    if d.dtype.kind == "c":
        from tapegrad.ops.complex import _real

        d = _real(d)
    return d


def svd(tensor_, full_matrices=False, compute_uv=True, name=None):
    """Singular value decomposition of ``[..., M, N]`` (float or complex): ``(s, u, v)`` in
    TF's order, with ``a = u @ diag(s) @ adjoint(v)`` (v, not v^H) and s real, descending;
    ``compute_uv=False`` returns s alone.

    Gradients follow PyTorch: the singular values' gradient is always finite; the
    singular vectors' is infinite/NaN at repeated (or, for non-square input, zero)
    singular values, but only where the loss depends on those vectors.  For complex
    input each pair (u_i, v_i) is determined only up to a common phase e^{it} (LAPACK
    picks one): only a loss invariant under that change (``|u|``, ``u @ diag(s) @ v^H``,
    ``u_i^H x``-magnitudes, s) has a well-defined gradient, and it is that gradient
    tapegrad returns; a phase-dependent loss gets the gradient of one gauge choice
    (PyTorch raises there instead).  Gradients of ``full_matrices=True`` for a
    non-square input raise NotImplementedError."""
    x = tensor(tensor_, op="svd")
    _check_float(x, "svd", complex_ok=True)
    _check_matrix(x, "svd")
    if not compute_uv:
        return _svals(x)
    full = bool(full_matrices)
    s, u, v = _unpack_svd(_svd(x, full_matrices=full), x.shape[-2], x.shape[-1], full)
    if x.dtype.kind == "c":  # real singular values, as NumPy returns them
        from tapegrad.ops.complex import _real

        s = _real(s)
    return s, u, v


# ---------------------------------------------------------------------------
# rules of the other transforms, beside the forwards

def _t_eigh_series(a):
    """Eigenvalue and eigenvector series of the Hermitian part of A(t), for distinct
    eigenvalues of A_0 (repeated ones give inf/nan, like the JVP).  In the eigenbasis Q
    of A_0, V(t) = Q U(t), B_k = Q^H A_k Q: B(t) U(t) = U(t) Lambda(t) gives at order k
    M_k = sum_{j=1..k} B_j U_{k-j} - sum_{j=1..k-1} U_j Lambda_{k-j}, lambda_k = diag M_k,
    U_k = F o M_k off the diagonal (F_il = 1 / (lambda_l - lambda_i)); the diagonal is
    the JVP's gauge, V^H V' with a zero diagonal:
    U_k,ii = -(1/k) sum_{j=1..k-1} (k - j) (U_j^H U_{k-j})_ii."""
    K = a.shape[0] - 1
    w, q = np.linalg.eigh(a[0])
    n = a.shape[-1]
    qh = np.conj(np.swapaxes(q, -1, -2))
    eye = np.eye(n, dtype=bool)
    with np.errstate(divide="ignore"):
        f = np.where(eye, 0, 1.0 / np.where(eye, 1, w[..., None, :] - w[..., :, None]))
    b = [None] + [qh @ (0.5 * (a[k] + np.conj(np.swapaxes(a[k], -1, -2)))) @ q
                  for k in range(1, K + 1)]
    lam = [w]
    u = [np.broadcast_to(np.eye(n, dtype=q.dtype), q.shape)]
    idx = np.arange(n)
    for k in range(1, K + 1):
        m = sum(b[j] @ u[k - j] for j in range(1, k + 1))
        m = m - sum(u[j] * lam[k - j][..., None, :] for j in range(1, k))
        lam.append(np.real(m[..., idx, idx]))
        uk = m * f
        if k > 1:
            gauge = sum((k - j) * (np.conj(np.swapaxes(u[j], -1, -2)) @ u[k - j])
                        for j in range(1, k))
            uk[..., idx, idx] = -gauge[..., idx, idx] / k
        u.append(uk)
    return np.stack(lam), np.stack([q @ x for x in u])


def _t_eigh(a):
    lam, v = _t_eigh_series(a)
    out = np.empty(a.shape[:-2] + (a.shape[-1] + 1, a.shape[-1]), dtype=a.dtype)
    out[..., 0, :] = lam
    out[..., 1:, :] = v
    return out


def _t_eigvalsh(a):
    return _t_eigh_series(a)[0].astype(np.finfo(a.dtype).dtype, copy=False)


_reg = _default_rules(("self_adjoint_eig", "self_adjoint_eigvals", "singular_values", "svd"))
_reg["self_adjoint_eig"].defrule("taylor", _t_eigh)
_reg["self_adjoint_eigvals"].defrule("taylor", _t_eigvalsh)
del _reg
