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

from tapegrad import _core
from tapegrad.autodiff import nest
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


def run(graph, xs, bdims, B, flat=None):
    """[(value, bdim)] of the graph's outputs given its inputs and their batch dims."""
    from tapegrad.graph.ir import Ref  # here: import tapegrad does not load graph/
    env = {}
    for vid, x, bd in zip(graph.inputs, xs, bdims):
        env[vid] = (x, bd)
    for vid, t in graph.constants.items():
        env[vid] = (t, None)
    for node in graph.nodes:
        if node.op == "read_variable":
            env[node.outputs[0]] = (node.variable.read_value(), None)
            continue
        if node.prim is None or node.op.startswith("random_"):
            raise BatchingError("vmap: %s cannot be vectorised (a stateful or random op "
                                "in the function)" % node.op)
        args, bds = [], []
        for a in node.args:
            if type(a) is Ref:
                v, bd = env[a.id]
                args.append(v)
                bds.append(bd)
            else:
                args.append(a)
                bds.append(None)
        if all(bd is None for bd in bds):
            env[node.outputs[0]] = (node.prim(*args, **node.params), None)
            continue
        rule = node.prim.rule("batch")
        if rule is None or isinstance(rule, NotSupported):
            why = rule.reason if isinstance(rule, NotSupported) else "no batching rule yet"
            raise BatchingError("vmap: primitive %r has no batching rule (%s)"
                                % (node.op, why))
        env[node.outputs[0]] = (rule(node.prim, B, args, bds, **node.params), 0)
    out = []
    for ref in (graph.flat_outputs() if flat is None else flat):
        if type(ref) is not Ref:
            out.append((_core.convert(ref, None, "vmap"), None))
        else:
            out.append(env[ref.id])
    return out


def vectorized_map(fn, elems):
    """TF's ``tf.vectorized_map``: ``fn`` over the first axis of ``elems`` (a tensor or
    a tuple of tensors, each unpacked into one argument)."""
    if isinstance(elems, (tuple, list)):
        return vmap(lambda *xs: fn(tuple(xs)) if len(xs) > 1 else fn(xs[0]))(*elems)
    return vmap(fn)(elems)
