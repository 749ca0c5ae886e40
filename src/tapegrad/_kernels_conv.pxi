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
    cdef cnp.ndarray cols = empty((N * oh * ow, kh * kw * C), X.dtype)
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


# ---------------------------------------------------------------------------
# convolutions as im2col + GEMM on the pool: each part owns a range of images and works
# through it in chunks whose patch matrix (~2 MiB) stays in its core's cache between
# the copy and the product.  Forward and input-adjoint parts write disjoint images;
# the filter adjoint sums a partial per part, added up in part order by the caller (a
# reduction over the batch: fixed for a fixed thread count).

cdef enum:
    CONV_FORWARD = 0
    CONV_INPUT = 1
    CONV_FILTER = 2

cdef Py_ssize_t _CONV_CHUNK_BYTES = 2 << 20


cdef struct ConvJob:
    int mode
    bint single
    char* x               # images (forward, filter) or the zeroed input adjoint
    char* w               # the filter as a (K, O) matrix (forward, input)
    char* dy              # output adjoint rows (N*oh*ow, O) (input, filter)
    char* out             # output rows (forward) or one (K, O) partial per part (filter)
    char* scratch         # one chunk of patch rows (chunk*oh*ow, K) per part
    Py_ssize_t N, H, W, C, O, K, chunk, itemsize
    int kh, kw, sh, sw, dh, dw, pt, pl, oh, ow


cdef void _conv_patches(ConvJob* j, char* img, char* cols, Py_ssize_t n,
                        bint adjoint) noexcept nogil:
    if j.single:
        _patches[float](<float*>img, <float*>cols, n, j.H, j.W, j.C, j.kh, j.kw, j.sh, j.sw,
                        j.dh, j.dw, j.pt, j.pl, j.oh, j.ow, adjoint)
    else:
        _patches[double](<double*>img, <double*>cols, n, j.H, j.W, j.C, j.kh, j.kw, j.sh,
                         j.sw, j.dh, j.dw, j.pt, j.pl, j.oh, j.ow, adjoint)


cdef void _conv_part(void* ctx, int part, int parts) noexcept nogil:
    cdef ConvJob* j = <ConvJob*>ctx
    cdef ptrdiff_t lo, hi
    cdef Py_ssize_t a, b, rows, r, s = j.itemsize, per = j.oh * j.ow
    cdef char* cols = j.scratch + part * j.chunk * per * j.K * s
    cdef char* dw = j.out + part * j.K * j.O * s
    cdef char* img
    cdef bint first = True
    tg_split(j.N, part, parts, 1, &lo, &hi)
    if j.mode == CONV_FILTER and lo >= hi:
        memset(dw, 0, j.K * j.O * s)
        return
    a = lo
    while a < hi:
        b = a + j.chunk if a + j.chunk < hi else hi
        rows = (b - a) * per
        img = j.x + a * j.H * j.W * j.C * s
        if j.mode == CONV_FORWARD:
            _conv_patches(j, img, cols, b - a, False)
            _gemm_call(j.single, False, False, rows, j.O, j.K, cols, j.K, j.w, j.O, 0.0,
                       j.out + a * per * j.O * s, j.O)
        elif j.mode == CONV_INPUT:
            _gemm_call(j.single, False, True, rows, j.K, j.O, j.dy + a * per * j.O * s, j.O,
                       j.w, j.O, 0.0, cols, j.K)
            _conv_patches(j, img, cols, b - a, True)
        else:
            _conv_patches(j, img, cols, b - a, False)
            if j.K * j.O > 4096 or rows <= 2048:
                _gemm_call(j.single, True, False, j.K, j.O, rows, cols, j.K,
                           j.dy + a * per * j.O * s, j.O, 0.0 if first else 1.0, dw, j.O)
                first = False
            else:
                # a tiny result (a first layer: 25 x 32) over a long inner dimension is
                # OpenBLAS's slow case (~15x): sum products of 1024-row blocks instead
                r = 0
                while r < rows:
                    _gemm_call(j.single, True, False, j.K, j.O,
                               1024 if r + 1024 <= rows else rows - r,
                               cols + r * j.K * s, j.K, j.dy + (a * per + r) * j.O * s, j.O,
                               0.0 if first else 1.0, dw, j.O)
                    first = False
                    r += 1024
        a = b


cdef object _conv_run(int mode, cnp.ndarray x, cnp.ndarray w2, cnp.ndarray dy,
                      tuple x_shape, Py_ssize_t O, int kh, int kw, int sh, int sw, int dh,
                      int dw, int pt, int pl, int oh, int ow):
    cdef ConvJob j
    cdef Py_ssize_t N = x_shape[0], H = x_shape[1], W = x_shape[2], C = x_shape[3]
    cdef Py_ssize_t K = kh * kw * C, per = oh * ow, s
    cdef int parts
    cdef object dtype = (x if x is not None else dy).dtype
    cdef cnp.ndarray out, scratch, img
    s = dtype.itemsize
    j.mode = mode
    j.single = dtype.num == cnp.NPY_FLOAT
    j.N = N
    j.H = H
    j.W = W
    j.C = C
    j.O = O
    j.K = K
    j.itemsize = s
    j.kh = kh
    j.kw = kw
    j.sh = sh
    j.sw = sw
    j.dh = dh
    j.dw = dw
    j.pt = pt
    j.pl = pl
    j.oh = oh
    j.ow = ow
    j.chunk = max(1, _CONV_CHUNK_BYTES // max(1, per * K * s))
    # parts: whole images, and each worth at least a chunk of work
    parts = _parts(N, j.chunk if j.chunk < N else N)
    if mode == CONV_FORWARD:
        img = x
        out = empty((N, oh, ow, O), dtype)
    elif mode == CONV_INPUT:
        img = np.zeros(x_shape, dtype=dtype)
        out = img
    else:
        img = x
        out = empty((parts, K, O), dtype)
    scratch = empty((parts * min(j.chunk, N) * per * K,), dtype)
    j.x = <char*>cnp.PyArray_DATA(img)
    j.w = NULL if w2 is None else <char*>cnp.PyArray_DATA(w2)
    j.dy = NULL if dy is None else <char*>cnp.PyArray_DATA(dy)
    j.out = <char*>cnp.PyArray_DATA(out)
    j.scratch = <char*>cnp.PyArray_DATA(scratch)
    if N == 0 or per == 0 or O == 0 or K == 0:
        return np.zeros((K, O), dtype=dtype) if mode == CONV_FILTER else out
    _pin()
    with nogil:
        tg_pool_run(_conv_part, &j, parts)
    _unpin()
    if mode == CONV_FILTER:
        return out[0] if parts == 1 else np.add.reduce(out, axis=0)
    return out


cdef int _conv_shapes(str fn, cnp.ndarray a, tuple shape) except -1:
    if _ftype(a) < 0 or (<object>a).shape != shape:
        raise ValueError("%s: expected a C-contiguous float array of shape %s, got %s %s"
                         % (fn, shape, _shp(a), a.dtype))
    return 0


cpdef object conv2d(object x, object w2, int kh, int kw, int sh, int sw, int dh, int dw,
                    int pad_top, int pad_left, int oh, int ow):
    """NHWC x (kh*kw*C, O) filter matrix -> NHWC output, im2col + GEMM on the pool; None
    without a bound BLAS (the caller then runs im2col and np.matmul)."""
    if not _blas_ready():
        return None
    cdef cnp.ndarray X = _c_float(x, "conv2d", "x"), W2 = _c_float(w2, "conv2d", "w2")
    _check_float4(X, "conv2d")
    _check_window("conv2d", kh, kw, sh, sw, dh, dw, pad_top, pad_left, oh, ow)
    if W2.dtype != X.dtype or W2.ndim != 2 or W2.shape[0] != kh * kw * X.shape[3]:
        raise ValueError("conv2d: filter matrix %s %s does not match input %s %s"
                         % (_shp(W2), W2.dtype, _shp(X), X.dtype))
    return _conv_run(CONV_FORWARD, X, W2, None, _shp(X), W2.shape[1], kh, kw, sh, sw, dh, dw,
                     pad_top, pad_left, oh, ow)


cpdef object conv2d_input_grad(object dy, object w2, tuple x_shape, int kh, int kw, int sh,
                               int sw, int dh, int dw, int pad_top, int pad_left, int oh,
                               int ow):
    """Adjoint of conv2d for its input: dy (N, oh, ow, O), filter matrix (K, O) ->
    x_shape; None without a bound BLAS."""
    if not _blas_ready():
        return None
    cdef cnp.ndarray D = _c_float(dy, "conv2d_input_grad", "dy")
    cdef cnp.ndarray W2 = _c_float(w2, "conv2d_input_grad", "w2")
    _shape4(x_shape, "conv2d_input_grad")
    _check_window("conv2d_input_grad", kh, kw, sh, sw, dh, dw, pad_top, pad_left, oh, ow)
    if W2.ndim != 2 or W2.shape[0] != kh * kw * x_shape[3] or W2.dtype != D.dtype:
        raise ValueError("conv2d_input_grad: filter matrix %s %s does not match input %s"
                         % (_shp(W2), W2.dtype, x_shape))
    _conv_shapes("conv2d_input_grad", D, (x_shape[0], oh, ow, W2.shape[1]))
    return _conv_run(CONV_INPUT, None, W2, D, x_shape, W2.shape[1], kh, kw, sh, sw, dh, dw,
                     pad_top, pad_left, oh, ow)


cpdef object conv2d_filter_grad(object x, object dy, int kh, int kw, int sh, int sw, int dh,
                                int dw, int pad_top, int pad_left, int oh, int ow):
    """Adjoint of conv2d for its filter: x (N, H, W, C), dy (N, oh, ow, O) -> the
    (kh*kw*C, O) filter matrix; None without a bound BLAS."""
    if not _blas_ready():
        return None
    cdef cnp.ndarray X = _c_float(x, "conv2d_filter_grad", "x")
    cdef cnp.ndarray D = _c_float(dy, "conv2d_filter_grad", "dy")
    _check_float4(X, "conv2d_filter_grad")
    _check_window("conv2d_filter_grad", kh, kw, sh, sw, dh, dw, pad_top, pad_left, oh, ow)
    if D.dtype != X.dtype or D.ndim != 4:
        raise ValueError("conv2d_filter_grad: dy %s %s does not match input %s %s"
                         % (_shp(D), D.dtype, _shp(X), X.dtype))
    _conv_shapes("conv2d_filter_grad", D, (X.shape[0], oh, ow, D.shape[3]))
    return _conv_run(CONV_FILTER, X, None, D, _shp(X), D.shape[3], kh, kw, sh, sw, dh, dw,
                     pad_top, pad_left, oh, ow)
