"""Tensor creation: constant, convert_to_tensor, wrap, zeros/ones/*_like, fill, eye,
range, linspace."""

import numpy as np
import pytest
from _tg_layouts import SHAPES, ZERO_SIZE, assert_matches

import tapegrad as tg
from tapegrad import _core

DTYPES = [tg.float16, tg.float32, tg.float64, tg.int32, tg.int64, tg.bool]


def test_constant_values_and_shape_argument():
    assert_matches(tg.constant([[1, 2], [3, 4]]), np.array([[1, 2], [3, 4]], np.int32))
    assert_matches(tg.constant(0.5, shape=(2, 3)), np.full((2, 3), 0.5, np.float32))
    assert_matches(tg.constant([7], shape=[2]), np.array([7, 7], np.int32))
    assert_matches(tg.constant([1, 2, 3, 4, 5, 6], shape=(3, 2)),
                   np.arange(1, 7, dtype=np.int32).reshape(3, 2))
    assert_matches(tg.constant(1, dtype=tg.float64, shape=()), np.float64(1))
    with pytest.raises(ValueError, match="constant|reshape"):
        tg.constant([1, 2, 3], shape=(2, 2))


def test_constant_from_tensor_and_variable():
    t = tg.constant([1.0, 2.0])
    assert_matches(tg.constant(t), t.numpy())
    assert_matches(tg.constant(t, dtype=tg.float64), np.array([1, 2], np.float64))
    v = tg.Variable([3.0])
    c = tg.constant(v)
    v.assign([4.0])
    assert_matches(c, np.array([3.0], np.float32))


@pytest.mark.parametrize("order", ["C", "F"])
def test_constant_from_strided_and_ordered_arrays(order):
    base = np.arange(24.0).reshape(4, 6)
    for src in (np.array(base, order=order), base[::2, ::-3], base.T):
        t = tg.constant(src)
        assert_matches(t, src.copy())
        assert not np.shares_memory(t.numpy(), src)


def test_convert_to_tensor():
    t = tg.constant([1.0])
    assert tg.convert_to_tensor(t) is t
    assert tg.convert_to_tensor(t, dtype=tg.float32) is t
    with pytest.raises(TypeError, match="tg.cast"):
        tg.convert_to_tensor(t, dtype=tg.float64)
    assert_matches(tg.convert_to_tensor([1, 2], dtype=tg.float64), np.array([1, 2], np.float64))
    assert tg.convert_to_tensor(3, dtype_hint=tg.float32).dtype == np.float32
    v = tg.Variable([1.0, 2.0])
    assert_matches(tg.convert_to_tensor(v), np.array([1, 2], np.float32))


@pytest.mark.parametrize("value, exc", [(None, TypeError), ("abc", TypeError),
                                        (np.datetime64("2020"), TypeError),
                                        ([[1], [1, 2]], ValueError),
                                        (object(), TypeError), ({"a": 1}, TypeError),
                                        ([None, 1], TypeError)])
def test_conversion_errors(value, exc):
    for f in (tg.constant, tg.convert_to_tensor):
        with pytest.raises(exc, match=f.__name__):
            f(value)


def test_wrap_is_zero_copy_and_freezes():
    arr = np.arange(6.0).reshape(2, 3)
    t = _core.wrap(arr)
    assert np.shares_memory(t.numpy(), arr)
    assert not arr.flags.writeable
    assert _core.wrap(t) is t
    with pytest.raises(TypeError, match="wrap"):
        _core.wrap([1, 2])
    with pytest.raises(TypeError, match="wrap"):
        _core.wrap(np.array(["a"]))
    assert _core.wrap(np.array([1j])).dtype == np.complex128  # complex is a tensor dtype


@pytest.mark.parametrize("dtype", DTYPES)
def test_zeros_ones_fill(dtype):
    for shape in SHAPES + ZERO_SIZE:
        assert_matches(tg.zeros(shape, dtype), np.zeros(shape, dtype))
        assert_matches(tg.ones(shape, dtype), np.ones(shape, dtype))
        assert_matches(tg.fill(shape, 1, dtype=dtype) if dtype != tg.bool else
                       tg.fill(shape, True), np.full(shape, 1, dtype))
    assert_matches(tg.zeros([2, tg.constant(3)]), np.zeros((2, 3), np.float32))
    assert_matches(tg.zeros(tg.constant([2, 1])), np.zeros((2, 1), np.float32))
    assert_matches(tg.zeros(3), np.zeros(3, np.float32))


def test_fill_infers_dtype():
    assert_matches(tg.fill((2,), 2.5), np.full(2, 2.5, np.float32))
    assert_matches(tg.fill([2, 2], 7), np.full((2, 2), 7, np.int32))
    assert_matches(tg.fill((1,), tg.constant(3.0, tg.float64)), np.full(1, 3.0, np.float64))


@pytest.mark.parametrize("dtype", DTYPES)
def test_zeros_like_ones_like(dtype):
    rng = np.random.default_rng(0)
    for shape in SHAPES + ZERO_SIZE:
        x = tg.constant((rng.standard_normal(shape) > 0).astype(dtype))
        assert_matches(tg.zeros_like(x), np.zeros(shape, dtype))
        assert_matches(tg.ones_like(x), np.ones(shape, dtype))
    x = tg.constant([1, 2])
    assert_matches(tg.zeros_like(x, dtype=tg.float64), np.zeros(2, np.float64))
    assert_matches(tg.ones_like([1.0, 2.0]), np.ones(2, np.float32))
    assert_matches(tg.zeros_like(tg.Variable([[1.0]])), np.zeros((1, 1), np.float32))


def test_eye():
    assert_matches(tg.eye(3), np.eye(3, dtype=np.float32))
    assert_matches(tg.eye(2, 4, dtype=tg.int32), np.eye(2, 4, dtype=np.int32))
    assert_matches(tg.eye(2, batch_shape=[3]), np.broadcast_to(np.eye(2, dtype=np.float32),
                                                               (3, 2, 2)))
    assert_matches(tg.eye(0), np.eye(0, dtype=np.float32))
    with pytest.raises(ValueError, match="eye"):
        tg.eye(-1)


def test_range():
    assert_matches(tg.range(5), np.arange(5, dtype=np.int32))
    assert_matches(tg.range(2, 10, 3), np.arange(2, 10, 3, dtype=np.int32))
    assert_matches(tg.range(1.0, 2.0, 0.25), np.arange(1.0, 2.0, 0.25, dtype=np.float32))
    assert_matches(tg.range(5, 0, -2), np.arange(5, 0, -2, dtype=np.int32))
    assert_matches(tg.range(3, dtype=tg.float64), np.arange(3, dtype=np.float64))
    assert_matches(tg.range(tg.constant(4)), np.arange(4, dtype=np.int32))
    assert_matches(tg.range(0), np.arange(0, dtype=np.int32))
    with pytest.raises(ValueError, match="range"):
        tg.range(0, 5, 0)


def test_linspace():
    assert_matches(tg.linspace(0.0, 1.0, 5), np.linspace(0, 1, 5, dtype=np.float32))
    assert_matches(tg.linspace(2.0, 2.0, 1), np.array([2.0], np.float32))
    with pytest.raises(ValueError, match="linspace"):
        tg.linspace(0.0, 1.0, 0)


@pytest.mark.parametrize("bad, exc", [(None, TypeError), ((-1, 2), ValueError),
                                      ((2.5,), TypeError), ("ab", TypeError),
                                      ((None, 2), ValueError)])
def test_shape_argument_errors(bad, exc):
    for f in (tg.zeros, tg.ones):
        with pytest.raises(exc, match="fill|zeros|ones"):
            f(bad)
    with pytest.raises((TypeError, ValueError), match="fill"):
        tg.fill(bad, 1.0)


def test_creation_dtype_errors():
    with pytest.raises(TypeError, match="fill|zeros"):
        tg.zeros((2,), dtype="nonsense")
    with pytest.raises(TypeError, match="fill|zeros"):
        tg.zeros((2,), dtype=np.str_)  # (complex64 is supported since issue 17)
    with pytest.raises(ValueError, match="fill"):
        tg.fill((2,), [1, 2])
