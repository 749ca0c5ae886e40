# Included by _kernels.pyx: sparse softmax cross entropy and its adjoint.

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


# rows split over the pool: each part owns a range of rows (the same bits at any count)

cdef struct XentJob:
    int variant           # 0..3: (float32|float64) x (int32|int64 labels)
    char* z
    char* labels
    char* g
    char* out
    Py_ssize_t R, K
    Py_ssize_t bad[64]    # per part: first row with a bad label, or -1


cdef void _xent_part(void* ctx, int part, int parts) noexcept nogil:
    cdef XentJob* j = <XentJob*>ctx
    cdef ptrdiff_t lo, hi
    cdef Py_ssize_t bad = -1, ostride = j.K if j.g != NULL else 1
    tg_split(j.R, part, parts, 1, &lo, &hi)
    if lo < hi:
        if j.variant == 0:
            bad = _xent_rows[float, int](<float*>j.z + lo * j.K, <int*>j.labels + lo,
                                         NULL if j.g == NULL else <float*>j.g + lo,
                                         <float*>j.out + lo * ostride, hi - lo, j.K)
        elif j.variant == 1:
            bad = _xent_rows[float, longlong](<float*>j.z + lo * j.K,
                                              <long long*>j.labels + lo,
                                              NULL if j.g == NULL else <float*>j.g + lo,
                                              <float*>j.out + lo * ostride, hi - lo, j.K)
        elif j.variant == 2:
            bad = _xent_rows[double, int](<double*>j.z + lo * j.K, <int*>j.labels + lo,
                                          NULL if j.g == NULL else <double*>j.g + lo,
                                          <double*>j.out + lo * ostride, hi - lo, j.K)
        else:
            bad = _xent_rows[double, longlong](<double*>j.z + lo * j.K,
                                               <long long*>j.labels + lo,
                                               NULL if j.g == NULL else <double*>j.g + lo,
                                               <double*>j.out + lo * ostride, hi - lo, j.K)
    j.bad[part] = bad + lo if bad >= 0 else -1


cpdef object softmax_xent(object logits, object labels, object g=None):
    """Sparse softmax cross entropy of C-contiguous float logits (..., K) against int32/
    int64 labels (...): the per-row loss, or with ``g`` (the loss's cotangent, of the
    logits' dtype) its logits adjoint (softmax - onehot) * g[..., None].

    None when the layout does not apply or a label lies outside [0, K): the caller's
    NumPy path then checks the labels and raises its one error message."""
    cdef cnp.ndarray Z = _nd(logits, "softmax_xent", "logits")
    cdef cnp.ndarray L = _nd(labels, "softmax_xent", "labels"), G = None, out
    cdef int zt = _ftype(Z), lt = cnp.PyArray_TYPE(L)
    if zt < 0:
        return None
    if lt != cnp.NPY_INT32 and lt != cnp.NPY_INT64:
        return None
    if not (cnp.PyArray_IS_C_CONTIGUOUS(L) and cnp.PyArray_ISALIGNED(L)
            and cnp.PyArray_ISNOTSWAPPED(L)):
        return None
    if cnp.PyArray_NDIM(Z) < 1 or cnp.PyArray_SIZE(Z) == 0:
        return None
    cdef Py_ssize_t K = Z.shape[Z.ndim - 1], R = cnp.PyArray_SIZE(L)
    if R * K != cnp.PyArray_SIZE(Z):
        raise ValueError("sparse_softmax_cross_entropy_with_logits: labels %s do not match "
                         "logits %s" % (_shp(L), _shp(Z)))
    if g is None:
        out = np.empty(_shp(L), dtype=Z.dtype)
    else:
        G = _nd(g, "softmax_xent", "g")
        if _ftype(G) != zt or cnp.PyArray_SIZE(G) != R:
            return None
        out = np.empty(_shp(Z), dtype=Z.dtype)
    cdef XentJob j
    cdef int parts = _parts(R * K, GRAIN_MATH), p
    j.variant = (0 if zt == cnp.NPY_FLOAT else 2) + (0 if lt == cnp.NPY_INT32 else 1)
    j.z = <char*>cnp.PyArray_DATA(Z)
    j.labels = <char*>cnp.PyArray_DATA(L)
    j.g = NULL if G is None else <char*>cnp.PyArray_DATA(G)
    j.out = <char*>cnp.PyArray_DATA(out)
    j.R = R
    j.K = K
    if R * K < GRAIN_MATH:
        _xent_part(&j, 0, 1)    # (a small batch: not worth releasing the GIL)
    else:
        with nogil:
            tg_pool_run(_xent_part, &j, parts)
    for p in range(parts):
        if j.bad[p] >= 0:
            return None
    return out
