"""Array manipulation built from the shape primitives: reverse, roll, repeat, meshgrid,
boolean_mask and REFLECT / SYMMETRIC padding.

Each is a composition of getitem / concat / gather / reshape / broadcast_to, so its
gradients (both modes, any order) are those primitives' rules.
"""

import math

import numpy as np

from tapegrad import _core
from tapegrad.ops import indexing as I
from tapegrad.ops import shape as S
from tapegrad.ops._registry import (
    host_array,
    norm_axes,
    norm_axis,
    primitive,
    taylor_linear,
    tensor,
)


def _int_list(v, op, what):
    a = host_array(v, what, op)
    if a.dtype.kind not in "iu" and not (a.size == 0):
        raise TypeError("%s: %s must be integers, got %r" % (op, what, v))
    if a.ndim > 1:
        # a nested list ([[0]]) is not a list of axes/shifts; flattening it hid the mistake
        raise ValueError("%s: %s must be an int or a 1-D list of ints, got %r" % (op, what, v))
    return [int(i) for i in a.reshape(-1)]


def reverse(tensor_, axis, name=None):
    """``tensor`` with the listed axes reversed."""
    x = tensor(tensor_, op="reverse")
    nd = x.ndim
    if type(axis) is int or (type(axis) is list and len(axis) == 1 and type(axis[0]) is int):
        # the common spelling (reverse(x, [0])) skips the array round trip: the result
        # is a reversed view, so the checks are the whole cost at any size
        a = axis if type(axis) is int else axis[0]
        if -nd <= a < nd:
            a %= nd
            return I._getitem(x, key=(_FULL,) * a + (_BACK,))
    axes = norm_axes(_int_list(axis, "reverse", "axis"), nd, "reverse")
    if not axes:
        return x
    key = tuple(_BACK if i in axes else _FULL for i in range(nd))
    return I._getitem(x, key=key)


_FULL = slice(None)
_BACK = slice(None, None, -1)


def roll(input, shift, axis, name=None):
    """Elements shifted by ``shift`` along ``axis`` (wrapping around), TF's roll."""
    x = tensor(input, op="roll")
    shifts = _int_list(shift, "roll", "shift")
    axes = _int_list(axis, "roll", "axis")
    if len(shifts) != len(axes):
        raise ValueError("roll: shift %s and axis %s must have the same length"
                         % (shifts, axes))
    total = {}
    for s, a in zip(shifts, axes):
        a = norm_axis(a, x.ndim, "roll")
        total[a] = total.get(a, 0) + s  # repeated axes add up, as in TF
    for a, s in sorted(total.items()):
        n = x.shape[a]
        if n == 0 or s % n == 0:
            continue
        s %= n
        lead = (slice(None),) * a
        x = S._concat(I._getitem(x, key=lead + (slice(n - s, n),)),
                      I._getitem(x, key=lead + (slice(0, n - s),)), axis=a)
    return x


def repeat(input, repeats, axis=None, name=None):
    """Each element repeated ``repeats`` times along ``axis`` (flattened when None)."""
    x = tensor(input, op="repeat")
    if axis is None:
        x = S.reshape(x, (-1,))
        axis = 0
    if x.ndim == 0:
        x = S.reshape(x, (1,))
    axis = norm_axis(axis, x.ndim, "repeat")
    reps = host_array(repeats, "repeats", "repeat")
    if reps.dtype.kind not in "iu" or reps.ndim > 1 or (reps < 0).any():
        raise ValueError("repeat: repeats must be a non-negative int or 1-D int list, got %r"
                         % (repeats,))
    n = x.shape[axis]
    if reps.ndim == 1 and reps.size not in (1, n):
        raise ValueError("repeat: %d repeats for an axis of size %d" % (reps.size, n))
    if reps.ndim == 0 or reps.size == 1:
        # one count for all: np.repeat itself (merging a broadcast axis instead copies a
        # stride-0 view, ~2x slower than np.repeat at 10^5)
        return _repeat(x, repeats=int(reps.reshape(())), axis=axis)
    idx = np.repeat(np.arange(n, dtype=np.intp), reps.reshape(-1))
    return I._gather(x, _core.wrap(idx), axis=axis)


@primitive("repeat", save_inputs=False, save_output=False)
def _repeat(x, repeats, axis):
    """Each entry repeated ``repeats`` times along ``axis`` (np.repeat, one count)."""
    return np.repeat(x, repeats, axis=axis)


_repeat.deflinear()


@_repeat.defvjp
def _repeat_vjp(g, ans, x, repeats, axis):
    # entry i feeds outputs i*r .. i*r + r - 1: split that axis in two and sum the copies
    shape = tuple(x.shape[:axis]) + (x.shape[axis], repeats) + tuple(x.shape[axis + 1:])
    return S._sum(S.reshape(g, shape), axes=(axis + 1,), keepdims=False)


def _repeat_rules():
    from tapegrad import _core as core
    from tapegrad.ops import _batching as Bt
    from tapegrad.ops._registry import NotSupported

    prim = core.registered()["repeat"]
    prim.defrule("taylor", taylor_linear(prim.cpu))
    prim.defrule("batch", Bt.shift_axes("axis"))
    prim.defrule("onnx", NotSupported("repeat is not exported yet (ONNX spells it as "
                                      "Unsqueeze + Expand + Reshape)"))


_repeat_rules()


def meshgrid(*args, **kwargs):
    """Coordinate grids from 1-D tensors; ``indexing='xy'`` (default) or ``'ij'``."""
    indexing = kwargs.pop("indexing", "xy")
    kwargs.pop("name", None)
    if kwargs:
        raise TypeError("meshgrid: unexpected arguments %s" % sorted(kwargs))
    if indexing not in ("xy", "ij"):
        raise ValueError("meshgrid: indexing must be 'xy' or 'ij', got %r" % (indexing,))
    xs = [tensor(a, op="meshgrid") for a in args]
    xs = [S.reshape(a, (-1,)) if a.ndim != 1 else a for a in xs]
    shape = [a.shape[0] for a in xs]
    if indexing == "xy" and len(xs) >= 2:
        shape[0], shape[1] = shape[1], shape[0]
    out = []
    for i, a in enumerate(xs):
        pos = i
        if indexing == "xy" and len(xs) >= 2 and i < 2:
            pos = 1 - i
        view = [1] * len(xs)
        view[pos] = a.shape[0]
        out.append(S.broadcast_to(S.reshape(a, tuple(view)), tuple(shape)))
    return out


def boolean_mask(tensor_, mask, axis=None, name=None):
    """The entries (or slices) of ``tensor`` where ``mask`` is True, as in TF."""
    x = tensor(tensor_, op="boolean_mask")
    m = host_array(mask, "mask", "boolean_mask")
    if m.dtype != np.bool_:
        raise TypeError("boolean_mask: mask must be bool, got %s" % m.dtype)
    a = 0 if axis is None else norm_axis(axis, x.ndim, "boolean_mask")
    k = m.ndim
    if k == 0:
        raise ValueError("boolean_mask: mask must have rank >= 1")
    if tuple(x.shape[a:a + k]) != m.shape:
        raise ValueError("boolean_mask: mask shape %s does not match tensor shape %s at "
                         "axis %d" % (m.shape, x.shape, a))
    merged = x.shape[:a] + (math.prod(m.shape),) + x.shape[a + k:]
    x = S.reshape(x, merged)
    return I._gather(x, _core.wrap(np.flatnonzero(m).astype(np.intp)), axis=a)


def _stop(i):
    return None if i < 0 else i


def pad_indexed(x, paddings, mode):
    """REFLECT / SYMMETRIC padding: per padded axis, the mirrored edge slices (views)
    concatenated around x, so the forward is one copy per axis."""
    edge = 1 if mode == "REFLECT" else 0  # REFLECT leaves the edge element out
    for ax, (lo, hi) in enumerate(paddings):
        if not lo and not hi:
            continue
        n = x.shape[ax]
        limit = n - edge
        if lo > limit or hi > limit:
            raise ValueError("pad: %s padding (%d, %d) on axis %d needs at most %d (the "
                             "axis has size %d)" % (mode, lo, hi, ax, limit, n))
        lead = (slice(None),) * ax
        parts = []
        if lo:
            parts.append(I._getitem(x, key=lead + (slice(lo - 1 + edge, _stop(edge - 1), -1),)))
        parts.append(x)
        if hi:
            start = n - 1 - edge
            parts.append(I._getitem(x, key=lead + (slice(start, _stop(start - hi), -1),)))
        x = S._concat(*parts, axis=ax)
    return x


I._PAD_MODES[0] = pad_indexed      # tg.pad's REFLECT/SYMMETRIC modes
