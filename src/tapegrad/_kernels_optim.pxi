# Included by _kernels.pyx: fused optimizer updates.

# ---------------------------------------------------------------------------
# fused optimizer updates: one pass over the variable, its slots and the gradient

# tg.debugging.enable_check_numerics() reads these after an optimizer step: how many
# updates ran here since the last report, and whether any wrote a NaN or Inf.  The
# finiteness test rides in the update loop (x - x is 0 exactly for finite x), so the
# check costs no second pass over the weights.
cdef Py_ssize_t _updates_done = 0
cdef bint _update_nonfinite = False


def take_update_report():
    """(updates run by these kernels since the last call, whether one wrote NaN/Inf);
    resets both."""
    global _updates_done, _update_nonfinite
    out = (_updates_done, bool(_update_nonfinite))
    _updates_done = 0
    _update_nonfinite = False
    return out


cdef bint _adam(floating* w, floating* m, floating* v, floating* g, Py_ssize_t n,
                double lr_t, double b1, double b2, double eps) noexcept nogil:
    # Arithmetic in the variable's own precision, as TF's kernel does: double
    # coefficients would promote every float32 element to a scalar double divide and
    # square root (measured 13.5 ms against 2.6 ms for 3.3M parameters).
    cdef Py_ssize_t i
    cdef floating gi, mi, vi
    cdef floating fb1 = <floating>b1, fb2 = <floating>b2, fc1 = <floating>(1.0 - b1)
    cdef floating fc2 = <floating>(1.0 - b2), flr = <floating>lr_t, feps = <floating>eps
    cdef floating wi
    cdef unsigned int bad = 0
    for i in range(n):
        gi = g[i]
        mi = fb1 * m[i] + fc1 * gi
        vi = fb2 * v[i] + fc2 * (gi * gi)
        m[i] = mi
        v[i] = vi
        if floating is float:
            wi = w[i] - flr * mi / (sqrtf(vi) + feps)
        else:
            wi = w[i] - flr * mi / (sqrt(vi) + feps)
        w[i] = wi
        # wi - wi is 0 unless wi is NaN or Inf; an integer OR, not a float sum: GCC
        # vectorises an OR reduction but keeps a float sum in order, one lane at a time
        # (the SGD loop ran 3.7x slower than NumPy's two passes with a float sum)
        bad |= (wi - wi) != 0
    return bad != 0


cdef bint _sgd(floating* w, floating* g, Py_ssize_t n, double lr) noexcept nogil:
    # w - lr * g rounded twice, exactly as NumPy's `w -= lr * g` (no FMA contraction)
    cdef Py_ssize_t i
    cdef floating flr = <floating>lr, wi
    cdef unsigned int bad = 0
    for i in range(n):
        wi = w[i] - flr * g[i]
        w[i] = wi
        bad |= (wi - wi) != 0     # (as in _adam)
    return bad != 0


# the updates split over the pool: disjoint element ranges, the same bits at any count

cdef struct OptJob:
    bint adam
    bint single
    char* w
    char* m
    char* v
    char* g
    Py_ssize_t n, itemsize
    double lr, b1, b2, eps
    bint bad[64]


cdef void _opt_part(void* ctx, int part, int parts) noexcept nogil:
    cdef OptJob* j = <OptJob*>ctx
    cdef ptrdiff_t lo, hi
    cdef Py_ssize_t o
    cdef bint bad = False
    tg_split(j.n, part, parts, 16, &lo, &hi)
    o = lo * j.itemsize
    if lo < hi:
        if j.adam and j.single:
            bad = _adam[float](<float*>(j.w + o), <float*>(j.m + o), <float*>(j.v + o),
                               <float*>(j.g + o), hi - lo, j.lr, j.b1, j.b2, j.eps)
        elif j.adam:
            bad = _adam[double](<double*>(j.w + o), <double*>(j.m + o), <double*>(j.v + o),
                                <double*>(j.g + o), hi - lo, j.lr, j.b1, j.b2, j.eps)
        elif j.single:
            bad = _sgd[float](<float*>(j.w + o), <float*>(j.g + o), hi - lo, j.lr)
        else:
            bad = _sgd[double](<double*>(j.w + o), <double*>(j.g + o), hi - lo, j.lr)
    j.bad[part] = bad


cdef bint _opt_run(OptJob* j) noexcept:
    cdef int parts = _parts(j.n, GRAIN_CHEAP), p
    cdef bint bad = False
    if j.n < GRAIN_CHEAP:
        _opt_part(j, 0, 1)      # (a bias: not worth releasing the GIL)
    else:
        with nogil:
            tg_pool_run(_opt_part, j, parts)
    for p in range(parts):
        bad = bad or j.bad[p]
    return bad


cdef bint _updatable(str fn, tuple arrays) except -1:
    # float32/float64 arrays of one dtype and size, C-contiguous, aligned and in native
    # byte order; all but the last (the gradient) writable.  Checked without building
    # NumPy flags objects: this runs once per variable per step.
    cdef cnp.ndarray first = _nd(arrays[0], fn, "w"), a
    cdef int typenum = _ftype(first)
    cdef Py_ssize_t i, n = len(arrays)
    for i in range(1, n):
        _nd(arrays[i], fn, "argument %d" % (i + 1))
    if typenum < 0:
        return False
    for i in range(n):
        a = <cnp.ndarray>arrays[i]
        if _ftype(a) != typenum or cnp.PyArray_SIZE(a) != cnp.PyArray_SIZE(first):
            return False
        if i < n - 1 and not cnp.PyArray_ISWRITEABLE(a):
            return False
    return True


cpdef bint adam_update(object w, object m, object v, object g, double lr_t, double b1,
                       double b2, double eps) except -1:
    """In place: m, v <- moments of g; w -= lr_t * m / (sqrt(v) + eps) (TF 1.x Adam).
    False (nothing done) unless every array is float32/float64 of one dtype and size and
    C-contiguous, and w, m, v are writable: the caller then updates with NumPy."""
    if not _updatable("adam_update", (w, m, v, g)):
        return False
    global _updates_done, _update_nonfinite
    cdef cnp.ndarray W = w, M = m, V = v, G = g
    cdef OptJob j
    j.adam = True
    j.single = W.dtype.num == cnp.NPY_FLOAT
    j.w = <char*>cnp.PyArray_DATA(W)
    j.m = <char*>cnp.PyArray_DATA(M)
    j.v = <char*>cnp.PyArray_DATA(V)
    j.g = <char*>cnp.PyArray_DATA(G)
    j.n = cnp.PyArray_SIZE(W)
    j.itemsize = W.dtype.itemsize
    j.lr = lr_t
    j.b1 = b1
    j.b2 = b2
    j.eps = eps
    cdef bint bad = _opt_run(&j)
    _updates_done += 1
    _update_nonfinite = _update_nonfinite or bad
    return True


cpdef bint sgd_update(object w, object g, double lr) except -1:
    """In place: w -= lr * g, one pass, no temporary; False (nothing done) for layouts
    adam_update rejects."""
    if not _updatable("sgd_update", (w, g)):
        return False
    global _updates_done, _update_nonfinite
    cdef cnp.ndarray W = w, G = g
    cdef OptJob j
    j.adam = False
    j.single = W.dtype.num == cnp.NPY_FLOAT
    j.w = <char*>cnp.PyArray_DATA(W)
    j.g = <char*>cnp.PyArray_DATA(G)
    j.n = cnp.PyArray_SIZE(W)
    j.itemsize = W.dtype.itemsize
    j.lr = lr
    cdef bint bad = _opt_run(&j)
    _updates_done += 1
    _update_nonfinite = _update_nonfinite or bad
    return True
