"""tg.random: reproducibility under set_seed, op-level seeds, distributions, dtypes,
shapes and errors."""

import numpy as np
import pytest

import tapegrad as tg

SAMPLERS = {
    "normal": lambda shape, **kw: tg.random.normal(shape, **kw),
    "uniform": lambda shape, **kw: tg.random.uniform(shape, **kw),
    "truncated_normal": lambda shape, **kw: tg.random.truncated_normal(shape, **kw),
}


@pytest.mark.parametrize("name", sorted(SAMPLERS))
def test_reproducible_under_global_seed(name):
    f = SAMPLERS[name]
    tg.random.set_seed(42)
    a1, a2 = f((3, 4)).numpy(), f((3, 4)).numpy()
    tg.random.set_seed(42)
    b1, b2 = f((3, 4)).numpy(), f((3, 4)).numpy()
    np.testing.assert_array_equal(a1, b1)
    np.testing.assert_array_equal(a2, b2)
    assert not np.array_equal(a1, a2)
    tg.random.set_seed(43)
    assert not np.array_equal(f((3, 4)).numpy(), a1)


@pytest.mark.parametrize("name", sorted(SAMPLERS))
def test_op_seed(name):
    f = SAMPLERS[name]
    tg.random.set_seed(1)
    a = f((5,), seed=7).numpy()
    c = f((5,), seed=8).numpy()
    tg.random.set_seed(1)
    d = f((5,), seed=7).numpy()
    np.testing.assert_array_equal(a, d)
    assert not np.array_equal(a, c)
    tg.random.set_seed(2)
    assert not np.array_equal(f((5,), seed=7).numpy(), a)


@pytest.mark.parametrize("name", sorted(SAMPLERS))
def test_op_seed_repeated_calls_differ_like_tf(name):
    f = SAMPLERS[name]
    tg.random.set_seed(1)
    a, b = f((5,), seed=7).numpy(), f((5,), seed=7).numpy()
    tg.random.set_seed(1)
    c, d = f((5,), seed=7).numpy(), f((5,), seed=7).numpy()
    np.testing.assert_array_equal(a, c)
    np.testing.assert_array_equal(b, d)
    assert not np.array_equal(a, b)


@pytest.mark.parametrize("name", sorted(SAMPLERS))
@pytest.mark.parametrize("dtype", [tg.float16, tg.float32, tg.float64])
def test_dtypes_and_shapes(name, dtype):
    f = SAMPLERS[name]
    for shape in [(), (3,), (2, 3, 4), (0, 5), [2, 2], tg.constant([3, 1])]:
        t = f(shape, dtype=dtype)
        expected = tuple(np.asarray(shape).tolist()) if not isinstance(shape, tuple) else shape
        assert t.shape == expected and t.dtype == dtype
        assert np.all(np.isfinite(t.numpy()))


def test_normal_statistics():
    tg.random.set_seed(0)
    x = tg.random.normal((200_000,), mean=2.0, stddev=3.0, dtype=tg.float64).numpy()
    assert abs(x.mean() - 2.0) < 0.05 and abs(x.std() - 3.0) < 0.05


def test_truncated_normal_bounds_and_statistics():
    tg.random.set_seed(0)
    x = tg.random.truncated_normal((100_000,), mean=1.0, stddev=0.5, dtype=tg.float64).numpy()
    assert x.min() >= 0.0 and x.max() <= 2.0
    assert abs(x.mean() - 1.0) < 0.01
    # std of a normal truncated at +-2 sigma is 0.8796 sigma
    assert abs(x.std() - 0.5 * 0.8796) < 0.01


def test_uniform_float_range_and_statistics():
    tg.random.set_seed(0)
    x = tg.random.uniform((100_000,), minval=-2.0, maxval=4.0).numpy()
    assert x.dtype == np.float32 and x.min() >= -2.0 and x.max() < 4.0
    assert abs(x.mean() - 1.0) < 0.05
    y = tg.random.uniform((1000,)).numpy()
    assert y.min() >= 0 and y.max() < 1


@pytest.mark.parametrize("dtype", [tg.int32, tg.int64])
def test_uniform_integer(dtype):
    tg.random.set_seed(0)
    x = tg.random.uniform((10_000,), minval=-3, maxval=4, dtype=dtype).numpy()
    assert x.dtype == dtype
    assert set(np.unique(x).tolist()) == set(range(-3, 4))
    with pytest.raises(ValueError, match="uniform"):
        tg.random.uniform((3,), dtype=dtype)
    with pytest.raises(ValueError, match="uniform"):
        tg.random.uniform((3,), minval=5, maxval=5, dtype=dtype)


def test_numpy_rng_obeys_set_seed():
    tg.random.set_seed(11)
    a = tg.random.numpy_rng().standard_normal(4)
    tg.random.set_seed(11)
    b = tg.random.numpy_rng().standard_normal(4)
    np.testing.assert_array_equal(a, b)
    assert isinstance(tg.random.numpy_rng(), np.random.Generator)


def test_set_seed_none_gives_fresh_randomness():
    tg.random.set_seed(None)
    a = tg.random.normal((8,)).numpy()
    tg.random.set_seed(None)
    b = tg.random.normal((8,)).numpy()
    assert not np.array_equal(a, b)


def test_random_outputs_are_not_recorded():
    x = tg.constant(1.0)
    with tg.GradientTape() as tape:
        tape.watch(x)
        y = x * tg.random.normal(())
    g = tape.gradient(y, x)
    np.testing.assert_allclose(float(g), float(y) / 1.0)


@pytest.mark.parametrize("call, exc, name", [
    (lambda: tg.random.normal((2,), dtype=tg.int32), TypeError, "normal"),
    (lambda: tg.random.truncated_normal((2,), dtype=tg.bool), TypeError, "truncated_normal"),
    (lambda: tg.random.uniform((2,), dtype=tg.bool), TypeError, "uniform"),
    (lambda: tg.random.normal((-1, 2)), ValueError, "normal"),
    (lambda: tg.random.uniform(None), TypeError, "uniform"),
    (lambda: tg.random.normal("ab"), TypeError, "normal"),
    (lambda: tg.random.normal((2.5,)), TypeError, "normal"),
    (lambda: tg.random.normal((2,), dtype="foo"), TypeError, "normal"),
])
def test_errors_name_the_op(call, exc, name):
    with pytest.raises(exc, match=name):
        call()


def test_shuffle():
    tg.random.set_seed(3)
    x = tg.constant(np.arange(20).reshape(10, 2))
    y = tg.random.shuffle(x).numpy()
    assert sorted(y[:, 0].tolist()) == list(range(0, 20, 2))
    np.testing.assert_array_equal(y[:, 1] - y[:, 0], 1)
    tg.random.set_seed(3)
    np.testing.assert_array_equal(tg.random.shuffle(x).numpy(), y)
