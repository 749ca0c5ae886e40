"""The dispatcher's one-input fast paths (_core._unary_fast) and the in-place variable
update kernel give the bits (and warnings) of the general paths they skip."""

import warnings

import numpy as np
import pytest

import tapegrad as tg
from tapegrad import _core, _kernels
from tapegrad.ops.shape import _broadcast_to, _sum


def _general(prim, x, params):
    # the same primitive with its fast path switched off
    code = prim.unary_code
    prim.unary_code = -1
    try:
        return _core.apply(prim, (x,), params).numpy()
    finally:
        prim.unary_code = code


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(), (7,), (3, 5), (2, 0)])
@pytest.mark.parametrize("keepdims", [False, True])
def test_full_sum_matches_general_path(dtype, shape, keepdims):
    x = tg.constant(np.random.default_rng(1).standard_normal(shape).astype(dtype))
    params = {"axes": tuple(range(len(shape))), "keepdims": keepdims}
    fast = _core.apply(_sum, (x,), params).numpy()
    slow = _general(_sum, x, params)
    assert fast.shape == slow.shape and fast.dtype == slow.dtype
    assert fast.tobytes() == slow.tobytes()


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32])
@pytest.mark.parametrize("shape", [(1,), (4, 3), (0, 2), (70000,)])
def test_broadcast_matches_general_path(dtype, shape):
    x = tg.constant(np.array(-0.0 if dtype != np.int32 else 3, dtype))
    fast = _core.apply(_broadcast_to, (x,), {"shape": shape}).numpy()
    slow = _general(_broadcast_to, x, {"shape": shape})
    assert fast.shape == slow.shape and fast.dtype == slow.dtype
    assert fast.tobytes() == slow.tobytes()


def test_mean_gradient_through_the_fast_paths():
    v = tg.Variable(np.arange(6, dtype=np.float32).reshape(2, 3))
    with tg.GradientTape() as tape:
        y = tg.reduce_mean(tg.square(v))
    g = tape.gradient(y, v).numpy()
    np.testing.assert_array_equal(g, np.arange(6, dtype=np.float32).reshape(2, 3) * 2
                                  * np.float32(1 / 6))


def test_binary_update_refuses_non_finite_results_untouched():
    a = np.array([3e38, 1.0], np.float32)
    assert not _kernels.binary_update(_kernels.FAST_ADD, a, np.array([3e38, 1], np.float32))
    np.testing.assert_array_equal(a, np.float32([3e38, 1.0]))
    assert _kernels.binary_update(_kernels.FAST_SUB, a, np.array([1e38, 1], np.float32))
    np.testing.assert_array_equal(a, np.float32([3e38, 1]) - np.float32([1e38, 1]))
    with pytest.raises(ValueError, match="unknown operation code"):
        _kernels.binary_update(_kernels.FAST_MUL, a, a.copy())


def test_assign_sub_overflow_still_warns_like_numpy():
    v = tg.Variable(np.float32(3e38))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        v.assign_sub(np.float32(-3e38))
    assert v.numpy() == np.inf
    assert any("overflow" in str(w.message) for w in caught)


def test_assign_takes_tf_signature_in_core():
    v = tg.Variable(1.0)
    assert v.assign_add(2.0, None, "n", False) is None
    assert v.assign_sub(1.0, use_locking=True) is v
    assert v.assign(5.0, False) is v           # (use_locking=False: TF's order)
    assert float(v) == 5.0


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_square_matches_numpy_bits(dtype):
    info = np.finfo(dtype)
    vals = np.array([0.0, -0.0, 1.5, -2.25, 3.0, np.sqrt(info.tiny) * 4, 1 / np.sqrt(info.tiny),
                     np.sqrt(info.max) / 2], dtype)
    vals = np.concatenate([vals, np.random.default_rng(2).standard_normal(1000)
                           .astype(dtype)])
    got = tg.square(tg.constant(vals)).numpy()
    assert got.tobytes() == np.square(vals).tobytes()
    assert _kernels.square(vals).tobytes() == np.square(vals).tobytes()


@pytest.mark.parametrize("value", [1e30, 1e-30, np.nan, np.inf])
def test_square_where_numpy_flags_runs_numpy(value):
    # overflow, underflow and NaN/inf inputs: the kernel declines and NumPy's ufunc runs,
    # so its error state decides as before
    x = np.array([2.0, value], np.float32)
    assert _kernels.square(x) is None
    with np.errstate(all="raise"):
        if np.isfinite(value):
            with pytest.raises(FloatingPointError):
                tg.square(tg.constant(x))
        else:
            got = tg.square(tg.constant(x)).numpy()
            assert got.tobytes() == np.square(x).tobytes()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        got = tg.square(tg.constant(x)).numpy()
    assert any("overflow" in str(w.message) for w in caught) == (value == 1e30)
    with np.errstate(all="ignore"):
        assert got.tobytes() == np.square(x).tobytes()
