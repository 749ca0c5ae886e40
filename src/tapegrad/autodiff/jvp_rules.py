"""JVP rules for the elementwise, reduction, shape, matmul/einsum and softmax primitives.

Each rule is ``rule(tangents, ans, *inputs, **params) -> tangent of the output`` (or None
for an exactly-zero tangent).  ``tangents`` has one entry per input, None where the
input carries no tangent.  ``ans`` and ``inputs`` are the tensors the tape saved, or
shape/dtype descriptors (``.shape``, ``.dtype``) where it saved nothing: each rule reads
only what its primitive's VJP reads, so it works on every record the tape keeps.

Rules are written in tapegrad ops (differentiable again) and mirror the VJPs' choices:
the same subgradients at ties and kinks (maximum sends ties to x, relu is 0 at 0) and
the same zero-tangent safety (``safe_mul`` forms for division-like derivatives), so
forward and reverse mode agree exactly.  Primitives without a rule here (conv2d,
pooling, reduce_prod, custom_gradient, ...) are handled by forward.py's transpose-trick
fallback.  ``install()`` registers every rule with ``Primitive.defjvp``.
"""

import numpy as np

from tapegrad import _core
from tapegrad.ops import elementwise as E
from tapegrad.ops import linalg as L
from tapegrad.ops import reductions as R
from tapegrad.ops import shape as S

RULES = {}


def rule(*names):
    def deco(fn):
        for n in names:
            RULES[n] = fn
        return fn

    return deco


def _fit(t, ans):
    """A tangent that only one broadcast input contributed, brought to the output shape."""
    if t.shape != ans.shape:
        return S._broadcast_to(t, shape=tuple(ans.shape))
    return t


def _total(parts, ans):
    out = None
    for p in parts:
        if p is not None:
            out = p if out is None else E.add(out, p)
    return None if out is None else _fit(out, ans)


def _zeros(meta, like):
    """Zeros with ``meta``'s shape and dtype on ``like``'s device."""
    t = _core.wrap(np.zeros(tuple(meta.shape), dtype=meta.dtype))
    return t if like.device == "/cpu:0" else t.to(like.device)


# ---------------------------------------------------------------------------
# elementwise

@rule("add")
def _add(ts, ans, x, y):
    return _total(ts, ans)


@rule("subtract")
def _subtract(ts, ans, x, y):
    tx, ty = ts
    return _total([tx, None if ty is None else E.negative(ty)], ans)


@rule("add_n")
def _add_n(ts, ans, *xs):
    return _total(ts, ans)


@rule("multiply")
def _multiply(ts, ans, x, y):
    tx, ty = ts
    return _total([None if tx is None else E.multiply(tx, y),
                   None if ty is None else E.multiply(x, ty)], ans)


@rule("safe_mul")
def _safe_mul(ts, ans, g, z):
    tg_, tz = ts
    return _total([None if tg_ is None else E.safe_mul(tg_, z),
                   None if tz is None else E.safe_mul(g, tz)], ans)


@rule("divide")
def _divide(ts, ans, x, y):
    tx, ty = ts
    return _total([None if tx is None else E.safe_mul(tx, E.reciprocal(y)),
                   None if ty is None else E.negative(E.safe_mul(ty, E.divide(ans, y)))],
                  ans)


@rule("pow")
def _pow(ts, ans, x, y):
    tx, ty = ts
    parts = []
    if tx is not None:
        parts.append(E.safe_mul(tx, E.multiply(y, E.pow(x, E.subtract(y, 1)))))
    if ty is not None:
        positive = E.greater(x, 0)
        log_x = E.where(positive, E.log(E.where(positive, x, 1)), 0)
        parts.append(E.safe_mul(ty, E.multiply(ans, log_x)))
    return _total(parts, ans)


def _select(take_x, tx, ty, ans):
    return _fit(E.where(take_x, 0 if tx is None else tx, 0 if ty is None else ty), ans)


@rule("maximum")
def _maximum(ts, ans, x, y):
    return _select(E.greater_equal(x, y), ts[0], ts[1], ans)


@rule("minimum")
def _minimum(ts, ans, x, y):
    return _select(E.less_equal(x, y), ts[0], ts[1], ans)


@rule("floormod")
def _floormod(ts, ans, x, y):
    tx, ty = ts
    return _total([tx, None if ty is None else
                   E.negative(E.multiply(ty, E.floor(E.divide(x, y))))], ans)


@rule("where")
def _where(ts, ans, cond, x, y):
    _, tx, ty = ts
    return _select(cond, tx, ty, ans)


@rule("negative")
def _negative(ts, ans, x):
    return E.negative(ts[0])


@rule("identity")
def _identity(ts, ans, x):
    return ts[0]


@rule("sign", "floor", "ceil", "round")
def _piecewise_constant(ts, ans, x):
    return None


@rule("abs")
def _abs(ts, ans, x):
    return E.multiply(ts[0], E.sign(x))


@rule("square")
def _square(ts, ans, x):
    return E.multiply(ts[0], E.multiply(x, 2))


@rule("exp")
def _exp(ts, ans, x):
    return E.multiply(ts[0], ans)


@rule("expm1")
def _expm1(ts, ans, x):
    return E.multiply(ts[0], E.add(ans, 1))


@rule("log")
def _log(ts, ans, x):
    return E.safe_mul(ts[0], E.reciprocal(x))


@rule("log1p")
def _log1p(ts, ans, x):
    return E.safe_mul(ts[0], E.reciprocal(E.add(x, 1)))


@rule("sqrt")
def _sqrt(ts, ans, x):
    return E.safe_mul(ts[0], E.divide(0.5, ans))


@rule("rsqrt")
def _rsqrt(ts, ans, x):
    return E.safe_mul(ts[0], E.multiply(E.divide(ans, x), -0.5))


@rule("reciprocal")
def _reciprocal(ts, ans, x):
    return E.negative(E.safe_mul(ts[0], E.reciprocal(E.square(x))))


@rule("tanh")
def _tanh(ts, ans, x):
    return E.multiply(ts[0], E.subtract(1, E.square(ans)))


@rule("sigmoid")
def _sigmoid(ts, ans, x):
    return E.multiply(ts[0], E.multiply(ans, E.subtract(1, ans)))


@rule("sin")
def _sin(ts, ans, x):
    return E.multiply(ts[0], E.cos(x))


@rule("cos")
def _cos(ts, ans, x):
    return E.negative(E.multiply(ts[0], E.sin(x)))


@rule("cast")
def _cast(ts, ans, x, dtype):
    return E._cast(ts[0], dtype=dtype)


@rule("relu")
def _relu(ts, ans, x):
    return E.where(E.greater(ans, 0), ts[0], 0)


# ---------------------------------------------------------------------------
# linear algebra

@rule("matmul")
def _matmul(ts, ans, a, b, transpose_a, transpose_b):
    ta, tb = ts
    flags = {"transpose_a": transpose_a, "transpose_b": transpose_b}
    return _total([None if ta is None else L._matmul(ta, b, **flags),
                   None if tb is None else L._matmul(a, tb, **flags)], ans)


@rule("einsum")
def _einsum(ts, ans, *xs, equation):
    parts = []
    for i, t in enumerate(ts):
        if t is not None:
            parts.append(L._einsum(*(xs[:i] + (t,) + xs[i + 1:]), equation=equation))
    return _total(parts, ans)


# ---------------------------------------------------------------------------
# reductions

@rule("reduce_sum")
def _reduce_sum(ts, ans, x, axes, keepdims):
    return R._sum(ts[0], axes=axes, keepdims=keepdims)


@rule("reduce_max", "reduce_min")
def _extremum(ts, ans, x, axes, keepdims):
    # the tangent of the extremum is the mean tangent over the tied extrema (as the VJP)
    kept = R._kept_shape(x.shape, axes)
    a = ans if keepdims else S._reshape(ans, shape=kept)
    hit = E.cast(E.equal(x, a), x.dtype)
    out = E.divide(R._sum(E.multiply(ts[0], hit), axes=axes, keepdims=True),
                   R._sum(hit, axes=axes, keepdims=True))
    return out if keepdims else S._reshape(out, shape=tuple(ans.shape))


# ---------------------------------------------------------------------------
# shape and indexing: all linear, the tangent goes through the same op

def _same_op(prim):
    """The rule of an op linear in its only array input: the op itself, on the tangent."""
    def jvp(ts, ans, x, **params):
        return prim(ts[0], **params)

    jvp.__name__ = "_%s_jvp" % prim.name
    return jvp


for _prim in (S._reshape, S._transpose, S._broadcast_to, S._tile, S._getitem,
              S._getitem_grad):
    rule(_prim.name)(_same_op(_prim))


@rule("gather")
def _gather(ts, ans, params, indices, axis):
    return S._gather(ts[0], indices, axis=axis)


@rule("gather_grad")
def _gather_grad(ts, ans, g, indices, shape, axis):
    return S._gather_grad(ts[0], indices, shape=shape, axis=axis)


@rule("pad")
def _pad(ts, ans, x, paddings, constant_values):
    return S._pad(ts[0], paddings=paddings, constant_values=0)


@rule("concat")
def _concat(ts, ans, *xs, axis):
    like = next(t for t in ts if t is not None)
    return S._concat(*[_zeros(x, like) if t is None else t for t, x in zip(ts, xs)],
                     axis=axis)


# ---------------------------------------------------------------------------
# softmax family

@rule("softmax")
def _softmax(ts, ans, x, axis):
    inner = R._sum(E.multiply(ans, ts[0]), axes=(axis,), keepdims=True)
    return E.multiply(ans, E.subtract(ts[0], inner))


@rule("log_softmax")
def _log_softmax(ts, ans, x, axis):
    return E.subtract(ts[0], R._sum(E.multiply(E.exp(ans), ts[0]), axes=(axis,),
                                    keepdims=True))


def install():
    """Register every rule on its primitive (idempotent)."""
    registry = _core.registry()
    for name, fn in RULES.items():
        prim = registry.get(name)
        if prim is None:
            raise LookupError("jvp_rules: no primitive named %r is registered" % name)
        if prim.jvp is None:
            prim.defjvp(fn)
