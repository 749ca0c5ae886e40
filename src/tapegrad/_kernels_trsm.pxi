# Included by _kernels.pyx: triangular solves on NumPy's OpenBLAS (cblas_strsm /
# cblas_dtrsm, looked up by bind_blas beside the GEMMs), split over the pool by matrices
# of a batch or by right-hand-side columns, each part a single-threaded call under the
# pin (_pin), like the products.  NumPy has no triangular solve: the LU solve of the
# masked triangle it would take does about three times the work, plus the masking copy.
# tg.linalg.triangular_solve, cholesky_solve and the Cholesky rules run on this.

ctypedef void (*strsm32_t)(int, int, int, int, int, int, int, float, const float*, int,
                           float*, int) noexcept nogil
ctypedef void (*dtrsm32_t)(int, int, int, int, int, int, int, double, const double*, int,
                           double*, int) noexcept nogil
ctypedef void (*strsm64_t)(int, int, int, int, int, int64_t, int64_t, float, const float*,
                           int64_t, float*, int64_t) noexcept nogil
ctypedef void (*dtrsm64_t)(int, int, int, int, int, int64_t, int64_t, double,
                           const double*, int64_t, double*, int64_t) noexcept nogil

cdef enum:
    CBLAS_UPPER = 121
    CBLAS_LOWER = 122
    CBLAS_LEFT = 141
    CBLAS_NON_UNIT = 131


cdef struct TrsmJob:
    bint single
    int uplo, trans
    Py_ssize_t batch, n, k
    Py_ssize_t a_step          # bytes between matrices of A (0: one A for every B)
    char* A
    char* B                    # solved in place
    Py_ssize_t itemsize
    bint by_matrix             # parts split the batch (else the columns of each B)


cdef void _trsm_call(TrsmJob* j, Py_ssize_t m, Py_ssize_t lo, Py_ssize_t hi) noexcept nogil:
    # columns lo..hi of B[m] <- op(tri(A[m]))^-1 B[m], row-major
    cdef char* a = j.A + m * j.a_step
    cdef char* b = j.B + (m * j.n * j.k + lo) * j.itemsize
    cdef Py_ssize_t cols = hi - lo
    if cols <= 0 or j.n == 0:
        return
    if j.single:
        if _ilp64:
            (<strsm64_t>_strsm)(CBLAS_ROW_MAJOR, CBLAS_LEFT, j.uplo, j.trans, CBLAS_NON_UNIT,
                                j.n, cols, 1.0, <const float*>a, j.n, <float*>b, j.k)
        else:
            (<strsm32_t>_strsm)(CBLAS_ROW_MAJOR, CBLAS_LEFT, j.uplo, j.trans, CBLAS_NON_UNIT,
                                <int>j.n, <int>cols, 1.0, <const float*>a, <int>j.n,
                                <float*>b, <int>j.k)
    else:
        if _ilp64:
            (<dtrsm64_t>_dtrsm)(CBLAS_ROW_MAJOR, CBLAS_LEFT, j.uplo, j.trans, CBLAS_NON_UNIT,
                                j.n, cols, 1.0, <const double*>a, j.n, <double*>b, j.k)
        else:
            (<dtrsm32_t>_dtrsm)(CBLAS_ROW_MAJOR, CBLAS_LEFT, j.uplo, j.trans, CBLAS_NON_UNIT,
                                <int>j.n, <int>cols, 1.0, <const double*>a, <int>j.n,
                                <double*>b, <int>j.k)


cdef void _trsm_part(void* ctx, int part, int parts) noexcept nogil:
    cdef TrsmJob* j = <TrsmJob*>ctx
    cdef ptrdiff_t lo, hi
    cdef Py_ssize_t m
    if j.by_matrix:
        tg_split(j.batch, part, parts, 1, &lo, &hi)
        for m in range(lo, hi):
            _trsm_call(j, m, 0, j.k)
    else:
        tg_split(j.k, part, parts, 8, &lo, &hi)
        for m in range(j.batch):
            _trsm_call(j, m, lo, hi)


cpdef object trsm(object a, object b, bint lower, bint trans):
    """x with op(tri(a[i])) x[i] = b[i] for C-contiguous float32/float64 arrays of one
    dtype, a [batch or 1, n, n] and b [batch, n, k]: only the lower (``lower``) or upper
    triangle of a is read, op is the transpose when ``trans``.  A new array; None when
    this does not apply (no bound trsm, other dtypes, layouts or shapes) and the caller
    solves another way.  A zero on the diagonal gives inf/nan, as BLAS does: callers
    check first."""
    cdef cnp.ndarray A = _nd(a, "trsm", "a"), B = _nd(b, "trsm", "b")
    if not _blas_ready() or _dtrsm == NULL or _strsm == NULL:
        return None
    if cnp.PyArray_NDIM(A) != 3 or cnp.PyArray_NDIM(B) != 3:
        return None
    cdef int t = _ftype(A)
    if t < 0 or _ftype(B) != t:
        return None
    cdef Py_ssize_t batch = B.shape[0], n = B.shape[1], k = B.shape[2]
    if A.shape[1] != n or A.shape[2] != n or (A.shape[0] != batch and A.shape[0] != 1):
        return None
    cdef cnp.ndarray out = cnp.PyArray_NewCopy(B, cnp.NPY_CORDER)
    if batch == 0 or n == 0 or k == 0:
        return out
    cdef TrsmJob j
    j.single = t == cnp.NPY_FLOAT
    j.uplo = CBLAS_LOWER if lower else CBLAS_UPPER
    j.trans = CBLAS_TRANS if trans else CBLAS_NO_TRANS
    j.batch = batch
    j.n = n
    j.k = k
    j.itemsize = cnp.PyArray_ITEMSIZE(A)
    j.a_step = 0 if A.shape[0] == 1 else n * n * j.itemsize
    j.A = <char*>cnp.PyArray_DATA(A)
    j.B = <char*>cnp.PyArray_DATA(out)
    cdef int parts = 1
    j.by_matrix = batch >= tg_pool_threads()
    if <double>batch * n * n * k >= GEMM_SPLIT:
        parts = _parts(batch, 1) if j.by_matrix else _parts(k, 8)
    _pin()
    with nogil:
        tg_pool_run(_trsm_part, &j, parts)
    _unpin()
    return out
