# The engine's hot path: Tensor, conversion, op dispatch and tape recording.
#
# Every op call goes through `apply`: convert arguments, check dtypes and device,
# run the backend forward, wrap the result, and append one OpRecord to each active
# tape that watches an input.  With no tape active the recording costs one C int
# test.  The gradient walk lives in _tape.pyx.

cimport cython
cimport numpy as cnp
from cpython.object cimport PyObject
from cpython.contextvars cimport PyContextVar_Reset, PyContextVar_Set

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

# ---------------------------------------------------------------------------
# dtype kinds, as bits so a primitive's accepted dtypes are one mask test

cdef int K_FLOAT = 1, K_INT = 2, K_BOOL = 4, K_UINT = 8, K_COMPLEX = 16

KIND_FLOAT = K_FLOAT
KIND_INT = K_INT | K_UINT
KIND_BOOL = K_BOOL
KIND_NUMERIC = K_FLOAT | K_INT | K_UINT
KIND_ANY = K_FLOAT | K_INT | K_UINT | K_BOOL


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
    return (<cnp.dtype>dt).kind == b"f"


_KIND_NAMES = {K_FLOAT: "floating", K_INT | K_UINT: "integer", K_BOOL: "bool",
               K_FLOAT | K_INT | K_UINT: "numeric (not bool)"}

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
    if type(t._data) is not ndarray:
        return _optable_ones_like(t)
    arr = cnp.PyArray_EMPTY(cnp.PyArray_NDIM(<cnp.ndarray>t._data),
                            cnp.PyArray_DIMS(<cnp.ndarray>t._data),
                            cnp.PyArray_TYPE(<cnp.ndarray>t._data), 0)
    arr.fill(1)
    return _new_tensor(_freeze(arr))


cdef object _optable_ones_like(Tensor t):
    return _registry["ones_like"](t)


cpdef Tensor wrap(object array):
    """Zero-copy Tensor over a fresh ndarray; the caller gives up the right to mutate it."""
    if isinstance(array, Tensor):
        return <Tensor>array
    if not isinstance(array, ndarray):
        raise TypeError("wrap: expected a numpy.ndarray, got %s" % type(array).__name__)
    if _kind_of(array.dtype) == K_COMPLEX or array.dtype.kind not in "fiub":
        raise TypeError("wrap: unsupported dtype %s" % array.dtype)
    if type(array) is not ndarray:
        array = _np_asarray(array)
    return _new_tensor(_freeze(array))


def _wrap_device(object data):
    """Tensor over a backend buffer (a CudaArray on GPU); used by the CUDA backend."""
    if type(data) is ndarray:
        return _new_tensor(_freeze(data))
    return _new_tensor(data)


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


def registry():
    """{name: Primitive} of every registered primitive (a copy)."""
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


# ---------------------------------------------------------------------------
# Tensor

cdef str _cpu_device = "/cpu:0"


cdef class Operand:
    """Operator overloads shared by Tensor and Variable: each forwards to the primitive
    registered for it, so operators and named ops (tg.add, ...) are one code path."""

    def __add__(self, other):
        return _binop(OPC_ADD, self, other)

    def __radd__(self, other):
        return _binop(OPC_ADD, other, self)

    def __sub__(self, other):
        return _binop(OPC_SUB, self, other)

    def __rsub__(self, other):
        return _binop(OPC_SUB, other, self)

    def __mul__(self, other):
        return _binop(OPC_MUL, self, other)

    def __rmul__(self, other):
        return _binop(OPC_MUL, other, self)

    def __truediv__(self, other):
        return _binop(OPC_DIV, self, other)

    def __rtruediv__(self, other):
        return _binop(OPC_DIV, other, self)

    def __floordiv__(self, other):
        return _binop(OPC_FLOORDIV, self, other)

    def __rfloordiv__(self, other):
        return _binop(OPC_FLOORDIV, other, self)

    def __mod__(self, other):
        return _binop(OPC_MOD, self, other)

    def __rmod__(self, other):
        return _binop(OPC_MOD, other, self)

    def __pow__(self, other, mod):
        return _binop(OPC_POW, self, other)

    def __rpow__(self, other, mod):
        return _binop(OPC_POW, other, self)

    def __matmul__(self, other):
        return _binop(OPC_MATMUL, self, other)

    def __rmatmul__(self, other):
        return _binop(OPC_MATMUL, other, self)

    def __lt__(self, other):
        return _binop(OPC_LT, self, other)

    def __le__(self, other):
        return _binop(OPC_LE, self, other)

    def __gt__(self, other):
        return _binop(OPC_GT, self, other)

    def __ge__(self, other):
        return _binop(OPC_GE, self, other)

    def __eq__(self, other):
        if other is None:
            return False
        return _binop(OPC_EQ, self, other)

    def __ne__(self, other):
        if other is None:
            return True
        return _binop(OPC_NE, self, other)

    def __and__(self, other):
        return _binop(OPC_AND, self, other)

    def __rand__(self, other):
        return _binop(OPC_AND, other, self)

    def __or__(self, other):
        return _binop(OPC_OR, self, other)

    def __ror__(self, other):
        return _binop(OPC_OR, other, self)

    def __neg__(self):
        return apply(<Primitive>_optable[OPC_NEG], (self,), None)

    def __pos__(self):
        return self

    def __abs__(self):
        return apply(<Primitive>_optable[OPC_ABS], (self,), None)

    def __invert__(self):
        return apply(<Primitive>_optable[OPC_NOT], (self,), None)

    def __hash__(self):
        return <Py_hash_t>self._hash_id()

    def __getitem__(self, key):
        return _getitem(self, key)


cdef class Tensor(Operand):
    """An immutable n-dimensional value on a device, produced by tapegrad ops.

    Create tensors with ``tg.constant`` / ``tg.convert_to_tensor`` or any op.
    """

    __array_priority__ = 100

    def __init__(self, *args, **kwargs):
        raise TypeError("tg.Tensor cannot be constructed directly; use tg.constant(value)")

    @property
    def shape(self):
        return self._data.shape

    @property
    def dtype(self):
        return self._data.dtype

    @property
    def ndim(self):
        return len(self._data.shape)

    @property
    def size(self):
        return self._data.size

    @property
    def device(self):
        if type(self._data) is ndarray:
            return _cpu_device
        return self._data.device

    def get_shape(self):
        return self._data.shape

    def numpy(self):
        """The value as a read-only NumPy array (zero copy on CPU; a GPU tensor copies)."""
        cdef PyObject* base
        if type(self._data) is ndarray:
            base = cnp.PyArray_BASE(<cnp.ndarray>self._data)
            if base != NULL and type(<object>base) is ndarray and \
                    cnp.PyArray_ISWRITEABLE(<cnp.ndarray><object>base):
                # a variable's storage: a view could be flipped writeable, so copy
                out = (<cnp.ndarray>self._data).copy()
                cnp.PyArray_CLEARFLAGS(<cnp.ndarray>out, cnp.NPY_ARRAY_WRITEABLE)
                return out.view()
            # A view, so user code can never flip the writeable flag of our buffer back on.
            return (<cnp.ndarray>self._data).view()
        return self._data.to_numpy()

    def _hash_id(self):
        return self._id

    def __array__(self, dtype=None, copy=None):
        arr = self.numpy()
        if dtype is not None and np.dtype(dtype) != arr.dtype:
            return arr.astype(dtype)
        if copy:
            return arr.copy()
        return arr

    def __array_function__(self, func, types, args, kwargs):
        # NumPy functions given tensors compute on their values and return ndarrays, as
        # in the guide (np.multiply(a, b)).  __array_ufunc__ is deliberately not defined:
        # without it, ndarray + Tensor defers to Tensor.__radd__ and stays a Tensor.
        return func(*_unwrap_nested(args), **_unwrap_nested(kwargs))

    def __repr__(self):
        return "<tg.Tensor: shape=%s, dtype=%s%s, numpy=%s>" % (
            _shape_str(self.shape), self.dtype.name,
            "" if type(self._data) is ndarray else ", device=%s" % self.device,
            np.array2string(self.numpy(), separator=", ", prefix="numpy="))

    def __str__(self):
        return "tg.Tensor(%s, shape=%s, dtype=%s)" % (
            np.array2string(self.numpy(), prefix="tg.Tensor("), _shape_str(self.shape),
            self.dtype.name)

    def __format__(self, spec):
        # like TF eager: "{}".format(t) shows the values, "{:.3f}" formats a scalar
        if self.size == 1 and spec:
            return format(self.numpy().reshape(()).item(), spec)
        return format(self.numpy(), spec)

    def _scalar(self, str what):
        if self._data.size != 1:
            raise ValueError("%s: only a one-element tensor converts to a Python scalar, "
                             "got shape %s" % (what, _shape_str(self.shape)))
        return self.numpy().reshape(()).item()

    def __bool__(self):
        return bool(self._scalar("bool()"))

    def __float__(self):
        return float(self._scalar("float()"))

    def __int__(self):
        return int(self._scalar("int()"))

    def __index__(self):
        if _kind_of(self.dtype) not in (K_INT, K_UINT):
            raise TypeError("only integer tensors can be used as an index, got dtype %s"
                            % self.dtype.name)
        return int(self._scalar("__index__"))

    def __complex__(self):
        return complex(self._scalar("complex()"))

    def __len__(self):
        if len(self.shape) == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    def __iter__(self):
        if len(self.shape) == 0:
            raise TypeError("iteration over a 0-d tensor")
        for i in range(self.shape[0]):
            yield _getitem(self, i)

    def __copy__(self):
        return self

    def __deepcopy__(self, memo):
        return self

    def __reduce__(self):
        return (_rebuild, (self.numpy(),))

    # TF-style conveniences
    def gpu(self, int index=0):
        return self.to("/gpu:%d" % index)

    def cpu(self):
        return self.to(_cpu_device)

    def to(self, device):
        if _to_device_hook is None:
            import tapegrad.device  # noqa: F401  (installs the hooks)
        return _to_device_hook(self, device)


def _rebuild(arr):
    return wrap(_np_array(arr))


cdef str _shape_str(tuple shape):
    if len(shape) == 1:
        return "(%d,)" % shape[0]
    return "(" + ", ".join([str(d) for d in shape]) + ")"


cdef object _unwrap_nested(object x):
    if isinstance(x, Tensor):
        return (<Tensor>x).numpy()
    if isinstance(x, BaseVariable):
        return (<BaseVariable>x).read().numpy()
    if type(x) is list:
        return [_unwrap_nested(v) for v in x]
    if type(x) is tuple:
        return tuple([_unwrap_nested(v) for v in x])
    if type(x) is dict:
        return {k: _unwrap_nested(v) for k, v in (<dict>x).items()}
    return x


# ---------------------------------------------------------------------------
# conversion

cdef object _default_array_dtype(object arr):
    # Python floats/ints become float32/int32 as in TensorFlow; NumPy arrays keep theirs.
    cdef str k = arr.dtype.kind
    if k == "f" and arr.dtype != _float32:
        return arr.astype(_float32)
    if k == "i" and arr.dtype != _int32:
        if arr.size and (arr.max() > 2147483647 or arr.min() < -2147483648):
            return arr.astype(_int64)
        return arr.astype(_int32)
    return arr


cdef object _check_array_dtype(object arr, str what):
    cdef str k = arr.dtype.kind
    if k not in "fiub":
        raise TypeError("%s: cannot convert a value of dtype %s to a tensor (supported: "
                        "float16/32/64, int8..int64, uint8, bool)" % (what, arr.dtype))
    return arr


cpdef Tensor convert(object value, object dtype=None, str what="convert_to_tensor"):
    """Convert a Tensor, Variable, ndarray, Python number or nested list to a Tensor."""
    cdef Tensor t
    if type(value) is Tensor:
        t = <Tensor>value
        if dtype is not None and t._data.dtype != dtype:
            raise TypeError("%s: tensor has dtype %s but %s was requested (use tg.cast)"
                            % (what, t._data.dtype.name, np.dtype(dtype).name))
        return t
    if isinstance(value, BaseVariable):
        return convert((<BaseVariable>value).read(), dtype, what)
    if value is None:
        raise TypeError("%s: cannot convert None to a tensor" % what)
    try:
        if isinstance(value, ndarray):
            arr = _np_array(value, dtype=dtype, copy=True)
        elif isinstance(value, (np.generic,)):
            arr = _np_array(value, dtype=dtype)
        elif dtype is not None:
            arr = _np_array(value)
            if arr.dtype == object or arr.dtype.kind not in "fiub":
                raise TypeError("%s: cannot convert %s to a tensor" % (what, type(value).__name__))
            if arr.dtype.kind == "f" and np.dtype(dtype).kind in "iub" and (
                    np.dtype(dtype).kind == "b" or not np.all(np.trunc(arr) == arr)):
                raise TypeError("%s: cannot convert float value %r to %s without loss"
                                % (what, value, np.dtype(dtype).name))
            arr = arr.astype(dtype)
        else:
            if isinstance(value, (list, tuple)) and _contains_tensor(value):
                value = _unwrap_nested(value)
            arr = _default_array_dtype(_np_array(value))
    except (ValueError, OverflowError) as e:
        raise ValueError("%s: cannot convert %s to a tensor: %s"
                         % (what, type(value).__name__, e)) from None
    if arr.dtype == object:
        raise TypeError("%s: cannot convert %s to a tensor (ragged or non-numeric value)"
                        % (what, type(value).__name__))
    _check_array_dtype(arr, what)
    t = _new_tensor(_freeze(arr))
    if _default_device is not None and _default_device != _cpu_device:
        return _to_device_hook(t, _default_device)
    return t


cdef bint _contains_tensor(object seq):
    for v in seq:
        if isinstance(v, (Tensor, BaseVariable)):
            return True
        if isinstance(v, (list, tuple)) and _contains_tensor(v):
            return True
    return False


cdef inline bint _is_weak(object x):
    # Python scalars adopt the dtype of the tensors they meet (weak typing).
    cdef object tp = type(x)
    return tp is float or tp is int or tp is bool


cdef object _weak_to_array(object x, object dtype, str name):
    cdef object tp = type(x)
    cdef str k = dtype.kind
    if tp is float and k != "f":
        if k == "b" or float(x) != int(x):
            raise TypeError("%s: cannot combine Python float %r with a %s tensor (use tg.cast)"
                            % (name, x, dtype.name))
    if tp is int and k == "b" and x not in (0, 1):
        raise TypeError("%s: cannot combine Python int %r with a bool tensor" % (name, x))
    if tp is int and k in "iu":
        info = np.iinfo(dtype)
        if x < info.min or x > info.max:
            raise ValueError("%s: Python int %r does not fit in %s" % (name, x, dtype.name))
    return _np_array(x, dtype=dtype)


# ---------------------------------------------------------------------------
# primitives and dispatch

cdef class Primitive:
    """One registered op: forward per backend, its VJP (and JVP) beside it."""

    def __init__(self, str name, cpu_forward, *, bint differentiable=True,
                 int dtypes=K_FLOAT | K_INT | K_UINT | K_BOOL, same_dtype=None,
                 bint save_inputs=True, bint save_output=True, int fast_code=-1,
                 bint quiet=False):
        self.name = name
        self.quiet = quiet
        self.cpu = cpu_forward
        self.impls = {"cpu": cpu_forward}
        self.vjp = None
        self.jvp = None
        self.differentiable = differentiable
        self.dtypes = dtypes
        self.same_dtype = tuple(same_dtype) if same_dtype is not None else None
        self.save_inputs = save_inputs
        self.save_output = save_output
        self.fast_code = fast_code
        self.doc = cpu_forward.__doc__

    def defvjp(self, fn):
        """Decorator: register ``fn(g, ans, *inputs, **params) -> grads`` as the VJP."""
        self.vjp = fn
        return fn

    def defjvp(self, fn):
        """Decorator: register ``fn(tangents, ans, *inputs, **params) -> tangent``."""
        self.jvp = fn
        return fn

    def defimpl(self, str backend, fn):
        self.impls[backend] = fn
        if backend == "cpu":
            self.cpu = fn
        return fn

    def __call__(self, *args, **params):
        return apply(self, args, params)

    def __repr__(self):
        return "<tg primitive %s>" % self.name

    def __reduce__(self):
        return (_lookup, (self.name,))


def _lookup(name):
    return _registry[name]


def register(Primitive prim):
    """Add ``prim`` to the registry (and to the operator table if it backs an operator)."""
    if prim.name in _registry:
        raise ValueError("primitive %r is already registered" % prim.name)
    _registry[prim.name] = prim
    code = _OPERATOR_NAMES.get(prim.name)
    if code is not None and _optable[code] is None:
        _optable[code] = prim
    return prim


cdef class OpRecord:
    def __repr__(self):
        return "<OpRecord %s -> %d>" % (self.prim.name, self.output_id)


cdef list _tapes = []            # active TapeCore objects, innermost last
cdef int _n_tapes = 0


cdef void push_tape(TapeCore tape):
    global _n_tapes
    _tapes.append(tape)
    _n_tapes = len(_tapes)


cdef void pop_tape(TapeCore tape):
    global _n_tapes
    cdef Py_ssize_t i
    # Tapes normally exit innermost-first, but a persistent tape may be exited out of order.
    for i in range(len(_tapes) - 1, -1, -1):
        if _tapes[i] is tape:
            del _tapes[i]
            break
    _n_tapes = len(_tapes)


def _push_tape(TapeCore tape):
    push_tape(tape)


def _pop_tape(TapeCore tape):
    pop_tape(tape)


def _active_tapes():
    return list(_tapes)


cdef class TapeCore:
    """Per-tape bookkeeping; the public GradientTape (autodiff/tape.py) owns one."""

    def __init__(self, bint persistent=False, bint watch_accessed=True):
        self.producers = {}
        self.var_reads = {}
        self.variables = {}
        self.persistent = persistent
        self.watch_accessed = watch_accessed
        self.paused = 0
        self.used = False

    cdef void watch_tensor(self, Tensor t):
        if t._id not in self.producers:
            self.producers[t._id] = None

    def watch(self, Tensor t):
        if not _is_float(t._data.dtype):
            raise TypeError("GradientTape.watch: only floating-point tensors can be "
                            "differentiated, got dtype %s" % t._data.dtype.name)
        self.watch_tensor(t)

    def watch_variable(self, BaseVariable v):
        cdef Tensor t = v._value
        if not _is_float(t._data.dtype):
            raise TypeError("GradientTape.watch: only floating-point variables can be "
                            "differentiated, got dtype %s" % t._data.dtype.name)
        self.note_read(v, t)

    cdef void note_read(self, BaseVariable v, Tensor t):
        cdef list reads
        self.watch_tensor(t)
        reads = self.var_reads.get(v._uid)
        if reads is None:
            self.var_reads[v._uid] = [t._id]
            self.variables[v._uid] = v
        elif reads[len(reads) - 1] != t._id:
            reads.append(t._id)

    cdef bint records(self, tuple args):
        cdef dict producers = self.producers
        for a in args:
            if type(a) is Tensor and (<Tensor>a)._id in producers:
                return True
        return False

    def release(self):
        self.producers = {}
        self.var_reads = {}


cdef inline void _record(Primitive prim, tuple inputs, Tensor out, dict params):
    cdef TapeCore tape
    cdef OpRecord rec = None
    if not prim.differentiable or not _is_float(out._data.dtype):
        return
    for tape in _tapes:
        if tape.paused or not tape.records(inputs):
            continue
        if rec is None:
            rec = _make_record(prim, inputs, out, params)
        tape.producers[out._id] = rec


cdef OpRecord _make_record(Primitive prim, tuple inputs, Tensor out, dict params):
    cdef OpRecord rec = OpRecord.__new__(OpRecord)
    cdef Tensor t
    rec.prim = prim
    rec.inputs = inputs if prim.save_inputs else None
    rec.input_ids = tuple([(<Tensor>t)._id for t in inputs])
    # shapes/dtypes are kept separately only when the inputs themselves are not saved
    rec.input_meta = None if prim.save_inputs else tuple(
        [((<Tensor>t)._data.shape, (<Tensor>t)._data.dtype) for t in inputs])
    rec.output = out if prim.save_output else None
    rec.output_id = out._id
    rec.out_meta = (out._data.shape, out._data.dtype)
    rec.params = params if params is not None else {}
    return rec


def _record_external(Primitive prim, tuple inputs, Tensor out, dict params):
    """Record an op computed outside `apply` (custom gradients use it)."""
    if _n_tapes:
        _record(prim, inputs, out, params)


cpdef object apply(Primitive prim, tuple args, dict params):
    """Run ``prim`` on ``args``: convert, check, dispatch to the backend, record."""
    cdef object x, y, out
    cdef Tensor a, b, t
    if prim.fast_code >= 0 and len(args) == 2 and not params:
        x = args[0]
        y = args[1]
        if isinstance(x, BaseVariable):
            x = (<BaseVariable>x).read()
        if isinstance(y, BaseVariable):
            y = (<BaseVariable>y).read()
        if type(x) is Tensor and type(y) is Tensor:
            a = <Tensor>x
            b = <Tensor>y
            if type(a._data) is ndarray and type(b._data) is ndarray and _default_device is None:
                out = _kernels.binary_same_shape(prim.fast_code, a._data, b._data)
                if out is None:
                    out = _scalar_operand(prim.fast_code, a._data, b._data)
                if out is not None:
                    cnp.PyArray_CLEARFLAGS(<cnp.ndarray>out, cnp.NPY_ARRAY_WRITEABLE)
                    t = _new_tensor(out)
                    if _n_tapes:
                        _record(prim, (a, b), t, params)
                    return t
        elif _default_device is None and (
                (type(x) is Tensor and (type(y) is float or type(y) is int)) or
                (type(y) is Tensor and (type(x) is float or type(x) is int))):
            # tensor (op) Python number: the number is weakly typed, so a float tensor
            # keeps its dtype; a kernel with the scalar avoids converting it at all
            return _apply_scalar(prim, x, y)
        args = (x, y)
    return _apply_general(prim, args, params)


cdef inline bint _in(tuple same, Py_ssize_t i):
    # positions that share one dtype; None means all of them
    return same is None or i in same


cdef object _scalar_operand(int code, object a, object b):
    # a 0-d tensor meeting an array of its dtype (a scalar weight times a batch) runs
    # the scalar kernel; broadcasting is undone by the tape's sum_to as usual
    if (<cnp.dtype>a.dtype) is not (<cnp.dtype>b.dtype):
        return None
    if cnp.PyArray_NDIM(<cnp.ndarray>b) == 0:
        return _kernels.binary_scalar(code, a, (<cnp.ndarray>b).item(), False)
    if cnp.PyArray_NDIM(<cnp.ndarray>a) == 0:
        return _kernels.binary_scalar(code, b, (<cnp.ndarray>a).item(), True)
    return None


cdef object _apply_scalar(Primitive prim, object x, object y):
    cdef bint first = type(x) is not Tensor
    cdef Tensor a = <Tensor>(y if first else x)
    cdef object s = x if first else y, out
    cdef Tensor t, st
    if type(a._data) is ndarray and (<cnp.dtype>a._data.dtype).kind == b"f" and (
            type(s) is float or -9007199254740992 <= s <= 9007199254740992):
        out = _kernels.binary_scalar(prim.fast_code, a._data, <double>s, first)
        if out is not None:
            cnp.PyArray_CLEARFLAGS(<cnp.ndarray>out, cnp.NPY_ARRAY_WRITEABLE)
            t = _new_tensor(out)
            if _n_tapes:
                # the record holds the scalar as a 0-d tensor, like the general path
                st = _new_tensor(_freeze(_np_array(s, dtype=a._data.dtype)))
                _record(prim, (st, a) if first else (a, st), t, None)
            return t
    return _apply_general(prim, (x, y), None)


cdef object _apply_general(Primitive prim, tuple args, dict params):
    cdef Py_ssize_t n = len(args), i
    cdef list tensors = [None] * n
    cdef object common = None, arg, dev = None, d, impl, out
    cdef bint any_weak = False, all_cpu = True
    cdef Tensor t
    cdef tuple same = prim.same_dtype
    cdef list weak = None
    # 1. strong arguments become tensors; Python scalars wait for a dtype
    for i in range(n):
        arg = args[i]
        if type(arg) is Tensor:
            t = <Tensor>arg
        elif isinstance(arg, BaseVariable):
            t = (<BaseVariable>arg).read()
        elif _is_weak(arg):
            any_weak = True
            continue
        else:
            t = convert(arg, None, prim.name)
        tensors[i] = t
        if type(t._data) is not ndarray:
            all_cpu = False
        # 2. one dtype across the positions that must agree
        if _in(same, i):
            d = t._data.dtype
            if common is None:
                common = d
            elif d is not common and d != common:
                raise TypeError("%s: dtypes differ: %s vs %s (inputs %s); use tg.cast to "
                                "convert" % (prim.name, common.name, d.name, _describe(args)))
    if any_weak:
        # weak Python scalars adopt the common dtype
        weak = [False] * n
        for i in range(n):
            if tensors[i] is None:
                arg = args[i]
                if common is not None and _in(same, i):
                    arr = _weak_to_array(arg, common, prim.name)
                else:
                    arr = _default_array_dtype(_np_array(arg))
                    if _in(same, i):
                        common = arr.dtype
                tensors[i] = _new_tensor(_freeze(arr))
                weak[i] = True
    # 3. dtype kinds accepted by the op
    for i in range(n):
        t = <Tensor>tensors[i]
        if not (_kind_of(t._data.dtype) & prim.dtypes):
            raise TypeError("%s: expected %s input, got dtype %s (inputs %s)" % (
                prim.name, _KIND_NAMES.get(prim.dtypes, "a supported"), t._data.dtype.name,
                _describe(args)))
    # 4. one device for all inputs (a tg.device scope places and moves them explicitly)
    if all_cpu and _default_device is None:
        impl = prim.cpu
    else:
        dev = _place(tensors, weak, prim.name)
        if dev is None:
            impl = prim.cpu
        else:
            impl = prim.impls.get("gpu")
            if impl is None:
                impl = _gpu_impl_lookup(prim.name)
                prim.impls["gpu"] = impl
            if n == 0:
                params = dict(params) if params else {}
                params["_device"] = dev
    # 5. run the backend forward
    arrays = [(<Tensor>t)._data for t in tensors]
    try:
        if prim.quiet:
            out = _call_quiet(impl, arrays, params)
        elif params:
            out = impl(*arrays, **params)
        else:
            out = impl(*arrays)
    except (ValueError, TypeError, IndexError) as e:
        msg = str(e)
        if not msg.startswith(prim.name + ":"):
            msg = "%s: %s (inputs %s)" % (prim.name, msg, _describe(args))
        raise type(e)(msg) from None
    if dev is None:
        if type(out) is not ndarray:
            out = _np_asarray(out)
        t = _new_tensor(_freeze(out))
    else:
        t = _new_tensor(out)
    if _n_tapes:
        _record(prim, tuple(tensors), t, params)
    return t


cdef object _place(list tensors, list weak, str name):
    """Decide the device an op runs on and move inputs there when that is allowed.

    Without a device scope every (non-scalar) input must already be on one device;
    inside ``tg.device(...)`` the op runs on the scope's device and inputs are copied
    there, as TensorFlow does.  Python scalars always follow the op.
    """
    cdef Py_ssize_t i, n = len(tensors)
    cdef object dev = None, d
    cdef bint first = True
    if _default_device is not None:
        dev = None if _default_device == _cpu_device else _default_device
    else:
        for i in range(n):
            if weak is not None and weak[i]:
                continue
            d = _dev_of(<Tensor>tensors[i])
            if first:
                dev = d
                first = False
            elif d != dev:
                raise ValueError("%s: inputs are on different devices (%s); move them with "
                                 ".gpu()/.cpu() or run the op inside tg.device(...)"
                                 % (name, ", ".join(sorted({_dev_name(x) for x in tensors}))))
    for i in range(n):
        if _dev_of(<Tensor>tensors[i]) != dev:
            tensors[i] = _to_device_hook(tensors[i], _cpu_device if dev is None else dev)
    return dev


cdef object _dev_of(Tensor t):
    return None if type(t._data) is ndarray else t._data.device


cdef str _dev_name(object t):
    return _cpu_device if _dev_of(<Tensor>t) is None else _dev_of(<Tensor>t)


cdef str _describe(tuple args):
    cdef list parts = []
    for a in args:
        if isinstance(a, Tensor):
            parts.append("%s %s" % (_shape_str(a.shape), a.dtype.name))
        elif isinstance(a, BaseVariable):
            parts.append("Variable %s %s" % (_shape_str(a.shape), a.dtype.name))
        elif isinstance(a, ndarray):
            parts.append("ndarray %s %s" % (_shape_str(a.shape), a.dtype.name))
        else:
            parts.append(type(a).__name__)
    return "[" + ", ".join(parts) + "]"


# ---------------------------------------------------------------------------
# indexing: keys are normalised into hashable tuples so the VJP can replay them

cdef object _getitem(object x, object key):
    return apply(<Primitive>_optable[OPC_GETITEM], (x,), {"key": normalize_key(key)})


def normalize_key(key):
    """A hashable, tensor-free form of a NumPy-style index."""
    if not isinstance(key, tuple):
        key = (key,)
    out = []
    for k in key:
        if isinstance(k, BaseVariable):
            k = (<BaseVariable>k).read()
        if isinstance(k, Tensor):
            k = (<Tensor>k).numpy()
        if isinstance(k, (list, ndarray)):
            arr = _np_asarray(k)
            if arr.dtype == object or arr.dtype.kind not in "iub":
                raise TypeError("getitem: index arrays must be integer or bool, got %s"
                                % arr.dtype)
            out.append(_IndexArray(arr))
        elif k is None or k is Ellipsis or isinstance(k, slice):
            out.append(k)
        elif isinstance(k, (int, np.integer)) and not isinstance(k, (bool, np.bool_)):
            out.append(int(k))
        else:
            raise TypeError("getitem: unsupported index %r (use ints, slices, None, ..., "
                            "or integer/bool arrays)" % (k,))
    return tuple(out)


class _IndexArray:
    """An index array that compares by identity and replays as its array."""

    __slots__ = ("array",)

    def __init__(self, array):
        self.array = array
        self.array.flags.writeable = False

    def __repr__(self):
        return "IndexArray(%s)" % (self.array.tolist(),)


def key_for_numpy(tuple key):
    return tuple([k.array if isinstance(k, _IndexArray) else k for k in key])


# ---------------------------------------------------------------------------
# variables

cdef long long _next_var_uid = 1


cdef class BaseVariable(Operand):
    """Mutable holder of a tensor value (storage + a read-only view held by a Tensor).

    Assignments never touch a buffer anyone else still holds: they write in place only
    when the variable is the sole owner (checked by reference counts, the way
    TensorFlow's copy-on-write resource variables work), otherwise they switch the
    variable to fresh storage.  A tape that saved the old value keeps it intact.
    """

    def __init__(self, initial_value, bint trainable=True, dtype=None):
        global _next_var_uid
        cdef Tensor t = convert(initial_value, dtype, "Variable")
        self._uid = _next_var_uid
        _next_var_uid += 1
        self._trainable = trainable
        self._replace(t)

    cdef Tensor read(self):
        cdef TapeCore tape
        if _n_tapes and self._trainable:
            for tape in _tapes:
                if tape.watch_accessed and not tape.paused:
                    if _is_float(self._value._data.dtype):
                        tape.note_read(self, self._value)
        return self._value

    def value(self):
        return self.read()

    def read_value(self):
        return self.read()

    def _peek(self):
        """The current value without registering a read on any tape."""
        return self._value

    def numpy(self):
        return self._value.numpy()

    @property
    def shape(self):
        return self._value._data.shape

    @property
    def dtype(self):
        return self._value._data.dtype

    @property
    def ndim(self):
        return len(self._value._data.shape)

    @property
    def size(self):
        return self._value._data.size

    @property
    def device(self):
        return self._value.device

    @property
    def trainable(self):
        return self._trainable

    @property
    def _unique_id(self):
        return self._uid

    def get_shape(self):
        return self.shape

    def _hash_id(self):
        return self._uid

    def _storage_is_private(self):
        return _private(self)

    cdef void _replace(self, Tensor t):
        # Private writable storage + a read-only view for the Tensor, so in-place updates
        # are possible while the Tensor stays immutable to everyone else.  The variable
        # keeps its own reference to the storage: ops never freeze a base that is shared.
        cdef cnp.ndarray storage, view
        if type(t._data) is not ndarray:
            self._storage = None
            self._value = _new_tensor(t._data.copy())
            return
        storage = _np_array(t._data, copy=True, order="C")
        view = storage.view()
        cnp.PyArray_CLEARFLAGS(view, cnp.NPY_ARRAY_WRITEABLE)
        self._storage = storage
        self._value = _new_tensor(view)

    def _inplace_array(self):
        """A writable ndarray aliasing the storage, after copy-on-write if it is shared."""
        if type(self._value._data) is not ndarray:
            raise TypeError("Variable._inplace_array: only CPU variables can be updated in "
                            "place (device %s)" % self.device)
        if not self._storage_is_private():
            self._replace(self._value)
        return self._storage

    def _assign_array(self, arr):
        """Assign from an ndarray of the right dtype/shape (in place when private)."""
        if type(self._value._data) is ndarray and self._storage_is_private():
            np.copyto(self._storage, arr)
            # a fresh Tensor id, so no tape confuses the new value with the old one
            self._value = _new_tensor(self._value._data)
        else:
            self._replace(wrap(_np_array(arr, copy=True)))

    def _set_value_tensor(self, Tensor t):
        self._replace(t)

    def _check_assign(self, value, str what):
        cdef Tensor t
        if isinstance(value, BaseVariable):
            value = (<BaseVariable>value)._value
        if _is_weak(value):
            t = _new_tensor(_freeze(_weak_to_array(value, self.dtype, what)))
        else:
            t = convert(value, None, what)
        if t._data.dtype != self.dtype:
            raise TypeError("%s: value has dtype %s but the variable is %s"
                            % (what, t._data.dtype.name, self.dtype.name))
        if t._data.shape != self.shape:
            raise ValueError("%s: value has shape %s but the variable has shape %s"
                             % (what, _shape_str(t._data.shape), _shape_str(self.shape)))
        return t

    def assign(self, value, read_value=True):
        cdef Tensor t = self._check_assign(value, "Variable.assign")
        if type(t._data) is ndarray and type(self._value._data) is ndarray:
            self._assign_array(t._data)
        else:
            self._replace(t.to(self.device))
        return self if read_value else None

    def assign_add(self, delta, read_value=True):
        cdef Tensor d = self._check_assign(delta, "Variable.assign_add")
        if type(d._data) is ndarray and type(self._value._data) is ndarray:
            if self._storage_is_private():
                arr = self._storage
                np.add(arr, d._data, out=arr, casting="unsafe")
                self._value = _new_tensor(self._value._data)
            else:
                self._replace(wrap(_np_asarray(self._value._data + d._data)))
        else:
            self._replace(_optable[OPC_ADD](self._value, d.to(self.device)))
        return self if read_value else None

    def assign_sub(self, delta, read_value=True):
        cdef Tensor d = self._check_assign(delta, "Variable.assign_sub")
        if type(d._data) is ndarray and type(self._value._data) is ndarray:
            if self._storage_is_private():
                arr = self._storage
                np.subtract(arr, d._data, out=arr, casting="unsafe")
                self._value = _new_tensor(self._value._data)
            else:
                self._replace(wrap(_np_asarray(self._value._data - d._data)))
        else:
            self._replace(_optable[OPC_SUB](self._value, d.to(self.device)))
        return self if read_value else None

    def __array__(self, dtype=None, copy=None):
        return self._value.__array__(dtype, copy)

    def __array_function__(self, func, types, args, kwargs):
        return func(*_unwrap_nested(args), **_unwrap_nested(kwargs))

    __array_priority__ = 100

    def __bool__(self):
        return bool(self._value)

    def __float__(self):
        return float(self._value)

    def __int__(self):
        return int(self._value)

    def __index__(self):
        return self._value.__index__()

    def __len__(self):
        return len(self._value)

    def __iter__(self):
        return iter(self.read())

    def __format__(self, spec):
        return format(self._value, spec)

    def gpu(self, int index=0):
        return self.read().gpu(index)

    def cpu(self):
        return self.read().cpu()


cdef bint _private(BaseVariable var):
    # Sole owner: only this variable refers to its value Tensor, only that Tensor to the
    # read-only view, and only the view and the variable to the storage.  Borrowed
    # pointers, so taking the counts adds no references of its own.
    cdef PyObject* v = <PyObject*>var._value
    cdef object data = var._value._data
    if type(data) is not ndarray or var._storage is None:
        return False
    cdef PyObject* view = <PyObject*>data
    cdef PyObject* storage = <PyObject*>var._storage
    # `data` (a local) holds one extra reference to the view
    return v.ob_refcnt == 1 and view.ob_refcnt == 2 and storage.ob_refcnt == 2
