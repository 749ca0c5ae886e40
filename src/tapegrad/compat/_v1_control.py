"""``tf.map_fn``, ``tf.scan``, ``tf.foldl``, ``tf.foldr`` as eager Python loops.

Each unstacks its (nested) ``elems`` along axis 0, calls ``fn`` once per element, and
stacks the results with ``tg.stack``; everything is recorded by an active tape, so the
results differentiate (to any order) with respect to ``elems``, ``initializer`` and the
variables ``fn`` reads.  ``parallel_iterations``, ``back_prop``, ``swap_memory`` and
``infer_shape`` are graph-building knobs, accepted and ignored.
"""

from tapegrad import _core
from tapegrad.autodiff import nest
from tapegrad.ops.creation import convert_to_tensor
from tapegrad.ops.elementwise import cast
from tapegrad.ops.shape import stack, unstack

__all__ = ["map_fn", "scan", "foldl", "foldr"]


def _leaves(elems, op):
    flat = nest.flatten(elems)
    if not flat:
        raise ValueError("%s: elems is empty (no tensors)" % op)
    tensors = []
    for x in flat:
        t = x if isinstance(x, (_core.Tensor, _core.BaseVariable)) else convert_to_tensor(x)
        if t.ndim == 0:
            raise ValueError("%s: elems must have a leading axis to iterate over, got a "
                             "scalar" % op)
        tensors.append(t)
    n = tensors[0].shape[0]
    if any(t.shape[0] != n for t in tensors):
        raise ValueError("%s: the tensors in elems differ in their first dimension: %s"
                         % (op, [int(t.shape[0]) for t in tensors]))
    return tensors, n


def _slices(elems, op):
    """The per-step elements, each with ``elems``' structure."""
    tensors, n = _leaves(elems, op)
    columns = [unstack(t, num=n, axis=0) for t in tensors]
    return [nest.pack_sequence_as(elems, [c[i] for c in columns]) for i in range(n)], n


def _stack(results, op, dtype=None):
    structure = results[0]
    flat = [nest.flatten(r) for r in results]
    if any(len(f) != len(flat[0]) for f in flat):
        raise ValueError("%s: fn returned structures of different sizes" % op)
    dtypes = nest.flatten(dtype) if dtype is not None else None
    stacked = []
    for j in range(len(flat[0])):
        column = [convert_to_tensor(f[j]) if not isinstance(
            f[j], (_core.Tensor, _core.BaseVariable)) else f[j] for f in flat]
        if dtypes is not None and len(dtypes) == len(flat[0]):
            column = [cast(c, dtypes[j]) if c.dtype != dtypes[j] else c for c in column]
        stacked.append(stack(column, axis=0))
    return nest.pack_sequence_as(structure, stacked)


def map_fn(fn, elems, dtype=None, parallel_iterations=None, back_prop=True,
           swap_memory=False, infer_shape=True, name=None):
    """``stack([fn(e) for e in unstack(elems)])``, for nested ``elems`` and results.

    ``dtype`` (TF 1.x: the output structure's dtypes when they differ from ``elems``')
    casts the results.  Zero-length ``elems`` raise: without a graph the output's shape
    cannot be inferred without calling ``fn``."""
    if not callable(fn):
        raise TypeError("map_fn: fn must be callable, got %s" % type(fn).__name__)
    slices, n = _slices(elems, "map_fn")
    if n == 0:
        raise ValueError("map_fn: elems has length 0 along axis 0; the result's shape is "
                         "unknown without calling fn")
    return _stack([fn(s) for s in slices], "map_fn", dtype)


def _fold(fn, elems, initializer, reverse, op, keep_all):
    if not callable(fn):
        raise TypeError("%s: fn must be callable, got %s" % (op, type(fn).__name__))
    slices, n = _slices(elems, op)
    if reverse:
        slices = slices[::-1]
    if initializer is None:
        if n == 0:
            raise ValueError("%s: elems is empty and no initializer was given" % op)
        acc, rest = slices[0], slices[1:]
    else:
        acc, rest = initializer, slices
    history = [acc] if initializer is None else []
    for x in rest:
        acc = fn(acc, x)
        history.append(acc)
    if not keep_all:
        return acc
    if not history:
        raise ValueError("%s: elems has length 0; the result's shape is unknown" % op)
    if reverse:
        history = history[::-1]
    return _stack(history, op)


def scan(fn, elems, initializer=None, parallel_iterations=10, back_prop=True,
         swap_memory=False, infer_shape=True, reverse=False, name=None):
    """The running accumulation ``a_i = fn(a_{i-1}, e_i)`` stacked along axis 0.

    Without ``initializer`` the first element starts the accumulation (and is the first
    output); ``reverse=True`` runs from the end and stores results in input order."""
    return _fold(fn, elems, initializer, reverse, "scan", keep_all=True)


def foldl(fn, elems, initializer=None, parallel_iterations=10, back_prop=True,
          swap_memory=False, name=None):
    """``fn(...fn(fn(init, e0), e1)..., e_last)``; the final accumulator."""
    return _fold(fn, elems, initializer, False, "foldl", keep_all=False)


def foldr(fn, elems, initializer=None, parallel_iterations=10, back_prop=True,
          swap_memory=False, name=None):
    """Like :func:`foldl`, from the last element to the first."""
    return _fold(fn, elems, initializer, True, "foldr", keep_all=False)
