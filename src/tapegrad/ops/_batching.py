"""Helpers of the primitives' "batch" rules (tg.vmap).

A rule is ``rule(prim, B, args, bdims, **params) -> Tensor``: ``args`` are the node's
operands (tensors, or Python literals), ``bdims[i]`` is 0 where operand i carries the
batch as its leading axis and None where it is shared by every example; the result
carries the batch as its leading axis.  Rules run tapegrad ops (``prim(...)``,
reshapes, transposes), so a vmapped function stays differentiable by outer tapes.
"""

import numpy as np

from tapegrad import _core


def _prim(name):
    # primitives by name: this module sits below the op modules that use it
    return _core.registered()[name]


def rank(a, bd):
    """Per-example rank of an operand."""
    return np.ndim(a) - (1 if bd == 0 else 0) if not isinstance(a, _core.Tensor) else \
        len(a.shape) - (1 if bd == 0 else 0)


def align(a, bd, r_out):
    """A batched operand reshaped so it broadcasts against per-example rank ``r_out``
    operands (ones inserted behind the batch axis); others unchanged."""
    if bd != 0:
        return a
    r = len(a.shape) - 1
    if r >= r_out:
        return a
    shape = tuple(a.shape)
    return _prim("reshape")(a, shape=(shape[0],) + (1,) * (r_out - r) + shape[1:])


def materialize(a, bd, B):
    """Every operand batched: a shared one is broadcast along a new leading axis."""
    if bd == 0:
        return a
    a = a if isinstance(a, _core.Tensor) else _core.convert(a, None, "vmap")
    return _prim("broadcast_to")(a, shape=(B,) + tuple(a.shape))


def merge(a):
    """(B, N, ...) -> (B*N, ...): the batch folded into an op's own batch axis."""
    s = tuple(a.shape)
    return _prim("reshape")(a, shape=(s[0] * s[1],) + s[2:])


def split(a, B):
    s = tuple(a.shape)
    return _prim("reshape")(a, shape=(B, s[0] // B) + s[1:])


def elementwise(prim, B, args, bdims, **params):
    r_out = max(rank(a, bd) for a, bd in zip(args, bdims))
    return prim(*[align(a, bd, r_out) for a, bd in zip(args, bdims)], **params)


def shift_axes(key, multi=False):
    """A rule for ops with an axis/axes parameter on a batched unary operand."""
    def rule(prim, B, args, bdims, **params):
        p = dict(params)
        if multi:
            p[key] = tuple(int(a) + 1 for a in p[key])
        else:
            ax = int(p[key])
            p[key] = ax + 1 if ax >= 0 else ax
        return prim(*args, **p)

    return rule


def folded(n_data, shape_param=None):
    """A rule for ops with their own leading batch axis N (conv2d, pooling, cross
    entropy): the first ``n_data`` operands carry N, the vmap batch is folded into it
    ((B, N, ...) -> (B*N, ...)) and unfolded from the result; the other operands
    (filters) must be shared, else the rule falls back to the loop.  ``shape_param``
    names a shape parameter whose N grows to B*N."""
    def rule(prim, B, args, bdims, **params):
        if any(bd == 0 for bd in bdims[n_data:]):
            return loop(prim, B, args, bdims, **params)
        xs = [merge(materialize(a, bd, B)) if i < n_data else a
              for i, (a, bd) in enumerate(zip(args, bdims))]
        p = dict(params)
        if shape_param is not None:
            s = tuple(p[shape_param])
            p[shape_param] = (B * s[0],) + s[1:]
        return split(prim(*xs, **p), B)

    return rule


def loop(prim, B, args, bdims, **params):
    """The fallback: the primitive once per example, results stacked (a Python loop,
    used only where no vectorised rule exists; the rule's docstring says which)."""
    reshape = _prim("reshape")
    outs = []
    for b in range(B):
        out = prim(*[a[b] if bd == 0 else a for a, bd in zip(args, bdims)], **params)
        outs.append(reshape(out, shape=(1,) + tuple(out.shape)))
    return _prim("concat")(*outs, axis=0)


def leading(prim, B, args, bdims, **params):
    """Ops that already map over leading axes (linear algebra on [..., M, N], FFTs over
    the innermost axes): every tensor operand batched, one call."""
    return prim(*[materialize(a, bd, B) if isinstance(a, _core.Tensor) else a
                  for a, bd in zip(args, bdims)], **params)
