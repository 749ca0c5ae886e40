"""Reductions against NumPy: every axis form (None, int, negative, tuple, list),
keepdims, dtypes, layouts, zero-size inputs, NaN/inf, and argmax/argmin."""

import warnings

import numpy as np
import pytest
from _tg_layouts import FLOATS, LAYOUTS, SHAPES, ZERO_SIZE, assert_matches, operand, sample

import tapegrad as tg


def _axes(shape):
    out = [None]
    n = len(shape)
    if n >= 1:
        out += [0, -1, [0], (-1,)]
    if n >= 2:
        out += [1, (0, 1), [-1, 0], -2]
    if n >= 3:
        out += [(0, 2), (2, 0, 1)]
    if n == 0:
        out += [()]
    return out


def _np_axis(axis, ndim):
    if axis is None:
        return None
    if isinstance(axis, (list, tuple)):
        return tuple(axis) if ndim else None
    return axis if ndim else None


REDUCTIONS = {
    "reduce_sum": (tg.reduce_sum, lambda x, axis, keepdims: np.sum(x, axis=axis, keepdims=keepdims,
                                                                   dtype=x.dtype),
                   [np.int32, np.int64]),
    "reduce_mean": (tg.reduce_mean, lambda x, axis, keepdims: np.mean(
        x, axis=axis, keepdims=keepdims).astype(x.dtype), []),
    "reduce_max": (tg.reduce_max, np.max, [np.int32, np.int64]),
    "reduce_min": (tg.reduce_min, np.min, [np.int32, np.int64]),
    "reduce_prod": (tg.reduce_prod, lambda x, axis, keepdims: np.prod(
        x, axis=axis, keepdims=keepdims, dtype=x.dtype), [np.int32]),
    "reduce_logsumexp": (tg.reduce_logsumexp, lambda x, axis, keepdims: np.log(np.sum(
        np.exp(x.astype(np.float64)), axis=axis, keepdims=keepdims)).astype(x.dtype), []),
    "reduce_variance": (tg.reduce_variance, lambda x, axis, keepdims: np.var(
        x.astype(np.float64), axis=axis, keepdims=keepdims).astype(x.dtype), []),
    "reduce_std": (tg.reduce_std, lambda x, axis, keepdims: np.std(
        x.astype(np.float64), axis=axis, keepdims=keepdims).astype(x.dtype), []),
}


def _params():
    for name, (_, _, extra) in REDUCTIONS.items():
        for dt in FLOATS + extra:
            yield pytest.param(name, dt, id="%s-%s" % (name, np.dtype(dt).name))


@pytest.mark.parametrize("name, dtype", list(_params()))
def test_reduction_matches_numpy(name, dtype):
    op, ref, _ = REDUCTIONS[name]
    rng = np.random.default_rng(0)
    for shape in SHAPES:
        x = sample(shape, dtype, rng, "unit" if name == "reduce_prod" else "normal")
        for axis in _axes(shape):
            for keepdims in (False, True):
                expected = np.asarray(ref(x, axis=_np_axis(axis, x.ndim), keepdims=keepdims))
                for layout in ("C", "F", "T", "slice"):
                    got = op(operand(x, layout), axis=axis, keepdims=keepdims)
                    try:
                        assert_matches(got, expected, rtol=1e-5, atol=1e-6)
                    except AssertionError as e:
                        raise AssertionError("%s %s axis=%r keepdims=%s layout=%s: %s" % (
                            name, shape, axis, keepdims, layout, e)) from None


def test_rank0_axis_0_and_minus_1_agree():
    x = tg.constant(2.0)
    assert float(tg.reduce_sum(x, axis=0)) == 2.0
    assert float(tg.reduce_sum(x, axis=-1)) == 2.0


def test_integer_mean_truncates_like_tf():
    x = np.array([[1, 2], [4, 4]], np.int32)
    assert_matches(tg.reduce_mean(x), np.int32(2))
    assert_matches(tg.reduce_mean(x, axis=0), np.array([2, 3], np.int32))


def test_sum_keeps_dtype_and_wraps_like_tf():
    x = np.full(4, 2 ** 30, np.int32)
    r = tg.reduce_sum(x)
    assert r.dtype == np.int32
    assert int(r) == int(np.sum(x, dtype=np.int32))


def test_float32_sum_accuracy():
    x = np.full(100_000, 0.1, np.float32)
    assert abs(float(tg.reduce_sum(x)) - 10_000.0) < 1.0


@pytest.mark.parametrize("shape", ZERO_SIZE)
def test_zero_size_reductions(shape):
    x = np.zeros(shape, np.float32)
    assert_matches(tg.reduce_sum(x), np.float32(0))
    assert_matches(tg.reduce_sum(x, axis=0), np.sum(x, axis=0))
    assert_matches(tg.reduce_prod(x, axis=-1, keepdims=True), np.prod(x, axis=-1, keepdims=True))
    r = tg.reduce_mean(x)
    assert r.dtype == np.float32 and np.isnan(float(r))
    for op in (tg.reduce_max, tg.reduce_min):
        with pytest.raises(ValueError, match=op.__name__):
            op(x)


def test_extremum_over_a_nonempty_axis_of_a_zero_size_tensor():
    """(0, 4) reduced over axis 1 has nothing to fail on: NumPy gives shape (0,)."""
    x = np.zeros((0, 4), np.float32)
    assert_matches(tg.reduce_sum(x, axis=1), np.sum(x, axis=1))


def test_nan_and_inf_propagate():
    x = np.array([[1.0, np.nan, 3.0], [np.inf, 2.0, -np.inf]], np.float32)
    with np.errstate(all="ignore"):
        expected_sum = np.sum(x, axis=1)
        assert_matches(tg.reduce_sum(x, axis=1), expected_sum)
    assert_matches(tg.reduce_max(x, axis=1), np.max(x, axis=1))
    assert_matches(tg.reduce_min(x, axis=1), np.min(x, axis=1))
    assert_matches(tg.reduce_logsumexp(np.array([-np.inf, -np.inf], np.float32)),
                   np.float32(-np.inf))
    assert_matches(tg.reduce_logsumexp(np.array([np.inf, 1.0], np.float32)), np.float32(np.inf))


def test_reductions_and_matmul_are_quiet_on_ieee_special_values():
    x = np.array([[1.0, np.nan, 3.0], [np.inf, 2.0, -np.inf]], np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for op in (tg.reduce_prod, tg.reduce_max, tg.reduce_logsumexp, tg.reduce_sum,
                   tg.reduce_mean, tg.reduce_variance):
            op(x, axis=1)
        for dt in (np.float32, np.float64):
            a = np.array([[np.inf, 1.0], [np.nan, 0.0]], dt)
            tg.matmul(a, np.array([[0.0, 0.0], [2.0, 3.0]], dt))


def test_logsumexp_is_stable():
    x = np.array([[1000.0, 1000.0], [-1000.0, -1001.0]], np.float32)
    expected = np.array([1000 + np.log(2), -1000 + np.log1p(np.exp(-1.0))], np.float32)
    assert_matches(tg.reduce_logsumexp(x, axis=1), expected, rtol=1e-6)


@pytest.mark.parametrize("name", ["reduce_any", "reduce_all"])
def test_boolean_reductions(name):
    op = getattr(tg, name)
    ref = np.any if name == "reduce_any" else np.all
    rng = np.random.default_rng(1)
    for shape in SHAPES + ZERO_SIZE:
        x = rng.random(shape) > 0.3
        for axis in _axes(shape) if shape not in ZERO_SIZE else [None, 0]:
            for keepdims in (False, True):
                for layout in ("C", "T", "slice"):
                    assert_matches(op(operand(np.asarray(x), layout), axis=axis,
                                      keepdims=keepdims),
                                   ref(x, axis=_np_axis(axis, x.ndim), keepdims=keepdims))
    with pytest.raises(TypeError, match=name):
        op(tg.constant([1.0]))


@pytest.mark.parametrize("name", ["argmax", "argmin"])
@pytest.mark.parametrize("dtype", FLOATS + [np.int32, np.int64])
def test_argmax_argmin(name, dtype):
    op = getattr(tg, name)
    ref = getattr(np, name)
    rng = np.random.default_rng(2)
    for shape in SHAPES[1:]:
        x = sample(shape, dtype, rng)
        for axis in range(-len(shape), len(shape)):
            for layout in LAYOUTS:
                r = op(operand(x, layout), axis=axis)
                assert_matches(r, ref(x, axis=axis).astype(np.int64))
        assert_matches(op(x), ref(x, axis=0).astype(np.int64))  # TF: axis None means 0
        assert_matches(op(x, axis=0, output_type=tg.int32), ref(x, axis=0).astype(np.int32))
    # ties: the first index
    assert int(op(np.array([3, 1, 3, 1], dtype))) == (0 if name == "argmax" else 1)
    with pytest.raises(ValueError, match=name):
        op(np.float32(1.0))
    with pytest.raises(ValueError, match=name):
        op(np.zeros((0, 3), np.float32), axis=0)


def test_argmax_nan_like_numpy():
    x = np.array([1.0, np.nan, 3.0], np.float32)
    assert int(tg.argmax(x)) == int(np.argmax(x))


def test_count_nonzero():
    x = np.array([[0, 1.5, 0], [2, 0, 3]], np.float32)
    assert_matches(tg.count_nonzero(x), np.int64(3))
    assert_matches(tg.count_nonzero(x, axis=1), np.array([1, 2], np.int64))


@pytest.mark.parametrize("op", [tg.reduce_sum, tg.reduce_mean, tg.reduce_max, tg.reduce_min,
                                tg.reduce_prod, tg.reduce_logsumexp])
def test_axis_errors_name_the_op(op):
    x = tg.zeros((2, 3))
    name = op.__name__
    with pytest.raises(ValueError, match=name):
        op(x, axis=2)
    with pytest.raises(ValueError, match=name):
        op(x, axis=-3)
    with pytest.raises(ValueError, match=name):
        op(x, axis=(0, 0))
    with pytest.raises(TypeError, match=name):
        op(x, axis=1.5)
    with pytest.raises(TypeError, match=name):
        op(x, axis="0")
    with pytest.raises(TypeError, match=name):
        op(None)


def test_axis_as_tensor():
    x = np.arange(6.0, dtype=np.float32).reshape(2, 3)
    assert_matches(tg.reduce_sum(x, axis=tg.constant(1)), x.sum(axis=1))
    assert_matches(tg.reduce_sum(x, axis=[tg.constant(0)]), x.sum(axis=0))


def test_bool_sum_raises():
    with pytest.raises(TypeError, match="reduce_sum"):
        tg.reduce_sum(tg.constant([True, False]))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape,axis", [((64, 28, 28, 8), (0, 1, 2)), ((4096, 3), 0),
                                        ((300, 20, 2), (0, 1)), ((5000, 1), 0)])
@pytest.mark.parametrize("keepdims", [False, True])
def test_sum_over_leading_axes_of_large_arrays_matches_numpy_bitwise(dtype, shape, axis,
                                                                     keepdims):
    # bias gradients take a row-accumulating kernel; it must give NumPy's exact bits
    x = (np.random.default_rng(3).standard_normal(shape) * 1e3).astype(dtype)
    got = tg.reduce_sum(x, axis=axis, keepdims=keepdims).numpy()
    want = np.add.reduce(x, axis=axis, keepdims=keepdims)
    assert got.shape == want.shape and got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)


def test_sum_over_leading_axes_of_a_non_contiguous_array():
    x = np.random.default_rng(4).standard_normal((80, 70, 6))[:, ::2]
    np.testing.assert_allclose(tg.reduce_sum(x, axis=(0, 1)).numpy(), x.sum(axis=(0, 1)),
                               rtol=1e-12)
