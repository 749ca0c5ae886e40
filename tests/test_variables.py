"""tg.Variable: API, assignment semantics under tapes, copy-on-write, flat memory."""

import gc
import tracemalloc

import numpy as np
import pytest

import tapegrad as tg


def _addr(a):
    return a.__array_interface__["data"][0]


# ---------------------------------------------------------------------------
# API


def test_construction_and_attributes():
    v = tg.Variable([[1.0, 2.0]], name="w")
    assert v.shape == (1, 2) and v.dtype == np.float32 and v.ndim == 2 and v.size == 2
    assert v.name == "w:0" and v.trainable and v.device == "/cpu:0"
    assert tg.Variable(1.0).name == "Variable:0"
    assert not tg.Variable(1.0, trainable=False).trainable
    assert tg.Variable(3).dtype == np.int32
    assert tg.Variable(1, dtype=tg.float64).dtype == np.float64
    assert tg.Variable(tg.constant([1, 2]), dtype=tg.float32).dtype == np.float32
    assert tg.Variable(lambda: tg.ones((2,))).shape == (2,)
    assert tg.Variable(np.zeros(3, np.float64)).dtype == np.float64


def test_construction_errors():
    with pytest.raises(ValueError, match="initial_value"):
        tg.Variable(None)
    with pytest.raises(TypeError):
        tg.Variable("abc")


def test_value_read_value_numpy():
    v = tg.Variable([1.0, 2.0])
    for t in (v.value(), v.read_value()):
        assert isinstance(t, tg.Tensor)
        np.testing.assert_array_equal(t.numpy(), [1, 2])
    assert isinstance(v.numpy(), np.ndarray)
    np.testing.assert_array_equal(v.numpy(), [1, 2])
    assert not v.numpy().flags.writeable


def test_variable_copies_its_initial_value():
    src = np.array([1.0, 2.0], np.float32)
    v = tg.Variable(src)
    src[0] = 9
    assert v.numpy()[0] == 1
    t = tg.constant([1.0, 2.0])
    w = tg.Variable(t)
    w.assign_add([1.0, 1.0])
    np.testing.assert_array_equal(t.numpy(), [1, 2])


def test_assign_methods_return_the_variable():
    v = tg.Variable([1.0, 2.0])
    assert v.assign([3.0, 4.0]) is v
    np.testing.assert_array_equal(v.numpy(), [3, 4])
    assert v.assign_add([1.0, 1.0]) is v
    np.testing.assert_array_equal(v.numpy(), [4, 5])
    assert v.assign_sub(tg.constant([2.0, 2.0])) is v
    np.testing.assert_array_equal(v.numpy(), [2, 3])
    assert v.assign(tg.Variable([7.0, 8.0])) is v
    np.testing.assert_array_equal(v.numpy(), [7, 8])
    with pytest.raises(ValueError, match="shape"):
        v.assign_add(1.0)  # like TF: the value must have the variable's shape


def test_assign_weak_scalar_to_scalar_variable():
    v = tg.Variable(1.0, dtype=tg.float64)
    v.assign(2.5)
    v.assign_add(1)
    v.assign_sub(0.5)
    assert float(v) == 3.0 and v.dtype == np.float64


def test_assign_errors():
    v = tg.Variable([1.0, 2.0])
    with pytest.raises(ValueError, match="shape"):
        v.assign([1.0, 2.0, 3.0])
    with pytest.raises(TypeError, match="float64"):
        v.assign(np.array([1.0, 2.0]))
    with pytest.raises(TypeError):
        v.assign(None)
    with pytest.raises(TypeError):
        tg.Variable([1, 2]).assign_add(0.5)
    np.testing.assert_array_equal(v.numpy(), [1, 2])


def test_variables_behave_like_tensors():
    v = tg.Variable([[1.0, 2.0], [3.0, 4.0]])
    for r, expected in ((v + 1, [[2, 3], [4, 5]]), (2 * v, [[2, 4], [6, 8]]),
                        (v - v, [[0, 0], [0, 0]]), (-v, [[-1, -2], [-3, -4]]),
                        (v[1], [3, 4]), (tg.matmul(v, v), [[7, 10], [15, 22]]),
                        (tg.reduce_sum(v, 0), [4, 6]), (v > 2, [[False, False], [True, True]])):
        assert isinstance(r, tg.Tensor)
        np.testing.assert_array_equal(r.numpy(), expected)
    assert type(np.multiply(v, 2)) is np.ndarray
    np.testing.assert_array_equal(np.asarray(v), v.numpy())
    assert len(v) == 2 and [r.shape for r in v] == [(2,), (2,)]
    assert float(tg.Variable(2.5)) == 2.5 and int(tg.Variable(3)) == 3
    assert bool(tg.Variable(1.0))
    assert [0, 1, 2][tg.Variable(2)] == 2
    assert "{:.1f}".format(tg.Variable(1.25)) == "1.2"
    assert isinstance(np.ones((2, 2), np.float32) + v, tg.Tensor)


def test_repr_and_hash():
    v = tg.Variable([1.0], name="bias")
    assert repr(v).startswith("<tg.Variable 'bias:0' shape=(1,) dtype=float32, numpy=")
    u = tg.Variable([1.0])
    assert hash(v) != hash(u) and {v: 1, u: 2}[v] == 1


def test_variable_not_picklable():
    import pickle

    with pytest.raises(TypeError, match="Checkpoint"):
        pickle.dumps(tg.Variable(1.0))


def test_old_values_stay_valid_after_assign():
    v = tg.Variable([1.0, 2.0])
    old = v.value()
    arr = v.numpy()
    v.assign([5.0, 6.0])
    v.assign_add([1.0, 1.0])
    np.testing.assert_array_equal(old.numpy(), [1, 2])
    np.testing.assert_array_equal(arr, [1, 2])
    np.testing.assert_array_equal(v.numpy(), [6, 7])


# ---------------------------------------------------------------------------
# assignments inside a tape


def test_assign_sub_inside_tape_keeps_values_read_at_the_time():
    v = tg.Variable(3.0)
    with tg.GradientTape() as tape:
        y = v * v          # read at 3
        v.assign_sub(1.0)
        z = v * v          # read at 2
    assert float(v) == 2.0
    assert float(tape.gradient([y, z], v)) == 6.0 + 4.0


def test_assign_inside_tape_vector():
    v = tg.Variable([1.0, 2.0])
    with tg.GradientTape(persistent=True) as tape:
        y = tg.reduce_sum(v * v)
        v.assign([5.0, 5.0])
        v.assign_add([1.0, 1.0])
    np.testing.assert_array_equal(tape.gradient(y, v).numpy(), [2, 4])


def test_in_place_assign_during_tape_does_not_corrupt_saved_value():
    """multiply saves its inputs; an assign_add in place would change them."""
    v = tg.Variable([1.0, 2.0])
    x = tg.constant([3.0, 4.0])
    with tg.GradientTape() as tape:
        tape.watch(x)
        y = tg.reduce_sum(v * x)
    for _ in range(3):
        v.assign_add([10.0, 10.0])
    np.testing.assert_array_equal(tape.gradient(y, x).numpy(), [1, 2])


def test_assign_is_not_differentiable_path():
    """Gradients flow to the read value, not through assign."""
    v = tg.Variable(2.0)
    w = tg.Variable(0.0)
    with tg.GradientTape() as tape:
        w.assign(v * 3.0)
        y = w * 1.0
    gv, gw = tape.gradient(y, [v, w])
    assert gv is None and float(gw) == 1.0


def test_gradient_then_update_loop_converges():
    rng = np.random.default_rng(0)
    xs = rng.standard_normal(64).astype(np.float32)
    ys = 3 * xs + 2
    W, B = tg.Variable(0.0), tg.Variable(0.0)
    for _ in range(300):
        with tg.GradientTape() as tape:
            loss = tg.reduce_mean(tg.square(W * xs + B - ys))
        dW, dB = tape.gradient(loss, [W, B])
        W.assign_sub(dW * 0.1)
        B.assign_sub(dB * 0.1)
    assert float(W) == pytest.approx(3.0, abs=1e-3) and float(B) == pytest.approx(2.0, abs=1e-3)


# ---------------------------------------------------------------------------
# copy-on-write storage


def test_inplace_array_is_in_place_when_private():
    v = tg.Variable([1.0, 2.0, 3.0])
    p1 = _addr(v._inplace_array())
    p2 = _addr(v._inplace_array())
    assert p1 == p2
    a = v._inplace_array()
    assert a.flags.writeable
    a *= 2
    del a
    np.testing.assert_array_equal(v.numpy(), [2, 4, 6])


def test_assign_in_place_when_private():
    v = tg.Variable(np.zeros(1000, np.float32))
    p = _addr(v._inplace_array())
    v.assign_add(np.ones(1000, np.float32))
    v.assign_sub(np.full(1000, 0.5, np.float32))
    v.assign(np.full(1000, 3.0, np.float32))
    assert _addr(v._inplace_array()) == p
    assert float(v[0]) == 3.0


def test_inplace_array_copies_when_a_user_holds_the_value():
    v = tg.Variable([1.0, 2.0])
    held = v.value()
    held_np = v.numpy()
    a = v._inplace_array()
    assert not np.shares_memory(a, held.numpy())
    a[0] = 100
    del a
    np.testing.assert_array_equal(held.numpy(), [1, 2])
    np.testing.assert_array_equal(held_np, [1, 2])
    np.testing.assert_array_equal(v.numpy(), [100, 2])


def test_inplace_array_copies_when_a_tape_holds_the_value():
    v = tg.Variable([1.0, 2.0])
    x = tg.constant([3.0, 4.0])
    with tg.GradientTape() as tape:
        tape.watch(x)
        y = tg.reduce_sum(v * x)   # multiply saves v's current value
    a = v._inplace_array()
    a[:] = 50
    del a
    np.testing.assert_array_equal(tape.gradient(y, x).numpy(), [1, 2])
    np.testing.assert_array_equal(v.numpy(), [50, 50])


def test_storage_private_again_after_holders_go_away():
    v = tg.Variable([1.0, 2.0])
    held = v.value()
    assert not v._storage_is_private()
    del held
    gc.collect()
    assert v._storage_is_private()
    p = _addr(v._inplace_array())
    assert _addr(v._inplace_array()) == p


def test_optimizer_style_update_does_not_change_tape_saved_values():
    """The SGD pattern: compute grads, update in place, gradients stay those of the old value."""
    w = tg.Variable([[1.0, 2.0], [3.0, 4.0]])
    x = tg.constant([[1.0], [1.0]])
    with tg.GradientTape(persistent=True) as tape:
        y = tg.reduce_sum(tg.matmul(w, x) ** 2)
    g1 = tape.gradient(y, w).numpy().copy()
    arr = w._inplace_array()
    arr -= 0.1 * g1
    del arr
    g2 = tape.gradient(y, w).numpy()
    np.testing.assert_array_equal(g1, g2)
    np.testing.assert_allclose(g1, [[6, 6], [14, 14]])


# ---------------------------------------------------------------------------
# flat memory over many tape steps


def _small_model_step(w, b, x, y):
    with tg.GradientTape() as tape:
        pred = tg.nn.relu(tg.matmul(x, w) + b)
        loss = tg.reduce_mean(tg.square(pred - y))
    gw, gb = tape.gradient(loss, [w, b])
    w.assign_sub(gw * 0.01)
    b.assign_sub(gb * 0.01)
    return loss


def test_memory_flat_over_many_tape_steps():
    """No growth after warm-up: 8,000 traced steps, compared in two halves of 4,000.

    A leak of one small object per step (a record, a tensor, a dict entry: >= 56 bytes)
    would add >= 220 KB per half; the bound allows allocator noise only.
    """
    rng = np.random.default_rng(0)
    w = tg.Variable(rng.standard_normal((4, 3)).astype(np.float32))
    b = tg.Variable(np.zeros(3, np.float32))
    x = tg.constant(rng.standard_normal((8, 4)).astype(np.float32))
    y = tg.constant(rng.standard_normal((8, 3)).astype(np.float32))
    for _ in range(500):
        _small_model_step(w, b, x, y)
    gc.collect()
    tracemalloc.start()
    try:
        for _ in range(300):
            _small_model_step(w, b, x, y)
        gc.collect()
        m0 = tracemalloc.get_traced_memory()[0]
        for _ in range(4_000):
            _small_model_step(w, b, x, y)
        gc.collect()
        m1 = tracemalloc.get_traced_memory()[0]
        for _ in range(4_000):
            _small_model_step(w, b, x, y)
        gc.collect()
        m2 = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert m1 - m0 < 64 * 1024, (m0, m1, m2)
    assert m2 - m1 < 32 * 1024, (m0, m1, m2)
    assert np.all(np.isfinite(w.numpy()))


def test_many_steps_keep_no_tensors_alive():
    """20k steps without tracemalloc: the number of live GC objects stays flat."""
    w = tg.Variable(np.ones((3, 2), np.float32))
    b = tg.Variable(np.zeros(2, np.float32))
    x = tg.constant(np.ones((4, 3), np.float32))
    y = tg.constant(np.ones((4, 2), np.float32))
    for _ in range(500):
        _small_model_step(w, b, x, y)
    gc.collect()
    n0 = len(gc.get_objects())
    for _ in range(20_000):
        _small_model_step(w, b, x, y)
    gc.collect()
    n1 = len(gc.get_objects())
    assert n1 - n0 < 100, (n0, n1)


def test_variable_storage_not_retained_by_finished_tapes():
    import weakref

    v = tg.Variable(np.ones(10, np.float32))
    with tg.GradientTape() as tape:
        y = tg.reduce_sum(v * v)
    saved = weakref.ref(v.value())
    tape.gradient(y, v)
    v.assign(np.zeros(10, np.float32))
    del y
    gc.collect()
    assert saved() is None


def test_variables_flow_through_composite_ops():
    v = tg.Variable([1.0, 2.0])
    w = tg.Variable([[1.0, 2.0], [3.0, 4.0]])
    with tg.GradientTape() as tape:
        y = (tg.reduce_sum(tg.concat([v, v * 2.0], 0) ** 2) + tg.reduce_sum(tg.stack([v, v]))
             + tg.reduce_sum(tg.where(v > 1, v, 0.0)) + tg.reduce_sum(tg.gather(v, [1, 1]))
             + v[0] + tg.einsum("i,i->", v, v) + tg.reduce_sum(w @ w))
    gv, gw = tape.gradient(y, [v, w])
    vv, ww = v.numpy(), w.numpy()
    expected_v = 10 * vv + 2 + np.array([0, 1]) + np.array([0, 2]) + np.array([1, 0]) + 2 * vv
    np.testing.assert_allclose(gv.numpy(), expected_v)
    ones = np.ones((2, 2))
    np.testing.assert_allclose(gw.numpy(), ones @ ww.T + ww.T @ ones)
