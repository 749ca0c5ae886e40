# The backward pass: TensorFlow's imperative_grad, iteratively.
#
# 1. From the targets, walk the recorded producers and count how many recorded ops
#    consume each tensor (usage counts).
# 2. Seed the targets' gradients, put ops whose output is fully used on a ready stack.
# 3. Pop an op, sum its output's incoming gradients with one add_n, call its VJP,
#    reduce each input gradient to the input's shape (the one unbroadcast), and push
#    producers whose usage count reaches zero.
# No recursion anywhere, so chains of any length work.  VJPs run through ordinary op
# dispatch, so any other active tape records them: that is how higher order works.

cimport numpy as cnp
from cpython.dict cimport PyDict_GetItem
from cpython.object cimport PyObject
from cpython.ref cimport Py_INCREF
from cpython.tuple cimport PyTuple_New, PyTuple_SET_ITEM

import numpy as np

from tapegrad._core cimport (BaseVariable, OpRecord, Primitive, RecState, TapeCore, Tensor,
                            _dtype_of, _shape_of, apply, current_state, ones_like_fast,
                            pop_tape, push_tape)

cnp.import_array()
cdef object ndarray = np.ndarray

cdef bint _track_vjp = False    # check_numerics is on: remember which VJP runs (per thread)
cdef object _debug_factory = None   # tapegrad.debugging's TapeDebug constructor
cdef bint _tracebacks = False       # tg.debugging.enable_tracebacks(): every new tape notes sites


def _set_track_vjp(bint on):
    global _track_vjp
    _track_vjp = on


def current_vjp():
    """(TapeCore, OpRecord) whose VJP this thread is running, or None (tracked only
    while check_numerics is on)."""
    cdef RecState st = current_state()
    return None if st.vjp_record is None else (st.vjp_tape, st.vjp_record)


def _set_debug(factory, bint tracebacks):
    global _debug_factory, _tracebacks
    _debug_factory = factory
    _tracebacks = tracebacks


def needs_input(int i):
    """Inside a VJP: whether input ``i`` of the op is on the tape (its gradient is used).

    Expensive VJPs (conv2d, matmul) skip the adjoints nobody asked for, like PyTorch's
    needs_input_grad.  Read it before running any op in the VJP.  The answer is this
    thread's (this context's): backward passes in other threads do not disturb it.
    """
    # outside the tape walk (a VJP called directly, forward mode's transpose trick)
    # every input counts as needed
    cdef tuple needs = current_state().needs
    return needs is None or (i < len(needs) and needs[i])


cdef object _sum_to = None
cdef object _add_n = None
cdef Primitive _add = None       # ops.elementwise.add (typed: the walk dispatches it)
# sparse gradients of row lookups (ops/indexed_slices.py): their type, sum and densify
cdef object _sparse_type = None
cdef object _sparse_aggregate = None
cdef object _densify = None


def _set_sparse_helpers(cls, aggregate, densify):
    global _sparse_type, _sparse_aggregate, _densify
    _sparse_type = cls
    _sparse_aggregate = aggregate
    _densify = densify


def _set_helpers(sum_to, add, add_n):
    """Installed by tapegrad.ops once the primitives they use are registered."""
    global _sum_to, _add, _add_n
    _sum_to = sum_to
    _add = add
    _add_n = add_n


cdef object _conj = None


def _set_conj(conj):
    """Installed by tapegrad.ops.complex: the differentiable complex conjugate."""
    global _conj
    _conj = conj


cdef list _conj_complex(list xs):
    # VJPs follow JAX's convention for complex values (g * f'(z) for holomorphic f); the
    # tape's users get PyTorch's/TF's (dL/dx + i dL/dy), its conjugate: complex seeds are
    # conjugated on the way in and complex gradients on the way out (ops/complex.py).
    cdef Py_ssize_t i
    cdef list out = xs
    for i in range(len(xs)):
        if type(xs[i]) is Tensor and (<cnp.dtype>(<Tensor>xs[i])._data.dtype).kind == b"c":
            if out is xs:
                out = list(xs)      # the caller's list stays as it was
            out[i] = _conj(xs[i])
    return out


cdef class Meta:
    """What a VJP sees of an input the tape did not save: its shape and dtype."""
    cdef readonly tuple shape
    cdef readonly object dtype

    def __cinit__(self, tuple shape, object dtype):
        self.shape = shape
        self.dtype = dtype

    @property
    def ndim(self):
        return len(self.shape)

    @property
    def size(self):
        n = 1
        for d in self.shape:
            n *= d
        return n

    def __repr__(self):
        return "Meta(shape=%s, dtype=%s)" % (self.shape, self.dtype)


cdef tuple _metas(OpRecord rec):
    return tuple([Meta(m[0], m[1]) for m in rec.input_meta])


cdef inline tuple _meta_of(OpRecord rec, Py_ssize_t i):
    cdef Tensor t
    if rec.inputs is not None:
        t = rec.inputs[i]
        return (_shape_of(t._data), _dtype_of(t._data))
    return rec.input_meta[i]


cdef object _aggregate(list gs):
    if len(gs) == 1:
        return gs[0]
    if _sparse_type is not None:
        for g in gs:
            if type(g) is _sparse_type:
                return _sparse_aggregate(gs)
    if len(gs) == 2:
        # two contributions (the common case): add has the same-shape fast path; straight
        # to dispatch, as the primitive's own call with two tensors would go
        return apply(_add, (gs[0], gs[1]), {})
    return _add_n(*gs)


cdef inline bint _fits(object g, OpRecord rec, Py_ssize_t i):
    # The common case, checked without building shape tuples: a CPU gradient whose
    # shape and dtype already match the saved CPU input.
    cdef Tensor t
    cdef cnp.ndarray a, b
    cdef int k
    if type(g) is not Tensor or rec.inputs is None:
        return False
    t = <Tensor>rec.inputs[i]
    if type((<Tensor>g)._data) is not ndarray or type(t._data) is not ndarray:
        return False
    a = <cnp.ndarray>(<Tensor>g)._data
    b = <cnp.ndarray>t._data
    if cnp.PyArray_TYPE(a) != cnp.PyArray_TYPE(b) or cnp.PyArray_NDIM(a) != cnp.PyArray_NDIM(b):
        return False
    for k in range(cnp.PyArray_NDIM(a)):
        if cnp.PyArray_DIMS(a)[k] != cnp.PyArray_DIMS(b)[k]:
            return False
    return True


cpdef tuple call_vjp(Primitive prim, object g, object ans, tuple inputs, dict params,
                     tuple needs):
    """``prim``'s VJP at one record: one gradient (or None) per input, checked.

    ``needs`` says which inputs need gradients (``needs_input`` inside the VJP); None
    means all.  The one place a VJP is called: the backward pass and forward mode's
    by-transposition rule (ops/_jvp.py) share it.
    """
    cdef object in_grads, outer, x
    cdef Py_ssize_t i, n = len(inputs)
    # (g, ans, *inputs) built once: Cython's star call concatenates two new tuples
    cdef tuple args = PyTuple_New(n + 2)
    Py_INCREF(g)
    PyTuple_SET_ITEM(args, 0, g)
    Py_INCREF(ans)
    PyTuple_SET_ITEM(args, 1, ans)
    for i in range(n):
        x = inputs[i]
        Py_INCREF(x)
        PyTuple_SET_ITEM(args, i + 2, x)
    # this thread's state; the caller's value comes back afterwards (a backward pass
    # nested in a VJP restores its caller's), looked up again in case the VJP switched
    # contexts
    cdef RecState st = current_state()
    outer = st.needs
    st.needs = needs
    try:
        if params:
            in_grads = prim.vjp(*args, **params)
        else:
            in_grads = prim.vjp(*args)
    finally:
        current_state().needs = outer
    if type(in_grads) is not tuple:
        in_grads = tuple(in_grads) if type(in_grads) is list else (in_grads,)
    if len(in_grads) != len(inputs):
        raise ValueError("gradient of %s returned %d values for %d inputs"
                         % (prim.name, len(in_grads), len(inputs)))
    return in_grads


def fit_grad(g, tuple meta, Primitive prim, int i):
    """Input ``i``'s gradient brought to ``meta`` = (shape, dtype): the one unbroadcast."""
    return _fit(g, meta, prim, i)


cdef object _fit(object g, tuple meta, Primitive prim, int i):
    # Bring an input gradient to the input's shape; broadcasting is undone here only.
    cdef tuple shape = meta[0]
    if _sparse_type is not None and type(g) is _sparse_type and g.dense_shape == shape:
        return g
    if not isinstance(g, Tensor):
        raise TypeError("gradient of %s returned %s for input %d; VJPs must return tensors "
                        "or None" % (prim.name, type(g).__name__, i))
    if _shape_of((<Tensor>g)._data) != shape:
        g = _sum_to(g, shape)
    if _dtype_of((<Tensor>g)._data) is not meta[1] and \
            _dtype_of((<Tensor>g)._data) != meta[1]:
        raise TypeError("gradient of %s for input %d has dtype %s, expected %s"
                        % (prim.name, i, (<Tensor>g)._data.dtype.name, meta[1].name))
    return g


cpdef list imperative_grad(TapeCore tape, list targets, list seeds, list sources,
                           object on_ready=None):
    """Gradients of sum(targets * seeds) for each source, complex ones in PyTorch's and
    TF's convention (see _conj_complex)."""
    return _conj_complex(_imperative_grad(tape, targets, _conj_complex(seeds), sources,
                                          on_ready))


cdef list _imperative_grad(TapeCore tape, list targets, list seeds, list sources,
                           object on_ready=None):
    """Gradients of sum(targets * seeds) for each source.

    ``sources`` is a list of lists of tensor ids (a variable read several times
    contributes every read); returns one Tensor or None per source.  ``on_ready(id, g)``,
    when given, is called as soon as the gradient of a watched source tensor is final,
    while the rest of the walk goes on: data-parallel training starts reducing those
    gradients then, overlapping communication with the backward pass.
    """
    cdef dict producers
    cdef dict usage = {}
    cdef dict grads = {}
    cdef set visited = set()
    cdef set keep = set()
    cdef list stack = []
    cdef list ready = []
    cdef list glist, result
    cdef OpRecord rec, prod
    cdef Tensor t
    # ids stay Python ints: they only ever serve as dict/set keys, and a C integer
    # would be boxed again on every lookup
    cdef object tid, iid, oid
    cdef Py_ssize_t i, n_in
    cdef object g, gi, in_grads, cnt
    cdef tuple inputs, needs
    cdef RecState st
    cdef PyObject* entry

    if tape is None or targets is None or seeds is None or sources is None:
        raise TypeError("imperative_grad: expected a TapeCore and three lists")
    if len(seeds) != len(targets):
        raise ValueError("imperative_grad: %d seeds for %d targets" % (len(seeds), len(targets)))
    producers = tape.producers
    for x in targets:
        if type(x) is not Tensor:
            raise TypeError("imperative_grad: targets must be tensors, got %s"
                            % type(x).__name__)
    for ids in sources:
        for sid in ids:
            keep.add(sid)
    for t in targets:
        stack.append(t._id)
    while stack:
        tid = stack.pop()
        if tid in visited:
            continue
        visited.add(tid)
        rec = producers.get(tid)
        if rec is None:
            continue
        for iid in rec.input_ids:
            entry = PyDict_GetItem(producers, iid)
            if entry != NULL:
                cnt = usage.get(iid)
                usage[iid] = 1 if cnt is None else cnt + 1
                if <object>entry is not None:
                    # (a watched source, None here, has nothing to walk: it stays off
                    # the stack)
                    stack.append(iid)

    for i in range(len(targets)):
        t = targets[i]
        glist = grads.get(t._id)
        if glist is None:
            grads[t._id] = [seeds[i]]
        else:
            glist.append(seeds[i])
    if len(targets) == 1:
        # (the usual single loss: no set of the targets seen)
        t = targets[0]
        rec = producers.get(t._id)
        if rec is not None and not usage.get(t._id):
            ready.append(rec)
    else:
        seen = set()
        for t in targets:
            if t._id in seen:
                continue
            seen.add(t._id)
            rec = producers.get(t._id)
            if rec is not None and not usage.get(t._id):
                ready.append(rec)

    while ready:
        rec = ready.pop()
        oid = rec.output_id
        if oid in keep:
            glist = grads.get(oid)
            if glist is not None and len(glist) > 1:
                grads[oid] = glist = [_aggregate(glist)]
        else:
            glist = grads.pop(oid, None)
        n_in = len(rec.input_ids)
        # which inputs are on the tape: the VJP's needs_input, and the inputs the loop
        # below passes gradients to (looked up once per record)
        needs = tuple([iid in producers for iid in rec.input_ids])
        in_grads = None
        if glist is not None and rec.prim.vjp is not None:
            g = _aggregate(glist)
            if _sparse_type is not None and type(g) is _sparse_type:
                g = _densify(g)     # VJPs take dense gradients
            inputs = rec.inputs if rec.inputs is not None else _metas(rec)
            if _track_vjp:
                # this thread's state: two slot writes, no threading.local lookup
                vst = current_state()
                prev_rec, prev_tape = vst.vjp_record, vst.vjp_tape
                vst.vjp_record, vst.vjp_tape = rec, tape
            try:
                in_grads = call_vjp(rec.prim, g, rec.output, inputs, rec.params, needs)
            finally:
                if _track_vjp:
                    vst.vjp_record, vst.vjp_tape = prev_rec, prev_tape
        elif glist is not None and rec.prim.vjp is None:
            raise LookupError("no gradient is defined for op %r" % rec.prim.name)
        for i in range(n_in):
            if not needs[i]:
                continue
            iid = rec.input_ids[i]
            if in_grads is not None:
                gi = in_grads[i]
                if gi is not None:
                    if not _fits(gi, rec, i):
                        gi = _fit(gi, _meta_of(rec, i), rec.prim, i)
                    glist = grads.get(iid)
                    if glist is None:
                        grads[iid] = [gi]
                    else:
                        glist.append(gi)
            cnt = usage[iid] - 1
            usage[iid] = cnt
            if cnt == 0:
                prod = producers.get(iid)
                if prod is not None:
                    ready.append(prod)
                elif on_ready is not None and iid in keep:
                    glist = grads.get(iid)
                    if glist:
                        if len(glist) > 1:
                            grads[iid] = glist = [_aggregate(glist)]
                        on_ready(iid, glist[0])

    result = []
    for ids in sources:
        parts = []
        for sid in ids:
            glist = grads.get(sid)
            if glist:
                parts.append(_aggregate(glist))
        if not parts:
            result.append(None)
        else:
            result.append(_aggregate(parts))
    return result


cdef class TapeBase:
    """The hot half of tg.GradientTape (autodiff/tape.py subclasses it): entering,
    exiting and the common gradient call (one tensor target, tensor/variable sources,
    no output_gradients) run in C; everything else falls back to the Python class."""

    cdef public TapeCore _core
    cdef public bint _persistent
    cdef public bint _recording
    cdef public bint _used
    cdef public int _calls          # gradient() calls on a persistent tape (leak warning)

    def __init__(self, persistent=False, watch_accessed_variables=True, debug=None,
                 max_bytes=None):
        self._core = TapeCore(bool(persistent), bool(watch_accessed_variables))
        self._persistent = bool(persistent)
        self._recording = False
        self._used = False
        self._calls = 0
        if debug or max_bytes is not None or (_tracebacks and debug is None):
            # call sites, cuts and escapes, byte accounting: tapegrad.debugging
            self._core.debug = _debug_factory(self, debug is not False, max_bytes)

    def __enter__(self):
        if self._recording:
            raise RuntimeError("GradientTape is already recording (tapes are not re-entrant)")
        if self._used and not self._persistent:
            raise RuntimeError("GradientTape: a non-persistent tape cannot be re-entered after "
                               "gradient() was called; create a new tape")
        push_tape(self._core)
        self._recording = True
        if self._core.debug is not None:
            self._core.debug.on_enter()
        return self

    def __exit__(self, *exc):
        if self._recording:
            pop_tape(self._core)
            self._recording = False
            if self._core.debug is not None:
                self._core.debug.on_exit()
        return False

    def _check_usable(self, str what):
        self._check(what)

    cdef int _check(self, str what) except -1:
        if self._used and not self._persistent:
            raise RuntimeError(
                "GradientTape.%s can only be called once on a non-persistent tape: its "
                "records were released after the first call. Use "
                "GradientTape(persistent=True) to compute several gradients." % what)

    def _run(self, list targets, list seeds, list source_ids, on_ready=None):
        return self._run_c(targets, seeds, source_ids, on_ready)

    cdef list _run_c(self, list targets, list seeds, list source_ids, object on_ready=None):
        """One backward pass; releases a non-persistent tape afterwards.

        A persistent tape still recording records its own backward pass, as TensorFlow
        does (so tape.gradient(tape.gradient(y, x), x) works inside the block); a
        one-shot tape is released right after, so recording onto it would be waste.
        """
        cdef bint pause = not self._persistent
        if pause:
            self._core.paused += 1
        else:
            self._calls += 1
            if self._calls in _LEAK_CHECKS:
                _leak_check(self)
        try:
            return imperative_grad(self._core, targets, seeds, source_ids, on_ready)
        finally:
            if pause:
                self._core.paused -= 1
                self._used = True
                self._core.release()
                if self._core.debug is not None:
                    self._core.debug.on_release()

    def gradient(self, target, sources, output_gradients=None, unconnected_gradients="none"):
        """d(sum of targets · output_gradients) / d(sources), in the sources' structure."""
        cdef list ids, grads
        if (output_gradients is None and type(target) is Tensor
                and unconnected_gradients == "none"):
            if type(sources) is Tensor:
                self._check("gradient")
                grads = self._run_c([target], [ones_like_fast(<Tensor>target)],
                                  [[(<Tensor>sources)._id]])
                return grads[0]
            if isinstance(sources, BaseVariable):
                self._check("gradient")
                ids = self._core.var_reads.get((<BaseVariable>sources)._uid, [])
                grads = self._run_c([target], [ones_like_fast(<Tensor>target)], [ids])
                return grads[0]
            if type(sources) is list or type(sources) is tuple:
                ids = flat_source_ids(self._core, sources)
                if ids is not None:
                    self._check("gradient")
                    grads = self._run_c([target], [ones_like_fast(<Tensor>target)], ids)
                    return grads if type(sources) is list else tuple(grads)
        return self._gradient_general(target, sources, output_gradients, unconnected_gradients)


# persistent-tape leak check: at these gradient() counts (cheap: a set lookup per call)
_LEAK_CHECKS = {100, 1000, 10000, 100000}
cdef object _leak_check_hook = None


def _set_leak_check(hook, counts):
    global _leak_check_hook, _LEAK_CHECKS
    _leak_check_hook = hook
    _LEAK_CHECKS = set(counts)


cdef _leak_check(TapeBase tape):
    if _leak_check_hook is not None:
        _leak_check_hook(tape)


cpdef list flat_source_ids(TapeCore core, object sources):
    """Tensor ids per source (a variable: every read of it on the tape) for a flat list of
    tensors/variables; None when an entry is anything else."""
    cdef list out = []
    if core is None:
        raise TypeError("flat_source_ids: expected a TapeCore, got None")
    for s in sources:
        if type(s) is Tensor:
            out.append([(<Tensor>s)._id])
        elif isinstance(s, BaseVariable):
            out.append(core.var_reads.get((<BaseVariable>s)._uid, []))
        else:
            return None
    return out
