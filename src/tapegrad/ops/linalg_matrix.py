"""Structural matrix ops over the last two axes: diagonals, bands, trace, adjoint, cross.

All are linear, so each VJP and JVP is another op of this family (differentiable to any
order).  Batched over leading axes, any numeric dtype (complex included).
"""

import numpy as np

from tapegrad.ops._registry import primitive, tensor
from tapegrad.ops.elementwise import multiply, subtract, zeros_like
from tapegrad.ops.reductions import reduce_sum
from tapegrad.ops.shape import _fmt, matrix_transpose, stack, unstack


def _need_matrix(x, op):
    if x.ndim < 2:
        raise ValueError("%s: needs a matrix or a batch of matrices (rank >= 2), got shape %s"
                         % (op, _fmt(x.shape)))


@primitive("matrix_diag_part", save_inputs=False, save_output=False)
def _diag_part(x):
    """The main diagonal of each matrix: [..., M, N] -> [..., min(M, N)]."""
    return np.diagonal(x, axis1=-2, axis2=-1).copy()


@_diag_part.defvjp
def _diag_part_vjp(g, ans, x):
    return _diag(g, rows=x.shape[-2], cols=x.shape[-1])


@_diag_part.defjvp
def _diag_part_jvp(t, ans, x):
    return _diag_part(t[0])


@primitive("matrix_diag", save_inputs=False, save_output=False)
def _diag(d, rows, cols):
    """[..., K] -> [..., rows, cols] with d on the main diagonal, zeros elsewhere."""
    out = np.zeros(d.shape[:-1] + (rows, cols), dtype=d.dtype)
    k = min(rows, cols)
    idx = np.arange(k)
    out[..., idx, idx] = d[..., :k]
    return out


@_diag.defvjp
def _diag_vjp(g, ans, d, rows, cols):
    return _diag_part(g)


@_diag.defjvp
def _diag_jvp(t, ans, d, rows, cols):
    return _diag(t[0], rows=rows, cols=cols)


@primitive("matrix_set_diag", save_inputs=False, save_output=False)
def _set_diag(x, d):
    """x with its main diagonals replaced by d."""
    out = np.array(x, copy=True)
    k = min(x.shape[-2], x.shape[-1])
    idx = np.arange(k)
    out[..., idx, idx] = d
    return out


@_set_diag.defvjp
def _set_diag_vjp(g, ans, x, d):
    d = _diag_part(g)
    return _set_diag(g, zeros_like(d)), d


@_set_diag.defjvp
def _set_diag_jvp(t, ans, x, d):
    tx, td = t
    if tx is None:
        return _diag(td, rows=ans.shape[-2], cols=ans.shape[-1])
    if td is None:
        td = zeros_like(_diag_part(tx))
    return _set_diag(tx, td)


def diag_part(input, name=None, k=0):
    """TF's ``matrix_diag_part``: the main diagonal of each matrix in ``[..., M, N]``."""
    x = tensor(input, op="diag_part")
    _need_matrix(x, "diag_part")
    if k != 0:
        raise ValueError("diag_part: only the main diagonal (k=0) is supported, got k=%r" % k)
    return _diag_part(x)


def diag(diagonal, name=None, k=0):
    """TF's ``matrix_diag``: ``[..., K]`` -> ``[..., K, K]`` with ``diagonal`` on the main
    diagonal."""
    d = tensor(diagonal, op="diag")
    if d.ndim < 1:
        raise ValueError("diag: needs rank >= 1, got a scalar")
    if k != 0:
        raise ValueError("diag: only the main diagonal (k=0) is supported, got k=%r" % k)
    n = d.shape[-1]
    return _diag(d, rows=n, cols=n)


def set_diag(input, diagonal, name=None, k=0):
    """TF's ``matrix_set_diag``: ``input`` with its main diagonal replaced."""
    x = tensor(input, op="set_diag")
    _need_matrix(x, "set_diag")
    d = tensor(diagonal, op="set_diag", dtype=x.dtype)
    want = x.shape[:-2] + (min(x.shape[-2:]),)
    if d.shape != want:
        raise ValueError("set_diag: diagonal of shape %s does not fit matrices of shape %s "
                         "(expected %s)" % (_fmt(d.shape), _fmt(x.shape), _fmt(want)))
    if k != 0:
        raise ValueError("set_diag: only the main diagonal (k=0) is supported, got k=%r" % k)
    return _set_diag(x, d)


def _band_mask(m, n, num_lower, num_upper):
    i = np.arange(m)[:, None]
    j = np.arange(n)[None, :]
    keep = np.ones((m, n), dtype=bool)
    if num_lower >= 0:
        keep &= (i - j) <= num_lower
    if num_upper >= 0:
        keep &= (j - i) <= num_upper
    return keep


def band_part(input, num_lower, num_upper, name=None):
    """TF's ``matrix_band_part``: keep ``num_lower`` sub- and ``num_upper`` superdiagonals
    (a negative count keeps the whole triangle); ``band_part(x, -1, 0)`` is the lower
    triangle.  Linear (a constant mask), so it differentiates to any order."""
    x = tensor(input, op="band_part")
    _need_matrix(x, "band_part")
    for v in (num_lower, num_upper):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
            raise TypeError("band_part: num_lower and num_upper must be ints, got %r" % (v,))
    mask = _band_mask(x.shape[-2], x.shape[-1], int(num_lower), int(num_upper))
    return multiply(x, mask.astype(x.dtype))


def trace(x, name=None):
    """Sum of the main diagonal of each matrix in ``[..., M, N]``."""
    x = tensor(x, op="trace")
    _need_matrix(x, "trace")
    return reduce_sum(_diag_part(x), -1)


def adjoint(matrix, name=None):
    """Conjugate transpose of the last two axes (the transpose for real dtypes)."""
    x = tensor(matrix, op="adjoint")
    _need_matrix(x, "adjoint")
    t = matrix_transpose(x)
    if x.dtype.kind == "c":
        from tapegrad.ops.complex import conj

        t = conj(t)
    return t


def cross(a, b, name=None):
    """Cross product of 3-vectors over the last axis (shapes must match, as in TF)."""
    a = tensor(a, op="cross")
    b = tensor(b, op="cross", dtype=a.dtype)
    if a.shape != b.shape or not a.ndim or a.shape[-1] != 3:
        raise ValueError("cross: needs two tensors of one shape [..., 3], got %s and %s"
                         % (_fmt(a.shape), _fmt(b.shape)))
    a0, a1, a2 = unstack(a, axis=-1)
    b0, b1, b2 = unstack(b, axis=-1)
    return stack([subtract(multiply(a1, b2), multiply(a2, b1)),
                  subtract(multiply(a2, b0), multiply(a0, b2)),
                  subtract(multiply(a0, b1), multiply(a1, b0))], axis=-1)


# ---------------------------------------------------------------------------
# rules of the other transforms: linear in their operands, batched over leading axes

def _transform_rules():
    from tapegrad import _core
    from tapegrad.ops import _batching as Bt
    from tapegrad.ops._registry import NotSupported

    reg = _core.registered()

    def linear(forward):
        def rule(*xs, **params):
            return np.stack([forward(*[x[k] for x in xs], **params)
                             for k in range(xs[0].shape[0])])

        return rule

    for name in ("matrix_diag", "matrix_diag_part", "matrix_set_diag"):
        reg[name].defrule("taylor", linear(reg[name].cpu))
        reg[name].defrule("batch", Bt.leading)
        reg[name].defrule("onnx", NotSupported("not mapped to ONNX yet"))


_transform_rules()
