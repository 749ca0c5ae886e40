# Included by _kernels.pyx: floor_divide and expm1 as NumPy ufuncs that run NumPy's own
# inner loops and then overwrite the few special cases where the array API standard
# (2024.12) asks for another result than NumPy gives.
#
# The primitives (ops/elementwise.py) call these instead of np.floor_divide / np.expm1.
# Being real ufuncs built from NumPy's loop table, they keep everything else as it was:
# every other element is NumPy's bits, the eager dispatch still sees a ufunc (expm1's
# large float arrays still split over the thread pool by ufunc_map, which picks the same
# float loops out of this table), and there is no Python-level check on the hot path.
# What they add is one branch-free read of the inputs in C (any inf or NaN?), beside
# divmod or complex transcendental loops: 0-3% at 1000 elements, within noise at 16
# (where the shorter loop table resolves types faster than np.floor_divide's).
#
# floor_divide, floating dtypes: NumPy computes Python's divmod quotient, which is NaN
# for +-inf // finite and -1 for a finite and an infinity of opposite signs; the standard
# prefers floor(x1 / x2): +-inf and +-0 with the sign of the quotient (TensorFlow's
# floordiv gives the same).  All other elements, infinities and NaNs included, are left
# to NumPy (its finite quotients are not always floor(x1 / x2): 1 // 0.1 is 9).
#
# expm1, complex dtypes: NumPy's (expm1(a) cos(b) - 2 sin(b/2)^2) + exp(a) sin(b) j gives
# -0 for the real part at -0 + 0j, NaNs where an infinity meets cos/sin at 0 or at an
# infinity, and a real part only near -1 at -inf + bj; see _expm1_special for the table.
# Finite inputs other than +-0 +-0j are untouched.

from libc.math cimport INFINITY, isfinite, isinf, isnan, signbit

cnp.import_ufunc()

cdef enum:
    _FIX_CHUNK = 256    # elements per inner-loop call: the fix-up buffers stay on the stack
    _MAX_LOOPS = 16

ctypedef fused _fd_real:
    cnp.npy_uint16      # float16, handled by its bits
    float
    double
    long double

ctypedef fused _cx_part:
    float
    double
    long double


cdef inline bint _fd_special(_fd_real a, _fd_real b, _fd_real* out) noexcept nogil:
    # inf // finite -> +-inf and finite // inf -> +-0, signed as the quotient a / b is:
    # floor() leaves an infinity or a zero as it is.  False for every other pair.
    cdef bint ia, ib, neg
    if _fd_real is cnp.npy_uint16:
        ia = (a & 0x7fff) == 0x7c00
        ib = (b & 0x7fff) == 0x7c00
        if ia == ib or (a & 0x7fff) > 0x7c00 or (b & 0x7fff) > 0x7c00:
            return False
        out[0] = ((a ^ b) & 0x8000) | (0x7c00 if ia else 0)
        return True
    else:
        ia = isinf(a) != 0
        ib = isinf(b) != 0
        if ia == ib or isnan(a) or isnan(b):
            return False
        neg = signbit(a) != signbit(b)
        if ia:
            out[0] = -<_fd_real>INFINITY if neg else <_fd_real>INFINITY
        else:
            out[0] = -<_fd_real>0 if neg else <_fd_real>0
        return True


cdef inline bint _fd_finite(_fd_real* kind, const char* p, cnp.npy_intp s,
                            cnp.npy_intp n) noexcept nogil:
    # no inf or NaN among the n elements at p (stride s bytes): one branch-free pass, the
    # vectorised bit test of _kernels_check.pxi where the elements are contiguous
    cdef cnp.npy_intp k
    cdef bint bad = False
    if s == 0:
        n = 1 if n > 0 else 0       # a broadcast scalar
    if _fd_real is float:
        if s == sizeof(float):
            return _finite32(<const uint32_t*>p, n)
    if _fd_real is double:
        if s == sizeof(double):
            return _finite64(<const uint64_t*>p, n)
    for k in range(n):
        if _fd_real is cnp.npy_uint16:
            bad |= ((<const cnp.npy_uint16*>(p + k * s))[0] & 0x7c00) == 0x7c00
        else:
            bad |= not isfinite((<const _fd_real*>(p + k * s))[0])
    return not bad


cdef inline void _fd_run(_fd_real* kind, char** args, const cnp.npy_intp* dims,
                         const cnp.npy_intp* steps, Loop* inner) noexcept nogil:
    # All operands finite (the common case): NumPy's loop as it is.  Otherwise NumPy's
    # loop over chunks; each chunk's special elements are found (and their results
    # computed) from the inputs before the loop runs, since the output may be one of the
    # inputs, and written over NumPy's results after it.
    cdef cnp.npy_intp n = dims[0], done = 0, m, k, nfix
    cdef cnp.npy_intp s0 = steps[0], s1 = steps[1], s2 = steps[2]
    cdef char* part[3]
    cdef cnp.npy_intp at[_FIX_CHUNK]
    cdef _fd_real val[_FIX_CHUNK]
    if _fd_finite(kind, args[0], s0, n) and _fd_finite(kind, args[1], s1, n):
        inner.fn(args, dims, steps, inner.data)
        return
    while done < n:
        m = n - done if n - done < _FIX_CHUNK else _FIX_CHUNK
        part[0] = args[0] + done * s0
        part[1] = args[1] + done * s1
        part[2] = args[2] + done * s2
        nfix = 0
        for k in range(m):
            if _fd_special((<_fd_real*>(part[0] + k * s0))[0],
                           (<_fd_real*>(part[1] + k * s1))[0], &val[nfix]):
                at[nfix] = k
                nfix += 1
        inner.fn(part, &m, steps, inner.data)
        for k in range(nfix):
            (<_fd_real*>(part[2] + at[k] * s2))[0] = val[k]
        done += m


cdef void _fd_half(char** args, const cnp.npy_intp* dims, const cnp.npy_intp* steps,
                    void* data) noexcept nogil:
    _fd_run(<cnp.npy_uint16*>NULL, args, dims, steps, <Loop*>data)


cdef void _fd_float(char** args, const cnp.npy_intp* dims, const cnp.npy_intp* steps,
                     void* data) noexcept nogil:
    _fd_run(<float*>NULL, args, dims, steps, <Loop*>data)


cdef void _fd_double(char** args, const cnp.npy_intp* dims, const cnp.npy_intp* steps,
                      void* data) noexcept nogil:
    _fd_run(<double*>NULL, args, dims, steps, <Loop*>data)


cdef void _fd_longdouble(char** args, const cnp.npy_intp* dims, const cnp.npy_intp* steps,
                          void* data) noexcept nogil:
    _fd_run(<long double*>NULL, args, dims, steps, <Loop*>data)


cdef inline int _expm1_special(_cx_part a, _cx_part b, _cx_part* re,
                               _cx_part* im) noexcept nogil:
    # The standard's special cases for expm1(a + bj) that NumPy's formula misses.  Returns
    # which parts to overwrite (1: the real part with re, 2: the imaginary part with im,
    # 3: both); the part not overwritten is NumPy's and already what the standard says.
    if a == 0 and b == 0:
        re[0] = 0                   # +-0 +-0j -> +0 +-0j (NumPy: -0 for a = -0)
        return 1
    if isfinite(a) and isfinite(b):
        return 0
    if isinf(a):
        if a < 0:
            re[0] = -1              # -inf + bj -> +0 cis(b) - 1; NumPy: ~-1, or NaN
            if isfinite(b):
                return 1            # (its imaginary part, 0 sin(b), is right)
            im[0] = -<_cx_part>0 if signbit(b) else <_cx_part>0   # sign unspecified
            return 3
        if b == 0:
            im[0] = b               # +inf +-0j -> +inf +-0j (NumPy: inf * 0 = NaN)
            return 2
        if not isfinite(b):
            re[0] = INFINITY        # +inf + (inf or NaN)j -> inf + NaN j (sign unspecified)
            return 1
        return 0                    # +inf + bj, b finite nonzero: NumPy's inf cis(b) - 1
    if isnan(a) and b == 0:
        im[0] = b                   # NaN +-0j -> NaN +-0j (NumPy: NaN sin(0) = NaN)
        return 2
    return 0


cdef inline bint _expm1_plain(_cx_part* kind, const char* p, cnp.npy_intp s,
                              cnp.npy_intp n) noexcept nogil:
    # no element with an inf or NaN part and none that is +-0 +-0j (branch-free)
    cdef cnp.npy_intp k
    cdef bint bad = False
    cdef const _cx_part* z
    for k in range(n):
        z = <const _cx_part*>(p + k * s)
        bad |= (not isfinite(z[0])) | (not isfinite(z[1])) | ((z[0] == 0) & (z[1] == 0))
    return not bad


cdef inline void _expm1_run(_cx_part* kind, char** args, const cnp.npy_intp* dims,
                            const cnp.npy_intp* steps, Loop* inner) noexcept nogil:
    # as _fd_run: NumPy's loop as it is when no element is special; else fixes found
    # from the inputs, NumPy's loop, fixes written, chunk by chunk
    cdef cnp.npy_intp n = dims[0], done = 0, m, k, nfix
    cdef cnp.npy_intp s0 = steps[0], s1 = steps[1]
    cdef char* part[2]
    cdef cnp.npy_intp at[_FIX_CHUNK]
    cdef _cx_part re[_FIX_CHUNK]
    cdef _cx_part im[_FIX_CHUNK]
    cdef unsigned char which[_FIX_CHUNK]
    cdef _cx_part* z
    cdef int w
    if _expm1_plain(kind, args[0], s0, n):
        inner.fn(args, dims, steps, inner.data)
        return
    while done < n:
        m = n - done if n - done < _FIX_CHUNK else _FIX_CHUNK
        part[0] = args[0] + done * s0
        part[1] = args[1] + done * s1
        nfix = 0
        for k in range(m):
            z = <_cx_part*>(part[0] + k * s0)
            w = _expm1_special(z[0], z[1], &re[nfix], &im[nfix])
            if w:
                which[nfix] = <unsigned char>w
                at[nfix] = k
                nfix += 1
        inner.fn(part, &m, steps, inner.data)
        for k in range(nfix):
            z = <_cx_part*>(part[1] + at[k] * s1)
            if which[k] & 1:
                z[0] = re[k]
            if which[k] & 2:
                z[1] = im[k]
        done += m


cdef void _expm1_cfloat(char** args, const cnp.npy_intp* dims, const cnp.npy_intp* steps,
                         void* data) noexcept nogil:
    _expm1_run(<float*>NULL, args, dims, steps, <Loop*>data)


cdef void _expm1_cdouble(char** args, const cnp.npy_intp* dims, const cnp.npy_intp* steps,
                          void* data) noexcept nogil:
    _expm1_run(<double*>NULL, args, dims, steps, <Loop*>data)


cdef void _expm1_clongdouble(char** args, const cnp.npy_intp* dims, const cnp.npy_intp* steps,
                              void* data) noexcept nogil:
    _expm1_run(<long double*>NULL, args, dims, steps, <Loop*>data)


# The new ufuncs' tables (NumPy keeps pointers to them: module-level, never freed)
cdef cnp.PyUFuncGenericFunction _fd_funcs[_MAX_LOOPS]
cdef void* _fd_data[_MAX_LOOPS]
cdef char _fd_types[_MAX_LOOPS * 3]
cdef Loop _fd_inner[_MAX_LOOPS]
cdef cnp.PyUFuncGenericFunction _em_funcs[_MAX_LOOPS]
cdef void* _em_data[_MAX_LOOPS]
cdef char _em_types[_MAX_LOOPS * 2]
cdef Loop _em_inner[_MAX_LOOPS]


cdef object _fixed_ufunc(cnp.ufunc src, dict wrappers, cnp.PyUFuncGenericFunction* funcs,
                         void** data, char* types, Loop* inner, const char* name,
                         const char* doc):
    # A ufunc with src's loops for the dtypes in ``wrappers`` (typenum -> the wrapping
    # loop, or None for NumPy's loop as it is), in src's order (its type resolution
    # picks the first loop that fits, so results and result dtypes are NumPy's); the
    # wrapping loops get NumPy's loop as their data.
    cdef int i, k, t, n = 0, nargs = src.nargs
    cdef cnp.PyUFuncGenericFunction wrap
    for i in range(src.ntypes):
        t = <unsigned char>src.types[i * nargs]
        if t not in wrappers:
            continue
        for k in range(nargs):
            if <unsigned char>src.types[i * nargs + k] != t:
                break
        else:
            if src.functions[i] == NULL:
                continue
            if n == _MAX_LOOPS:
                raise RuntimeError("_kernels: np.%s has more loops than expected"
                                   % src.__name__)
            for k in range(nargs):
                types[n * nargs + k] = <char>t
            fn = wrappers[t]
            if fn is None:
                funcs[n] = src.functions[i]
                data[n] = src.data[i]
            else:
                inner[n].fn = <ufunc_loop_t>src.functions[i]
                inner[n].data = src.data[i]
                funcs[n] = <cnp.PyUFuncGenericFunction><void*><Py_ssize_t>fn
                data[n] = &inner[n]
            n += 1
    for t in wrappers:
        for i in range(n):
            if <unsigned char>types[i * nargs] == t:
                break
        else:
            raise RuntimeError("_kernels: np.%s has no loop for type %d" % (src.__name__, t))
    return cnp.PyUFunc_FromFuncAndData(funcs, data, types, n, src.nin, src.nout,
                                       cnp.PyUFunc_None, <char*>name, <char*>doc, 0)


# (NumPy keeps the name and doc pointers too: static C strings)
cdef const char* _FD_NAME = "floor_divide"
cdef const char* _FD_DOC = (
    "np.floor_divide for floating dtypes, with the array API standard's results for an "
    "infinity against a finite number: floor(x1 / x2), so +-inf // finite is +-inf and "
    "finite // +-inf is +-0 (NumPy: NaN, and -1 for opposite signs).")
cdef const char* _EM_NAME = "expm1"
cdef const char* _EM_DOC = (
    "np.expm1 (its loops), with the array API standard's special cases for complex "
    "input: +-0 + 0j -> +0 + 0j, +inf + 0j -> +inf + 0j, -inf + bj -> -1 + 0 cis(b), "
    "+inf + (inf or NaN)j -> inf + NaN j, NaN + 0j -> NaN + 0j.")
cdef int _HALF = np.dtype(np.float16).num


cdef object _addr(ufunc_loop_t f):
    # a loop's address as a Python int, to sit in the wrappers dict
    return <Py_ssize_t><void*>f


floor_divide = _fixed_ufunc(
    <cnp.ufunc>np.floor_divide,
    {_HALF: _addr(_fd_half), cnp.NPY_FLOAT: _addr(_fd_float),
     cnp.NPY_DOUBLE: _addr(_fd_double), cnp.NPY_LONGDOUBLE: _addr(_fd_longdouble)},
    _fd_funcs, _fd_data, _fd_types, _fd_inner, _FD_NAME, _FD_DOC)

expm1 = _fixed_ufunc(
    <cnp.ufunc>np.expm1,
    {_HALF: None, cnp.NPY_FLOAT: None, cnp.NPY_DOUBLE: None, cnp.NPY_LONGDOUBLE: None,
     cnp.NPY_CFLOAT: _addr(_expm1_cfloat), cnp.NPY_CDOUBLE: _addr(_expm1_cdouble),
     cnp.NPY_CLONGDOUBLE: _addr(_expm1_clongdouble)},
    _em_funcs, _em_data, _em_types, _em_inner, _EM_NAME, _EM_DOC)
