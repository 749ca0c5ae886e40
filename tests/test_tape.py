"""GradientTape semantics (issue 4): watching, persistence, reuse, structures of targets
and sources, unconnected gradients (higher order and safety: test_tape_higher_order.py)."""

import numpy as np
import pytest

import tapegrad as tg


def _grad(f, x, **kw):
    x = tg.constant(x)
    with tg.GradientTape() as tape:
        tape.watch(x)
        y = f(x)
    return tape.gradient(y, x, **kw)


# ---------------------------------------------------------------------------
# the guide's basics


def test_guide_w_times_w():
    w = tg.Variable([[1.0]])
    with tg.GradientTape() as tape:
        loss = w * w
    grad = tape.gradient(loss, w)
    assert isinstance(grad, tg.Tensor)
    np.testing.assert_array_equal(grad.numpy(), [[2.0]])


def test_guide_scalar_variable():
    w = tg.Variable(1.0)
    with tg.GradientTape() as tape:
        y = w * w
    assert float(tape.gradient(y, w)) == 2.0


def test_guide_linear_regression_gradients():
    rng = np.random.default_rng(0)
    x = rng.standard_normal(100).astype(np.float32)
    y = 3 * x + 2 + rng.standard_normal(100).astype(np.float32) * 0.1
    W, B = tg.Variable(5.0), tg.Variable(10.0)
    with tg.GradientTape() as tape:
        loss = tg.reduce_mean(tg.square(W * x + B - y))
    dW, dB = tape.gradient(loss, [W, B])
    err = 5.0 * x + 10.0 - y
    np.testing.assert_allclose(float(dW), np.mean(2 * err * x), rtol=1e-5)
    np.testing.assert_allclose(float(dB), np.mean(2 * err), rtol=1e-5)


# ---------------------------------------------------------------------------
# watching


def test_constants_recorded_only_when_watched():
    x = tg.constant(3.0)
    with tg.GradientTape() as tape:
        y = x * x
    assert tape.gradient(y, x) is None
    with tg.GradientTape() as tape:
        tape.watch(x)
        y = x * x
    assert float(tape.gradient(y, x)) == 6.0


def test_watch_list_and_nested():
    a, b, c = tg.constant(1.0), tg.constant(2.0), tg.constant(3.0)
    with tg.GradientTape() as tape:
        tape.watch([a, (b, {"c": c})])
        y = a * b * c
    ga, gb, gc = tape.gradient(y, [a, b, c])
    assert (float(ga), float(gb), float(gc)) == (6.0, 3.0, 2.0)


@pytest.mark.parametrize("dtype", [tg.int32, tg.int64, tg.bool])
def test_watch_integer_or_bool_raises(dtype):
    with tg.GradientTape() as tape:
        with pytest.raises(TypeError, match="floating"):
            tape.watch(tg.constant([1, 0], dtype=dtype))


def test_watch_non_tensor_raises():
    with tg.GradientTape() as tape:
        with pytest.raises(TypeError):
            tape.watch(3.0)
        with pytest.raises(TypeError):
            tape.watch(np.ones(2))


def test_watch_int_variable_raises():
    v = tg.Variable(1)
    with tg.GradientTape() as tape:
        with pytest.raises(TypeError, match="floating"):
            tape.watch(v)


def test_int_variable_source_gets_none():
    v = tg.Variable(2)
    with tg.GradientTape(persistent=True) as tape:
        y = tg.cast(v, tg.float32) * 3.0
    assert tape.gradient(y, v) is None
    assert tape.gradient(y, v, unconnected_gradients="zero") is None


def test_integer_results_are_never_recorded():
    x = tg.constant([1.5, 2.5])
    with tg.GradientTape() as tape:
        tape.watch(x)
        i = tg.cast(x, tg.int32)
        y = tg.cast(i, tg.float32) * x
    np.testing.assert_array_equal(tape.gradient(y, x).numpy(), [1.0, 2.0])


def test_trainable_variables_watched_automatically():
    v = tg.Variable(2.0)
    frozen = tg.Variable(3.0, trainable=False)
    with tg.GradientTape(persistent=True) as tape:
        y = v * frozen
    assert float(tape.gradient(y, v)) == 3.0
    assert tape.gradient(y, frozen) is None
    assert [x is v for x in tape.watched_variables()] == [True]


def test_watch_accessed_variables_false():
    v, u = tg.Variable(2.0), tg.Variable(5.0)
    with tg.GradientTape(watch_accessed_variables=False) as tape:
        tape.watch(u)
        y = v * u
    assert tape.gradient(y, v) is None or float(tape.gradient(y, v)) == 0
    with tg.GradientTape(watch_accessed_variables=False, persistent=True) as tape:
        tape.watch(u)
        y = v * u
    assert tape.gradient(y, v) is None
    assert float(tape.gradient(y, u)) == 2.0
    assert list(tape.watched_variables()) == [u]


def test_non_trainable_variable_can_be_watched_explicitly():
    v = tg.Variable(3.0, trainable=False)
    with tg.GradientTape() as tape:
        tape.watch(v)
        y = v * v
    assert float(tape.gradient(y, v)) == 6.0


def test_watched_variables_order_and_uniqueness():
    a, b = tg.Variable(1.0), tg.Variable(2.0)
    with tg.GradientTape() as tape:
        b * a + b
    got = tape.watched_variables()
    assert len(got) == 2 and got[0] is b and got[1] is a


# ---------------------------------------------------------------------------
# persistence, reuse, reset


def test_second_gradient_call_on_non_persistent_raises():
    x = tg.constant(2.0)
    with tg.GradientTape() as tape:
        tape.watch(x)
        y = x * x
    tape.gradient(y, x)
    with pytest.raises(RuntimeError, match="persistent"):
        tape.gradient(y, x)


def test_non_persistent_releases_records():
    x = tg.constant(2.0)
    with tg.GradientTape() as tape:
        tape.watch(x)
        y = tg.exp(x * x)
    assert tape._core.producers
    tape.gradient(y, x)
    assert not tape._core.producers


def test_persistent_tape_many_gradients():
    x = tg.constant(3.0)
    with tg.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y = x * x
        z = y * y
    assert float(tape.gradient(z, x)) == 108.0
    assert float(tape.gradient(y, x)) == 6.0
    assert float(tape.gradient(z, y)) == 18.0


def test_gradient_inside_context_on_persistent_tape():
    x = tg.constant(3.0)
    with tg.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y = x * x
        g = tape.gradient(y, x)
        z = y * 2.0
    assert float(g) == 6.0
    # the gradient computation itself is not recorded on the same tape
    assert float(tape.gradient(z, x)) == 12.0


def test_stop_recording():
    x = tg.constant(2.0)
    with tg.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y = x * x
        with tape.stop_recording():
            z = y * x
        w = y * x
    assert tape.gradient(z, x) is None
    assert float(tape.gradient(w, x)) == 12.0


def test_stop_recording_outside_context_raises():
    tape = tg.GradientTape()
    with pytest.raises((ValueError, RuntimeError)):
        with tape.stop_recording():
            pass


def test_reset():
    x = tg.constant(2.0)
    with tg.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y = x * x
        tape.reset()
        tape.watch(x)
        z = x * 5.0
    assert tape.gradient(y, x) is None
    assert float(tape.gradient(z, x)) == 5.0


def test_reset_lets_a_non_persistent_tape_record_again():
    v = tg.Variable(3.0)
    with tg.GradientTape() as tape:
        v * v
        tape.reset()
        z = v * 2.0
    assert float(tape.gradient(z, v)) == 2.0


def test_tape_not_reentrant():
    tape = tg.GradientTape()
    with tape:
        with pytest.raises(RuntimeError):
            tape.__enter__()


# ---------------------------------------------------------------------------
# targets, sources, output gradients, unconnected


def test_unconnected_none_and_zero():
    x, z = tg.constant([1.0, 2.0]), tg.constant([[3.0]])
    with tg.GradientTape(persistent=True) as tape:
        tape.watch([x, z])
        y = tg.reduce_sum(x * x)
    gx, gz = tape.gradient(y, [x, z])
    assert gz is None
    gx, gz = tape.gradient(y, [x, z], unconnected_gradients="zero")
    np.testing.assert_array_equal(gx.numpy(), [2, 4])
    assert gz.shape == (1, 1) and gz.dtype == np.float32 and float(gz) == 0.0
    with pytest.raises(ValueError):
        tape.gradient(y, x, unconnected_gradients="bogus")


def test_unwatched_source_is_unconnected():
    x, other = tg.constant(1.0), tg.constant(2.0)
    with tg.GradientTape() as tape:
        tape.watch(x)
        y = x * other
    assert tape.gradient(y, other) is None


def test_non_scalar_target_sums():
    x = tg.constant([1.0, 2.0, 3.0])
    with tg.GradientTape() as tape:
        tape.watch(x)
        y = tg.reshape(x, (3, 1)) * tg.constant([[1.0, 10.0]])
    np.testing.assert_array_equal(tape.gradient(y, x).numpy(), [11, 11, 11])


def test_output_gradients():
    x = tg.constant([1.0, 2.0, 3.0])
    with tg.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y = x * x
        z = tg.reduce_sum(x)
    np.testing.assert_array_equal(
        tape.gradient(y, x, output_gradients=tg.constant([1.0, 0.0, -1.0])).numpy(), [2, 0, -6])
    np.testing.assert_array_equal(
        tape.gradient([y, z], x, output_gradients=[tg.constant([1.0, 1.0, 1.0]),
                                                    tg.constant(2.0)]).numpy(), [4, 6, 8])
    with pytest.raises(ValueError):
        tape.gradient([y, z], x, output_gradients=[tg.constant([1.0, 1.0, 1.0])])


def test_multiple_targets_sum():
    x = tg.constant(2.0)
    with tg.GradientTape() as tape:
        tape.watch(x)
        a = x * x
        b = x * 3.0
    assert float(tape.gradient([a, b], x)) == 7.0


def test_target_is_source():
    x = tg.constant([1.0, 2.0])
    with tg.GradientTape() as tape:
        tape.watch(x)
    np.testing.assert_array_equal(tape.gradient(x, x).numpy(), [1, 1])


def test_nested_structure_of_sources():
    a, b, c = tg.constant(1.0), tg.constant(2.0), tg.Variable(3.0)
    with tg.GradientTape() as tape:
        tape.watch([a, b])
        y = a * b * c
    g = tape.gradient(y, {"a": a, "rest": (b, [c, a])})
    assert set(g) == {"a", "rest"} and isinstance(g["rest"], tuple)
    assert isinstance(g["rest"][1], list)
    assert float(g["a"]) == 6.0 and float(g["rest"][0]) == 3.0
    assert float(g["rest"][1][0]) == 2.0 and float(g["rest"][1][1]) == 6.0


def test_source_used_many_times_aggregates():
    x = tg.constant(1.5)
    with tg.GradientTape() as tape:
        tape.watch(x)
        y = x
        for _ in range(10):
            y = y + x * x
    assert float(tape.gradient(y, x)) == pytest.approx(1 + 10 * 3.0)


def test_diamond_graph():
    x = tg.constant(0.7, dtype=tg.float64)
    with tg.GradientTape() as tape:
        tape.watch(x)
        a = tg.sin(x)
        b = tg.cos(x)
        y = a * b + a
    expected = np.cos(2 * 0.7) + np.cos(0.7)
    assert float(tape.gradient(y, x)) == pytest.approx(expected, rel=1e-12)


def test_broadcast_gradients_reduced_to_source_shape():
    x = tg.constant([[1.0], [2.0]])
    b = tg.constant([1.0, 2.0, 3.0])
    with tg.GradientTape() as tape:
        tape.watch([x, b])
        y = x * b + x
    gx, gb = tape.gradient(y, [x, b])
    assert gx.shape == (2, 1) and gb.shape == (3,)
    # x is broadcast twice: through x * b (sum of b = 6) and through "+ x" (3 columns)
    np.testing.assert_array_equal(gx.numpy(), [[9], [9]])
    np.testing.assert_array_equal(gb.numpy(), [3, 3, 3])


def test_variable_read_twice_contributes_every_read():
    v = tg.Variable(2.0)
    with tg.GradientTape() as tape:
        a = v * 3.0
        b = v.read_value() * v.value()
        y = a + b
    assert float(tape.gradient(y, v)) == 3.0 + 4.0


def test_stop_gradient():
    x = tg.constant(3.0)
    with tg.GradientTape() as tape:
        tape.watch(x)
        y = x * tg.stop_gradient(x * x)
    assert float(tape.gradient(y, x)) == 9.0


def test_gradient_dtype_follows_source():
    for dt in (tg.float16, tg.float32, tg.float64):
        x = tg.constant([1.0, 2.0], dtype=dt)
        with tg.GradientTape() as tape:
            tape.watch(x)
            y = tg.reduce_sum(tg.square(x))
        g = tape.gradient(y, x)
        assert g.dtype == dt
        np.testing.assert_allclose(g.numpy(), [2, 4])
