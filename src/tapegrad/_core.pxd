# Declarations of the engine's C-level types, shared by _core.pyx and _tape.pyx.

cimport numpy as cnp
from cpython.tuple cimport PyTuple_New, PyTuple_SET_ITEM
from cpython.long cimport PyLong_FromSsize_t
from cpython.ref cimport Py_INCREF


# A CPU array's dtype and shape read through its C fields: the hot paths (recording,
# the backward walk) read them for every op, and an attribute lookup costs ~100
# instructions more.  Other arrays (a GPU array) answer through their attributes.
cdef inline object _dtype_of(object data):
    if type(data) is cnp.ndarray:
        return <object>cnp.PyArray_DESCR(<cnp.ndarray>data)
    return data.dtype


cdef inline tuple _shape_of(object data):
    cdef int k, nd
    cdef tuple out
    cdef object d
    if type(data) is not cnp.ndarray:
        return data.shape
    nd = cnp.PyArray_NDIM(<cnp.ndarray>data)
    if nd == 0:
        return ()
    out = PyTuple_New(nd)
    for k in range(nd):
        d = PyLong_FromSsize_t(cnp.PyArray_DIMS(<cnp.ndarray>data)[k])
        Py_INCREF(d)
        PyTuple_SET_ITEM(out, k, d)
    return out

cdef class Operand:
    pass


cdef class Tensor(Operand):
    cdef readonly object _data          # np.ndarray (CPU, read-only) or cuda.array.CudaArray
    cdef readonly long long _id         # unique for the process; tapes key on it, never on id()
    cdef object __weakref__
    cdef object _view(self)


cdef class Primitive:
    cdef readonly str name
    cdef public dict impls               # backend name -> forward(*arrays, **params)
    cdef public object cpu               # impls["cpu"], kept in a slot for the fast path
    cdef public object vjp               # vjp(g, ans, *inputs, **params) -> tuple of grads
    cdef public object jvp               # jvp(tangents, ans, *inputs, **params) -> tangent
    cdef public bint differentiable
    cdef public int dtypes               # bitmask of accepted input dtype kinds
    cdef public tuple same_dtype         # argument positions that must share one dtype
    cdef public bint save_inputs         # the VJP reads the inputs
    cdef public bint save_output         # the VJP reads the output
    cdef public int fast_code            # >= 0: same-shape float fast path in _kernels
    cdef public int unary_code           # >= 0: a one-input CPU forward run from C (UNARY_*)
    cdef public bint quiet               # silence NumPy floating-point warnings in the forward
    cdef public dict rules               # transform name -> rule ('taylor', 'batch', 'onnx', ...)
    # the call signature (docs/architecture.md §3.2): positional tensor inputs by name, the
    # keyword parameters the forward declares (None: unchecked), -1 args = variadic
    cdef public tuple argnames
    cdef public object keywords
    cdef public Py_ssize_t nargs
    cdef dict __dict__                   # __doc__ and __module__ of the public function


cdef class OpRecord:
    cdef readonly Primitive prim
    cdef readonly tuple inputs           # saved input Tensors (None entries when not needed)
    cdef readonly tuple input_ids
    cdef readonly tuple input_meta       # (shape, dtype) per input when inputs are not saved
    cdef readonly object output          # saved output Tensor, or None
    cdef readonly long long output_id
    cdef readonly object out_meta        # (shape, dtype) of the output
    cdef readonly dict params


cdef class RecState:
    # Recording state of one thread (one context under asyncio): see _dispatch.pxi.
    cdef readonly list tapes             # active TapeCores, innermost last
    cdef public tuple needs              # inside a VJP: which inputs need gradients
    cdef public object vjp_record        # check_numerics: the OpRecord whose VJP runs
    cdef public object vjp_tape          # and the TapeCore walking it
    cdef object context                  # the contextvars.Context that owns it
    cdef unsigned long thread            # the thread that made it


cdef class TapeCore:
    cdef public dict producers           # tensor id -> OpRecord, or None for watched sources
    cdef public dict var_reads           # variable uid -> list of tensor ids read from it
    cdef public dict variables           # variable uid -> Variable (watched_variables())
    cdef public bint persistent
    cdef public bint watch_accessed
    cdef public int paused               # > 0 while stop_recording() or its own backward runs
    cdef public bint used
    cdef public object debug             # None, or a debugging.TapeDebug (sites, cuts, bytes)
    cdef void watch_tensor(self, Tensor t)
    cdef bint records(self, tuple args)
    cdef void note_read(self, BaseVariable v, Tensor t)
    cpdef release(self)


cdef class BaseVariable(Operand):
    cdef public Tensor _value
    cdef object _storage                 # writable array behind _value's read-only view
    cdef readonly long long _uid
    cdef public bint _trainable
    cdef object __weakref__
    cdef Tensor read(self)
    cdef void _replace(self, Tensor t)


cpdef Tensor wrap(object array)
cpdef Tensor ones_like_fast(Tensor t)
cdef Tensor _new_tensor(object data)
cpdef object apply(Primitive prim, tuple args, dict params)
cdef int push_tape(TapeCore tape) except -1
cdef int pop_tape(TapeCore tape) except -1
cdef RecState current_state()
