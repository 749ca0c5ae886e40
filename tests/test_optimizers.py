"""Optimizers against their TF 1.x update formulas, computed by hand in NumPy."""

import math

import numpy as np
import pytest

import tapegrad as tg
from tapegrad import tracking

GRADS = [
    np.array([[0.5, -1.0, 2.0], [0.25, 0.0, -3.0]], dtype=np.float32),
    np.array([[-0.5, 1.5, 0.5], [1.0, -2.0, 0.75]], dtype=np.float32),
    np.array([[1.0, 1.0, -1.0], [-0.25, 0.5, 0.0]], dtype=np.float32),
]
INIT = np.array([[1.0, 2.0, -1.0], [0.5, -0.5, 3.0]], dtype=np.float32)


def _f64(g):
    return np.asarray(g, dtype=np.float64)


def _sgd_ref(steps, lr=0.1):
    w = INIT.astype(np.float64)
    for g in map(_f64, steps):
        w = w - lr * g
    return w


def _momentum_ref(steps, lr=0.1, momentum=0.9, nesterov=False):
    w = INIT.astype(np.float64)
    acc = np.zeros_like(w)
    for g in map(_f64, steps):
        acc = momentum * acc + g
        w = w - (lr * (g + momentum * acc) if nesterov else lr * acc)
    return w, acc


def _adam_ref(steps, lr=0.01, b1=0.9, b2=0.999, eps=1e-8):
    w = INIT.astype(np.float64)
    m = np.zeros_like(w)
    v = np.zeros_like(w)
    for t, g in enumerate(map(_f64, steps), start=1):
        lr_t = lr * math.sqrt(1 - b2**t) / (1 - b1**t)
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        w = w - lr_t * m / (np.sqrt(v) + eps)
    return w, m, v


def _rmsprop_ref(steps, lr=0.01, decay=0.9, momentum=0.5, eps=1e-10, centered=False):
    w = INIT.astype(np.float64)
    ms = np.ones_like(w)
    mom = np.zeros_like(w)
    mg = np.zeros_like(w)
    for g in map(_f64, steps):
        ms = decay * ms + (1 - decay) * g * g
        denom = ms + eps
        if centered:
            mg = decay * mg + (1 - decay) * g
            denom = ms - mg * mg + eps
        mom = momentum * mom + lr * g / np.sqrt(denom)
        w = w - mom
    return w


def _adagrad_ref(steps, lr=0.1, init=0.1):
    w = INIT.astype(np.float64)
    acc = np.full_like(w, init)
    for g in map(_f64, steps):
        acc = acc + g * g
        w = w - lr * g / np.sqrt(acc)
    return w, acc


def _run(opt, steps=GRADS):
    w = tg.Variable(INIT.copy())
    for g in map(_f64, steps):
        opt.apply_gradients([(tg.constant(g), w)])
    return w


CASES = [
    ("sgd", lambda: tg.optimizers.SGD(0.1), lambda: _sgd_ref(GRADS)),
    ("momentum", lambda: tg.optimizers.Momentum(0.1, 0.9), lambda: _momentum_ref(GRADS)[0]),
    ("nesterov", lambda: tg.optimizers.Momentum(0.1, 0.9, use_nesterov=True),
     lambda: _momentum_ref(GRADS, nesterov=True)[0]),
    ("adam", lambda: tg.optimizers.Adam(0.01), lambda: _adam_ref(GRADS)[0]),
    ("rmsprop", lambda: tg.optimizers.RMSProp(0.01, decay=0.9, momentum=0.5),
     lambda: _rmsprop_ref(GRADS)),
    ("rmsprop_centered",
     lambda: tg.optimizers.RMSProp(0.01, decay=0.9, momentum=0.5, centered=True),
     lambda: _rmsprop_ref(GRADS, centered=True)),
    ("adagrad", lambda: tg.optimizers.Adagrad(0.1), lambda: _adagrad_ref(GRADS)[0]),
]


@pytest.mark.parametrize("name,make,ref", CASES, ids=[c[0] for c in CASES])
def test_update_rule_matches_numpy(name, make, ref):
    w = _run(make())
    np.testing.assert_allclose(w.numpy(), ref(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name,make,ref", CASES, ids=[c[0] for c in CASES])
def test_float64_variables(name, make, ref):
    w = tg.Variable(INIT.astype(np.float64))
    opt = make()
    for g in GRADS:
        opt.apply_gradients([(tg.constant(g.astype(np.float64)), w)])
    assert w.dtype == np.float64
    np.testing.assert_allclose(w.numpy(), ref(), rtol=1e-12, atol=1e-12)


def test_adam_slots_and_iterations():
    opt = tg.optimizers.Adam(0.01)
    assert opt.get_slot_names() == ["m", "v"]
    w = _run(opt)
    _, m_ref, v_ref = _adam_ref(GRADS)
    np.testing.assert_allclose(opt.get_slot(w, "m").numpy(), m_ref, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(opt.get_slot(w, "v").numpy(), v_ref, rtol=1e-5, atol=1e-9)
    assert not opt.get_slot(w, "m").trainable
    assert int(opt.iterations.numpy()) == len(GRADS)
    # The checkpoint hook saw each slot once.
    recorded = {(id(var), name) for var, name, _ in opt._checkpoint_slot_variables()}
    assert recorded == {(id(w), "m"), (id(w), "v")}


def test_slots_are_created_lazily_per_variable():
    opt = tg.optimizers.Momentum(0.1, 0.9)
    a = tg.Variable([1.0, 2.0])
    b = tg.Variable([3.0])
    assert opt.get_slot(a, "momentum") is None
    opt.apply_gradients([(tg.constant([1.0, 1.0]), a)])
    assert opt.get_slot(a, "momentum") is not None
    assert opt.get_slot(b, "momentum") is None
    opt.apply_gradients([(tg.constant([1.0, 1.0]), a), (tg.constant([2.0]), b)])
    np.testing.assert_allclose(opt.get_slot(a, "momentum").numpy(), [1.9, 1.9], rtol=1e-6)
    np.testing.assert_allclose(opt.get_slot(b, "momentum").numpy(), [2.0])


def test_adagrad_accumulator_starts_at_initial_value():
    opt = tg.optimizers.Adagrad(0.1, initial_accumulator_value=0.5)
    w = tg.Variable([1.0])
    opt.apply_gradients([(tg.constant([2.0]), w)])
    np.testing.assert_allclose(opt.get_slot(w, "accumulator").numpy(), [4.5])
    np.testing.assert_allclose(w.numpy(), [1.0 - 0.1 * 2.0 / math.sqrt(4.5)], rtol=1e-6)


def test_learning_rate_schedule_is_called_each_step():
    calls = []

    def schedule():
        calls.append(1)
        return 0.5 / len(calls)

    w = tg.Variable([1.0])
    opt = tg.optimizers.SGD(schedule)
    opt.apply_gradients([(tg.constant([1.0]), w)])
    opt.apply_gradients([(tg.constant([1.0]), w)])
    np.testing.assert_allclose(w.numpy(), [1.0 - 0.5 - 0.25])
    assert len(calls) == 2


def test_exponential_decay_schedule_follows_global_step():
    step = tg.Variable(0, dtype=tg.int64, trainable=False)
    lr = tg.optimizers.schedules.exponential_decay(1.0, step, decay_steps=2, decay_rate=0.5,
                                                   staircase=True)
    w = tg.Variable([0.0])
    opt = tg.optimizers.SGD(lr)
    for _ in range(4):
        opt.apply_gradients([(tg.constant([1.0]), w)], global_step=step)
    # lr per step: 1, 1, 0.5, 0.5
    np.testing.assert_allclose(w.numpy(), [-3.0])
    assert int(step.numpy()) == 4


def test_piecewise_constant():
    step = tg.Variable(0, dtype=tg.int64, trainable=False)
    fn = tg.optimizers.schedules.piecewise_constant(step, [1, 3], [1.0, 0.5, 0.1])
    seen = []
    for i in range(5):
        step.assign(i)
        seen.append(fn())
    assert seen == [1.0, 1.0, 0.5, 0.5, 0.1]


def test_none_gradients_are_skipped_and_global_step_increments():
    a = tg.Variable([1.0])
    b = tg.Variable([2.0])
    step = tg.Variable(0, dtype=tg.int64, trainable=False)
    opt = tg.optimizers.SGD(0.5)
    opt.apply_gradients([(None, a), (tg.constant([1.0]), b)], global_step=step)
    np.testing.assert_allclose(a.numpy(), [1.0])
    np.testing.assert_allclose(b.numpy(), [1.5])
    assert int(step.numpy()) == 1
    with pytest.raises(ValueError, match="no gradients"):
        opt.apply_gradients([(None, a), (None, b)])


def test_apply_gradients_validates_its_input():
    opt = tg.optimizers.SGD(0.1)
    w = tg.Variable([1.0, 2.0])
    with pytest.raises(ValueError, match="shape"):
        opt.apply_gradients([(tg.constant([1.0]), w)])
    with pytest.raises(TypeError, match="Variable"):
        opt.apply_gradients([(tg.constant([1.0]), tg.constant([1.0]))])
    with pytest.raises(ValueError, match="more than once"):
        opt.apply_gradients([(tg.constant([1.0, 1.0]), w), (tg.constant([1.0, 1.0]), w)])
    with pytest.raises(TypeError, match="floating"):
        opt.apply_gradients([(tg.constant([1, 1]), tg.Variable([1, 2]))])
    with pytest.raises(ValueError, match="learning_rate"):
        tg.optimizers.SGD(-1.0)
    with pytest.raises(ValueError, match="beta1"):
        tg.optimizers.Adam(beta1=1.5)
    with pytest.raises(ValueError, match="initial_accumulator_value"):
        tg.optimizers.Adagrad(0.1, initial_accumulator_value=0.0)


def test_float64_gradient_is_cast_to_variable_dtype():
    w = tg.Variable(np.ones(3, dtype=np.float32))
    tg.optimizers.SGD(0.5).apply_gradients([(np.array([1.0, 2.0, 3.0]), w)])
    assert w.dtype == np.float32
    np.testing.assert_allclose(w.numpy(), [0.5, 0.0, -0.5])


def test_in_place_update_does_not_change_values_saved_earlier():
    w = tg.Variable([1.0, 2.0])
    before = w.value()
    saved = before.numpy().copy()
    tg.optimizers.Adam(0.1).apply_gradients([(tg.constant([1.0, 1.0]), w)])
    np.testing.assert_array_equal(before.numpy(), saved)
    assert not np.allclose(w.numpy(), saved)


def test_in_place_update_under_a_persistent_tape_keeps_gradients_right():
    w = tg.Variable([3.0])
    with tg.GradientTape(persistent=True) as tape:
        y = w * w
    tg.optimizers.SGD(1.0).apply_gradients([(tg.constant([1.0]), w)])
    # The tape saved w = 3 for the product's gradient; the update must not leak into it.
    np.testing.assert_allclose(tape.gradient(y, w).numpy(), [6.0])
    np.testing.assert_allclose(w.numpy(), [2.0])


def test_minimize_uses_watched_trainable_variables():
    w = tg.Variable([2.0])
    frozen = tg.Variable([5.0], trainable=False)
    step = tg.Variable(0, dtype=tg.int64, trainable=False)
    opt = tg.optimizers.SGD(0.1)
    loss = opt.minimize(lambda: tg.reduce_sum(w * w * frozen), global_step=step)
    np.testing.assert_allclose(float(loss), 20.0)
    np.testing.assert_allclose(w.numpy(), [2.0 - 0.1 * 20.0])
    np.testing.assert_allclose(frozen.numpy(), [5.0])
    assert int(step.numpy()) == 1


def test_minimize_with_var_list_and_errors():
    a = tg.Variable([1.0])
    b = tg.Variable([1.0])
    opt = tg.optimizers.SGD(0.5)
    opt.minimize(lambda: tg.reduce_sum(a * b), var_list=[b])
    np.testing.assert_allclose(a.numpy(), [1.0])
    np.testing.assert_allclose(b.numpy(), [0.5])
    with pytest.raises(TypeError, match="callable"):
        opt.minimize(tg.reduce_sum(a))


def test_compute_gradients_pairs():
    w = tg.Variable([3.0])
    pairs = tg.optimizers.SGD(0.1).compute_gradients(lambda: tg.reduce_sum(w * w))
    assert len(pairs) == 1 and pairs[0][1] is w
    np.testing.assert_allclose(pairs[0][0].numpy(), [6.0])


def test_adam_step_temporaries():
    opt = tg.optimizers.Adam(0.001)
    big = tg.Variable(np.zeros(1000, dtype=np.float32))
    small = tg.Variable(np.zeros(10, dtype=np.float32))
    g_big = tg.constant(np.ones(1000, dtype=np.float32))
    g_small = tg.constant(np.ones(10, dtype=np.float32))
    opt.apply_gradients([(g_big, big), (g_small, small)])
    opt.apply_gradients([(g_big, big), (g_small, small)])
    # float32/float64 take the fused one-pass kernel: no scratch buffer at all
    assert opt._scratch == {}
    # float16 is updated in float32 copies, by the same kernel
    half_big = tg.Variable(np.zeros(1000, dtype=np.float16))
    half_small = tg.Variable(np.zeros(10, dtype=np.float16))
    opt.apply_gradients([(tg.constant(np.ones(1000, np.float16)), half_big),
                         (tg.constant(np.ones(10, np.float16)), half_small)])
    assert opt._scratch == {}
    # rules written with NumPy use one reusable buffer per dtype, sized for the largest
    rms = tg.optimizers.RMSProp(0.001)
    rms.apply_gradients([(g_big, big), (g_small, small)])
    assert list(rms._scratch) == [np.dtype(np.float32)]
    assert rms._scratch[np.dtype(np.float32)].size == 1000


def test_adam_fused_kernel_matches_the_numpy_formula():
    rng = np.random.default_rng(3)
    w0 = rng.standard_normal(50)
    opt = tg.optimizers.Adam(0.01)
    w = tg.Variable(w0.copy())
    m = np.zeros(50)
    v = np.zeros(50)
    ref = w0.copy()
    for t in range(1, 4):
        g = rng.standard_normal(50)
        opt.apply_gradients([(tg.constant(g), w)])
        m = 0.9 * m + 0.1 * g
        v = 0.999 * v + 0.001 * g * g
        lr_t = 0.01 * np.sqrt(1 - 0.999 ** t) / (1 - 0.9 ** t)
        ref = ref - lr_t * m / (np.sqrt(v) + 1e-8)
    np.testing.assert_allclose(w.numpy(), ref, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sgd_fused_kernel_is_bitwise_numpy(dtype):
    # one pass, no contraction into an FMA: exactly NumPy's `w -= lr * g`
    rng = np.random.default_rng(5)
    w0 = rng.standard_normal((64, 33)).astype(dtype)
    g = rng.standard_normal((64, 33)).astype(dtype)
    w = tg.Variable(w0.copy())
    tg.optimizers.SGD(0.0137).apply_gradients([(tg.constant(g), w)])
    ref = w0.copy()
    ref -= 0.0137 * g
    np.testing.assert_array_equal(w.numpy(), ref)


def test_adam_float32_kernel_matches_the_float32_formula():
    # the fused kernel computes in the variable's precision, as TF's does
    rng = np.random.default_rng(6)
    w0 = rng.standard_normal(4097).astype(np.float32)
    opt = tg.optimizers.Adam(0.01)
    w = tg.Variable(w0.copy())
    m = np.zeros(4097, np.float32)
    v = np.zeros(4097, np.float32)
    ref = w0.copy()
    f = np.float32
    for t in range(1, 4):
        g = rng.standard_normal(4097).astype(np.float32)
        opt.apply_gradients([(tg.constant(g), w)])
        m = f(0.9) * m + f(0.1) * g
        v = f(0.999) * v + f(1 - 0.999) * (g * g)
        lr_t = f(0.01 * np.sqrt(1 - 0.999 ** t) / (1 - 0.9 ** t))
        ref = ref - lr_t * m / (np.sqrt(v) + f(1e-8))
    assert w.numpy().dtype == np.float32
    np.testing.assert_allclose(w.numpy(), ref, rtol=2e-6, atol=1e-7)


def test_slot_created_hook_records_slots():
    opt = tg.optimizers.RMSProp(0.01, centered=True)
    w = tg.Variable([1.0])
    opt.apply_gradients([(tg.constant([1.0]), w)])
    slots = {name for var, name, _ in tracking.Trackable._checkpoint_slot_variables(opt)}
    assert slots == {"rms", "momentum", "mg"}
    np.testing.assert_allclose(
        opt.get_slot(w, "rms").numpy(), [0.9 + 0.1 * 1.0], rtol=1e-6)


def test_optimizer_trains_a_quadratic():
    target = np.array([1.0, -2.0, 3.0], dtype=np.float32)
    for opt in (tg.optimizers.SGD(0.1), tg.optimizers.Momentum(0.05, 0.9),
                tg.optimizers.Adam(0.1), tg.optimizers.RMSProp(0.05),
                tg.optimizers.Adagrad(0.5)):
        w = tg.Variable(np.zeros(3, dtype=np.float32))
        for _ in range(300):
            opt.minimize(lambda w=w: tg.reduce_sum(tg.square(w - target)))
        np.testing.assert_allclose(w.numpy(), target, atol=0.05, err_msg=type(opt).__name__)


def _train_steps(model, opt, x, y, steps):
    losses = []
    for _ in range(steps):
        with tg.GradientTape() as tape:
            loss = tg.losses.sparse_softmax_cross_entropy(y, model(x))
        grads = tape.gradient(loss, model.variables)
        opt.apply_gradients(zip(grads, model.variables))
        losses.append(float(loss))
    return losses


def _make_model():
    return tg.Sequential([tg.layers.Dense(6, activation="tanh", input_shape=(4,)),
                          tg.layers.Dense(3)])


@pytest.mark.parametrize("make_opt", [lambda: tg.optimizers.Adam(0.05),
                                      lambda: tg.optimizers.RMSProp(0.05, momentum=0.5),
                                      lambda: tg.optimizers.Momentum(0.1, 0.9)],
                         ids=["adam", "rmsprop", "momentum"])
def test_checkpoint_restores_slots_into_a_fresh_pair_exactly(tmp_path, make_opt):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(8, 4)).astype(np.float32)
    y = rng.integers(0, 3, size=8).astype(np.int32)
    model, opt = _make_model(), make_opt()
    _train_steps(model, opt, x, y, 3)
    path = tg.train.Checkpoint(model=model, optimizer=opt).save(str(tmp_path / "ckpt"))
    expected = _train_steps(model, opt, x, y, 3)
    # A fresh model and optimizer: the slots do not exist yet when restore() runs.
    model2, opt2 = _make_model(), make_opt()
    tg.train.Checkpoint(model=model2, optimizer=opt2).restore(path)
    assert int(opt2.iterations.numpy()) == 3
    assert _train_steps(model2, opt2, x, y, 3) == expected
    for a, b in zip(model.variables, model2.variables):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


@pytest.mark.parametrize("name,make,ref", CASES, ids=[c[0] for c in CASES])
def test_tensor_update_path_matches_numpy(name, make, ref, monkeypatch):
    # The tapegrad-ops path serves GPU variables; forcing it on CPU checks its formulas.
    monkeypatch.setattr(tg.optimizers.Optimizer, "_updates_in_place",
                        staticmethod(lambda var: False))
    opt = make()
    w = _run(opt)
    np.testing.assert_allclose(w.numpy(), ref(), rtol=1e-5, atol=1e-6)
    assert opt._scratch == {}


@pytest.mark.cuda
@pytest.mark.parametrize("name,make,ref", CASES, ids=[c[0] for c in CASES])
def test_gpu_variables_match_numpy(name, make, ref):
    with tg.device("/gpu:0"):
        w = tg.Variable(INIT.copy())
        opt = make()
        for g in GRADS:
            opt.apply_gradients([(tg.constant(g), w)])
    assert w.device.startswith("/gpu")
    np.testing.assert_allclose(w.numpy(), ref(), rtol=1e-5, atol=1e-6)
