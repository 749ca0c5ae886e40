# Included by _kernels.pyx: the finiteness test behind tg.debugging.enable_check_numerics.
#
# One pass over the bits, no temporary array: a float is inf or NaN exactly when its
# exponent bits are all ones.  Integer ANDs and ORs vectorise, where np.isfinite(x).all()
# writes a bool array first and reads it again.

from libc.stdint cimport uint32_t, uint64_t


cdef bint _finite32(const uint32_t* p, Py_ssize_t n) noexcept nogil:
    cdef uint32_t bad = 0
    cdef Py_ssize_t i
    for i in range(n):
        bad |= ((p[i] & 0x7f800000u) == 0x7f800000u)
    return bad == 0


cdef bint _finite64(const uint64_t* p, Py_ssize_t n) noexcept nogil:
    cdef uint64_t bad = 0
    cdef Py_ssize_t i
    for i in range(n):
        bad |= ((p[i] & 0x7ff0000000000000ull) == 0x7ff0000000000000ull)
    return bad == 0


cdef Py_ssize_t _NOGIL_FROM = 1 << 16


cdef struct FiniteJob:
    const char* p
    bint wide             # 64-bit elements
    Py_ssize_t n
    bint ok[64]           # per part


cdef void _finite_part(void* ctx, int part, int parts) noexcept nogil:
    # a large output split over the pool (an AND of the parts: the same answer at every
    # thread count)
    cdef FiniteJob* j = <FiniteJob*>ctx
    cdef ptrdiff_t lo, hi
    tg_split(j.n, part, parts, 16, &lo, &hi)
    if lo >= hi:
        j.ok[part] = True
    elif j.wide:
        j.ok[part] = _finite64(<const uint64_t*>j.p + lo, hi - lo)
    else:
        j.ok[part] = _finite32(<const uint32_t*>j.p + lo, hi - lo)


cdef bint _finite_pool(const char* p, Py_ssize_t n, bint wide) noexcept:
    cdef FiniteJob j
    cdef int parts = _parts(n, GRAIN_CHEAP), k
    j.p = p
    j.wide = wide
    j.n = n
    with nogil:
        tg_pool_run(_finite_part, &j, parts)
    for k in range(parts):
        if not j.ok[k]:
            return False
    return True


cpdef bint all_finite(object arr) except -1:
    """True when every element of the float or complex ndarray ``arr`` is finite.

    Contiguous native float32/float64 (and complex, as pairs) run the bit test; any
    other layout, byte order or float16 goes through NumPy.  Non-float arrays are
    finite by definition.  The checks are C-level (type number, flags): this runs after
    every op while check_numerics is on.
    """
    cdef cnp.ndarray a
    cdef Py_ssize_t n
    cdef int t
    if not isinstance(arr, np.ndarray):
        raise TypeError("all_finite: expected a NumPy array, got %s" % type(arr).__name__)
    a = <cnp.ndarray>arr
    t = cnp.PyArray_TYPE(a)
    if t != cnp.NPY_FLOAT and t != cnp.NPY_DOUBLE and t != cnp.NPY_CFLOAT and \
            t != cnp.NPY_CDOUBLE:
        if a.dtype.kind not in "fc":
            return True
        return bool(np.isfinite(a).all())          # float16, long double, ...
    if not (cnp.PyArray_IS_C_CONTIGUOUS(a) and cnp.PyArray_ISNOTSWAPPED(a)):
        return bool(np.isfinite(a).all())
    n = cnp.PyArray_SIZE(a)
    if t == cnp.NPY_FLOAT or t == cnp.NPY_CFLOAT:
        if t == cnp.NPY_CFLOAT:
            n *= 2
        if n < _NOGIL_FROM:
            # small outputs (most of a step's ops): releasing the GIL costs more than
            # the scan
            return _finite32(<const uint32_t*>cnp.PyArray_DATA(a), n)
        return _finite_pool(<const char*>cnp.PyArray_DATA(a), n, False)
    if t == cnp.NPY_CDOUBLE:
        n *= 2
    if n < _NOGIL_FROM:
        return _finite64(<const uint64_t*>cnp.PyArray_DATA(a), n)
    return _finite_pool(<const char*>cnp.PyArray_DATA(a), n, True)
