"""A replayed ``tg.function`` call under a tape: ONE recorded op, a traced backward.

When a tape records a replayed call (a watched tensor argument, or a trainable variable
the graph reads), the call goes on the innermost non-persistent such tape as one
``function_call`` op (``record_call``).  Its inputs are *slots*: each distinct input (a
tensor argument, the value of a variable the graph reads) once per use the graph makes
of it; its output is the function's one tensor result.  docs/architecture.md §2.7 says
why every gradient is eager's, bit for bit; in short:

* the **backward graph** is traced once per (forward graph, input pattern, which inputs
  need gradients): the forward graph's nodes run eagerly on a fresh tape, each use of an
  input its own watched tensor, under a :class:`~tapegrad.graph.trace.Tracer`, and the
  engine's own walk (``_tape.imperative_grad``) differentiates them, reporting each use's
  gradient when it is made (``on_ready``): the per-slot contributions, in eager's order.
* **residuals**: the forward's replay returns the values the backward reads, which are
  inputs of the backward graph: nothing is recomputed (``RECOMPUTE`` measures the other
  choice).  Tapes around the innermost one record the replay op by op, and the backward
  runs op by op under them, reading the very tensors they recorded: higher orders are
  eager's too.
* **forward mode**: the op's JVP re-runs the forward graph's nodes eagerly on a fresh
  tape and pushes the tangents through their records with their own JVP rules
  (``autodiff.forward.ForwardPlan``): per op, as eager forward mode is.

Calls this does not cover keep the per-op replay (every op of the replay recorded, as
before): functions with effects (variable assignments, host calls, random ops), with a
``custom_gradient`` inside (the Python function runs, see ``ConcreteFunction.run``),
with other than exactly one tensor output, with complex values (the tape conjugates
complex seeds and gradients at its boundary, which a nested walk would do twice),
under a tape that watches a tensor the function captured (see ``record_call``), or
with an argument computed on the tape whose producer eager's walk would reach before
the function's backward is done (``_walk_order_kept``).
"""

import threading

import numpy as np

from tapegrad import _core, _graph, _tape
from tapegrad.autodiff import nest
from tapegrad.graph import passes as _passes
from tapegrad.graph.ir import Graph, Ref, Value, map_refs
from tapegrad.graph.passes import DEFAULT_PASSES
from tapegrad.ops._registry import NotSupported

__all__ = ["record_call", "CallInfo", "PRIM"]

NOT_RECORDED = object()

# The backward recomputes the forward instead of reading its saved values: off (the
# saved values are cheaper, see docs/architecture.md §2.7); bench/traced_outer_tape.py
# switches it on to measure the difference.  Applies with no tape recording the backward.
RECOMPUTE = False

_LOCK = threading.RLock()


def _never_called(*arrays, call):
    """function_call ops are recorded directly (``record_call``); never dispatched."""
    raise TypeError("function_call: recorded by tg.function calls under a tape only")


PRIM = _core.Primitive("function_call", _never_called, save_inputs=True, save_output=False)


class CallInfo:
    """What a forward graph needs to be one op on a tape (``None`` when it cannot be)."""

    def __init__(self, cf, g, out_id, reads):
        self.name = cf.graph.name
        self.graph = g                  # the forward graph the tape would see (dce only)
        self.out_id = out_id            # its one tensor output
        self.reads = reads              # [(variable, value id of its read)]
        self.variables = [v for v, _ in reads]
        # tensors captured by value that a tape could differentiate (see record_call)
        self.captured = tuple(t for t in g.constants.values()
                              if isinstance(t, _core.Tensor) and t.dtype.kind in "fc")
        # the forward's replay returns the values a backward may read (the residuals):
        # all of them until a backward is traced, then those the traced ones read
        self.keep = self._keep_plan(list(g.values))
        self.flat_outputs = g.flat_outputs()
        # per argument / variable read value: how many times the graph's nodes use it
        counts = {}
        for n in g.nodes:
            for vid in n.inputs:
                counts[vid] = counts.get(vid, 0) + 1
        self.uses = [counts.get(vid, 0) for vid in list(g.inputs) + [v for _, v in reads]]
        # with every input distinct (the common case): the pattern and the slot layout
        self.pattern = tuple(range(len(self.uses)))
        self.layout = tuple(k for k, u in enumerate(self.uses) for _ in range(u))
        self.first = _first_slots(self.layout, len(self.uses))
        self.single = isinstance(g.outputs, Ref)    # returns the tensor itself
        self.backward = {}              # (input pattern, needs) -> _Backward
        self.order_kept = {}            # (pattern, needs, input) -> _walk_order_kept

    def _keep_plan(self, vids):
        g = self.graph.copy()
        vids = list(dict.fromkeys(vids + [r.id for r in g.output_refs()]))
        g.outputs = [Ref(v) for v in vids]
        return _graph.Plan(g, _passes.plan_buffers(g)), {v: i for i, v in enumerate(vids)}

    def narrow(self):
        """Keep only what the traced backwards read (a call recorded later whose
        backward needs more runs that backward eagerly: see ``_call_vjp``)."""
        vids = set()
        for bwd in list(self.backward.values()):
            if bwd.eager:
                return
            vids.update(bwd.residuals)
        self.keep = self._keep_plan(sorted(vids))

    @staticmethod
    def build(cf, g):
        if g.python_gradients:
            return None
        reads = []
        for n in g.nodes:
            if n.op == "read_variable":
                reads.append((n.variable, n.outputs[0]))
            elif n.prim is None or n.stateful:
                return None      # assignments, host calls, random ops: per-op replay
        refs = {r.id for r in g.output_refs()}
        if len(refs) != 1:
            return None
        out_id = refs.pop()
        v = g.values[out_id]
        if v.kind != "node" or v.dtype.kind != "f":
            return None
        if any(n.outputs == [out_id] and n.op == "read_variable" for n in g.nodes):
            return None
        for vid in g.inputs:
            if g.values[vid].dtype.kind == "c":
                return None
        for var, _ in reads:
            if var.dtype.kind == "c":
                return None
        if not any(g.values[vid].dtype.kind == "f" for vid in g.inputs) and not any(
                var.dtype.kind == "f" for var, _ in reads):
            return None      # nothing a tape could watch
        return CallInfo(cf, g, out_id, reads)


def _first_slots(layout, n):
    """Per distinct input: its first slot in ``layout``, or -1 (no slot: unused)."""
    first = [-1] * n
    for s in range(len(layout) - 1, -1, -1):
        first[layout[s]] = s
    return tuple(first)


class _Call:
    """The params of one recorded call (the record's inputs are its *slots*: each
    distinct input once per use the graph makes of it, see ``record_call``)."""

    __slots__ = ("info", "inputs", "pattern", "layout", "first", "values", "index")

    def __init__(self, info, inputs, pattern, layout, first, values, index):
        self.info = info
        self.inputs = inputs        # the distinct inputs (arguments, variable values)
        self.pattern = pattern      # per argument/variable read: its distinct input
        self.layout = layout        # per slot: its distinct input
        self.first = first          # per distinct input: its first slot (_first_slots)
        self.values = values        # the forward values kept: value id -> index[id]
        self.index = index

    @property
    def saved_tensors(self):
        """The forward values this record holds for its backward (``tape.stats()``)."""
        return [t for t in self.values if type(t) is _core.Tensor]


def record_call(cf, flat):
    """Run ``cf`` on ``flat`` as one recorded op if a tape records it; the packed
    outputs, or ``NOT_RECORDED`` (the caller replays per op).

    Only the innermost tape that records the call gets the one op, and only when it is
    not persistent; tapes around it record the replay's ops one by one.  Those are the
    tapes that may differentiate the backward pass, which reads the forward's values:
    they must see those values computed op by op for their gradients to be eager's (a
    one-op record there would split each forward op's gradient into two VJP calls, one
    for the backward's use and one for the output's, and round differently).  A
    non-persistent tape never records its own backward (it pauses while it walks).
    """
    info = cf._call_info()
    if info is None:
        return NOT_RECORDED
    tapes = _core._active_tapes()
    # registers the reads with the tapes (and watches trainable variables), as eager
    given = list(flat) + [v.read_value() for v in info.variables]
    ids = [t._id for t in given]
    if len(set(ids)) == len(ids):
        # the common case: every argument and variable value is its own input
        distinct, pattern, uses, layout = given, info.pattern, info.uses, info.layout
        first = info.first
    else:
        distinct, pattern, uses, seen = [], [], [], {}
        for t, u in zip(given, info.uses):
            k = seen.get(t._id)
            if k is None:
                k = seen[t._id] = len(distinct)
                distinct.append(t)
                uses.append(0)
            pattern.append(k)
            uses[k] += u
        pattern = tuple(pattern)
        layout = tuple(k for k in range(len(distinct)) for _ in range(uses[k]))
        first = _first_slots(layout, len(distinct))
    one = None
    captured = info.captured
    for i in range(len(tapes) - 1, -1, -1):
        c = tapes[i]
        if c.paused:
            continue
        prod = c.producers
        for k in layout:
            if distinct[k]._id in prod:
                one = c
                break
        if one is None and captured:
            for t in captured:
                if t._id in prod:
                    one = c
                    break
        if one is not None:
            break
    if one is None or one.persistent:
        # a persistent tape may record its own backward pass, which reads the forward's
        # values: those must be on it, op by op (as must they be on any outer tape)
        return NOT_RECORDED
    if captured:
        prod = one.producers
        for t in captured:
            if t._id in prod:
                # a tensor the function captured is watched (or computed) on the tape
                # that would get the one op: the op's inputs are the arguments and
                # variable reads only, so its gradient would be lost, and a tape inside
                # would differentiate forward values this tape never saw computed.
                # Per-op replay records the captured tensor's uses as eager does.
                return NOT_RECORDED
    prod = one.producers
    computed = tuple([k for k in range(len(distinct))
                      if first[k] >= 0 and prod.get(distinct[k]._id) is not None])
    if computed and not _walk_order_kept(info, pattern, layout, first, distinct, prod,
                                         computed):
        return NOT_RECORDED
    one.paused += 1
    try:
        plan, index = info.keep
        values = plan.run(list(flat))
    finally:
        one.paused -= 1
    out = values[index[info.out_id]]
    call = _Call(info, distinct, pattern, layout, first, values, index)
    if len(tapes) == 1:
        _core._record_external(PRIM, tuple([distinct[k] for k in layout]), out,
                               {"call": call})
    else:
        others = [c for c in tapes if c is not one]
        for c in others:
            c.paused += 1
        try:
            _core._record_external(PRIM, tuple([distinct[k] for k in layout]), out,
                                   {"call": call})
        finally:
            for c in others:
                c.paused -= 1
    if info.single:
        return out
    return nest.pack_sequence_as(info.graph.outputs, [
        values[index[x.id]] if type(x) is Ref else x for x in info.flat_outputs])


def _walk_order_kept(info, pattern, layout, first, inputs, prod, computed):
    """Whether one op keeps eager's gradient order, ``computed`` being the inputs a
    recorded op on the tape produced (the others are watched tensors, variable reads).

    Eager's walk pushes an input's producer the moment the input's last use inside the
    function has contributed (after that use's VJP), and walks on from it (the stack is
    LIFO) before the rest of the function's backward: gradients upstream of the input,
    a variable's among them when earlier calls read it, get their contributions
    interleaved with the function's.  The one op's walk goes upstream only after its
    VJP has made every contribution.  The two orders agree when no VJP after the one of
    a computed input's last use contributes to an input; otherwise an upstream tensor
    with three or more contributions may sum them in another order (an RNN cell whose
    state is used late, say).  Several computed inputs also need their producers
    pushed in the same order: eager pushes them in that last VJP's argument order, the
    one op in input order.  The walk's order depends only on the graph: it is found
    once per input pattern by running the eager backward with every tape paused."""
    needs = tuple([first[j] >= 0 and inputs[j]._id in prod for j in range(len(inputs))])
    key = (pattern, needs, computed)
    kept = info.order_kept.get(key)
    if kept is None:
        v = info.graph.values[info.out_id]
        tapes = _core._active_tapes()
        for c in tapes:
            c.paused += 1
        try:
            if v.device is None:
                cot = _core.wrap(np.ones(v.shape, v.dtype))
            else:
                from tapegrad.device import device
                from tapegrad.ops.creation import ones

                with device(v.device):
                    cot = ones(v.shape, v.dtype)
            order = []
            try:
                _contributions(info, pattern, layout, inputs, needs, cot, order)
            except Exception:
                # a backward that fails (an op without a gradient) fails when a
                # gradient is asked for, as eager's: the per-op replay records the
                # forward, and this forward call goes on
                order = None
        finally:
            for c in tapes:
                c.paused -= 1
        if order is None:
            info.order_kept[key] = False
            return False
        # the last VJP's contributions (one VJP's are consecutive)
        start = len(order)
        while start > 0 and order[start - 1][1] == order[-1][1]:
            start -= 1
        ks = [j for j, _ in order]
        tail = ks[start:]
        kept = all(ks.count(k) == layout.count(k) and k in tail for k in computed)
        if kept:
            # the order in which the last VJP finishes them: by their last contributions
            done = sorted(computed, key=lambda k: len(tail) - tail[::-1].index(k))
            kept = done == list(computed)
        info.order_kept[key] = kept
    return kept


# ---------------------------------------------------------------- forward, eagerly

def _interpret(info, inputs, pattern, use=None):
    """Run the forward graph's nodes through ordinary dispatch on ``inputs`` (so active
    tapes and an active tracer record them); ``{value id: tensor}``.  ``use(k, i)``, when
    given, supplies the tensor for each use of distinct input ``k`` (in node order; ``i``
    is the using node's index)."""
    g = info.graph
    env = {}
    owner = {}
    n_args = len(g.inputs)
    for p, vid in enumerate(g.inputs):
        env[vid] = inputs[pattern[p]]
        owner[vid] = pattern[p]
    for j, (_, vid) in enumerate(info.reads):
        env[vid] = inputs[pattern[n_args + j]]
        owner[vid] = pattern[n_args + j]
    for cid, t in g.constants.items():
        env[cid] = t

    at = [0]            # the node whose arguments get() resolves

    def get(r):
        k = owner.get(r.id) if use is not None else None
        return env[r.id] if k is None else use(k, at[0])

    for i, n in enumerate(g.nodes):
        if n.op == "read_variable":
            continue
        at[0] = i
        env[n.outputs[0]] = _core.apply(n.prim, map_refs(n.args, get), n.params or None)
    return env


def _contributions(info, pattern, layout, inputs, needs, cot, order=None):
    """The eager backward of one call, per slot: the forward's nodes run on a fresh tape
    with every use of an input as its own watched tensor, the engine's walk from the
    output seeded with ``cot``, and each use's gradient taken the moment the walk makes
    it (``on_ready``): the contributions the eager tape would append to the input's
    gradient list, in its order.  Returns ``(env, per-slot gradients or None)``;
    ``order``, when given, gets ``(distinct input, index of the node whose VJP made it)``
    of each contribution as it is made."""
    from tapegrad.autodiff.tape import GradientTape

    owner = {}          # use tensor id -> distinct input
    node = {}           # use tensor id -> the node using it

    def use(k, i):
        t = _core.wrap(inputs[k]._data)     # the same array: the same graph value
        if needs[k]:
            tape.watch(t)
        owner[t._id] = k
        node[t._id] = i
        return t

    tape = GradientTape(watch_accessed_variables=False)
    with tape:
        env = _interpret(info, inputs, pattern, use)
    fired = [[] for _ in inputs]

    def on_ready(iid, gi):
        k = owner[iid]
        fired[k].append(gi)
        if order is not None:
            order.append((k, node[iid]))

    srcs = [[i] for i, k in owner.items() if needs[k]]
    _tape.imperative_grad(tape._core, [env[info.out_id]], [cot], srcs, on_ready)
    slots = []
    taken = [0] * len(inputs)
    for k in layout:
        j = taken[k]
        taken[k] = j + 1
        slots.append(fired[k][j] if j < len(fired[k]) else None)
    return env, slots


# ---------------------------------------------------------------- backward, traced

class _Backward:
    """The traced backward of one (forward, input pattern, needs): ``saved`` maps
    (residuals..., cotangent) to the per-slot gradients; ``joint`` is the graph traced
    (the forward's nodes, then the backward's), kept for inspection and measurement."""

    def __init__(self, saved, residuals, joint, eager):
        self.saved = saved
        self.residuals = residuals      # the forward value ids ``saved`` reads
        self.joint = joint
        self.eager = eager      # a gradient is not a dense tensor: walk eagerly instead
        self._recompute = None

    def recompute(self):
        """The joint graph as a function of (inputs..., cotangent): the backward that
        recomputes the forward instead of reading saved values (``RECOMPUTE``)."""
        if self._recompute is None:
            from tapegrad.graph.function import ConcreteFunction

            self._recompute = ConcreteFunction(self.joint, DEFAULT_PASSES, [])
        return self._recompute


def _trace_backward(info, pattern, layout, needs, inputs, cot):
    # (graph/function.py imports this module: its names are imported at call time)
    from tapegrad.graph.function import _TRACE_LOCK, ConcreteFunction, _fresh
    from tapegrad.graph.trace import Tracer

    graph = Graph("%s_grad" % info.name)
    tracer = Tracer(graph)
    xs = [_fresh(t) for t in inputs]
    for t in xs:
        tracer.bind_input(t)
    c = _fresh(cot)
    tracer.bind_input(c)
    with _TRACE_LOCK:
        prev = _core._set_tracer(tracer)
        try:
            env, slots = _contributions(info, pattern, layout, xs, needs, c)
            if any(gr is not None and not isinstance(gr, _core.Tensor) for gr in slots):
                return _Backward(None, None, graph, True)   # sparse: no graph output
            graph.outputs = tracer.output(tuple(slots))
        finally:
            _core._set_tracer(prev)
    # the forward's values are inputs of the backward (residuals), not recomputed
    jvid_of = {}
    for gvid, t in env.items():
        jvid = tracer._lookup(t)
        if jvid is not None and jvid not in jvid_of:
            jvid_of[jvid] = gvid
    n_fwd = sum(1 for n in info.graph.nodes if n.op != "read_variable")
    forward_vals = set(graph.inputs[:len(xs)])
    for n in graph.nodes[:n_fwd]:
        forward_vals.update(n.outputs)
    bwd_nodes = graph.nodes[n_fwd:]
    used = set()
    for n in bwd_nodes:
        used.update(n.inputs)
    used.update(r.id for r in graph.output_refs())
    residuals = [v for v in sorted(used) if v in forward_vals]
    if any(v not in jvid_of for v in residuals):
        raise AssertionError("function_call: a residual of %s has no forward value"
                             % info.name)
    r = Graph(graph.name)
    for v in residuals:
        old = graph.values[v]
        r.values[v] = Value(v, old.shape, old.dtype, old.device, "input")
    cot_id = graph.inputs[len(xs)]
    r.values[cot_id] = graph.values[cot_id]
    r.inputs = residuals + [cot_id]
    for cid in graph.constants:
        if cid in used:
            r.values[cid] = graph.values[cid]
            r.constants[cid] = graph.constants[cid]
    for n in bwd_nodes:
        for o in n.outputs:
            r.values[o] = graph.values[o]
    r.nodes = list(bwd_nodes)
    r.outputs = graph.outputs
    saved = ConcreteFunction(r, DEFAULT_PASSES, [])
    return _Backward(saved, [jvid_of[v] for v in residuals], graph, False)


def _call_vjp(g, ans, *slot_inputs, call):
    info = call.info
    layout = call.layout
    inputs = call.inputs
    # a distinct input's slots are alike: ask for its first one (-1: no slot, unused)
    ni = _tape.needs_input
    needs = tuple([s >= 0 and ni(s) for s in call.first])
    if not any(needs):
        return (None,) * len(layout)
    if _core._get_tracer() is not None:
        # a gradient taken while a tg.function traces: the walk's ops go into that trace
        return tuple(_contributions(info, call.pattern, layout, inputs, needs, g)[1])
    key = (call.pattern, needs)
    bwd = info.backward.get(key)
    if bwd is None:
        with _LOCK:
            bwd = info.backward.get(key)
            if bwd is None:
                bwd = info.backward[key] = _trace_backward(info, call.pattern, layout, needs,
                                                           inputs, g)
                info.narrow()
    if bwd.eager:
        return tuple(_contributions(info, call.pattern, layout, inputs, needs, g)[1])
    if RECOMPUTE and not _core._active_tapes():
        return tuple(bwd.recompute()._plan.run(list(inputs) + [g]))
    vals, index = call.values, call.index
    try:
        args = [vals[index[v]] for v in bwd.residuals] + [g]
    except KeyError:
        # recorded before this backward was traced and the kept values narrowed to
        # the others': the eager walk (forward recomputed), the same bits
        return tuple(_contributions(info, call.pattern, layout, inputs, needs, g)[1])
    saved = bwd.saved
    if _core._active_tapes():
        # a tape that records the backward sees its ops one by one, as eager's
        out = saved._plan_for_tapes().run(args)
    else:
        out = saved._plan.run(args)
    return tuple(out)


PRIM.defvjp(_call_vjp)


@PRIM.defjvp
def _call_jvp(tangents, ans, *inputs, call):
    # forward mode: per op, as eager (see the module docstring)
    from tapegrad.autodiff.forward import ForwardPlan
    from tapegrad.autodiff.tape import GradientTape

    info = call.info
    xs = call.inputs
    ts = [None] * len(xs)
    for s, k in enumerate(call.layout):
        ts[k] = tangents[s]
    tape = GradientTape(watch_accessed_variables=False)
    with tape:
        for x, t in zip(xs, ts):
            if t is not None:
                tape.watch(x)
        env = _interpret(info, xs, call.pattern)
    out = env[info.out_id]
    seeds = {x._id: t for x, t in zip(xs, ts) if t is not None}
    return ForwardPlan(tape._core, [out]).push(seeds)[0]


PRIM.defrule("onnx", NotSupported("never a graph node: a traced function inside another "
                                  "is inlined, so exports see its own ops"))
PRIM.defrule("taylor", NotSupported("never a graph node: tg.jet traces the function's own "
                                    "ops"))
PRIM.defrule("batch", NotSupported("never a graph node: tg.vmap traces the function's own "
                                   "ops"))
_core.register(PRIM)
