"""``tg.linalg``: linear algebra over the last two axes, batched over leading ones
(TensorFlow's ``tf.linalg`` names).  A namespace only: every function is defined in
``tapegrad.ops`` (linalg, linalg_decomp and its linalg_* modules, linalg_matrix).

All ops take ``[..., M, N]`` float32/float64 and complex64/complex128 tensors (complex
SVD and eigh gradients need phase-invariant losses: docs/scientific.md).  Errors name
the op, shapes and dtypes; factorizations that fail raise ``tg.linalg.LinAlgError`` and
say which batch element.
"""

from tapegrad.ops.creation import eye
from tapegrad.ops.linalg import einsum, matmul, norm, tensordot
from tapegrad.ops.linalg_decomp import (
    LinAlgError,
    cholesky,
    cholesky_solve,
    det,
    eigh,
    eigvalsh,
    expm,
    inv,
    logdet,
    lstsq,
    pinv,
    qr,
    slogdet,
    solve,
    svd,
    triangular_solve,
)
from tapegrad.ops.linalg_matrix import (
    adjoint,
    band_part,
    cross,
    diag,
    diag_part,
    set_diag,
    trace,
)
from tapegrad.ops.shape import matrix_transpose

# TF 1.x / tf.linalg aliases
transpose = matrix_transpose
matrix_inverse = inv
matrix_solve = solve
matrix_triangular_solve = triangular_solve
matrix_determinant = det
log_matrix_determinant = slogdet
self_adjoint_eig = eigh
self_adjoint_eigvals = eigvalsh
matrix_diag = diag
matrix_diag_part = diag_part
matrix_set_diag = set_diag
matrix_band_part = band_part
tensor_diag = diag

__all__ = sorted(n for n in dir() if not n.startswith("_"))
