# Included by _core.pyx: variables (copy-on-write storage).

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
        if _tracer is not None and _tracing_here():
            _tracer.variable_created(self)

    cdef Tensor read(self):
        cdef TapeCore tape
        if _tracer is not None and _tracing_here():
            _tracer.read_var(self)
        if _n_tapes and self._trainable:
            for tape in current_state().tapes:
                if tape.watch_accessed and not tape.paused:
                    if _is_float(_dtype_of(self._value._data)):
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
        if _tracer is not None and _tracing_here():
            _tracer.concrete(self, ".numpy()")
        return self._value.numpy()

    @property
    def shape(self):
        return _tuple_new(_TensorShape, self._value._data.shape)

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
        if type(t._data) is not ndarray:
            self._storage = None
            self._value = _new_tensor(t._data.copy())
            return
        _own(self, _np_array(t._data, copy=True, order="C"))

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
            _own(self, _np_array(arr, copy=True, order="C"))

    # TF's signatures (TF 1.x and 2): use_locking comes before read_value.  It has no
    # effect here: an assignment is atomic as seen from Python; name is cosmetic.  (In
    # C rather than in tg.Variable: a Python wrapper costs ~1,000 instructions a call.)
    def assign(self, value, use_locking=None, name=None, read_value=True):
        cdef Tensor t
        if _tracer is not None and _tracing_here():
            return _tracer.assign(self, "assign", value, read_value)
        t = _checked_value(self, value, "Variable.assign")
        if type(t._data) is ndarray and type(self._value._data) is ndarray:
            self._assign_array(t._data)
        else:
            self._replace(t.to(self.device))
        return self if read_value else None

    def assign_add(self, delta, use_locking=None, name=None, read_value=True):
        if _tracer is not None and _tracing_here():
            return _tracer.assign(self, "assign_add", delta, read_value)
        _accumulate(self, delta, "Variable.assign_add", OPC_ADD, _kernels.K_ADD, _np_add)
        return self if read_value else None

    def assign_sub(self, delta, use_locking=None, name=None, read_value=True):
        if _tracer is not None and _tracing_here():
            return _tracer.assign(self, "assign_sub", delta, read_value)
        _accumulate(self, delta, "Variable.assign_sub", OPC_SUB, _kernels.K_SUB,
                    _np_subtract)
        return self if read_value else None

    def __array__(self, dtype=None, copy=None):
        return self._value.__array__(dtype, copy)

    def __array_function__(self, func, types, args, kwargs):
        return func(*_unwrap_nested(args), **_unwrap_nested(kwargs))

    __array_priority__ = 100

    def __bool__(self):
        if _tracer is not None and _tracing_here():
            _tracer.concrete(self, "bool()")
        return bool(self._value)

    def __float__(self):
        if _tracer is not None and _tracing_here():
            _tracer.concrete(self, "float()")
        return float(self._value)

    def __int__(self):
        if _tracer is not None and _tracing_here():
            _tracer.concrete(self, "int()")
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


cdef void _own(BaseVariable var, cnp.ndarray storage):
    # Adopt a fresh, writable, C-contiguous array that nothing else holds as the storage;
    # the Tensor gets a read-only view of it.
    cdef cnp.ndarray view = storage.view()
    cnp.PyArray_CLEARFLAGS(view, cnp.NPY_ARRAY_WRITEABLE)
    var._storage = storage
    var._value = _new_tensor(view)


cdef object _np_add = np.add
cdef object _np_subtract = np.subtract


cdef Tensor _checked_value(BaseVariable var, object value, str what):
    # an assignment's value as a tensor of the variable's dtype and shape (C-level reads:
    # this runs on every optimizer-free update, assign_sub in a hand-written loop)
    cdef Tensor t
    cdef object data = var._value._data
    if isinstance(value, BaseVariable):
        value = (<BaseVariable>value)._value
    if _is_weak(value):
        t = _new_tensor(_freeze(_weak_to_array(value, data.dtype, what)))
    else:
        t = convert(value, None, what)
    if t._data.dtype != data.dtype:
        raise TypeError("%s: value has dtype %s but the variable is %s"
                        % (what, t._data.dtype.name, var.dtype.name))
    if t._data.shape != data.shape:
        raise ValueError("%s: value has shape %s but the variable has shape %s"
                         % (what, _shape_str(t._data.shape), _shape_str(var.shape)))
    return t


cdef int _accumulate(BaseVariable var, object delta, str what, int opc, int code,
                     object ufunc) except -1:
    # assign_add / assign_sub: in place when the storage is private (a small float one
    # by the kernel, NumPy's ufunc otherwise), else into a fresh array that becomes the
    # new storage (no second copy)
    cdef Tensor d = _checked_value(var, delta, what)
    if type(d._data) is ndarray and type(var._value._data) is ndarray:
        if _private(var):
            if not _kernels.binary_update(code, var._storage, d._data):
                ufunc(var._storage, d._data, out=var._storage)
            var._value = _new_tensor(var._value._data)
        else:
            _own(var, ufunc(var._value._data, d._data,
                            out=np.empty(var._value._data.shape, var._value._data.dtype)))
    else:
        var._replace(_optable[opc](var._value, d.to(var.device)))
    return 0


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
