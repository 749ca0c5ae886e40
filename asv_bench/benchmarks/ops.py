"""Every registered primitive, forward and forward+backward, through the public API.

The tables drive the suite: ``FORWARD[name]`` builds a call of primitive ``name`` as a user
would write it (``tg.add(x, y)``, ``x[::2]``, ``tg.nn.conv2d(...)``), and the names listed
in ``FORWARD_BACKWARD`` are also timed through ``GradientTape.gradient``.  Adjoint
primitives that users never call directly (``getitem_grad``, ``conv2d_backprop_input``,
...) are covered by the backward pass of the op whose VJP runs them (``ADJOINTS``) and
their own VJPs by ``SecondOrder``.  ``tests/test_bench_meta.py`` fails when a registered
primitive is missing from these tables, and checks that every entry really runs the
primitive it is filed under.

``size`` is the element count of the main input (matrices are square, images NHWC).
"""

import math

import numpy as np

import tapegrad as tg

from . import DTYPES, Case, build_case, ones_like, seed_all, skip
from . import array_ops as _array_ops

SIZES = [1, 10_000, 1_000_000]


# -- shapes and inputs ---------------------------------------------------------------

def _vec(n):
    return (n,)


def _mat(n):
    side = max(1, math.isqrt(n))
    return (side, side)


def _img(n):
    # NHWC, at most 32x32 pixels: larger sizes grow the batch, as real training does
    c = 1 if n < 1000 else 8
    hw = min(32, max(2, math.isqrt(n // c)))
    return (max(1, n // (c * hw * hw)), hw, hw, c)


def _t(array, dtype):
    return tg.constant(np.asarray(array).astype(dtype))


def _uniform(rng, shape, dtype, low=-1.0, high=1.0):
    return _t(rng.uniform(low, high, shape), dtype)


def _unary(fn, low=-1.0, high=1.0, shape=_vec, **kwargs):
    def build(n, dtype, rng):
        return Case(fn, _uniform(rng, shape(n), dtype, low, high), **kwargs)
    return build


def _binary(fn, low=-1.0, high=1.0, low2=None, high2=None, shape=_vec):
    low2 = low if low2 is None else low2
    high2 = high if high2 is None else high2

    def build(n, dtype, rng):
        return Case(fn, _uniform(rng, shape(n), dtype, low, high),
                    _uniform(rng, shape(n), dtype, low2, high2))
    return build


def _dtype_free(build):
    """For ops whose inputs are not floats of the benchmark's dtype: time them once."""
    def once(n, dtype, rng):
        if dtype != DTYPES[0]:
            skip("the op's inputs do not depend on the dtype parameter")
        return build(n, dtype, rng)
    return once


def _bools(rng, n):
    return tg.constant(rng.random(n) < 0.5)


def _logical(fn, arity):
    def build(n, dtype, rng):
        return Case(fn, *[_bools(rng, n) for _ in range(arity)])
    return _dtype_free(build)


def _reduction(fn):
    def build(n, dtype, rng):
        return Case(fn, _uniform(rng, _mat(n), dtype, 0.5, 1.5), axis=1)
    return build


def _other_float(dtype):
    return np.float64 if np.dtype(dtype) == np.float32 else np.float32


# -- builders that do not fit a pattern ----------------------------------------------

def _b_add_n(n, dtype, rng):
    return Case(tg.add_n, [_uniform(rng, _vec(n), dtype) for _ in range(3)])


def _b_where(n, dtype, rng):
    x, y = _uniform(rng, _vec(n), dtype), _uniform(rng, _vec(n), dtype)
    return Case(tg.where, _bools(rng, n), x, y)


def _b_cast(n, dtype, rng):
    return Case(tg.cast, _uniform(rng, _vec(n), dtype), _other_float(dtype))


def _b_matmul(n, dtype, rng):
    a, b = _uniform(rng, _mat(n), dtype), _uniform(rng, _mat(n), dtype)
    return Case(tg.matmul, a, b)


def _b_einsum(n, dtype, rng):
    a, b = _uniform(rng, _mat(n), dtype), _uniform(rng, _mat(n), dtype)
    return Case(tg.einsum, "ij,ij->i", a, b)


def _b_conv2d(n, dtype, rng):
    shape = _img(n)
    c = shape[-1]
    x = _uniform(rng, shape, dtype)
    w = _uniform(rng, (3, 3, c, c), dtype, -0.3, 0.3)
    return Case(tg.nn.conv2d, x, w, strides=1, padding="SAME")


def _pool(fn):
    def build(n, dtype, rng):
        return Case(fn, _uniform(rng, _img(n), dtype), ksize=2, strides=2, padding="SAME")
    return build


def _b_softmax(fn):
    def build(n, dtype, rng):
        return Case(fn, _uniform(rng, (max(1, n // 10), min(n, 10)), dtype, -3, 3), axis=-1)
    return build


def _b_sparse_xent(n, dtype, rng):
    rows = max(1, n // 10)
    labels = tg.constant(rng.integers(0, min(n, 10), rows).astype(np.int32))
    return Case(lambda z: tg.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=z),
                _uniform(rng, (rows, min(n, 10)), dtype, -3, 3))


def _b_getitem(n, dtype, rng):
    return Case(lambda x: x[::2], _uniform(rng, _vec(n), dtype))


def _b_gather(n, dtype, rng):
    params = _uniform(rng, _mat(n), dtype)
    side = params.shape[0]
    indices = tg.constant(rng.integers(0, side, size=side).astype(np.int32))
    return Case(tg.gather, params, indices, axis=0)


def _b_concat(n, dtype, rng):
    return Case(tg.concat, [_uniform(rng, _vec(n), dtype), _uniform(rng, _vec(n), dtype)],
                axis=0)


def _b_reshape(n, dtype, rng):
    return Case(tg.reshape, _uniform(rng, _mat(n), dtype), (-1,))


def _b_transpose(n, dtype, rng):
    return Case(tg.transpose, _uniform(rng, _mat(n), dtype))


def _b_broadcast_to(n, dtype, rng):
    return Case(tg.broadcast_to, _uniform(rng, (1, n), dtype), (4, n))


def _b_tile(n, dtype, rng):
    return Case(tg.tile, _uniform(rng, _vec(n), dtype), (2,))


def _b_pad(n, dtype, rng):
    return Case(tg.pad, _uniform(rng, _vec(n), dtype), [[1, 1]])


def _b_one_hot(n, dtype, rng):
    return Case(tg.one_hot, tg.constant(rng.integers(0, 10, n).astype(np.int32)), 10,
                dtype=dtype)


def _b_argext(fn):
    def build(n, dtype, rng):
        return Case(fn, _uniform(rng, _mat(n), dtype), axis=1)
    return build


def _b_fill(n, dtype, rng):
    return Case(tg.fill, [n], 1.5, dtype=dtype)


def _b_eye(n, dtype, rng):
    return Case(tg.eye, _mat(n)[0], dtype=dtype)


def _b_range(n, dtype, rng):
    return Case(tg.range, n, dtype=dtype)


def _b_random(fn):
    def build(n, dtype, rng):
        return Case(fn, [n], dtype=dtype)
    return build


def _b_is_x(fn):
    def build(n, dtype, rng):
        values = rng.uniform(-1, 1, n)
        values[::7] = np.nan
        values[::11] = np.inf
        return Case(fn, _t(values, dtype))
    return build


@tg.custom_gradient
def _log1pexp(x):
    """The guide's numerically stable log(1 + exp(x)) with a hand-written gradient."""
    e = tg.exp(x)

    def grad(dy):
        return dy * (1 - 1 / (1 + e))

    return tg.log(1 + e), grad


# A replayed tg.function call: under a tape it is one function_call op whose VJP is the
# traced backward (graph/calls.py); setup's first call traces it
_traced_log1pexp = tg.function(lambda x: tg.log(1 + tg.exp(x)))


FORWARD = {
    # elementwise, binary
    "add": _binary(tg.add),
    "subtract": _binary(tg.subtract),
    "multiply": _binary(tg.multiply),
    "divide": _binary(tg.divide, low2=0.5, high2=2.0),
    "safe_mul": _binary(tg.safe_mul),
    "pow": _binary(tg.pow, low=0.5, high=2.0),
    "maximum": _binary(tg.maximum),
    "minimum": _binary(tg.minimum),
    "floormod": _binary(tg.floormod, low2=0.5, high2=2.0),
    "floordiv": _binary(tg.floordiv, low2=0.5, high2=2.0),
    "add_n": _b_add_n,
    "where": _b_where,
    # elementwise, unary
    "negative": _unary(tg.negative),
    "abs": _unary(tg.abs),
    "sign": _unary(tg.sign),
    "floor": _unary(tg.floor, -3, 3),
    "ceil": _unary(tg.ceil, -3, 3),
    "round": _unary(tg.round, -3, 3),
    "square": _unary(tg.square),
    "exp": _unary(tg.exp),
    "expm1": _unary(tg.expm1),
    "log": _unary(tg.log, 0.5, 2.0),
    "log1p": _unary(tg.log1p, 0.5, 2.0),
    "sqrt": _unary(tg.sqrt, 0.5, 2.0),
    "rsqrt": _unary(tg.rsqrt, 0.5, 2.0),
    "reciprocal": _unary(tg.reciprocal, 0.5, 2.0),
    "tanh": _unary(tg.tanh),
    "sigmoid": _unary(tg.sigmoid),
    "sin": _unary(tg.sin),
    "cos": _unary(tg.cos),
    "relu": _unary(tg.nn.relu),
    "identity": _unary(tg.identity),
    "stop_gradient": _unary(tg.stop_gradient),
    "zeros_like": _unary(tg.zeros_like),
    "ones_like": _unary(tg.ones_like),
    "cast": _b_cast,
    "custom_gradient": _unary(_log1pexp),
    "function_call": _unary(_traced_log1pexp),
    # comparisons and predicates
    "equal": _binary(tg.equal),
    "not_equal": _binary(tg.not_equal),
    "less": _binary(tg.less),
    "less_equal": _binary(tg.less_equal),
    "greater": _binary(tg.greater),
    "greater_equal": _binary(tg.greater_equal),
    "is_nan": _b_is_x(tg.is_nan),
    "is_inf": _b_is_x(tg.is_inf),
    "is_finite": _b_is_x(tg.is_finite),
    "logical_and": _logical(tg.logical_and, 2),
    "logical_or": _logical(tg.logical_or, 2),
    "logical_xor": _logical(tg.logical_xor, 2),
    "logical_not": _logical(tg.logical_not, 1),
    # reductions
    "reduce_sum": _reduction(tg.reduce_sum),
    "reduce_max": _reduction(tg.reduce_max),
    "reduce_min": _reduction(tg.reduce_min),
    "reduce_prod": _reduction(tg.reduce_prod),
    "reduce_any": _dtype_free(lambda n, dtype, rng: Case(tg.reduce_any, _bools(rng, n))),
    "reduce_all": _dtype_free(lambda n, dtype, rng: Case(tg.reduce_all, _bools(rng, n))),
    "argmax": _b_argext(tg.argmax),
    "argmin": _b_argext(tg.argmin),
    # linear algebra
    "matmul": _b_matmul,
    "einsum": _b_einsum,
    # neural network
    "softmax": _b_softmax(tg.nn.softmax),
    "log_softmax": _b_softmax(tg.nn.log_softmax),
    "sparse_softmax_xent": _b_sparse_xent,
    "conv2d": _b_conv2d,
    "max_pool2d": _pool(tg.nn.max_pool2d),
    "avg_pool2d": _pool(tg.nn.avg_pool2d),
    # shapes and indexing
    "reshape": _b_reshape,
    "transpose": _b_transpose,
    "broadcast_to": _b_broadcast_to,
    "concat": _b_concat,
    "tile": _b_tile,
    "pad": _b_pad,
    "getitem": _b_getitem,
    "gather": _b_gather,
    "one_hot": _b_one_hot,
    # creation and random
    "fill": _b_fill,
    "eye": _b_eye,
    "range": _b_range,
    "random_normal": _b_random(tg.random.normal),
    "random_uniform": _b_random(tg.random.uniform),
    "random_truncated_normal": _b_random(tg.random.truncated_normal),
}

# Primitives that have a gradient: their forward+backward is timed too.
FORWARD_BACKWARD = {name: FORWARD[name] for name in (
    "add", "subtract", "multiply", "divide", "safe_mul", "pow", "maximum", "minimum",
    "floormod", "add_n", "where",
    "negative", "abs", "sign", "floor", "ceil", "round", "square", "exp", "expm1", "log",
    "log1p", "sqrt", "rsqrt", "reciprocal", "tanh", "sigmoid", "sin", "cos", "relu",
    "identity", "cast", "custom_gradient", "function_call",
    "reduce_sum", "reduce_max", "reduce_min", "reduce_prod",
    "matmul", "einsum",
    "softmax", "log_softmax", "sparse_softmax_xent", "conv2d", "max_pool2d", "avg_pool2d",
    "reshape", "transpose", "broadcast_to", "concat", "tile", "pad", "getitem", "gather",
)}

# Gradients of gradients (gradient penalties, Hessian-vector products): the backward of
# the backward runs the VJPs of the adjoint primitives below.
SECOND_ORDER = {name: FORWARD[name] for name in (
    "getitem", "gather", "conv2d", "max_pool2d", "avg_pool2d", "divide", "tanh", "matmul", "relu",
    "sparse_softmax_xent", "softmax",
)}

# Adjoint primitive -> the op whose benchmarks run it: its forward runs in
# ForwardBackward[op] (max_pool2d_select only in SecondOrder[op]), its VJP in
# SecondOrder[op].
ADJOINTS = {
    "getitem_grad": "getitem",
    "gather_grad": "gather",
    "conv2d_backprop_input": "conv2d",
    "conv2d_backprop_filter": "conv2d",
    "max_pool2d_grad": "max_pool2d",
    "max_pool2d_select": "max_pool2d",
    "avg_pool2d_grad": "avg_pool2d",
    "relu_grad": "relu",
    "sparse_softmax_xent_grad": "sparse_softmax_xent",
    "softmax_grad": "softmax",
}

# array ops (h18): their builders live in array_ops.py
FORWARD.update(_array_ops.FORWARD)
FORWARD_BACKWARD.update({name: FORWARD[name] for name in _array_ops.FORWARD_BACKWARD})
SECOND_ORDER.update({name: FORWARD[name] for name in _array_ops.SECOND_ORDER})
ADJOINTS.update(_array_ops.ADJOINTS)


class Forward:
    """One forward call of each primitive."""

    params = [sorted(FORWARD), SIZES, DTYPES]
    param_names = ["op", "size", "dtype"]

    def setup(self, op, size, dtype):
        self.case = build_case(FORWARD, op, size, dtype)

    def time_forward(self, op, size, dtype):
        self.case()


class ForwardBackward:
    """Forward under a tape, then ``tape.gradient`` to every float input."""

    params = [sorted(FORWARD_BACKWARD), SIZES, DTYPES]
    param_names = ["op", "size", "dtype"]

    def setup(self, op, size, dtype):
        self.case = build_case(FORWARD_BACKWARD, op, size, dtype)
        self.dy = ones_like(self.case())

    def time_forward_backward(self, op, size, dtype):
        case = self.case
        with tg.GradientTape() as tape:
            tape.watch(case.sources)
            y = case()
        tape.gradient(y, case.sources, output_gradients=self.dy)


class SecondOrder:
    """Gradient of the squared norm of the first gradient (a gradient penalty)."""

    params = [sorted(SECOND_ORDER), SIZES[:2], DTYPES]
    param_names = ["op", "size", "dtype"]

    def setup(self, op, size, dtype):
        self.case = build_case(SECOND_ORDER, op, size, dtype)
        self.dy = ones_like(self.case())

    def time_second_order(self, op, size, dtype):
        case, dy = self.case, self.dy
        with tg.GradientTape() as outer:
            outer.watch(case.sources)
            outer.watch(dy)
            with tg.GradientTape() as inner:
                inner.watch(case.sources)
                y = case()
            grads = inner.gradient(y, case.sources, output_gradients=dy)
            penalty = tg.add_n([tg.reduce_sum(tg.square(g)) for g in grads])
        outer.gradient(penalty, case.sources + [dy])


class AddOverhead:
    """The dispatch floor: ``tg.add`` on 1-element tensors against ``np.add``."""

    params = [DTYPES]
    param_names = ["dtype"]

    def setup(self, dtype):
        rng = seed_all()
        self.a = rng.random(1).astype(dtype)
        self.b = rng.random(1).astype(dtype)
        self.x = tg.constant(self.a)
        self.y = tg.constant(self.b)

    def time_tg_add(self, dtype):
        tg.add(self.x, self.y)

    def time_tg_operator_add(self, dtype):
        self.x + self.y

    def time_np_add(self, dtype):
        np.add(self.a, self.b)


class MatmulBLAS:
    """Square matmul against ``np.matmul`` on the same arrays."""

    params = [[256, 1000], DTYPES]
    param_names = ["n", "dtype"]

    def setup(self, n, dtype):
        rng = seed_all()
        self.a = rng.random((n, n)).astype(dtype)
        self.b = rng.random((n, n)).astype(dtype)
        self.x = tg.constant(self.a)
        self.y = tg.constant(self.b)

    def time_tg_matmul(self, n, dtype):
        tg.matmul(self.x, self.y)

    def time_tg_matmul_transpose_b(self, n, dtype):
        tg.matmul(self.x, self.y, transpose_b=True)

    def time_np_matmul(self, n, dtype):
        np.matmul(self.a, self.b)

    def peakmem_tg_matmul(self, n, dtype):
        tg.matmul(self.x, self.y)
