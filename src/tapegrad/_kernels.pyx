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


# ---------------------------------------------------------------------------
# sparse softmax cross entropy, row by row: NumPy's reductions along a short class axis
# cost ~19 us each for a 256 x 10 batch, four times the whole fused pass

ctypedef fused label_t:
    int
    long long


cdef inline double _row_max(floating* row, Py_ssize_t K) noexcept nogil:
    # NaN if the row has one, as np.max
    cdef Py_ssize_t k
    cdef double m = row[0], v
    for k in range(1, K):
        v = row[k]
        if v > m or v != v:
            m = v
    return m


cdef inline floating _exp(floating v) noexcept nogil:
    if floating is float:
        return expf(v)
    else:
        return exp(v)


cdef Py_ssize_t _xent_rows(floating* z, label_t* labels, floating* g, floating* out,
                           Py_ssize_t R, Py_ssize_t K) noexcept nogil:
    # g NULL: out[r] = -log softmax(z_r)[label_r]; else row r of out is
    # (softmax(z_r) - onehot(label_r)) * g[r].  One exponential per element, in the
    # logits' precision; their sum and logarithm in double.  Returns the first row
    # whose label lies outside [0, K), before anything is written at it, or -1.
    cdef Py_ssize_t r, k
    cdef label_t lab
    cdef floating m, e, scale
    cdef floating* row
    cdef floating* o
    cdef double total
    for r in range(R):
        lab = labels[r]
        if lab < 0 or lab >= K:
            return r
        row = z + r * K
        m = <floating>_row_max(row, K)
        total = 0
        if g == NULL:
            for k in range(K):
                total += _exp(row[k] - m)
            out[r] = <floating>(log(total) - (row[lab] - m))
            continue
        o = out + r * K
        for k in range(K):
            e = _exp(row[k] - m)
            o[k] = e
            total += e
        scale = <floating>(g[r] / total)
        for k in range(K):
            o[k] = o[k] * scale
        o[lab] -= g[r]
    return -1


cpdef object softmax_xent(object logits, object labels, object g=None):
    """Sparse softmax cross entropy of C-contiguous float logits (..., K) against int32/
    int64 labels (...): the per-row loss, or with ``g`` (the loss's cotangent, of the
    logits' dtype) its logits adjoint (softmax - onehot) * g[..., None].

    None when the layout does not apply or a label lies outside [0, K): the caller's
    NumPy path then checks the labels and raises its one error message."""
    cdef cnp.ndarray Z = <cnp.ndarray>logits, L = <cnp.ndarray>labels, G = None, out
    cdef int zt = cnp.PyArray_TYPE(Z), lt = cnp.PyArray_TYPE(L)
    if zt != cnp.NPY_FLOAT and zt != cnp.NPY_DOUBLE:
        return None
    if lt != cnp.NPY_INT32 and lt != cnp.NPY_INT64:
        return None
    if not (cnp.PyArray_IS_C_CONTIGUOUS(Z) and cnp.PyArray_IS_C_CONTIGUOUS(L)):
        return None
    if cnp.PyArray_NDIM(Z) < 1 or cnp.PyArray_SIZE(Z) == 0:
        return None
    cdef Py_ssize_t K = Z.shape[Z.ndim - 1], R = cnp.PyArray_SIZE(L), bad
    if R * K != cnp.PyArray_SIZE(Z):
        raise ValueError("sparse_softmax_cross_entropy_with_logits: labels %s do not match "
                         "logits %s" % (_shp(L), _shp(Z)))
    if g is None:
        out = np.empty(_shp(L), dtype=Z.dtype)
    else:
        G = <cnp.ndarray>g
        if cnp.PyArray_TYPE(G) != zt or not cnp.PyArray_IS_C_CONTIGUOUS(G) \
                or cnp.PyArray_SIZE(G) != R:
            return None
        out = np.empty(_shp(Z), dtype=Z.dtype)
    cdef void* zp = cnp.PyArray_DATA(Z)
    cdef void* lp = cnp.PyArray_DATA(L)
    cdef void* gp = NULL if G is None else cnp.PyArray_DATA(G)
    cdef void* op = cnp.PyArray_DATA(out)
    with nogil:
        if zt == cnp.NPY_FLOAT and lt == cnp.NPY_INT32:
            bad = _xent_rows[float, int](<float*>zp, <int*>lp, <float*>gp, <float*>op, R, K)
        elif zt == cnp.NPY_FLOAT:
            bad = _xent_rows[float, longlong](<float*>zp, <long long*>lp, <float*>gp,
                                              <float*>op, R, K)
        elif lt == cnp.NPY_INT32:
            bad = _xent_rows[double, int](<double*>zp, <int*>lp, <double*>gp, <double*>op, R,
                                          K)
        else:
            bad = _xent_rows[double, longlong](<double*>zp, <long long*>lp, <double*>gp,
                                               <double*>op, R, K)
    return None if bad >= 0 else out


# ---------------------------------------------------------------------------
# convolution helpers (NHWC): im2col / col2im

cdef inline void _taps(Py_ssize_t wi0, int kw, int dw, Py_ssize_t W, Py_ssize_t* lo,
                       Py_ssize_t* hi) noexcept nogil:
    # the taps q of a window row that fall inside the image: lo <= q < hi
    # (wi = wi0 + q * dw must satisfy 0 <= wi < W)
    cdef Py_ssize_t a = 0, b = kw
    if wi0 < 0:
        a = (-wi0 + dw - 1) // dw
    if wi0 + (b - 1) * dw >= W:
        b = (W - 1 - wi0) // dw + 1 if wi0 < W else 0
    if b < a:
        b = a
    lo[0] = a
    hi[0] = b


cdef inline void _patches(floating* x, floating* cols, Py_ssize_t N, Py_ssize_t H,
                          Py_ssize_t W, Py_ssize_t C, int kh, int kw, int sh, int sw, int dh,
                          int dw, int pt, int pl, int oh, int ow, bint adjoint) noexcept nogil:
    # (inline: each call site passes a constant ``adjoint``, so the branches fold away)
    # im2col (x -> cols), or its adjoint col2im (cols added back into x), one window row
    # (kw taps) at a time: with dw == 1 its in-image taps are one contiguous run of the
    # input, copied in a single pass instead of kw small ones (a 1-channel first layer
    # spent its time in per-pixel bookkeeping).  Padding taps are zeros in cols.
    cdef Py_ssize_t n, i, j, p, q, k, hi, wi0, lo, up
    cdef Py_ssize_t rowlen = kw * C
    cdef floating* row = cols
    cdef floating* img
    for n in range(N):
        for i in range(oh):
            for j in range(ow):
                wi0 = j * sw - pl
                _taps(wi0, kw, dw, W, &lo, &up)
                for p in range(kh):
                    hi = i * sh - pt + p * dh
                    if hi < 0 or hi >= H or lo == up:
                        if not adjoint:
                            for k in range(rowlen):
                                row[k] = 0
                        row += rowlen
                        continue
                    img = x + ((n * H + hi) * W + wi0) * C
                    if adjoint:
                        if dw == 1:
                            for k in range(lo * C, up * C):
                                img[k] += row[k]
                        else:
                            for q in range(lo, up):
                                for k in range(C):
                                    img[q * dw * C + k] += row[q * C + k]
                        row += rowlen
                        continue
                    for k in range(lo * C):
                        row[k] = 0
                    if dw == 1:
                        # memcpy beats a loop even for a 5-float run: vectorised short
                        # loops spend their time in prologue/epilogue checks
                        memcpy(row + lo * C, img + lo * C, (up - lo) * C * sizeof(floating))
                    else:
                        for q in range(lo, up):
                            for k in range(C):
                                row[q * C + k] = img[q * dw * C + k]
                    for k in range(up * C, rowlen):
                        row[k] = 0
                    row += rowlen


cdef int _check_float4(cnp.ndarray x, str what) except -1:
    if x.ndim != 4:
        raise ValueError("%s: expected a rank-4 NHWC array, got shape %s" % (what, _shp(x)))
    if x.dtype.num not in (cnp.NPY_FLOAT, cnp.NPY_DOUBLE):
        raise TypeError("%s: expected float32 or float64, got %s" % (what, x.dtype))
    return 0


cpdef object im2col(object x, int kh, int kw, int sh, int sw, int dh, int dw,
                    int pad_top, int pad_left, int oh, int ow):
    """Patches of an NHWC array as rows: (N*oh*ow, kh*kw*C)."""
    cdef cnp.ndarray X = np.ascontiguousarray(x)
    _check_float4(X, "im2col")
    if min(kh, kw, sh, sw, dh, dw) < 1 or oh < 0 or ow < 0:
        raise ValueError("im2col: invalid window geometry")
    cdef Py_ssize_t N = X.shape[0], H = X.shape[1], W = X.shape[2], C = X.shape[3]
    cdef cnp.ndarray cols = np.empty((N * oh * ow, kh * kw * C), dtype=X.dtype)
    if cols.size == 0:
        return cols
    if X.dtype.num == cnp.NPY_FLOAT:
        with nogil:
            _patches[float](<float*>cnp.PyArray_DATA(X), <float*>cnp.PyArray_DATA(cols), N, H,
                            W, C, kh, kw, sh, sw, dh, dw, pad_top, pad_left, oh, ow, False)
    else:
        with nogil:
            _patches[double](<double*>cnp.PyArray_DATA(X), <double*>cnp.PyArray_DATA(cols), N,
                             H, W, C, kh, kw, sh, sw, dh, dw, pad_top, pad_left, oh, ow, False)
    return cols


cpdef object col2im(object cols, tuple x_shape, int kh, int kw, int sh, int sw, int dh, int dw,
                    int pad_top, int pad_left, int oh, int ow, object out=None):
    """Adjoint of im2col: scatter-add rows of patches back into an NHWC array (a new
    zero array, or added into ``out``: C-contiguous, of ``x_shape`` and the cols' dtype)."""
    cdef cnp.ndarray K = np.ascontiguousarray(cols)
    cdef Py_ssize_t N = x_shape[0], H = x_shape[1], W = x_shape[2], C = x_shape[3]
    if K.ndim != 2 or K.shape[0] != N * oh * ow or K.shape[1] != kh * kw * C:
        raise ValueError("col2im: columns of shape %s do not match image %s"
                         % (_shp(K), x_shape))
    if K.dtype.num not in (cnp.NPY_FLOAT, cnp.NPY_DOUBLE):
        raise TypeError("col2im: expected float32 or float64, got %s" % K.dtype)
    cdef cnp.ndarray X
    if out is None:
        X = np.zeros(x_shape, dtype=K.dtype)
    else:
        X = <cnp.ndarray?>out
        if (<object>X).shape != x_shape or X.dtype != K.dtype or \
                not cnp.PyArray_IS_C_CONTIGUOUS(X) or not cnp.PyArray_ISWRITEABLE(X):
            raise ValueError("col2im: out must be a writable C-contiguous %s array of "
                             "shape %s" % (K.dtype, x_shape))
    if K.size == 0:
        return X
    if K.dtype.num == cnp.NPY_FLOAT:
        with nogil:
            _patches[float](<float*>cnp.PyArray_DATA(X), <float*>cnp.PyArray_DATA(K), N, H, W,
                            C, kh, kw, sh, sw, dh, dw, pad_top, pad_left, oh, ow, True)
    else:
        with nogil:
            _patches[double](<double*>cnp.PyArray_DATA(X), <double*>cnp.PyArray_DATA(K), N, H,
                             W, C, kh, kw, sh, sw, dh, dw, pad_top, pad_left, oh, ow, True)
    return X


# ---------------------------------------------------------------------------
# pooling (NHWC); windows never read padding

cdef inline void _window(Py_ssize_t start, int k, Py_ssize_t size, Py_ssize_t* lo,
                         Py_ssize_t* hi) noexcept nogil:
    # the in-image rows (or columns) [lo, hi) of a k-wide window starting at ``start``
    _taps(start, k, 1, size, lo, hi)
    lo[0] += start
    hi[0] += start


cdef inline void _window_max(floating* x, floating* m, Py_ssize_t n, Py_ssize_t h0,
                             Py_ssize_t h1, Py_ssize_t w0, Py_ssize_t w1, Py_ssize_t H,
                             Py_ssize_t W, Py_ssize_t C) noexcept nogil:
    # m[c] = max over the (non-empty) window rows [h0, h1) x columns [w0, w1), NaN
    # winning as in np.max
    cdef Py_ssize_t c, hi, wi
    cdef floating* src
    cdef floating v, w
    memcpy(m, x + ((n * H + h0) * W + w0) * C, C * sizeof(floating))
    for hi in range(h0, h1):
        # (the first tap is already in m)
        for wi in range(w0 + 1 if hi == h0 else w0, w1):
            src = x + ((n * H + hi) * W + wi) * C
            # branch-free select, so the channel loop vectorises
            for c in range(C):
                v = src[c]
                w = m[c]
                m[c] = v if (v > w) | (v != v) else w


cdef void _max_pool(floating* x, floating* out, Py_ssize_t N, Py_ssize_t H, Py_ssize_t W,
                    Py_ssize_t C, int kh, int kw, int sh, int sw, int pt, int pl,
                    int oh, int ow) noexcept nogil:
    # (SAME/VALID geometry never yields an all-padding window, so every output is set)
    cdef Py_ssize_t n, i, j, h0, h1, w0, w1
    for n in range(N):
        for i in range(oh):
            _window(i * sh - pt, kh, H, &h0, &h1)
            for j in range(ow):
                _window(j * sw - pl, kw, W, &w0, &w1)
                if h0 < h1 and w0 < w1:
                    _window_max(x, out + ((n * oh + i) * ow + j) * C, n, h0, h1, w0, w1, H,
                                W, C)


cdef void _max_route(floating* x, floating* g, floating* out, Py_ssize_t N, Py_ssize_t H,
                     Py_ssize_t W, Py_ssize_t C, int kh, int kw, int sh, int sw, int pt, int pl,
                     int oh, int ow, bint scatter, bint tiled, floating* m,
                     floating* left) noexcept nogil:
    # For each window and channel find the first maximal input; scatter routes the
    # output gradient there, select reads the input-shaped cotangent from there.
    # ``tiled``: the windows cover every input exactly once, so scatter writes each
    # element instead of adding into a zeroed array.
    # Two passes over the window (which sits in L1): its max m, then the first tap
    # equal to m (or the first NaN, as the forward lets NaN win).  Channels are the
    # innermost loop and every per-channel temporary has the element's width, so both
    # passes vectorise; a running argmax of integer indices did not (3x slower).
    cdef Py_ssize_t n, i, j, c, hi, wi, h0, h1, w0, w1, base, o
    cdef floating v, mc, lc, take, gv
    for n in range(N):
        for i in range(oh):
            _window(i * sh - pt, kh, H, &h0, &h1)
            for j in range(ow):
                _window(j * sw - pl, kw, W, &w0, &w1)
                if h0 >= h1 or w0 >= w1:
                    continue    # an all-padding window routes nothing
                _window_max(x, m, n, h0, h1, w0, w1, H, W, C)
                for c in range(C):
                    left[c] = 1
                o = ((n * oh + i) * ow + j) * C
                if not scatter:
                    for c in range(C):
                        out[o + c] = 0
                for hi in range(h0, h1):
                    for wi in range(w0, w1):
                        base = ((n * H + hi) * W + wi) * C
                        # Every load is unconditional and every choice a register
                        # select, so plain AVX2 vectorises these loops (a load inside
                        # the conditional needs AVX-512 masking: 10x slower without it).
                        # Scatter and select keep separate loops: one loop indexing
                        # through variables measured 25% slower for select.
                        if scatter:
                            for c in range(C):
                                v = x[base + c]
                                mc = m[c]
                                lc = left[c]
                                take = lc if (v == mc) | ((v != v) & (mc != mc)) else 0
                                left[c] = lc - take
                                gv = g[o + c]
                                if tiled:
                                    out[base + c] = gv if take != 0 else 0
                                else:
                                    out[base + c] = out[base + c] + (gv if take != 0 else 0)
                        else:
                            for c in range(C):
                                v = x[base + c]
                                mc = m[c]
                                lc = left[c]
                                take = lc if (v == mc) | ((v != v) & (mc != mc)) else 0
                                left[c] = lc - take
                                gv = g[base + c]
                                out[o + c] = out[o + c] + (gv if take != 0 else 0)


cpdef object max_pool(object x, int kh, int kw, int sh, int sw, int pad_top, int pad_left,
                      int oh, int ow):
    return _pool(x, kh, kw, sh, sw, pad_top, pad_left, oh, ow, False)


cdef object _route(cnp.ndarray X, cnp.ndarray G, cnp.ndarray out, int kh, int kw, int sh,
                   int sw, int pad_top, int pad_left, int oh, int ow, bint scatter,
                   bint tiled=False):
    # shared driver of max_pool_scatter / max_pool_select (shapes already checked)
    cdef Py_ssize_t N = X.shape[0], H = X.shape[1], W = X.shape[2], C = X.shape[3]
    cdef cnp.ndarray m = np.empty(C, dtype=X.dtype)
    cdef cnp.ndarray left = np.empty(C, dtype=X.dtype)
    if G.size == 0 or out.size == 0:
        return out
    if X.dtype.num == cnp.NPY_FLOAT:
        with nogil:
            _max_route[float](<float*>cnp.PyArray_DATA(X), <float*>cnp.PyArray_DATA(G),
                              <float*>cnp.PyArray_DATA(out), N, H, W, C, kh, kw, sh, sw,
                              pad_top, pad_left, oh, ow, scatter, tiled,
                              <float*>cnp.PyArray_DATA(m), <float*>cnp.PyArray_DATA(left))
    else:
        with nogil:
            _max_route[double](<double*>cnp.PyArray_DATA(X), <double*>cnp.PyArray_DATA(G),
                               <double*>cnp.PyArray_DATA(out), N, H, W, C, kh, kw, sh, sw,
                               pad_top, pad_left, oh, ow, scatter, tiled,
                               <double*>cnp.PyArray_DATA(m), <double*>cnp.PyArray_DATA(left))
    return out


cpdef object max_pool_scatter(object x, object g, int kh, int kw, int sh, int sw,
                              int pad_top, int pad_left):
    """Route a pooled-shape gradient g to each window's (first) argmax of x."""
    cdef cnp.ndarray X = np.ascontiguousarray(x)
    cdef cnp.ndarray G = np.ascontiguousarray(g)
    _check_float4(X, "max_pool2d_grad")
    _check_float4(G, "max_pool2d_grad")
    if X.dtype != G.dtype:
        raise TypeError("max_pool2d_grad: dtypes differ: %s vs %s" % (X.dtype, G.dtype))
    if G.shape[0] != X.shape[0] or G.shape[3] != X.shape[3]:
        raise ValueError("max_pool2d_grad: gradient %s does not match input %s"
                         % (_shp(G), _shp(X)))
    cdef int oh = G.shape[1], ow = G.shape[2]
    cdef bint tiled = (kh == sh and kw == sw and pad_top == 0 and pad_left == 0
                       and oh * sh == X.shape[1] and ow * sw == X.shape[2])
    out = np.empty_like(X) if tiled else np.zeros_like(X)
    return _route(X, G, out, kh, kw, sh, sw, pad_top, pad_left, oh, ow, True, tiled)


cpdef object max_pool_select(object x, object g, int kh, int kw, int sh, int sw,
                             int pad_top, int pad_left, int oh, int ow):
    """Input-shaped g read at each window's argmax of x -> pooled shape."""
    cdef cnp.ndarray X = np.ascontiguousarray(x)
    cdef cnp.ndarray G = np.ascontiguousarray(g)
    _check_float4(X, "max_pool2d_select")
    if _shp(G) != _shp(X) or G.dtype != X.dtype:
        raise ValueError("max_pool2d_select: %s %s vs %s %s" % (_shp(G), G.dtype, _shp(X), X.dtype))
    out = np.zeros((X.shape[0], oh, ow, X.shape[3]), dtype=X.dtype)
    return _route(X, G, out, kh, kw, sh, sw, pad_top, pad_left, oh, ow, False)


cdef void _avg_pool(floating* x, floating* out, Py_ssize_t N, Py_ssize_t H, Py_ssize_t W,
                    Py_ssize_t C, int kh, int kw, int sh, int sw, int pt, int pl,
                    int oh, int ow, bint adjoint) noexcept nogil:
    # Forward: out = mean over the window's valid inputs (TF excludes padding).
    # Adjoint: x is the pooled-shape gradient, out (zeroed) the input-shape result.
    cdef Py_ssize_t n, i, j, c, hi, wi, h0, h1, w0, w1
    cdef floating* o
    cdef floating* src
    cdef floating inv
    for n in range(N):
        for i in range(oh):
            _window(i * sh - pt, kh, H, &h0, &h1)
            for j in range(ow):
                _window(j * sw - pl, kw, W, &w0, &w1)
                if h1 <= h0 or w1 <= w0:
                    continue
                inv = 1.0 / ((h1 - h0) * (w1 - w0))
                if not adjoint:
                    o = out + ((n * oh + i) * ow + j) * C
                    for c in range(C):
                        o[c] = 0
                    for hi in range(h0, h1):
                        for wi in range(w0, w1):
                            src = x + ((n * H + hi) * W + wi) * C
                            for c in range(C):
                                o[c] += src[c]
                    for c in range(C):
                        o[c] *= inv
                else:
                    src = x + ((n * oh + i) * ow + j) * C
                    for hi in range(h0, h1):
                        for wi in range(w0, w1):
                            o = out + ((n * H + hi) * W + wi) * C
                            for c in range(C):
                                o[c] += src[c] * inv


cpdef object avg_pool(object x, int kh, int kw, int sh, int sw, int pad_top, int pad_left,
                      int oh, int ow):
    return _pool(x, kh, kw, sh, sw, pad_top, pad_left, oh, ow, True)


cdef object _pool(object x, int kh, int kw, int sh, int sw, int pad_top, int pad_left, int oh,
                  int ow, bint average):
    cdef cnp.ndarray X = np.ascontiguousarray(x)
    _check_float4(X, "avg_pool2d" if average else "max_pool2d")
    cdef Py_ssize_t N = X.shape[0], H = X.shape[1], W = X.shape[2], C = X.shape[3]
    # the average accumulates into zeros; the max writes every output
    cdef cnp.ndarray out = (np.zeros if average else np.empty)((N, oh, ow, C), dtype=X.dtype)
    if out.size == 0:
        return out
    if X.dtype.num == cnp.NPY_FLOAT:
        with nogil:
            if average:
                _avg_pool[float](<float*>cnp.PyArray_DATA(X), <float*>cnp.PyArray_DATA(out), N,
                                 H, W, C, kh, kw, sh, sw, pad_top, pad_left, oh, ow, False)
            else:
                _max_pool[float](<float*>cnp.PyArray_DATA(X), <float*>cnp.PyArray_DATA(out), N,
                                 H, W, C, kh, kw, sh, sw, pad_top, pad_left, oh, ow)
    else:
        with nogil:
            if average:
                _avg_pool[double](<double*>cnp.PyArray_DATA(X), <double*>cnp.PyArray_DATA(out),
                                  N, H, W, C, kh, kw, sh, sw, pad_top, pad_left, oh, ow, False)
            else:
                _max_pool[double](<double*>cnp.PyArray_DATA(X), <double*>cnp.PyArray_DATA(out),
                                  N, H, W, C, kh, kw, sh, sw, pad_top, pad_left, oh, ow)
    return out


cpdef object avg_pool_grad(object g, tuple x_shape, int kh, int kw, int sh, int sw,
                           int pad_top, int pad_left):
    cdef cnp.ndarray G = np.ascontiguousarray(g)
    _check_float4(G, "avg_pool2d_grad")
    cdef Py_ssize_t N = x_shape[0], H = x_shape[1], W = x_shape[2], C = x_shape[3]
    if G.shape[0] != N or G.shape[3] != C:
        raise ValueError("avg_pool2d_grad: gradient %s does not match input %s"
                         % (_shp(G), x_shape))
    cdef int oh = G.shape[1], ow = G.shape[2]
    cdef cnp.ndarray out = np.zeros(x_shape, dtype=G.dtype)
    if G.size == 0:
        return out
    if G.dtype.num == cnp.NPY_FLOAT:
        with nogil:
            _avg_pool[float](<float*>cnp.PyArray_DATA(G), <float*>cnp.PyArray_DATA(out), N, H,
                             W, C, kh, kw, sh, sw, pad_top, pad_left, oh, ow, True)
    else:
        with nogil:
            _avg_pool[double](<double*>cnp.PyArray_DATA(G), <double*>cnp.PyArray_DATA(out), N,
                              H, W, C, kh, kw, sh, sw, pad_top, pad_left, oh, ow, True)
    return out


# ---------------------------------------------------------------------------
# fused optimizer updates: one pass over the variable, its slots and the gradient

cdef void _adam(floating* w, floating* m, floating* v, floating* g, Py_ssize_t n, double lr_t,
                double b1, double b2, double eps) noexcept nogil:
    # Arithmetic in the variable's own precision, as TF's kernel does: double
    # coefficients would promote every float32 element to a scalar double divide and
    # square root (measured 13.5 ms against 2.6 ms for 3.3M parameters).
    cdef Py_ssize_t i
    cdef floating gi, mi, vi
    cdef floating fb1 = <floating>b1, fb2 = <floating>b2, fc1 = <floating>(1.0 - b1)
    cdef floating fc2 = <floating>(1.0 - b2), flr = <floating>lr_t, feps = <floating>eps
    for i in range(n):
        gi = g[i]
        mi = fb1 * m[i] + fc1 * gi
        vi = fb2 * v[i] + fc2 * (gi * gi)
        m[i] = mi
        v[i] = vi
        if floating is float:
            w[i] = w[i] - flr * mi / (sqrtf(vi) + feps)
        else:
            w[i] = w[i] - flr * mi / (sqrt(vi) + feps)


cdef void _sgd(floating* w, floating* g, Py_ssize_t n, double lr) noexcept nogil:
    # w - lr * g rounded twice, exactly as NumPy's `w -= lr * g` (no FMA contraction)
    cdef Py_ssize_t i
    cdef floating flr = <floating>lr
    for i in range(n):
        w[i] = w[i] - flr * g[i]


cdef bint _updatable(tuple arrays):
    # float32/float64 arrays of one dtype and size, C-contiguous; all but the last
    # (the gradient) writable.  Checked without building NumPy flags objects: this
    # runs once per variable per step.
    cdef cnp.ndarray first = arrays[0], a
    cdef int typenum = cnp.PyArray_TYPE(first)
    cdef Py_ssize_t i, n = len(arrays)
    if typenum != cnp.NPY_FLOAT and typenum != cnp.NPY_DOUBLE:
        return False
    for i in range(n):
        a = arrays[i]
        if cnp.PyArray_TYPE(a) != typenum or cnp.PyArray_SIZE(a) != cnp.PyArray_SIZE(first):
            return False
        if not cnp.PyArray_IS_C_CONTIGUOUS(a):
            return False
        if i < n - 1 and not cnp.PyArray_ISWRITEABLE(a):
            return False
    return True


cpdef bint adam_update(object w, object m, object v, object g, double lr_t, double b1,
                       double b2, double eps) except -1:
    """In place: m, v <- moments of g; w -= lr_t * m / (sqrt(v) + eps) (TF 1.x Adam).
    False (nothing done) unless every array is float32/float64 of one dtype and size and
    C-contiguous, and w, m, v are writable: the caller then updates with NumPy."""
    if not _updatable((w, m, v, g)):
        return False
    cdef cnp.ndarray W = w, M = m, V = v, G = g
    cdef Py_ssize_t n = cnp.PyArray_SIZE(W)
    if W.dtype.num == cnp.NPY_FLOAT:
        with nogil:
            _adam[float](<float*>cnp.PyArray_DATA(W), <float*>cnp.PyArray_DATA(M),
                         <float*>cnp.PyArray_DATA(V), <float*>cnp.PyArray_DATA(G), n, lr_t,
                         b1, b2, eps)
    else:
        with nogil:
            _adam[double](<double*>cnp.PyArray_DATA(W), <double*>cnp.PyArray_DATA(M),
                          <double*>cnp.PyArray_DATA(V), <double*>cnp.PyArray_DATA(G), n, lr_t,
                          b1, b2, eps)
    return True


cpdef bint sgd_update(object w, object g, double lr) except -1:
    """In place: w -= lr * g, one pass, no temporary; False (nothing done) for layouts
    adam_update rejects."""
    if not _updatable((w, g)):
        return False
    cdef cnp.ndarray W = w, G = g
    cdef Py_ssize_t n = cnp.PyArray_SIZE(W)
    if W.dtype.num == cnp.NPY_FLOAT:
        with nogil:
            _sgd[float](<float*>cnp.PyArray_DATA(W), <float*>cnp.PyArray_DATA(G), n, lr)
    else:
        with nogil:
            _sgd[double](<double*>cnp.PyArray_DATA(W), <double*>cnp.PyArray_DATA(G), n, lr)
    return True
