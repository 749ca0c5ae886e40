# Included by _kernels.pyx: large kernel outputs come from a small cache of freed blocks.
#
# Why: glibc serves a block of more than a few MiB with a fresh mmap and unmaps it on
# free, so every large result (a 40 MB exp of 10^7 floats, an im2col buffer, a big
# product) is page-faulted in again, zero-filled by the kernel, on every op.  For a
# compute-cheap op that is most of its time: NumPy's own tanh of 10^7 float32 spends
# 1.9 of its 3.7 ms there.  Tensors are immutable and die as fast as they are made, so
# the next op of the same size can take the pages the last one gave back, already
# mapped.  The cache holds at most `_cache_max` bytes (TAPEGRAD_BUFFER_CACHE, default
# 256 MiB; 0 turns it off) and only blocks of `_CACHE_FROM` bytes or more; smaller
# outputs stay with NumPy's allocator, whose free lists recycle them already.  Only
# arrays made by these kernels come from here, never the user's own NumPy arrays.

from cpython.buffer cimport PyBUF_FORMAT, PyBUF_ND, PyBUF_STRIDES
from libc.stdlib cimport free


cdef extern from "stdlib.h" nogil:
    int posix_memalign(void** memptr, size_t alignment, size_t size)


cdef Py_ssize_t _CACHE_FROM = 1 << 20
cdef Py_ssize_t _cache_max = 256 << 20
cdef Py_ssize_t _cached = 0          # bytes held by the cache now
cdef dict _blocks = {}               # nbytes -> [address, ...] (most recent last)


cdef class _Block:
    """The memory under one cached-output array (its ``base``): freed or given back to
    the cache when the last array over it dies."""
    cdef void* p
    cdef Py_ssize_t n

    def __getbuffer__(self, Py_buffer* view, int flags):
        view.buf = self.p
        view.obj = self
        view.len = self.n
        view.itemsize = 1
        view.readonly = 0
        view.ndim = 1
        view.format = NULL
        view.shape = NULL
        view.strides = NULL
        view.suboffsets = NULL
        view.internal = NULL
        if flags & PyBUF_FORMAT:
            view.format = b"B"
        if flags & (PyBUF_ND | PyBUF_STRIDES):
            view.shape = &self.n
        if flags & PyBUF_STRIDES:
            view.strides = &view.itemsize

    def __releasebuffer__(self, Py_buffer* view):
        pass

    def __dealloc__(self):
        _give_back(self.p, self.n)
        self.p = NULL


cdef void _give_back(void* p, Py_ssize_t n) noexcept:
    global _cached
    cdef list free_list
    if p == NULL:
        return
    # (at interpreter exit the module's globals may already be gone: then just free)
    if _blocks is not None and _cached + n <= _cache_max:
        free_list = _blocks.get(n)
        if free_list is None:
            free_list = []
            _blocks[n] = free_list
        free_list.append(<size_t>p)
        _cached += n
        return
    free(p)


cdef object _out_array(int nd, cnp.npy_intp* dims, int typenum):
    """A new C-contiguous array for a kernel's output; large ones over a cached block."""
    global _cached
    cdef Py_ssize_t n, k
    cdef void* p = NULL
    cdef list free_list
    cdef _Block block
    # (the float types without a descriptor lookup: this runs for every small op too)
    if typenum == cnp.NPY_FLOAT:
        n = 4
    elif typenum == cnp.NPY_DOUBLE:
        n = 8
    else:
        n = cnp.PyArray_DescrFromType(typenum).itemsize
    for k in range(nd):
        n *= dims[k]
    if n < _CACHE_FROM or _cache_max == 0:
        return cnp.PyArray_EMPTY(nd, dims, typenum, 0)
    free_list = _blocks.get(n)
    if free_list:
        p = <void*><size_t>free_list.pop()
        _cached -= n
    elif posix_memalign(&p, 64, <size_t>n) != 0:
        raise MemoryError("tapegrad: cannot allocate %d bytes for a kernel output" % n)
    block = _Block.__new__(_Block)
    block.p = p
    block.n = n
    shape = tuple([dims[k] for k in range(nd)])
    return np.ndarray(shape, dtype=cnp.PyArray_DescrFromType(typenum), buffer=block)


def empty(shape, dtype):
    """``np.empty(shape, dtype)`` for a kernel output, large ones from the cache."""
    cdef cnp.npy_intp dims[32]
    cdef int k, nd
    shape = tuple(shape)
    nd = len(shape)
    if nd > 32:
        raise ValueError("_kernels.empty: at most 32 dimensions, got %d" % nd)
    for k in range(nd):
        dims[k] = shape[k]
        if dims[k] < 0:
            raise ValueError("_kernels.empty: negative dimension in %s" % (shape,))
    return _out_array(nd, dims, np.dtype(dtype).num)


def set_buffer_cache(Py_ssize_t max_bytes):
    """Hold at most ``max_bytes`` of freed kernel outputs for reuse (0: none; blocks
    held beyond the new limit are freed now); returns the previous limit."""
    global _cache_max, _cached
    cdef Py_ssize_t old = _cache_max
    if max_bytes < 0:
        raise ValueError("set_buffer_cache: max_bytes must be >= 0, got %d" % max_bytes)
    _cache_max = max_bytes
    for n in list(_blocks):
        free_list = _blocks[n]
        while free_list and _cached > _cache_max:
            free(<void*><size_t>free_list.pop())
            _cached -= n
        if not free_list:
            del _blocks[n]
    return old


def buffer_cache_bytes():
    """Bytes of freed kernel outputs the cache holds now."""
    return _cached


cdef void _cache_limit_from_env() except *:
    import os
    value = os.environ.get("TAPEGRAD_BUFFER_CACHE", "").strip()
    if not value:
        return
    try:
        limit = int(value)
        if limit < 0:
            raise ValueError
    except ValueError:
        import warnings
        warnings.warn("TAPEGRAD_BUFFER_CACHE=%r is not a byte count >= 0; keeping %d"
                      % (value, _cache_max), RuntimeWarning, stacklevel=2)
        return
    set_buffer_cache(limit)


_cache_limit_from_env()
