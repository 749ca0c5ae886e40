"""Matrix exponential: expm (batched over ``[..., N, N]``, float and complex), on NumPy's
matmul and solve.
"""

import numpy as np

from tapegrad.ops._registry import INEXACT, primitive
from tapegrad.ops.elementwise import (
    zeros_like,
)
from tapegrad.ops.linalg_base import (
    _T,
    LinAlgError,
    _default_rules,
    _desc,
    _lapack,
    _prep_square,
)
from tapegrad.ops.shape import concat

# ---------------------------------------------------------------------------
# matrix exponential: Al-Mohy and Higham (2009) scaling and squaring, on NumPy's matmul
# and solve.  The Padé degree m and the scaling 2^-s come from the 1-norms of powers of
# A, ||A^k||^(1/k), which can be far below ||A|| for non-normal matrices (Higham's 2005
# choice, from ||A|| alone, over-scales them), and from ell(A, m), the extra squarings
# that keep the rounding of the Padé approximant within the unit roundoff.  The powers
# A^2, A^4, A^6 (A^8) are products the approximant needs anyway; the norms of the others
# are bounded by products of these (an upper bound only ever picks a safer degree).

_PADE = {
    3: (120.0, 60.0, 12.0, 1.0),
    5: (30240.0, 15120.0, 3360.0, 420.0, 30.0, 1.0),
    7: (17297280.0, 8648640.0, 1995840.0, 277200.0, 25200.0, 1512.0, 56.0, 1.0),
    9: (17643225600.0, 8821612800.0, 2075673600.0, 302702400.0, 30270240.0, 2162160.0,
        110880.0, 3960.0, 90.0, 1.0),
    13: (64764752532480000.0, 32382376266240000.0, 7771770303897600.0,
         1187353796428800.0, 129060195264000.0, 10559470521600.0, 670442572800.0,
         33522128640.0, 1323241920.0, 40840800.0, 960960.0, 16380.0, 182.0, 1.0),
}
# theta_m: the largest ||A^k||^(1/k) bound for which the degree-m approximant's backward
# error is below 2^-53 (Higham 2005, Table 2.3)
_THETA = {3: 1.495585217958292e-2, 5: 2.539398330063230e-1, 7: 9.504178996162932e-1,
          9: 2.097847961257068e0, 13: 5.371920351148152e0}
# 1 / |c_{2m+1}|, the leading coefficient of the approximant's error series (Al-Mohy &
# Higham 2009, eq. 5.2 / Higham 2005, eqs. 2.2 and 2.6)
_ELL_C = {3: 100800.0, 5: 10059033600.0, 7: 4487938430976000.0,
          9: 5914384781877411840000.0, 13: 113250775606021113483283660800000000.0}
_U = 2.0 ** -53


def _norm1(x):
    return np.abs(x).sum(axis=-2).max(axis=-1)


class _AbsPowers:
    """ell(A 2^-s, m) per matrix: the extra squarings that keep the relative rounding of
    the degree-m Padé approximant below u, from ||(|A|)^(2m+1)||_1 / ||A||_1.  Exact
    here: for a non-negative B the column sums of B^p are 1^T B^p, p vector-matrix
    products; one chain 1^T |A|^p serves every m, and a scaling 2^-s only shifts the
    result (alpha scales by 2^(-2ms)), so the chain is computed once per matrix."""

    def __init__(self, a):
        self.absa = np.abs(a)
        self.col = self.absa.sum(axis=-2, keepdims=True)          # 1^T |A|
        self.norms = [None, self.col.max(axis=-1)[..., 0]]        # ||(|A|)^p||_1

    def ell(self, m, s=0):
        p = 2 * m + 1
        while len(self.norms) <= p:
            self.col = self.col @ self.absa
            self.norms.append(self.col.max(axis=-1)[..., 0])
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            alpha = self.norms[p] / self.norms[1]
            ell = np.ceil(np.log2(alpha / _ELL_C[m] / _U) / (2 * m) - s)
        ell = np.where(np.isfinite(ell), ell, 0)
        return np.maximum(ell, 0).astype(np.int64)


def _root(x, k):
    return x ** (1.0 / k)


def _lincomb(coeffs, mats, diag):
    """sum_j coeffs[j] mats[j] + diag I, in one buffer (these sums are most of the
    elementwise work of an approximant)."""
    out = np.multiply(mats[0], coeffs[0])
    tmp = np.empty_like(out)
    for c, m in zip(coeffs[1:], mats[1:]):
        out += np.multiply(m, c, out=tmp)
    out[..., np.arange(out.shape[-1]), np.arange(out.shape[-1])] += diag
    return out


def _pade(m, x, powers):
    """(V - U)^-1 (V + U) for the degree-m approximant; ``powers`` = [x^2, x^4, ...]."""
    b = _PADE[m]
    if m == 13:
        x2, x4, x6 = powers[:3]
        u = x @ (x6 @ _lincomb((b[13], b[11], b[9]), (x6, x4, x2), 0.0)
                 + _lincomb((b[7], b[5], b[3]), (x6, x4, x2), b[1]))
        v = x6 @ _lincomb((b[12], b[10], b[8]), (x6, x4, x2), 0.0)
        v += _lincomb((b[6], b[4], b[2]), (x6, x4, x2), b[0])
    else:
        evens = list(powers[:(m - 1) // 2])                    # x^2, ..., x^(m-1)
        u = x @ _lincomb(b[3::2], evens, b[1])
        v = _lincomb(b[2::2], evens, b[0])
    return np.linalg.solve(v - u, v + u)


def _expm_kernel(a):
    n = a.shape[-1]
    if n == 0 or a.size == 0:
        return np.array(a, copy=True)
    x = a.astype(np.complex128 if a.dtype.kind == "c" else np.float64, copy=False)

    def done(m, powers):
        return _pade(m, x, powers).astype(a.dtype, copy=False)

    powers = _AbsPowers(x)
    a2 = x @ x
    n2 = _norm1(a2)
    # ||A^4||^(1/4) and ||A^6||^(1/6) are at most ||A^2||^(1/2)
    if np.all(_root(n2, 2) <= _THETA[3]) and not powers.ell(3).any():
        return done(3, [a2])
    a4 = a2 @ a2
    n4 = _norm1(a4)
    d4 = _root(n4, 4)
    eta = np.maximum(d4, _root(n4 * n2, 6))                    # d6 <= (||A^4|| ||A^2||)^1/6
    for m in (3, 5):
        if np.all(eta <= _THETA[m]) and not powers.ell(m).any():
            return done(m, [a2, a4])
    a6 = a4 @ a2
    n6 = _norm1(a6)
    d6 = _root(n6, 6)
    ells = {}

    def ell_ok(m):
        if m not in ells:
            ells[m] = not powers.ell(m).any()
        return ells[m]

    if np.all(np.maximum(d6, d4) <= _THETA[7]) and ell_ok(7):     # d8 <= d4
        return done(7, [a2, a4, a6])
    d8 = d4
    if np.all(d6 <= _THETA[9]) and ell_ok(9):
        # degree 7 or 9 if ||A^8||^(1/8) is small enough: degree 9 needs A^8 anyway
        a8 = a4 @ a4
        d8 = _root(_norm1(a8), 8)
        if np.all(np.maximum(d6, d8) <= _THETA[7]) and ell_ok(7):
            return done(7, [a2, a4, a6])
        if np.all(np.maximum(d6, d8) <= _THETA[9]):
            return done(9, [a2, a4, a6, a8])
    # degree 13 on A / 2^s, each matrix of a batch with its own s
    eta3 = np.maximum(d6, d8)
    eta4 = np.maximum(d8, _root(n4 * n6, 10))                  # d10 <= (||A^4|| ||A^6||)^1/10
    eta5 = np.minimum(eta3, eta4)
    with np.errstate(divide="ignore", invalid="ignore"):
        s = np.ceil(np.log2(eta5 / _THETA[13]))
    s = np.maximum(np.where(np.isfinite(s), s, 0), 0).astype(np.int64)
    s = s + powers.ell(13, s)
    if s.any():
        scale = np.exp2(-s.astype(np.float64))[..., None, None]
        r = _pade(13, x * scale, [a2 * scale ** 2, a4 * scale ** 4, a6 * scale ** 6])
    else:
        r = _pade(13, x, [a2, a4, a6])
    smax = int(s.max()) if s.size else 0
    if smax:
        flat_r = r.reshape((-1, n, n))
        flat_s = s.reshape(-1)
        for step in range(smax):
            idx = np.nonzero(flat_s > step)[0]
            if idx.size == flat_r.shape[0]:
                flat_r = flat_r @ flat_r
            else:
                flat_r[idx] = flat_r[idx] @ flat_r[idx]
        r = flat_r.reshape(r.shape)
    return r.astype(a.dtype, copy=False)


@primitive("expm", dtypes=INEXACT, save_output=False, quiet=True)
def _expm(a):
    """Matrix exponential (Al-Mohy & Higham 2009 scaling and squaring, Padé degree 3 to
    13, computed in float64/complex128)."""
    try:
        return _lapack(_expm_kernel, a)
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
# rules of the other transforms, beside the forwards

_default_rules(("expm",))
