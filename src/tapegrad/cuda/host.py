"""GPU forwards that run on the host, for primitives with no CUDA kernel.

Decompositions (LAPACK), special functions (scipy.special), FFTs and the complex-number
primitives have no kernel in kernels.cu.  As TensorFlow places an op without a GPU
kernel on the CPU, their GPU forward copies the operands to the host, runs the CPU
forward, and copies the result back to the operands' device: correct and complete, at
the price of two transfers per call (a cuSOLVER/cuFFT binding would remove them).
"""

import numpy as np

from .array import CudaArray

# the primitives of ops/special.py, linalg_*.py, complex.py, fft.py
HOST_OPS = (
    "tan", "asin", "acos", "atan", "sinh", "cosh", "asinh", "acosh", "atanh", "atan2",
    "erf", "erfc", "erfinv", "ndtri", "lgamma", "digamma", "polygamma", "igamma", "igammac",
    "betainc", "zeta", "bessel_i0e", "bessel_i1e",
    "matrix_inverse", "matrix_solve", "matrix_triangular_solve", "cholesky",
    "matrix_determinant", "det_cofactor", "det_cofactor_deriv", "log_abs_det",
    "self_adjoint_eig", "self_adjoint_eigvals", "svd", "singular_values", "qr", "pinv", "expm",
    "matrix_diag_part", "matrix_diag", "matrix_set_diag",
    "complex", "real", "imag", "conj", "complex_abs", "angle",
    "fft_c2c", "fft_r2c", "fft_c2r",
)


def host_forward(name):
    def forward(*args, **params):
        from tapegrad import _core

        cpu = _core.registry()[name].cpu
        device = 0
        host = []
        for a in args:
            if isinstance(a, CudaArray):
                device = a.device_index
                host.append(a.to_numpy())
            else:
                host.append(a)
        return CudaArray.from_numpy(np.ascontiguousarray(cpu(*host, **params)), device)

    forward.__name__ = name
    forward.__doc__ = "GPU %s: computed on the host (no CUDA kernel), result copied back." % name
    return forward


def host_impls():
    return {name: host_forward(name) for name in HOST_OPS}
