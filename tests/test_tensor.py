"""tg.Tensor: attributes, conversions, dtype rules, operators, NumPy interop, immutability."""

import copy
import pickle

import numpy as np
import pytest

import tapegrad as tg
from tapegrad import _core


def _tensors_for_immutability():
    a = tg.constant([[1.0, 2.0], [3.0, 4.0]])
    return {
        "constant": a,
        "broadcast add": a + tg.constant([1.0, 2.0]),
        "same-shape add (fast path)": a + a,
        "same-shape multiply f64 (fast path)": (tg.constant([1.0, 2.0], tg.float64) *
                                                tg.constant([3.0, 4.0], tg.float64)),
        "reshape": tg.reshape(a, [4]),
        "transpose": tg.transpose(a),
        "slice": a[:, ::-1],
        "matmul": tg.matmul(a, a),
        "reduce_sum": tg.reduce_sum(a, 0),
        "conv2d": tg.nn.conv2d(tg.ones((1, 3, 3, 1)), tg.ones((2, 2, 1, 1)), 1, "VALID"),
        "variable value": tg.Variable([1.0, 2.0]).value(),
        "variable numpy": tg.Variable([1.0, 2.0]),
        "wrap": _core.wrap(np.arange(4.0)),
    }


_IMM = _tensors_for_immutability()


@pytest.mark.parametrize("name", sorted(_IMM))
def test_numpy_is_read_only_and_cannot_be_made_writeable(name):
    """A Tensor's buffer (or a Variable's storage) is never writable through .numpy()."""
    t = _IMM[name]
    before = t.numpy().copy()
    arr = t.numpy()
    assert not arr.flags.writeable
    with pytest.raises(ValueError):
        arr[...] = 0
    with pytest.raises(ValueError):
        arr.flags.writeable = True
    via_array = np.asarray(t)
    with pytest.raises(ValueError):
        via_array.flags.writeable = True
    np.testing.assert_array_equal(t.numpy(), before)


def test_numpy_is_zero_copy():
    t = tg.constant(np.arange(6.0).reshape(2, 3))
    assert np.shares_memory(t.numpy(), t.numpy())
    assert np.shares_memory(np.asarray(t), t.numpy())


def test_constant_copies_its_input():
    src = np.arange(3.0)
    t = tg.constant(src)
    src[0] = 100
    assert t.numpy()[0] == 0


def test_tensor_cannot_be_constructed_directly():
    with pytest.raises(TypeError, match="tg.constant"):
        tg.Tensor([1.0])


# ---------------------------------------------------------------------------
# attributes, repr/str/format


def test_attributes():
    t = tg.constant(np.zeros((2, 3, 4), np.float64))
    assert t.shape == (2, 3, 4) and isinstance(t.shape, tuple)
    assert t.dtype == np.float64 and t.dtype == tg.float64
    assert t.ndim == 3 and t.size == 24
    assert t.device == "/cpu:0"
    assert t.get_shape() == (2, 3, 4)
    s = tg.constant(1.0)
    assert s.shape == () and s.ndim == 0 and s.size == 1


def test_repr_shows_shape_dtype_values():
    t = tg.constant([[1.0, 2.0], [3.0, 4.0]])
    r = repr(t)
    assert r.startswith("<tg.Tensor: shape=(2, 2), dtype=float32, numpy=")
    assert "[[1., 2.]," in r and "[3., 4.]]" in r and r.endswith(">")
    assert repr(tg.constant([1, 2])) == "<tg.Tensor: shape=(2,), dtype=int32, numpy=[1, 2]>"
    assert repr(tg.constant(3.5)) == "<tg.Tensor: shape=(), dtype=float32, numpy=3.5>"
    assert "dtype=bool" in repr(tg.constant([True]))


def test_str_and_format():
    t = tg.constant([1.0, 2.0])
    assert str(t) == "tg.Tensor([1. 2.], shape=(2,), dtype=float32)"
    assert "{:.3f}".format(tg.constant(1.23456)) == "1.235"
    assert "{}".format(t) == "[1. 2.]"
    assert "{:5d}".format(tg.constant(7)) == "    7"
    assert f"{tg.constant([2.5])}" == "[2.5]"


# ---------------------------------------------------------------------------
# Python conversions, len, iteration, hashing


def test_scalar_conversions():
    assert bool(tg.constant(1.0)) is True and bool(tg.constant([0])) is False
    assert float(tg.constant(2.5)) == 2.5 and isinstance(float(tg.constant(2)), float)
    assert int(tg.constant(3.9)) == 3 and int(tg.constant([[-7]])) == -7
    assert [10, 20, 30][tg.constant(2)] == 30
    assert [10, 20, 30][tg.constant(1, dtype=tg.int64)] == 20
    assert list(range(10))[tg.constant(1):tg.constant(3)] == [1, 2]
    assert complex(tg.constant(2.0)) == 2 + 0j


@pytest.mark.parametrize("fn", [bool, float, int])
def test_multi_element_conversion_raises(fn):
    with pytest.raises(ValueError, match="one-element"):
        fn(tg.constant([1.0, 2.0]))


def test_index_needs_integer_tensor():
    with pytest.raises(TypeError, match="integer"):
        [1, 2][tg.constant(1.0)]
    with pytest.raises(TypeError):
        [1, 2][tg.constant(True)]


def test_fizzbuzz_with_tensors():
    """The guide's fizzbuzz: tensors in Python control flow."""
    out = []
    counter = tg.constant(0)
    for num in range(1, tg.constant(16)):
        num = tg.constant(num)
        if int(num % 3) == 0 and int(num % 5) == 0:
            out.append("FizzBuzz")
        elif int(num % 3) == 0:
            out.append("Fizz")
        elif int(num % 5) == 0:
            out.append("Buzz")
        else:
            out.append(int(num))
        counter += 1
    assert out[:5] == [1, 2, "Fizz", 4, "Buzz"] and out[14] == "FizzBuzz"
    assert int(counter) == 15 and counter.dtype == tg.int32


def test_len_and_iteration():
    t = tg.constant([[1, 2], [3, 4], [5, 6]])
    assert len(t) == 3
    rows = list(t)
    assert len(rows) == 3 and all(isinstance(r, tg.Tensor) for r in rows)
    np.testing.assert_array_equal(rows[2].numpy(), [5, 6])
    assert [float(x) for x in tg.constant([1.5, 2.5])] == [1.5, 2.5]
    with pytest.raises(TypeError):
        len(tg.constant(1.0))
    with pytest.raises(TypeError):
        iter(tg.constant(1.0)).__next__()
    assert list(tg.zeros((0, 3))) == []


def test_identity_hashing():
    a = tg.constant([1.0])
    b = tg.constant([1.0])
    assert hash(a) == hash(a) and hash(a) != hash(b)
    d = {a: "a", b: "b"}
    assert d[a] == "a" and d[b] == "b"
    assert len({a, b, a}) == 2


def test_copy_and_pickle():
    t = tg.constant([[1.0, 2.0]])
    assert copy.copy(t) is t and copy.deepcopy(t) is t
    u = pickle.loads(pickle.dumps(t))
    assert isinstance(u, tg.Tensor) and u.dtype == t.dtype
    np.testing.assert_array_equal(u.numpy(), t.numpy())


def test_eq_none_and_ne_none():
    t = tg.constant([1.0])
    assert (t == None) is False  # noqa: E711
    assert (t != None) is True  # noqa: E711


# ---------------------------------------------------------------------------
# dtype rules


@pytest.mark.parametrize("value, dtype", [
    (1.5, np.float32), ([1.0, 2.0], np.float32), (3, np.int32), ([1, 2], np.int32),
    ([1, 2.5], np.float32), (True, np.bool_), ([True, False], np.bool_),
    (2 ** 40, np.int64), (np.float64(1.0), np.float64), (np.array([1, 2], np.int64), np.int64),
    (np.array([1.0], np.float16), np.float16), (np.int16(3), np.int16),
    (np.array([1], np.uint8), np.uint8)])
def test_conversion_dtypes(value, dtype):
    t = tg.constant(value)
    assert t.dtype == dtype
    np.testing.assert_array_equal(t.numpy(), np.asarray(value).astype(dtype))


def test_explicit_dtype():
    assert tg.constant(1, dtype=tg.float64).dtype == np.float64
    assert tg.constant([1, 2], dtype=tg.float16).dtype == np.float16
    assert tg.convert_to_tensor(2.0, dtype=tg.float64).dtype == np.float64
    with pytest.raises(TypeError, match="1.5"):
        tg.constant(1.5, dtype=tg.int32)


def test_float_list_to_int_dtype_raises_like_scalar():
    with pytest.raises(TypeError):
        tg.constant([1.5, 2.0], dtype=tg.int32)


@pytest.mark.parametrize("dt", [np.float16, np.float32, np.float64, np.int32, np.int64])
def test_weak_python_scalars_adopt_tensor_dtype(dt):
    t = tg.constant(np.array([1, 2, 3], dtype=dt))
    for out in (t + 1, 1 + t, t * 2, 2 * t, t - 1, 3 - t, t ** 2, tg.maximum(t, 2),
                tg.where(t > 1, t, 0)):
        assert out.dtype == dt
    if np.dtype(dt).kind == "f":
        assert (t * 0.5).dtype == dt and (0.5 * t).dtype == dt
        np.testing.assert_allclose((t * 0.5).numpy(), np.array([0.5, 1, 1.5]))
    else:
        assert (t + 2.0).dtype == dt  # an integral float is fine
        with pytest.raises(TypeError, match="1.5"):
            t + 1.5


def test_bool_weak_scalar():
    b = tg.constant([True, False])
    assert (b & True).dtype == np.bool_
    with pytest.raises(TypeError):
        tg.logical_and(b, 2)


@pytest.mark.parametrize("a, b", [(np.float32, np.float64), (np.float32, np.int32),
                                  (np.int32, np.int64), (np.float16, np.float32)])
def test_mixed_tensor_dtypes_raise_naming_both(a, b):
    x = tg.constant(np.ones(2, a))
    y = tg.constant(np.ones(2, b))
    for op in (lambda: x + y, lambda: tg.multiply(x, y), lambda: tg.maximum(x, y),
               lambda: tg.where(x > 0, x, y)):
        with pytest.raises(TypeError) as info:
            op()
        msg = str(info.value)
        assert np.dtype(a).name in msg and np.dtype(b).name in msg and "tg.cast" in msg


def test_numpy_operands_take_the_tensor_dtype():
    # TF eager converts a NumPy operand to the tensor's dtype (tests/ops/test_numpy_operands.py)
    t = tg.constant([1.0, 2.0])
    r = t + np.array([1.0, 2.0])
    assert r.dtype == np.float32
    np.testing.assert_array_equal(r.numpy(), [2, 4])
    np.testing.assert_array_equal((t + np.array([1.0, 2.0], np.float32)).numpy(), [2, 4])


def test_weak_int_out_of_range():
    with pytest.raises((ValueError, TypeError, OverflowError), match="add"):
        tg.constant([1]) + 2 ** 40


# ---------------------------------------------------------------------------
# NumPy interop


def test_numpy_functions_return_ndarrays():
    t = tg.constant([[1.0, 2.0], [3.0, 4.0]])
    r = np.multiply(t, 2)
    assert type(r) is np.ndarray and r.dtype == np.float32
    np.testing.assert_array_equal(r, [[2, 4], [6, 8]])
    assert type(np.exp(t)) is np.ndarray
    assert type(np.concatenate([t, t])) is np.ndarray
    assert np.sum(t) == 10.0
    assert type(np.matmul(t, t)) is np.ndarray
    np.testing.assert_array_equal(np.asarray(t), t.numpy())
    assert np.asarray(t, dtype=np.float64).dtype == np.float64


def test_ndarray_op_tensor_returns_tensor():
    t = tg.constant([1.0, 2.0])
    a = np.array([10.0, 20.0], np.float32)
    for r, expected in ((a + t, [11, 22]), (a - t, [9, 18]), (a * t, [10, 40]),
                        (a / t, [10, 10]), (t + a, [11, 22])):
        assert isinstance(r, tg.Tensor), type(r)
        np.testing.assert_array_equal(r.numpy(), expected)
    assert isinstance(a > t, tg.Tensor)


def test_tensors_inside_lists_convert():
    t = tg.constant(1.0)
    u = tg.constant([t, 2.0, tg.constant(3.0)])
    np.testing.assert_array_equal(u.numpy(), [1, 2, 3])


# ---------------------------------------------------------------------------
# operators


def _pair():
    return (tg.constant([[1.0, -2.0], [3.0, 4.5]]),
            tg.constant([[2.0, 5.0], [-1.5, 3.0]]))


@pytest.mark.parametrize("op, ref", [
    (lambda a, b: a + b, np.add), (lambda a, b: a - b, np.subtract),
    (lambda a, b: a * b, np.multiply), (lambda a, b: a / b, np.true_divide),
    (lambda a, b: a // b, np.floor_divide), (lambda a, b: a % b, np.mod),
    (lambda a, b: abs(a) ** b, lambda a, b: np.abs(a) ** b),
    (lambda a, b: a < b, np.less), (lambda a, b: a <= b, np.less_equal),
    (lambda a, b: a > b, np.greater), (lambda a, b: a >= b, np.greater_equal),
    (lambda a, b: a == b, np.equal), (lambda a, b: a != b, np.not_equal)])
def test_binary_operators(op, ref):
    a, b = _pair()
    r = op(a, b)
    expected = ref(a.numpy(), b.numpy())
    assert isinstance(r, tg.Tensor) and r.dtype == expected.dtype
    np.testing.assert_allclose(r.numpy(), expected, rtol=1e-6)


def test_reflected_operators_with_scalars():
    a = tg.constant([1.0, 2.0, 4.0])
    np.testing.assert_allclose((1 - a).numpy(), [0, -1, -3])
    np.testing.assert_allclose((2 / a).numpy(), [2, 1, 0.5])
    np.testing.assert_allclose((2 ** a).numpy(), [2, 4, 16])
    np.testing.assert_allclose((7 // a).numpy(), [7, 3, 1])
    np.testing.assert_allclose((7 % a).numpy(), [0, 1, 3])


def test_unary_operators():
    a = tg.constant([-1.5, 0.0, 2.0])
    np.testing.assert_array_equal((-a).numpy(), [1.5, -0.0, -2.0])
    np.testing.assert_array_equal(abs(a).numpy(), [1.5, 0, 2])
    assert (+a) is a
    np.testing.assert_array_equal((~(a > 0)).numpy(), [True, True, False])
    b = tg.constant([True, False])
    np.testing.assert_array_equal((b & tg.constant([True, True])).numpy(), [True, False])
    np.testing.assert_array_equal((b | tg.constant([False, False])).numpy(), [True, False])


def test_integer_operator_semantics_match_numpy():
    a = tg.constant([7, -7, 5])
    b = tg.constant([2, 2, -3])
    np.testing.assert_array_equal((a // b).numpy(), np.array([7, -7, 5]) // [2, 2, -3])
    np.testing.assert_array_equal((a % b).numpy(), np.array([7, -7, 5]) % [2, 2, -3])
    assert (a // b).dtype == np.int32
    assert (a / b).dtype.kind == "f"


def test_matmul_operator():
    a = tg.constant([[1.0, 2.0], [3.0, 4.0]])
    np.testing.assert_array_equal((a @ a).numpy(), np.array([[7, 10], [15, 22]]))


def test_matmul_operator_reflected_ndarray():
    a = tg.constant([[1.0, 2.0], [3.0, 4.0]])
    r = np.eye(2, dtype=np.float32) @ a
    assert isinstance(r, tg.Tensor)
    np.testing.assert_array_equal(r.numpy(), a.numpy())


def test_augmented_assignment_rebinds():
    a = tg.constant([1.0])
    b = a
    a += 1
    assert float(b[0]) == 1.0 and float(a[0]) == 2.0


# ---------------------------------------------------------------------------
# indexing


_BASE = np.arange(60, dtype=np.float32).reshape(3, 4, 5)


@pytest.mark.parametrize("key", [
    0, -1, (1, 2), (1, 2, 3), slice(None), slice(1, None), slice(None, None, -1),
    (slice(None), slice(None, None, 2)), (Ellipsis, 0), (None, Ellipsis), (0, None, -1),
    (slice(None, None, -2), Ellipsis, slice(4, 0, -1)), [2, 0, 2], ([0, 2], [1, 3]),
    (slice(None), [3, 3, 0]), np.array([[0, 1], [2, 2]]), (Ellipsis, np.array([4, 0])),
    np.array([True, False, True]), (1, np.array([True, False, True, False])),
    (slice(5, 10),), (np.int64(1),)])
def test_getitem_matches_numpy(key):
    t = tg.constant(_BASE)
    r = t[key]
    expected = _BASE[key]
    assert r.shape == expected.shape and r.dtype == expected.dtype
    np.testing.assert_array_equal(r.numpy(), expected)


def test_getitem_with_tensor_indices():
    t = tg.constant(_BASE)
    np.testing.assert_array_equal(t[tg.constant([2, 0])].numpy(), _BASE[[2, 0]])
    np.testing.assert_array_equal(t[tg.constant(1)].numpy(), _BASE[1])
    np.testing.assert_array_equal(t[tg.constant([True, False, True])].numpy(), _BASE[[0, 2]])


@pytest.mark.parametrize("key, exc", [(3, IndexError), ((0, 0, 0, 0), IndexError),
                                      ("a", TypeError), (1.0, TypeError), (None, None),
                                      ([0.5], TypeError), ({"a": 1}, TypeError)])
def test_getitem_errors_name_the_op(key, exc):
    t = tg.constant(_BASE)
    if exc is None:
        assert t[key].shape == (1, 3, 4, 5)
        return
    with pytest.raises(exc, match="getitem"):
        t[key]


def test_getitem_zero_size_and_0d():
    t = tg.constant(_BASE)
    assert t[5:].shape == (0, 4, 5)
    s = tg.constant(3.0)
    assert s[None].shape == (1,) and s[...].shape == ()
    with pytest.raises(IndexError):
        s[0]
