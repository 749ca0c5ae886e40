# Included by _core.pyx: primitives, op dispatch (`apply`) and tape recording.

# ---------------------------------------------------------------------------
# primitives and dispatch

cdef class Primitive:
    """One registered op: forward per backend, its VJP and JVP beside it.

    A primitive is also the public function of its op (``tg.add`` is the "add"
    primitive): it has a real ``__signature__``, ``__doc__`` and ``__name__``, accepts
    TF's cosmetic ``name=`` keyword, binds its declared inputs by name, and rejects
    keywords its forward does not declare (docs/architecture.md §3.2).
    """

    def __init__(self, str name, cpu_forward, *, bint differentiable=True,
                 int dtypes=K_FLOAT | K_INT | K_UINT | K_BOOL, same_dtype=None,
                 bint save_inputs=True, bint save_output=True, int fast_code=-1,
                 bint quiet=False, args=None, doc=None, module=None):
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
        self.unary_code = -1
        self.rules = {}
        # per instance, shadowing the class's own: help(tg.add) shows the op's doc
        setattr(self, "__doc__", doc if doc is not None else (
            None if isinstance(cpu_forward, np.ufunc) else cpu_forward.__doc__))
        setattr(self, "__module__", module if module is not None else getattr(
            cpu_forward, "__module__", None))
        _declare_signature(self, cpu_forward, args)

    # -- the public-function face ---------------------------------------------------
    @property
    def __name__(self):
        return self.name

    @property
    def __qualname__(self):
        return self.name

    @property
    def __signature__(self):
        return _signature(self)

    def __get__(self, instance, owner):
        # a primitive stored on a class stays a plain function (like staticmethod); being
        # a non-data descriptor is also what makes help() document it as a routine
        return self

    def defvjp(self, fn):
        """Decorator: register ``fn(g, ans, *inputs, **params) -> grads`` as the VJP."""
        self.vjp = fn
        return fn

    def defjvp(self, fn):
        """Decorator: register ``fn(tangents, ans, *inputs, **params) -> tangent`` (None
        for an exactly-zero tangent; ``tangents`` has None where an input has none)."""
        self.jvp = fn
        return fn

    def deflinear(self, *argnums):
        """Declare the op linear in the inputs at ``argnums`` (default: all of them), the
        others (indices) held fixed: its JVP is the op itself applied to the tangents.
        The VJP (the transpose, a different op) stays hand-written."""
        from tapegrad.ops._jvp import LinearJVP

        self.jvp = LinearJVP(self, argnums or None)
        return self

    def defjvp_self_adjoint(self):
        """Declare the op's Jacobian symmetric (elementwise ops: diagonal; softmax): its
        JVP is its VJP's formula applied to the tangent, so one formula serves both
        modes."""
        from tapegrad.ops._jvp import SelfAdjointJVP

        self.jvp = SelfAdjointJVP(self)
        return self

    def defjvp_by_transposition(self):
        """Declare that forward mode transposes this op's VJP (exact, since a VJP is
        linear in its cotangent): for ops whose JVP would only restate the VJP
        (custom gradients, fused adjoints)."""
        from tapegrad.ops._jvp import TransposedJVP

        self.jvp = TransposedJVP(self)
        return self

    def defrule(self, str kind, fn=None):
        """Register the rule of transform ``kind`` ('taylor', 'batch', 'onnx', ...) beside
        the forward; usable as ``@prim.defrule("taylor")``.  A ``NotSupported(reason)``
        marker (ops/_registry.py) declares the transform unsupported on purpose, so the
        registry meta-tests can tell "not yet" from "never" (docs/architecture.md §3.5)."""
        if fn is None:
            def deco(f):
                self.rules[kind] = f
                return f
            return deco
        self.rules[kind] = fn
        return fn

    def rule(self, str kind):
        """The rule registered for ``kind``, or None."""
        return self.rules.get(kind)

    def defimpl(self, str backend, fn):
        self.impls[backend] = fn
        if backend == "cpu":
            self.cpu = fn
        return fn

    def __call__(self, *args, **params):
        # the hot path tests one dict size and one count; keywords and odd counts go
        # through _checked_call (which ends in the same apply)
        if params or self.nargs >= 0 and len(args) != self.nargs:
            return _checked_call(self, args, params)
        return apply(self, args, params)

    def __repr__(self):
        return "<tg primitive %s>" % self.name

    def __reduce__(self):
        return (_lookup, (self.name,))


def _lookup(name):
    # unpickling: the primitive's module may be one that import tapegrad defers
    if name not in _registry:
        _load_deferred_ops()
    return _registry[name]


cdef int _CO_VARARGS = 0x04, _CO_VARKEYWORDS = 0x08


cdef void _declare_signature(Primitive prim, object fn, object args):
    """Fill argnames/keywords/nargs from ``args`` (the tensor inputs' names) and the
    forward's own parameters (read from its code object: cheaper than inspect)."""
    cdef object code = getattr(fn, "__code__", None)
    cdef object names, kw
    cdef bint variadic = False
    if isinstance(fn, np.ufunc):
        kw = frozenset()
        if args is None:
            args = ("x", "y", "z")[:fn.nin]
    elif code is None:
        kw = frozenset()          # a builtin forward (np.asarray): no keywords at all
        variadic = args is None
    else:
        names = code.co_varnames[:code.co_argcount + code.co_kwonlyargcount]
        variadic = bool(code.co_flags & _CO_VARARGS)
        kw = None if code.co_flags & _CO_VARKEYWORDS else frozenset(names)
    prim.argnames = tuple(args) if args is not None else ()
    if kw is not None:
        kw = frozenset([k for k in kw if k not in prim.argnames])
    prim.keywords = kw
    prim.nargs = -1 if variadic or args is None and code is not None else len(prim.argnames)


cdef object _checked_call(Primitive prim, tuple args, dict params):
    # the common internal call (``_reshape(x, shape=...)``) passes only declared
    # parameters at the right count: one set lookup per keyword, then dispatch
    cdef object kw = prim.keywords
    if kw is not None and (prim.nargs < 0 or len(args) == prim.nargs):
        for k in params:
            if k not in kw:
                break
        else:
            return apply(prim, args, params)
    args, params = _bind(prim, args, params)
    return apply(prim, args, params)


cdef tuple _bind(Primitive prim, tuple args, dict params):
    """The slow half of a call: drop ``name=``, bind inputs given by keyword, reject
    undeclared keywords and wrong positional counts with Python's own wording."""
    cdef list pos
    cdef Py_ssize_t i, n = len(args)
    cdef tuple names = prim.argnames
    if params:
        params = dict(params)
        params.pop("name", None)       # TF's name scoping is cosmetic in eager mode
        if names:
            pos = list(args)
            for i in range(n, len(names)):
                if names[i] not in params:
                    break
                pos.append(params.pop(names[i]))
            for k in params:
                if k in names:
                    if names.index(k) < n:
                        raise TypeError("%s() got multiple values for argument %r"
                                        % (prim.name, k))
                    raise TypeError("%s() missing required argument %r"
                                    % (prim.name, names[len(pos)]))
            args = tuple(pos)
        if prim.keywords is not None:
            for k in params:
                if k not in prim.keywords:
                    raise TypeError("%s() got an unexpected keyword argument %r (it takes %s)"
                                    % (prim.name, k, _describe_signature(prim)))
    if prim.nargs >= 0 and len(args) != prim.nargs:
        raise TypeError("%s() takes %d positional argument%s (%s) but %d %s given"
                        % (prim.name, prim.nargs, "" if prim.nargs == 1 else "s",
                           ", ".join(names), len(args), "was" if len(args) == 1 else "were"))
    return args, params


cdef str _describe_signature(Primitive prim):
    return "%s%s" % (prim.name, _signature(prim))


cdef object _signature(Primitive prim):
    """inspect.Signature of the call: the declared inputs, then the forward's own
    parameters as keywords, then ``name=None``; a primitive with no declared inputs
    shows its forward's signature.  Built on demand: inspect is not imported with
    tapegrad."""
    import inspect

    P = inspect.Parameter
    try:
        fwd = list(inspect.signature(prim.cpu).parameters.values())
    except (TypeError, ValueError):
        fwd = []
    if prim.argnames:
        params = [P(n, P.POSITIONAL_OR_KEYWORD) for n in prim.argnames]
        params += [p.replace(kind=P.KEYWORD_ONLY) for p in fwd
                   if prim.keywords is not None and p.name in prim.keywords]
    else:
        params = fwd
    if not any(p.kind == P.VAR_KEYWORD or p.name == "name" for p in params):
        params.append(P("name", P.KEYWORD_ONLY, default=None))
    params.sort(key=lambda p: p.kind)
    return inspect.Signature(params)


def register(Primitive prim not None):
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


# Recording state is per thread, and per context under asyncio: a tape records only the
# ops of the thread (task) that entered it, and `needs_input` answers for the VJP this
# thread runs.  Each context holds one RecState in a context variable and mutates it in
# place (no ContextVar.set per tape: a set costs ~1,000 instructions and empties
# CPython's lookup cache, +10% on the scalar tape step).  A state belongs to the
# context that made it: a context copied from it (an asyncio task, copy_context().run)
# makes its own copy the first time it records or reads a variable under a tape, taking
# the tapes its parent has open at that moment (so the tasks of an asyncio.gather
# inside a tape block are recorded on it, as with TensorFlow's per-thread tapes); tapes
# the task enters afterwards stay its own, and so do the parent's later ones.  A state
# made by another thread (a context copied into a worker by asyncio.to_thread) is never
# inherited: that thread starts with no tapes, as TensorFlow's thread-local tapes do.
#
# `_n_tapes` counts active tapes over all threads: when it is 0 (no tape anywhere) the
# hot path skips recording with one C int test and never looks the state up.

cdef extern from "Python.h":
    # the current thread state's context object (a field since Python 3.7); read only
    ctypedef struct _ThreadState "PyThreadState":
        PyObject* context
    _ThreadState* _thread_state "PyThreadState_Get"()


cdef class RecState:
    """What is recording in this thread/context: its tapes, and the VJP's needs."""

    def __repr__(self):
        return "<RecState tapes=%d needs=%r>" % (len(self.tapes), self.needs)


cdef object _state_var = ContextVar("tapegrad_recording")
cdef Py_ssize_t _n_tapes = 0


cdef RecState _last_state = None     # the state current_state() returned last


cdef RecState current_state():
    """This thread's (context's) recording state; made on first use."""
    # The last state answers again while the thread runs the same context object: the
    # state holds a reference to its context, so that context is alive and its address
    # cannot be another context's; and only this module sets the variable.  Five
    # instructions instead of a ContextVar lookup (~80) on every recorded op.
    cdef RecState last = _last_state
    if last is not None and _thread_state().context == <PyObject*>last.context:
        return last
    return _lookup_state()


cdef RecState _lookup_state():
    global _last_state
    cdef PyObject* value = NULL
    cdef RecState st, prev = None
    # PyContextVar_Get hits CPython's per-variable cache while the context is unchanged
    PyContextVar_Get(_state_var, NULL, &value)
    if value != NULL:
        st = <RecState>value
        Py_XDECREF(value)        # PyContextVar_Get returned a new reference
        if <PyObject*>st.context == _thread_state().context:
            _last_state = st
            return st
        prev = st
    st = RecState.__new__(RecState)
    st.thread = PyThread_get_thread_ident()
    if prev is not None and prev.thread == st.thread:
        st.tapes = list(prev.tapes)      # a task created inside a tape block sees it
        st.needs = prev.needs
    else:
        st.tapes = []
        st.needs = None
    PyContextVar_Set(_state_var, st)
    # after the set: a thread's first set creates its context object
    st.context = <object>_thread_state().context
    _last_state = st
    return st


cdef int push_tape(TapeCore tape) except -1:
    global _n_tapes
    current_state().tapes.append(tape)
    _n_tapes += 1
    return 0


cdef int pop_tape(TapeCore tape) except -1:
    global _n_tapes
    cdef list tapes = current_state().tapes
    cdef Py_ssize_t i
    # Tapes normally exit innermost-first, but a persistent tape may be exited out of order.
    for i in range(len(tapes) - 1, -1, -1):
        if tapes[i] is tape:
            del tapes[i]
            _n_tapes -= 1
            break
    return 0


def _active_tapes():
    """The TapeCores recording in this thread/context, innermost last."""
    return list(current_state().tapes)


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
        self.debug = None

    cdef void watch_tensor(self, Tensor t):
        if t._id not in self.producers:
            self.producers[t._id] = None

    def watch(self, Tensor t not None):
        if not _is_float(t._data.dtype):
            raise TypeError("GradientTape.watch: only floating-point tensors can be "
                            "differentiated, got dtype %s" % t._data.dtype.name)
        self.watch_tensor(t)

    def watch_variable(self, BaseVariable v not None):
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

    cpdef release(self):
        # (cpdef: the backward pass releases a one-shot tape from C after every step)
        self.producers = {}
        self.var_reads = {}


cdef inline int _record(Primitive prim, tuple inputs, Tensor out, dict params) except -1:
    cdef TapeCore tape
    cdef OpRecord rec = None
    if not prim.differentiable or not _is_float(_dtype_of(out._data)):
        if _any_debug:
            _note_cut(prim, inputs, out)
        return 0
    for tape in current_state().tapes:
        if tape.paused or not tape.records(inputs):
            continue
        if rec is None:
            rec = _make_record(prim, inputs, out, params)
        tape.producers[out._id] = rec
        if tape.debug is not None:
            # call sites, byte accounting and max_bytes (may raise, undoing the record)
            tape.debug.on_record(tape, rec, inputs, out)
    return 0


cdef OpRecord _make_record(Primitive prim, tuple inputs, Tensor out, dict params):
    cdef OpRecord rec = OpRecord.__new__(OpRecord)
    cdef Tensor t
    rec.prim = prim
    rec.inputs = inputs if prim.save_inputs else None
    cdef Py_ssize_t i, n = len(inputs)
    cdef tuple ids = PyTuple_New(n)      # (filled in place: no list made and copied)
    cdef object tid
    for i in range(n):
        tid = (<Tensor>inputs[i])._id
        Py_INCREF(tid)
        PyTuple_SET_ITEM(ids, i, tid)
    rec.input_ids = ids
    # shapes/dtypes are kept separately only when the inputs themselves are not saved
    rec.input_meta = None if prim.save_inputs else tuple(
        [(_shape_of((<Tensor>t)._data), _dtype_of((<Tensor>t)._data)) for t in inputs])
    rec.output = out if prim.save_output else None
    rec.output_id = out._id
    rec.out_meta = (_shape_of(out._data), _dtype_of(out._data))
    rec.params = params if params is not None else {}
    return rec


def _record_external(Primitive prim not None, tuple inputs not None, Tensor out not None,
                     dict params):
    """Record an op computed outside `apply` (custom gradients use it)."""
    for t in inputs:
        if type(t) is not Tensor:
            raise TypeError("_record_external: inputs must be tensors, got %s"
                            % type(t).__name__)
    if _tracer is not None and _tracing_here():
        _tracer.external_gradient(prim.name)
    if _n_tapes:
        _record(prim, inputs, out, params)


cpdef object apply(Primitive prim, tuple args, dict params):
    """Run ``prim`` on ``args``: convert, check, dispatch to the backend, record."""
    cdef object out = _apply(prim, args, params)
    if _numerics_on:
        # tg.debugging.enable_check_numerics(): one vectorized pass over the output
        _check_numerics(prim, args, params, out)
    return out


cdef object _apply(Primitive prim, tuple args, dict params):
    cdef object x, y, out
    cdef Tensor a, b, t
    if prim is None or args is None:
        raise TypeError("apply: expected a Primitive and a tuple of arguments")
    if _tracer is not None and _tracing_here():
        return _tracer.op(prim, args, params)
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
                if out is None:
                    out = _kernels.binary_rows(prim.fast_code, a._data, b._data)
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
        elif _default_device is None and (
                (type(x) is Tensor and isinstance(y, _np_real) and _is_float_cpu(x)) or
                (type(y) is Tensor and isinstance(x, _np_real) and _is_float_cpu(y))):
            # a NumPy scalar meeting a float tensor converts to its dtype exactly like a
            # Python number (int or float to float): the same scalar kernel, 6x cheaper
            # than converting it as an array
            if type(x) is Tensor:
                return _apply_scalar(prim, x, y.item())
            return _apply_scalar(prim, x.item(), y)
        args = (x, y)
    elif prim.unary_code >= 0 and len(args) == 1 and type(args[0]) is Tensor and \
            _default_device is None:
        out = _unary_fast(prim.unary_code, (<Tensor>args[0])._data, params)
        if out is not None:
            t = _new_tensor(_freeze(out))
            if _n_tapes:
                _record(prim, args, t, params)
            return t
    return _apply_general(prim, args, params)


# Primitive.unary_code: forwards whose common case the dispatcher runs from C, skipping
# the general path's lists, NumPy error-state switch and Python frame (~6,000
# instructions, more than a 1000-element sum).  Each takes the branch its Python
# forward would take for these arrays, through the same kernel, so the bits agree;
# None sends the op the general way.
cdef enum:
    _UNARY_SUM_ALL = 0      # reduce_sum over every axis of a float array (ops/shape.py _sum)
    _UNARY_BROADCAST = 1    # broadcast_to materialising a small result (ops/shape.py)
    _UNARY_SQUARE = 2       # square of a small float array (_kernels.square)
UNARY_SUM_ALL = _UNARY_SUM_ALL
UNARY_BROADCAST = _UNARY_BROADCAST
UNARY_SQUARE = _UNARY_SQUARE
cdef Py_ssize_t _BROADCAST_COPY = 65536    # ops/shape.py _broadcast_to's copy limit


cdef object _missing = object()


cdef object _unary_fast(int code, object data, dict params):
    cdef object axes, keepdims, shape, out, d
    cdef Py_ssize_t k, n = 1
    cdef cnp.npy_intp dims[32]
    cdef int typenum
    if type(data) is not ndarray:
        return None
    if code == _UNARY_SQUARE:
        return None if params else _kernels.square(data)
    if params is None:
        return None
    if code == _UNARY_SUM_ALL:
        axes = params.get("axes")
        keepdims = params.get("keepdims", _missing)
        if len(params) != 2 or type(axes) is not tuple or keepdims is _missing:
            return None
        k = len(<tuple>axes)
        if k != cnp.PyArray_NDIM(<cnp.ndarray>data):
            return None
        out = _kernels.sum_all(data)
        if out is not None and keepdims:
            out = out.reshape((1,) * k)
        return out
    if code == _UNARY_BROADCAST:
        # a 0-d float value (the gradient of a full reduction) copied into every element
        # by NumPy's own assignment (what ``out[...] = x`` runs)
        shape = params.get("shape")
        typenum = cnp.PyArray_TYPE(<cnp.ndarray>data)
        if len(params) != 1 or type(shape) is not tuple or not 0 < len(<tuple>shape) <= 32 \
                or cnp.PyArray_NDIM(<cnp.ndarray>data) != 0 or \
                (typenum != cnp.NPY_FLOAT and typenum != cnp.NPY_DOUBLE):
            return None
        for k in range(len(<tuple>shape)):
            d = (<tuple>shape)[k]
            if type(d) is not int or not 0 <= d <= _BROADCAST_COPY:
                return None
            dims[k] = d
            n *= dims[k]
            if n > _BROADCAST_COPY:
                return None
        out = cnp.PyArray_EMPTY(len(<tuple>shape), dims, typenum, 0)
        cnp.PyArray_CopyInto(<cnp.ndarray>out, <cnp.ndarray>data)
        return out
    return None


cdef tuple _np_real = (np.floating, np.integer)


cdef inline bint _is_float_cpu(object t):
    cdef object data = (<Tensor>t)._data
    return type(data) is ndarray and (<cnp.dtype>_dtype_of(data)).kind == b"f"


cdef inline bint _in(tuple same, Py_ssize_t i):
    # positions that share one dtype; None means all of them
    return same is None or i in same


cdef object _scalar_operand(int code, object a, object b):
    # a 0-d tensor meeting an array of its dtype (a scalar weight times a batch) runs
    # the scalar kernel; broadcasting is undone by the tape's sum_to as usual
    if _dtype_of(a) is not _dtype_of(b) or (<cnp.dtype>_dtype_of(a)).kind != b"f":
        return None     # (the scalar kernels are real: a complex 0-d goes the general way)
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
    if type(a._data) is ndarray and (<cnp.dtype>_dtype_of(a._data)).kind == b"f" and (
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


cdef object _ufunc_type = np.ufunc
# below this many elements a ufunc runs as one NumPy call without asking ufunc_map (whose
# own threshold is the same, two grains of 2^14)
cdef Py_ssize_t _UFUNC_SPLIT = 1 << 15


cdef object _apply_general(Primitive prim, tuple args, dict params):
    cdef Py_ssize_t n = len(args), i
    cdef list tensors = [None] * n
    cdef object common = None, arg, dev = None, d, impl, out
    cdef bint any_weak = False, any_numpy = False, all_cpu = True
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
        elif n > 1 and _in(same, i) and _is_numpy(arg):
            # NumPy operands convert to the tensors' dtype below, as in TF eager
            any_numpy = True
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
    if any_numpy:
        # NumPy operands adopt the tensors' dtype when the values survive the conversion
        # (int or float to float, int to int in range); without a tensor the first one
        # keeps its own dtype.  They follow the op's device, like Python scalars.
        weak = [False] * n
        for i in range(n):
            arg = args[i]
            if tensors[i] is None and not _is_weak(arg):
                if common is None:
                    t = convert(arg, None, prim.name)
                    common = t._data.dtype
                else:
                    t = _new_tensor(_freeze(_numpy_operand(arg, common, prim.name)))
                tensors[i] = t
                weak[i] = True
    if any_weak:
        # weak Python scalars adopt the common dtype
        if weak is None:
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
    out = None
    if (dev is None and not params and type(impl) is _ufunc_type and
            cnp.PyArray_SIZE(<cnp.ndarray>arrays[0]) >= _UFUNC_SPLIT):
        # a large elementwise op: NumPy's own loop on every core of the pool
        out = _kernels.ufunc_map(impl, tuple(arrays))
    if out is None:
        try:
            if prim.quiet:
                out = _call_quiet(impl, arrays, params)
            elif params:
                out = impl(*arrays, **params)
            else:
                out = impl(*arrays)
        except (ValueError, TypeError, IndexError, OverflowError, MemoryError) as e:
            msg = str(e)
            if not msg.startswith(prim.name + ":"):
                msg = "%s: %s (inputs %s)" % (prim.name, msg, _describe(args))
            raise with_message(e, msg) from None
    if dev is None:
        if type(out) is not ndarray:
            out = _np_asarray(out)
        t = _new_tensor(_freeze(out))
    else:
        t = _new_tensor(out)
    if _n_tapes:
        _record(prim, tuple(tensors), t, params)
    return t


cpdef object with_message(object e, str msg):
    """``e`` again with ``msg``: the same type where it takes a single message, else its
    nearest builtin base.  NumPy's _UFuncNoLoopError or _ArrayMemoryError need extra
    constructor arguments; re-raising ``type(e)(msg)`` would fail with an unrelated
    TypeError about ``__init__`` instead of the op's error.  (The dispatch's rule, and
    ops/_registry.py's for errors raised outside it.)"""
    cdef object cls = type(e)
    try:
        out = cls(msg)
        if str(out) == msg:
            return out
    except Exception:
        pass
    for cls in type(e).__mro__:
        if cls.__module__ == "builtins":
            return cls(msg)
    return ValueError(msg)


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
