"""Elementwise ops against NumPy: every shape group, float32/float64 (and the integer
and bool dtypes an op accepts), C/F/transposed/strided/negative-stride operands,
zero-size arrays, broadcasting (with hypothesis), NaN/inf, and the same-shape fast path."""

import numpy as np
import pytest
from _tg_layouts import (
    BROADCAST_PAIRS,
    FLOATS,
    LAYOUTS,
    SHAPES,
    ZERO_SIZE,
    assert_matches,
    operand,
    sample,
)
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tapegrad as tg


def _sigmoid(x):
    return (1 / (1 + np.exp(-x.astype(np.float64)))).astype(x.dtype)


def _softplus(x):
    return np.logaddexp(0, x.astype(np.float64)).astype(x.dtype)


# name: (tapegrad op, NumPy reference, input domain, dtypes beyond float32/64)
UNARY = {
    "abs": (tg.abs, np.abs, "normal", [np.int32, np.int64]),
    "negative": (tg.negative, np.negative, "normal", [np.int32, np.int64]),
    "sign": (tg.sign, np.sign, "normal", [np.int32, np.int64]),
    "square": (tg.square, np.square, "normal", [np.int32, np.int64]),
    "identity": (tg.identity, lambda x: x.copy(), "normal", [np.int32, np.int64, np.bool_]),
    "relu": (tg.nn.relu, lambda x: np.maximum(x, 0).astype(x.dtype), "normal", [np.int32]),
    "exp": (tg.exp, np.exp, "normal", []),
    "expm1": (tg.expm1, np.expm1, "normal", []),
    "log": (tg.log, np.log, "positive", []),
    "log1p": (tg.log1p, np.log1p, "positive", []),
    "sqrt": (tg.sqrt, np.sqrt, "positive", []),
    "rsqrt": (tg.rsqrt, lambda x: 1 / np.sqrt(x), "positive", []),
    "reciprocal": (tg.reciprocal, np.reciprocal, "positive", []),
    "tanh": (tg.tanh, np.tanh, "normal", []),
    "sigmoid": (tg.sigmoid, _sigmoid, "normal", []),
    "nn.sigmoid": (tg.nn.sigmoid, _sigmoid, "normal", []),
    "nn.tanh": (tg.nn.tanh, np.tanh, "normal", []),
    "softplus": (tg.nn.softplus, _softplus, "normal", []),
    "sin": (tg.sin, np.sin, "normal", []),
    "cos": (tg.cos, np.cos, "normal", []),
    "floor": (tg.floor, np.floor, "normal", []),
    "ceil": (tg.ceil, np.ceil, "normal", []),
    "round": (tg.round, np.rint, "normal", []),
    "is_nan": (tg.is_nan, np.isnan, "normal", []),
    "is_finite": (tg.is_finite, np.isfinite, "normal", []),
    "is_inf": (tg.is_inf, np.isinf, "normal", []),
}

BINARY = {
    "add": (tg.add, np.add, "normal", "normal", [np.int32, np.int64]),
    "subtract": (tg.subtract, np.subtract, "normal", "normal", [np.int32, np.int64]),
    "multiply": (tg.multiply, np.multiply, "normal", "normal", [np.int32, np.int64]),
    "divide": (tg.divide, np.true_divide, "normal", "positive", []),
    "maximum": (tg.maximum, np.maximum, "normal", "normal", [np.int32, np.int64]),
    "minimum": (tg.minimum, np.minimum, "normal", "normal", [np.int32, np.int64]),
    "pow": (tg.pow, np.power, "positive", "normal", []),
    "floordiv": (tg.floordiv, np.floor_divide, "normal", "positive", [np.int32, np.int64]),
    "floormod": (tg.floormod, np.mod, "normal", "positive", [np.int32, np.int64]),
    "safe_mul": (tg.safe_mul, np.multiply, "normal", "normal", []),
    "equal": (tg.equal, np.equal, "normal", "normal", [np.int32, np.bool_]),
    "not_equal": (tg.not_equal, np.not_equal, "normal", "normal", [np.int32, np.bool_]),
    "less": (tg.less, np.less, "normal", "normal", [np.int32]),
    "less_equal": (tg.less_equal, np.less_equal, "normal", "normal", [np.int32]),
    "greater": (tg.greater, np.greater, "normal", "normal", [np.int64]),
    "greater_equal": (tg.greater_equal, np.greater_equal, "normal", "normal", [np.int32]),
}

LOGICAL = {"logical_and": (tg.logical_and, np.logical_and),
           "logical_or": (tg.logical_or, np.logical_or),
           "logical_xor": (tg.logical_xor, np.logical_xor)}


def _unary_params():
    for name, (_, _, _, extra) in UNARY.items():
        for dt in FLOATS + extra:
            yield pytest.param(name, dt, id="%s-%s" % (name, np.dtype(dt).name))


def _binary_params():
    for name, (*_, extra) in BINARY.items():
        for dt in FLOATS + extra:
            yield pytest.param(name, dt, id="%s-%s" % (name, np.dtype(dt).name))


@pytest.mark.parametrize("name, dtype", list(_unary_params()))
def test_unary_matches_numpy(name, dtype):
    op, ref, domain, _ = UNARY[name]
    rng = np.random.default_rng(0)
    if name in ("floor", "ceil", "round"):
        domain = "normal"
    for shape in SHAPES + ZERO_SIZE:
        x = sample(shape, dtype, rng, domain)
        expected = ref(x)
        for layout in LAYOUTS:
            assert_matches(op(operand(x, layout)), expected)


@pytest.mark.parametrize("name, dtype", list(_binary_params()))
def test_binary_matches_numpy_same_shape(name, dtype):
    op, ref, dx, dy, _ = BINARY[name]
    rng = np.random.default_rng(1)
    for shape in SHAPES + ZERO_SIZE:
        x = sample(shape, dtype, rng, dx)
        y = sample(shape, dtype, rng, dy)
        with np.errstate(all="ignore"):
            expected = ref(x, y)
        for lx in LAYOUTS:
            for ly in ("C", lx):
                assert_matches(op(operand(x, lx), operand(y, ly)), expected)


@pytest.mark.parametrize("name, dtype", list(_binary_params()))
def test_binary_broadcasting(name, dtype):
    op, ref, dx, dy, _ = BINARY[name]
    rng = np.random.default_rng(2)
    for sa, sb in BROADCAST_PAIRS + [((0, 4), (3, 1, 1)), ((2, 0, 4), (4,))]:
        for a_shape, b_shape in ((sa, sb), (sb, sa)):
            x = sample(a_shape, dtype, rng, dx)
            y = sample(b_shape, dtype, rng, dy)
            with np.errstate(all="ignore"):
                expected = ref(x, y)
            for layout in ("C", "T", "slice"):
                assert_matches(op(operand(x, layout), operand(y, "F")), expected)


@pytest.mark.parametrize("name", sorted(LOGICAL))
def test_logical_ops(name):
    op, ref = LOGICAL[name]
    rng = np.random.default_rng(3)
    for sa, sb in [(s, s) for s in SHAPES] + BROADCAST_PAIRS:
        x = rng.random(sa) > 0.5
        y = rng.random(sb) > 0.5
        for layout in LAYOUTS:
            assert_matches(op(operand(np.asarray(x), layout), operand(np.asarray(y), "C")),
                           ref(x, y))
    x = rng.random((3, 4)) > 0.5
    assert_matches(tg.logical_not(operand(x, "T")), np.logical_not(x))
    with pytest.raises(TypeError, match=name):
        op(tg.constant([1.0]), tg.constant([0.0]))


@pytest.mark.parametrize("name, dtype", [("add", np.float16), ("multiply", np.float16),
                                         ("maximum", np.float16), ("divide", np.float16)])
def test_float16_binary(name, dtype):
    op, ref, dx, dy, _ = BINARY[name]
    rng = np.random.default_rng(4)
    x = sample((3, 4), dtype, rng, dx)
    y = sample((4,), dtype, rng, dy)
    assert_matches(op(tg.constant(x), tg.constant(y)), ref(x, y), rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize("op", [tg.exp, tg.tanh, tg.sqrt, tg.sigmoid, tg.abs, tg.square,
                                tg.sin, tg.log])
def test_float16_unary(op):
    x = np.array([0.5, 1.0, 2.0], np.float16)
    r = op(tg.constant(x))
    assert r.dtype == np.float16
    ref = {tg.sigmoid: _sigmoid}.get(op) or getattr(np, op.name if hasattr(op, "name")
                                                                 else op.__name__)
    np.testing.assert_allclose(r.numpy().astype(np.float64),
                               ref(x).astype(np.float64), rtol=2e-3)


# ---------------------------------------------------------------------------
# the same-shape float fast path (Cython loop) against NumPy, incl. NaN/inf


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("name", ["add", "subtract", "multiply", "divide", "maximum",
                                  "minimum"])
def test_fast_path_special_values(name, dtype):
    op, ref = BINARY[name][:2]
    vals = np.array([0.0, -0.0, 1.0, -1.0, np.inf, -np.inf, np.nan, 1e-30, 3e38], dtype)
    x = np.repeat(vals, len(vals))
    y = np.tile(vals, len(vals))
    with np.errstate(all="ignore"):
        expected = ref(x, y)
    got = op(tg.constant(x), tg.constant(y)).numpy()
    np.testing.assert_array_equal(np.isnan(got), np.isnan(expected))
    np.testing.assert_array_equal(got[~np.isnan(got)], expected[~np.isnan(expected)])
    if name not in ("maximum", "minimum"):  # which zero wins a +-0 tie is unspecified
        np.testing.assert_array_equal(np.signbit(got), np.signbit(expected))


@pytest.mark.parametrize("n", [1, 2, 3, 7, 64, 1000, 4099])
def test_fast_path_lengths(n):
    rng = np.random.default_rng(n)
    for dt in FLOATS:
        x = rng.standard_normal(n).astype(dt)
        y = rng.standard_normal(n).astype(dt)
        assert_matches(tg.add(x, y), x + y)
        assert_matches(tg.constant(x) * tg.constant(y), x * y)
        assert_matches(tg.constant(x) / tg.constant(y), x / y)


def test_fast_path_result_is_independent_of_inputs():
    a = tg.constant([1.0, 2.0])
    b = tg.constant([3.0, 4.0])
    c = a + b
    assert not np.shares_memory(c.numpy(), a.numpy())
    assert not np.shares_memory(c.numpy(), b.numpy())


# ---------------------------------------------------------------------------
# scalars, special values, weak typing in values


@pytest.mark.parametrize("dtype", FLOATS)
def test_ieee_special_values_like_numpy(dtype):
    x = np.array([0.0, -1.0, np.inf, -np.inf, np.nan, 1e-45, 100.0], dtype)
    for op, ref in [(tg.log, np.log), (tg.sqrt, np.sqrt), (tg.exp, np.exp),
                    (tg.reciprocal, np.reciprocal), (tg.tanh, np.tanh), (tg.log1p, np.log1p),
                    (tg.abs, np.abs), (tg.sign, np.sign), (tg.floor, np.floor)]:
        with np.errstate(all="ignore"):
            expected = ref(x)
        assert_matches(op(tg.constant(x)), expected)
    with np.errstate(all="ignore"):
        assert_matches(tg.divide(tg.constant(x), 0.0), x / dtype(0))


def test_sigmoid_is_stable_for_huge_inputs():
    x = np.array([-1e4, -100.0, 0.0, 100.0, 1e4], np.float32)
    r = tg.sigmoid(x).numpy()
    assert np.all(np.isfinite(r))
    np.testing.assert_allclose(r, [0, _sigmoid(np.float32(-100.0)), 0.5, 1, 1], atol=1e-30)


def test_softplus_is_stable_for_huge_inputs():
    x = np.array([-1e4, -50.0, 0.0, 50.0, 1e4], np.float32)
    np.testing.assert_allclose(tg.nn.softplus(x).numpy(), _softplus(x), rtol=1e-6)


def test_integer_division_semantics():
    a = np.array([7, -7, 0, 5], np.int32)
    b = np.array([2, 2, 3, -3], np.int32)
    assert_matches(tg.floordiv(a, b), a // b)
    assert_matches(tg.floormod(a, b), a % b)
    r = tg.divide(a, b)
    assert r.dtype.kind == "f"
    np.testing.assert_allclose(r.numpy(), a / b)


def test_integer_division_by_zero_raises():
    # as TensorFlow's CPU kernels; NumPy would return 0 silently
    a = tg.constant([1, 2])
    with pytest.raises(tg.errors.InvalidArgumentError, match="floordiv: integer division by zero"):
        tg.floordiv(a, tg.constant([0, 0]))


def test_scalars_and_python_values():
    assert_matches(tg.add(1.0, 2.0), np.float32(3.0))
    assert_matches(tg.multiply(2, 3), np.int32(6))
    assert_matches(tg.maximum([1.0, 5.0], 3.0), np.array([3.0, 5.0], np.float32))
    assert_matches(tg.subtract(np.float64(1.0), 3.0), np.float64(-2.0))
    assert_matches(tg.pow(tg.constant([2.0, 3.0]), 2), np.array([4.0, 9.0], np.float32))


# ---------------------------------------------------------------------------
# where, cast, add_n, clip, stop_gradient, identity


@pytest.mark.parametrize("dtype", FLOATS + [np.int32, np.int64])
def test_where_matches_numpy(dtype):
    rng = np.random.default_rng(5)
    for sa, sb in [(s, s) for s in SHAPES] + BROADCAST_PAIRS:
        shape = np.broadcast_shapes(sa, sb)
        cond = rng.random(shape) > 0.5
        x = sample(sa, dtype, rng)
        y = sample(sb, dtype, rng)
        for layout in ("C", "T", "slice"):
            assert_matches(tg.where(operand(np.asarray(cond), layout), operand(x, layout),
                                    operand(y, "F")), np.where(cond, x, y))
    cond = rng.random((3, 1)) > 0.5
    x = sample((1, 4), dtype, rng)
    assert_matches(tg.where(cond, x, 0), np.where(cond, x, dtype(0)))


def test_where_single_argument_gives_indices():
    c = np.array([[True, False], [False, True]])
    r = tg.where(c)
    assert r.dtype == np.int64
    np.testing.assert_array_equal(r.numpy(), np.argwhere(c))
    with pytest.raises(ValueError, match="where"):
        tg.where(c, 1.0)


@pytest.mark.parametrize("src", [np.float16, np.float32, np.float64, np.int32, np.int64,
                                 np.bool_, np.uint8])
@pytest.mark.parametrize("dst", [np.float16, np.float32, np.float64, np.int32, np.int64,
                                 np.bool_])
def test_cast_matches_numpy(src, dst):
    x = np.array([[0, 1.7, -2.6], [3.2, -0.4, 100]])
    if np.dtype(src).kind in "iu":
        x = np.abs(np.trunc(x)) if np.dtype(src).kind == "u" else np.trunc(x)
    x = x.astype(src)
    for layout in ("C", "T", "slice"):
        r = tg.cast(operand(x, layout), dst)
        assert_matches(r, x.astype(dst))


def test_cast_same_dtype_is_identity():
    t = tg.constant([1.0])
    assert tg.cast(t, tg.float32) is t


def test_add_n():
    rng = np.random.default_rng(6)
    for shape in SHAPES + ZERO_SIZE:
        xs = [rng.standard_normal(shape).astype(np.float32) for _ in range(4)]
        assert_matches(tg.add_n([operand(x, lay) for x, lay in zip(xs, LAYOUTS)]),
                       xs[0] + xs[1] + xs[2] + xs[3], rtol=1e-5)
    assert_matches(tg.add_n([np.float64(2.0)]), np.float64(2.0))
    one = tg.constant([1, 2])
    assert_matches(tg.add_n([one, one, one]), np.array([3, 6], np.int32))
    with pytest.raises(ValueError, match="add_n"):
        tg.add_n([])


def test_add_n_does_not_mutate_inputs():
    a = tg.constant([1.0, 2.0])
    b = tg.constant([3.0, 4.0])
    tg.add_n([a, b, a])
    np.testing.assert_array_equal(a.numpy(), [1, 2])


@pytest.mark.parametrize("dtype", FLOATS + [np.int32])
def test_clip_by_value(dtype):
    x = np.array([[-3, -1, 0], [1, 2, 5]]).astype(dtype)
    assert_matches(tg.clip_by_value(operand(x, "T"), -1, 2), np.clip(x, -1, 2))
    lo = np.array([-2, 0, 0]).astype(dtype)
    assert_matches(tg.clip_by_value(x, lo, 3), np.clip(x, lo, 3))


def test_stop_gradient_and_identity_values():
    x = np.arange(6.0).reshape(2, 3)
    for op in (tg.stop_gradient, tg.identity):
        for layout in LAYOUTS:
            assert_matches(op(operand(x, layout)), x)


# ---------------------------------------------------------------------------
# hypothesis: broadcasting of binary ops


_BIN_FOR_PROPERTY = ["add", "subtract", "multiply", "maximum", "minimum", "less", "equal",
                     "divide"]


@settings(max_examples=40, deadline=None)
@given(shapes=hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=4,
                                                max_side=4),
       name=st.sampled_from(_BIN_FOR_PROPERTY),
       dtype=st.sampled_from([np.float32, np.float64]),
       layout=st.sampled_from(LAYOUTS),
       seed=st.integers(0, 2 ** 16))
def test_property_binary_broadcasting(shapes, name, dtype, layout, seed):
    op, ref, dx, dy, _ = BINARY[name]
    rng = np.random.default_rng(seed)
    sa, sb = shapes.input_shapes
    x = sample(sa, dtype, rng, dx)
    y = sample(sb, dtype, rng, dy)
    assert_matches(op(operand(x, layout), operand(y, "C")), ref(x, y))
    assert_matches(op(operand(y, "C"), operand(x, layout)), ref(y, x))


@settings(max_examples=25, deadline=None)
@given(shapes=hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=1, max_dims=3,
                                                max_side=3))
def test_property_incompatible_shapes_raise_value_error(shapes):
    sa, sb = shapes.input_shapes
    bad = tuple(sb[:-1]) + (sb[-1] + 5 if sb[-1] != 1 else 7,)
    if sa[-1] in (1, bad[-1]):
        return
    with pytest.raises(ValueError, match="add"):
        tg.add(tg.zeros(sa), tg.zeros(bad))


@settings(max_examples=25, deadline=None)
@given(arr=hnp.arrays(np.float32, hnp.array_shapes(min_dims=0, max_dims=3, max_side=4),
                      elements=st.floats(-1e3, 1e3, width=32)))
def test_property_unary_roundtrip(arr):
    t = tg.constant(arr)
    assert_matches(tg.negative(tg.negative(t)), arr)
    assert_matches(tg.abs(t), np.abs(arr))
    assert_matches(tg.square(t), np.square(arr))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", ["add", "subtract", "multiply", "divide", "maximum", "minimum"])
def test_vector_broadcast_over_rows_matches_numpy_bitwise(dtype, name):
    # (..., C) (op) (C,) and (C,) (op) (..., C) take a row kernel in the dispatcher
    rng = np.random.default_rng(11)
    a = rng.standard_normal((6, 5, 7)).astype(dtype)
    v = rng.standard_normal(7).astype(dtype)
    v[2] = np.nan
    a[1, 1, 4] = np.nan
    op, ref = getattr(tg, name), getattr(np, name)
    for x, y in [(a, v), (v, a)]:
        got = op(tg.constant(x), tg.constant(y)).numpy()
        assert got.dtype == dtype and got.shape == a.shape
        np.testing.assert_array_equal(got, ref(x, y))


def test_bias_gradient_through_the_row_kernel():
    x = tg.constant(np.random.default_rng(12).standard_normal((9, 4)))
    b = tg.Variable(np.arange(4.0))
    with tg.GradientTape() as tape:
        y = tg.reduce_sum((x + b) * (b - x))
    gx = tape.gradient(y, b).numpy()
    xn = x.numpy()
    np.testing.assert_allclose(gx, ((xn + np.arange(4.0)) + (np.arange(4.0) - xn)).sum(0))


def test_pow_with_exponent_zero_has_zero_derivative_at_base_zero():
    # x ** 0 == 1 for every x (0 ** 0 included): d/dx is 0, not 0 * 0 ** -1 = NaN
    x = tg.constant(np.array([0.0, 2.0, -1.5]))
    y = tg.constant(np.array([0.0, 0.0, 0.0]))
    with tg.GradientTape() as outer:
        outer.watch(x)
        with tg.GradientTape() as tape:
            tape.watch(x)
            out = tg.reduce_sum(tg.math.pow(x, y))
        gx = tape.gradient(out, x)
        s = tg.reduce_sum(gx)
    np.testing.assert_array_equal(gx.numpy(), np.zeros(3))
    np.testing.assert_array_equal(outer.gradient(s, x).numpy(), np.zeros(3))
    _, t = tg.jvp(lambda a: tg.math.pow(a, y), [x], [tg.ones_like(x)])
    np.testing.assert_array_equal(t.numpy(), np.zeros(3))
