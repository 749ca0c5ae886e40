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
    _prep_square,
)
from tapegrad.ops.shape import concat

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
# rules of the other transforms, beside the forwards

_default_rules(("expm",))
