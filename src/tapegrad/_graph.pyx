# Replay of a traced graph (graph/ir.py): a flat array of steps run in one C loop.
#
# Each step names what it does (a primitive, a variable read/assignment, a host call),
# which slots hold its inputs, which slot takes its output and which slots die after
# it (liveness from graph/passes.py's buffer plan: a dead value's buffer goes back to
# the allocator at once, and a variable whose last read value died is updated in
# place instead of copied-on-write).  Primitives run through `_core.apply`, the very
# dispatch eager uses, so a replay computes bit-identical results; what the replay
# skips is everything above it: the public wrappers' argument normalisation, Python
# frames per op, and (with no tape active) all recording.

cimport cython
cimport numpy as cnp
from cpython.object cimport PyObject
from libc.math cimport copysign
from cpython.ref cimport Py_INCREF
from cpython.tuple cimport PyTuple_New, PyTuple_SET_ITEM

from tapegrad cimport _kernels
from tapegrad._core cimport BaseVariable, Primitive, Tensor, _new_tensor, apply

from tapegrad._core import _active_tapes, _get_tracer

import numpy as np

from tapegrad.graph.ir import Ref
from tapegrad.graph.ir import map_refs as _map_refs

cnp.import_array()

cdef extern from "Python.h":
    Py_ssize_t Py_REFCNT(object o)

cdef object ndarray = np.ndarray

cdef enum:
    S_PRIM = 0
    S_READ = 1
    S_ASSIGN = 2
    S_ASSIGN_ADD = 3
    S_ASSIGN_SUB = 4
    S_HOST = 5
    S_RANDOM = 6
    S_COMPLEX = 7    # a primitive whose arguments nest graph values inside lists


cdef class Step:
    cdef int kind
    cdef Primitive prim
    cdef tuple slots          # per argument: slot index, or -1 for a literal
    cdef tuple literals       # per argument: the literal (None where a slot is used)
    cdef dict params
    cdef int out              # output slot, or -1
    cdef tuple outs           # host calls: output slots
    cdef tuple free           # slots to release after this step
    cdef object variable
    cdef object extra         # host call: (fn, template); random: seed; complex: template
    cdef int reuse            # slot of a dead value whose buffer takes the output, or -1
    cdef object ufunc         # the forward (a NumPy ufunc) of a step with reuse >= 0


cdef class Plan:
    """A compiled graph: ``run(flat_inputs)`` returns the flat list of output values."""

    cdef list steps
    cdef int n_slots
    cdef tuple input_slots
    cdef tuple const_slots
    cdef tuple const_values
    cdef tuple out_slots      # per flat output: slot, or -1 for a literal
    cdef tuple out_literals
    cdef object slot_of       # value id -> slot (for the tests and the debugger)
    cdef tuple guard          # per positional argument: (kind, expected), see set_guard
    cdef bint single          # the function returns exactly one graph value
    cdef object pack          # flat outputs -> the function's return structure
    cdef readonly long long reused   # steps that computed into a dead buffer (tests)

    def __init__(self, graph, free_after, reuse=None):
        cdef Step st
        cdef dict slot_of = {}
        for vid in graph.values:
            slot_of[vid] = len(slot_of)
        self.slot_of = slot_of
        self.n_slots = len(slot_of)
        self.input_slots = tuple(slot_of[v] for v in graph.inputs)
        self.const_slots = tuple(slot_of[v] for v in graph.constants)
        self.const_values = tuple(graph.constants[v] for v in graph.constants)
        self.steps = []
        kinds = {"read_variable": S_READ, "assign": S_ASSIGN, "assign_add": S_ASSIGN_ADD,
                 "assign_sub": S_ASSIGN_SUB, "host_call": S_HOST}
        for i, node in enumerate(graph.nodes):
            st = Step()
            st.kind = kinds.get(node.op, S_PRIM)
            st.prim = node.prim
            st.params = node.params if node.params else None
            st.variable = node.variable
            st.out = slot_of[node.outputs[0]] if len(node.outputs) == 1 and \
                st.kind != S_HOST else -1
            st.outs = tuple(slot_of[o] for o in node.outputs)
            st.free = tuple(slot_of[v] for v in free_after.get(i, ()))
            st.reuse = -1
            if reuse and i in reuse:
                st.reuse = slot_of[reuse[i]]
                st.ufunc = node.prim.cpu
            if st.kind == S_HOST:
                st.extra = (node.params["fn"], node.args[0])
                st.literals = (slot_of,)
                st.params = None
            else:
                slots, lits, nested = [], [], False
                for a in node.args:
                    if type(a) is Ref:
                        slots.append(slot_of[a.id])
                        lits.append(None)
                    else:
                        if type(a) in (list, tuple) and _has_ref(a):
                            nested = True
                        slots.append(-1)
                        lits.append(a)
                st.slots = tuple(slots)
                st.literals = tuple(lits)
                if st.kind == S_PRIM and nested:
                    st.kind = S_COMPLEX
                    st.extra = (node.args, slot_of)
                elif st.kind == S_PRIM and node.seed is not None:
                    st.kind = S_RANDOM
                    st.extra = node.seed[1]
            self.steps.append(st)
        outs, lits = [], []
        for leaf in graph.flat_outputs():
            if type(leaf) is Ref:
                outs.append(slot_of[leaf.id])
                lits.append(None)
            else:
                outs.append(-1)
                lits.append(leaf)
        self.out_slots = tuple(outs)
        self.out_literals = tuple(lits)

    @property
    def n_steps(self):
        return len(self.steps)

    def set_guard(self, guard, single, pack):
        """``guard``: per positional argument ``("T", shape, dtype)`` (a CPU tensor),
        ``("V", variable)``, ``("P", value)`` (a Python int/bool/str/None/float), as the
        call that traced this plan; ``pack`` rebuilds the return structure."""
        self.guard = tuple(guard)
        self.single = single
        self.pack = pack

    def try_run(self, tuple args):
        """Run when ``args`` match the guard (the fast path of a traced call), else
        return the ``MISS`` marker and let the caller take the general path."""
        cdef Py_ssize_t i, n = len(args)
        cdef tuple g
        cdef object a, kind, exp
        cdef list inputs
        if self.guard is None or n != len(self.guard):
            return MISS
        if _get_tracer() is not None or _active_tapes():
            return MISS        # inlined into a trace / recorded by a tape: general path
        inputs = []
        for i in range(n):
            a = args[i]
            g = <tuple>self.guard[i]
            kind = g[0]
            if kind == "T":
                if type(a) is not Tensor or type((<Tensor>a)._data) is not ndarray:
                    return MISS
                if (<Tensor>a)._data.dtype is not g[2] or (<Tensor>a)._data.shape != g[1]:
                    return MISS
                inputs.append(a)
            elif kind == "V":
                if a is not g[1]:
                    return MISS
            else:
                exp = g[1]
                if type(a) is not type(exp) or not _same_value(a, exp):
                    return MISS
        out = self.run(inputs)
        if self.single:
            return out[0]
        return self.pack(out)

    @cython.boundscheck(False)
    @cython.wraparound(False)
    def run(self, list flat_inputs):
        cdef list slots = [None] * self.n_slots
        cdef Py_ssize_t i, j, n
        cdef Step st
        cdef tuple args
        cdef object a, out
        cdef int s
        for i in range(len(self.input_slots)):
            slots[<int>self.input_slots[i]] = flat_inputs[i]
        for i in range(len(self.const_slots)):
            slots[<int>self.const_slots[i]] = self.const_values[i]
        for st in self.steps:
            if st.reuse >= 0:
                out = _into_dead(st, slots)
                if out is None:
                    out = apply(st.prim, (slots[<int>st.slots[0]],), None)
                else:
                    self.reused += 1
                slots[st.out] = out
            elif st.kind == S_PRIM or st.kind == S_RANDOM:
                n = len(st.slots)
                args = PyTuple_New(n)
                for j in range(n):
                    s = <int>st.slots[j]
                    a = slots[s] if s >= 0 else st.literals[j]
                    Py_INCREF(a)
                    PyTuple_SET_ITEM(args, j, a)
                if st.kind == S_RANDOM:
                    out = apply(st.prim, args, _fresh_key(st.params, st.extra))
                else:
                    out = apply(st.prim, args, st.params)
                slots[st.out] = out
            elif st.kind == S_READ:
                slots[st.out] = (<BaseVariable>st.variable).read()
            elif st.kind == S_ASSIGN or st.kind == S_ASSIGN_ADD or st.kind == S_ASSIGN_SUB:
                s = <int>st.slots[0]
                a = slots[s] if s >= 0 else st.literals[0]
                if st.kind == S_ASSIGN:
                    st.variable.assign(a, False)
                elif st.kind == S_ASSIGN_ADD:
                    st.variable.assign_add(a, False)
                else:
                    st.variable.assign_sub(a, False)
            elif st.kind == S_HOST:
                _host(st, slots)
            else:
                args = _map_refs(st.extra[0], lambda r, _s=slots, _m=st.extra[1]: _s[_m[r.id]])
                slots[st.out] = apply(st.prim, args, st.params)
            # drop this step's locals too: a buffer is reusable only while the slots
            # hold the sole references (see _into_dead)
            out = None
            a = None
            args = None
            for j in range(len(st.free)):
                slots[<int>st.free[j]] = None
        n = len(self.out_slots)
        result = [None] * n
        for i in range(n):
            s = <int>self.out_slots[i]
            result[i] = slots[s] if s >= 0 else self.out_literals[i]
        return result


class _Miss:
    def __repr__(self):
        return "MISS"


MISS = _Miss()


cdef bint _same_value(object a, object b):
    # Python arguments are part of the signature; floats also by sign (0.0 vs -0.0)
    if type(a) is float:
        return a == b and copysign(1.0, a) == copysign(1.0, b)
    return a == b


cdef object _into_dead(Step st, list slots):
    """Run a unary ufunc step into the buffer of its donor (a dead value) when nothing
    but the plan holds that buffer; None (nothing changed) otherwise."""
    cdef int d = st.reuse
    cdef object t = slots[d]
    cdef object x = slots[<int>st.slots[0]]
    cdef object data, xa
    cdef cnp.ndarray arr
    cdef Py_ssize_t expect
    if type(t) is not Tensor or type(x) is not Tensor:
        return None
    data = (<Tensor>t)._data
    if type(data) is not ndarray:
        return None
    # the donor Tensor is held by its slot and `t` (and `x` when computing in place);
    # its array by the Tensor and `data`: any other holder (a host call that kept it, a
    # view, a tape record) makes the counts differ and the buffer is left alone
    expect = 3 if x is t else 2
    if Py_REFCNT(t) != expect or Py_REFCNT(data) != 2:
        return None
    arr = <cnp.ndarray>data
    if cnp.PyArray_BASE(arr) != NULL or not cnp.PyArray_CHKFLAGS(arr, cnp.NPY_ARRAY_OWNDATA) \
            or not cnp.PyArray_IS_C_CONTIGUOUS(arr):
        return None
    xa = (<Tensor>x)._data
    # eager gives a result laid out like its input (NumPy's K order): only a C-ordered
    # input has a C-ordered result, so only then is the donor's layout the same
    if type(xa) is not ndarray or not cnp.PyArray_IS_C_CONTIGUOUS(<cnp.ndarray>xa):
        return None
    slots[d] = None
    t = None
    cnp.PyArray_ENABLEFLAGS(arr, cnp.NPY_ARRAY_WRITEABLE)
    try:
        # a large one on the thread pool, as eager dispatch runs it (the same bits)
        if _kernels.ufunc_map(st.ufunc, (xa,), arr) is None:
            st.ufunc(xa, out=arr)
    finally:
        cnp.PyArray_CLEARFLAGS(arr, cnp.NPY_ARRAY_WRITEABLE)
    return _new_tensor(arr)


cdef bint _has_ref(object x):
    for a in x:
        if type(a) is Ref:
            return True
        if type(a) in (list, tuple) and _has_ref(a):
            return True
    return False


cdef dict _fresh_key(dict params, object seed):
    # eager draws a new key for every random op call; so does every replay
    from tapegrad.ops import random as _random

    cdef dict p = dict(params)
    p["key"] = _random._key(seed)
    return p


cdef _host(Step st, list slots):
    fn, tmpl = st.extra
    args, kwargs = _resolve(tmpl, slots, st)
    result = fn(*args, **kwargs)
    if st.outs:
        from tapegrad.autodiff import nest

        flat = [t for t in nest.flatten(result) if isinstance(t, Tensor)]
        for j in range(len(st.outs)):
            slots[<int>st.outs[j]] = flat[j]


cdef object _resolve(object x, list slots, Step st):
    if type(x) is Ref:
        return slots[_slot_for(st, x.id)]
    if isinstance(x, dict):
        return {k: _resolve(v, slots, st) for k, v in x.items()}
    if type(x) in (list, tuple):
        return type(x)(_resolve(a, slots, st) for a in x)
    return x


cdef int _slot_for(Step st, object vid):
    return <int>st.literals[0][vid]

