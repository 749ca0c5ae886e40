"""``tg.function``: trace a Python function once per signature, replay the graph after.

A call's *signature* is its tensors' shapes, dtypes and devices, its variables'
identities and the values of its other Python arguments.  The first call with a new
signature runs the function eagerly under a :class:`~tapegrad.graph.trace.Tracer`
(so its results are exactly eager's), optimizes the recorded graph
(:mod:`tapegrad.graph.passes`) and compiles it to a replay plan
(``tapegrad._graph.Plan``); later calls with that signature only run the plan.

Semantics, as in TensorFlow's ``tf.function``: Python side effects (``print``,
appending to a list) happen while tracing only; ``tg.print`` and variable assignments
happen on every call; variables are captured by reference.  A tape active around a
replayed call records it as one op whose VJP is a traced backward function
(:mod:`tapegrad.graph.calls`), with gradients of any order bit-identical to the eager
program's; calls that cannot be one op (effects, custom gradients, several tensor
outputs) have every op of their replay recorded instead.
"""

import functools
import inspect
import logging
import sys
import threading
import weakref

import numpy as np

from tapegrad import _core, _graph
from tapegrad.autodiff import nest
from tapegrad.graph import calls as _calls
from tapegrad.graph import passes as _passes
from tapegrad.graph.ir import Graph, Ref
from tapegrad.graph.trace import Tracer

__all__ = ["function", "Function", "ConcreteFunction", "TensorSpec"]

logger = logging.getLogger("tapegrad")

RETRACE_WARNING_LIMIT = 5

# One trace at a time in the process: the core has one tracer slot (recording only the
# tracing thread's ops), so a second thread that needs a trace waits for the first.
_TRACE_LOCK = threading.RLock()


def _spec_shape(shape):
    """A TensorSpec shape -> a tuple of non-negative ints and Nones.

    ``int(d)`` would truncate 2.5 to 2 and keep -5, a spec no tensor can match.
    """
    if hasattr(shape, "as_list") and getattr(shape, "rank", 0) is None:
        return None
    if isinstance(shape, (int, np.integer)) and not isinstance(shape, bool):
        shape = (shape,)
    try:
        dims = list(shape)
    except TypeError:
        raise TypeError("TensorSpec: shape must be a list/tuple of ints or None, got %r"
                        % (shape,)) from None
    out = []
    for d in dims:
        d = getattr(d, "value", d)          # a Dimension
        if d is None:
            out.append(None)
            continue
        if isinstance(d, (bool, np.bool_)) or not isinstance(d, (int, np.integer)):
            raise TypeError("TensorSpec: shape entries must be ints or None, got %r"
                            % (shape,))
        if d < 0:
            raise ValueError("TensorSpec: shape entries must be >= 0 or None, got %r"
                             % (shape,))
        out.append(int(d))
    return tuple(out)


class TensorSpec:
    """Shape (``None`` for any size) and dtype an ``input_signature`` entry accepts."""

    def __init__(self, shape=None, dtype=np.float32, name=None):
        self.shape = None if shape is None else _spec_shape(shape)
        try:
            self.dtype = np.dtype(dtype)
        except TypeError:
            raise TypeError("TensorSpec: %r is not a dtype" % (dtype,)) from None
        self.name = name

    def is_compatible_with(self, t):
        if np.dtype(t.dtype) != self.dtype:
            return False
        if self.shape is None:
            return True
        shape = tuple(t.shape)
        return len(shape) == len(self.shape) and all(
            s is None or s == d for s, d in zip(self.shape, shape))

    def __repr__(self):
        return "TensorSpec(shape=%s, dtype=%s)" % (self.shape, self.dtype.name)


def _training_context():
    """The ``training`` flag an enclosing ``Layer.__call__`` passes down to nested layers
    (a Python value the trace bakes in, so part of the signature); None outside."""
    base = sys.modules.get("tapegrad.layers.base")
    return None if base is None else getattr(base._call_context, "training", None)


def _specs(signature):
    if not isinstance(signature, (list, tuple)):
        raise TypeError("tg.function: input_signature must be a list of TensorSpec, got %r"
                        % (signature,))
    out = []
    for s in signature:
        if isinstance(s, TensorSpec):
            out.append(s)
        elif isinstance(s, (list, tuple)) and 1 <= len(s) <= 2:
            out.append(TensorSpec(*s))
        else:
            raise TypeError("tg.function: input_signature entries must be TensorSpec or "
                            "(shape, dtype) pairs, got %r" % (s,))
    return out


def _fresh(t):
    """A new Tensor over ``t``'s value, so every input position is its own graph value."""
    data = t._data
    if type(data) is np.ndarray:
        return _core.wrap(data.view())
    return _core._wrap_device(data)


class ConcreteFunction:
    """One traced signature: ``graph`` (optimized), ``raw_graph`` (as traced), replay."""

    def __init__(self, raw_graph, passes, keepalive):
        self.raw_graph = raw_graph
        self.graph = _passes.optimize(raw_graph, passes)
        reuse, free = _passes.plan_reuse(self.graph)
        self._plan = _graph.Plan(self.graph, free, reuse)
        self._grad_plan = None
        self._tape_graph = None
        self._call = False               # CallInfo (graph/calls.py), None, or not built
        self._keepalive = keepalive      # the non-tensor objects the signature named
        self.guarded = False
        self.created_variables = 0       # tg.Variable calls while tracing (see _trace)

    def set_guard(self, args):
        """Let the plan check a call's positional ``args`` itself (the fast path):
        possible when each is a CPU tensor, a variable or a plain Python scalar."""
        guard = []
        for a in args:
            if type(a) is _core.Tensor and type(a._data) is np.ndarray:
                guard.append(("T", a._data.shape, a._data.dtype))
            elif isinstance(a, _core.BaseVariable):
                guard.append(("V", a))
            elif a is None or type(a) in (int, float, bool, str):
                guard.append(("P", a))
            else:
                self.guarded = False
                return False
        outs = self.graph.outputs
        single = isinstance(outs, Ref)
        self._plan.set_guard(guard, single,
                             functools.partial(nest.pack_sequence_as, outs))
        self.guarded = True
        return True

    def _graph_for_tapes(self):
        # what a tape around the call differentiates: the raw graph less dead code
        if self._tape_graph is None:
            self._tape_graph = _passes.optimize(self.raw_graph, _passes.GRADIENT_SAFE_PASSES)
        return self._tape_graph

    def _plan_for_tapes(self):
        if self._grad_plan is None:
            g = self._graph_for_tapes()
            self._grad_plan = _graph.Plan(g, _passes.plan_buffers(g))
        return self._grad_plan

    def _call_info(self):
        if self._call is False:
            self._call = _calls.CallInfo.build(self, self._graph_for_tapes())
        return self._call

    def run(self, flat_tensors, python_call=None):
        if _core._active_tapes():
            if self.graph.python_gradients and python_call is not None:
                # custom gradients are Python closures over the call's own tensors: under
                # an outer tape the function runs eagerly so they exist (and record)
                return python_call()
            # one recorded op with a traced backward (graph/calls.py) where it applies
            out = _calls.record_call(self, flat_tensors)
            if out is not _calls.NOT_RECORDED:
                return out
            plan = self._plan_for_tapes()
        else:
            plan = self._plan
        out = plan.run(flat_tensors)
        return nest.pack_sequence_as(self.graph.outputs, out)

    def __call__(self, *args, **kwargs):
        flat = [x for x in nest.flatten((list(args), kwargs))
                if isinstance(x, (_core.Tensor, np.ndarray))]
        flat = [x if isinstance(x, _core.Tensor) else _core.convert(x, None, "function")
                for x in flat]
        if len(flat) != len(self.graph.inputs):
            raise TypeError("ConcreteFunction %s: expected %d tensor arguments, got %d"
                            % (self.graph.name, len(self.graph.inputs), len(flat)))
        for t, vid in zip(flat, self.graph.inputs):
            v = self.graph.values[vid]
            if tuple(t.shape) != v.shape or np.dtype(t.dtype) != v.dtype:
                raise TypeError("ConcreteFunction %s: argument %s %s does not match the "
                                "traced %s" % (self.graph.name, tuple(t.shape), t.dtype,
                                               v.type_str()))
        return self.run(flat)


class _Sig:
    """Builds the cache key of a call and collects its tensors, in one walk."""

    __slots__ = ("tensors", "keep")

    def __init__(self):
        self.tensors = []
        self.keep = []

    def key(self, x):
        t = type(x)
        if t is _core.Tensor:
            self.tensors.append(x)
            return ("T", x._data.shape, x._data.dtype.str, _core._device_of(x))
        if t is float:
            return ("f", repr(x))
        if t is int or t is bool or t is str or x is None:
            return (t, x)
        if isinstance(x, _core.BaseVariable):
            self.keep.append(x)
            return ("V", x._unique_id)
        if isinstance(x, np.ndarray):
            tt = _core.convert(x, None, "function")
            self.tensors.append(tt)
            return ("T", tt._data.shape, tt._data.dtype.str, None)
        if t is list or t is tuple:
            return (t,) + tuple(self.key(a) for a in x)
        if t is dict:
            return (dict,) + tuple((k, self.key(x[k])) for k in sorted(x))
        if isinstance(x, _core.Tensor):
            self.tensors.append(x)
            return ("T", x._data.shape, x._data.dtype.str, _core._device_of(x))
        if isinstance(x, (np.generic, float, int)):
            return (type(x), repr(x))
        # any other object (a layer, a model, an optimizer) by identity
        self.keep.append(x)
        return ("O", id(x))


def _swap_tensors(x, tracer, linked):
    """``x`` with each tensor replaced by a fresh input tensor bound in ``tracer``;
    ``linked`` collects (argument, fresh tensor) pairs."""
    if isinstance(x, _core.Tensor) or (isinstance(x, np.ndarray)):
        if not isinstance(x, _core.Tensor):
            x = _core.convert(x, None, "function")
        t = _fresh(x)
        tracer.bind_input(t)
        linked.append((x, t))
        return t
    if type(x) in (list, tuple):
        return type(x)(_swap_tensors(a, tracer, linked) for a in x)
    if type(x) is dict:
        # in the key order _Sig walks, so inputs line up with the flat tensors
        return {k: _swap_tensors(x[k], tracer, linked) for k in sorted(x)}
    return x


def _link_to_tapes(linked):
    """The tracing call runs on fresh tensors (each argument position its own graph
    value): a tape recording an argument records its fresh tensor as an identity of it,
    so the tracing call's result is differentiable like a replay's.  True when a tape
    records one (see ``Function._trace_locked``)."""
    tapes = _core._active_tapes()
    if not tapes:
        return False
    identity = _core.registry()["identity"]
    tracked = False
    for x, t in linked:
        if x.dtype.kind in "fc":
            _core._record_external(identity, (x,), t, None)
            if not tracked:
                tracked = any(not c.paused and x._id in c.producers for c in tapes)
    return tracked


class Function:
    """A Python function traced into graphs, one per call signature (``tg.function``)."""

    def __init__(self, fn, input_signature=None, reduce_retracing=False, passes=None,
                 name=None):
        if not callable(fn):
            raise TypeError("tg.function: expected a callable, got %r" % (fn,))
        self._fn = fn
        self._name = name or getattr(fn, "__name__", "function")
        self.input_signature = None if input_signature is None else _specs(input_signature)
        self.reduce_retracing = bool(reduce_retracing)
        if passes is not None and (isinstance(passes, str) or not hasattr(passes, "__iter__")):
            raise TypeError("tg.function: passes must be a list of graph pass names, got %r"
                            % (passes,))
        self.passes = tuple(_passes.DEFAULT_PASSES if passes is None else passes)
        for p in self.passes:
            if p not in _passes.PASSES:
                raise ValueError("tg.function: unknown graph pass %r (known: %s)"
                                 % (p, ", ".join(sorted(_passes.PASSES))))
        self._cache = {}
        self._fast = None         # the plan of the last signature, guarded (see _graph.pyx)
        self._keys = []
        self._warned = False
        # reduce_retracing: the shape-free forms of the traced signatures, and the new
        # shapes seen once (run eagerly; traced if they come back)
        self._relaxed = set()
        self._seen_once = set()
        self.eager_call_count = 0
        try:
            self._param_names = list(inspect.signature(fn).parameters)
        except (TypeError, ValueError):
            self._param_names = []
        functools.update_wrapper(self, fn)

    @property
    def python_function(self):
        return self._fn

    @property
    def tracing_count(self):
        """How many signatures have been traced."""
        return len(self._keys)

    def __get__(self, instance, owner):
        # a method: one Function per instance, so the instance is part of the closure
        if instance is None:
            return self
        cache = instance.__dict__.setdefault("_tg_functions", {})
        bound = cache.get(id(self))
        if bound is None:
            bound = Function(self._fn.__get__(instance, owner), self.input_signature,
                             self.reduce_retracing, self.passes, self._name)
            cache[id(self)] = bound
        return bound

    def _check_signature(self, args):
        spec = self.input_signature
        if len(args) != len(spec):
            raise TypeError("%s: input_signature has %d entries but the call passes %d "
                            "arguments" % (self._name, len(spec), len(args)))
        for i, (a, s) in enumerate(zip(args, spec)):
            if not isinstance(a, (_core.Tensor, np.ndarray, _core.BaseVariable)):
                a = _core.convert(a, s.dtype, self._name)
            if not s.is_compatible_with(a):
                raise TypeError("%s: argument %d (%s %s) does not match input_signature %r"
                                % (self._name, i, tuple(a.shape), np.dtype(a.dtype).name, s))

    def _signature(self, args, kwargs):
        sig = _Sig()
        key = tuple(sig.key(a) for a in args)
        if kwargs:
            key = key + tuple((k, sig.key(kwargs[k])) for k in sorted(kwargs))
        training = _training_context()
        if training is not None:
            key = key + (("<layer training context>", sig.key(training)),)
        return key, sig

    def __call__(self, *args, **kwargs):
        fast = self._fast
        if fast is not None and not kwargs and _training_context() is None:
            out = fast.try_run(args)
            if out is not _graph.MISS:
                return out
        if _core._get_tracer() is not None:
            # called while an enclosing function traces: inline into that graph
            return self._fn(*args, **kwargs)
        if self.input_signature is not None:
            self._check_signature(args)
        key, sig = self._signature(args, kwargs)
        cf = self._cache.get(key)
        if cf is not None and not cf.created_variables:
            if cf.guarded and not kwargs and _training_context() is None:
                self._fast = cf._plan
            return cf.run(sig.tensors, functools.partial(self._fn, *args, **kwargs))
        if cf is None and self.reduce_retracing and self._run_eagerly(key):
            self.eager_call_count += 1
            return self._fn(*args, **kwargs)
        return self._trace(key, sig, args, kwargs)

    def _run_eagerly(self, key):
        # TF's reduce_retracing traces one shape-generic graph; graphs here have
        # concrete shapes (a traced constant such as a mean's 1/n may depend on them),
        # so the same promise is kept another way: a new shape of an already-traced
        # signature runs eagerly -- the same kernels in the same order, so the same
        # bits -- and is traced only when it comes back.  A stream of ever-new shapes
        # (variable-length batches) then never traces; shapes that recur get graphs.
        relaxed = _relax(key)
        if relaxed not in self._relaxed or key in self._seen_once:
            return False
        if len(self._seen_once) >= _SEEN_ONCE_LIMIT:
            self._seen_once.clear()
        self._seen_once.add(key)
        return True

    def _trace(self, key, sig, args, kwargs):
        with _TRACE_LOCK:
            cf = self._cache.get(key)
            if cf is not None and cf.created_variables:
                # The first trace created variables (a layer's weights, say).  Eager
                # creates them on the first call only if the function is written that
                # way; trace once more, as TensorFlow does, and refuse a function that
                # creates variables on every call (a replay would silently reuse them).
                return self._trace_locked(key, sig, args, kwargs, verify=True)
            if cf is not None:      # another thread traced this signature meanwhile
                return cf.run(sig.tensors, functools.partial(self._fn, *args, **kwargs))
            return self._trace_locked(key, sig, args, kwargs)

    def _trace_locked(self, key, sig, args, kwargs, verify=False, result_used=True):
        graph = Graph(self._name)
        tracer = Tracer(graph)
        linked = []
        args2 = tuple(_swap_tensors(a, tracer, linked) for a in args)
        kwargs2 = {k: _swap_tensors(kwargs[k], tracer, linked) for k in sorted(kwargs)}
        linked_on_tape = _link_to_tapes(linked)
        prev = _core._set_tracer(tracer)
        try:
            result = self._fn(*args2, **kwargs2)
            graph.outputs = tracer.output(result)
        finally:
            _core._set_tracer(prev)
        if verify and tracer.created_variables:
            raise ValueError(
                "tg.function %s creates variables on every call (%d on this one); a graph "
                "replay would keep reusing the first call's.  Create them once, outside the "
                "function or on its first call only (as layers and optimizers do)."
                % (self._name, tracer.created_variables))
        cf = ConcreteFunction(graph, self.passes, sig.keep)
        cf.created_variables = tracer.created_variables
        self._cache[key] = cf
        if not cf.created_variables and not kwargs and _training_context() is None and \
                cf.set_guard(args):
            self._fast = cf._plan
        if linked_on_tape and result_used and not cf.created_variables and \
                not any(n.stateful and n.op != "read_variable" for n in graph.nodes):
            # A tape saw the tracing call through identity links: each one sums its
            # argument's uses into one gradient before passing it on, where eager adds
            # each use's to the argument's other contributions one by one (another sum,
            # in the last bits, once there are three).  A graph without effects can run
            # again, as the replay a tape records eagerly's way, and the tracing call's
            # records (reachable from nothing returned) are never walked.
            result = cf.run(list(sig.tensors), functools.partial(self._fn, *args, **kwargs))
        if verify:
            return result
        self._keys.append(key)
        self._relaxed.add(_relax(key))
        self._seen_once.discard(key)
        if len(self._keys) > RETRACE_WARNING_LIMIT and not self._warned:
            self._warned = True
            logger.warning(
                "tg.function %s has been traced %d times: %s.  Tracing is expensive; pass "
                "tensors rather than Python numbers for values that change, or give the "
                "function an input_signature.", self._name, len(self._keys),
                self._what_changed(self._keys[-2], key))
        return result

    def _what_changed(self, old, new):
        names = self._param_names
        for i in range(max(len(old), len(new))):
            a = old[i] if i < len(old) else None
            b = new[i] if i < len(new) else None
            if a != b:
                if b is not None and isinstance(b, tuple) and len(b) == 2 and \
                        isinstance(b[0], str) and b[0] not in ("T", "V", "O", "f"):
                    name = b[0]
                elif i < len(names):
                    name = names[i]
                else:
                    name = "#%d" % i
                return "argument %r changed from %s to %s" % (name, _fmt_key(a),
                                                              _fmt_key(b))
        return "the signature changed"

    def get_concrete_function(self, *args, **kwargs):
        """The :class:`ConcreteFunction` for these arguments (tracing them if needed)."""
        if self.input_signature is not None and not args and not kwargs:
            args = tuple(_core.wrap(np.zeros(tuple(1 if d is None else d for d in s.shape),
                                             s.dtype)) for s in self.input_signature)
        key, sig = self._signature(args, kwargs)
        if key not in self._cache:
            with _TRACE_LOCK:
                if key not in self._cache:
                    self._trace_locked(key, sig, args, kwargs, result_used=False)
        cf = self._cache[key]
        if cf.created_variables:
            # the graph after the variables exist (what later calls replay)
            with _TRACE_LOCK:
                self._trace_locked(key, sig, args, kwargs, verify=True, result_used=False)
            cf = self._cache[key]
        return cf

    def __repr__(self):
        return "<tg.function %s, %d traced signatures>" % (self._name, len(self._keys))


# how many once-seen shapes reduce_retracing remembers before it starts over
_SEEN_ONCE_LIMIT = 4096


def _relax(key):
    """A call's cache key with each tensor's shape reduced to its rank."""
    if type(key) is tuple:
        if len(key) == 4 and key[0] == "T" and type(key[1]) is tuple:
            return ("T", len(key[1]), key[2], key[3])
        return tuple(_relax(k) for k in key)
    return key


def _fmt_key(k):
    if isinstance(k, tuple) and k and k[0] == "T":
        return "a tensor %s %s%s" % (k[1], np.dtype(k[2]).name, "" if k[3] is None
                                      else " on " + k[3])
    if isinstance(k, tuple) and k and k[0] == "f":
        return k[1]
    if isinstance(k, tuple) and len(k) == 2 and isinstance(k[0], type):
        return repr(k[1])
    if isinstance(k, tuple) and k and k[0] in ("V", "O"):
        return "another object"
    return repr(k)


def function(fn=None, input_signature=None, reduce_retracing=False, passes=None,
             experimental_relax_shapes=None):
    """Trace ``fn`` into graphs and replay them (``@tg.function`` or ``tg.function(f)``).

    ``input_signature``: a list of :class:`TensorSpec`; calls must match it.
    ``reduce_retracing``: fewer traces when shapes vary.  Graphs have concrete shapes,
    so rather than one shape-generic graph (TensorFlow's way) a call whose tensors have
    new shapes, where the function already has a graph for those ranks and dtypes,
    runs eagerly (bit-identical to a replay) and is traced only if those shapes come
    again; ``eager_call_count`` counts such calls.  Python side effects then happen on
    those eager calls too, as on a trace.  ``experimental_relax_shapes`` (TF 2.0-2.8's
    name) is the same switch.
    ``passes``: the graph passes to run, in order (default
    ``("simplify", "constant_folding", "cse", "dce")``; ``()`` for none).
    """
    if experimental_relax_shapes is not None:      # TF 2.0-2.8's name for it
        reduce_retracing = reduce_retracing or bool(experimental_relax_shapes)
    if fn is None:
        return functools.partial(function, input_signature=input_signature,
                                 reduce_retracing=reduce_retracing, passes=passes)
    return Function(fn, input_signature=input_signature, reduce_retracing=reduce_retracing,
                    passes=passes)


# Transforms that interpret a traced graph (tg.jet, tg.vmap): one Function per Python
# function, so each signature is traced once and reused.  Weak keys where the function
# allows them; a small strong cache for the rest (primitives, builtins).
_TRANSFORM_FUNCTIONS = weakref.WeakKeyDictionary()
_TRANSFORM_STRONG = {}


class _WeakCall:
    """Calls ``fn`` through a weak reference: the transform cache's Function is the
    value of a weak-keyed entry for ``fn``, and a strong reference from the value would
    keep the key, and every graph traced for it, alive for good."""

    __slots__ = ("_ref", "__name__", "__weakref__")

    def __init__(self, fn):
        self._ref = weakref.ref(fn)
        self.__name__ = getattr(fn, "__name__", "function")

    def __call__(self, *args, **kwargs):
        fn = self._ref()
        if fn is None:      # (its cache entry goes with it, so this is not reached)
            raise ReferenceError("tg.function: the traced function no longer exists")
        return fn(*args, **kwargs)


def traced_graph(fn, args, what):
    """The optimized graph of ``fn`` at ``args`` (traced on first use, then cached)."""
    try:
        f = _TRANSFORM_FUNCTIONS.get(fn)
        weak = True
    except TypeError:
        entry = _TRANSFORM_STRONG.get(id(fn))
        f = entry[1] if entry is not None and entry[0] is fn else None
        weak = False
    if f is None:
        f = Function(_WeakCall(fn) if weak else fn, name=getattr(fn, "__name__", what))
        if weak:
            _TRANSFORM_FUNCTIONS[fn] = f
        else:
            if len(_TRANSFORM_STRONG) >= 64:
                _TRANSFORM_STRONG.pop(next(iter(_TRANSFORM_STRONG)))
            _TRANSFORM_STRONG[id(fn)] = (fn, f)
    return f.get_concrete_function(*args).graph
