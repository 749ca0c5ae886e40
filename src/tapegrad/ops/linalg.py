"""Linear algebra: matmul (BLAS), einsum, norms and norm clipping."""

import numpy as np

from tapegrad import _core, _kernels
from tapegrad._tape import needs_input
from tapegrad.ops._registry import NUMERIC, int_arg, norm_axis, primitive, tensor
from tapegrad.ops._registry import format_shape as _fmt
from tapegrad.ops._registry import onnx_rules as _onnx_rules
from tapegrad.ops.elementwise import (
    add,
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
from tapegrad.ops.shape import _broadcast_to, broadcast_to, expand_dims, reshape, squeeze


@primitive("matmul", dtypes=NUMERIC, save_output=False, quiet=True)
def _matmul(a, b, transpose_a=False, transpose_b=False):
    """Batched matrix product through NumPy's BLAS; transposes are strided views, which
    NumPy passes to gemm as transpose flags rather than copying."""
    # the ndarray method: np.swapaxes' dispatch wrapper costs a microsecond a call
    if transpose_a:
        a = a.swapaxes(-1, -2)
    if transpose_b:
        b = b.swapaxes(-1, -2)
    if a.ndim == 2 and b.ndim == 2:
        # 2-D float products on tapegrad's thread pool (None: np.matmul does it)
        out = _kernels.gemm(a, b, True)
        if out is not None:
            return out
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


def _multilinear_sum(parts, ans):
    out = None
    for p in parts:
        out = p if out is None else add_n([out, p])
    if out is not None and out.shape != ans.shape:
        out = _broadcast_to(out, shape=tuple(ans.shape))
    return out


@_matmul.defjvp
def _matmul_jvp(ts, ans, a, b, transpose_a, transpose_b):
    # bilinear: the product rule, one matmul per input with a tangent
    ta, tb = ts
    flags = {"transpose_a": transpose_a, "transpose_b": transpose_b}
    return _multilinear_sum([_matmul(t, b, **flags) for t in (ta,) if t is not None] +
                            [_matmul(a, t, **flags) for t in (tb,) if t is not None], ans)


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
    if (adjoint_a and a.dtype.kind == "c") or (adjoint_b and b.dtype.kind == "c"):
        # TF's adjoint is the conjugate transpose; the primitive only transposes
        from tapegrad.ops.complex import conj

        a = conj(a) if adjoint_a and a.dtype.kind == "c" else a
        b = conj(b) if adjoint_b and b.dtype.kind == "c" else b
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
    """Sum of products of ``a`` and ``b`` over ``axes`` (an int: a's last and b's first)."""
    a = tensor(a, op="tensordot")
    b = tensor(b, op="tensordot")
    if isinstance(axes, (int, np.integer, _core.Tensor)) and not isinstance(axes, bool) and \
            not (isinstance(axes, _core.Tensor) and axes.ndim):
        n = int_arg(axes, "axes", "tensordot")
        if not 0 <= n <= min(a.ndim, b.ndim):
            raise ValueError("tensordot: axes=%d must be in [0, %d] for shapes %s and %s"
                             % (n, min(a.ndim, b.ndim), _fmt(a.shape), _fmt(b.shape)))
        ax_a = list(range(a.ndim - n, a.ndim))
        ax_b = list(range(n))
    else:
        try:
            ax_a, ax_b = ([x] if isinstance(x, (int, np.integer)) else list(x) for x in axes)
        except (TypeError, ValueError):
            raise TypeError("tensordot: axes must be an int or a pair of axis lists, got %r"
                            % (axes,)) from None
        if len(ax_a) != len(ax_b):
            raise ValueError("tensordot: axes %r pair %d axes of a with %d of b"
                             % (axes, len(ax_a), len(ax_b)))
        # negative axes count from the end (they name the same axis as NumPy's); an axis
        # out of range is an error, not wrapped around modulo the rank
        ax_a = [norm_axis(i, a.ndim, "tensordot") for i in ax_a]
        ax_b = [norm_axis(j, b.ndim, "tensordot") for j in ax_b]
        if len(set(ax_a)) != len(ax_a) or len(set(ax_b)) != len(ax_b):
            raise ValueError("tensordot: axes %r repeat an axis" % (axes,))
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
    if eq.count("->") > 1:
        raise ValueError("einsum: equation %r has more than one '->'" % (equation,))
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
        shape = tuple(xs[i].shape)
        # a letter of size 1 here that the others broadcast (np.einsum allows it) collects
        # the gradient of every position it stood for
        wide = [k for k, c in enumerate(keep) if shape[s.index(c)] == 1 and r.shape[k] != 1]
        if wide:
            r = reduce_sum(r, wide, keepdims=True)
        if keep != s or tuple(r.shape) != shape:
            # letters summed only inside this operand (or of size 1 in every other one):
            # its gradient is constant along them
            r = reshape(r, tuple(r.shape[keep.index(c)] if c in keep else 1 for c in s))
            r = broadcast_to(r, shape)
        grads.append(r)
    return tuple(grads)


@_einsum.defjvp
def _einsum_jvp(ts, ans, *xs, equation):
    # multilinear: one einsum per operand with a tangent, that operand replaced by it
    return _multilinear_sum([_einsum(*(xs[:i] + (t,) + xs[i + 1:]), equation=equation)
                             for i, t in enumerate(ts) if t is not None], ans)


def einsum(equation, *inputs, **kwargs):
    """Einstein summation over the ``inputs`` (``"ij,jk->ik"``; no ellipsis)."""
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

def _abs(x):
    # |x|, the magnitude for complex x (a real tensor)
    from tapegrad.ops.complex import abs as magnitude

    return magnitude(x)


def _stable_pnorm(x, p, axis):
    """(sum |x|^p)^(1/p) over ``axis`` (kept), scaled by the largest |x| first so that
    neither the value nor the gradient under- or overflows (1e-30 and 3.4e38 in float32
    stay finite); the gradient at x == 0 is the subgradient 0, as in PyTorch."""
    from tapegrad.ops.elementwise import equal, is_finite, logical_and, pow, stop_gradient

    ax = _abs(x)
    m = stop_gradient(reduce_max(ax, axis, True))
    # the scale is a constant for differentiation: the norm is exactly m * |x/m|_p for
    # any m > 0, so treating it as constant gives the true derivative at every order
    ok = logical_and(greater(m, 0), is_finite(m))
    m = where(ok, m, 1)
    if p != 2:
        s = reduce_sum(pow(divide(ax, m), float(p)), axis, True)
    elif x.dtype.kind == "c":
        # |x/m|^2 as re^2 + im^2: smooth at 0, as square(x) is for real x (|x| is not)
        from tapegrad.ops.complex import _imag, _real

        s = reduce_sum(add(square(divide(_real(x), m)), square(divide(_imag(x), m))),
                       axis, True)
    else:
        s = reduce_sum(square(divide(x, m)), axis, True)
    pos = greater(s, 0)
    safe = where(pos, s, 1)
    root = sqrt(safe) if p == 2 else pow(safe, 1.0 / float(p))
    out = multiply(where(pos, root, 0), m)
    # an inf entry makes the norm inf (the scaled sum above would be NaN)
    return where(equal(reduce_max(ax, axis, True), np.inf), np.inf, out)


def _norm_axes(axis, ndim):
    from tapegrad.ops._registry import norm_axes

    if axis is None:
        return None
    axes = list(axis) if isinstance(axis, (list, tuple)) else [axis]
    if len(axes) not in (1, 2):
        raise ValueError("norm: axis must be None, an int or a pair of ints, got %r" % (axis,))
    # norm_axis, not norm_axes: an entry that is itself a list ([[0]]) is an error
    out = [norm_axis(a, ndim, "norm") if ndim else norm_axes(a, ndim, "norm")[0]
           for a in axes]
    if len(out) == 2 and out[0] == out[1]:
        raise ValueError("norm: the two axes of a matrix norm must differ, got %r" % (axis,))
    return tuple(out)


def _keep(out, x, axes, keepdims):
    # out has the reduced axes kept (size 1); drop them unless keepdims
    if keepdims:
        return out
    if axes is None:
        return reshape(out, ())
    return squeeze(out, list(axes))


def norm(tensor_, ord="euclidean", axis=None, keepdims=False, name=None):
    """Vector and matrix norms (TF's ``tf.norm`` with NumPy's matrix ``ord=2``).

    ``axis`` None (every entry, as one vector) or an int: vector norms, ``ord`` one of
    'euclidean' (= 2), 1, inf or any p >= 1.  ``axis`` a pair: matrix norms over those
    two axes, ``ord`` one of 'fro' / 'euclidean' (Frobenius), 1 (max column sum of
    |x|), inf (max row sum), 2 (largest singular value) or 'nuc' (sum of singular
    values).  TF 1.x rejects ``ord=2`` on matrices; tapegrad follows NumPy and computes
    the spectral norm.  Euclidean and p-norms scale by the largest |x| before powering,
    so values and gradients stay finite from float32's smallest to its largest numbers,
    and the gradient at the zero vector is the subgradient 0 (PyTorch's choice).
    """
    x = tensor(tensor_, op="norm")
    if x.dtype.kind not in "fc":
        raise TypeError("norm: expected a floating tensor, got dtype %s" % x.dtype.name)
    axes = _norm_axes(axis, x.ndim)
    if isinstance(ord, str) and ord not in ("euclidean", "fro", "nuc", "inf"):
        raise ValueError("norm: unsupported ord %r" % (ord,))
    if ord == "inf":
        ord = np.inf
    if axes is not None and len(axes) == 2:
        return _matrix_norm(x, ord, axes, keepdims)
    if ord == "nuc" or (ord == "fro" and axes is not None):
        raise ValueError("norm: ord=%r is a matrix norm: give axis as a pair of axes" % (ord,))
    red = list(axes) if axes is not None else None
    if ord in ("euclidean", "fro") or ord == 2:
        out = _stable_pnorm(x, 2, red)
    elif ord == 1:
        out = reduce_sum(_abs(x), red, True)
    elif ord == np.inf:
        out = reduce_max(_abs(x), red, True)
    elif isinstance(ord, (int, float, np.integer, np.floating)) and not isinstance(ord, bool) \
            and ord > 1:
        out = _stable_pnorm(x, float(ord), red)
    else:
        raise ValueError("norm: unsupported vector ord %r (use 'euclidean', 1, inf or a "
                         "number p >= 1)" % (ord,))
    return _keep(out, x, red, keepdims)


def _matrix_norm(x, ord, axes, keepdims):
    from tapegrad.ops.shape import transpose

    r, c = axes
    if ord in ("fro", "euclidean"):
        return _keep(_stable_pnorm(x, 2, [r, c]), x, (r, c), keepdims)
    if ord == 1 or ord == np.inf:
        inner, outer = (r, c) if ord == 1 else (c, r)
        out = reduce_max(reduce_sum(_abs(x), inner, True), outer, True)
        return _keep(out, x, tuple(sorted((r, c))), keepdims)
    if ord in (2, "nuc"):
        # the singular-values primitive by name: linalg_spectral builds on this module (and
        # loads on first use: registry() imports the op families import tapegrad defers)
        svals = _core.registry()["singular_values"]
        rest = [i for i in range(x.ndim) if i not in (r, c)]
        s = svals(transpose(x, rest + [r, c]))
        out = reduce_max(s, -1) if ord == 2 else reduce_sum(s, -1)
        if keepdims:
            for ax in sorted((r, c)):
                out = expand_dims(out, ax)
        return out
    raise ValueError("norm: unsupported matrix ord %r (use 'fro', 'euclidean', 1, inf, 2 or "
                     "'nuc')" % (ord,))


def clip_by_value(t, clip_value_min, clip_value_max, name=None):
    """``t`` clipped elementwise to [clip_value_min, clip_value_max]."""
    t = tensor(t, op="clip_by_value")
    out = minimum(maximum(t, clip_value_min), clip_value_max)
    if out.shape != t.shape:
        # bounds broadcast against t, but may not enlarge it (TF's rule)
        raise ValueError("clip_by_value: bounds of shapes %s and %s would broadcast t of "
                         "shape %s to %s" % (np.shape(clip_value_min), np.shape(clip_value_max),
                                             t.shape, out.shape))
    return out


def clip_by_norm(t, clip_norm, axes=None, name=None):
    """t * clip_norm / max(l2norm(t), clip_norm), with a finite gradient at t == 0 (TF's)
    and the norm scaled before squaring (finite from 1e-30 to 3.4e38 in float32)."""
    from tapegrad.ops._registry import norm_axes

    t = tensor(t, op="clip_by_norm")
    axes = None if axes is None else list(norm_axes(axes, t.ndim, "clip_by_norm"))
    l2norm = _stable_pnorm(t, 2, axes)
    return multiply(t, divide(clip_norm, maximum(l2norm, clip_norm)))


def global_norm(t_list, name=None):
    """sqrt(sum of squares of every entry of every tensor in ``t_list``)."""
    if not isinstance(t_list, (list, tuple)):
        raise TypeError("global_norm: expected a list of tensors, got %s"
                        % type(t_list).__name__)
    parts = [reduce_sum(square(tensor(t, op="global_norm"))) for t in t_list if t is not None]
    if not parts:
        raise ValueError("global_norm: no tensors")

    return sqrt(add_n(parts))


def clip_by_global_norm(t_list, clip_norm, use_norm=None, name=None):
    """``(t_list scaled so its global norm is at most clip_norm, the global norm)``."""
    if not isinstance(t_list, (list, tuple)):
        raise TypeError("clip_by_global_norm: expected a list of tensors, got %s"
                        % type(t_list).__name__)
    t_list = list(t_list)
    gn = global_norm(t_list) if use_norm is None else tensor(use_norm)
    scale = divide(clip_norm, maximum(gn, clip_norm))
    return [None if t is None else multiply(t, scale) for t in t_list], gn


# ---------------------------------------------------------------------------
# ONNX export rules (run by tapegrad.onnx.export through its context)

def _onnx_matmul(ctx, node):
    a, b = ctx.operands(node)
    ra = len(ctx.value(node.args[0]).shape)
    rb = len(ctx.value(node.args[1]).shape)

    def swap(name, rank):
        perm = list(range(rank))
        perm[-1], perm[-2] = perm[-2], perm[-1]
        return ctx.op("Transpose", [name], perm=perm)

    if node.params.get("transpose_a"):
        a = swap(a, ra)
    if node.params.get("transpose_b"):
        b = swap(b, rb)
    return ctx.op("MatMul", [a, b])


def _onnx_einsum(ctx, node):
    return ctx.op("Einsum", ctx.operands(node), equation=node.params["equation"])


_onnx_rules({"matmul": _onnx_matmul, "einsum": _onnx_einsum})


# ---------------------------------------------------------------------------
# Taylor-mode rules (tg.jet): products of series through the (bi/multi)linear forward

def _t_matmul(a, b, transpose_a=False, transpose_b=False):
    from tapegrad.ops import _series as S

    return S.bilinear(lambda x, y: np.matmul(x.swapaxes(-1, -2) if transpose_a else x,
                                      y.swapaxes(-1, -2) if transpose_b else y), a, b)


def _t_einsum(*xs, equation):
    from tapegrad.ops import _series as S

    return S.multilinear(lambda *ys: np.einsum(equation, *ys), list(xs))


def _taylor_rules():
    from tapegrad import _core

    reg = _core.registered()
    reg["matmul"].defrule("taylor", _t_matmul)
    reg["einsum"].defrule("taylor", _t_einsum)


_taylor_rules()


# batching rules (tg.vmap): matmul broadcasts over leading axes; einsum gets a letter
def _b_matmul(prim, B, args, bdims, **params):
    from tapegrad.ops import _batching as Bt

    ranks = [Bt.rank(a, bd) for a, bd in zip(args, bdims)]
    if min(ranks) < 2:
        return Bt.loop(prim, B, args, bdims, **params)
    a, b = args
    if bdims == [0, None] and ranks[1] == 2 and not params.get("transpose_a"):
        # examples' rows stacked into one matrix: one GEMM instead of B tiny ones
        from tapegrad.ops.shape import _reshape

        s = tuple(a.shape)
        out = prim(_reshape(a, shape=(-1, s[-1])), b, **params)
        return _reshape(out, shape=s[:-1] + (tuple(out.shape)[-1],))
    if bdims == [None, 0] and ranks == [2, 2] and not params.get("transpose_b") and \
            tuple(b.shape)[-1] == 1:
        # a shared matrix times a column per example (a vmapped matvec, the Hessian's
        # A @ v over the basis): the columns as the rows of one GEMM, X @ op(A)^T,
        # instead of B matrix-vector products
        from tapegrad.ops.shape import _reshape

        s = tuple(b.shape)
        out = prim(_reshape(b, shape=(-1, s[-2])), a,
                   transpose_b=not params.get("transpose_a", False))
        return _reshape(out, shape=(s[0], tuple(out.shape)[-1], 1))
    if bdims == [0, 0] and ranks == [2, 2]:
        # a stack of small products (per-example gradients x^T g): NumPy's einsum loop
        # beats its matmul over many tiny, strided matrices
        ea = "bji" if params.get("transpose_a") else "bij"
        eb = "bkj" if params.get("transpose_b") else "bjk"
        return _einsum(a, b, equation="%s,%s->bik" % (ea, eb))
    r = max(ranks)
    return prim(*[Bt.align(a, bd, r) for a, bd in zip(args, bdims)], **params)


def _b_einsum(prim, B, args, bdims, equation):
    ins, out = equation.split("->")
    letter = next(c for c in "zyxwvutsrqponmlkjihgfedcbaZYXWVUTSRQPONMLKJIHGFEDCBA"
                  if c not in equation)
    parts = [(letter + s) if bd == 0 else s for s, bd in zip(ins.split(","), bdims)]
    return prim(*args, equation="%s->%s%s" % (",".join(parts), letter, out))


def _batch_rules():
    from tapegrad import _core

    reg = _core.registered()
    reg["matmul"].defrule("batch", _b_matmul)
    reg["einsum"].defrule("batch", _b_einsum)


_batch_rules()
