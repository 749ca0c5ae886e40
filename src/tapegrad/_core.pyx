# The engine's hot path: Tensor, conversion, op dispatch and tape recording.
#
# Every op call goes through `apply`: convert arguments, check dtypes and device,
# run the backend forward, wrap the result, and append one OpRecord to each active
# tape that watches an input.  With no tape active the recording costs one C int
# test.  The gradient walk lives in _tape.pyx.

cimport cython
cimport numpy as cnp
from cpython.object cimport PyObject
from cpython.contextvars cimport PyContextVar_Get, PyContextVar_Reset, PyContextVar_Set
from cpython.pythread cimport PyThread_get_thread_ident
from cpython.ref cimport Py_XDECREF

from contextvars import ContextVar

import numpy as np

from tapegrad cimport _kernels

cnp.import_array()

cdef extern from "Python.h":
    Py_ssize_t Py_REFCNT(object o)

cdef object ndarray = np.ndarray

# NumPy keeps its floating-point error state in a context variable; ops flagged
# `quiet` set it to "ignore" around their forward (IEEE inf/NaN silently, as TF does).
# Doing it from C costs ~50 ns where np.errstate costs ~1 µs.
cdef object _errstate_var = None
cdef object _errstate_quiet = None
try:
    from numpy._core._ufunc_config import _extobj_contextvar, _make_extobj
    _errstate_var = _extobj_contextvar
    _errstate_quiet = _make_extobj(all="ignore")
except (ImportError, AttributeError, TypeError):
    pass


cdef object _call_quiet(object impl, list arrays, dict params):
    cdef object token
    if _errstate_var is None:
        with np.errstate(all="ignore"):
            return impl(*arrays, **params) if params else impl(*arrays)
    token = PyContextVar_Set(_errstate_var, _errstate_quiet)
    try:
        return impl(*arrays, **params) if params else impl(*arrays)
    finally:
        PyContextVar_Reset(_errstate_var, token)
cdef object _np_asarray = np.asarray
cdef object _np_array = np.array
cdef object _float32 = np.dtype(np.float32)
cdef object _float64 = np.dtype(np.float64)
cdef object _int32 = np.dtype(np.int32)
cdef object _int64 = np.dtype(np.int64)
cdef object _bool = np.dtype(np.bool_)

# Tensor.shape / get_shape() return a TensorShape (a tuple subclass with TF's methods),
# made by tuple's tp_new directly, without the Python-level call of tuple.__new__.
from cpython.object cimport PyTypeObject
from tapegrad.tensor_shape import TensorShape as _TensorShape_py
cdef type _TensorShape = _TensorShape_py


cdef inline object _tuple_new(type cls, object dims):  # any tuple (a GPU array's too)
    cdef tuple args = (dims,)
    return (<PyTypeObject*>tuple).tp_new(cls, <PyObject*>args, NULL)


# ---------------------------------------------------------------------------
# dtype kinds, as bits so a primitive's accepted dtypes are one mask test

cdef int K_FLOAT = 1, K_INT = 2, K_BOOL = 4, K_UINT = 8, K_COMPLEX = 16

KIND_FLOAT = K_FLOAT
KIND_INT = K_INT | K_UINT
KIND_BOOL = K_BOOL
KIND_NUMERIC = K_FLOAT | K_INT | K_UINT
KIND_ANY = K_FLOAT | K_INT | K_UINT | K_BOOL
KIND_COMPLEX = K_COMPLEX


cdef inline int _kind_of(object dt):
    cdef char k = (<cnp.dtype>dt).kind
    if k == b"f":
        return K_FLOAT
    if k == b"i":
        return K_INT
    if k == b"b":
        return K_BOOL
    if k == b"u":
        return K_UINT
    return K_COMPLEX


cdef inline bint _is_float(object dt):
    # "differentiable": real or complex floating point (complex64/128 are recorded too;
    # the complex gradient convention is described in ops/complex.py)
    cdef char k = (<cnp.dtype>dt).kind
    return k == b"f" or k == b"c"


_KIND_NAMES = {K_FLOAT: "floating", K_INT | K_UINT: "integer", K_BOOL: "bool",
               K_FLOAT | K_INT | K_UINT: "real numeric (not bool or complex)",
               K_FLOAT | K_INT | K_UINT | K_COMPLEX: "numeric (not bool)",
               K_FLOAT | K_COMPLEX: "floating or complex", K_COMPLEX: "complex"}

# ---------------------------------------------------------------------------
# ids, devices

cdef long long _next_id = 1
cdef object _default_device = None       # None = CPU, else a device string "/gpu:N"
cdef object _to_device_hook = None       # callable(Tensor, device) -> Tensor, set by device.py
cdef object _gpu_impl_lookup = None      # callable(name) -> forward, set by device.py


def _set_device_hooks(to_device, gpu_impl_lookup):
    """Installed once by tapegrad.device so the core never imports CUDA itself."""
    global _to_device_hook, _gpu_impl_lookup
    _to_device_hook = to_device
    _gpu_impl_lookup = gpu_impl_lookup


def _set_default_device(device):
    global _default_device
    _default_device = device


def _get_default_device():
    return _default_device


cdef inline Tensor _new_tensor(object data):
    global _next_id
    cdef Tensor t = Tensor.__new__(Tensor)
    t._data = data
    t._id = _next_id
    _next_id += 1
    return t


cdef inline object _freeze(object arr):
    # Tensors are immutable: every CPU buffer they hold is read-only, and so is the owner
    # of a view when nothing else holds it (a reshaped kernel output), so no view of it
    # can be flipped back to writeable.  Shared owners (a variable's storage) stay as
    # they are; Tensor.numpy() copies from those.
    cdef PyObject* base
    if type(arr) is not ndarray:
        arr = _np_asarray(arr)
    cnp.PyArray_CLEARFLAGS(<cnp.ndarray>arr, cnp.NPY_ARRAY_WRITEABLE)
    base = cnp.PyArray_BASE(<cnp.ndarray>arr)
    if base != NULL and base.ob_refcnt == 1 and type(<object>base) is ndarray:
        cnp.PyArray_CLEARFLAGS(<cnp.ndarray><object>base, cnp.NPY_ARRAY_WRITEABLE)
    return arr


cpdef Tensor ones_like_fast(Tensor t):
    """Ones of t's shape and dtype; the tape's default seed (no dispatch on CPU)."""
    cdef cnp.ndarray arr
    if t is None:
        raise TypeError("ones_like_fast: expected a Tensor, got None")
    if type(t._data) is not ndarray:
        return _optable_ones_like(t)
    cdef int typenum = cnp.PyArray_TYPE(<cnp.ndarray>t._data)
    if cnp.PyArray_NDIM(<cnp.ndarray>t._data) == 0:
        # a scalar loss's seed: one shared read-only 1.0 per float dtype (tensors never
        # write into their arrays, so sharing is safe; it saves a third of this call)
        if typenum == cnp.NPY_FLOAT:
            return _new_tensor(_one32)
        if typenum == cnp.NPY_DOUBLE:
            return _new_tensor(_one64)
    arr = cnp.PyArray_EMPTY(cnp.PyArray_NDIM(<cnp.ndarray>t._data),
                            cnp.PyArray_DIMS(<cnp.ndarray>t._data), typenum, 0)
    cnp.PyArray_FillWithScalar(arr, 1)
    return _new_tensor(_freeze(arr))


cdef object _one32 = np.ones((), np.float32)
cdef object _one64 = np.ones((), np.float64)
_one32.flags.writeable = False
_one64.flags.writeable = False


cdef object _optable_ones_like(Tensor t):
    return _registry["ones_like"](t)


cpdef Tensor wrap(object array):
    """Zero-copy Tensor over a fresh ndarray; the caller gives up the right to mutate it."""
    if isinstance(array, Tensor):
        return <Tensor>array
    if not isinstance(array, ndarray):
        raise TypeError("wrap: expected a numpy.ndarray, got %s" % type(array).__name__)
    if array.dtype.kind not in "fiubc":
        raise TypeError("wrap: unsupported dtype %s" % array.dtype)
    if type(array) is not ndarray:
        array = _np_asarray(array)
    return _new_tensor(_freeze(_native(array)))


def _wrap_device(object data):
    """Tensor over a backend buffer (a CudaArray on GPU); used by the CUDA backend."""
    if type(data) is ndarray:
        return _new_tensor(_freeze(data))
    return _new_tensor(data)


# ---------------------------------------------------------------------------
# tg.function tracing (graph/trace.py): while a Tracer is installed, `apply`, variable
# reads/assignments and tensor-to-Python conversions report to it; one C test otherwise

cdef object _tracer = None
cdef unsigned long _tracer_thread = 0    # only the tracing thread's ops are recorded


cdef inline bint _tracing_here():
    return PyThread_get_thread_ident() == _tracer_thread


def _set_tracer(tracer):
    """Install ``tracer`` for the calling thread (None to stop); returns the previous one.
    Other threads (a data pipeline's workers) keep running eagerly, unrecorded."""
    global _tracer, _tracer_thread
    cdef object prev = _get_tracer()
    if _tracer is not None and not _tracing_here():
        if tracer is None:
            return None
        raise RuntimeError("tg.function: another thread is tracing (traces are serialised "
                           "by tapegrad.graph.function's lock)")
    _tracer = tracer
    _tracer_thread = PyThread_get_thread_ident()
    return prev


def _get_tracer():
    """The calling thread's tracer, or None."""
    if _tracer is not None and _tracing_here():
        return _tracer
    return None


def _device_of(Tensor t not None):
    return None if type(t._data) is ndarray else t._data.device


# ---------------------------------------------------------------------------
# the operator table: primitives behind Python operators, filled at registration

cdef enum:
    OPC_ADD, OPC_SUB, OPC_MUL, OPC_DIV, OPC_FLOORDIV, OPC_MOD, OPC_POW, OPC_MATMUL,
    OPC_LT, OPC_LE, OPC_GT, OPC_GE, OPC_EQ, OPC_NE, OPC_AND, OPC_OR,
    OPC_NEG, OPC_ABS, OPC_NOT, OPC_GETITEM, OPC_COUNT

cdef dict _OPERATOR_NAMES = {
    "add": OPC_ADD, "subtract": OPC_SUB, "multiply": OPC_MUL, "divide": OPC_DIV,
    "floordiv": OPC_FLOORDIV, "floormod": OPC_MOD, "pow": OPC_POW, "matmul": OPC_MATMUL,
    "less": OPC_LT, "less_equal": OPC_LE, "greater": OPC_GT, "greater_equal": OPC_GE,
    "equal": OPC_EQ, "not_equal": OPC_NE, "logical_and": OPC_AND, "logical_or": OPC_OR,
    "negative": OPC_NEG, "abs": OPC_ABS, "logical_not": OPC_NOT, "getitem": OPC_GETITEM,
}
cdef list _optable = [None] * OPC_COUNT
cdef dict _registry = {}
# imports the op modules that `import tapegrad` defers (tapegrad/ops/__init__.py) and
# then uninstalls itself: registry() and _lookup() call it, so what they see is complete
cdef object _registry_loader = None


def _set_registry_loader(loader):
    global _registry_loader
    if loader is not None and not callable(loader):
        raise TypeError("the registry loader must be callable or None")
    _registry_loader = loader


cdef inline void _load_deferred_ops() except *:
    if _registry_loader is not None:
        _registry_loader()


def registry():
    """{name: Primitive} of every primitive (a copy), the deferred op modules loaded."""
    _load_deferred_ops()
    return dict(_registry)


def registered():
    """{name: Primitive} registered so far (a copy), importing nothing: for the op modules
    while they load (registry() would load the deferred ones from inside an import)."""
    return dict(_registry)


cdef object _binop(int code, object x, object y):
    cdef object prim = _optable[code]
    if type(prim) is Primitive:
        return apply(<Primitive>prim, (x, y), None)
    if prim is None:
        raise RuntimeError("operator primitive %d is not registered (tapegrad.ops not imported?)"
                           % code)
    return prim(x, y)


def set_operator(str name, fn):
    """Back an operator with a public function instead of its primitive (``@`` -> matmul,
    whose wrapper handles 1-D operands and transpose flags)."""
    _optable[_OPERATOR_NAMES[name]] = fn


# The rest of the module, split by family (one extension module: the hot path calls
# across them are plain C calls).
include "_tensor.pxi"
include "_convert.pxi"
include "_dispatch.pxi"
include "_debug.pxi"
include "_variable.pxi"
