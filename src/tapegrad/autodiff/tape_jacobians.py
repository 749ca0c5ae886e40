"""GradientTape.jacobian and batch_jacobian: one backward pass per row, replayed over
the tape's records (the cost model and memory bounds are described in jacobians.py,
which builds the function transformations on these helpers).

tape.py imports this module and it imports no tape: the two used to import each other.
"""

import numpy as np

from tapegrad import _core, _tape
from tapegrad.autodiff import nest
from tapegrad.autodiff._args import as_target, as_tensor, zero_mode
from tapegrad.ops._registry import format_shape as _fmt
from tapegrad.ops._registry import on_device, zeros_on_device


def _recording():
    """Whether an active tape would record ops run now (then results must stay
    differentiable)."""
    return any(t.paused == 0 for t in _core._active_tapes())


def _backward(core, targets, seeds, source_ids):
    core.paused += 1
    try:
        return _tape.imperative_grad(core, targets, seeds, source_ids)
    finally:
        core.paused -= 1


def _seed(target, i, value=1):
    arr = np.zeros(target.shape, dtype=target.dtype)
    arr.reshape(-1)[i] = value
    return on_device(arr, target)


def _feature_seed(target, j):
    """Ones at feature ``j`` of every example: examples are independent, so one pass
    gives row ``j`` of every per-example Jacobian."""
    arr = np.zeros(target.shape, dtype=target.dtype)
    arr.reshape(target.shape[0], -1)[:, j] = 1
    return on_device(arr, target)


def _zeros(shape, like):
    return zeros_on_device(shape, like.dtype, like)


def _collect(n, compute, blocks, zero, max_bytes, what):
    """Run ``compute(i)`` for i < n; each returns, per block, a tensor of the block's row
    shape or None.  Returns per block a tensor [n, *row_shape] (None if no row was
    connected and ``zero`` is off).  ``blocks`` are (row_shape, like_tensor) pairs."""
    row_bytes = sum(int(np.prod(s, dtype=np.int64)) * like.dtype.itemsize for s, like in blocks)
    chunk = n
    if max_bytes is not None:
        if max_bytes <= 0:
            raise ValueError("%s: max_bytes must be positive, got %r" % (what, max_bytes))
        if row_bytes > max_bytes:
            raise ValueError("%s: one Jacobian row needs %d bytes (row shapes %s) but "
                             "max_bytes=%d; raise the budget" % (
                                 what, row_bytes, ", ".join(_fmt(s) for s, _ in blocks),
                                 max_bytes))
        chunk = max(1, max_bytes // max(row_bytes, 1))
    if _recording():
        return _collect_tensors(n, compute, blocks, zero, chunk)
    return _collect_arrays(n, compute, blocks, zero)


def _collect_arrays(n, compute, blocks, zero):
    bufs = [None] * len(blocks)
    for i in range(n):
        for k, r in enumerate(compute(i)):
            if r is None:
                continue
            if bufs[k] is None:
                bufs[k] = np.zeros((n,) + tuple(blocks[k][0]), dtype=r.dtype)
            bufs[k][i] = r.numpy()
    out = []
    for (shape, like), buf in zip(blocks, bufs):
        if buf is None:
            out.append(_zeros((n,) + tuple(shape), like) if zero or n == 0 else None)
        else:
            out.append(on_device(buf, like))
    return out


def _collect_tensors(n, compute, blocks, zero, chunk):
    from tapegrad.ops.shape import concat, stack

    pieces = [[] for _ in blocks]
    rows = [[] for _ in blocks]
    connected = [False] * len(blocks)

    def flush():
        for k, (shape, like) in enumerate(blocks):
            if rows[k]:
                pieces[k].append(stack([_zeros(shape, like) if r is None else r
                                        for r in rows[k]]))
                rows[k] = []

    for i in range(n):
        for k, r in enumerate(compute(i)):
            rows[k].append(r)
            connected[k] = connected[k] or r is not None
        if (i + 1) % chunk == 0:
            flush()
    flush()
    out = []
    for k, (shape, like) in enumerate(blocks):
        if not connected[k]:
            out.append(_zeros((n,) + tuple(shape), like) if zero or n == 0 else None)
        else:
            out.append(pieces[k][0] if len(pieces[k]) == 1 else concat(pieces[k], 0))
    return out


def _source_ids(tape, sources, what):
    ids = []
    for s in sources:
        if isinstance(s, _core.BaseVariable):
            ids.append(list(tape._core.var_reads.get(s._unique_id, ())))
        elif isinstance(s, _core.Tensor):
            ids.append([s._id])
        else:
            raise TypeError("%s: sources must be tensors or variables, got %s"
                            % (what, type(s).__name__))
    return ids


def _finish_tape(tape):
    if not tape._persistent:
        tape._used = True
        tape._core.release()


def _real_target(target, what, tape):
    if target.dtype.kind == "c":
        _finish_tape(tape)
        raise TypeError("%s: target is %s; a complex target has no Jacobian in the "
                        "gradient convention: use tg.jacobian(f, holomorphic=True) for a "
                        "holomorphic f (dy/dz), or tg.real(target) and tg.imag(target)"
                        % (what, target.dtype.name))


def tape_jacobian(tape, target, sources, unconnected_gradients="none", max_bytes=None):
    """GradientTape.jacobian: per source, d target / d source with shape
    target.shape + source.shape (one backward pass per target element).  A complex
    source's rows are the gradients dy/dx + i dy/dy; a complex target is a TypeError
    (tg.jacobian(f, holomorphic=True) or the target's real and imaginary parts)."""
    from tapegrad.ops.shape import reshape

    what = "GradientTape.jacobian"
    zero = zero_mode(unconnected_gradients, what)
    target = as_target(target, what)
    _real_target(target, what, tape)
    flat = nest.flatten(sources)
    ids = _source_ids(tape, flat, what)
    values = [as_tensor(s, what) for s in flat]
    try:
        float_src = [k for k, v in enumerate(values) if v.dtype.kind in "fc"]
        blocks = [(values[k].shape, values[k]) for k in float_src]
        if target.dtype.kind == "f":
            sub_ids = [ids[k] for k in float_src]
            got = _collect(target.size,
                           lambda i: _backward(tape._core, [target], [_seed(target, i)],
                                               sub_ids),
                           blocks, zero, max_bytes, what)
        else:
            got = [_zeros((target.size,) + v.shape, v) if zero else None
                   for _, v in blocks]
    finally:
        _finish_tape(tape)
    out = [None] * len(values)
    for k, g in zip(float_src, got):
        out[k] = None if g is None else reshape(g, target.shape + values[k].shape)
    return nest.pack_sequence_as(sources, out)


def tape_batch_jacobian(tape, target, source, unconnected_gradients="none", max_bytes=None):
    """GradientTape.batch_jacobian: [b, *target.shape[1:], *source.shape[1:]], assuming
    example i of ``target`` depends only on example i of ``source`` (as TensorFlow
    does).  One backward pass per target feature, all examples at once."""
    from tapegrad.ops.shape import reshape, transpose

    what = "GradientTape.batch_jacobian"
    zero = zero_mode(unconnected_gradients, what)
    target = as_target(target, what)
    _real_target(target, what, tape)
    ids = _source_ids(tape, [source], what)
    src = as_tensor(source, what)
    try:
        if target.ndim < 1 or src.ndim < 1 or target.shape[0] != src.shape[0]:
            raise ValueError("%s: target and source need the same leading batch dimension, "
                             "got target %s and source %s" % (what, _fmt(target.shape),
                                                              _fmt(src.shape)))
        if src.dtype.kind not in "fc":
            raise TypeError("%s: source has dtype %s; only floating-point or complex "
                            "sources have gradients" % (what, src.dtype.name))
        b = target.shape[0]
        features = int(np.prod(target.shape[1:], dtype=np.int64))
        if target.dtype.kind == "f" and target.size:
            got = _collect(features,
                           lambda j: _backward(tape._core, [target],
                                               [_feature_seed(target, j)], ids),
                           [(src.shape, src)], zero, max_bytes, what)[0]
        else:
            got = _zeros((features,) + src.shape, src) if zero or not target.size else None
    finally:
        _finish_tape(tape)
    if got is None:
        return None
    # [features, b, *src_rest] -> [b, features, *src_rest] -> [b, *tgt_rest, *src_rest]
    perm = (1, 0) + tuple(range(2, got.ndim))
    return reshape(transpose(got, perm), (b,) + target.shape[1:] + src.shape[1:])
