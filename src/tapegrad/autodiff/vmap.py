"""tg.vmap and tg.vectorized_map: a function of one example, run on a batch at once.

``vmap(fun, in_axes=0, out_axes=0)`` (JAX's semantics for flat argument lists): the
batched arguments' ``in_axes`` are moved to the front, ``fun`` is traced by
``tg.function`` on one example's shapes, and the graph is interpreted with each
primitive's "batch" rule (beside its forward in ops/*.py; helpers in
ops/_batching.py), which runs the primitive once on the whole batch.  Values no
batched input reaches are computed once.  Everything runs through tapegrad ops, so
``vmap`` composes with ``grad``/``GradientTape`` (either way round) and with itself.
A primitive without a rule raises naming it.
"""

import weakref

from tapegrad import _core
from tapegrad.autodiff import _basis, nest
from tapegrad.ops._registry import NotSupported

__all__ = ["vmap", "vectorized_map"]



class BatchingError(TypeError):
    """A function cannot be vectorised (the message says which primitive or argument)."""


def _traced(fun, args):
    from tapegrad.graph.function import traced_graph

    return traced_graph(fun, args, "vmap")


def _axes(spec, n, what):
    if spec is None or isinstance(spec, int):
        return [spec] * n
    spec = list(spec)
    if len(spec) != n:
        raise ValueError("vmap: %s has %d entries for %d %s" % (what, len(spec), n,
                                                              what.split("_")[0] + "s"))
    for a in spec:
        if a is not None and not isinstance(a, int):
            raise TypeError("vmap: %s entries must be ints or None, got %r" % (what, a))
    return spec


def _tensor(x):
    if isinstance(x, _core.BaseVariable):
        return x.read_value()
    if isinstance(x, _core.Tensor):
        return x
    return _core.convert(x, None, "vmap")


def _moveaxis(t, src, dst):
    from tapegrad.ops.shape import transpose

    nd = len(t.shape)
    src %= nd
    dst %= nd
    if src == dst:
        return t
    perm = [i for i in range(nd) if i != src]
    perm.insert(dst, src)
    return transpose(t, perm)


def vmap(fun, in_axes=0, out_axes=0):
    """``fun`` mapped over a batch axis of its arguments, without a Python loop."""
    if not callable(fun):
        raise TypeError("vmap: expected a function, got %r" % (fun,))

    def batched(*args):
        if not args:
            raise ValueError("vmap: the function needs at least one argument")
        axes = _axes(in_axes, len(args), "in_axes")
        xs, sizes = [], set()
        for i, (a, ax) in enumerate(zip(args, axes)):
            t = _tensor(a)
            if ax is not None:
                nd = len(t.shape)
                if not -nd <= ax < nd:
                    raise ValueError("vmap: in_axes[%d] = %d is out of range for an "
                                     "argument of shape %s" % (i, ax, tuple(t.shape)))
                t = _moveaxis(t, ax, 0)
                sizes.add(int(t.shape[0]))
            xs.append(t)
        if not sizes:
            raise ValueError("vmap: in_axes maps no argument (all None)")
        if len(sizes) > 1:
            raise ValueError("vmap: the mapped axes have different sizes %s" % sorted(sizes))
        B = sizes.pop()
        # trace on one example (the first); the graph depends on shapes only
        example = [x[0] if ax is not None else x for x, ax in zip(xs, axes)]
        graph = _traced(fun, example)
        flat = graph.flat_outputs()
        outs = run(graph, xs, [0 if ax is not None else None for ax in axes], B, flat)
        oaxes = _axes(out_axes, len(flat), "out_axes")
        results = []
        for (val, bd), oax in zip(outs, oaxes):
            if oax is None:
                if bd == 0:
                    raise ValueError("vmap: out_axes None for an output that depends on "
                                     "the mapped inputs")
                results.append(val)
                continue
            if bd is None:
                from tapegrad.ops.shape import broadcast_to

                val = broadcast_to(val, (B,) + tuple(val.shape))
            results.append(_moveaxis(val, 0, oax) if oax != 0 else val)
        return nest.pack_sequence_as(graph.outputs, results)

    batched.__name__ = "vmap_%s" % getattr(fun, "__name__", "fn")
    batched.__doc__ = getattr(fun, "__doc__", None)
    return batched


_PLANS = weakref.WeakKeyDictionary()
_FLAT = weakref.WeakKeyDictionary()
_PEAK = weakref.WeakKeyDictionary()


def _plan(graph):
    """The graph's nodes as flat tuples (built once per graph; run() is the hot loop of
    every vmap call): (op, prim, output id, args template, [(position, value id)],
    params, variable, value ids last used here).  The last lets run() drop batched
    intermediates as soon as they are dead (a batch of B examples of each value)."""
    from tapegrad.graph.ir import Ref  # here: import tapegrad does not load graph/

    plan = _PLANS.get(graph)
    if plan is not None:
        return plan
    keep = {r.id for r in graph.flat_outputs() if type(r) is Ref}
    last = {}
    for k, node in enumerate(graph.nodes):
        for a in node.args:
            if type(a) is Ref:
                last[a.id] = k
    dead = [[] for _ in graph.nodes]
    for vid, k in last.items():
        if vid not in keep:
            dead[k].append(vid)
    plan = []
    for k, node in enumerate(graph.nodes):
        if node.op == "read_variable":
            plan.append((node.op, None, node.outputs[0], None, (), None, node.variable,
                         tuple(dead[k])))
            continue
        if node.prim is None or node.op.startswith("random_"):
            raise BatchingError("vmap: %s cannot be vectorised (a stateful or random op "
                                "in the function)" % node.op)
        refs = tuple((i, a.id) for i, a in enumerate(node.args) if type(a) is Ref)
        plan.append((node.op, node.prim, node.outputs[0], list(node.args), refs,
                     node.params, None, tuple(dead[k])))
    _PLANS[graph] = plan
    return plan


def run(graph, xs, bdims, B, flat=None):
    """[(value, bdim)] of the graph's outputs given its inputs and their batch dims."""
    from tapegrad.graph.ir import Ref

    env = dict(zip(graph.inputs, zip(xs, bdims)))
    for vid, t in graph.constants.items():
        env[vid] = (t, None)
    for op, prim, out, template, refs, params, variable, dead in _plan(graph):
        env[out] = _step(op, prim, template, refs, params, variable, env, B)
        for vid in dead:
            del env[vid]
    out = []
    for ref in (graph.flat_outputs() if flat is None else flat):
        if type(ref) is not Ref:
            out.append((_core.convert(ref, None, "vmap"), None))
        else:
            val, bd = env[ref.id]
            out.append((_basis.materialize(val), 0) if bd == "band" else (val, bd))
    return out


def _step(op, prim, template, refs, params, variable, env, B):
    """(value, bdim) of one node."""
    if prim is None:
        return variable.read_value(), None
    args = template[:]
    bds = None
    for i, vid in refs:
        v, bd = env[vid]
        args[i] = v
        if bd is not None:
            if bds is None:
                bds = [None] * len(args)
            bds[i] = bd
    if bds is None:
        return prim(*args, **params), None
    if "band" in bds:
        # an identity basis kept as diagonals (autodiff/_basis.py; hessian, jacobian)
        got = _basis.apply(op, prim, args, bds, params)
        if got is not None:
            return (got[1], 0) if type(got) is tuple else (got, "band")
        args = [_basis.materialize(a) if bd == "band" else a for a, bd in zip(args, bds)]
        bds = [0 if bd == "band" else bd for bd in bds]
    rule = prim.rule("batch")
    if rule is None or isinstance(rule, NotSupported):
        why = rule.reason if isinstance(rule, NotSupported) else "no batching rule yet"
        raise BatchingError("vmap: primitive %r has no batching rule (%s)" % (op, why))
    return rule(prim, B, args, bds, **params), 0


def example_peak_bytes(graph):
    """The most bytes of node values one example holds at once when run() drops values
    after their last use: B times this bounds a dense vmap's intermediates."""
    import math

    peak = _PEAK.get(graph)
    if peak is None:
        live = peak = 0
        for node, step in zip(graph.nodes, _plan(graph)):
            for vid in node.outputs:
                v = graph.values[vid]
                live += math.prod(v.shape) * v.dtype.itemsize
            peak = max(peak, live)
            for vid in step[-1]:
                v = graph.values[vid]
                if v.kind == "node":
                    live -= math.prod(v.shape) * v.dtype.itemsize
        _PEAK[graph] = peak
    return peak


def map_basis(fun, pos, args, n, dtype, max_bytes=None):
    """``fun`` mapped over the identity basis of R^n in argument ``pos`` (the other
    arguments shared): [stacked output per flat output].  The basis is carried as
    diagonals while the ops allow (autodiff/_basis.py), so this is for callers whose
    result need not be differentiable (no tape recording, no tg.function tracing).
    ([None], graph) when an output is not a tensor of the graph, or when a dense batch
    could hold more than ``max_bytes`` (then the caller takes another way)."""
    from tapegrad.graph.ir import Ref

    eye = _basis.identity(n, dtype)
    args = [_tensor(a) for a in args[:pos]] + [eye.d[0]] + [_tensor(a) for a in args[pos + 1:]]
    graph = _traced(fun, args)          # traced on a vector of the basis' shape
    xs = args[:pos] + [eye] + args[pos + 1:]
    bdims = [None] * pos + ["band"] + [None] * (len(args) - pos - 1)
    if max_bytes is not None and n * example_peak_bytes(graph) > max_bytes:
        return None, graph
    flat = _FLAT.get(graph)
    if flat is None:
        flat = _FLAT[graph] = graph.flat_outputs()
    if any(type(r) is not Ref for r in flat):
        return None, graph
    out = []
    for val, bd in run(graph, xs, bdims, n, flat):
        if bd is None:
            from tapegrad.ops.shape import broadcast_to

            val = broadcast_to(val, (n,) + tuple(val.shape))
        out.append(val)
    return out, graph


def vectorized_map(fn, elems):
    """TF's ``tf.vectorized_map``: ``fn`` over the first axis of ``elems`` (a tensor or
    a tuple of tensors, each unpacked into one argument)."""
    if isinstance(elems, (tuple, list)):
        return vmap(lambda *xs: fn(tuple(xs)) if len(xs) > 1 else fn(xs[0]))(*elems)
    return vmap(fn)(elems)
