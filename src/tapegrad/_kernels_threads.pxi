# Included by _kernels.pyx: the thread pool (C, _threadpool.h) and the jobs that split
# the elementwise kernels, NumPy's own ufunc loops and the matrix products over it.
#
# A kernel splits its work into ``_parts(items, grain)`` parts: at most the configured
# thread count, and only as many as keep ``grain`` items in each (below that, waking a
# worker costs more than it saves).  The split depends on the sizes and the thread count
# only, so results never depend on timing.

from libc.stddef cimport ptrdiff_t
from libc.stdint cimport int64_t

cdef extern from "_threadpool.h" nogil:
    ctypedef void (*tg_part_fn)(void* ctx, int part, int parts) noexcept nogil
    int tg_pool_set_threads(int n)
    int tg_pool_threads()
    void tg_pool_run(tg_part_fn fn, void* ctx, int parts)
    void tg_split(ptrdiff_t n, int part, int parts, ptrdiff_t align, ptrdiff_t* lo,
                  ptrdiff_t* hi)
    void* tg_loaded_symbol(const char* path, const char* name)
    int TG_MAX_THREADS


# grains (items per part): a cheap pass over memory (add, relu, Adam) needs ~64K floats
# to pay for a wake-up (~5-20 us); a transcendental function ~16K
cdef Py_ssize_t GRAIN_CHEAP = 1 << 16
cdef Py_ssize_t GRAIN_MATH = 1 << 14


cdef inline int _parts(Py_ssize_t items, Py_ssize_t grain) noexcept nogil:
    cdef int t = tg_pool_threads()
    cdef Py_ssize_t p
    if grain < 1:
        grain = 1
    if t <= 1 or items < 2 * grain:
        return 1
    p = items // grain
    return <int>(p if p < t else t)


def default_threads():
    """OMP_NUM_THREADS (its first number) when set, else the CPUs this process may use."""
    import os
    env = os.environ.get("OMP_NUM_THREADS", "").split(",")[0].strip()
    try:
        n = int(env) if env else 0
    except ValueError:
        n = 0
    if n <= 0:
        try:
            n = len(os.sched_getaffinity(0))
        except (AttributeError, OSError):
            n = os.cpu_count() or 1
    return max(1, min(n, TG_MAX_THREADS))


MAX_THREADS = TG_MAX_THREADS


def set_threads(int n):
    """Set the pool's thread count (the caller counts as one); workers start lazily."""
    if n < 1 or n > TG_MAX_THREADS:
        raise ValueError("set_threads: the thread count must be in [1, %d], got %d"
                         % (TG_MAX_THREADS, n))
    with nogil:
        tg_pool_set_threads(n)


def get_threads():
    """The pool's configured thread count."""
    return tg_pool_threads()


# ---------------------------------------------------------------------------
# elementwise jobs: the loops of _kernels.pyx on disjoint ranges (bit-identical at any
# thread count: every element is computed by the same code from the same inputs)

cdef enum:
    EW_BINARY = 0
    EW_SCALAR = 1
    EW_ROWS = 2
    EW_RELU = 3
    EW_RELU_GRAD = 4
    EW_SUM_ROWS = 5


cdef struct EwJob:
    int kind
    int code
    bint single           # float32 (else float64)
    void* a
    void* b
    void* out
    double s
    bint flag             # scalar_first / vec_first
    Py_ssize_t n          # elements (rows for EW_ROWS, columns for EW_SUM_ROWS)
    Py_ssize_t C          # row length (EW_ROWS, EW_SUM_ROWS)
    Py_ssize_t R          # rows (EW_SUM_ROWS)


cdef void _ew_range(EwJob* j, floating* a, floating* b, floating* out, Py_ssize_t lo,
                    Py_ssize_t hi) noexcept nogil:
    if j.kind == EW_BINARY:
        _binary_loop(j.code, a + lo, b + lo, out + lo, hi - lo)
    elif j.kind == EW_SCALAR:
        _scalar_loop(j.code, a + lo, <floating>j.s, out + lo, hi - lo, j.flag)
    elif j.kind == EW_ROWS:
        _rows(j.code, a + lo * j.C, b, out + lo * j.C, hi - lo, j.C, j.flag)
    elif j.kind == EW_RELU:
        _relu(a + lo, out + lo, hi - lo)
    elif j.kind == EW_RELU_GRAD:
        _relu_grad(a + lo, b + lo, out + lo, hi - lo)
    elif j.kind == EW_SUM_ROWS:
        _sum_cols(a, out, j.R, j.C, lo, hi)


cdef void _ew_part(void* ctx, int part, int parts) noexcept nogil:
    cdef EwJob* j = <EwJob*>ctx
    cdef ptrdiff_t lo, hi
    tg_split(j.n, part, parts, 1 if j.kind == EW_ROWS else 16, &lo, &hi)
    if lo >= hi:
        return
    if j.single:
        _ew_range[float](j, <float*>j.a, <float*>j.b, <float*>j.out, lo, hi)
    else:
        _ew_range[double](j, <double*>j.a, <double*>j.b, <double*>j.out, lo, hi)


cdef cnp.ndarray _ew_new(EwJob* j, int kind, int code, cnp.ndarray A, int typenum):
    # a job over A's elements into a new array of A's shape (returned); the caller sets
    # b and the kind's own fields
    cdef cnp.ndarray out = _out_array(cnp.PyArray_NDIM(A), cnp.PyArray_DIMS(A), typenum)
    j.kind = kind
    j.code = code
    j.single = typenum == cnp.NPY_FLOAT
    j.a = cnp.PyArray_DATA(A)
    j.out = cnp.PyArray_DATA(out)
    j.n = cnp.PyArray_SIZE(A)
    return out


cdef void _ew_run(EwJob* j, Py_ssize_t work) noexcept nogil:
    # work: elements touched, for the grain
    tg_pool_run(_ew_part, j, _parts(work, GRAIN_CHEAP))


cdef inline void _ew_go(EwJob* j, Py_ssize_t work) noexcept:
    # (with the GIL) a small job runs right here: releasing and re-taking the GIL costs
    # ~400 instructions, a quarter of a one-element multiply
    if work < GRAIN_CHEAP:
        _ew_part(j, 0, 1)
    else:
        with nogil:
            _ew_run(j, work)


# ---------------------------------------------------------------------------
# NumPy's ufunc inner loops on disjoint ranges: the same SIMD code NumPy runs (so the
# same bits), on every core.  Only the legacy loop table of a NumPy ufunc is used, for
# float32/float64 arrays that are C-contiguous, aligned and native; anything else
# returns None and the caller makes the ordinary ufunc call.

# NumPy's inner-loop signature; its loops are plain C (no Python, no GIL)
ctypedef void (*ufunc_loop_t)(char** args, const cnp.npy_intp* dims, const cnp.npy_intp* steps,
                              void* data) noexcept nogil


cdef struct Loop:
    # one loop of a ufunc's legacy table: the function and its data
    ufunc_loop_t fn
    void* data


cdef dict _loop_index = {}


cdef int _ufunc_loop(cnp.ufunc u, int typenum) except -2:
    # index of u's all-`typenum` loop in its legacy table, -1 if it has none
    key = (u, typenum)
    cdef object hit = _loop_index.get(key)
    cdef int i, k, found = -1
    if hit is not None:
        return hit
    # (a generalized ufunc such as np.matmul has core dimensions: another loop signature)
    if u.nout == 1 and u.nargs <= 3 and u.functions != NULL and \
            getattr(u, "signature", None) is None:
        for i in range(u.ntypes):
            for k in range(u.nargs):
                if <unsigned char>u.types[i * u.nargs + k] != typenum:
                    break
            else:
                if u.functions[i] != NULL:
                    found = i
                    break
    _loop_index[key] = found
    return found


cdef bint _get_loop(cnp.ufunc u, int typenum, Loop* out) except -1:
    # u's all-`typenum` loop into ``out``; False when it has none
    cdef int idx = _ufunc_loop(u, typenum)
    if idx < 0:
        return False
    out.fn = <ufunc_loop_t>u.functions[idx]
    out.data = u.data[idx]
    return True


cdef object _np_add = np.add
cdef int _add32 = -2, _add64 = -2       # add's float loops in its table (-2: not looked up)


cdef bint _add_loop(int typenum, Loop* out) except -1:
    # np.add's float32/float64 loop, its index cached in C: a full sum of a small loss
    # runs this on every step, and the dict lookup of _ufunc_loop would be a tenth of it
    global _add32, _add64
    if _add32 == -2:
        _add32 = _ufunc_loop(<cnp.ufunc>_np_add, cnp.NPY_FLOAT)
        _add64 = _ufunc_loop(<cnp.ufunc>_np_add, cnp.NPY_DOUBLE)
    cdef int idx = _add32 if typenum == cnp.NPY_FLOAT else _add64
    if idx < 0:
        return False
    out.fn = <ufunc_loop_t>(<cnp.ufunc>_np_add).functions[idx]
    out.data = (<cnp.ufunc>_np_add).data[idx]
    return True


cdef inline void _reduce_into(Loop* loop, char* acc, char* x, Py_ssize_t n,
                              Py_ssize_t itemsize) noexcept nogil:
    # a binary loop called as a reduction (the first operand and the output are ``acc``,
    # stride 0): acc = acc (op) x[0] (op) ... (op) x[n-1].  add's loop then sums x
    # pairwise, as np.sum does; maximum's propagates NaN, as np.max does.
    cdef char* args[3]
    cdef cnp.npy_intp dims[1]
    cdef cnp.npy_intp steps[3]
    args[0] = acc
    args[1] = x
    args[2] = acc
    dims[0] = n
    steps[0] = 0
    steps[1] = itemsize
    steps[2] = 0
    loop.fn(args, dims, steps, loop.data)


cdef struct UfuncJob:
    Loop loop
    int nargs             # inputs + 1 output
    char* ptr[3]
    Py_ssize_t itemsize
    Py_ssize_t n
    bint reduce           # a full add-reduction into partial[part]
    double partial[64]


cdef void _ufunc_part(void* ctx, int part, int parts) noexcept nogil:
    cdef UfuncJob* j = <UfuncJob*>ctx
    cdef ptrdiff_t lo, hi
    cdef char* args[3]
    cdef cnp.npy_intp dims[1]
    cdef cnp.npy_intp steps[3]
    cdef int k
    cdef float acc32 = 0
    cdef double acc64 = 0
    tg_split(j.n, part, parts, 16, &lo, &hi)
    if lo >= hi:
        if j.reduce:
            j.partial[part] = 0
        return
    if j.reduce:
        _reduce_into(&j.loop, <char*>&acc32 if j.itemsize == 4 else <char*>&acc64,
                     j.ptr[0] + lo * j.itemsize, hi - lo, j.itemsize)
        j.partial[part] = acc32 if j.itemsize == 4 else acc64
        return
    dims[0] = hi - lo
    for k in range(j.nargs):
        args[k] = j.ptr[k] + lo * j.itemsize
        steps[k] = j.itemsize
    j.loop.fn(args, dims, steps, j.loop.data)


cpdef object ufunc_map(object ufunc, tuple arrays, object out=None):
    """ufunc(*arrays) split over the pool for large C-contiguous float32/float64 arrays of
    one shape and dtype, into a new array or into ``out`` (writable, C-contiguous, of
    that shape and dtype; it may be one of the inputs); None when it does not apply
    (small, other layouts or dtypes, one thread), and the caller makes the ordinary call.

    NumPy's floating-point error reporting (RuntimeWarnings) is not raised on this path;
    tapegrad runs its ufuncs quietly anyway (TF does not warn either)."""
    if type(ufunc) is not np.ufunc:
        raise TypeError("_kernels.ufunc_map: ufunc must be a numpy.ufunc, got %s"
                        % type(ufunc).__name__)
    if arrays is None:
        raise TypeError("_kernels.ufunc_map: arrays must be a tuple of arrays, got None")
    if tg_pool_threads() <= 1:
        return None
    cdef cnp.ufunc u = <cnp.ufunc>ufunc
    cdef Py_ssize_t i, nin = len(arrays)
    if nin != u.nin or nin < 1 or nin > 2:
        return None
    cdef cnp.ndarray first = _nd(arrays[0], "ufunc_map", "arrays[0]"), a
    cdef int typenum = _ftype(first)
    cdef Py_ssize_t n = cnp.PyArray_SIZE(first)
    if typenum < 0 or n < 2 * GRAIN_MATH:
        return None
    for i in range(1, nin):
        a = _nd(arrays[i], "ufunc_map", "arrays[%d]" % i)
        if _ftype(a) != typenum or not _same_shape(a, first):
            return None
    cdef UfuncJob job
    cdef cnp.ndarray res
    if out is None:
        res = _out_array(cnp.PyArray_NDIM(first), cnp.PyArray_DIMS(first), typenum)
    else:
        res = _nd(out, "ufunc_map", "out")
        if _ftype(res) != typenum or not _same_shape(res, first) or \
                not cnp.PyArray_ISWRITEABLE(res):
            return None
    if not _get_loop(u, typenum, &job.loop):
        return None
    job.nargs = nin + 1
    job.itemsize = cnp.PyArray_ITEMSIZE(first)
    job.n = n
    job.reduce = False
    for i in range(nin):
        job.ptr[i] = <char*>cnp.PyArray_DATA(<cnp.ndarray>arrays[i])
    job.ptr[nin] = <char*>cnp.PyArray_DATA(res)
    with nogil:
        tg_pool_run(_ufunc_part, &job, _parts(n, GRAIN_MATH))
    return res


cpdef object sum_all(object x):
    """Sum of every element of a C-contiguous float32/float64 array, as a 0-d array:
    NumPy's add loop summing pairwise (as np.sum), called directly; a large array in
    parts on the pool, the partial sums added in part order (so the result is fixed
    for a fixed thread count).  None for other dtypes, layouts and empty arrays.
    (np.add.reduce spends ~12,000 instructions setting up its iterator before it sums
    a 1000-element loss.)"""
    cdef cnp.ndarray X = _nd(x, "sum_all", "x")
    cdef int typenum = _ftype(X), parts, p
    cdef Py_ssize_t n = cnp.PyArray_SIZE(X)
    cdef UfuncJob job
    if typenum < 0 or n == 0 or not _add_loop(typenum, &job.loop):
        return None
    job.nargs = 3
    job.itemsize = cnp.PyArray_ITEMSIZE(X)
    job.n = n
    job.reduce = True
    job.ptr[0] = <char*>cnp.PyArray_DATA(X)
    parts = _parts(n, GRAIN_CHEAP)
    cdef float t32 = 0
    cdef double t64 = 0
    if parts == 1 and n < GRAIN_CHEAP:
        _ufunc_part(&job, 0, 1)         # (releasing the GIL costs more than this sum)
    else:
        with nogil:
            tg_pool_run(_ufunc_part, &job, parts)
    for p in range(parts):
        if typenum == cnp.NPY_FLOAT:
            t32 = t32 + <float>job.partial[p]
        else:
            t64 = t64 + job.partial[p]
    # a 0-d array, what the reduce_sum primitive returns (a NumPy scalar would be
    # converted to one again by the dispatcher)
    cdef cnp.ndarray out = cnp.PyArray_EMPTY(0, NULL, typenum, 0)
    if typenum == cnp.NPY_FLOAT:
        (<float*>cnp.PyArray_DATA(out))[0] = t32
    else:
        (<double*>cnp.PyArray_DATA(out))[0] = t64
    return out


cdef struct RowSumJob:
    Loop add
    char* x
    char* out
    Py_ssize_t R, K, itemsize


cdef void _rowsum_part(void* ctx, int part, int parts) noexcept nogil:
    # each row summed pairwise by NumPy's add loop, into its own output element
    cdef RowSumJob* j = <RowSumJob*>ctx
    cdef ptrdiff_t lo, hi
    cdef Py_ssize_t r
    cdef char* acc
    tg_split(j.R, part, parts, 16, &lo, &hi)
    for r in range(lo, hi):
        acc = j.out + r * j.itemsize
        if j.itemsize == 4:
            (<float*>acc)[0] = 0
        else:
            (<double*>acc)[0] = 0
        _reduce_into(&j.add, acc, j.x + r * j.K * j.itemsize, j.K, j.itemsize)


cpdef object sum_last(object x):
    """Sums over the last axis of a large C-contiguous float32/float64 array (rank >= 2),
    one row per output element, rows split over the pool (each row's sum is the same at
    every thread count); shape x.shape[:-1].  None when it does not apply."""
    cdef cnp.ndarray X = _nd(x, "sum_last", "x")
    cdef int typenum = _ftype(X)
    cdef Py_ssize_t n = cnp.PyArray_SIZE(X), K
    cdef RowSumJob j
    if typenum < 0 or cnp.PyArray_NDIM(X) < 2 or n == 0:
        return None
    K = cnp.PyArray_DIMS(X)[cnp.PyArray_NDIM(X) - 1]
    if K == 0 or not _add_loop(typenum, &j.add):
        return None
    cdef cnp.ndarray out = cnp.PyArray_EMPTY(cnp.PyArray_NDIM(X) - 1, cnp.PyArray_DIMS(X),
                                             typenum, 0)
    j.x = <char*>cnp.PyArray_DATA(X)
    j.out = <char*>cnp.PyArray_DATA(out)
    j.R = n // K
    j.K = K
    j.itemsize = cnp.PyArray_ITEMSIZE(X)
    with nogil:
        tg_pool_run(_rowsum_part, &j, _parts(n, GRAIN_CHEAP))
    return out


# ---------------------------------------------------------------------------
# matrix products on the pool: NumPy's own OpenBLAS, called per part with its thread
# count held at one, so its workers stay asleep while ours run (one pool, not two
# taking turns on the cores).  The BLAS entry points come from bind_blas(); until then,
# or when NumPy's BLAS is not an OpenBLAS we can find, gemm() returns None and the
# caller uses np.matmul.

ctypedef void (*sgemm32_t)(int, int, int, int, int, int, float, const float*, int,
                           const float*, int, float, float*, int) noexcept nogil
ctypedef void (*dgemm32_t)(int, int, int, int, int, int, double, const double*, int,
                           const double*, int, double, double*, int) noexcept nogil
ctypedef void (*sgemm64_t)(int, int, int, int64_t, int64_t, int64_t, float, const float*,
                           int64_t, const float*, int64_t, float, float*,
                           int64_t) noexcept nogil
ctypedef void (*dgemm64_t)(int, int, int, int64_t, int64_t, int64_t, double, const double*,
                           int64_t, const double*, int64_t, double, double*,
                           int64_t) noexcept nogil
ctypedef int (*blas_get_t)() noexcept nogil
ctypedef void (*blas_set_t)(int) noexcept nogil

cdef void* _sgemm = NULL
cdef void* _dgemm = NULL
cdef void* _strsm = NULL           # cblas_?trsm, bound with the GEMMs (_kernels_trsm.pxi)
cdef void* _dtrsm = NULL
cdef bint _ilp64 = False
cdef blas_get_t _blas_get = NULL
cdef blas_set_t _blas_set = NULL
cdef int _blas_depth = 0           # nested pins (under the GIL: see _pin)
cdef int _blas_saved = 0

# GEMMs smaller than this many multiply-adds run in one call (OpenBLAS itself threads
# only above 2^18; a wake-up costs a few microseconds)
cdef double GEMM_SPLIT = 1 << 19

cdef enum:
    CBLAS_ROW_MAJOR = 101
    CBLAS_NO_TRANS = 111
    CBLAS_TRANS = 112


# (prefix, suffix) of the exported names, most specific first: NumPy's wheels export
# scipy_cblas_sgemm64_ & co. (64-bit integers: the "64_" suffix), other builds less
cdef tuple _MANGLINGS = (("scipy_", "64_"), ("", "64_"), ("scipy_", ""), ("", ""))


def bind_blas(str path not None):
    """Bind the products to the OpenBLAS at ``path``, which must already be loaded in
    this process (NumPy's: tapegrad._blas finds it): cblas_sgemm, cblas_dgemm and
    openblas_get/set_num_threads under one of its name manglings.  True when bound;
    False (nothing changes) when the library is not loaded or lacks the symbols."""
    global _sgemm, _dgemm, _ilp64, _blas_get, _blas_set, _strsm, _dtrsm
    cdef bytes p = path.encode()
    cdef void* f[4]
    cdef int k
    for prefix, suffix in _MANGLINGS:
        for k, name in enumerate(("cblas_sgemm", "cblas_dgemm", "openblas_get_num_threads",
                                  "openblas_set_num_threads")):
            f[k] = tg_loaded_symbol(p, (prefix + name + suffix).encode())
            if f[k] == NULL:
                break
        else:
            _sgemm = f[0]
            _dgemm = f[1]
            _blas_get = <blas_get_t>f[2]
            _blas_set = <blas_set_t>f[3]
            _ilp64 = suffix == "64_"
            # the triangular solves are optional: without them trsm() returns None
            _strsm = tg_loaded_symbol(p, (prefix + "cblas_strsm" + suffix).encode())
            _dtrsm = tg_loaded_symbol(p, (prefix + "cblas_dtrsm" + suffix).encode())
            return True
    return False


def blas_bound():
    return _sgemm != NULL


cdef bint _bind_tried = False


cdef inline bint _blas_ready():
    # bound on the first product (tapegrad._blas imports threadpoolctl: not at startup)
    global _bind_tried
    if _sgemm != NULL:
        return True
    if not _bind_tried:
        _bind_tried = True
        from tapegrad import _blas
        _blas.bind()
    return _sgemm != NULL


cdef inline void _pin() noexcept:
    # OpenBLAS's thread count is process-wide: hold it at one while any tapegrad GEMM
    # runs and give the user's value back after the last one (called with the GIL, so
    # the count is not raced by other Python threads)
    global _blas_depth, _blas_saved
    _blas_depth += 1
    if _blas_depth == 1:
        _blas_saved = _blas_get()
        if _blas_saved != 1:
            _blas_set(1)


cdef inline void _unpin() noexcept:
    global _blas_depth
    _blas_depth -= 1
    if _blas_depth == 0 and _blas_saved != 1:
        _blas_set(_blas_saved)


def single_blas_call(f, *args):
    """``f(*args)`` with NumPy's OpenBLAS held at one thread, as during tapegrad's own
    products (_pin): for the LAPACK calls of numpy.linalg on matrices too small for
    OpenBLAS's threads to pay, whose spinning workers would otherwise take turns with
    this pool's (docs/architecture.md §5.4).  Without a bound OpenBLAS, just f(*args)."""
    if not _blas_ready():
        return f(*args)
    _pin()
    try:
        return f(*args)
    finally:
        _unpin()


cdef struct GemmJob:
    bint single
    int ta, tb            # op(A) = A^T / op(B) = B^T
    Py_ssize_t M, N, K
    char* A
    char* B
    char* C
    Py_ssize_t lda, ldb, ldc, itemsize
    bint by_rows          # parts split M (else N)
    double beta
    bint check            # check_numerics: each part tests its own block of C
    int parts_run
    bint ok[64]           # per part (TG_MAX_THREADS)


cdef void _gemm_call(bint single, int ta, int tb, Py_ssize_t M, Py_ssize_t N, Py_ssize_t K,
                     const void* A, Py_ssize_t lda, const void* B, Py_ssize_t ldb,
                     double beta, void* C, Py_ssize_t ldc) noexcept nogil:
    # C = op(A) op(B) + beta C, row-major
    cdef int tA = CBLAS_TRANS if ta else CBLAS_NO_TRANS
    cdef int tB = CBLAS_TRANS if tb else CBLAS_NO_TRANS
    if M == 0 or N == 0:
        return
    if single:
        if _ilp64:
            (<sgemm64_t>_sgemm)(CBLAS_ROW_MAJOR, tA, tB, M, N, K, 1.0, <const float*>A, lda,
                                <const float*>B, ldb, <float>beta, <float*>C, ldc)
        else:
            (<sgemm32_t>_sgemm)(CBLAS_ROW_MAJOR, tA, tB, <int>M, <int>N, <int>K, 1.0,
                                <const float*>A, <int>lda, <const float*>B, <int>ldb,
                                <float>beta, <float*>C, <int>ldc)
    else:
        if _ilp64:
            (<dgemm64_t>_dgemm)(CBLAS_ROW_MAJOR, tA, tB, M, N, K, 1.0, <const double*>A, lda,
                                <const double*>B, ldb, beta, <double*>C, ldc)
        else:
            (<dgemm32_t>_dgemm)(CBLAS_ROW_MAJOR, tA, tB, <int>M, <int>N, <int>K, 1.0,
                                <const double*>A, <int>lda, <const double*>B, <int>ldb, beta,
                                <double*>C, <int>ldc)


cdef void _gemm_part(void* ctx, int part, int parts) noexcept nogil:
    cdef GemmJob* j = <GemmJob*>ctx
    cdef ptrdiff_t lo, hi
    cdef Py_ssize_t s = j.itemsize
    j.ok[part] = True
    if j.by_rows:
        # rows lo..hi of op(A): rows of A, or columns of a transposed A
        tg_split(j.M, part, parts, 4, &lo, &hi)
        if lo < hi:
            _gemm_call(j.single, j.ta, j.tb, hi - lo, j.N, j.K,
                       j.A + (lo * s if j.ta else lo * j.lda * s), j.lda, j.B, j.ldb,
                       j.beta, j.C + lo * j.ldc * s, j.ldc)
            if j.check:
                j.ok[part] = _finite_block(j.C + lo * j.ldc * s, hi - lo, j.N, j.ldc,
                                           not j.single)
    else:
        tg_split(j.N, part, parts, 16, &lo, &hi)
        if lo < hi:
            _gemm_call(j.single, j.ta, j.tb, j.M, hi - lo, j.K, j.A, j.lda,
                       j.B + (lo * j.ldb * s if j.tb else lo * s), j.ldb,
                       j.beta, j.C + lo * s, j.ldc)
            if j.check:
                j.ok[part] = _finite_block(j.C + lo * s, j.M, hi - lo, j.ldc, not j.single)


cdef void _gemm_run(GemmJob* j) noexcept nogil:
    # (the caller holds the pin)
    cdef double work = <double>j.M * j.N * j.K
    cdef int parts = 1
    cdef Py_ssize_t span
    j.by_rows = j.M >= j.N
    if work >= GEMM_SPLIT:
        span = j.M if j.by_rows else j.N
        parts = _parts(span, 4 if j.by_rows else 16)
    j.parts_run = parts
    tg_pool_run(_gemm_part, j, parts)


cdef int _operand(cnp.ndarray x, bint* trans, Py_ssize_t* ld) noexcept:
    # a 2-D float array BLAS can read in place: C-contiguous (ld = its row stride) or
    # the transpose of one (F-contiguous); returns -1 otherwise
    cdef Py_ssize_t s = cnp.PyArray_ITEMSIZE(x)
    cdef Py_ssize_t r = cnp.PyArray_DIMS(x)[0], c = cnp.PyArray_DIMS(x)[1]
    cdef Py_ssize_t s0 = cnp.PyArray_STRIDES(x)[0], s1 = cnp.PyArray_STRIDES(x)[1]
    if not (cnp.PyArray_ISALIGNED(x) and cnp.PyArray_ISNOTSWAPPED(x)):
        return -1
    if (s1 == s or c == 1) and s0 % s == 0 and s0 >= c * s:
        trans[0] = False
        ld[0] = s0 // s if r > 1 else (c if c > 0 else 1)
        return 0
    if (s0 == s or r == 1) and s1 % s == 0 and s1 >= r * s:
        trans[0] = True
        ld[0] = s1 // s if c > 1 else (r if r > 0 else 1)
        return 0
    return -1


cpdef object gemm(object a, object b, bint verify=False):
    """a @ b for 2-D float32/float64 arrays of one dtype that BLAS reads in place (either
    may be a transposed view), on the pool; None when it does not apply (no bound BLAS,
    other ranks, dtypes or strides, empty) and the caller uses np.matmul.

    ``verify`` (the matmul primitive, which returns the product unchanged): while
    check_numerics is on, each part tests the block it just wrote, still in its core's
    cache, and the next ``all_finite`` of this very array reads that answer instead of
    a second pass (the weight gradient is most of an MLP step's checked bytes)."""
    if not _blas_ready():
        return None
    cdef cnp.ndarray A = _nd(a, "gemm", "a"), B = _nd(b, "gemm", "b")
    if cnp.PyArray_NDIM(A) != 2 or cnp.PyArray_NDIM(B) != 2:
        return None
    cdef int t = cnp.PyArray_TYPE(A)
    if (t != cnp.NPY_FLOAT and t != cnp.NPY_DOUBLE) or cnp.PyArray_TYPE(B) != t:
        return None
    cdef Py_ssize_t M = A.shape[0], K = A.shape[1], N = B.shape[1]
    if B.shape[0] != K or M == 0 or N == 0 or K == 0:
        return None
    cdef bint ta, tb
    cdef Py_ssize_t lda, ldb
    if _operand(A, &ta, &lda) < 0 or _operand(B, &tb, &ldb) < 0:
        return None
    cdef cnp.npy_intp dims[2]
    dims[0] = M
    dims[1] = N
    cdef cnp.ndarray out = _out_array(2, dims, t)
    cdef GemmJob j
    j.single = t == cnp.NPY_FLOAT
    j.ta = ta
    j.tb = tb
    j.M = M
    j.N = N
    j.K = K
    j.A = <char*>cnp.PyArray_DATA(A)
    j.B = <char*>cnp.PyArray_DATA(B)
    j.C = <char*>cnp.PyArray_DATA(out)
    j.lda = lda
    j.ldb = ldb
    j.ldc = N
    j.itemsize = cnp.PyArray_ITEMSIZE(A)
    j.beta = 0
    j.check = verify and _check_outputs
    cdef bint bounded = False
    if j.check and M * K + K * N < M * N:
        # check_numerics: reading the operands is cheaper than reading the product
        with nogil:
            bounded = _product_bounded(j.A, K if ta else M, M if ta else K, lda,
                                       j.B, N if tb else K, K if tb else N, ldb, K,
                                       not j.single)
        if bounded:
            j.check = False
    _pin()
    with nogil:
        _gemm_run(&j)
    _unpin()
    if bounded or j.check:
        # read-only from here, as the tensor it becomes is: a later in-place write
        # cannot make the handed-off answer stale
        cnp.PyArray_CLEARFLAGS(out, cnp.NPY_ARRAY_WRITEABLE)
        _note_verified(out, bounded or _parts_ok(j.ok, j.parts_run))
    return out


tg_pool_set_threads(default_threads())
