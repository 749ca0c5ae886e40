"""The cases of the gradient sweep (test_gradients.py): ``GRAD_CASES`` maps each
differentiable primitive name to ``(label, fn, args[, {tol, marks}])`` cases and
``COMPOSITE_CASES`` lists compositions worth a second-order check of their own.

Loaded by path (``test_gradients._load_cases``), as its own sci/array case modules are,
so the sweep can itself be loaded by path from other test directories.
"""

import zlib

import numpy as np

import tapegrad as tg

SHAPES = [(), (3,), (3, 4), (3, 1), (1, 4), (2, 3, 4)]
BROADCAST_PAIRS = [((3, 1), (1, 4)), ((3, 4), (4,)), ((), (2, 3, 4)), ((2, 3, 4), (3, 1)),
                   ((1, 4), (2, 3, 4)), ((3, 4), ())]
BINARY_PAIRS = [(s, s) for s in SHAPES] + BROADCAST_PAIRS


def _rng(*key):
    # crc32 of the repr, not hash(): str hashes are salted per process
    return np.random.default_rng(zlib.crc32(repr(key).encode()))


def normal(shape, *key):
    return _rng("normal", shape, *key).standard_normal(shape)


def positive(shape, *key):
    return _rng("positive", shape, *key).uniform(0.5, 2.0, shape)


def away_from_zero(shape, *key):
    r = _rng("afz", shape, *key)
    return r.choice([-1.0, 1.0], size=shape) * r.uniform(0.3, 2.0, shape)


def distinct(shape, *key):
    """Values at least 0.1 apart (no ties for max/min/pooling), in random order."""
    n = int(np.prod(shape, dtype=np.int64))
    vals = _rng("distinct", shape, *key).permutation(n) * 0.1 - 0.05 * n
    return vals.reshape(shape)


def fractional(shape, *key, low=0.15, high=0.85):
    """k + f with integer k and f in [low, high]: away from the jumps of floor/ceil."""
    r = _rng("frac", shape, *key)
    return r.integers(-3, 3, shape) + r.uniform(low, high, shape)


def halves(shape, *key):
    """Away from the .5 jumps of round (rint) and from integers."""
    r = _rng("halves", shape, *key)
    return r.integers(-3, 3, shape) + r.choice([0.2, 0.3, 0.7, 0.8], size=shape)


def _vjp(fn, wrt):
    """fn's VJP as a function: (*args, cotangent) -> d<fn(*args), cotangent>/d args[wrt].

    Differentiating it (check_grads) exercises the backward-only primitives and their
    own VJPs, which is how higher order reaches them.
    """

    def vjp(*args):
        *xs, ct = args
        with tg.GradientTape() as tape:
            tape.watch(xs[wrt])
            y = fn(*xs)
        return tape.gradient(y, xs[wrt], output_gradients=ct)

    vjp.__name__ = "vjp_%s_%d" % (getattr(fn, "__name__", "fn"), wrt)
    return vjp


def _named(fn, name):
    fn.__name__ = name
    return fn


# ---------------------------------------------------------------------------
# case builders


def unary(fn, gen=normal, shapes=SHAPES):
    name = getattr(fn, "__name__", repr(fn))
    return [("%s" % (s,), fn, [gen(s, name)]) for s in shapes]


def binary(fn, gen_x=normal, gen_y=normal, pairs=BINARY_PAIRS):
    return [("%s,%s" % (a, b), fn, [gen_x(a, "x"), gen_y(b, "y")]) for a, b in pairs]


def _axes_for(shape):
    out = [None]
    if len(shape) >= 1:
        out += [0, -1]
    if len(shape) >= 2:
        out += [(0, -1)]
    return out


def reduction(op, gen=normal):
    cases = []
    for s in SHAPES:
        for axis in _axes_for(s):
            for keepdims in (False, True):
                fn = _named(lambda x, axis=axis, keepdims=keepdims:
                            op(x, axis=axis, keepdims=keepdims), op.__name__)
                cases.append(("%s axis=%s keepdims=%s" % (s, axis, keepdims), fn,
                              [gen(s, op.__name__, axis)]))
    return cases


def _maximum_cases(op):
    # y = x +- (0.3..1): never a tie, also after broadcasting
    cases = []
    for a, b in BINARY_PAIRS:
        x = normal(a, "mx")
        y = normal(b, "my") * 0.01
        full = np.broadcast_shapes(a, b)
        gap = np.broadcast_to(x, full) - np.broadcast_to(y, full)
        if np.min(np.abs(gap)) < 0.05:
            y = y + 5.0
        cases.append(("%s,%s" % (a, b), op, [x, y]))
    return cases


def _floormod_cases():
    cases = []
    for s in SHAPES:
        r = _rng("fm", s)
        y = r.uniform(1.5, 2.5, s)
        k = r.integers(-2, 3, s)
        x = (k + r.uniform(0.2, 0.8, s)) * y
        cases.append(("%s" % (s,), tg.floormod, [x, y]))
    # scalar divisor broadcast against every shape
    x = (np.arange(24).reshape(2, 3, 4) % 5 - 2 + 0.4) * 1.7
    cases.append(("(2, 3, 4),()", tg.floormod, [x, np.array(1.7)]))
    return cases


def _pow_cases():
    cases = binary(tg.pow, gen_x=positive, gen_y=normal)
    cases.append(("integer exponent, negative base", _named(lambda x: tg.pow(x, 3.0), "pow3"),
                  [normal((3, 4), "pow3")]))
    return cases


def _where_cases():
    cases = []
    for a, b in BINARY_PAIRS:
        shape = np.broadcast_shapes(a, b)
        cond = _rng("cond", a, b).random(shape) > 0.5
        cases.append(("%s,%s" % (a, b), tg.where, [cond, normal(a, "wx"), normal(b, "wy")]))
    cond = np.array([True, False, True])[:, None]
    cases.append(("cond broadcast (3,1)", tg.where, [cond, normal((3, 4), "x"),
                                                     normal((1, 4), "y")]))
    return cases


def _cast_cases():
    # through float32 and back: the primitive is exercised, and f is linear so a
    # large finite-difference step is exact up to float32 rounding
    fn = _named(lambda x: tg.cast(tg.cast(x, tg.float32), tg.float64) * 3.0, "cast_roundtrip")
    tol = dict(eps=1e-2, rtol=1e-4, atol=1e-5)
    return [("%s" % (s,), fn, [normal(s, "cast")], tol) for s in SHAPES]


def _concat_cases():
    cases = []
    for s in SHAPES[1:]:
        for axis in range(-len(s), len(s)):
            other = list(s)
            other[axis] = 2
            fn = _named(lambda x, y, axis=axis: tg.concat([x, y, x], axis), "concat")
            cases.append(("%s axis=%d" % (s, axis), fn, [normal(s, "c"),
                                                         normal(tuple(other), "c2")]))
    return cases


def _stack_unstack_cases():
    return [("%s" % (s,), _named(lambda x, y: tg.stack([x, y], axis=0) * 2.0, "stack"),
             [normal(s, "s1"), normal(s, "s2")]) for s in SHAPES]


def _broadcast_to_cases():
    targets = {(): (2, 3), (3,): (2, 3), (3, 4): (2, 3, 4), (3, 1): (3, 5), (1, 4): (3, 4),
               (2, 3, 4): (2, 2, 3, 4)}
    return [("%s->%s" % (s, t), _named(lambda x, t=t: tg.broadcast_to(x, t), "broadcast_to"),
             [normal(s, "bt")]) for s, t in targets.items()]


def _reshape_cases():
    cases = []
    for s in SHAPES:
        n = int(np.prod(s, dtype=np.int64))
        for target in ([-1], [n, 1], [1, -1, 1]):
            if tuple(np.zeros(s).reshape(target).shape) == s:
                continue  # a no-op reshape records nothing
            cases.append(("%s->%s" % (s, target),
                          _named(lambda x, t=target: tg.reshape(x, t), "reshape"),
                          [normal(s, "r")]))
    return cases


def _transpose_cases():
    cases = []
    for s in SHAPES:
        perms = [None] + ([tuple(np.roll(np.arange(len(s)), 1))] if len(s) > 1 else [])
        for p in perms:
            cases.append(("%s perm=%s" % (s, p),
                          _named(lambda x, p=p: tg.transpose(x, p), "transpose"),
                          [normal(s, "t")]))
    return cases


def _tile_cases():
    cases = []
    for s in SHAPES:
        mult = tuple([2] * len(s))
        cases.append(("%s" % (s,), _named(lambda x, m=mult: tg.tile(x, m), "tile"),
                      [normal(s, "tile")]))
    return cases


def _pad_cases():
    cases = []
    for s in SHAPES[1:]:  # padding a 0-d tensor is the identity: no pad primitive
        p = np.array([[1, 2]] * len(s), dtype=np.int64).reshape(-1, 2)
        fn = _named(lambda x, p=p: tg.pad(x, p, constant_values=3.), "pad")
        cases.append(("%s" % (s,), fn, [normal(s, "pad")]))
    return cases


_GETITEM_KEYS = {
    (3,): [(slice(None, None, -1),), (1,), ([2, 0, 2],), (None, slice(1, 3))],
    (3, 4): [(slice(0, 3, 2), slice(None, None, -2)), (Ellipsis, 1), ([0, 0, 2], slice(1, 3)),
             (1, None, [3, 0, 3])],
    (3, 1): [(slice(1, None), 0)],
    (1, 4): [(0, slice(None, None, -1))],
    (2, 3, 4): [(1, Ellipsis, slice(None, 2)), (slice(None), [2, 0, 2], slice(1, None)),
                (np.array([[1, 0], [1, 1]]),)],
}


def _getitem_cases():
    cases = []
    for s, keys in _GETITEM_KEYS.items():
        for k in keys:
            cases.append(("%s[%r]" % (s, k), _named(lambda x, k=k: x[k], "getitem"),
                          [normal(s, "gi")]))
    cases.append(("()[None]", _named(lambda x: x[None, ...], "getitem"), [normal((), "gi")]))
    return cases


def _getitem_grad_cases():
    cases = []
    for s, keys in _GETITEM_KEYS.items():
        for k in keys[:2]:
            fn = _named(lambda x, k=k: x[k], "getitem")
            out_shape = np.zeros(s)[k].shape
            cases.append(("%s[%r]" % (s, k), _vjp(fn, 0), [normal(s, "gg"),
                                                            normal(out_shape, "ct")]))
    return cases


_GATHER = [((3,), [2, 0, 2], 0), ((3, 4), [[1, 1], [0, 2]], 0), ((3, 4), [3, 0], 1),
           ((3, 1), [0, 2], 0), ((1, 4), [0, 0], -2), ((2, 3, 4), [1, 1, 2], 1)]


def _gather_cases():
    return [("%s idx=%s axis=%d" % (s, idx, ax),
             _named(lambda p, i, ax=ax: tg.gather(p, i, axis=ax), "gather"),
             [normal(s, "ga"), np.array(idx, dtype=np.int32)]) for s, idx, ax in _GATHER]


def _gather_grad_cases():
    cases = []
    for s, idx, ax in _GATHER:
        idx = np.array(idx, dtype=np.int32)
        fn = _named(lambda p, idx=idx, ax=ax: tg.gather(p, idx, axis=ax), "gather")
        out_shape = np.take(np.zeros(s), idx, axis=ax).shape
        cases.append(("%s idx=%s axis=%d" % (s, idx.tolist(), ax), _vjp(fn, 0),
                      [normal(s, "gg"), normal(out_shape, "ct")]))
    return cases


def _add_n_cases():
    return [("%s x3" % (s,), _named(lambda a, b, c: tg.add_n([a, b, c, a]), "add_n"),
             [normal(s, "a"), normal(s, "b"), normal(s, "c")]) for s in SHAPES]


def _softmax_cases(op):
    cases = []
    for s in SHAPES[1:]:
        for axis in (-1, 0):
            cases.append(("%s axis=%d" % (s, axis),
                          _named(lambda x, axis=axis: op(x, axis=axis), op.__name__),
                          [normal(s, op.__name__) * 2]))
    return cases


def _matmul_cases():
    cases = []
    specs = [((2, 3), (3, 4)), ((3,), (3, 2)), ((2, 3), (3,)), ((3,), (3,)),
             ((2, 2, 3), (3, 4)), ((2, 1, 2, 3), (3, 3, 2)), ((1, 3), (3, 1))]
    for sa, sb in specs:
        cases.append(("%s@%s" % (sa, sb), tg.matmul, [normal(sa, "ma"), normal(sb, "mb")]))
    for ta in (False, True):
        for tb in (False, True):
            sa = (3, 2) if ta else (2, 3)
            sb = (4, 3) if tb else (3, 4)
            fn = _named(lambda a, b, ta=ta, tb=tb: tg.matmul(a, b, transpose_a=ta,
                                                            transpose_b=tb), "matmul")
            cases.append(("transpose_a=%s transpose_b=%s" % (ta, tb), fn,
                          [normal((2,) + sa, "ta"), normal(sb, "tb")]))
    return cases


def _einsum_cases():
    specs = [("ij,jk->ik", (2, 3), (3, 4)), ("bij,bjk->bik", (2, 3, 4), (2, 4, 2)),
             ("i,i->", (3,), (3,)), ("ij->ji", (3, 4), None), ("ijk->k", (2, 3, 4), None),
             ("ij,kj->ikj", (3, 4), (2, 4)), ("->", (), None)]
    cases = []
    for eq, sa, sb in specs:
        fn = _named(lambda *xs, eq=eq: tg.einsum(eq, *xs), "einsum")
        args = [normal(sa, eq, "a")] + ([] if sb is None else [normal(sb, eq, "b")])
        cases.append((eq, fn, args))
    return cases


# conv2d: (input shape, filter shape, strides, padding, dilations)
_CONV = [((1, 4, 4, 2), (2, 2, 2, 3), 1, "VALID", None),
         ((2, 5, 4, 1), (3, 2, 1, 2), 1, "SAME", None),
         ((1, 5, 5, 2), (3, 3, 2, 1), 2, "SAME", None),
         ((1, 5, 6, 1), (2, 3, 1, 2), (2, 1), "VALID", None),
         ((1, 5, 5, 1), (2, 2, 1, 1), 1, "SAME", 2),
         ((1, 6, 5, 2), (2, 2, 2, 1), 1, "VALID", (2, 1))]


def _conv_fn(strides, padding, dilations):
    return _named(lambda x, w: tg.nn.conv2d(x, w, strides, padding, dilations=dilations),
                  "conv2d")


def _conv_out_shape(xs, ws, strides, padding, dilations):
    return tg.nn.conv2d(np.zeros(xs), np.zeros(ws), strides, padding,
                        dilations=dilations).shape


def _conv_cases():
    return [("%s*%s s=%s %s d=%s" % (xs, ws, st, pad, dil), _conv_fn(st, pad, dil),
             [normal(xs, "cx"), normal(ws, "cw")]) for xs, ws, st, pad, dil in _CONV]


def _conv_backprop_cases(wrt):
    cases = []
    for xs, ws, st, pad, dil in _CONV[:4] + _CONV[5:]:
        ys = _conv_out_shape(xs, ws, st, pad, dil)
        cases.append(("%s*%s s=%s %s d=%s" % (xs, ws, st, pad, dil),
                      _vjp(_conv_fn(st, pad, dil), wrt),
                      [normal(xs, "bx"), normal(ws, "bw"), normal(ys, "by")]))
    return cases


# pooling: (input shape, ksize, strides, padding)
_POOL = [((1, 4, 4, 2), 2, 2, "VALID"), ((2, 5, 5, 1), 3, 2, "SAME"),
         ((1, 4, 5, 1), (2, 3), (1, 2), "SAME"), ((1, 3, 3, 2), 2, 1, "VALID")]


def _pool_fn(op, k, s, p):
    return _named(lambda x: op(x, k, s, p), op.__name__)


def _pool_cases(op):
    return [("%s k=%s s=%s %s" % (xs, k, s, p), _pool_fn(op, k, s, p), [distinct(xs, "px")])
            for xs, k, s, p in _POOL]


def _pool_grad_cases(op):
    cases = []
    for xs, k, s, p in _POOL:
        ys = op(np.zeros(xs), k, s, p).shape
        cases.append(("%s k=%s s=%s %s" % (xs, k, s, p), _vjp(_pool_fn(op, k, s, p), 0),
                      [distinct(xs, "gx"), normal(ys, "gy")]))
    return cases


def _max_pool_select_cases():
    # the VJP (w.r.t. the cotangent) of max_pool2d's VJP reads an input-shaped
    # tensor at each window's argmax: that is max_pool2d_select
    cases = []
    for xs, k, s, p in _POOL:
        ys = tg.nn.max_pool2d(np.zeros(xs), k, s, p).shape
        sel = _vjp(_vjp(_pool_fn(tg.nn.max_pool2d, k, s, p), 0), 1)
        cases.append(("%s k=%s s=%s %s" % (xs, k, s, p), sel,
                      [distinct(xs, "sx"), normal(ys, "sg"), normal(xs, "sh")]))
    return cases


@tg.custom_gradient
def _softplus_custom(x):
    # the gradient is written from x in tapegrad ops, so it differentiates again
    def grad(dy):
        return dy * tg.sigmoid(x)

    return tg.log(1.0 + tg.exp(x)), grad


def _custom_cases():
    return [("%s" % (s,), _softplus_custom, [normal(s, "cg")]) for s in SHAPES]


def _function_call_body(x, w):
    # x used by three ops, w by two: every use is its own slot of the recorded op
    h = tg.tanh(tg.matmul(x, w))
    return tg.reduce_sum(h * x + tg.sin(w[:1]) * x, axis=1)


_function_call_traced = tg.function(_function_call_body)


def _function_call_cases():
    # a replayed tg.function call under a tape is one function_call op (graph/calls.py):
    # each case traces once here, so the sweep's calls replay
    cases = []
    for xs in [(3, 4), (2, 4)]:
        args = [normal(xs, "fcx"), normal((4, 4), "fcw")]
        _function_call_traced(*[tg.constant(a) for a in args])
        cases.append(("%s" % (xs,), _function_call_traced, args))
    return cases


def _extremum_cases(op):
    return reduction(op, gen=distinct)


def _prod_cases():
    return reduction(tg.reduce_prod, gen=lambda s, *k: away_from_zero(s, *k) * 0.9)


GRAD_CASES = {
    "abs": unary(tg.abs, away_from_zero),
    "add": binary(tg.add),
    "add_n": _add_n_cases(),
    "avg_pool2d": _pool_cases(tg.nn.avg_pool2d),
    "avg_pool2d_grad": _pool_grad_cases(tg.nn.avg_pool2d),
    "broadcast_to": _broadcast_to_cases(),
    "cast": _cast_cases(),
    "ceil": unary(tg.ceil, fractional),
    "concat": _concat_cases() + _stack_unstack_cases(),
    "conv2d": _conv_cases(),
    "conv2d_backprop_filter": _conv_backprop_cases(1),
    "conv2d_backprop_input": _conv_backprop_cases(0),
    "cos": unary(tg.cos),
    "custom_gradient": _custom_cases(),
    "function_call": _function_call_cases(),
    "divide": binary(tg.divide, normal, away_from_zero),
    "einsum": _einsum_cases(),
    "exp": unary(tg.exp),
    "expm1": unary(tg.expm1),
    "floor": unary(tg.floor, fractional),
    "floormod": _floormod_cases(),
    "gather": _gather_cases(),
    "gather_grad": _gather_grad_cases(),
    "getitem": _getitem_cases(),
    "getitem_grad": _getitem_grad_cases(),
    "identity": unary(tg.identity),
    "log": unary(tg.log, positive),
    "log1p": unary(tg.log1p, positive),
    "log_softmax": _softmax_cases(tg.nn.log_softmax),
    "sparse_softmax_xent": [
        ("%s" % (s,), _named(lambda z, lab=lab: tg.nn.sparse_softmax_cross_entropy_with_logits(
            labels=lab, logits=z), "sparse_xent"), [normal(s, "sx") * 2])
        for s, lab in [((3, 4), np.array([0, 2, 3], np.int32)),
                       ((2, 3, 5), np.array([[4, 0, 1], [2, 2, 3]], np.int64))]],
    "sparse_softmax_xent_grad": [
        ("%s" % (s,), _vjp(_named(lambda z, lab=lab: tg.nn.sparse_softmax_cross_entropy_with_logits(
            labels=lab, logits=z), "sparse_xent"), 0), [normal(s, "sxg") * 2,
                                                         normal(s[:-1], "sxc")])
        for s, lab in [((3, 4), np.array([0, 2, 3], np.int32)),
                       ((2, 3, 5), np.array([[4, 0, 1], [2, 2, 3]], np.int64))]],
    "matmul": _matmul_cases(),
    "max_pool2d": _pool_cases(tg.nn.max_pool2d),
    "max_pool2d_grad": _pool_grad_cases(tg.nn.max_pool2d),
    "relu_grad": [("%s" % (s,), _vjp(_named(lambda x: tg.nn.relu(x), "relu"), 0),
                   [away_from_zero(s, "rg"), normal(s, "ct")]) for s in [(3,), (3, 4), (2, 3, 4)]],
    "max_pool2d_select": _max_pool_select_cases(),
    "maximum": _maximum_cases(tg.maximum),
    "minimum": _maximum_cases(tg.minimum),
    "multiply": binary(tg.multiply),
    "negative": unary(tg.negative),
    "pad": _pad_cases(),
    "pow": _pow_cases(),
    "reciprocal": unary(tg.reciprocal, positive),
    "reduce_max": _extremum_cases(tg.reduce_max),
    "reduce_min": _extremum_cases(tg.reduce_min),
    "reduce_prod": _prod_cases(),
    "reduce_sum": reduction(tg.reduce_sum),
    "relu": unary(tg.nn.relu, away_from_zero),
    "reshape": _reshape_cases(),
    "round": unary(tg.round, halves),
    "rsqrt": unary(tg.rsqrt, positive),
    "safe_mul": binary(tg.safe_mul, normal, normal),
    "sigmoid": unary(tg.sigmoid),
    "sign": unary(tg.sign, away_from_zero),
    "sin": unary(tg.sin),
    "softmax": _softmax_cases(tg.nn.softmax),
    # softmax's adjoint primitive, differentiated in both its inputs (y through the
    # softmax of x, and the cotangent), along the last axis (the fused kernel) and not
    "softmax_grad": [
        ("%s axis=%d" % (s, axis),
         _vjp(_named(lambda x, axis=axis: tg.nn.softmax(x, axis=axis), "softmax"), 0),
         [normal(s, "smg") * 2, normal(s, "smc")])
        for s in [(3, 4), (2, 3, 5)] for axis in (-1, 0)],
    "sqrt": unary(tg.sqrt, positive),
    "square": unary(tg.square),
    "subtract": binary(tg.subtract),
    "tanh": unary(tg.tanh),
    "tile": _tile_cases(),
    "transpose": _transpose_cases(),
    "where": _where_cases(),
}

# scientific primitives (special functions, linalg, complex, FFT): tests/ops/_sci_cases.py
def _sci_cases():
    import importlib.util
    import os

    path = os.path.join(os.path.dirname(__file__), "_sci_cases.py")
    spec = importlib.util.spec_from_file_location("_tg_sci_cases", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


GRAD_CASES.update(_sci_cases().SCI_GRAD_CASES)


# array-op primitives: cases live in their own module (loaded by path, so this file can
# itself be loaded by path from other test directories)
def _array_cases():
    import importlib.util
    import os

    path = os.path.join(os.path.dirname(__file__), "_array_grad_cases.py")
    spec = importlib.util.spec_from_file_location("_tg_array_cases", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


GRAD_CASES.update(_array_cases().ARRAY_GRAD_CASES)

# Non-linear compositions worth a second-order check of their own (they are built from
# the primitives above, so they need no entry in GRAD_CASES).
COMPOSITE_CASES = [
    ("softplus", tg.nn.softplus, [normal((3, 4), "sp") * 3]),
    ("reduce_logsumexp", _named(lambda x: tg.reduce_logsumexp(x, axis=-1), "logsumexp"),
     [normal((2, 3, 4), "lse")]),
    ("reduce_mean", _named(lambda x: tg.reduce_mean(x, axis=0), "mean"), [normal((3, 4), "m")]),
    ("reduce_variance", _named(lambda x: tg.reduce_variance(x, axis=1), "var"),
     [normal((3, 4), "v")]),
    ("norm", _named(lambda x: tg.norm(x, axis=-1), "norm"), [away_from_zero((3, 4), "n")]),
    ("clip_by_norm", _named(lambda x: tg.clip_by_norm(x, 0.5), "clip_by_norm"),
     [normal((3, 4), "cbn")]),
    ("sparse_xent", _named(lambda z: tg.nn.sparse_softmax_cross_entropy_with_logits(
        labels=np.array([0, 2, 1]), logits=z), "sparse_xent"), [normal((3, 4), "sx")]),
    ("xent", _named(lambda z: tg.nn.softmax_cross_entropy_with_logits(
        labels=np.full((3, 4), 0.25), logits=z), "xent"), [normal((3, 4), "x")]),
    ("sigmoid_xent", _named(lambda z: tg.nn.sigmoid_cross_entropy_with_logits(
        labels=np.full((3, 4), 0.3), logits=z), "sig_xent"), [normal((3, 4), "s")]),
    ("tensordot", _named(lambda a, b: tg.tensordot(a, b, 1), "tensordot"),
     [normal((2, 3), "td"), normal((3, 4), "td2")]),
    ("split", _named(lambda x: tg.split(x, [1, 3], axis=1)[1] * tg.split(x, 2, axis=1)[0][:, :1],
                     "split"), [normal((3, 4), "spl")]),
    ("unstack", _named(lambda x: tg.unstack(x, axis=1)[2] ** 2, "unstack"),
     [normal((3, 4), "us")]),
    ("squeeze/expand_dims", _named(lambda x: tg.expand_dims(tg.squeeze(x), 0) ** 3, "sq"),
     [normal((3, 1), "sq")]),
    ("elu", tg.nn.elu, [away_from_zero((3, 4), "elu")]),
    ("leaky_relu", tg.nn.leaky_relu, [away_from_zero((3, 4), "lr")]),
]
