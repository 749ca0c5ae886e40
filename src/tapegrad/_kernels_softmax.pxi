# Included by _kernels.pyx: softmax along the last axis and its adjoint, row by row on
# the pool.  NumPy's version makes five passes over the array with four temporaries
# (max, subtract, exp, sum, divide); here each row stays in cache for all of its steps.
# The exponential and the row sums are NumPy's own loops (exp's SIMD loop; add's
# pairwise sum), so the values match np.exp/np.sum's.

cdef struct SoftmaxJob:
    bint single
    bint grad             # adjoint: out = y * (g - sum(g * y)) per row
    char* x               # logits (forward) or y (adjoint)
    char* g
    char* out
    Loop exp              # NumPy's loops: exp, add (pairwise row sums), maximum (row max)
    Loop add
    Loop max
    Py_ssize_t R, K


cdef inline floating _softmax_row_sum(SoftmaxJob* j, floating* row) noexcept nogil:
    # NumPy's pairwise sum of one row
    cdef floating acc = 0
    _reduce_into(&j.add, <char*>&acc, <char*>row, j.K, sizeof(floating))
    return acc


cdef inline floating _softmax_row_max(SoftmaxJob* j, floating* row) noexcept nogil:
    # NumPy's maximum loop as a reduction from the first element (SIMD, NaN-propagating
    # as np.max): the scalar compare-and-branch loop took half of the forward pass on
    # 10000-wide rows
    cdef floating acc = row[0]
    if j.K > 1:
        _reduce_into(&j.max, <char*>&acc, <char*>(row + 1), j.K - 1, sizeof(floating))
    return acc


cdef void _softmax_rows(SoftmaxJob* j, floating* x, floating* g, floating* out,
                        Py_ssize_t lo, Py_ssize_t hi) noexcept nogil:
    cdef Py_ssize_t r, k, K = j.K
    cdef floating* row
    cdef floating* o
    cdef floating* gr
    cdef floating m, total
    cdef char* args[2]
    cdef cnp.npy_intp dims[1]
    cdef cnp.npy_intp steps[2]
    dims[0] = K
    steps[0] = sizeof(floating)
    steps[1] = sizeof(floating)
    for r in range(lo, hi):
        row = x + r * K
        o = out + r * K
        if j.grad:
            gr = g + r * K
            for k in range(K):
                o[k] = gr[k] * row[k]
            total = _softmax_row_sum(j, o)
            for k in range(K):
                o[k] = row[k] * (gr[k] - total)
            continue
        m = _softmax_row_max(j, row)
        for k in range(K):
            o[k] = row[k] - m
        args[0] = <char*>o
        args[1] = <char*>o
        j.exp.fn(args, dims, steps, j.exp.data)
        total = _softmax_row_sum(j, o)
        for k in range(K):
            o[k] = o[k] / total


cdef void _softmax_part(void* ctx, int part, int parts) noexcept nogil:
    cdef SoftmaxJob* j = <SoftmaxJob*>ctx
    cdef ptrdiff_t lo, hi
    tg_split(j.R, part, parts, 1, &lo, &hi)
    if lo >= hi:
        return
    if j.single:
        _softmax_rows[float](j, <float*>j.x, <float*>j.g, <float*>j.out, lo, hi)
    else:
        _softmax_rows[double](j, <double*>j.x, <double*>j.g, <double*>j.out, lo, hi)


cdef object _softmax_run(str fn, object x, object g):
    cdef cnp.ndarray X = _nd(x, fn, "x"), G = None
    cdef int t = _ftype(X)
    if t < 0 or cnp.PyArray_NDIM(X) < 1 or cnp.PyArray_SIZE(X) == 0:
        return None
    if g is not None:
        G = _nd(g, fn, "g")
        if _ftype(G) != t or not _same_shape(G, X):
            return None
    cdef SoftmaxJob j
    if not (_get_loop(<cnp.ufunc>np.exp, t, &j.exp) and _add_loop(t, &j.add)
            and _get_loop(<cnp.ufunc>np.maximum, t, &j.max)):
        return None
    cdef Py_ssize_t K = X.shape[X.ndim - 1]
    cdef cnp.ndarray out = _out_array(cnp.PyArray_NDIM(X), cnp.PyArray_DIMS(X), t)
    j.single = t == cnp.NPY_FLOAT
    j.grad = G is not None
    j.x = <char*>cnp.PyArray_DATA(X)
    j.g = NULL if G is None else <char*>cnp.PyArray_DATA(G)
    j.out = <char*>cnp.PyArray_DATA(out)
    j.K = K
    j.R = cnp.PyArray_SIZE(X) // K
    with nogil:
        tg_pool_run(_softmax_part, &j, _parts(j.R * K, GRAIN_MATH))
    return out


cpdef object softmax_last(object x):
    """softmax along the last axis of a C-contiguous float32/float64 array (max-shifted;
    NaN in a row makes the row NaN, as NumPy's formula does); None when it does not
    apply and the caller uses NumPy."""
    return _softmax_run("softmax_last", x, None)


cpdef object softmax_last_grad(object y, object g):
    """y * (g - sum(g * y, axis=-1, keepdims=True)) for C-contiguous float arrays of one
    shape and dtype (softmax's adjoint, y its output); None when it does not apply."""
    if g is None:
        raise TypeError("_kernels.softmax_last_grad: g must be an array, got None")
    return _softmax_run("softmax_last_grad", y, g)
