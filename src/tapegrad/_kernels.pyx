# CPU kernels: nogil pointer loops over fused float types.
#
# Matrix products are not here: they go through NumPy's matmul, which hands BLAS
# transposed operands as flags (no copies) and, crucially, uses the same OpenBLAS
# thread pool as the rest of the process.  Calling SciPy's cython_blas instead brings
# a second OpenBLAS with its own spinning threads; alternating the two measured 170x
# slower on 2 cores (see README, "Design notes").
#
# Every cpdef wrapper validates dtypes, shapes and layouts before it releases the
# GIL; the loops below trust what the wrappers checked.  Callers pass NumPy arrays.

cimport cython
cimport numpy as cnp
from libc.math cimport exp, expf, log, sqrt, sqrtf
from libc.string cimport memcpy

import numpy as np

cnp.import_array()

cdef inline tuple _shp(cnp.ndarray a):
    return (<object>a).shape


cdef enum:
    K_ADD = 0
    K_SUB = 1
    K_MUL = 2
    K_DIV = 3
    K_MAX = 4
    K_MIN = 5

FAST_ADD = K_ADD
FAST_SUB = K_SUB
FAST_MUL = K_MUL
FAST_DIV = K_DIV
FAST_MAX = K_MAX
FAST_MIN = K_MIN


# ---------------------------------------------------------------------------
# same-shape elementwise: the small-tensor fast path of op dispatch

cdef void _binary_loop(int code, floating* a, floating* b, floating* out,
                       Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    if code == K_ADD:
        for i in range(n):
            out[i] = a[i] + b[i]
    elif code == K_SUB:
        for i in range(n):
            out[i] = a[i] - b[i]
    elif code == K_MUL:
        for i in range(n):
            out[i] = a[i] * b[i]
    elif code == K_DIV:
        for i in range(n):
            out[i] = a[i] / b[i]
    elif code == K_MAX:
        # NaN propagates like np.maximum
        for i in range(n):
            out[i] = a[i] if (a[i] >= b[i] or a[i] != a[i]) else b[i]
    elif code == K_MIN:
        for i in range(n):
            out[i] = a[i] if (a[i] <= b[i] or a[i] != a[i]) else b[i]


cdef void _scalar_loop(int code, floating* a, floating s, floating* out, Py_ssize_t n,
                       bint scalar_first) noexcept nogil:
    cdef Py_ssize_t i
    if code == K_ADD:
        for i in range(n):
            out[i] = a[i] + s
    elif code == K_MUL:
        for i in range(n):
            out[i] = a[i] * s
    elif code == K_SUB:
        if scalar_first:
            for i in range(n):
                out[i] = s - a[i]
        else:
            for i in range(n):
                out[i] = a[i] - s
    elif code == K_DIV:
        if scalar_first:
            for i in range(n):
                out[i] = s / a[i]
        else:
            for i in range(n):
                out[i] = a[i] / s
    elif code == K_MAX:
        for i in range(n):
            out[i] = a[i] if (a[i] >= s or a[i] != a[i]) else s
    elif code == K_MIN:
        for i in range(n):
            out[i] = a[i] if (a[i] <= s or a[i] != a[i]) else s


cpdef object binary_scalar(int code, object a, double s, bint scalar_first):
    """a (op) s (or s (op) a) for a C-contiguous float32/float64 array and a Python
    number (weakly typed: it takes a's dtype), else None."""
    cdef cnp.ndarray A = <cnp.ndarray>a
    cdef int typenum = cnp.PyArray_TYPE(A)
    if typenum != cnp.NPY_FLOAT and typenum != cnp.NPY_DOUBLE:
        return None
    if not cnp.PyArray_IS_C_CONTIGUOUS(A):
        return None
    cdef cnp.ndarray out = cnp.PyArray_EMPTY(cnp.PyArray_NDIM(A), cnp.PyArray_DIMS(A),
                                             typenum, 0)
    cdef Py_ssize_t n = cnp.PyArray_SIZE(A)
    if typenum == cnp.NPY_FLOAT:
        with nogil:
            _scalar_loop[float](code, <float*>cnp.PyArray_DATA(A), <float>s,
                                <float*>cnp.PyArray_DATA(out), n, scalar_first)
    else:
        with nogil:
            _scalar_loop[double](code, <double*>cnp.PyArray_DATA(A), s,
                                 <double*>cnp.PyArray_DATA(out), n, scalar_first)
    return out


cpdef object binary_same_shape(int code, object a, object b):
    """out = a (op) b for two C-contiguous float32/float64 arrays of one shape, else None."""
    cdef cnp.ndarray A = <cnp.ndarray>a
    cdef cnp.ndarray B = <cnp.ndarray>b
    cdef int typenum = cnp.PyArray_TYPE(A)
    cdef int nd = cnp.PyArray_NDIM(A)
    cdef int i
    cdef cnp.npy_intp* da
    cdef cnp.npy_intp* db
    if typenum != cnp.PyArray_TYPE(B) or nd != cnp.PyArray_NDIM(B):
        return None
    if typenum != cnp.NPY_FLOAT and typenum != cnp.NPY_DOUBLE:
        return None
    da = cnp.PyArray_DIMS(A)
    db = cnp.PyArray_DIMS(B)
    for i in range(nd):
        if da[i] != db[i]:
            return None
    if not (cnp.PyArray_IS_C_CONTIGUOUS(A) and cnp.PyArray_IS_C_CONTIGUOUS(B)):
        return None
    cdef cnp.ndarray out = cnp.PyArray_EMPTY(nd, da, typenum, 0)
    cdef Py_ssize_t n = cnp.PyArray_SIZE(A)
    if typenum == cnp.NPY_FLOAT:
        with nogil:
            _binary_loop[float](code, <float*>cnp.PyArray_DATA(A), <float*>cnp.PyArray_DATA(B),
                                <float*>cnp.PyArray_DATA(out), n)
    else:
        with nogil:
            _binary_loop[double](code, <double*>cnp.PyArray_DATA(A),
                                 <double*>cnp.PyArray_DATA(B),
                                 <double*>cnp.PyArray_DATA(out), n)
    return out


cdef void _rows(int code, floating* a, floating* v, floating* out, Py_ssize_t R, Py_ssize_t C,
               bint vec_first) noexcept nogil:
    # each row of a (op) the vector v, or v (op) each row
    cdef Py_ssize_t r
    for r in range(R):
        if vec_first:
            _binary_loop(code, v, a + r * C, out + r * C, C)
        else:
            _binary_loop(code, a + r * C, v, out + r * C, C)


cpdef object binary_rows(int code, object a, object b):
    """out = a (op) b where one operand is a C-contiguous float array (..., C) and the
    other a vector (C,) of its dtype, broadcast over the rows (a bias add); else None.
    NumPy's broadcasting loop over a narrow row costs ~2.5x this."""
    cdef cnp.ndarray A = <cnp.ndarray>a
    cdef cnp.ndarray B = <cnp.ndarray>b
    cdef int typenum = cnp.PyArray_TYPE(A)
    cdef bint vec_first
    if typenum != cnp.PyArray_TYPE(B) or (typenum != cnp.NPY_FLOAT and typenum != cnp.NPY_DOUBLE):
        return None
    if cnp.PyArray_NDIM(B) == 1 and cnp.PyArray_NDIM(A) >= 2:
        vec_first = False
    elif cnp.PyArray_NDIM(A) == 1 and cnp.PyArray_NDIM(B) >= 2:
        vec_first = True
        A, B = B, A
    else:
        return None
    cdef Py_ssize_t C = B.shape[0]
    if C == 0 or A.shape[A.ndim - 1] != C:
        return None
    if not (cnp.PyArray_IS_C_CONTIGUOUS(A) and cnp.PyArray_IS_C_CONTIGUOUS(B)):
        return None
    cdef cnp.ndarray out = cnp.PyArray_EMPTY(cnp.PyArray_NDIM(A), cnp.PyArray_DIMS(A),
                                             typenum, 0)
    cdef Py_ssize_t R = cnp.PyArray_SIZE(A) // C
    if typenum == cnp.NPY_FLOAT:
        with nogil:
            _rows[float](code, <float*>cnp.PyArray_DATA(A), <float*>cnp.PyArray_DATA(B),
                         <float*>cnp.PyArray_DATA(out), R, C, vec_first)
    else:
        with nogil:
            _rows[double](code, <double*>cnp.PyArray_DATA(A), <double*>cnp.PyArray_DATA(B),
                          <double*>cnp.PyArray_DATA(out), R, C, vec_first)
    return out


cdef void _relu(floating* x, floating* out, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    cdef floating v
    for i in range(n):
        v = x[i]
        # np.maximum(x, 0) exactly: NaN passes through, -0.0 becomes +0.0
        out[i] = v if (v > 0) | (v != v) else 0


cpdef object relu(object x):
    """max(x, 0) of a C-contiguous float array (a NumPy ufunc call with a Python scalar
    costs ~8,000 instructions before it starts); None for other layouts."""
    cdef cnp.ndarray X = <cnp.ndarray>x
    cdef int typenum = cnp.PyArray_TYPE(X)
    if (typenum != cnp.NPY_FLOAT and typenum != cnp.NPY_DOUBLE) or \
            not cnp.PyArray_IS_C_CONTIGUOUS(X):
        return None
    cdef cnp.ndarray out = cnp.PyArray_EMPTY(cnp.PyArray_NDIM(X), cnp.PyArray_DIMS(X),
                                             typenum, 0)
    cdef Py_ssize_t n = cnp.PyArray_SIZE(X)
    if typenum == cnp.NPY_FLOAT:
        with nogil:
            _relu[float](<float*>cnp.PyArray_DATA(X), <float*>cnp.PyArray_DATA(out), n)
    else:
        with nogil:
            _relu[double](<double*>cnp.PyArray_DATA(X), <double*>cnp.PyArray_DATA(out), n)
    return out


cdef void _relu_grad(floating* g, floating* y, floating* out, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    cdef floating gi
    for i in range(n):
        gi = g[i]
        out[i] = gi if y[i] > 0 else 0


cpdef object relu_grad(object g, object y):
    """g where y > 0, else 0, for two C-contiguous float arrays of one shape and dtype;
    else None (the caller falls back to NumPy)."""
    cdef cnp.ndarray G = <cnp.ndarray>g
    cdef cnp.ndarray Y = <cnp.ndarray>y
    cdef int typenum = cnp.PyArray_TYPE(G)
    if typenum != cnp.PyArray_TYPE(Y) or (typenum != cnp.NPY_FLOAT and typenum != cnp.NPY_DOUBLE):
        return None
    if _shp(G) != _shp(Y) or not (cnp.PyArray_IS_C_CONTIGUOUS(G) and cnp.PyArray_IS_C_CONTIGUOUS(Y)):
        return None
    cdef cnp.ndarray out = cnp.PyArray_EMPTY(cnp.PyArray_NDIM(G), cnp.PyArray_DIMS(G), typenum, 0)
    cdef Py_ssize_t n = cnp.PyArray_SIZE(G)
    if typenum == cnp.NPY_FLOAT:
        with nogil:
            _relu_grad[float](<float*>cnp.PyArray_DATA(G), <float*>cnp.PyArray_DATA(Y),
                              <float*>cnp.PyArray_DATA(out), n)
    else:
        with nogil:
            _relu_grad[double](<double*>cnp.PyArray_DATA(G), <double*>cnp.PyArray_DATA(Y),
                               <double*>cnp.PyArray_DATA(out), n)
    return out


cdef void _sum_rows(floating* x, floating* out, Py_ssize_t R, Py_ssize_t C) noexcept nogil:
    # row after row, the order of NumPy's own reduction over a leading axis
    cdef Py_ssize_t r, c
    cdef floating* row
    memcpy(out, x, C * sizeof(floating))
    for r in range(1, R):
        row = x + r * C
        for c in range(C):
            out[c] = out[c] + row[c]


cpdef object sum_rows(object x, Py_ssize_t rows):
    """Sum of a C-contiguous float array over its first ``rows``-sized block of axes:
    (R, C) -> (C,).  NumPy's reduction over leading axes of a narrow (bias-sized) inner
    block spends its time in iterator bookkeeping (1.26 ms against 0.2 ms for a
    50176 x 32 conv gradient).  Returns None when it does not apply."""
    cdef cnp.ndarray X = <cnp.ndarray>x
    cdef int typenum = cnp.PyArray_TYPE(X)
    if typenum != cnp.NPY_FLOAT and typenum != cnp.NPY_DOUBLE:
        return None
    if not cnp.PyArray_IS_C_CONTIGUOUS(X):
        return None
    cdef Py_ssize_t n = cnp.PyArray_SIZE(X)
    if rows < 1 or n == 0 or n % rows:
        return None
    cdef Py_ssize_t C = n // rows
    cdef cnp.npy_intp dim = C
    cdef cnp.ndarray out = cnp.PyArray_EMPTY(1, &dim, typenum, 0)
    if typenum == cnp.NPY_FLOAT:
        with nogil:
            _sum_rows[float](<float*>cnp.PyArray_DATA(X), <float*>cnp.PyArray_DATA(out), rows, C)
    else:
        with nogil:
            _sum_rows[double](<double*>cnp.PyArray_DATA(X), <double*>cnp.PyArray_DATA(out), rows,
                              C)
    return out


# Kernel families, one file each (docs/architecture.md §7: small modules split by family).
include "_kernels_xent.pxi"
include "_kernels_conv.pxi"
include "_kernels_pool.pxi"
include "_kernels_optim.pxi"
include "_kernels_check.pxi"
