"""Linear algebra: matmul (BLAS), einsum, norms and norm clipping."""

import numpy as np

from tapegrad import _core
from tapegrad._tape import needs_input
from tapegrad.ops._registry import NUMERIC, primitive, tensor
from tapegrad.ops.elementwise import abs as abs_
from tapegrad.ops.elementwise import (
    add_n,
    divide,
    greater,
    maximum,
    minimum,
    multiply,
    sqrt,
    square,
    where,
)
from tapegrad.ops.reductions import reduce_max, reduce_sum
from tapegrad.ops.shape import _fmt, broadcast_to, reshape, squeeze


@primitive("matmul", dtypes=NUMERIC, save_output=False, quiet=True)
def _matmul(a, b, transpose_a=False, transpose_b=False):
    """Batched matrix product through NumPy's BLAS; transposes are strided views, which
    NumPy passes to gemm as transpose flags rather than copying."""
    # the ndarray method: np.swapaxes' dispatch wrapper costs a microsecond a call
    if transpose_a:
        a = a.swapaxes(-1, -2)
    if transpose_b:
        b = b.swapaxes(-1, -2)
    return np.matmul(a, b)


@_matmul.defvjp
def _matmul_vjp(g, ans, a, b, transpose_a, transpose_b):
    # TensorFlow's _MatMulGrad, all four transpose cases; batch broadcasting is undone
    # by the engine's sum_to.  Adjoints nobody needs (a data batch) are skipped.
    need_a, need_b = needs_input(0), needs_input(1)
    if not transpose_a and not transpose_b:
        ga = (g, b, False, True)
        gb = (a, g, True, False)
    elif not transpose_a and transpose_b:
        ga = (g, b, False, False)
        gb = (g, a, True, False)
    elif transpose_a and not transpose_b:
        ga = (b, g, False, True)
        gb = (a, g, False, False)
    else:
        ga = (b, g, True, True)
        gb = (g, a, True, True)
    return (_matmul(ga[0], ga[1], transpose_a=ga[2], transpose_b=ga[3]) if need_a else None,
            _matmul(gb[0], gb[1], transpose_a=gb[2], transpose_b=gb[3]) if need_b else None)


def matmul(a, b, transpose_a=False, transpose_b=False, adjoint_a=False, adjoint_b=False,
           name=None):
    """a @ b over the last two axes, batch axes broadcast; 1-D operands as in NumPy."""
    a = tensor(a, op="matmul")
    b = tensor(b, op="matmul")
    if a.ndim == 2 and b.ndim == 2 and not (transpose_a or transpose_b or adjoint_a or
                                            adjoint_b) and a.shape[1] == b.shape[0]:
        # the common case (a layer's product), checked in two comparisons; the
        # primitive names the op if the dtypes differ
        return _matmul(a, b, transpose_a=False, transpose_b=False)
    ta = bool(transpose_a or adjoint_a)
    tb = bool(transpose_b or adjoint_b)
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError("matmul: operands must have rank >= 1, got shapes %s @ %s"
                         % (_fmt(a.shape), _fmt(b.shape)))
    if a.dtype != b.dtype:
        raise TypeError("matmul: dtypes differ: %s @ %s (use tg.cast)"
                        % (a.dtype.name, b.dtype.name))
    squeeze_axes = []
    if a.ndim == 1:
        a, ta = reshape(a, (1, a.shape[0])), False
        squeeze_axes.append(-2)
    if b.ndim == 1:
        b, tb = reshape(b, (b.shape[0], 1)), False
        squeeze_axes.append(-1)
    ka = a.shape[-2] if ta else a.shape[-1]
    kb = b.shape[-1] if tb else b.shape[-2]
    if ka != kb:
        raise ValueError("matmul: inner dimensions differ: %s%s @ %s%s" % (
            _fmt(a.shape), ".T" if ta else "", _fmt(b.shape), ".T" if tb else ""))
    if a.ndim > 2 or b.ndim > 2:
        try:
            np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
        except ValueError:
            raise ValueError("matmul: batch dimensions do not broadcast: %s @ %s"
                             % (_fmt(a.shape), _fmt(b.shape))) from None
    out = _matmul(a, b, transpose_a=ta, transpose_b=tb)
    if squeeze_axes:
        out = squeeze(out, [out.ndim + ax for ax in squeeze_axes])
    return out


_core.set_operator("matmul", matmul)


def tensordot(a, b, axes, name=None):
    a = tensor(a, op="tensordot")
    b = tensor(b, op="tensordot")
    if isinstance(axes, int):
        ax_a = list(range(a.ndim - axes, a.ndim))
        ax_b = list(range(axes))
    else:
        ax_a, ax_b = ([x] if isinstance(x, int) else list(x) for x in axes)
    letters = "abcdefghijklmnopqrstuvwxyz"
    sa = list(letters[:a.ndim])
    sb = list(letters[a.ndim:a.ndim + b.ndim])
    for i, j in zip(ax_a, ax_b):
        sb[j] = sa[i]
    out = [c for c in sa if c not in [sa[i] for i in ax_a]] + [c for k, c in enumerate(sb)
                                                               if k not in ax_b]
    return einsum("%s,%s->%s" % ("".join(sa), "".join(sb), "".join(out)), a, b)


# ---------------------------------------------------------------------------
# einsum: its VJP is again an einsum, so it differentiates to any order

def _parse_einsum(equation, n):
    eq = equation.replace(" ", "")
    if "." in eq:
        raise ValueError("einsum: ellipsis ('...') is not supported in %r; write the "
                         "batch axes as letters" % equation)
    if "->" in eq:
        lhs, out = eq.split("->")
    else:
        lhs = eq
        letters = lhs.replace(",", "")
        out = "".join(sorted(c for c in set(letters) if letters.count(c) == 1))
    ins = lhs.split(",")
    if len(ins) != n:
        raise ValueError("einsum: equation %r names %d operands, got %d"
                         % (equation, len(ins), n))
    for s in ins + [out]:
        if not all(c.isalpha() for c in s):
            raise ValueError("einsum: invalid subscripts %r in %r" % (s, equation))
    return ins, out


@primitive("einsum", dtypes=NUMERIC, save_output=False, quiet=True)
def _einsum(*xs, equation):
    """np.einsum with an explicit output."""
    return np.einsum(equation, *xs, optimize=len(xs) > 2)


@_einsum.defvjp
def _einsum_vjp(g, ans, *xs, equation):
    ins, out = equation.split("->")
    ins = ins.split(",")
    grads = []
    for i, s in enumerate(ins):
        if len(set(s)) != len(s):
            raise ValueError("einsum: the gradient of an operand with repeated subscripts "
                             "(%r in %r) is not supported" % (s, equation))
        others = [(ins[j], xs[j]) for j in range(len(xs)) if j != i]
        avail = set(out).union(*[set(o) for o, _ in others]) if others else set(out)
        keep = "".join(c for c in s if c in avail)
        eq = ",".join([out] + [o for o, _ in others]) + "->" + keep
        r = _einsum(g, *[x for _, x in others], equation=eq)
        if keep != s:
            # letters summed only inside this operand: its gradient is constant along them
            r = reshape(r, tuple(xs[i].shape[k] if c in avail else 1 for k, c in enumerate(s)))
            r = broadcast_to(r, xs[i].shape)
        grads.append(r)
    return tuple(grads)


def einsum(equation, *inputs, **kwargs):
    kwargs.pop("name", None)
    if kwargs:
        raise TypeError("einsum: unexpected arguments %s" % sorted(kwargs))
    if not isinstance(equation, str):
        raise TypeError("einsum: the equation must be a string, got %s"
                        % type(equation).__name__)
    xs = [tensor(x, op="einsum") for x in inputs]
    ins, out = _parse_einsum(equation, len(xs))
    for s, x in zip(ins, xs):
        if len(s) != x.ndim:
            raise ValueError("einsum: subscripts %r do not match operand of shape %s"
                             % (s, _fmt(x.shape)))
    return _einsum(*xs, equation=",".join(ins) + "->" + out)


# ---------------------------------------------------------------------------
# norms

def norm(tensor_, ord="euclidean", axis=None, keepdims=False, name=None):
    """Vector norms: 'euclidean'/2, 1, np.inf over ``axis`` (None = all entries)."""

    x = tensor(tensor_, op="norm")
    if ord in ("euclidean", "fro", 2, 2.0):
        return sqrt(reduce_sum(square(x), axis, keepdims))
    if ord in (1, 1.0):
        return reduce_sum(abs_(x), axis, keepdims)
    if ord in (np.inf, "inf"):
        return reduce_max(abs_(x), axis, keepdims)
    raise ValueError("norm: unsupported ord %r (use 'euclidean', 1 or np.inf)" % (ord,))


def clip_by_value(t, clip_value_min, clip_value_max, name=None):
    t = tensor(t, op="clip_by_value")
    out = minimum(maximum(t, clip_value_min), clip_value_max)
    if out.shape != t.shape:
        # bounds broadcast against t, but may not enlarge it (TF's rule)
        raise ValueError("clip_by_value: bounds of shapes %s and %s would broadcast t of "
                         "shape %s to %s" % (np.shape(clip_value_min), np.shape(clip_value_max),
                                             t.shape, out.shape))
    return out


def clip_by_norm(t, clip_norm, axes=None, name=None):
    """t * clip_norm / max(l2norm(t), clip_norm), with a finite gradient at t == 0 (TF's)."""
    t = tensor(t, op="clip_by_norm")
    l2sum = reduce_sum(square(t), axes, keepdims=True)
    positive = greater(l2sum, 0)
    l2norm = where(positive, sqrt(where(positive, l2sum, 1)), l2sum)
    return divide(multiply(t, clip_norm), maximum(l2norm, clip_norm))


def global_norm(t_list, name=None):
    if not isinstance(t_list, (list, tuple)):
        raise TypeError("global_norm: expected a list of tensors, got %s"
                        % type(t_list).__name__)
    parts = [reduce_sum(square(tensor(t, op="global_norm"))) for t in t_list if t is not None]
    if not parts:
        raise ValueError("global_norm: no tensors")

    return sqrt(add_n(parts))


def clip_by_global_norm(t_list, clip_norm, use_norm=None, name=None):
    if not isinstance(t_list, (list, tuple)):
        raise TypeError("clip_by_global_norm: expected a list of tensors, got %s"
                        % type(t_list).__name__)
    t_list = list(t_list)
    gn = global_norm(t_list) if use_norm is None else tensor(use_norm)
    scale = divide(clip_norm, maximum(gn, clip_norm))
    return [None if t is None else multiply(t, scale) for t in t_list], gn
