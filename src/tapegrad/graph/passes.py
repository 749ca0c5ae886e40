"""Graph passes: each takes a :class:`~tapegrad.graph.ir.Graph` and returns a new one.

Every pass is exact: the optimized graph computes bit-for-bit what the traced one
does, with the same kernels.

* :func:`dce`: dead-code elimination.  Assignments and host calls always stay; a
  variable read or a random op whose value nobody uses goes (a layer's initializers
  traced on its first call are not redrawn on every replay, as eager would not).
* :func:`fold_constants`: a node whose inputs are all constants is evaluated once, by
  the same kernel, and becomes a constant.  Random ops are never folded.
* :func:`cse`: common-subexpression elimination; two nodes with the same op, the same
  arguments (literals compared by type and ``repr``, so ``0.0`` and ``-0.0`` differ)
  and the same parameters are one.  Variable reads merge only when no assignment or
  host call lies between them.
* :func:`simplify`: algebraic identities exact in IEEE arithmetic: ``x*1``, ``1*x``,
  ``x/1``, ``x + (-0.0)``, ``x - 0.0`` (and ``x+0``, ``x-0`` for integers) become
  ``x`` when the result has ``x``'s shape and a real or integer dtype, ``x``'s.
  ``x + 0.0`` stays: it turns ``-0.0`` into ``+0.0``; complex results stay too (see
  the pass).  One input is not covered: a signaling NaN (only made by reinterpreting
  bits), which the arithmetic would return quieted and the rewrite returns as it is.
* :func:`plan_buffers`: liveness analysis; returns, per node, the values that die
  after it, so the replay drops them at once (their buffers go back to the allocator
  for the next node, and a variable updated after its last read is written in place
  rather than copied).  :func:`plan_reuse` adds ``out=`` reuse: a unary ufunc node
  writes into the buffer of a dead value of its shape and dtype.

``optimize(graph, passes)`` runs a pipeline and logs the op count before and after
each pass in ``graph.pass_log``.
"""

import numpy as np

from tapegrad import _core
from tapegrad.graph.ir import STATEFUL_OPS, Node, Ref, map_struct

__all__ = ["dce", "fold_constants", "cse", "simplify", "plan_buffers", "plan_reuse",
           "optimize",
           "PASSES", "DEFAULT_PASSES", "GRADIENT_SAFE_PASSES"]

_EFFECTS = frozenset({"assign", "assign_add", "assign_sub", "host_call"})


def _is_random(node):
    return node.op.startswith("random_")


def _pure(node):
    return node.op not in STATEFUL_OPS and not _is_random(node) and node.prim is not None


def _rewrite(graph, nodes, subst):
    """``graph`` with ``nodes`` and every reference to a key of ``subst`` redirected."""

    def find(vid):
        while vid in subst:
            vid = subst[vid]
        return vid

    def fix(r):
        return Ref(find(r.id))

    g = graph.copy()
    if subst:
        g.nodes = [n if not any(i in subst for i in n.inputs) else
                   Node(n.op, n.prim, map_struct(n.args, fix), n.params, n.outputs, n.variable,
                        n.seed) for n in nodes]
        g.outputs = map_struct(graph.outputs, fix)
    else:
        g.nodes = list(nodes)
    # values nothing refers to any more are dropped from the table
    used = set(g.inputs) | {r.id for r in g.output_refs()}
    for n in g.nodes:
        used.update(n.inputs)
        used.update(n.outputs)
    g.values = {k: v for k, v in g.values.items() if k in used}
    g.constants = {k: v for k, v in g.constants.items() if k in used}
    return g


def dce(graph):
    live = {r.id for r in graph.output_refs()}
    keep = []
    for n in reversed(graph.nodes):
        if n.op in _EFFECTS or any(o in live for o in n.outputs):
            keep.append(n)
            live.update(n.inputs)
    keep.reverse()
    return _rewrite(graph, keep, {})


def fold_constants(graph):
    g = graph.copy()
    nodes = []
    prev = _core._set_tracer(None)
    try:
        for n in graph.nodes:
            refs = n.inputs
            if _pure(n) and refs and all(g.values[r].kind == "constant" for r in refs):
                args = map_struct(n.args, lambda r: g.constants[r.id])
                out = _core.apply(n.prim, args, n.params or None)
                vid = n.outputs[0]
                v = g.values[vid]
                g.new_value(vid, v.shape, v.dtype, v.device, "constant")
                g.constants[vid] = out
                continue
            nodes.append(n)
    finally:
        _core._set_tracer(prev)
    return _rewrite(g, nodes, {})


class _Unhashable(Exception):
    pass


def _key(x):
    """A hashable key that tells apart everything the kernel could tell apart."""
    t = type(x)
    if t is Ref:
        return ("R", x.id)
    if t is float or t is np.float32 or t is np.float64:
        return ("f", t.__name__, repr(float(x)), bool(np.signbit(x)))
    if x is None or t in (int, bool, str, np.int32, np.int64, np.bool_):
        return (t.__name__, x)
    if t in (list, tuple):
        return (t.__name__,) + tuple(_key(a) for a in x)
    if t is dict:
        return ("d",) + tuple((k, _key(x[k])) for k in sorted(x))
    if isinstance(x, np.dtype):
        return ("dt", x.str)
    if t is np.ndarray:
        return ("a", x.dtype.str, x.shape, x.tobytes())
    if isinstance(x, type):
        return ("T", x.__module__, x.__qualname__)
    raise _Unhashable


def cse(graph):
    seen = {}
    subst = {}
    nodes = []
    epoch = 0
    for n in graph.nodes:
        if n.op in _EFFECTS:
            epoch += 1
            nodes.append(n)
            continue
        if n.op == "read_variable":
            key = ("read", id(n.variable), epoch)
        elif _pure(n):
            try:
                args = map_struct(n.args, lambda r: Ref(subst.get(r.id, r.id)))
                key = (n.op, _key(args), _key(n.params))
            except _Unhashable:
                nodes.append(n)
                continue
        else:
            nodes.append(n)
            continue
        hit = seen.get(key)
        if hit is not None:
            subst[n.outputs[0]] = hit
            continue
        seen[key] = n.outputs[0]
        nodes.append(n)
    return _rewrite(graph, nodes, subst)


def _literal_all(graph, a, pred):
    """``a`` (a node argument) is a literal or constant whose every element meets pred."""
    if type(a) is Ref:
        v = graph.values[a.id]
        if v.kind != "constant" or v.device is not None:
            return False
        arr = np.asarray(graph.constants[a.id]._data)
        return arr.size > 0 and bool(np.all(pred(arr)))
    if type(a) in (int, float):
        return bool(pred(np.asarray(a, dtype=np.float64)))
    return False


def _one(arr):
    return arr == 1


def _neg_zero(arr):
    return (arr == 0) & np.signbit(arr)


def _pos_zero(arr):
    return (arr == 0) & ~np.signbit(arr)


def _zero(arr):
    return arr == 0


def simplify(graph):
    subst = {}
    nodes = []
    for n in graph.nodes:
        target = None
        if _pure(n) and len(n.args) == 2 and not n.params:
            x, y = n.args
            out = graph.values[n.outputs[0]]
            is_int = out.dtype.kind in "iu"
            cands = []
            if out.dtype.kind not in "iuf":
                # complex arithmetic is not exact under these identities: (inf+0j)*1 is
                # inf+nanj (the cross term inf*0), and -0.0 as a complex is -0+0j, whose
                # +0 imaginary part turns a -0 imaginary into +0; bool/object: no rules
                pass
            elif n.op == "multiply":
                cands = [(x, y, _one), (y, x, _one)]
            elif n.op == "divide":
                cands = [(x, y, _one)]
            elif n.op == "add":
                cands = [(x, y, _zero if is_int else _neg_zero),
                         (y, x, _zero if is_int else _neg_zero)]
            elif n.op == "subtract":
                cands = [(x, y, _zero if is_int else _pos_zero)]
            for keep, lit, pred in cands:
                if type(keep) is not Ref:
                    continue
                kv = graph.values[keep.id]
                if kv.shape == out.shape and kv.dtype == out.dtype and \
                        kv.device == out.device and _literal_all(graph, lit, pred):
                    target = keep.id
                    break
        elif n.op == "identity" and len(n.args) == 1 and type(n.args[0]) is Ref and \
                not n.params:
            kv = graph.values[n.args[0].id]
            out = graph.values[n.outputs[0]]
            if kv.shape == out.shape and kv.dtype == out.dtype and kv.device == out.device:
                target = n.args[0].id
        if target is not None:
            subst[n.outputs[0]] = target
            continue
        nodes.append(n)
    return _rewrite(graph, nodes, subst)


def plan_buffers(graph):
    """``{node index: [value ids that die after it]}`` (liveness analysis)."""
    return _liveness(graph)[0]


def _liveness(graph):
    keep = set(graph.inputs) | set(graph.constants) | {r.id for r in graph.output_refs()}
    last = {}
    for i, n in enumerate(graph.nodes):
        for v in n.inputs:
            last[v] = i
        for v in n.outputs:
            last.setdefault(v, i)
    free = {}
    for v, i in last.items():
        if v not in keep:
            free.setdefault(i, []).append(v)
    return free, last, keep


def _writes_into(node, graph):
    """A unary NumPy ufunc primitive whose output may go into a dead buffer (``out=``)."""
    prim = node.prim
    if prim is None or node.params or len(node.args) != 1 or type(node.args[0]) is not Ref:
        return False
    fn = prim.cpu
    if not isinstance(fn, np.ufunc) or fn.nin != 1 or fn.nout != 1 or prim.quiet:
        return False
    x, y = graph.values[node.args[0].id], graph.values[node.outputs[0]]
    return x.device is None and x.shape == y.shape and x.dtype == y.dtype


def plan_reuse(graph):
    """Buffer planning with ``out=``: ``({node index: donor value id}, free)``.

    A unary ufunc node may write its result into the buffer of a value that is dead by
    then (its own input included: ``tanh(sin(x))`` computes the tanh in place) when the
    shapes and dtypes match.  Donors are outputs of primitive nodes that are not graph
    outputs; the replay still checks at run time that nothing else holds the donor's
    array (a host call may have kept it, a kernel may have returned a view) and computes
    into a fresh array otherwise.  ``free`` is :func:`plan_buffers` with each donor
    released at the node that takes its buffer.
    """
    free, last, keep = _liveness(graph)
    producer_ok = {}
    for n in graph.nodes:
        ok = n.prim is not None and n.op not in STATEFUL_OPS
        for o in n.outputs:
            producer_ok[o] = ok
    dead = {}            # (shape, dtype) -> donor value ids dead before the current node
    reuse = {}
    taken = set()
    for i, n in enumerate(graph.nodes):
        if _writes_into(n, graph):
            y = graph.values[n.outputs[0]]
            x = n.args[0].id
            pool = dead.setdefault((y.shape, y.dtype.str), [])
            if last.get(x) == i and x not in keep and producer_ok.get(x) and x not in taken:
                donor = x                     # in place: the input dies here
            else:
                donor = pool.pop() if pool else None
            if donor is not None:
                reuse[i] = donor
                taken.add(donor)
        for v in free.get(i, ()):
            val = graph.values[v]
            if producer_ok.get(v) and v not in taken and val.device is None:
                dead.setdefault((val.shape, val.dtype.str), []).append(v)
    # a donor's slot is emptied by the node that takes it, not at its last use
    free = {i: [v for v in vs if v not in taken] for i, vs in free.items()}
    return reuse, free


PASSES = {"simplify": simplify, "cse": cse, "constant_folding": fold_constants, "dce": dce}
DEFAULT_PASSES = ("simplify", "constant_folding", "cse", "dce")
# Used when a tape outside the function records the replay: merging two nodes (cse)
# merges their gradients into one VJP of the summed cotangent, and folding or
# simplifying can hide a watched constant; none is bit-identical to eager there.
GRADIENT_SAFE_PASSES = ("dce",)


def optimize(graph, passes=DEFAULT_PASSES):
    for name in passes:
        fn = PASSES.get(name)
        if fn is None:
            raise ValueError("tg.function: unknown graph pass %r (known: %s)"
                             % (name, ", ".join(sorted(PASSES))))
        before = len(graph.nodes)
        log = list(graph.pass_log)
        graph = fn(graph)
        graph.pass_log = log + [(name, before, len(graph.nodes))]
    return graph
