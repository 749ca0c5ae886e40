"""Shape primitives: reshape, transpose, broadcast_to, concat, tile, plus compositions
built on them (expand_dims, squeeze, stack, unstack, split, shape, size, rank).

``reduce_sum`` is defined here too, beside ``broadcast_to``: the two are each other's
adjoint, and with both in one module the tile VJP and the engine's unbroadcast
(``sum_to``) need no import of reductions.py, which builds on this module.  Every op
here is linear in its tensor input and declares ``deflinear()``: its JVP is the op on
the tangent.  The indexing primitives (getitem, gather, one_hot, pad) are in
ops/indexing.py.
"""

import math

import numpy as np

from tapegrad import _core, _kernels
from tapegrad._core import Tensor as _Tensor
from tapegrad._core import apply as _apply
from tapegrad.ops._registry import (
    NUMERIC,
    as_dtype,
    define_rules,
    int_arg,
    norm_axes,
    norm_axis,
    norm_shape,
    primitive,
    taylor_linear,
    tensor,
    tensor_list,
)
from tapegrad.ops._registry import format_shape as _fmt
from tapegrad.ops._registry import onnx_rules as _onnx_rules
from tapegrad.ops.indexing import _getitem


def _resolve_shape(shape, size, op):
    shape = list(shape)
    unknown = [i for i, d in enumerate(shape) if d == -1]
    if len(unknown) > 1 or any(d < -1 for d in shape):
        raise ValueError("%s: invalid target shape %s" % (op, _fmt(shape)))
    known = 1
    for d in shape:
        if d != -1:
            known *= d
    if unknown:
        if known == 0 or size % known:
            raise ValueError("%s: cannot reshape a tensor of %d elements to %s"
                             % (op, size, _fmt(shape)))
        shape[unknown[0]] = size // known
    elif known != size:
        raise ValueError("%s: cannot reshape a tensor of %d elements to %s"
                         % (op, size, _fmt(shape)))
    return tuple(shape)


@primitive("reshape", save_inputs=False, save_output=False)
def _reshape(x, shape):
    """x with a new shape of the same size (a view when possible)."""
    return x.reshape(shape)


_reshape.deflinear()


@_reshape.defvjp
def _reshape_vjp(g, ans, x, shape):
    return _reshape(g, shape=x.shape)


def reshape(tensor_, shape, name=None):
    """``tensor_`` with a new shape of the same size; one entry may be -1 (inferred)."""
    x = tensor(tensor_, op="reshape")
    shape = _resolve_shape(norm_shape(shape, "reshape"), x.size, "reshape")
    if shape == x.shape:
        return x
    return _reshape(x, shape=shape)


@primitive("transpose", save_inputs=False, save_output=False)
def _transpose(x, perm):
    """Axes permuted by ``perm``."""
    return np.transpose(x, perm)


_transpose.deflinear()


@_transpose.defvjp
def _transpose_vjp(g, ans, x, perm):
    return _transpose(g, perm=tuple(np.argsort(perm).tolist()))


def transpose(a, perm=None, conjugate=False, name=None):
    """``a`` with its axes permuted by ``perm`` (default: reversed), conjugated too with
    ``conjugate=True``."""
    x = tensor(a, op="transpose")
    if perm is None:
        perm = tuple(range(x.ndim - 1, -1, -1))
    else:
        perm = norm_shape(perm, "transpose")
        if sorted(perm) != list(range(x.ndim)):
            raise ValueError("transpose: perm %s is not a permutation of the %d axes of shape %s"
                             % (list(perm), x.ndim, _fmt(x.shape)))
    out = _transpose(x, perm=tuple(perm))
    if conjugate and x.dtype.kind == "c":  # TF's conjugate=True: a no-op on real input
        # the conj primitive by name: ops/complex.py builds on this module
        out = _core.registry()["conj"](out)
    return out


def matrix_transpose(a, name=None):
    """``a`` with its last two axes swapped."""
    x = tensor(a, op="matrix_transpose")
    if x.ndim < 2:
        raise ValueError("matrix_transpose: needs rank >= 2, got shape %s" % _fmt(x.shape))
    perm = tuple(range(x.ndim - 2)) + (x.ndim - 1, x.ndim - 2)
    return _transpose(x, perm=perm)


@primitive("broadcast_to", save_inputs=False, save_output=False)
def _broadcast_to(x, shape):
    """x broadcast to ``shape``: materialised when small (so later ops on it take the
    contiguous fast paths, and np.broadcast_to's Python overhead is skipped), a
    read-only view when large (no memory blow-up)."""
    if len(shape) and math.prod(shape) <= 65536:
        out = np.empty(shape, dtype=x.dtype)
        out[...] = x
        return out
    return np.broadcast_to(x, shape)


_broadcast_to.deflinear()
# a 0-d float value broadcast small (a loss's gradient through its reduction) is copied
# by the dispatcher itself (_core._unary_fast, the same NumPy copy as above)
_broadcast_to.unary_code = _core.UNARY_BROADCAST


@_broadcast_to.defvjp
def _broadcast_to_vjp(g, ans, x, shape):
    # the engine's single unbroadcast (sum_to) reduces g back to x's shape
    return g


def broadcast_to(input, shape, name=None):
    """``input`` broadcast to ``shape`` (NumPy's rules)."""
    x = tensor(input, op="broadcast_to")
    shape = norm_shape(shape, "broadcast_to")
    if shape == x.shape:
        return x
    try:
        np.broadcast_shapes(x.shape, shape)
    except ValueError:
        raise ValueError("broadcast_to: cannot broadcast shape %s to %s"
                         % (_fmt(x.shape), _fmt(shape))) from None
    if len(shape) < x.ndim or np.broadcast_shapes(x.shape, shape) != shape:
        raise ValueError("broadcast_to: cannot broadcast shape %s to %s"
                         % (_fmt(x.shape), _fmt(shape)))
    return _broadcast_to(x, shape=shape)


def kept_shape(shape, axes):
    """``shape`` with the reduced ``axes`` kept as 1s."""
    return tuple(1 if i in axes else d for i, d in enumerate(shape))


@primitive("reduce_sum", dtypes=NUMERIC, save_inputs=False, save_output=False, quiet=True)
def _sum(x, axes, keepdims):
    """Sum over ``axes`` (a normalised tuple)."""
    k = len(axes)
    if 0 < k < x.ndim and x.size >= 4096 and axes == tuple(range(k)) and \
            math.prod(x.shape[k:]) > 1:
        # leading axes of a big float array (a bias gradient): a row-accumulating
        # kernel, bit-identical to NumPy's order here and several times faster (a
        # single kept element would be NumPy's pairwise sum, so it stays there)
        out = _kernels.sum_rows(x, math.prod(x.shape[:k]))
        if out is not None:
            return out.reshape(((1,) * k if keepdims else ()) + x.shape[k:])
    if k == x.ndim and type(x) is np.ndarray:
        # a full sum (a loss; the unbroadcast of a scalar's gradient): NumPy's pairwise
        # loop without its reduction set-up, in parts on the pool when large (None for
        # other dtypes and layouts)
        out = _kernels.sum_all(x)
        if out is not None:
            return out.reshape((1,) * k) if keepdims else out
    if k == 1 and axes[0] == x.ndim - 1 and x.ndim > 1 and x.size >= 1 << 17 and \
            type(x) is np.ndarray:
        # a row reduction of a big array: rows split over the pool (None: other layouts)
        out = _kernels.sum_last(x)
        if out is not None:
            return out[..., None] if keepdims else out
    # the ufunc method directly: np.sum's Python wrapper costs more than a small sum
    return np.add.reduce(x, axis=axes, keepdims=keepdims, dtype=x.dtype)


_sum.deflinear()
# a full float sum (a loss; the unbroadcast of a scalar's gradient) runs sum_all from the
# dispatcher (_core._unary_fast), the branch above without its Python frame
_sum.unary_code = _core.UNARY_SUM_ALL


@_sum.defvjp
def _sum_vjp(g, ans, x, axes, keepdims):
    # straight to the primitives: the shapes are known to be consistent here
    if not g.ndim:
        # a 0-d g (a full reduction) broadcasts as it is (what the lines below do for it)
        return g if not x.ndim else _broadcast_to(g, shape=x.shape)
    kept = kept_shape(x.shape, axes)
    if not keepdims and g.ndim and g.shape != kept:
        # (a 0-d g, from a full reduction, broadcasts as it is)
        g = _reshape(g, shape=kept)
    return g if g.shape == x.shape else _broadcast_to(g, shape=x.shape)


# (x.shape, target) -> (axes, keepdims, reshape): the plan is pure shape arithmetic, and
# a training loop asks for the same few (every bias gradient) on every step.
_SUM_TO_PLANS = {}


def _sum_to_plan(xshape, shape):
    lead = len(xshape) - len(shape)
    if lead < 0 or any(d != 1 and xshape[lead + i] != d for i, d in enumerate(shape)):
        raise ValueError("sum_to: cannot reduce shape %s to %s" % (_fmt(xshape), _fmt(shape)))
    kept = tuple(lead + i for i, d in enumerate(shape) if d == 1 and xshape[lead + i] != 1)
    axes = tuple(range(lead)) + kept
    # only leading axes to drop: a plain reduction lands on the target shape directly
    keepdims = bool(kept)
    if axes:
        out = tuple(1 if i in axes else d for i, d in enumerate(xshape)) if keepdims else \
            xshape[lead:]
    else:
        out = xshape
    plan = (axes, keepdims, out != shape)
    if len(_SUM_TO_PLANS) < 4096:
        _SUM_TO_PLANS[(xshape, shape)] = plan
    return plan


def sum_to(x, shape):
    """Sum ``x`` down to ``shape`` (the inverse of broadcasting): the engine's unbroadcast."""
    # (runs for every broadcast operand's gradient: the array's own shape tuple rather
    # than a TensorShape, and apply() rather than the primitive's keyword check)
    if type(x) is not _Tensor:
        x = tensor(x, op="sum_to")
    if type(shape) is not tuple:
        shape = tuple(shape)
    xshape = x._data.shape
    plan = _SUM_TO_PLANS.get((xshape, shape))
    axes, keepdims, reshape_after = plan if plan is not None else _sum_to_plan(xshape, shape)
    if axes:
        x = _apply(_sum, (x,), {"axes": axes, "keepdims": keepdims})
    if reshape_after:
        x = _apply(_reshape, (x,), {"shape": shape})
    return x


def expand_dims(input, axis, name=None):
    """``input`` with a new axis of size 1 at ``axis``."""
    x = tensor(input, op="expand_dims")
    axis = norm_axis(axis, x.ndim + 1, "expand_dims")
    return _reshape(x, shape=x.shape[:axis] + (1,) + x.shape[axis:])


def squeeze(input, axis=None, name=None):
    """``input`` without its size-1 axes (all of them, or those in ``axis``)."""
    x = tensor(input, op="squeeze")
    if axis is None:
        axes = tuple(i for i, d in enumerate(x.shape) if d == 1)
    else:
        axes = norm_axes(axis, x.ndim, "squeeze")
        for a in axes:
            if x.shape[a] != 1:
                raise ValueError("squeeze: cannot squeeze axis %d of size %d (shape %s)"
                                 % (a, x.shape[a], _fmt(x.shape)))
    shape = tuple(d for i, d in enumerate(x.shape) if i not in axes)
    return x if shape == x.shape else _reshape(x, shape=shape)


@primitive("concat", save_inputs=False, save_output=False)
def _concat(*xs, axis):
    """Join along ``axis``."""
    return np.concatenate(xs, axis=axis)


_concat.deflinear()


@_concat.defvjp
def _concat_vjp(g, ans, *xs, axis):
    grads, start = [], 0
    for x in xs:
        stop = start + x.shape[axis]
        key = (slice(None),) * axis + (slice(start, stop),)
        grads.append(_getitem(g, key=key))
        start = stop
    return tuple(grads)


def concat(values, axis, name=None):
    """The tensors in ``values`` joined along the existing ``axis``."""
    values = tensor_list(values, "concat")
    if not values:
        raise ValueError("concat: needs at least one tensor")
    ndim = values[0].ndim
    if ndim == 0:
        raise ValueError("concat: cannot concatenate 0-d tensors (use stack)")
    axis = norm_axis(axis, ndim, "concat")
    for v in values[1:]:
        if v.ndim != ndim or any(a != b for i, (a, b) in enumerate(zip(v.shape, values[0].shape))
                                 if i != axis):
            raise ValueError("concat: shapes %s do not match except along axis %d"
                             % (", ".join(_fmt(t.shape) for t in values), axis))
    if len(values) == 1:
        return values[0]
    return _concat(*values, axis=axis)


def stack(values, axis=0, name=None):
    """The same-shape tensors in ``values`` stacked along a new ``axis``."""
    values = tensor_list(values, "stack")
    if not values:
        raise ValueError("stack: needs at least one tensor")
    shape = values[0].shape
    for v in values[1:]:
        if v.shape != shape:
            raise ValueError("stack: shapes differ: %s" % ", ".join(_fmt(t.shape) for t in values))
    axis = norm_axis(axis, len(shape) + 1, "stack")
    return concat([expand_dims(v, axis) for v in values], axis)


def unstack(value, num=None, axis=0, name=None):
    """The slices of ``value`` along ``axis``, as a list of tensors."""
    x = tensor(value, op="unstack")
    axis = norm_axis(axis, x.ndim, "unstack")
    n = x.shape[axis]
    if num is not None and int_arg(num, "num", "unstack") != n:
        raise ValueError("unstack: num=%d but axis %d has size %d" % (num, axis, n))
    return [_getitem(x, key=(slice(None),) * axis + (i,)) for i in range(n)]


def split(value, num_or_size_splits, axis=0, num=None, name=None):
    """``value`` split along ``axis`` into equal parts or parts of the given sizes."""
    x = tensor(value, op="split")
    axis = norm_axis(axis, x.ndim, "split")
    n = x.shape[axis]
    if isinstance(num_or_size_splits, (int, np.integer)):
        k = int(num_or_size_splits)
        if k <= 0 or n % k:
            raise ValueError("split: axis %d of size %d cannot be split into %d equal parts"
                             % (axis, n, k))
        sizes = [n // k] * k
    else:
        sizes = list(norm_shape(num_or_size_splits, "split"))
        if sizes.count(-1) == 1:
            sizes[sizes.index(-1)] = n - (sum(sizes) + 1)
        if sum(sizes) != n or any(s < 0 for s in sizes):
            raise ValueError("split: sizes %s do not add up to %d (axis %d)" % (sizes, n, axis))
    out, start = [], 0
    for s in sizes:
        out.append(_getitem(x, key=(slice(None),) * axis + (slice(start, start + s),)))
        start += s
    return out


@primitive("tile", save_inputs=False, save_output=False)
def _tile(x, multiples):
    """x repeated ``multiples[i]`` times along each axis."""
    return np.tile(x, multiples)


_tile.deflinear()


@_tile.defvjp
def _tile_vjp(g, ans, x, multiples):
    split_shape = []
    for m, d in zip(multiples, x.shape):
        split_shape += [m, d]
    g = _reshape(g, shape=tuple(split_shape))
    g = _sum(g, axes=tuple(range(0, 2 * x.ndim, 2)), keepdims=False)
    return g


def tile(input, multiples, name=None):
    """``input`` repeated ``multiples[i]`` times along each axis i."""
    x = tensor(input, op="tile")
    multiples = norm_shape(multiples, "tile")
    if len(multiples) != x.ndim or any(m < 0 for m in multiples):
        raise ValueError("tile: multiples %s must be %d non-negative ints for shape %s"
                         % (list(multiples), x.ndim, _fmt(x.shape)))
    return _tile(x, multiples=multiples)


def _index_dtype(out_type, op):
    # out_type of shape/size: an integer dtype (TF: int32 or int64); np.array(..., dtype=
    # 'junk') would raise NumPy's "data type not understood" without the op's name
    dt = as_dtype(out_type, op)
    if dt.kind not in "iu":
        raise TypeError("%s: out_type must be an integer dtype, got %s" % (op, dt.name))
    return dt


def shape(input, out_type=np.int32, name=None):
    """The shape of ``input`` as a 1-D integer tensor."""
    x = tensor(input, op="shape")
    return _core.wrap(np.array(x.shape, dtype=_index_dtype(out_type, "shape")))


def size(input, out_type=np.int32, name=None):
    """The number of elements of ``input`` as a 0-d integer tensor."""
    x = tensor(input, op="size")
    return _core.wrap(np.array(x.size, dtype=_index_dtype(out_type, "size")))


def rank(input, name=None):
    """The number of axes of ``input`` as a 0-d int32 tensor."""
    x = tensor(input, op="rank")
    return _core.wrap(np.array(x.ndim, dtype=np.int32))



# ---------------------------------------------------------------------------
# ONNX export rules (run by tapegrad.onnx.export through its context)

_BIG = 2 ** 62        # "to the end" for ONNX Slice (clamped by the runtime)


def _onnx_target_shape(ctx, vid_out, shape, key="shape"):
    # a shape parameter that changed with the batch size: the batch entry becomes
    # -1 (reshape: inferred) so one file serves every batch
    shape = list(shape)
    if ctx.batch_param(key):
        out_val = ctx.graph.values[vid_out]
        shape = [-1 if ctx.batch.is_batch(vid_out, i) else d for i, d in enumerate(shape)]
        if shape.count(-1) > 1:
            raise ValueError("%s: more than one dimension of %s depends on the batch size"
                             % (ctx.node.op, out_val.type_str()))
    return shape


def _onnx_reshape(ctx, node):
    (x,) = ctx.operands(node)
    shape = _onnx_target_shape(ctx, node.outputs[0], node.params["shape"])
    return ctx.op("Reshape", [x, ctx.ints(shape)])


def _onnx_transpose(ctx, node):
    (x,) = ctx.operands(node)
    return ctx.op("Transpose", [x], perm=[int(p) for p in node.params["perm"]])


def _onnx_broadcast_to(ctx, node):
    (x,) = ctx.operands(node)
    shape = list(node.params["shape"])
    if ctx.batch_param("shape"):
        # Expand broadcasts: 1 keeps whatever the input has on the batch axis
        shape = [1 if ctx.batch.is_batch(node.outputs[0], i) else d
                 for i, d in enumerate(shape)]
    return ctx.op("Expand", [x, ctx.ints(shape)])


def _onnx_concat(ctx, node):
    return ctx.op("Concat", ctx.operands(node), axis=int(node.params["axis"]))


def _onnx_tile(ctx, node):
    (x,) = ctx.operands(node)
    return ctx.op("Tile", [x, ctx.ints(node.params["multiples"])])


_onnx_rules({
    "reshape": _onnx_reshape, "transpose": _onnx_transpose,
    "broadcast_to": _onnx_broadcast_to, "concat": _onnx_concat, "tile": _onnx_tile,
})


# ---------------------------------------------------------------------------
# Taylor-mode rules (tg.jet): these primitives are linear in their tensor operand, so
# each Taylor coefficient goes through the forward on its own

def _t_concat(*xs, axis):
    return np.concatenate(xs, axis=axis + 1)


def _taylor_rules():
    from tapegrad import _core

    reg = _core.registered()
    for name in ("reshape", "transpose", "broadcast_to", "tile"):
        reg[name].defrule("taylor", taylor_linear(reg[name].cpu))
    reg["concat"].defrule("taylor", _t_concat)


_taylor_rules()


# ---------------------------------------------------------------------------
# batching rules (tg.vmap; ops/_batching.py)

def _b_reshape(prim, B, args, bdims, shape):
    return prim(args[0], shape=(B,) + tuple(shape))


def _b_transpose(prim, B, args, bdims, perm):
    return prim(args[0], perm=(0,) + tuple(int(p) + 1 for p in perm))


def _b_broadcast_to(prim, B, args, bdims, shape):
    from tapegrad.ops import _batching as Bt

    x = Bt.align(args[0], bdims[0], len(shape))
    return prim(x, shape=(B,) + tuple(shape))


def _b_tile(prim, B, args, bdims, multiples):
    return prim(args[0], multiples=(1,) + tuple(multiples))


def _b_concat(prim, B, args, bdims, axis):
    from tapegrad.ops import _batching as Bt

    return prim(*[Bt.materialize(a, bd, B) for a, bd in zip(args, bdims)], axis=axis + 1)


def _batch_rules():
    define_rules("batch", {
        "reshape": _b_reshape, "transpose": _b_transpose, "broadcast_to": _b_broadcast_to,
        "tile": _b_tile, "concat": _b_concat})


_batch_rules()
