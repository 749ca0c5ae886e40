"""Indexing primitives: getitem, gather (and their scatter-add adjoints getitem_grad and
gather_grad), one_hot and constant pad, each with its rules.

getitem/getitem_grad and gather/gather_grad are each other's adjoints, so each pair
lives together; pad's VJP is a getitem.  All but one_hot (not differentiable) and pad
(affine) are linear in their tensor input and declare ``deflinear()``.  ops/manip.py
builds the REFLECT/SYMMETRIC pads, take_along_axis and friends on these.
"""

import numpy as np

from tapegrad import _core
from tapegrad.ops._registry import (
    INT,
    NotSupported,
    as_dtype,
    define_rules,
    host_array,
    int_arg,
    norm_axis,
    not_differentiable,
    primitive,
    taylor_linear,
    tensor,
)
from tapegrad.ops._registry import onnx_rules as _onnx_rules


@primitive("getitem", save_inputs=False, save_output=False)
def _getitem(x, key):
    """NumPy basic/advanced indexing with a normalised key."""
    return x[_core.key_for_numpy(key)]


_getitem.deflinear()


@_getitem.defvjp
def _getitem_vjp(g, ans, x, key):
    return _getitem_grad(g, shape=x.shape, key=key)


@primitive("getitem_grad", save_inputs=False, save_output=False)
def _getitem_grad(g, shape, key):
    """Adjoint of getitem: zeros of ``shape`` with g added at ``key`` (repeats accumulate)."""
    out = np.zeros(shape, dtype=g.dtype)
    np_key = _core.key_for_numpy(key)
    if _is_basic_key(np_key):
        # Basic indexing selects each element at most once: a plain store is exact and
        # ~10x faster than np.add.at (a recurrent layer's per-step slices hit this).
        out[np_key] = g
    else:
        np.add.at(out, np_key, g)       # index arrays may repeat: accumulate
    return out


def _is_basic_key(key):
    items = key if isinstance(key, tuple) else (key,)
    return all(item is None or item is Ellipsis or isinstance(item, (slice, int, np.integer))
               for item in items)


_getitem_grad.deflinear()


@_getitem_grad.defvjp
def _getitem_grad_vjp(gg, ans, g, shape, key):
    return _getitem(gg, key=key)


@primitive("gather", same_dtype=(), save_output=False)
def _gather(params, indices, axis):
    """params.take(indices, axis) with indices checked against the axis size."""
    if indices.dtype.kind not in "iu":
        raise TypeError("gather: indices must be integers, got %s" % indices.dtype)
    n = params.shape[axis]
    if indices.size and (indices.min() < 0 or indices.max() >= n):
        # negative indices are rejected as on TensorFlow's CPU kernel (no wrap-around)
        bad = tuple(int(i) for i in np.argwhere((indices < 0) | (indices >= n))[0])
        raise IndexError("gather: indices%s = %d is out of range [0, %d) (axis %d of params "
                         "shape %s; negative indices are not supported)"
                         % (list(bad), indices[bad], n, axis, params.shape))
    return np.take(params, indices, axis=axis)


_gather.deflinear(0)


@_gather.defvjp
def _gather_vjp(g, ans, params, indices, axis):
    if axis == 0:
        # rows + indices instead of a mostly-zero tensor, where asked (issue 21)
        from tapegrad.ops import indexed_slices

        if indexed_slices.sparse_requested():
            return indexed_slices.gather_gradient(g, indices, params.shape), None
    return _gather_grad(g, indices, shape=params.shape, axis=axis), None


@primitive("gather_grad", same_dtype=(), save_output=False)
def _gather_grad(g, indices, shape, axis):
    """Adjoint of gather: scatter-add g into zeros of ``shape`` at ``indices``."""
    # np.add.at, also for 1-D: since NumPy 1.25 its loop is the fast one (69 us at 10^5
    # against bincount's 110 us), and NumPy 2.4's weighted bincount slows ~30x (4 ms)
    # on read-only inputs such as tensors' buffers
    out = np.zeros(shape, dtype=g.dtype)
    moved = np.moveaxis(out, axis, 0)
    gm = np.moveaxis(g, list(range(axis, axis + indices.ndim)), list(range(indices.ndim)))
    np.add.at(moved, indices, gm)
    return out


_gather_grad.deflinear(0)


@_gather_grad.defvjp
def _gather_grad_vjp(gg, ans, g, indices, shape, axis):
    return _gather(gg, indices, axis=axis), None


def gather(params, indices, axis=None, batch_dims=0, name=None):
    """Slices of ``params`` along ``axis`` (default 0) at integer ``indices``."""
    if batch_dims:
        raise ValueError("gather: batch_dims is not supported (use tg.gather on each batch "
                         "or tg.einsum with one_hot)")
    p = tensor(params, op="gather")
    idx = tensor(indices, op="gather")
    if p.ndim == 0:
        raise ValueError("gather: params must have rank >= 1")
    axis = norm_axis(0 if axis is None else axis, p.ndim, "gather")
    return _gather(p, idx, axis=axis)


@not_differentiable("one_hot", dtypes=INT)
def _one_hot(indices, depth, on_value, off_value, axis, dtype):
    """One-hot encoding; out-of-range indices give all-off rows, as in TF."""
    hit = np.expand_dims(indices, -1) == np.arange(depth)
    out = np.where(hit, on_value, off_value).astype(dtype)
    if axis != -1 and axis != out.ndim - 1:
        out = np.moveaxis(out, -1, axis)
    return out


def one_hot(indices, depth, on_value=None, off_value=None, axis=None, dtype=None, name=None):
    """One-hot encoding of integer ``indices`` along a new axis of size ``depth``."""
    idx = tensor(indices, op="one_hot")
    depth = int_arg(depth, "depth", "one_hot", minimum=0)
    dt = as_dtype(dtype if dtype is not None else np.float32, "one_hot")
    ax = -1 if axis is None else norm_axis(axis, idx.ndim + 1, "one_hot")
    return _one_hot(idx, depth=depth, on_value=1 if on_value is None else on_value,
                    off_value=0 if off_value is None else off_value, axis=ax, dtype=dt)


@primitive("pad", save_inputs=False, save_output=False)
def _pad(x, paddings, constant_values):
    """Constant padding."""
    return np.pad(x, paddings, mode="constant", constant_values=constant_values)


@_pad.defvjp
def _pad_vjp(g, ans, x, paddings, constant_values):
    key = tuple(slice(lo, lo + d) for (lo, _), d in zip(paddings, x.shape))
    return _getitem(g, key=key)


@_pad.defjvp
def _pad_jvp(ts, ans, x, paddings, constant_values):
    # affine, not linear: the padding is constant, so its tangent is 0
    return _pad(ts[0], paddings=paddings, constant_values=0)


def pad(tensor_, paddings, mode="CONSTANT", constant_values=0, name=None):
    """``tensor_`` padded with ``constant_values``: ``paddings[i] = [before, after]``."""
    x = tensor(tensor_, op="pad")
    mode = str(mode).upper()
    if mode not in ("CONSTANT", "REFLECT", "SYMMETRIC"):
        raise ValueError("pad: mode must be 'CONSTANT', 'REFLECT' or 'SYMMETRIC', got %r"
                         % (mode,))
    p = host_array(paddings, "paddings", "pad")
    if p.size == 0 and x.ndim == 0:
        from tapegrad.ops.elementwise import identity

        return identity(x)
    if p.shape != (x.ndim, 2) or p.dtype.kind not in "iu" or (p < 0).any():
        raise ValueError("pad: paddings must be a [%d, 2] array of non-negative ints, got %r"
                         % (x.ndim, paddings))
    pads = tuple(tuple(int(v) for v in row) for row in p)
    if mode != "CONSTANT":
        # REFLECT/SYMMETRIC are gathers built in ops/manip.py, which installs itself here
        # (it builds on this module, so this module does not import it, even lazily: that
        # would be an import cycle).  manip is a deferred family: in a process that has
        # not loaded it yet the slot is still empty, so have the registry load the
        # deferred families (without this, REFLECT failed with "'NoneType' object is not
        # callable" until something else had imported tapegrad.ops.manip).
        if _PAD_MODES[0] is None:
            _core.registry()
        return _PAD_MODES[0](x, pads, mode)
    return _pad(x, paddings=pads, constant_values=constant_values)


_PAD_MODES = [None]


# ---------------------------------------------------------------------------
# ONNX export rules (run by tapegrad.onnx.export through its context)

_BIG = 2 ** 62        # "to the end" for ONNX Slice (clamped by the runtime)


def _onnx_gather(ctx, node):
    params, indices = ctx.operands(node)
    return ctx.op("Gather", [params, indices], axis=int(node.params["axis"]))


def _onnx_pad(ctx, node):
    (x,) = ctx.operands(node)
    pads = node.params["paddings"]
    begins = [int(p[0]) for p in pads]
    ends = [int(p[1]) for p in pads]
    value = ctx.const(node.params["constant_values"], ctx.out().dtype)
    return ctx.op("Pad", [x, ctx.ints(begins + ends), value], mode="constant")


def _onnx_one_hot(ctx, node):
    # Equal against a range, then select: out-of-range (and negative) indices give an
    # all-off row, as TF's one_hot (ONNX's OneHot would wrap negative indices)
    (idx,) = ctx.operands(node)
    p = node.params
    depth = int(p["depth"])
    dt = ctx.out().dtype
    classes = ctx.const(np.arange(depth), ctx.value(node.args[0]).dtype)
    hit = ctx.op("Equal", [ctx.op("Unsqueeze", [idx, ctx.ints([-1])]), classes])
    out = ctx.op("Where", [hit, ctx.const(p["on_value"], dt), ctx.const(p["off_value"], dt)])
    rank = len(ctx.out().shape)
    axis = int(p["axis"])
    if axis in (-1, rank - 1):
        return out
    perm = list(range(rank - 1))
    perm.insert(axis, rank - 1)
    return ctx.op("Transpose", [out], perm=perm)


def _onnx_getitem(ctx, node):
    """Basic indexing (ints, slices, None, ...) and one integer index array."""
    (x,) = ctx.operands(node)
    ndim = len(ctx.value(node.args[0]).shape)
    key = list(node.params["key"])
    real = sum(1 for k in key if k is not None and k is not Ellipsis)
    if Ellipsis in key:
        at = key.index(Ellipsis)
        key[at:at + 1] = [slice(None)] * (ndim - real)
    else:
        key += [slice(None)] * (ndim - real)
    starts, ends, axes, steps = [], [], [], []
    drop, new_axes, gather = [], [], None
    axis = out_axis = 0
    for k in key:
        if k is None:
            new_axes.append(out_axis)
            out_axis += 1
            continue
        if isinstance(k, slice):
            if k != slice(None):
                step = 1 if k.step is None else int(k.step)
                if step > 0:
                    start = 0 if k.start is None else int(k.start)
                    stop = _BIG if k.stop is None else int(k.stop)
                else:
                    start = _BIG if k.start is None else int(k.start)
                    stop = -_BIG if k.stop is None else int(k.stop)
                starts.append(start)
                ends.append(stop)
                axes.append(axis)
                steps.append(step)
            out_axis += 1
        elif isinstance(k, int):
            starts.append(k)
            ends.append(_BIG if k == -1 else k + 1)
            axes.append(axis)
            steps.append(1)
            drop.append(axis)
        else:
            arr = getattr(k, "array", None)
            if arr is None or arr.dtype.kind not in "iu" or gather is not None:
                raise NotImplementedError(
                    "getitem: only ints, slices, None, ... and one integer index array "
                    "can be exported (boolean masks have data-dependent shapes)")
            gather = (axis, arr)
            out_axis += arr.ndim
        axis += 1
    if axes:
        x = ctx.op("Slice", [x, ctx.ints(starts), ctx.ints(ends), ctx.ints(axes),
                             ctx.ints(steps)])
    if gather is not None:
        g_axis, arr = gather
        x = ctx.op("Gather", [x, ctx.const(arr.astype(np.int64))], axis=g_axis)
        shift = arr.ndim - 1
        drop = [d + shift if d > g_axis else d for d in drop]
    if drop:
        x = ctx.op("Squeeze", [x, ctx.ints(drop)])
    if new_axes:
        x = ctx.op("Unsqueeze", [x, ctx.ints(new_axes)])
    if x == ctx.operands(node)[0]:
        x = ctx.op("Identity", [x])
    return x


_GRAD_ONLY = NotSupported("a gradient-only primitive: exported graphs are inference "
                          "forwards")
_onnx_rules({
    "gather": _onnx_gather, "pad": _onnx_pad, "one_hot": _onnx_one_hot,
    "getitem": _onnx_getitem, "getitem_grad": _GRAD_ONLY, "gather_grad": _GRAD_ONLY,
})


# ---------------------------------------------------------------------------
# Taylor-mode rules (tg.jet): linear in the tensor operand, so each Taylor coefficient
# goes through the forward on its own (pad's higher coefficients pad with 0)

def _taylor_rules():
    reg = _core.registered()
    for name, zero in (("getitem", ()), ("getitem_grad", ()), ("gather", ()),
                       ("gather_grad", ()), ("pad", ("constant_values",))):
        reg[name].defrule("taylor", taylor_linear(reg[name].cpu, zero))


_taylor_rules()


# ---------------------------------------------------------------------------
# batching rules (tg.vmap; ops/_batching.py)

def _advanced(key):
    return sum(1 for k in key if hasattr(k, "array"))


def _b_getitem(prim, B, args, bdims, key):
    from tapegrad.ops import _batching as Bt

    if _advanced(key) > 1:
        # NumPy moves several advanced indices to the front: per example instead
        return Bt.loop(prim, B, args, bdims, key=key)
    return prim(args[0], key=(slice(None),) + tuple(key))


def _b_getitem_grad(prim, B, args, bdims, shape, key):
    from tapegrad.ops import _batching as Bt

    if _advanced(key) > 1:
        return Bt.loop(prim, B, args, bdims, shape=shape, key=key)
    return prim(args[0], shape=(B,) + tuple(shape), key=(slice(None),) + tuple(key))


def _b_gather(prim, B, args, bdims, axis):
    from tapegrad.ops import _batching as Bt

    if bdims[1] is None:
        return prim(args[0], args[1], axis=axis + 1)
    return Bt.loop(prim, B, args, bdims, axis=axis)        # per-example indices


def _b_gather_grad(prim, B, args, bdims, shape, axis):
    from tapegrad.ops import _batching as Bt

    if bdims[1] is None:
        return prim(args[0], args[1], shape=(B,) + tuple(shape), axis=axis + 1)
    return Bt.loop(prim, B, args, bdims, shape=shape, axis=axis)


def _b_pad(prim, B, args, bdims, paddings, constant_values):
    return prim(args[0], paddings=((0, 0),) + tuple(tuple(p) for p in paddings),
                constant_values=constant_values)


def _b_one_hot(prim, B, args, bdims, axis, **params):
    return prim(args[0], axis=axis if axis < 0 else axis + 1, **params)


def _batch_rules():
    define_rules("batch", {
        "getitem": _b_getitem, "getitem_grad": _b_getitem_grad, "gather": _b_gather,
        "gather_grad": _b_gather_grad, "pad": _b_pad, "one_hot": _b_one_hot})


_batch_rules()
