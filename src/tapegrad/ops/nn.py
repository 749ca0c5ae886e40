"""Neural-network primitives: relu, softmax/log_softmax, the sparse softmax cross
entropy, and compositions (softplus, dropout, cross-entropies); conv2d and pooling are
ops/conv.py's, re-exported here for tg.nn."""


import numpy as np

from tapegrad import _kernels
from tapegrad._tape import needs_input
from tapegrad.ops import random as tg_random
from tapegrad.ops._registry import (
    FLOAT,
    INT,
    NotSupported,
    define_rules,
    norm_axis,
    primitive,
    tensor,
)
from tapegrad.ops._registry import format_shape as _fmt
from tapegrad.ops._registry import onnx_rules as _onnx_rules
from tapegrad.ops.elementwise import (
    add,
    cast,
    exp,
    expm1,
    greater,
    log1p,
    minimum,
    multiply,
    negative,
    ones_like,
    sigmoid,
    square,
    subtract,
    where,
)
from tapegrad.ops.elementwise import tanh as _tanh
from tapegrad.ops.reductions import _sum, reduce_mean, reduce_sum
from tapegrad.ops.shape import reshape, squeeze

__all__ = ["relu", "relu6", "leaky_relu", "elu", "softplus", "sigmoid", "tanh", "softmax",
           "log_softmax", "conv2d", "max_pool2d", "avg_pool2d", "max_pool", "avg_pool",
           "dropout", "bias_add", "l2_loss", "sparse_softmax_cross_entropy_with_logits",
           "softmax_cross_entropy_with_logits", "sigmoid_cross_entropy_with_logits",
           "moments"]


@primitive("relu", dtypes=FLOAT | INT, save_inputs=False, args=("features",))
def relu(features):
    """max(features, 0) elementwise (subgradient 0 at 0)."""
    x = features
    out = _kernels.relu(x)
    return np.maximum(x, 0, dtype=x.dtype) if out is None else out


@relu.defvjp
def _relu_vjp(g, ans, x):
    return _relu_grad(g, ans)


relu.defjvp_self_adjoint()


@primitive("relu_grad", dtypes=FLOAT | INT, save_output=False)
def _relu_grad(g, ans):
    """g where ans > 0, else 0 (the subgradient at 0 is 0); one fused pass.

    A select, not a product: an infinite or NaN cotangent where the unit is off gives
    0, as in PyTorch (``g * (ans > 0)`` would give NaN there)."""
    out = _kernels.relu_grad(g, ans)
    if out is None:
        out = np.where(ans > 0, g, np.zeros((), dtype=g.dtype))
    return out


_relu_grad.deflinear(0)      # piecewise constant in ans


@_relu_grad.defvjp
def _relu_grad_vjp(gg, out, g, ans):
    # linear in g; piecewise constant in ans
    return _relu_grad(gg, ans), None


def relu6(features, name=None):
    """min(max(features, 0), 6); the gradient is 1 on 0 < x < 6 only, 0 at both kinks
    (TF's Relu6Grad)."""
    # minimum sends a tie's gradient to its first argument: the constant 6
    return minimum(6, relu(features))


def leaky_relu(features, alpha=0.2, name=None):
    """``features`` where positive, ``alpha * features`` elsewhere."""
    x = tensor(features, op="leaky_relu")
    return where(greater(x, 0), x, multiply(x, alpha))


def elu(features, name=None):
    """``features`` where positive, ``exp(features) - 1`` elsewhere."""
    x = tensor(features, op="elu")
    return where(greater(x, 0), x, expm1(where(greater(x, 0), 0, x)))


def softplus(features, name=None):
    """log(1 + exp(x)) without overflow, with every derivative right at 0.

    ``max(x, 0) + log1p(exp(-|x|))`` is the same function, but the derivatives of
    ``max`` and ``abs`` disagree at the tie (its gradient at 0 came out 1, not 1/2).
    Instead each side is a smooth expression, evaluated only on its own side:
    ``log1p(exp(x))`` for x <= 0 and ``x + log1p(exp(-x))`` for x > 0; the other side's
    input is replaced by 0 so that neither overflows nor feeds NaN into the gradient.
    """
    x = tensor(features, op="softplus")
    return _softplus(x)


def _softplus(x):
    positive = greater(x, 0)
    x_neg = where(positive, 0, x)
    x_pos = where(positive, x, 0)
    return where(positive, add(x_pos, log1p(exp(negative(x_pos)))), log1p(exp(x_neg)))


def tanh(x, name=None):
    """Hyperbolic tangent elementwise (tg.tanh)."""
    return _tanh(x)


@primitive("softmax", dtypes=FLOAT, save_inputs=False, quiet=True)
def _softmax(x, axis):
    """exp(x) / sum(exp(x)) along ``axis``, max-shifted."""
    if x.size == 0:
        return np.empty_like(x)
    if axis == x.ndim - 1:
        out = _kernels.softmax_last(x)   # fused rows on the thread pool, same values
        if out is not None:
            return out
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


@_softmax.defvjp
def _softmax_vjp(g, ans, x, axis):
    return _softmax_grad(ans, g, axis=axis)


_softmax.defjvp_self_adjoint()     # its Jacobian diag(p) - p p^T is symmetric


@primitive("softmax_grad", dtypes=FLOAT, quiet=True)
def _softmax_grad(y, g, axis):
    """softmax's adjoint y * (g - sum(g * y)) along ``axis`` (y the softmax output): one
    fused pass per row instead of four NumPy passes with three temporaries."""
    if y.shape == g.shape and y.dtype == g.dtype and axis == y.ndim - 1 and y.size:
        out = _kernels.softmax_last_grad(y, g)
        if out is not None:
            return out
    return y * (g - np.sum(g * y, axis=axis, keepdims=True))


def _softmax_grad_parts(y, g, t, axis):
    # d/dy of y * (g - s), s = sum(g * y), against t: t * (g - s) - y * sum(g * t)
    s = _sum(multiply(g, y), axes=(axis,), keepdims=True)
    return subtract(multiply(t, subtract(g, s)),
                    multiply(y, _sum(multiply(g, t), axes=(axis,), keepdims=True)))


@_softmax_grad.defvjp
def _softmax_grad_vjp(c, ans, y, g, axis):
    # linear in g with a symmetric Jacobian (softmax's own), so g's adjoint is the op on
    # c; y's adjoint: c * (g - s) - g * sum(c * y)
    gy = _softmax_grad(y, c, axis=axis) if needs_input(1) else None
    if not needs_input(0):
        return None, gy
    s = _sum(multiply(g, y), axes=(axis,), keepdims=True)
    t = _sum(multiply(c, y), axes=(axis,), keepdims=True)
    return subtract(multiply(c, subtract(g, s)), multiply(g, t)), gy


@_softmax_grad.defjvp
def _softmax_grad_jvp(ts, ans, y, g, axis):
    ty, tg_ = ts
    parts = []
    if tg_ is not None:
        parts.append(_softmax_grad(y, tg_, axis=axis))
    if ty is not None:
        parts.append(_softmax_grad_parts(y, g, ty, axis))
    return parts[0] if len(parts) == 1 else add(parts[0], parts[1])


@primitive("log_softmax", dtypes=FLOAT, save_inputs=False, quiet=True)
def _log_softmax(x, axis):
    """x - logsumexp(x) along ``axis``, max-shifted."""
    if x.size == 0:
        return np.empty_like(x)
    shifted = x - np.max(x, axis=axis, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


@_log_softmax.defvjp
def _log_softmax_vjp(g, ans, x, axis):
    return subtract(g, multiply(exp(ans), _sum(g, axes=(axis,), keepdims=True)))


@_log_softmax.defjvp
def _log_softmax_jvp(ts, ans, x, axis):
    t = ts[0]
    return subtract(t, _sum(multiply(exp(ans), t), axes=(axis,), keepdims=True))


def softmax(logits, axis=-1, name=None):
    """exp(logits) normalised to sum to 1 along ``axis`` (computed max-shifted)."""
    x = tensor(logits, op="softmax")
    if x.ndim == 0:
        raise ValueError("softmax: logits must have rank >= 1")
    return _softmax(x, axis=norm_axis(axis, x.ndim, "softmax"))


def log_softmax(logits, axis=-1, name=None):
    """logits - logsumexp(logits) along ``axis`` (computed max-shifted)."""
    x = tensor(logits, op="log_softmax")
    if x.ndim == 0:
        raise ValueError("log_softmax: logits must have rank >= 1")
    return _log_softmax(x, axis=norm_axis(axis, x.ndim, "log_softmax"))


# convolution and pooling live in ops/conv.py; tg.nn is their namespace too
from tapegrad.ops.conv import (  # noqa: E402
    avg_pool,
    avg_pool2d,
    conv2d,
    max_pool,
    max_pool2d,
)

# ---------------------------------------------------------------------------
# compositions

def bias_add(value, bias, name=None):
    """``value + bias``, the bias broadcast along the last axis."""
    return add(value, bias)


def l2_loss(t, name=None):
    """sum(t ** 2) / 2."""
    return multiply(reduce_sum(square(t)), 0.5)


def moments(x, axes, keepdims=False, name=None):
    """``(mean, variance)`` of ``x`` over ``axes`` (for complex x the variance is the
    mean of conj(x - mean)(x - mean), as in TF)."""
    mean = reduce_mean(x, axes, keepdims=True)
    d = subtract(x, mean)
    if d.dtype.kind == "c":
        from tapegrad import _core

        # the conj primitive by name (ops/complex.py); as tg.math.squared_difference does
        sq = multiply(_core.registry()["conj"](d), d)
    else:
        sq = square(d)
    var = reduce_mean(sq, axes, keepdims=True)
    if not keepdims:
        mean, var = squeeze(mean, axes), squeeze(var, axes)
    return mean, var


def dropout(x, rate, noise_shape=None, seed=None, name=None):
    """Zero each entry with probability ``rate`` and scale the rest by 1 / (1 - rate)."""

    x = tensor(x, op="dropout")
    try:
        rate = float(rate)
    except (TypeError, ValueError):
        raise TypeError("dropout: rate must be a number in [0, 1), got %r" % (rate,)) from None
    if not 0 <= rate < 1:
        raise ValueError("dropout: rate must be in [0, 1), got %r" % rate)
    if x.dtype.kind != "f":
        raise TypeError("dropout: x must be floating, got %s" % x.dtype.name)
    if rate == 0:
        return x
    shape = x.shape if noise_shape is None else tuple(noise_shape)
    keep = tg_random.uniform(shape, dtype=x.dtype, seed=seed) >= rate
    return multiply(x, multiply(cast(keep, x.dtype), 1.0 / (1.0 - rate)))


def sparse_softmax_cross_entropy_with_logits(labels=None, logits=None, name=None):
    """-log softmax(logits)[label] per example; labels are class indices."""
    if labels is None or logits is None:
        raise ValueError("sparse_softmax_cross_entropy_with_logits: pass labels= and logits=")
    logits = tensor(logits, op="sparse_softmax_cross_entropy_with_logits")
    labels = tensor(labels, op="sparse_softmax_cross_entropy_with_logits")
    if labels.dtype.kind not in "iu":
        raise TypeError("sparse_softmax_cross_entropy_with_logits: labels must be integers, "
                        "got %s" % labels.dtype.name)
    if logits.ndim < 1 or labels.shape != logits.shape[:-1]:
        raise ValueError("sparse_softmax_cross_entropy_with_logits: labels shape %s must equal "
                         "logits shape %s without its last axis"
                         % (_fmt(labels.shape), _fmt(logits.shape)))
    if logits.dtype.kind != "f":
        raise TypeError("sparse_softmax_cross_entropy_with_logits: logits must be floating, "
                        "got %s" % logits.dtype.name)
    return _sparse_xent(logits, labels)


def _check_labels(labels, depth):
    if labels.size:
        lo, hi = np.minimum.reduce(labels, axis=None), np.maximum.reduce(labels, axis=None)
        if lo < 0 or hi >= depth:
            raise ValueError("sparse_softmax_cross_entropy_with_logits: labels must be in "
                             "[0, %d), got values in [%d, %d]" % (depth, lo, hi))


def _label_index(labels, depth):
    # flat positions of each example's label in a (..., depth) array
    rows = labels.size
    return np.arange(0, rows * depth, depth) + labels.reshape(rows)


@primitive("sparse_softmax_xent", dtypes=FLOAT | INT, same_dtype=(), save_output=False,
           quiet=True)
def _sparse_xent(logits, labels):
    """Per-example -log softmax(logits)[label], in one max-shifted pass."""
    out = _kernels.softmax_xent(logits, labels)
    if out is not None:
        return out
    depth = logits.shape[-1]
    _check_labels(labels, depth)
    if logits.size == 0:
        return np.zeros(logits.shape[:-1], dtype=logits.dtype)
    shifted = logits - np.maximum.reduce(logits, axis=-1, keepdims=True)
    lse = np.log(np.add.reduce(np.exp(shifted), axis=-1))
    picked = shifted.reshape(-1)[_label_index(labels, depth)].reshape(labels.shape)
    return (lse - picked).astype(logits.dtype, copy=False)


# the JVPs of the fused cross-entropy pair would restate their VJPs (softmax minus the
# one-hot, contracted with the tangent): forward mode transposes the VJPs instead
_sparse_xent.defjvp_by_transposition()


@_sparse_xent.defvjp
def _sparse_xent_vjp(g, ans, logits, labels):
    return _sparse_xent_grad(logits, labels, g), None


@primitive("sparse_softmax_xent_grad", dtypes=FLOAT | INT, same_dtype=(), save_output=False,
           quiet=True)
def _sparse_xent_grad(logits, labels, g):
    """(softmax(logits) - onehot(labels)) * g[..., None]: the logits adjoint of
    sparse_softmax_xent in one pass, instead of five dispatched ops."""
    out = _kernels.softmax_xent(logits, labels, g)
    if out is not None:
        return out
    depth = logits.shape[-1]
    _check_labels(labels, depth)
    if logits.size == 0:
        return np.zeros(logits.shape, dtype=logits.dtype)
    e = np.exp(logits - np.maximum.reduce(logits, axis=-1, keepdims=True))
    e /= np.add.reduce(e, axis=-1, keepdims=True)
    e.reshape(-1)[_label_index(labels, depth)] -= 1
    e *= g.reshape(g.shape + (1,))
    return e.astype(logits.dtype, copy=False)


_sparse_xent_grad.defjvp_by_transposition()


@_sparse_xent_grad.defvjp
def _sparse_xent_grad_vjp(u, ans, logits, labels, g):
    # With p = softmax(logits): d/dlogits is the softmax Jacobian applied to u * g, and
    # d/dg is sum((p - onehot) * u) over the class axis.  Written in tapegrad ops, so
    # every order differentiates again.
    axis = logits.ndim - 1
    grad_logits = grad_g = None
    if needs_input(0):
        ug = multiply(u, reshape(g, g.shape + (1,)))
        grad_logits = _softmax_vjp(ug, _softmax(logits, axis=axis), logits, axis)
    if needs_input(2):
        grad_g = _sum(multiply(_sparse_xent_grad(logits, labels, ones_like(g)), u),
                      axes=(axis,), keepdims=False)
    return grad_logits, None, grad_g


def softmax_cross_entropy_with_logits(labels=None, logits=None, axis=-1, name=None):
    """-sum(labels * log_softmax(logits)) along ``axis``; labels are distributions."""
    if labels is None or logits is None:
        raise ValueError("softmax_cross_entropy_with_logits: pass labels= and logits=")
    logits = tensor(logits, op="softmax_cross_entropy_with_logits")
    labels = tensor(labels, dtype=logits.dtype, op="softmax_cross_entropy_with_logits")
    if labels.shape != logits.shape:
        raise ValueError("softmax_cross_entropy_with_logits: labels %s and logits %s differ"
                         % (_fmt(labels.shape), _fmt(logits.shape)))
    return negative(reduce_sum(multiply(labels, log_softmax(logits, axis)), axis))


def sigmoid_cross_entropy_with_logits(labels=None, logits=None, name=None):
    """softplus(x) - x * z, stable for large |logits|."""
    if labels is None or logits is None:
        raise ValueError("sigmoid_cross_entropy_with_logits: pass labels= and logits=")
    x = tensor(logits, op="sigmoid_cross_entropy_with_logits")
    z = tensor(labels, dtype=x.dtype, op="sigmoid_cross_entropy_with_logits")
    if z.shape != x.shape:
        raise ValueError("sigmoid_cross_entropy_with_logits: labels %s and logits %s differ"
                         % (_fmt(z.shape), _fmt(x.shape)))
    # softplus(x) - x z; softplus is exact (every derivative) at x = 0, where logits
    # often sit at initialization
    return subtract(_softplus(x), multiply(x, z))





# More activations, l2_normalize, embedding_lookup, in_top_k (compositions).
from tapegrad.ops.nn_extra import (  # noqa: E402
    embedding_lookup,
    gelu,
    in_top_k,
    l2_normalize,
    selu,
    silu,
    softsign,
    swish,
)

__all__ += ["selu", "gelu", "swish", "silu", "softsign", "l2_normalize", "embedding_lookup",
            "in_top_k"]
# ---------------------------------------------------------------------------
# ONNX export rules (run by tapegrad.onnx.export through its context)

def _onnx_softmax(op_type):
    def rule(ctx, node):
        return ctx.op(op_type, ctx.operands(node), axis=int(node.params["axis"]))

    return rule


def _onnx_sparse_xent(ctx, node):
    # logsumexp(logits) - logits[label], per example
    logits, labels = ctx.operands(node)
    lse = ctx.op("ReduceLogSumExp", [logits, ctx.ints([-1])], keepdims=0) \
        if ctx.opset >= 18 else ctx.op("ReduceLogSumExp", [logits], axes=[-1], keepdims=0)
    idx = ctx.op("Unsqueeze", [ctx.op("Cast", [labels], to=7), ctx.ints([-1])])
    picked = ctx.op("Squeeze", [ctx.op("GatherElements", [logits, idx], axis=-1),
                                ctx.ints([-1])])
    return ctx.op("Sub", [lse, picked])


_NN_GRAD_ONLY = NotSupported("a gradient-only primitive: exported graphs are inference "
                             "forwards")
_onnx_rules({
    "relu": "Relu", "softmax": _onnx_softmax("Softmax"),
    "log_softmax": _onnx_softmax("LogSoftmax"),
    "sparse_softmax_xent": _onnx_sparse_xent,
    "relu_grad": _NN_GRAD_ONLY, "sparse_softmax_xent_grad": _NN_GRAD_ONLY,
    "softmax_grad": _NN_GRAD_ONLY,
})


# ---------------------------------------------------------------------------
# Taylor-mode rules (tg.jet; ops/_series.py)

def _t_relu(x):
    return x * (x[0] > 0)


def _t_relu_grad(g, y):
    return g * (y[0] > 0)


def _t_softmax_parts(x, axis):
    from tapegrad.ops import _series as S

    shifted = x.copy()
    shifted[0] = x[0] - np.max(x[0], axis=axis, keepdims=True)
    e = S.exp(shifted)
    total = np.add.reduce(e, axis=axis + 1, keepdims=True)
    return shifted, e, total


def _t_softmax(x, axis):
    from tapegrad.ops import _series as S

    _, e, total = _t_softmax_parts(x, axis)
    return S.div(e, total)


def _t_softmax_grad(y, g, axis):
    from tapegrad.ops import _series as S

    s = np.add.reduce(S.mul(g, y), axis=axis + 1, keepdims=True)
    return S.mul(y, g - s)


def _t_log_softmax(x, axis):
    from tapegrad.ops import _series as S

    shifted, _, total = _t_softmax_parts(x, axis)
    return shifted - S.log(total)


def _t_sparse_xent(logits, labels):
    ls = _t_log_softmax(logits, logits.ndim - 2)
    idx = labels[0].astype(np.int64)[None, ..., None]
    picked = np.take_along_axis(ls, np.broadcast_to(idx, ls.shape[:-1] + (1,)), axis=-1)
    return -picked[..., 0]


def _t_sparse_xent_grad(logits, labels, g):
    from tapegrad.ops import _series as S

    p = _t_softmax(logits, logits.ndim - 2)
    hot = np.zeros(p.shape[1:], p.dtype)
    np.put_along_axis(hot, labels[0].astype(np.int64)[..., None], 1, axis=-1)
    p[0] = p[0] - hot
    return S.mul(p, g[..., None])


def _taylor_rules():
    rules = {
        "relu": _t_relu, "relu_grad": _t_relu_grad, "softmax": _t_softmax,
        "softmax_grad": _t_softmax_grad,
        "log_softmax": _t_log_softmax, "sparse_softmax_xent": _t_sparse_xent,
        "sparse_softmax_xent_grad": _t_sparse_xent_grad,
    }
    define_rules("taylor", rules)


_taylor_rules()


# ---------------------------------------------------------------------------
# batching rules (tg.vmap; ops/_batching.py): the vmap batch is folded into the op's
# own batch axis N where there is one

def _batch_rules():
    from tapegrad.ops import _batching as B

    define_rules("batch", {
        "relu": B.elementwise, "relu_grad": B.elementwise,
        "softmax": B.shift_axes("axis"), "log_softmax": B.shift_axes("axis"),
        "softmax_grad": B.loop,
        "sparse_softmax_xent": B.folded(2), "sparse_softmax_xent_grad": B.folded(3),
    })


_batch_rules()
# array ops (h18): tf.nn.top_k is the same function as tg.top_k
from tapegrad.ops.sorting import top_k  # noqa: E402

__all__ += ["top_k"]
