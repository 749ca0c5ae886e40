# Included by _kernels.pyx: max and average pooling and their gradients.

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


# ---------------------------------------------------------------------------
# the pool kernels on the thread pool: parts own disjoint ranges of images (the same
# code per image whatever the split, so the same bits at every thread count)

cdef enum:
    WIN_MAX = 0
    WIN_AVG = 1
    WIN_AVG_GRAD = 2
    WIN_ROUTE = 3


cdef struct WinJob:
    int kind
    bint single
    char* x               # input-shaped (max, avg, route) or pooled (avg grad)
    char* g               # route: pooled (scatter) or input-shaped (select) gradient
    char* out
    char* scratch         # route: m and left, 2*C per part
    Py_ssize_t N, H, W, C, itemsize
    int kh, kw, sh, sw, pt, pl, oh, ow
    bint scatter, tiled


cdef void _win_range(WinJob* j, floating* x, floating* g, floating* out, floating* m,
                     Py_ssize_t n) noexcept nogil:
    if j.kind == WIN_MAX:
        _max_pool(x, out, n, j.H, j.W, j.C, j.kh, j.kw, j.sh, j.sw, j.pt, j.pl, j.oh, j.ow)
    elif j.kind == WIN_AVG or j.kind == WIN_AVG_GRAD:
        _avg_pool(x, out, n, j.H, j.W, j.C, j.kh, j.kw, j.sh, j.sw, j.pt, j.pl, j.oh, j.ow,
                  j.kind == WIN_AVG_GRAD)
    else:
        _max_route(x, g, out, n, j.H, j.W, j.C, j.kh, j.kw, j.sh, j.sw, j.pt, j.pl, j.oh,
                   j.ow, j.scatter, j.tiled, m, m + j.C)


cdef void _win_part(void* ctx, int part, int parts) noexcept nogil:
    cdef WinJob* j = <WinJob*>ctx
    cdef ptrdiff_t lo, hi
    cdef Py_ssize_t full = j.H * j.W * j.C * j.itemsize
    cdef Py_ssize_t pooled = j.oh * j.ow * j.C * j.itemsize
    cdef Py_ssize_t xs, gs, os
    tg_split(j.N, part, parts, 1, &lo, &hi)
    if lo >= hi:
        return
    # bytes per image of x, g and out for this kind
    if j.kind == WIN_AVG_GRAD:
        xs, gs, os = pooled, 0, full
    elif j.kind == WIN_ROUTE:
        xs = full
        gs = pooled if j.scatter else full
        os = full if j.scatter else pooled
    else:
        xs, gs, os = full, 0, pooled
    if j.single:
        _win_range[float](j, <float*>(j.x + lo * xs), <float*>(j.g + lo * gs),
                          <float*>(j.out + lo * os),
                          <float*>(j.scratch + part * 2 * j.C * j.itemsize), hi - lo)
    else:
        _win_range[double](j, <double*>(j.x + lo * xs), <double*>(j.g + lo * gs),
                           <double*>(j.out + lo * os),
                           <double*>(j.scratch + part * 2 * j.C * j.itemsize), hi - lo)


cdef object _win_run(int kind, cnp.ndarray X, cnp.ndarray G, cnp.ndarray out, Py_ssize_t N,
                     Py_ssize_t H, Py_ssize_t W, Py_ssize_t C, int kh, int kw, int sh, int sw,
                     int pt, int pl, int oh, int ow, bint scatter=False, bint tiled=False):
    cdef WinJob j
    cdef int parts = _parts(N * H * W * C, GRAIN_CHEAP)
    cdef cnp.ndarray scratch = np.empty(2 * C * parts, dtype=out.dtype)
    if parts > N:
        parts = <int>N if N > 0 else 1
    j.kind = kind
    j.single = out.dtype.num == cnp.NPY_FLOAT
    j.x = <char*>cnp.PyArray_DATA(X)
    j.g = NULL if G is None else <char*>cnp.PyArray_DATA(G)
    j.out = <char*>cnp.PyArray_DATA(out)
    j.scratch = <char*>cnp.PyArray_DATA(scratch)
    j.N = N
    j.H = H
    j.W = W
    j.C = C
    j.itemsize = out.dtype.itemsize
    j.kh = kh
    j.kw = kw
    j.sh = sh
    j.sw = sw
    j.pt = pt
    j.pl = pl
    j.oh = oh
    j.ow = ow
    j.scatter = scatter
    j.tiled = tiled
    with nogil:
        tg_pool_run(_win_part, &j, parts)
    return out


cpdef object max_pool(object x, int kh, int kw, int sh, int sw, int pad_top, int pad_left,
                      int oh, int ow):
    return _pool(x, kh, kw, sh, sw, pad_top, pad_left, oh, ow, False)


cdef object _route(cnp.ndarray X, cnp.ndarray G, cnp.ndarray out, int kh, int kw, int sh,
                   int sw, int pad_top, int pad_left, int oh, int ow, bint scatter,
                   bint tiled=False):
    # shared driver of max_pool_scatter / max_pool_select (shapes already checked)
    if G.size == 0 or out.size == 0:
        return out
    return _win_run(WIN_ROUTE, X, G, out, X.shape[0], X.shape[1], X.shape[2], X.shape[3],
                    kh, kw, sh, sw, pad_top, pad_left, oh, ow, scatter, tiled)


cpdef object max_pool_scatter(object x, object g, int kh, int kw, int sh, int sw,
                              int pad_top, int pad_left):
    """Route a pooled-shape gradient g to each window's (first) argmax of x."""
    cdef cnp.ndarray X = _c_float(x, "max_pool_scatter", "x")
    cdef cnp.ndarray G = _c_float(g, "max_pool_scatter", "g")
    _check_window("max_pool_scatter", kh, kw, sh, sw, 1, 1, pad_top, pad_left, 0, 0)
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
    cdef cnp.ndarray X = _c_float(x, "max_pool_select", "x")
    cdef cnp.ndarray G = _c_float(g, "max_pool_select", "g")
    _check_window("max_pool_select", kh, kw, sh, sw, 1, 1, pad_top, pad_left, oh, ow)
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
    cdef str fn = "avg_pool" if average else "max_pool"
    cdef cnp.ndarray X = _c_float(x, fn, "x")
    _check_window(fn, kh, kw, sh, sw, 1, 1, pad_top, pad_left, oh, ow)
    _check_float4(X, "avg_pool2d" if average else "max_pool2d")
    cdef Py_ssize_t N = X.shape[0], H = X.shape[1], W = X.shape[2], C = X.shape[3]
    # the average accumulates into zeros; the max writes every output whose window
    # holds an input (all of them under SAME/VALID geometry: then no zeroing pass)
    cdef bint covered = (pad_top < kh and pad_left < kw and (oh - 1) * sh - pad_top < H
                         and (ow - 1) * sw - pad_left < W)
    cdef cnp.ndarray out = (np.empty if covered and not average else np.zeros)(
        (N, oh, ow, C), dtype=X.dtype)
    if out.size == 0:
        return out
    return _win_run(WIN_AVG if average else WIN_MAX, X, None, out, N, H, W, C, kh, kw, sh,
                    sw, pad_top, pad_left, oh, ow)


cpdef object avg_pool_grad(object g, tuple x_shape, int kh, int kw, int sh, int sw,
                           int pad_top, int pad_left):
    cdef cnp.ndarray G = _c_float(g, "avg_pool_grad", "g")
    _shape4(x_shape, "avg_pool_grad")
    _check_window("avg_pool_grad", kh, kw, sh, sw, 1, 1, pad_top, pad_left, 0, 0)
    _check_float4(G, "avg_pool2d_grad")
    cdef Py_ssize_t N = x_shape[0], H = x_shape[1], W = x_shape[2], C = x_shape[3]
    if G.shape[0] != N or G.shape[3] != C:
        raise ValueError("avg_pool2d_grad: gradient %s does not match input %s"
                         % (_shp(G), x_shape))
    cdef int oh = G.shape[1], ow = G.shape[2]
    cdef cnp.ndarray out = np.zeros(x_shape, dtype=G.dtype)
    if G.size == 0:
        return out
    return _win_run(WIN_AVG_GRAD, G, None, out, N, H, W, C, kh, kw, sh, sw, pad_top,
                    pad_left, oh, ow)
