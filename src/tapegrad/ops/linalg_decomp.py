"""Matrix decompositions and solvers: inv, solve, cholesky, triangular_solve, det, slogdet,
eigh, svd, qr, pinv, expm (batched over leading axes ``[..., M, N]``, float32/float64 and
complex64/complex128).

This module is the family's one name (``tg.ops.linalg_decomp``, what ``tg.linalg``
imports); the ops live in modules by kind: ``linalg_solve`` (inv, solve, triangular
solve, Cholesky, determinants), ``linalg_spectral`` (eigh, eigvalsh, svd),
``linalg_qr`` (qr, pinv, lstsq), ``linalg_expm``, with the shared checks and helpers in
``linalg_base``.

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

from tapegrad.ops.linalg_base import LinAlgError
from tapegrad.ops.linalg_expm import expm
from tapegrad.ops.linalg_qr import lstsq, pinv, qr
from tapegrad.ops.linalg_solve import (
    cholesky,
    cholesky_solve,
    det,
    inv,
    logdet,
    slogdet,
    solve,
    triangular_solve,
)
from tapegrad.ops.linalg_spectral import eigh, eigvalsh, svd

__all__ = ["LinAlgError", "cholesky", "cholesky_solve", "det", "eigh", "eigvalsh", "expm",
           "inv", "logdet", "lstsq", "pinv", "qr", "slogdet", "solve", "svd",
           "triangular_solve"]
