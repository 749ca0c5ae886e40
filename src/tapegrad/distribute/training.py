"""DistributedGradientTape and DistributedOptimizer: data-parallel training steps.

Each rank computes the gradient of its own batch; the gradients are averaged over
the ranks (fused buckets, non-blocking, overlapping the backward pass) so every rank
applies the same update and the replicas stay identical.  With per-rank batch B on
N ranks this is one step on the batch of N·B, when the loss is a mean over the batch.
"""

import numpy as np

import tapegrad as tg
from tapegrad import _core, _tape
from tapegrad.autodiff import nest
from tapegrad.distribute import _mpi, fusion
from tapegrad.distribute.collectives import Average, Sum, _op, allgather, allreduce


def _is_sparse(g):
    # an IndexedSlices-style gradient of a row lookup: rows + indices
    return (g is not None and not isinstance(g, _core.Tensor)
            and hasattr(g, "values") and hasattr(g, "indices"))


def _reduce_sparse(g, average):
    # rows are gathered, not densified: the result holds every rank's rows (an
    # optimizer sums repeated indices), scaled by 1/N for an average
    values = allgather(g.values, name="sparse gradient values")
    indices = allgather(g.indices, name="sparse gradient indices")
    if average:
        values = values / _mpi.size()
    return type(g)(values, indices, getattr(g, "dense_shape", None))


class DistributedGradientTape:
    """Wrap a ``GradientTape`` so ``gradient()`` returns gradients averaged over ranks.

    Use it like Horovod's::

        with tg.GradientTape() as tape:
            loss = loss_fn(model(x), y)
        tape = dist.DistributedGradientTape(tape)
        grads = tape.gradient(loss, model.trainable_variables)

    or as ``with dist.DistributedGradientTape(tg.GradientTape()) as tape:``.  Gradients
    are fused into buckets (``fusion_threshold`` bytes, default 64 MiB or
    ``TAPEGRAD_FUSION_THRESHOLD``) reduced while the backward pass still runs.
    ``op=Sum`` sums instead of averaging.  While an outer tape records (higher-order
    derivatives of a distributed loss), each gradient is reduced with the
    differentiable ``allreduce`` instead, so the result can be differentiated again.
    """

    def __init__(self, tape, op=Average, fusion_threshold=None, sparse_as_dense=False):
        if isinstance(tape, DistributedGradientTape):
            tape = tape._tape
        if not isinstance(tape, tg.GradientTape):
            raise TypeError("DistributedGradientTape: expected a tg.GradientTape, got %s"
                            % type(tape).__name__)
        op = _op(op, "DistributedGradientTape")
        if op not in (Average, Sum):
            raise ValueError("DistributedGradientTape: op must be Average or Sum, got %r" % op)
        _mpi.comm()
        self._tape = tape
        self._average = op is Average
        self._threshold = fusion.threshold() if fusion_threshold is None else int(
            fusion_threshold)
        self._sparse_as_dense = bool(sparse_as_dense)
        self._plans = {}

    def __enter__(self):
        self._tape.__enter__()
        return self

    def __exit__(self, *exc):
        return self._tape.__exit__(*exc)

    def __getattr__(self, name):
        return getattr(self._tape, name)

    def _plan(self, sources):
        shapes = tuple(tuple(s.shape) for s in sources)
        dtypes = tuple(np.dtype(s.dtype) for s in sources)
        key = (shapes, dtypes)
        plan = self._plans.get(key)
        if plan is None:
            plan = self._plans[key] = fusion.Plan(shapes, dtypes, self._threshold)
        return plan

    def gradient(self, target, sources, output_gradients=None, unconnected_gradients="none"):
        """The gradient of ``target`` with respect to ``sources``, averaged over ranks."""
        flat = nest.flatten(sources)
        if _core._active_tapes():
            grads = self._tape.gradient(target, sources, output_gradients,
                                        unconnected_gradients)
            op = Average if self._average else Sum
            reduced = [None if g is None else allreduce(g, op, name="gradient")
                       for g in nest.flatten(grads)]
            return nest.pack_sequence_as(sources, reduced)
        for s in flat:
            if not isinstance(s, (_core.Tensor, _core.BaseVariable)):
                raise TypeError("DistributedGradientTape.gradient: sources must be tensors "
                                "or variables, got %s" % type(s).__name__)
        plan = self._plan(flat)
        reducer = fusion.Reducer(plan, self._average, "DistributedGradientTape.gradient")
        grads = self._run(target, flat, output_gradients, reducer)
        sparse = {}
        for i, g in enumerate(grads):
            if _is_sparse(g):
                if self._sparse_as_dense:
                    grads[i] = tg.convert_to_tensor(g)
                else:
                    sparse[i] = g
                    grads[i] = None
        reduced = reducer.finish(grads)
        for i, g in sorted(sparse.items()):
            reduced[i] = _reduce_sparse(g, self._average)
        if getattr(unconnected_gradients, "value", unconnected_gradients) == "zero":
            reduced = [tg.zeros_like(s) if g is None and np.dtype(s.dtype).kind == "f" else g
                       for g, s in zip(reduced, flat)]
        return nest.pack_sequence_as(sources, reduced)

    def _run(self, target, flat, output_gradients, reducer):
        tape = self._tape
        tape._check_usable("gradient")
        targets = [t if isinstance(t, _core.Tensor) else tg.convert_to_tensor(t)
                   for t in nest.flatten(target)]
        if output_gradients is None:
            seeds = [_core.ones_like_fast(t) for t in targets]
        else:
            seeds = [tg.convert_to_tensor(g) for g in nest.flatten(output_gradients)]
        ids = _tape.flat_source_ids(tape._core, flat)
        owner = {}
        for i, group in enumerate(ids):
            for tid in group:
                owner.setdefault(tid, []).append(i)
        remaining = [len(group) for group in ids]
        parts = [[] for _ in ids]

        def on_ready(tid, g):
            for i in owner.get(tid, ()):
                parts[i].append(g)
                remaining[i] -= 1
                if remaining[i] == 0 and not _is_sparse(g):
                    total = parts[i][0] if len(parts[i]) == 1 else tg.add_n(parts[i])
                    if total.dtype.kind == "c":
                        # the walk's internal gradients of complex values are conjugated
                        # (tape.gradient returns dL/dx + i dL/dy); match what it returns
                        total = tg.math.conj(total)
                    reducer.ready(i, total)

        return tape._run(targets, seeds, ids, on_ready)


class _ReducedPairs(list):
    """(gradient, variable) pairs already averaged over ranks (no second allreduce)."""


def _distributed_tape(self, tape):
    return DistributedGradientTape(tape, Average if self._dist_average else Sum,
                                   self._dist_threshold)


def _reduced_pairs(self, pairs):
    return _ReducedPairs(pairs)


def _distributed_apply(self, grads_and_vars, global_step=None, name=None):
    pairs = grads_and_vars if isinstance(grads_and_vars, _ReducedPairs) else None
    if pairs is None:
        pairs = list(grads_and_vars)
        grads = [g for g, _ in pairs]
        variables = [v for _, v in pairs]
        reducer = fusion.Reducer(
            fusion.Plan(tuple(tuple(v.shape) for v in variables),
                        tuple(np.dtype(v.dtype) for v in variables), self._dist_threshold),
            self._dist_average, "DistributedOptimizer.apply_gradients")
        dense = [None if _is_sparse(g) else (g if g is None or isinstance(g, _core.Tensor)
                                              else tg.convert_to_tensor(g)) for g in grads]
        reduced = reducer.finish(dense)
        for i, g in enumerate(grads):
            if _is_sparse(g):
                reduced[i] = _reduce_sparse(g, self._dist_average)
        pairs = list(zip(reduced, variables))
    return self._dist_base.apply_gradients(self, pairs, global_step=global_step, name=name)


def DistributedOptimizer(optimizer, op=Average, fusion_threshold=None):  # noqa: N802
    """An optimizer that averages gradients over ranks before applying them.

    ``minimize`` computes gradients through a ``DistributedGradientTape`` (fused,
    overlapped); ``apply_gradients`` averages the gradients it is given (unless they
    came from this optimizer's ``compute_gradients``, already averaged).  The result
    is an instance of a subclass of the optimizer's own class sharing its state, so
    checkpoints, slots and hyperparameters behave exactly as the original's.
    """
    base = type(optimizer)
    if getattr(optimizer, "_dist_base", None) is not None:
        return optimizer
    if not isinstance(optimizer, tg.optimizers.Optimizer):
        raise TypeError("DistributedOptimizer: expected a tapegrad optimizer, got %s"
                        % base.__name__)
    op = _op(op, "DistributedOptimizer")
    if op not in (Average, Sum):
        raise ValueError("DistributedOptimizer: op must be Average or Sum, got %r" % op)
    _mpi.comm()
    cls = type(base.__name__, (base,), {
        "_gradient_tape": _distributed_tape,
        "_pairs": _reduced_pairs,
        "apply_gradients": _distributed_apply,
        "__module__": base.__module__,
        "__doc__": base.__doc__,
    })
    dist = cls.__new__(cls)
    dist.__dict__.update(optimizer.__dict__)
    dist._dist_base = base
    dist._dist_average = op is Average
    dist._dist_threshold = fusion.threshold() if fusion_threshold is None else int(
        fusion_threshold)
    return dist
