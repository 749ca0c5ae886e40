# Included by _core.pyx: the Tensor type (and operators shared with Variable), and
# indexing keys.

# ---------------------------------------------------------------------------
# Tensor

cdef str _cpu_device = "/cpu:0"


cdef inline bint _complex_operand(object x):
    # the operators whose real primitives refuse complex input (``**``, ``abs``) send
    # complex operands to ops/complex.py instead
    if type(x) is complex:
        return True
    if isinstance(x, Operand) or type(x) is ndarray:
        return x.dtype.kind == "c"
    return False


def _complex_operator(str name, *args):
    from tapegrad.ops import complex as complex_ops
    return getattr(complex_ops, name)(*args)


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
        if _complex_operand(self) or _complex_operand(other):
            return _complex_operator("complex_pow", self, other)
        return _binop(OPC_POW, self, other)

    def __rpow__(self, other, mod):
        if _complex_operand(self) or _complex_operand(other):
            return _complex_operator("complex_pow", other, self)
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
        if _complex_operand(self):
            return _complex_operator("abs", self)  # the magnitude, as TF's abs
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
        return _tuple_new(_TensorShape, self._data.shape)

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
        return _tuple_new(_TensorShape, self._data.shape)

    def numpy(self):
        """The value as a read-only NumPy array (zero copy on CPU; a GPU tensor copies)."""
        if _n_tapes and _any_debug:
            _note_escape(self, "numpy")
        return self._view()

    cdef object _view(self):
        cdef PyObject* base
        if _tracer is not None and _tracing_here():
            _tracer.concrete(self, ".numpy()")
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
        if _n_tapes:
            _note_escape(self, "array")
        arr = self._view()
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
        if _tracer is not None and _tracing_here() and _tracer.is_symbolic(self):
            return _traced_str(self)
        return "<tg.Tensor: shape=%s, dtype=%s%s, numpy=%s>" % (
            _shape_str(self.shape), self.dtype.name,
            "" if type(self._data) is ndarray else ", device=%s" % self.device,
            np.array2string(self.numpy(), separator=", ", prefix="numpy="))

    def __str__(self):
        if _tracer is not None and _tracing_here() and _tracer.is_symbolic(self):
            return _traced_str(self)
        return "tg.Tensor(%s, shape=%s, dtype=%s)" % (
            np.array2string(self.numpy(), prefix="tg.Tensor("), _shape_str(self.shape),
            self.dtype.name)

    def __format__(self, spec):
        # like TF eager: "{}".format(t) shows the values, "{:.3f}" formats a scalar
        if self.size == 1 and spec:
            return format(self.numpy().reshape(()).item(), spec)
        return format(self.numpy(), spec)

    def _scalar(self, str what):
        if _tracer is not None and _tracing_here():
            _tracer.concrete(self, what)
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

    # Python array API standard and DLPack (h18): the logic lives in
    # tapegrad/numpy/_array.py and tapegrad/interop.py, imported on first use.
    def __array_namespace__(self, *, api_version=None):
        return _array_api().namespace(self, api_version)

    @property
    def mT(self):
        return _array_api().mT(self)

    @property
    def T(self):
        return _array_api().T(self)

    @property
    def at(self):
        """Functional updates: ``x.at[idx].set(v)`` / ``.add(v)`` return a new tensor."""
        return _array_api().at(self)

    def to_device(self, device, /, *, stream=None):
        return _array_api().to_device(self, device, stream)

    def __dlpack__(self, *, stream=None, max_version=None, dl_device=None, copy=None):
        from tapegrad import interop
        return interop.dlpack(self, stream, max_version, dl_device, copy)

    def __dlpack_device__(self):
        from tapegrad import interop
        return interop.dlpack_device(self)

    def __setitem__(self, key, value):
        _array_api().setitem(self, key, value)

    def __xor__(self, other):
        return _array_api().binop("bitwise_xor", self, other)

    def __rxor__(self, other):
        return _array_api().binop("bitwise_xor", other, self)

    def __lshift__(self, other):
        return _array_api().binop("bitwise_left_shift", self, other)

    def __rlshift__(self, other):
        return _array_api().binop("bitwise_left_shift", other, self)

    def __rshift__(self, other):
        return _array_api().binop("bitwise_right_shift", self, other)

    def __rrshift__(self, other):
        return _array_api().binop("bitwise_right_shift", other, self)


cdef object _array_api_module = None


cdef object _array_api():
    global _array_api_module
    if _array_api_module is None:
        from tapegrad.numpy import _array
        _array_api_module = _array
    return _array_api_module


cdef str _traced_str(Tensor t):
    # printed while tg.function traces: the value is this call's only, so not shown
    return "<tg.Tensor (traced): shape=%s, dtype=%s>" % (_shape_str(t.shape), t.dtype.name)


def _rebuild(arr):
    return wrap(_np_array(arr))


cdef str _shape_str(object shape):  # a tuple or a TensorShape
    if len(shape) == 1:
        return "(%d,)" % shape[0]
    return "(" + ", ".join([str(d) for d in shape]) + ")"


cdef object _unwrap_nested(object x):
    # a NumPy function applied to tensors: their values leave tapegrad (noted for tapes)
    if isinstance(x, Tensor):
        if _n_tapes:
            _note_escape(<Tensor>x, "array")
        return (<Tensor>x)._view()
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
            k = (<Tensor>k).numpy()         # a read-only view: safe to keep as is
        elif isinstance(k, ndarray):
            # a private copy: the key is kept (and frozen) for the VJP's replay, and the
            # caller's array must stay as it was, writable and free to change
            k = _np_array(k)
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
