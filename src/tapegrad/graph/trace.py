"""Tracing: run the Python function once, eagerly, and record every primitive it applies.

The trace is *concrete*: the function runs on the real arguments with the real kernels
(so the tracing call's results are the eager results), while ``_core.apply`` hands each
primitive application to the active :class:`Tracer` first.  A tensor the function
receives, computes or reads from a variable is *symbolic*: it becomes a graph value.
Any other tensor it touches (a closure constant, a tape's ones seed) is captured by
value.  Turning a symbolic tensor into a Python value (``bool(t)``, ``float(t)``,
``t.numpy()``) would bake this call's data into the graph, so it raises
:class:`TracingError` naming the user's line.
"""

import os

import numpy as np

from tapegrad import _core
from tapegrad.autodiff import nest
from tapegrad.graph.ir import Graph, Node, Ref

__all__ = ["Tracer", "TracingError", "tracing", "host_call"]

_PKG_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class TracingError(TypeError):
    """A traced function used a tensor's value in Python (control flow, ``.numpy()``)."""


def tracing():
    """True while a ``tg.function`` is tracing (on this thread's call)."""
    return _core._get_tracer() is not None


def _user_frame():
    """``file:line: source`` of the innermost stack frame outside tapegrad."""
    import traceback

    for fs in reversed(traceback.extract_stack()):
        if not os.path.abspath(fs.filename).startswith(_PKG_DIR):
            return "%s:%d: %s" % (fs.filename, fs.lineno, (fs.line or "").strip())
    return "<unknown>"


class _Suspended:
    """Run eager code (the op itself, a host call) with tracing switched off."""

    __slots__ = ("prev",)

    def __enter__(self):
        self.prev = _core._set_tracer(None)

    def __exit__(self, *exc):
        _core._set_tracer(self.prev)


class Tracer:
    """Records the primitives applied while it is installed (``_core._set_tracer``)."""

    def __init__(self, graph):
        self.graph = graph
        self.sym = {}          # Tensor._id -> value id
        self.by_data = {}      # id(Tensor._data) -> value id (tensors re-wrapping a value)
        self.keep = []         # every bound tensor stays alive, so ids above stay unique
        self._next = 0
        self._var_seen = set()
        self.created_variables = 0    # tg.Variable(...) calls while tracing
        from tapegrad.ops import random as _random

        self._random_counts = dict(_random._state["op_counts"])

    # ------------------------------------------------------------------ values

    def _bind(self, t, kind, producer=None):
        vid = self._next
        self._next += 1
        data = t._data
        self.graph.new_value(vid, data.shape, data.dtype, _core._device_of(t), kind, producer)
        self.sym[t._id] = vid
        self.by_data[id(data)] = vid
        self.keep.append(t)
        return vid

    def bind_input(self, t):
        vid = self._bind(t, "input")
        self.graph.inputs.append(vid)
        return vid

    def _lookup(self, t):
        vid = self.sym.get(t._id)
        if vid is None:
            vid = self.by_data.get(id(t._data))
            if vid is not None:
                self.sym[t._id] = vid
                self.keep.append(t)
        return vid

    def ref(self, t):
        """A graph reference for tensor ``t``; an unknown tensor is captured by value."""
        vid = self._lookup(t)
        if vid is None:
            vid = self._bind(t, "constant")
            self.graph.constants[vid] = t
        return Ref(vid)

    def read_var(self, v):
        t = v._peek()
        vid = self._lookup(t)
        if vid is not None and self.graph.values[vid].kind != "constant":
            return Ref(vid)
        vid = self._bind(t, "node")
        self.graph.nodes.append(Node("read_variable", None, (), {}, [vid], variable=v))
        self._note_var(v)
        return Ref(vid)

    def _note_var(self, v):
        if id(v) not in self._var_seen:
            self._var_seen.add(id(v))
            self.graph.variables.append(v)

    def template(self, x):
        """``x`` (an argument structure) with tensors and variables as graph refs."""
        if isinstance(x, _core.BaseVariable):
            return self.read_var(x)
        if isinstance(x, _core.Tensor):
            return self.ref(x)
        if type(x) in (list, tuple):
            return type(x)(self.template(a) for a in x)
        if isinstance(x, np.ndarray):
            return np.array(x, copy=True)
        return x

    # ------------------------------------------------------------------ hooks (_core)

    def op(self, prim, args, params):
        """One primitive application: run it eagerly, record it."""
        tmpl = tuple(self.template(a) for a in args)
        if params:
            for k, p in params.items():
                if isinstance(p, (_core.Tensor, _core.BaseVariable)) and (
                        isinstance(p, _core.BaseVariable) or self._lookup(p) is not None):
                    raise TracingError(
                        "tg.function: %s got a traced tensor as its parameter %r, which "
                        "would be baked into the graph (at %s)" % (prim.name, k, _user_frame()))
        seed = self._random_seed() if prim.name.startswith("random_") else None
        with _Suspended():
            out = _core.apply(prim, args, params)
        vid = self._bind(out, "node")
        self.graph.nodes.append(Node(prim.name, prim, tmpl, params, [vid], seed=seed))
        return out

    def _random_seed(self):
        # The public random functions draw the kernel's key from the seed before the
        # primitive runs; the op-level seed whose call counter moved is the one used.
        from tapegrad.ops import random as _random

        counts = _random._state["op_counts"]
        seed = None
        for k, c in counts.items():
            if self._random_counts.get(k, 0) != c:
                seed = k
        self._random_counts = dict(counts)
        return ("seed", seed)

    def assign(self, var, kind, value, read_value):
        tmpl = (self.template(value),)
        with _Suspended():
            getattr(_core.BaseVariable, kind)(var, value, False)
        self.graph.nodes.append(Node(kind, None, tmpl, {}, [], variable=var))
        self._note_var(var)
        return var if read_value else None

    def variable_created(self, var):
        self.created_variables += 1

    def external_gradient(self, name):
        # a custom_gradient's VJP is a Python closure over this call's tensors: a tape
        # around a later call needs the Python function itself (see ConcreteFunction.run)
        self.graph.python_gradients = True

    def is_symbolic(self, t):
        """``t`` is a graph value (not a captured constant)."""
        vid = self._lookup(t)
        return vid is not None and self.graph.values[vid].kind != "constant"

    def concrete(self, obj, what):
        """``obj`` is turned into a Python value: refuse for a traced tensor/variable."""
        if isinstance(obj, _core.BaseVariable):
            symbolic = True
            desc = "variable %r" % getattr(obj, "name", "?")
        else:
            symbolic = self.is_symbolic(obj)
            desc = "a traced tensor of shape %s, dtype %s" % (tuple(obj.shape), obj.dtype)
        if symbolic:
            raise TracingError(
                "tg.function: %s of %s while tracing, at %s.  A traced function cannot "
                "branch on or read tensor values in Python (the graph would keep this "
                "call's value); use tg.where to select values by data (tg.cond and "
                "tg.while_loop run eagerly: traced, their predicates must be Python "
                "values), tg.print to print values, or call the function without "
                "tg.function." % (what, desc, _user_frame()))

    def host_call(self, fn, args, kwargs):
        # a one-shot iterator argument (zip(grads, vars)) is kept as a list: every
        # replay passes it again
        args = tuple(list(a) if hasattr(a, "__next__") else a for a in args)
        tmpl = self.template_struct((args, kwargs))
        with _Suspended():
            result = fn(*args, **kwargs)
        outs = []
        for t in nest.flatten(result):
            if isinstance(t, _core.Tensor):
                outs.append(self._bind(t, "node"))
        self.graph.nodes.append(Node("host_call", None, (tmpl,), {"fn": fn}, outs))
        return result

    def template_struct(self, x):
        """Like :meth:`template` but walks dicts too and leaves variables by reference."""
        if isinstance(x, _core.Tensor):
            return self.ref(x)
        if isinstance(x, dict):
            return {k: self.template_struct(v) for k, v in x.items()}
        if type(x) in (list, tuple):
            return type(x)(self.template_struct(a) for a in x)
        if isinstance(x, np.ndarray):
            return np.array(x, copy=True)
        return x

    def output(self, result):
        def one(x):
            if isinstance(x, _core.Tensor):
                return self.ref(x)
            return x
        return nest.map_structure(one, result)


def host_call(fn):
    """Decorator: ``fn`` runs as one opaque host step of a traced graph.

    Outside tracing it is called as usual.  While a ``tg.function`` traces, the call
    runs eagerly once and is recorded as a ``host_call`` node; every replay calls
    ``fn`` again with that call's tensors (``tg.print``, ``Optimizer.apply_gradients``).
    Tensors it returns become graph values; it must not return other data the graph
    would need later.
    """
    import functools

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        tracer = _core._get_tracer()
        if tracer is None:
            return fn(*args, **kwargs)
        return tracer.host_call(fn, args, kwargs)

    wrapper.__wrapped_host_call__ = fn
    return wrapper


def new_graph(name):
    return Graph(name)
