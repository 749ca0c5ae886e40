"""Forward mode: tg.jvp, tg.ForwardAccumulator, and the JAX-style tg.vjp.

How tangents are pushed forward
-------------------------------
The function runs once on a tape that watches the primals.  The tape's records are
then replayed in recording order (tensor ids grow with creation, so that order is
topological), carrying one tangent per tensor: each record's primitive gives the
output tangent with its own JVP rule, ``prim.jvp``, declared beside its forward and
VJP in ops/*.py (docs/architecture.md §3).  A rule is hand-written (``@prim.defjvp``),
the op itself for linear ops (``prim.deflinear()``), or the transposed VJP
(``prim.defjvp_by_transposition()``, for custom gradients and fused adjoints: ``u ->
VJP(u)`` is linear in the cotangent ``u``, so the VJP of that map seeded with the
input tangents is ``J t``).  This module keeps no rules of its own.

All of it runs through ordinary dispatch, so tapes active around the call record it:
a JVP is differentiable again, to any order (forward-over-forward, forward-over-reverse,
nested ForwardAccumulators).  A custom gradient whose grad_fn is not linear in ``dy``
(gradient clipping) is linearised at ``dy = 0``, where clipping is the identity.
"""

from tapegrad import _core
from tapegrad._tape import Meta
from tapegrad.autodiff import nest
from tapegrad.autodiff._args import as_tensor as _tensor
from tapegrad.autodiff._args import zero_mode
from tapegrad.autodiff.tape import GradientTape
from tapegrad.ops._registry import format_shape as _shape


def check_tangent(primal, tangent, what, label, of="its primal"):
    """``tangent`` as a tensor of ``primal``'s shape and dtype, or a precise error."""
    if tangent is None:
        return None
    if primal.dtype.kind not in "fc":
        raise TypeError("%s: %s is given for a value of dtype %s; only floating-point values "
                        "carry tangents (pass None)" % (what, label, primal.dtype.name))
    if isinstance(tangent, (_core.Tensor, _core.BaseVariable)):
        t = _tensor(tangent, what)
        if t.dtype != primal.dtype:
            raise TypeError("%s: %s has dtype %s but %s has dtype %s"
                            % (what, label, t.dtype.name, of, primal.dtype.name))
    else:
        t = _core.convert(tangent, primal.dtype, what)
    if t.shape != primal.shape:
        raise ValueError("%s: %s has shape %s but %s has shape %s"
                         % (what, label, _shape(t.shape), of, _shape(primal.shape)))
    if t.device != primal.device:
        t = t.to(primal.device)
    return t


def _paired_leaves(primals, tangents, what):
    """Flatten primals and tangents (lists of tensors or nested structures) in step."""
    if not isinstance(primals, (list, tuple)):
        raise TypeError("%s: primals must be a list or tuple (one entry per argument of f), "
                        "got %s" % (what, type(primals).__name__))
    if not isinstance(tangents, (list, tuple)):
        raise TypeError("%s: tangents must be a list or tuple matching primals, got %s"
                        % (what, type(tangents).__name__))
    if len(tangents) != len(primals):
        raise ValueError("%s: got %d tangents for %d primals" % (what, len(tangents),
                                                                len(primals)))
    flat_p, flat_t = [], []
    for i, (p, t) in enumerate(zip(primals, tangents)):
        leaves = [_tensor(x, what) for x in nest.flatten(p)]
        tleaves = [None] * len(leaves) if t is None else nest.flatten(t)
        if len(tleaves) != len(leaves):
            raise ValueError("%s: tangent %d has %d leaves but primal %d has %d"
                             % (what, i, len(tleaves), i, len(leaves)))
        for j, (x, v) in enumerate(zip(leaves, tleaves)):
            label = "tangent %d" % i if len(leaves) == 1 else "tangent %d[%d]" % (i, j)
            flat_t.append(check_tangent(x, v, what, label))
        flat_p.extend(leaves)
    return flat_p, flat_t


def _fresh(t):
    """A recorded copy with its own id, so a tensor passed as two primals gets two tangents."""
    from tapegrad.ops.elementwise import identity

    return identity(t) if t.dtype.kind in "fc" else t


def _record_args(rec):
    """What a rule or VJP sees of a record: saved tensors, or shape/dtype descriptors."""
    inputs = rec.inputs if rec.inputs is not None else \
        tuple(Meta(shape, dtype) for shape, dtype in rec.input_meta)
    ans = rec.output if rec.output is not None else Meta(*rec.out_meta)
    return ans, inputs


class ForwardPlan:
    """The records of a tape that lead to ``targets``, in recording order, ready for
    pushing tangents through them any number of times (jvp once, jacfwd per column).

    Ids grow with creation, so sorting the records by output id is a topological order.
    """

    def __init__(self, core, targets):
        producers = core.producers
        needed = []
        seen = set()
        stack = [t._id for t in targets]
        while stack:
            tid = stack.pop()
            if tid in seen:
                continue
            seen.add(tid)
            rec = producers.get(tid)
            if rec is not None:
                needed.append(tid)
                stack.extend(rec.input_ids)
        needed.sort()
        self.core = core
        self.target_ids = [t._id for t in targets]
        self.steps = []
        for oid in needed:
            rec = producers[oid]
            if rec.prim.jvp is None:
                raise LookupError("forward mode: op %r has no JVP rule (declare one beside "
                                  "its forward with defjvp, deflinear or "
                                  "defjvp_by_transposition)" % rec.prim.name)
            ans, inputs = _record_args(rec)
            self.steps.append((oid, rec.input_ids, rec.prim.jvp, ans, inputs, rec.params))

    def push(self, seeds):
        """Tangents of the targets given ``seeds`` ({tensor id: tangent}); None where a
        target gets no tangent."""
        tangents = dict(seeds)
        get = tangents.get
        self.core.paused += 1
        try:
            for oid, ids, rule, ans, inputs, params in self.steps:
                tins = tuple([get(i) for i in ids])
                if tins.count(None) == len(tins):
                    continue
                t = rule(tins, ans, *inputs, **params)
                if t is not None:
                    tangents[oid] = t
        finally:
            self.core.paused -= 1
        return [get(i) for i in self.target_ids]


def _zero_fill(outs, tans):
    from tapegrad.ops.elementwise import zeros_like

    return [zeros_like(y) if t is None else t for y, t in zip(outs, tans)]


def jvp(f, primals, tangents):
    """Forward-mode derivative: ``(f(*primals), J(primals) @ tangents)``.

    ``primals`` and ``tangents`` are lists/tuples with one entry per argument of ``f``
    (a tensor, or a nested structure of tensors with a tangent of the same structure;
    ``None`` means a zero tangent).  The outputs may be any nested structure of tensors;
    the tangents come back in the same structure, zeros where an output does not depend
    on the primals.  Variables that ``f`` reads are constants here.  Exact to any order
    (see the module docstring).
    """
    flat_p, flat_t = _paired_leaves(primals, tangents, "jvp")
    fresh = [_fresh(p) for p in flat_p]
    args = _repack(primals, fresh)
    watched = [k for k, p in enumerate(fresh) if p.dtype.kind in "fc"]
    with GradientTape(watch_accessed_variables=False) as tape:
        tape.watch([fresh[k] for k in watched])
        out = f(*args)
    flat_out = [_tensor(y, "jvp") for y in nest.flatten(out)]
    seeds = {fresh[k]._id: flat_t[k] for k in watched if flat_t[k] is not None}
    tans = ForwardPlan(tape._core, flat_out).push(seeds)
    tape._core.release()
    return out, nest.pack_sequence_as(out, _zero_fill(flat_out, tans))


def _repack(primals, fresh):
    it = iter(fresh)
    out = []
    for p in primals:
        if not nest._is_seq(p):
            out.append(next(it))
        else:
            n = len(nest.flatten(p))
            out.append(nest.pack_sequence_as(p, [next(it) for _ in range(n)]))
    return out


class ForwardAccumulator:
    """TF-style forward accumulator: ``with ForwardAccumulator(x, v) as acc: y = f(x)``,
    then ``acc.jvp(y)`` is the directional derivative of ``y`` along ``v``.

    ``primals`` is a tensor, variable, or nested structure of them; ``tangents`` has the
    same structure.  Only ops run inside the ``with`` block are tracked, as in
    TensorFlow; a target computed elsewhere has no tangent (None, or zeros with
    ``unconnected_gradients="zero"``).  Accumulators nest for higher order.
    """

    def __init__(self, primals, tangents):
        flat_p = nest.flatten(primals)
        flat_t = nest.flatten(tangents)
        if len(flat_p) != len(flat_t):
            raise ValueError("ForwardAccumulator: got %d tangents for %d primals"
                             % (len(flat_t), len(flat_p)))
        self._sources = []
        self._tangents = []
        for i, (p, t) in enumerate(zip(flat_p, flat_t)):
            if not isinstance(p, (_core.Tensor, _core.BaseVariable)):
                raise TypeError("ForwardAccumulator: primals must be tensors or variables, "
                                "got %s (convert with tg.constant first so f can use the "
                                "same tensor)" % type(p).__name__)
            self._sources.append(p)
            self._tangents.append(check_tangent(_tensor(p, "ForwardAccumulator"), t,
                                                "ForwardAccumulator", "tangent %d" % i))
        self._tape = GradientTape(persistent=True, watch_accessed_variables=False)
        self._tape.watch([p for p in self._sources if p.dtype.kind in "fc"])
        self._entered = False

    def __enter__(self):
        if self._entered:
            raise RuntimeError("ForwardAccumulator: the context can be entered only once")
        self._entered = True
        self._tape.__enter__()
        return self

    def __exit__(self, *exc):
        return self._tape.__exit__(*exc)

    def jvp(self, primals, unconnected_gradients="none"):
        """Tangent of ``primals`` (a tensor or nested structure) along the accumulator's
        tangents."""
        zero = zero_mode(unconnected_gradients, "ForwardAccumulator.jvp")
        flat = [_tensor(y, "ForwardAccumulator.jvp") for y in nest.flatten(primals)]
        core = self._tape._core
        seeds = {}
        for p, t in zip(self._sources, self._tangents):
            if t is None:
                continue
            if isinstance(p, _core.BaseVariable):
                for i in core.var_reads.get(p._unique_id, ()):
                    seeds[i] = t
            else:
                seeds[p._id] = t
        tans = ForwardPlan(core, flat).push(seeds)
        if zero:
            tans = _zero_fill(flat, tans)
        return nest.pack_sequence_as(primals, tans)


def vjp(f, *primals, has_aux=False):
    """JAX-style reverse mode: ``(f(*primals), vjp_fn)`` with ``vjp_fn(cotangent)``
    returning one gradient per primal (zeros where unconnected; None for integer primals).

    The cotangent has the structure of the output.  ``vjp_fn`` may be called any number
    of times; under an outer tape it is differentiable.  With ``has_aux=True``, ``f``
    returns ``(out, aux)`` and the result is ``(out, vjp_fn, aux)``.
    """
    args = []
    for p in primals:
        leaves = [_fresh(_tensor(x, "vjp")) for x in nest.flatten(p)]
        args.append(leaves[0] if not nest._is_seq(p) else nest.pack_sequence_as(p, leaves))
    flat_args = nest.flatten(args)
    tape = GradientTape(persistent=True, watch_accessed_variables=False)
    with tape:
        tape.watch([a for a in flat_args if a.dtype.kind in "fc"])
        res = f(*args)
    if has_aux:
        if not (isinstance(res, (tuple, list)) and len(res) == 2):
            raise ValueError("vjp(has_aux=True): the function must return (out, aux)")
        out, aux = res
    else:
        out, aux = res, None
    flat_out = [_tensor(y, "vjp") for y in nest.flatten(out)]
    name = getattr(f, "__name__", "f")

    def vjp_fn(cotangent):
        flat_ct = nest.flatten(cotangent)
        if len(flat_ct) != len(flat_out):
            raise ValueError("vjp_fn of %s: got %d cotangents for %d outputs"
                             % (name, len(flat_ct), len(flat_out)))
        targets, seeds = [], []
        for i, (y, c) in enumerate(zip(flat_out, flat_ct)):
            if c is None or y.dtype.kind not in "fc":
                continue
            targets.append(y)
            seeds.append(check_tangent(y, c, "vjp_fn of %s" % name, "cotangent %d" % i,
                                       of="output %d" % i))
        grads = tape.gradient(targets, flat_args, output_gradients=seeds,
                              unconnected_gradients="zero") if targets else \
            _zero_fill(flat_args, [None] * len(flat_args))
        return tuple(nest.pack_sequence_as(args, grads))

    return (out, vjp_fn, aux) if has_aux else (out, vjp_fn)
