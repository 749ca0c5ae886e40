# Included by _kernels.pyx: im2col / col2im for the convolutions.

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
    # after _c_float: a C-contiguous native float32/float64 array of rank 4
    if x.ndim != 4:
        raise ValueError("%s: expected a rank-4 NHWC array, got shape %s" % (what, _shp(x)))
    if _ftype(x) < 0:
        raise TypeError("%s: expected float32 or float64, got %s" % (what, x.dtype))
    return 0


cpdef object im2col(object x, int kh, int kw, int sh, int sw, int dh, int dw,
                    int pad_top, int pad_left, int oh, int ow):
    """Patches of an NHWC array as rows: (N*oh*ow, kh*kw*C)."""
    cdef cnp.ndarray X = _c_float(x, "im2col", "x")
    _check_float4(X, "im2col")
    _check_window("im2col", kh, kw, sh, sw, dh, dw, pad_top, pad_left, oh, ow)
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
    cdef cnp.ndarray K = _c_float(cols, "col2im", "cols")
    _shape4(x_shape, "col2im")
    _check_window("col2im", kh, kw, sh, sw, dh, dw, pad_top, pad_left, oh, ow)
    cdef Py_ssize_t N = x_shape[0], H = x_shape[1], W = x_shape[2], C = x_shape[3]
    if K.ndim != 2 or K.shape[0] != N * oh * ow or K.shape[1] != kh * kw * C:
        raise ValueError("col2im: columns of shape %s do not match image %s"
                         % (_shp(K), x_shape))
    if _ftype(K) < 0:
        raise TypeError("col2im: expected float32 or float64, got %s" % K.dtype)
    cdef cnp.ndarray X
    if out is None:
        X = np.zeros(x_shape, dtype=K.dtype)
    else:
        X = _nd(out, "col2im", "out")
        if (<object>X).shape != x_shape or _ftype(X) != _ftype(K) or \
                not cnp.PyArray_ISWRITEABLE(X):
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
