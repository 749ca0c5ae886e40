"""The graph that ``tg.function`` traces, the passes rewrite and the replay runs.

Structure (the ONNX exporter reads exactly this)
------------------------------------------------
A :class:`Graph` is a straight-line program in SSA form:

* ``graph.values``: ``{value_id: Value}``; every value has a ``shape`` (tuple of ints),
  a ``dtype`` (``numpy.dtype``), a ``device`` (``None`` = CPU, else ``"/gpu:N"``) and a
  ``kind``: ``"input"`` (a tensor argument of the function), ``"constant"`` (a tensor
  captured by value: ``graph.constants[value_id]`` holds it), or ``"node"`` (the output
  of one node).
* ``graph.inputs``: the value ids of the tensor arguments, in the order of the
  flattened call arguments.
* ``graph.nodes``: list of :class:`Node` in program order.  ``node.op`` is a registered
  primitive's name (``node.prim`` the :class:`~tapegrad._core.Primitive`), or one of the
  stateful pseudo-ops

  - ``"read_variable"``: reads ``node.variable``'s current value (captured by reference);
  - ``"assign"``, ``"assign_add"``, ``"assign_sub"``: mutate ``node.variable`` with the
    value of ``node.args[0]``;
  - ``"host_call"``: calls ``node.params["fn"]`` on ``node.args`` (``tg.print``,
    ``Optimizer.apply_gradients``): a Python side effect kept in the graph.

  ``node.args`` is the argument tuple exactly as the primitive received it, with every
  graph value replaced by a :class:`Ref` (``Ref.id`` is a value id) and Python scalars,
  lists and arrays kept as literals (a Python float is a *weak* scalar: it takes the
  dtype of the other operand).  ``node.inputs`` lists the referenced value ids;
  ``node.params`` are the primitive's keyword parameters (axes, shapes, dtypes...);
  ``node.outputs`` is a list of value ids (one for primitives, possibly none for
  effects).
* ``graph.outputs``: the function's return structure with :class:`Ref` leaves.
* ``graph.variables``: the variables the graph reads or writes, in first-use order.

Values are immutable; a variable is the only mutable state, and it is reached through
``read_variable``/``assign*`` nodes whose relative order every pass preserves.
"""

import numpy as np

__all__ = ["Ref", "Value", "Node", "Graph", "STATEFUL_OPS"]

# pseudo-ops with effects on variables or the outside world: never removed, merged,
# folded or reordered against each other
STATEFUL_OPS = frozenset({"read_variable", "assign", "assign_add", "assign_sub",
                          "host_call"})


class Ref:
    """A reference to graph value ``id`` inside a node's argument tuple."""

    __slots__ = ("id",)

    def __init__(self, id):
        self.id = id

    def __repr__(self):
        return "%%%d" % self.id

    def __eq__(self, other):
        return type(other) is Ref and other.id == self.id

    def __hash__(self):
        return hash(("Ref", self.id))


class Value:
    __slots__ = ("id", "shape", "dtype", "device", "kind", "producer")

    def __init__(self, id, shape, dtype, device, kind, producer=None):
        self.id = id
        self.shape = tuple(shape)
        self.dtype = np.dtype(dtype)
        self.device = device
        self.kind = kind
        self.producer = producer

    def type_str(self):
        dims = ",".join(str(d) for d in self.shape)
        dev = "" if self.device is None else "@" + self.device
        return "%s[%s]%s" % (self.dtype.name, dims, dev)

    def __repr__(self):
        return "<Value %%%d %s %s>" % (self.id, self.kind, self.type_str())


class Node:
    __slots__ = ("op", "prim", "args", "params", "outputs", "variable", "seed", "_inputs")

    def __init__(self, op, prim, args, params, outputs, variable=None, seed=None):
        self.op = op
        self.prim = prim
        self.args = tuple(args)
        self.params = dict(params) if params else {}
        self.outputs = list(outputs)
        self.variable = variable
        # random primitives: the op-level seed their key was drawn with (a fresh key is
        # drawn the same way on every replay, as eager draws one per call)
        self.seed = seed
        self._inputs = None

    @property
    def inputs(self):
        # nodes are never mutated (passes build new ones), so the list is computed once
        if self._inputs is None:
            self._inputs = [a.id for a in _refs(self.args)]
        return self._inputs

    @property
    def stateful(self):
        return self.op in STATEFUL_OPS or self.op.startswith("random_")

    def __repr__(self):
        return "<Node %s %s -> %s>" % (self.op, self.inputs, self.outputs)


def _refs(args):
    out = []
    map_struct(args, out.append)
    return out


def map_struct(x, fn):
    """``x`` with every Ref replaced by ``fn(ref)`` (lists, tuples and dicts walked)."""
    if type(x) is Ref:
        return fn(x)
    if type(x) in (list, tuple):
        return type(x)(map_struct(a, fn) for a in x)
    if type(x) is dict:
        return {k: map_struct(v, fn) for k, v in x.items()}
    return x


def map_refs(args, fn):
    """An argument tuple with every Ref replaced by ``fn(ref)``."""
    return tuple(map_struct(a, fn) for a in args)


def _fmt_arg(a):
    if type(a) is Ref:
        return repr(a)
    if isinstance(a, np.ndarray):
        return "array%s" % (a.shape,)
    if type(a) in (list, tuple):
        inner = ", ".join(_fmt_arg(x) for x in a)
        return ("[%s]" if type(a) is list else "(%s)") % inner
    if type(a) is dict:
        return "{%s}" % ", ".join("%s: %s" % (k, _fmt_arg(v)) for k, v in a.items())
    if a is None or isinstance(a, (int, float, str, np.generic, np.dtype)):
        return repr(a)
    name = getattr(a, "name", None)
    return "<%s%s>" % (type(a).__name__, " " + name if isinstance(name, str) else "")


def _fmt_param(v):
    if callable(v) and not isinstance(v, (np.dtype, type)):
        return getattr(v, "__qualname__", type(v).__name__)
    if isinstance(v, np.dtype):
        return v.name
    return repr(v)


class Graph:
    """A traced program (see the module docstring for the structure)."""

    def __init__(self, name="fn"):
        self.name = name
        self.values = {}
        self.inputs = []
        self.constants = {}
        self.nodes = []
        self.outputs = None
        self.variables = []
        # op counts before/after each pass: [(pass name, before, after)]
        self.pass_log = []
        # a custom_gradient ran inside: an outer tape must see the Python function run
        self.python_gradients = False

    def new_value(self, id, shape, dtype, device, kind, producer=None):
        v = Value(id, shape, dtype, device, kind, producer)
        self.values[id] = v
        return v

    def flat_outputs(self):
        from tapegrad.autodiff import nest

        return nest.flatten(self.outputs)

    def output_refs(self):
        return [x for x in self.flat_outputs() if type(x) is Ref]

    def op_counts(self):
        counts = {}
        for n in self.nodes:
            counts[n.op] = counts.get(n.op, 0) + 1
        return counts

    def copy(self):
        g = Graph(self.name)
        g.values = dict(self.values)
        g.inputs = list(self.inputs)
        g.constants = dict(self.constants)
        g.nodes = list(self.nodes)      # Node objects are immutable: shared
        g.outputs = self.outputs
        g.variables = list(self.variables)
        g.pass_log = list(self.pass_log)
        g.python_gradients = self.python_gradients
        return g

    def __str__(self):
        lines = ["graph %s(%s) {" % (self.name, ", ".join(
            "%%%d: %s" % (i, self.values[i].type_str()) for i in self.inputs))]
        for cid in sorted(self.constants):
            lines.append("  %%%d = constant %s" % (cid, self.values[cid].type_str()))
        for n in self.nodes:
            args = ", ".join(_fmt_arg(a) for a in n.args)
            params = ", ".join("%s=%s" % (k, _fmt_param(v)) for k, v in sorted(n.params.items()))
            if n.variable is not None:
                params = ("var=%s" % getattr(n.variable, "name", "?")) + (
                    ", " + params if params else "")
            outs = ", ".join("%%%d: %s" % (o, self.values[o].type_str()) for o in n.outputs)
            lhs = (outs + " = ") if outs else ""
            lines.append("  %s%s(%s)%s" % (lhs, n.op, args, " {%s}" % params if params else ""))
        lines.append("  return %r" % (self.outputs,))
        lines.append("}")
        if self.pass_log:
            lines.append("passes: " + ", ".join("%s %d->%d" % p for p in self.pass_log))
        return "\n".join(lines)

    __repr__ = __str__
