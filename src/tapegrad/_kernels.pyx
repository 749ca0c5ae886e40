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
from libc.math cimport sqrt
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


# ---------------------------------------------------------------------------
# convolution helpers (NHWC): im2col / col2im

cdef void _im2col(floating* x, floating* cols, Py_ssize_t N, Py_ssize_t H, Py_ssize_t W,
                  Py_ssize_t C, int kh, int kw, int sh, int sw, int dh, int dw,
                  int pt, int pl, int oh, int ow) noexcept nogil:
    cdef Py_ssize_t n, i, j, p, q, c, hi, wi, row = 0
    cdef floating* dst
    cdef floating* src
    cdef Py_ssize_t width = kh * kw * C
    for n in range(N):
        for i in range(oh):
            for j in range(ow):
                dst = cols + row * width
                for p in range(kh):
                    hi = i * sh - pt + p * dh
                    for q in range(kw):
                        wi = j * sw - pl + q * dw
                        if hi < 0 or hi >= H or wi < 0 or wi >= W:
                            for c in range(C):
                                dst[c] = 0
                        elif C >= 16:
                            memcpy(dst, x + ((n * H + hi) * W + wi) * C, C * sizeof(floating))
                        else:
                            # few channels (a first layer): a call per pixel costs more
                            # than the copy itself
                            src = x + ((n * H + hi) * W + wi) * C
                            for c in range(C):
                                dst[c] = src[c]
                        dst += C
                row += 1


cdef void _col2im(floating* cols, floating* x, Py_ssize_t N, Py_ssize_t H, Py_ssize_t W,
                  Py_ssize_t C, int kh, int kw, int sh, int sw, int dh, int dw,
                  int pt, int pl, int oh, int ow) noexcept nogil:
    cdef Py_ssize_t n, i, j, p, q, c, hi, wi, row = 0
    cdef floating* src
    cdef floating* dst
    cdef Py_ssize_t width = kh * kw * C
    for n in range(N):
        for i in range(oh):
            for j in range(ow):
                src = cols + row * width
                for p in range(kh):
                    hi = i * sh - pt + p * dh
                    for q in range(kw):
                        wi = j * sw - pl + q * dw
                        if 0 <= hi < H and 0 <= wi < W:
                            dst = x + ((n * H + hi) * W + wi) * C
                            for c in range(C):
                                dst[c] += src[c]
                        src += C
                row += 1


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
            _im2col[float](<float*>cnp.PyArray_DATA(X), <float*>cnp.PyArray_DATA(cols), N, H, W,
                           C, kh, kw, sh, sw, dh, dw, pad_top, pad_left, oh, ow)
    else:
        with nogil:
            _im2col[double](<double*>cnp.PyArray_DATA(X), <double*>cnp.PyArray_DATA(cols), N, H,
                            W, C, kh, kw, sh, sw, dh, dw, pad_top, pad_left, oh, ow)
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
            _col2im[float](<float*>cnp.PyArray_DATA(K), <float*>cnp.PyArray_DATA(X), N, H, W, C,
                           kh, kw, sh, sw, dh, dw, pad_top, pad_left, oh, ow)
    else:
        with nogil:
            _col2im[double](<double*>cnp.PyArray_DATA(K), <double*>cnp.PyArray_DATA(X), N, H, W,
                            C, kh, kw, sh, sw, dh, dw, pad_top, pad_left, oh, ow)
    return X


# ---------------------------------------------------------------------------
# pooling (NHWC); windows never read padding

cdef void _max_pool(floating* x, floating* out, Py_ssize_t N, Py_ssize_t H, Py_ssize_t W,
                    Py_ssize_t C, int kh, int kw, int sh, int sw, int pt, int pl,
                    int oh, int ow) noexcept nogil:
    cdef Py_ssize_t n, i, j, p, q, c, hi, wi
    cdef floating* o
    cdef floating* src
    cdef floating v, w
    cdef bint first
    for n in range(N):
        for i in range(oh):
            for j in range(ow):
                o = out + ((n * oh + i) * ow + j) * C
                first = True
                for p in range(kh):
                    hi = i * sh - pt + p
                    if hi < 0 or hi >= H:
                        continue
                    for q in range(kw):
                        wi = j * sw - pl + q
                        if wi < 0 or wi >= W:
                            continue
                        src = x + ((n * H + hi) * W + wi) * C
                        if first:
                            memcpy(o, src, C * sizeof(floating))
                            first = False
                        else:
                            # branch-free select, so the channel loop vectorises
                            for c in range(C):
                                v = src[c]
                                w = o[c]
                                o[c] = v if (v > w) | (v != v) else w


cdef void _max_route(floating* x, floating* g, floating* out, Py_ssize_t N, Py_ssize_t H,
                     Py_ssize_t W, Py_ssize_t C, int kh, int kw, int sh, int sw, int pt, int pl,
                     int oh, int ow, bint scatter, Py_ssize_t* best,
                     floating* bv) noexcept nogil:
    # For each window and channel find the first maximal input; scatter routes the
    # output gradient there, select reads the input-shaped cotangent from there.
    # Channels are the innermost loop (contiguous in NHWC); best/bv hold one running
    # argmax per channel.
    cdef Py_ssize_t n, i, j, p, q, c, hi, wi, base, o, b
    cdef floating v, m
    cdef bint first, take
    for n in range(N):
        for i in range(oh):
            for j in range(ow):
                first = True
                for c in range(C):
                    best[c] = -1
                for p in range(kh):
                    hi = i * sh - pt + p
                    if hi < 0 or hi >= H:
                        continue
                    for q in range(kw):
                        wi = j * sw - pl + q
                        if wi < 0 or wi >= W:
                            continue
                        base = ((n * H + hi) * W + wi) * C
                        if first:
                            for c in range(C):
                                best[c] = base + c
                                bv[c] = x[base + c]
                            first = False
                            continue
                        # branch-free: a later entry wins only if strictly larger, or if
                        # it is the first NaN
                        for c in range(C):
                            v = x[base + c]
                            m = bv[c]
                            take = (v > m) | ((v != v) & (m == m))
                            b = best[c]
                            best[c] = base + c if take else b
                            bv[c] = v if take else m
                o = ((n * oh + i) * ow + j) * C
                for c in range(C):
                    if best[c] >= 0:
                        if scatter:
                            out[best[c]] += g[o + c]
                        else:
                            out[o + c] = g[best[c]]


cpdef object max_pool(object x, int kh, int kw, int sh, int sw, int pad_top, int pad_left,
                      int oh, int ow):
    cdef cnp.ndarray X = np.ascontiguousarray(x)
    _check_float4(X, "max_pool2d")
    cdef Py_ssize_t N = X.shape[0], H = X.shape[1], W = X.shape[2], C = X.shape[3]
    cdef cnp.ndarray out = np.empty((N, oh, ow, C), dtype=X.dtype)
    if out.size == 0:
        return out
    if X.dtype.num == cnp.NPY_FLOAT:
        with nogil:
            _max_pool[float](<float*>cnp.PyArray_DATA(X), <float*>cnp.PyArray_DATA(out), N, H,
                             W, C, kh, kw, sh, sw, pad_top, pad_left, oh, ow)
    else:
        with nogil:
            _max_pool[double](<double*>cnp.PyArray_DATA(X), <double*>cnp.PyArray_DATA(out), N,
                              H, W, C, kh, kw, sh, sw, pad_top, pad_left, oh, ow)
    return out


cdef object _route(cnp.ndarray X, cnp.ndarray G, cnp.ndarray out, int kh, int kw, int sh,
                   int sw, int pad_top, int pad_left, int oh, int ow, bint scatter):
    # shared driver of max_pool_scatter / max_pool_select (shapes already checked)
    cdef Py_ssize_t N = X.shape[0], H = X.shape[1], W = X.shape[2], C = X.shape[3]
    cdef cnp.ndarray best = np.empty(C, dtype=np.intp)
    cdef cnp.ndarray bv = np.empty(C, dtype=X.dtype)
    if G.size == 0 or out.size == 0:
        return out
    if X.dtype.num == cnp.NPY_FLOAT:
        with nogil:
            _max_route[float](<float*>cnp.PyArray_DATA(X), <float*>cnp.PyArray_DATA(G),
                              <float*>cnp.PyArray_DATA(out), N, H, W, C, kh, kw, sh, sw,
                              pad_top, pad_left, oh, ow, scatter,
                              <Py_ssize_t*>cnp.PyArray_DATA(best), <float*>cnp.PyArray_DATA(bv))
    else:
        with nogil:
            _max_route[double](<double*>cnp.PyArray_DATA(X), <double*>cnp.PyArray_DATA(G),
                               <double*>cnp.PyArray_DATA(out), N, H, W, C, kh, kw, sh, sw,
                               pad_top, pad_left, oh, ow, scatter,
                               <Py_ssize_t*>cnp.PyArray_DATA(best), <double*>cnp.PyArray_DATA(bv))
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
    return _route(X, G, np.zeros_like(X), kh, kw, sh, sw, pad_top, pad_left, G.shape[1],
                  G.shape[2], True)


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
    cdef Py_ssize_t n, i, j, p, q, c, hi, wi, h0, h1, w0, w1
    cdef floating* o
    cdef floating* src
    cdef floating inv
    for n in range(N):
        for i in range(oh):
            h0 = i * sh - pt
            h1 = h0 + kh
            if h0 < 0:
                h0 = 0
            if h1 > H:
                h1 = H
            for j in range(ow):
                w0 = j * sw - pl
                w1 = w0 + kw
                if w0 < 0:
                    w0 = 0
                if w1 > W:
                    w1 = W
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
    cdef cnp.ndarray X = np.ascontiguousarray(x)
    _check_float4(X, "avg_pool2d")
    cdef Py_ssize_t N = X.shape[0], H = X.shape[1], W = X.shape[2], C = X.shape[3]
    cdef cnp.ndarray out = np.zeros((N, oh, ow, C), dtype=X.dtype)
    if out.size == 0:
        return out
    if X.dtype.num == cnp.NPY_FLOAT:
        with nogil:
            _avg_pool[float](<float*>cnp.PyArray_DATA(X), <float*>cnp.PyArray_DATA(out), N, H,
                             W, C, kh, kw, sh, sw, pad_top, pad_left, oh, ow, False)
    else:
        with nogil:
            _avg_pool[double](<double*>cnp.PyArray_DATA(X), <double*>cnp.PyArray_DATA(out), N,
                              H, W, C, kh, kw, sh, sw, pad_top, pad_left, oh, ow, False)
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
    cdef Py_ssize_t i
    cdef floating gi, mi, vi
    for i in range(n):
        gi = g[i]
        mi = <floating>(b1 * m[i] + (1.0 - b1) * gi)
        vi = <floating>(b2 * v[i] + (1.0 - b2) * gi * gi)
        m[i] = mi
        v[i] = vi
        w[i] = <floating>(w[i] - lr_t * mi / (sqrt(vi) + eps))


cdef int _check_update(tuple arrays, str what) except -1:
    cdef cnp.ndarray first = arrays[0], a
    if first.dtype.num not in (cnp.NPY_FLOAT, cnp.NPY_DOUBLE):
        raise TypeError("%s: expected float32 or float64 arrays, got %s" % (what, first.dtype))
    for a in arrays:
        if a.dtype != first.dtype or cnp.PyArray_SIZE(a) != cnp.PyArray_SIZE(first):
            raise ValueError("%s: arrays differ in dtype or size" % what)
        if not cnp.PyArray_IS_C_CONTIGUOUS(a):
            raise ValueError("%s: arrays must be C-contiguous" % what)
    for a in arrays[:len(arrays) - 1]:
        if not cnp.PyArray_ISWRITEABLE(a):
            raise ValueError("%s: the variable and its slots must be writable" % what)
    return 0


cpdef adam_update(object w, object m, object v, object g, double lr_t, double b1, double b2,
                  double eps):
    """In place: m, v <- moments of g; w -= lr_t * m / (sqrt(v) + eps) (TF 1.x Adam)."""
    _check_update((w, m, v, g), "adam_update")
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
