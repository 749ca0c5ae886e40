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


cdef bint _finite_block(const char* p, Py_ssize_t rows, Py_ssize_t cols, Py_ssize_t ld,
                        bint wide) noexcept nogil:
    # rows x cols elements, row stride ld elements (a GEMM part's block of C)
    cdef Py_ssize_t r
    if ld == cols:
        return _finite64(<const uint64_t*>p, rows * cols) if wide else \
            _finite32(<const uint32_t*>p, rows * cols)
    for r in range(rows):
        if wide:
            if not _finite64(<const uint64_t*>p + r * ld, cols):
                return False
        elif not _finite32(<const uint32_t*>p + r * ld, cols):
            return False
    return True


cdef uint32_t _maxbits32(const uint32_t* p, Py_ssize_t rows, Py_ssize_t cols,
                        Py_ssize_t ld) noexcept nogil:
    # the largest |x| of a block, as its bit pattern (positive floats order like their
    # bits); >= 0x7f800000 when the block holds an Inf or NaN
    cdef uint32_t m = 0, b
    cdef Py_ssize_t r, i
    for r in range(rows):
        for i in range(cols):
            b = p[r * ld + i] & 0x7fffffffu
            m = b if b > m else m
    return m


cdef uint64_t _maxbits64(const uint64_t* p, Py_ssize_t rows, Py_ssize_t cols,
                         Py_ssize_t ld) noexcept nogil:
    cdef uint64_t m = 0, b
    cdef Py_ssize_t r, i
    for r in range(rows):
        for i in range(cols):
            b = p[r * ld + i] & 0x7fffffffffffffffull
            m = b if b > m else m
    return m


cdef bint _product_bounded(const char* A, Py_ssize_t ar, Py_ssize_t ac, Py_ssize_t lda,
                           const char* B, Py_ssize_t br, Py_ssize_t bc, Py_ssize_t ldb,
                           Py_ssize_t K, bint wide) noexcept nogil:
    # True when C = A B is certainly finite, read from the operands (ar x ac and br x bc
    # blocks as stored): every |C_ij| <= K max|A| max|B| (1 + K u) for any summation
    # order, with or without FMA, so finite operands whose bound stays below half the
    # largest float cannot give an Inf, nor a NaN (that needs an Inf first).  Cheaper
    # than scanning C when C is the bigger array (a weight gradient x^T g).
    cdef uint32_t a32, b32
    cdef uint64_t a64, b64
    cdef double ma, mb, top, u
    if wide:
        a64 = _maxbits64(<const uint64_t*>A, ar, ac, lda)
        b64 = _maxbits64(<const uint64_t*>B, br, bc, ldb)
        if a64 >= 0x7ff0000000000000ull or b64 >= 0x7ff0000000000000ull:
            return False
        ma = (<double*>&a64)[0]
        mb = (<double*>&b64)[0]
        top = 8.98846567431158e307          # DBL_MAX / 2
        u = 1.1102230246251565e-16
    else:
        a32 = _maxbits32(<const uint32_t*>A, ar, ac, lda)
        b32 = _maxbits32(<const uint32_t*>B, br, bc, ldb)
        if a32 >= 0x7f800000u or b32 >= 0x7f800000u:
            return False
        ma = (<float*>&a32)[0]
        mb = (<float*>&b32)[0]
        top = 1.7014117331926443e38         # FLT_MAX / 2
        u = 5.960464477539063e-08
    # (in double: K ma mb itself may exceed the float range without any C_ij doing so;
    # for float64 operands an overflow of this product just means "scan C")
    return K * ma * mb * (1.0 + K * u) < top


cdef bint _parts_ok(const bint* ok, int parts) noexcept nogil:
    cdef int k
    for k in range(parts):
        if not ok[k]:
            return False
    return True


# check_numerics' handoff from a kernel that tested its own output while writing it (the
# matmul primitive's products): the next all_finite() of that very array object reads the
# answer instead of scanning again.  One slot, taken on read; an array from another call
# (another thread's product, a reshaped copy) is not the same object and is scanned.
cdef bint _check_outputs = False
cdef object _verified = None
cdef bint _verified_ok = True


def set_output_checks(on):
    """check_numerics on/off (a bool): kernels that can test their outputs in their own
    loops do so."""
    global _check_outputs, _verified
    if not isinstance(on, (bool, int)):
        raise TypeError("set_output_checks: expected a bool, got %s" % type(on).__name__)
    _check_outputs = bool(on)
    _verified = None


cdef inline void _note_verified(object out, bint ok):
    global _verified, _verified_ok
    _verified = out
    _verified_ok = ok


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
    cdef int parts = _parts(n, GRAIN_CHEAP)
    j.p = p
    j.wide = wide
    j.n = n
    with nogil:
        tg_pool_run(_finite_part, &j, parts)
    return _parts_ok(j.ok, parts)


cpdef bint all_finite(object arr) except -1:
    """True when every element of the float or complex ndarray ``arr`` is finite.

    Contiguous native float32/float64 (and complex, as pairs) run the bit test; any
    other layout, byte order or float16 goes through NumPy.  Non-float arrays are
    finite by definition.  The checks are C-level (type number, flags): this runs after
    every op while check_numerics is on.
    """
    global _verified
    cdef cnp.ndarray a
    cdef Py_ssize_t n
    cdef int t
    if _verified is not None and arr is _verified:
        _verified = None
        return _verified_ok
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
