"""Conversion and kernel edge cases of the engine core: NumPy operands, out-of-range
Python numbers, integer division by zero, index arrays, gather's indices."""

import numpy as np
import pytest

import tapegrad as tg
from tapegrad.errors import InvalidArgumentError

# ---------------------------------------------------------------------------
# NumPy operands convert to the tensor's dtype when the values survive (TF eager)


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("operand", [np.float64(0.5), np.float32(0.5), np.array([0.5]),
                                     np.array([0.5, 1.5], np.float64), np.int64(2),
                                     np.array([2, 3], np.int64), np.uint8(2), np.int8(-3)])
def test_numpy_operand_takes_float_tensor_dtype(dtype, operand):
    x = np.array([1.0, 2.0], dtype)
    t = tg.constant(x)
    for fn, ref in ((lambda a, b: a + b, np.add), (lambda a, b: a * b, np.multiply),
                    (lambda a, b: a - b, np.subtract), (tg.maximum, np.maximum)):
        got = fn(t, operand)
        want = ref(x, np.asarray(operand).astype(dtype))
        assert got.dtype == np.dtype(dtype)
        np.testing.assert_array_equal(got.numpy(), want)
        rev = fn(operand, t)        # the NumPy operand first
        assert rev.dtype == np.dtype(dtype)
        np.testing.assert_array_equal(rev.numpy(), ref(np.asarray(operand).astype(dtype), x))


def test_numpy_operand_into_integer_tensor():
    t = tg.constant([1, 2])                        # int32
    r = t * np.int64(2)
    assert r.dtype == np.int32
    np.testing.assert_array_equal(r.numpy(), [2, 4])
    np.testing.assert_array_equal((t + np.array([10, 20], np.int64)).numpy(), [11, 22])
    np.testing.assert_array_equal((t + np.uint8(1)).numpy(), [2, 3])
    with pytest.raises((OverflowError, ValueError), match="out of range for int32"):
        t + np.int64(2 ** 40)
    with pytest.raises(TypeError, match="NumPy float64 operand"):
        t + np.float64(0.5)
    with pytest.raises(TypeError, match="use tg.cast"):
        t + np.array([1.0])
    with pytest.raises((OverflowError, ValueError), match="uint8"):
        tg.constant([1, 2], dtype=tg.uint8) + np.int64(-1)


def test_numpy_operand_into_bool_tensor():
    b = tg.constant([True, False])
    np.testing.assert_array_equal(tg.logical_and(b, np.bool_(True)).numpy(), [True, False])
    with pytest.raises(TypeError):
        tg.logical_and(b, np.array([1.0, 0.0]))


def test_two_tensors_of_different_dtypes_still_raise():
    with pytest.raises(TypeError, match="dtypes differ"):
        tg.constant([1.0]) + tg.constant(np.array([1.0]))
    with pytest.raises(TypeError, match="dtypes differ"):
        tg.constant([1.0]) + tg.Variable(np.array([1.0]))


def test_numpy_operands_alone_keep_numpy_dtype():
    r = tg.add(np.array([1.0]), np.array([2.0], np.float32))
    assert r.dtype == np.float64          # the first NumPy operand sets the dtype
    np.testing.assert_array_equal(r.numpy(), [3.0])


def test_numpy_operand_gradients():
    w = tg.Variable([1.0, 2.0])
    with tg.GradientTape() as tape:
        y = tg.reduce_sum(w * np.array([3.0, 4.0]) + np.float64(1.0))
    g = tape.gradient(y, w)
    assert g.dtype == np.float32
    np.testing.assert_array_equal(g.numpy(), [3.0, 4.0])


# ---------------------------------------------------------------------------
# out-of-range Python numbers raise instead of wrapping


@pytest.mark.parametrize("make", [
    lambda: tg.constant(300, dtype=tg.uint8),
    lambda: tg.constant(-1, dtype=tg.uint8),
    lambda: tg.constant(2 ** 40, dtype=tg.int32),
    lambda: tg.constant([1, 2 ** 31], dtype=tg.int32),
    lambda: tg.constant(2 ** 70, dtype=tg.int64),
    lambda: tg.constant(2 ** 70),
    lambda: tg.constant(np.int64(300), dtype=tg.uint8),
    lambda: tg.constant(np.array([256, 1]), dtype=tg.uint8),
    lambda: tg.convert_to_tensor(300, dtype=tg.uint8),
    lambda: tg.convert_to_tensor(2 ** 40, dtype=tg.int32),
    lambda: tg.Variable(300, dtype=tg.uint8),
    lambda: tg.Variable(2 ** 40, dtype=tg.int32),
    lambda: tg.fill([2], 300, tg.uint8),
    lambda: tg.fill([2], 2 ** 40, tg.int32),
    lambda: tg.constant([1, 2]) + 2 ** 40,
    lambda: tg.constant([1, 2]) * 1e20,
    lambda: tg.constant([1, 2], dtype=tg.uint8) + 256,
    lambda: tg.constant([1, 2], dtype=tg.uint8) - (-1),
], ids=lambda f: "")
def test_out_of_range_python_numbers_raise(make):
    with pytest.raises(OverflowError, match=r"out of range") as info:
        make()
    assert isinstance(info.value, ValueError)   # TF raises ValueError, NumPy 2 OverflowError


def test_out_of_range_message_names_value_and_dtype():
    with pytest.raises(OverflowError, match=r"constant: value 300 is out of range for uint8"):
        tg.constant(300, dtype=tg.uint8)
    with pytest.raises(OverflowError, match=r"1099511627776 .*int32"):
        tg.constant(2 ** 40, dtype=tg.int32)


def test_in_range_values_still_convert():
    assert tg.constant(255, dtype=tg.uint8).numpy() == 255
    assert tg.constant(-2 ** 31, dtype=tg.int32).numpy() == -2 ** 31
    assert tg.constant(2.0, dtype=tg.int32).numpy() == 2
    assert tg.constant(True, dtype=tg.int32).numpy() == 1
    np.testing.assert_array_equal(tg.fill([2], 7, tg.uint8).numpy(), [7, 7])
    assert tg.constant(2 ** 40).dtype == np.int64          # no dtype: widened, as before
    with pytest.raises(TypeError, match="without loss"):
        tg.constant(1.5, dtype=tg.int32)
    with pytest.raises(ValueError, match="bool"):
        tg.constant(2, dtype=tg.bool)


# ---------------------------------------------------------------------------
# integer division by zero raises; floats keep IEEE results


@pytest.mark.parametrize("dtype", [np.int8, np.int32, np.int64, np.uint8])
def test_integer_division_by_zero_raises(dtype):
    a = tg.constant(np.array([1, 2], dtype))
    z = tg.constant(np.array([1, 0], dtype))
    for fn, name in ((lambda: a // z, "floordiv"), (lambda: a % z, "floormod"),
                     (lambda: tg.floordiv(a, z), "floordiv"),
                     (lambda: tg.floormod(a, z), "floormod"),
                     (lambda: a // 0, "floordiv"), (lambda: 7 % z, "floormod")):
        with pytest.raises(InvalidArgumentError, match=name + ": integer division by zero"):
            fn()
    np.testing.assert_array_equal((a // tg.constant(np.array([1, 2], dtype))).numpy(), [1, 1])


def test_float_division_by_zero_is_ieee():
    a = tg.constant([1.0, -1.0, 0.0])
    with np.errstate(all="ignore"):
        want = np.floor_divide(np.float32([1.0, -1.0, 0.0]), np.float32(0.0))
    np.testing.assert_array_equal((a // 0.0).numpy(), want)
    assert np.all(np.isnan((a % 0.0).numpy()))
    np.testing.assert_array_equal((a / 0.0).numpy()[:2], [np.inf, -np.inf])


# ---------------------------------------------------------------------------
# index arrays: the caller's array is never modified


def test_index_array_stays_writable_and_private():
    idx = np.array([2, 0])
    x = tg.Variable([1.0, 2.0, 3.0])
    with tg.GradientTape() as tape:
        y = x[idx]
    assert idx.flags.writeable
    idx[0] = 1          # the caller changes its array: the recorded key must not follow
    np.testing.assert_array_equal(y.numpy(), [3.0, 1.0])
    np.testing.assert_array_equal(tape.gradient(y, x).numpy(), [1.0, 0.0, 1.0])
    mask = np.array([True, False, True])
    tg.constant([1.0, 2.0, 3.0])[mask]
    assert mask.flags.writeable


# ---------------------------------------------------------------------------
# gather rejects negative and out-of-range indices


@pytest.mark.parametrize("idx", [[-1], [0, -3], [3], [[0], [5]]])
def test_gather_rejects_bad_indices(idx):
    p = tg.constant([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    with pytest.raises(IndexError, match=r"gather: indices\[.*out of range \[0, 3\)"):
        tg.gather(p, idx)
    with pytest.raises(IndexError, match="gather"):
        tg.gather(tg.transpose(p), idx, axis=1)


def test_gather_in_range_still_works():
    p = np.arange(6.0, dtype=np.float32).reshape(3, 2)
    np.testing.assert_array_equal(tg.gather(p, [2, 0]).numpy(), p[[2, 0]])
