"""Manipulation and indexing functions of the array API standard (broadcast, concat,
flip, moveaxis, reshape, roll, stack, tile, repeat, take, ...).

Floating inputs run tapegrad ops, so results are differentiable; integer / bool ones
(no derivative) may run NumPy directly.
"""

import builtins

import numpy as np

from tapegrad.numpy import _base as B
from tapegrad.numpy._creation import _shape
from tapegrad.ops import indexing as I
from tapegrad.ops import shape as S
from tapegrad.ops import sorting as SO

__all__, _export = B.exporter()


def _norm_axis(axis, ndim, op):
    if not -ndim <= axis < ndim if ndim else axis not in (0, -1):
        raise IndexError("%s: axis %d is out of range for rank %d" % (op, axis, ndim))
    return axis % builtins.max(ndim, 1)


@_export
def broadcast_arrays(*arrays):
    arrays = [B.as_tensor(a, op="broadcast_arrays") for a in arrays]
    shape = np.broadcast_shapes(*[a.shape for a in arrays])
    return [a if a.shape == shape else S.broadcast_to(a, shape) for a in arrays]


@_export
def broadcast_to(x, /, shape):
    x = B.as_tensor(x, op="broadcast_to")
    shape = _shape(shape)
    if np.broadcast_shapes(x.shape, shape) != shape:
        raise ValueError("broadcast_to: cannot broadcast %s to %s" % (x.shape, shape))
    return x if x.shape == shape else S.broadcast_to(x, shape)


@_export
def concat(arrays, /, *, axis=0):
    arrays = B.promote(*arrays, op="concat")
    if axis is None:
        arrays = [S.reshape(a, (-1,)) for a in arrays]
        axis = 0
    if len(arrays) == 1:
        return arrays[0]
    return S.concat(arrays, axis)


@_export
def expand_dims(x, /, axis=0):
    x = B.as_tensor(x, op="expand_dims")
    if not -x.ndim - 1 <= axis <= x.ndim:
        raise IndexError("expand_dims: axis %d out of range for rank %d" % (axis, x.ndim))
    return S.expand_dims(x, axis)


@_export
def flip(x, /, *, axis=None):
    from tapegrad.ops.manip import reverse

    x = B.as_tensor(x, op="flip")
    if axis is None:
        axis = list(range(x.ndim))
    elif not isinstance(axis, (list, tuple)):
        axis = [axis]
    for a in axis:
        _norm_axis(a, x.ndim, "flip")
    return reverse(x, list(axis))


@_export
def moveaxis(x, source, destination, /):
    x = B.as_tensor(x, op="moveaxis")
    src = source if isinstance(source, (list, tuple)) else [source]
    dst = destination if isinstance(destination, (list, tuple)) else [destination]
    if len(src) != len(dst):
        raise ValueError("moveaxis: source and destination differ in length")
    perm = list(range(x.ndim))
    src = [_norm_axis(a, x.ndim, "moveaxis") for a in src]
    dst = [_norm_axis(a, x.ndim, "moveaxis") for a in dst]
    if len(set(src)) != len(src) or len(set(dst)) != len(dst):
        raise ValueError("moveaxis: repeated axis in source %r or destination %r"
                         % (source, destination))
    rest = [a for a in perm if a not in src]
    order = [None] * x.ndim
    for s, d in zip(src, dst):
        order[d] = s
    it = iter(rest)
    order = [next(it) if o is None else o for o in order]
    return S.transpose(x, order) if order != perm else x


@_export
def permute_dims(x, /, axes):
    x = B.as_tensor(x, op="permute_dims")
    return S.transpose(x, [_norm_axis(int(a), x.ndim, "permute_dims") for a in axes])


@_export
def reshape(x, /, shape, *, copy=None):
    x = B.as_tensor(x, op="reshape")
    return S.reshape(x, _shape(shape))


@_export
def roll(x, /, shift, *, axis=None):
    from tapegrad.ops.manip import roll as _roll

    x = B.as_tensor(x, op="roll")
    if axis is None:
        return S.reshape(_roll(S.reshape(x, (-1,)), shift, 0), x.shape)
    return _roll(x, shift, axis)


@_export
def squeeze(x, /, axis):
    x = B.as_tensor(x, op="squeeze")
    axes = axis if isinstance(axis, (list, tuple)) else (axis,)
    return S.squeeze(x, [_norm_axis(a, x.ndim, "squeeze") for a in axes])


@_export
def stack(arrays, /, *, axis=0):
    arrays = B.promote(*arrays, op="stack")
    return S.stack(arrays, axis)


@_export
def tile(x, repetitions, /):
    x = B.as_tensor(x, op="tile")
    reps = tuple(repetitions)
    nd = builtins.max(x.ndim, len(reps))
    x = S.reshape(x, (1,) * (nd - x.ndim) + x.shape) if x.ndim < nd else x
    return S.tile(x, (1,) * (nd - len(reps)) + reps)


@_export
def unstack(x, /, *, axis=0):
    x = B.as_tensor(x, op="unstack")
    return tuple(S.unstack(x, axis=axis))


@_export
def repeat(x, repeats, /, *, axis=None):
    from tapegrad.ops.manip import repeat as _repeat

    x = B.as_tensor(x, op="repeat")
    if isinstance(repeats, B.Tensor):
        repeats = repeats.numpy()
    return _repeat(x, repeats, axis)


# ---------------------------------------------------------------------------
# indexing

@_export
def take(x, indices, /, *, axis=None):
    x = B.as_tensor(x, op="take")
    if axis is None:
        if x.ndim != 1:
            raise ValueError("take: axis is required for arrays of rank != 1")
        axis = 0
    idx = B.as_tensor(indices, op="take")
    n = x.shape[_norm_axis(axis, x.ndim, "take")] if x.ndim else 0
    iv = B.values(idx)
    if iv.size and iv.dtype.kind == "i" and iv.min() < 0:
        # the standard counts negative indices from the end (within [-n, n))
        if iv.min() < -n:
            raise IndexError("take: index %d is out of range for an axis of size %d"
                             % (int(iv.min()), n))
        idx = B.wrap(np.where(iv < 0, iv + n, iv))
    return I.gather(x, idx, axis=axis)


@_export
def take_along_axis(x, indices, /, *, axis=-1):
    return SO.take_along_axis(B.as_tensor(x, op="take_along_axis"),
                              B.as_tensor(indices, op="take_along_axis"), axis)
