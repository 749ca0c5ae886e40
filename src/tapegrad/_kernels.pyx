# CPU kernels: nogil pointer loops over fused float types.
#
# Matrix products are not here: they go through NumPy's matmul, which hands BLAS
# transposed operands as flags (no copies) and, crucially, uses the same OpenBLAS
# thread pool as the rest of the process.  Calling SciPy's cython_blas instead brings
# a second OpenBLAS with its own spinning threads; alternating the two measured 170x
# slower on 2 cores (see README, "Design notes").
#
# Every cpdef wrapper validates its arguments before it releases the GIL: anything but
# an ndarray raises TypeError, and arrays are checked for dtype, shape, layout,
# alignment and byte order (a big-endian array read as native floats is garbage).  The
# fast-path wrappers return None (False for the optimizer updates) for an ndarray they
# do not handle, and the caller falls back to NumPy; the loops below trust the checks.

cimport cython
cimport numpy as cnp
from libc.float cimport DBL_MIN, FLT_MIN
from libc.math cimport INFINITY, exp, expf, log, sqrt, sqrtf
from libc.string cimport memcpy, memset

import numpy as np

cnp.import_array()

# (the operation codes K_ADD..K_MIN are declared in _kernels.pxd)

cdef object ndarray = np.ndarray


cdef inline tuple _shp(cnp.ndarray a):
    return (<object>a).shape


cdef inline cnp.ndarray _nd(object x, str fn, str arg):
    # the checked boundary: a `<cnp.ndarray>` cast of anything else (a list, None) would
    # hand the loops a wild pointer
    if type(x) is not ndarray and not isinstance(x, ndarray):
        raise TypeError("_kernels.%s: %s must be a numpy.ndarray, got %s"
                        % (fn, arg, type(x).__name__))
    return <cnp.ndarray>x


cdef inline int _ftype(cnp.ndarray a) noexcept:
    # NPY_FLOAT/NPY_DOUBLE for a C-contiguous, aligned, native-byte-order float32/float64
    # array (what the loops can read through a plain pointer), else -1
    cdef int t = cnp.PyArray_TYPE(a)
    if t != cnp.NPY_FLOAT and t != cnp.NPY_DOUBLE:
        return -1
    if not (cnp.PyArray_IS_C_CONTIGUOUS(a) and cnp.PyArray_ISALIGNED(a)
            and cnp.PyArray_ISNOTSWAPPED(a)):
        return -1
    return t


cdef inline bint _same_shape(cnp.ndarray a, cnp.ndarray b) noexcept:
    cdef int k, nd = cnp.PyArray_NDIM(a)
    if nd != cnp.PyArray_NDIM(b):
        return False
    for k in range(nd):
        if cnp.PyArray_DIMS(a)[k] != cnp.PyArray_DIMS(b)[k]:
            return False
    return True


cdef cnp.ndarray _c_float(object x, str fn, str arg):
    # the window kernels take any float32/float64 ndarray: other layouts and byte orders
    # are copied to a C-contiguous native one; other dtypes are left for the rank/dtype
    # check to reject
    cdef cnp.ndarray X = _nd(x, fn, arg)
    cdef int t = cnp.PyArray_TYPE(X)
    if (t == cnp.NPY_FLOAT or t == cnp.NPY_DOUBLE) and _ftype(X) < 0:
        X = np.ascontiguousarray(X, dtype=X.dtype.newbyteorder("="))
    return X


cdef int _check_window(str fn, int kh, int kw, int sh, int sw, int dh, int dw, int pad_top,
                       int pad_left, int oh, int ow) except -1:
    if min(kh, kw, sh, sw, dh, dw) < 1 or min(pad_top, pad_left, oh, ow) < 0:
        raise ValueError("_kernels.%s: invalid window geometry (kernel %dx%d, strides %dx%d, "
                         "dilations %dx%d, padding %d,%d, output %dx%d)"
                         % (fn, kh, kw, sh, sw, dh, dw, pad_top, pad_left, oh, ow))
    return 0


cdef tuple _shape4(object shape, str fn):
    if type(shape) is not tuple or len(shape) != 4:
        raise ValueError("_kernels.%s: expected a 4-tuple NHWC shape, got %r" % (fn, shape))
    for d in shape:
        if type(d) is not int or d < 0:
            raise ValueError("_kernels.%s: invalid NHWC shape %r" % (fn, shape))
    return shape


cdef int _bad_code(int code, str fn) except -1:
    raise ValueError("_kernels.%s: unknown operation code %d" % (fn, code))


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
    cdef cnp.ndarray A = _nd(a, "binary_scalar", "a")
    cdef int typenum = _ftype(A)
    if <unsigned int>code > K_MIN:
        _bad_code(code, "binary_scalar")
    if typenum < 0:
        return None
    cdef EwJob j
    cdef cnp.ndarray out = _ew_new(&j, EW_SCALAR, code, A, typenum)
    j.s = s
    j.flag = scalar_first
    _ew_go(&j, j.n)
    return out


cpdef object binary_same_shape(int code, object a, object b):
    """out = a (op) b for two C-contiguous float32/float64 arrays of one shape, else None."""
    cdef cnp.ndarray A = _nd(a, "binary_same_shape", "a")
    cdef cnp.ndarray B = _nd(b, "binary_same_shape", "b")
    cdef int typenum = _ftype(A)
    if <unsigned int>code > K_MIN:
        _bad_code(code, "binary_same_shape")
    if typenum < 0 or _ftype(B) != typenum or not _same_shape(A, B):
        return None
    cdef EwJob j
    cdef cnp.ndarray out = _ew_new(&j, EW_BINARY, code, A, typenum)
    j.b = cnp.PyArray_DATA(B)
    _ew_go(&j, j.n)
    return out


cdef bint _update_loop(bint sub, floating* a, floating* b, Py_ssize_t n) noexcept nogil:
    # a (+|-)= b when every result is finite; a untouched (False) otherwise
    cdef Py_ssize_t i
    cdef floating r, acc = 0
    for i in range(n):
        r = a[i] - b[i] if sub else a[i] + b[i]
        acc = acc + (r - r)         # NaN as soon as one r is inf or NaN, else 0
    if acc != 0:
        return False
    for i in range(n):
        a[i] = a[i] - b[i] if sub else a[i] + b[i]
    return True


cpdef bint binary_update(int code, object a, object b) except -1:
    """a += b (FAST_ADD) or a -= b (FAST_SUB) in place, for a writable and a read-only
    C-contiguous float32/float64 array of one shape below the pool's grain (a variable's
    assign_add/assign_sub).  The sums are IEEE, the bits NumPy's.  False, with ``a``
    untouched, for other arrays and whenever a result would be inf or NaN: NumPy's
    ufunc then runs and warns as its error state says (~5,000 instructions on a 0-d
    variable, most of this update's cost)."""
    cdef cnp.ndarray A = _nd(a, "binary_update", "a")
    cdef cnp.ndarray B = _nd(b, "binary_update", "b")
    cdef int typenum = _ftype(A)
    cdef Py_ssize_t n = cnp.PyArray_SIZE(A)
    if code != K_ADD and code != K_SUB:
        _bad_code(code, "binary_update")
    if typenum < 0 or _ftype(B) != typenum or not _same_shape(A, B) or \
            not cnp.PyArray_ISWRITEABLE(A) or n >= GRAIN_CHEAP:
        return False
    if typenum == cnp.NPY_FLOAT:
        return _update_loop(code == K_SUB, <float*>cnp.PyArray_DATA(A),
                            <float*>cnp.PyArray_DATA(B), n)
    return _update_loop(code == K_SUB, <double*>cnp.PyArray_DATA(A),
                        <double*>cnp.PyArray_DATA(B), n)


cdef bint _square_loop(floating* x, floating* out, Py_ssize_t n, floating tiny) noexcept nogil:
    # out = x * x; False when a result overflowed, underflowed (or came near it) or is
    # NaN: where NumPy's square raises a floating-point flag
    cdef Py_ssize_t i
    cdef floating v, r
    cdef bint ok = True
    for i in range(n):
        v = x[i]
        r = v * v
        out[i] = r
        ok &= ((r > tiny) & (r < INFINITY)) | (v == 0)
    return ok


cpdef object square(object x):
    """x * x (NumPy's square, the same IEEE products) of a C-contiguous float32/float64
    array below the pool's grain, else None.  None too when a result overflows,
    underflows or is NaN: NumPy raises a floating-point flag there and warns (or raises)
    as its error state says, so the caller's ufunc runs instead."""
    cdef cnp.ndarray X = _nd(x, "square", "x")
    cdef int typenum = _ftype(X)
    cdef Py_ssize_t n = cnp.PyArray_SIZE(X)
    cdef bint ok
    if typenum < 0 or n >= GRAIN_CHEAP:
        return None
    cdef cnp.ndarray out = _out_array(cnp.PyArray_NDIM(X), cnp.PyArray_DIMS(X), typenum)
    if typenum == cnp.NPY_FLOAT:
        ok = _square_loop(<float*>cnp.PyArray_DATA(X), <float*>cnp.PyArray_DATA(out), n,
                          <float>FLT_MIN)
    else:
        ok = _square_loop(<double*>cnp.PyArray_DATA(X), <double*>cnp.PyArray_DATA(out), n,
                          DBL_MIN)
    return out if ok else None


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
    cdef cnp.ndarray A = _nd(a, "binary_rows", "a")
    cdef cnp.ndarray B = _nd(b, "binary_rows", "b")
    cdef int typenum = _ftype(A)
    cdef bint vec_first
    if <unsigned int>code > K_MIN:
        _bad_code(code, "binary_rows")
    if typenum < 0 or _ftype(B) != typenum:
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
    cdef EwJob j
    cdef cnp.ndarray out = _ew_new(&j, EW_ROWS, code, A, typenum)
    j.b = cnp.PyArray_DATA(B)
    j.flag = vec_first
    j.n = j.n // C      # parts split the rows
    j.C = C
    _ew_go(&j, j.n * C)
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
    cdef cnp.ndarray X = _nd(x, "relu", "x")
    cdef int typenum = _ftype(X)
    if typenum < 0:
        return None
    cdef EwJob j
    cdef cnp.ndarray out = _ew_new(&j, EW_RELU, 0, X, typenum)
    _ew_go(&j, j.n)
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
    cdef cnp.ndarray G = _nd(g, "relu_grad", "g")
    cdef cnp.ndarray Y = _nd(y, "relu_grad", "y")
    cdef int typenum = _ftype(G)
    if typenum < 0 or _ftype(Y) != typenum or not _same_shape(G, Y):
        return None
    cdef EwJob j
    cdef cnp.ndarray out = _ew_new(&j, EW_RELU_GRAD, 0, G, typenum)
    j.b = cnp.PyArray_DATA(Y)
    _ew_go(&j, j.n)
    return out


cdef void _sum_cols(floating* x, floating* out, Py_ssize_t R, Py_ssize_t C, Py_ssize_t lo,
                    Py_ssize_t hi) noexcept nogil:
    # columns lo..hi of the sum over rows, row after row: the order of NumPy's own
    # reduction over a leading axis, whatever the split into column ranges
    cdef Py_ssize_t r, c
    cdef floating* row
    memcpy(out + lo, x + lo, (hi - lo) * sizeof(floating))
    for r in range(1, R):
        row = x + r * C
        for c in range(lo, hi):
            out[c] = out[c] + row[c]


cpdef object sum_rows(object x, Py_ssize_t rows):
    """Sum of a C-contiguous float array over its first ``rows``-sized block of axes:
    (R, C) -> (C,).  NumPy's reduction over leading axes of a narrow (bias-sized) inner
    block spends its time in iterator bookkeeping (1.26 ms against 0.2 ms for a
    50176 x 32 conv gradient).  Returns None when it does not apply."""
    cdef cnp.ndarray X = _nd(x, "sum_rows", "x")
    cdef int typenum = _ftype(X)
    if typenum < 0:
        return None
    cdef Py_ssize_t n = cnp.PyArray_SIZE(X)
    if rows < 1 or n == 0 or n % rows:
        return None
    cdef Py_ssize_t C = n // rows
    cdef cnp.npy_intp dim = C
    cdef cnp.ndarray out = cnp.PyArray_EMPTY(1, &dim, typenum, 0)
    cdef EwJob j
    j.kind = EW_SUM_ROWS
    j.single = typenum == cnp.NPY_FLOAT
    j.a = cnp.PyArray_DATA(X)
    j.out = cnp.PyArray_DATA(out)
    j.n = C             # parts split the columns
    j.R = rows
    j.C = C
    # a narrow row (a bias) split by columns would have each thread stride over every
    # row for a few floats: one thread does those
    if C >= 1024:
        _ew_go(&j, n)
    elif n < GRAIN_CHEAP:
        _ew_part(&j, 0, 1)
    else:
        with nogil:
            _ew_part(&j, 0, 1)
    return out


# Kernel families, one file each (docs/architecture.md §7: small modules split by family).
include "_kernels_alloc.pxi"
include "_kernels_threads.pxi"
include "_kernels_trsm.pxi"
include "_kernels_xent.pxi"
include "_kernels_softmax.pxi"
include "_kernels_conv.pxi"
include "_kernels_pool.pxi"
include "_kernels_optim.pxi"
include "_kernels_check.pxi"
include "_kernels_segment.pxi"
include "_kernels_rnn.pxi"
include "_kernels_ufuncs.pxi"
