"""Optimizers read hyperparameters at every step (number, tensor, Variable, callable,
schedule), update float16 variables in float32, and apply a step all-or-nothing."""

import os
import signal

import numpy as np
import pytest

import tapegrad as tg
from tapegrad import _kernels

O = tg.optimizers

MAKERS = {
    "sgd": lambda lr: O.SGD(lr),
    "momentum": lambda lr: O.Momentum(lr, momentum=0.9),
    "nesterov": lambda lr: O.Momentum(lr, momentum=0.9, use_nesterov=True),
    "adam": lambda lr: O.Adam(lr),
    "rmsprop": lambda lr: O.RMSProp(lr, momentum=0.5),
    "rmsprop_centered": lambda lr: O.RMSProp(lr, centered=True),
    "adagrad": lambda lr: O.Adagrad(lr),
}
RATES = [0.1, 0.05, 0.0, 0.02]
GRADS = [np.array([0.5, -1.0, 2.0], np.float32) * (i + 1) for i in range(len(RATES))]


STEPS = len(RATES)


def _train(opt, set_rate, dtype=np.float32, steps=STEPS):
    w = tg.Variable(np.array([1.0, 2.0, -3.0], dtype))
    for i in range(steps):
        set_rate(opt, RATES[i], i)
        opt.apply_gradients([(tg.constant(GRADS[i].astype(dtype)), w)])
    return w.numpy()


def _reference(name):
    opt = MAKERS[name](RATES[0])

    def set_number(o, rate, i):
        o.learning_rate = rate

    return _train(opt, set_number)


@pytest.fixture(params=[False, True], ids=["in_place", "tensor_path"])
def path(request, monkeypatch):
    if request.param:  # the GPU variables' rule, forced on CPU
        monkeypatch.setattr(O.Optimizer, "_updates_in_place", staticmethod(lambda var: False))
    return request.param


# ---------------------------------------------------------------- hyperparameters


@pytest.mark.parametrize("name", sorted(MAKERS))
def test_learning_rate_variable_is_read_every_step(name, path):
    lr = tg.Variable(RATES[0])
    opt = MAKERS[name](lr)
    assert opt.learning_rate is lr
    got = _train(opt, lambda o, rate, i: lr.assign(rate))
    np.testing.assert_allclose(got, _reference(name), rtol=1e-6)
    assert opt.learning_rate is lr


@pytest.mark.parametrize("name", ["sgd", "adam", "rmsprop"])
def test_learning_rate_callable_tensor_and_schedule(name):
    box = [RATES[0]]
    got = _train(MAKERS[name](lambda: box[0]), lambda o, rate, i: box.__setitem__(0, rate))
    np.testing.assert_allclose(got, _reference(name), rtol=1e-6)

    rate = tg.constant(0.1)
    opt = MAKERS[name](rate)
    assert opt.learning_rate is rate
    got = _train(opt, lambda o, r, i: None, steps=1)
    opt2 = MAKERS[name](0.1)
    np.testing.assert_allclose(got, _train(opt2, lambda o, r, i: None, steps=1), rtol=1e-6)

    class Table(O.schedules.LearningRateSchedule):
        def __init__(self):
            self.steps = []

        def __call__(self, step):
            self.steps.append(int(step))
            return RATES[int(step)]

    table = Table()
    opt = MAKERS[name](table)
    got = _train(opt, lambda o, r, i: None)
    assert table.steps == [0, 1, 2, 3]  # called with iterations, before each step
    np.testing.assert_allclose(got, _reference(name), rtol=1e-6)


def test_schedule_objects():
    decay = O.schedules.ExponentialDecay(1.0, decay_steps=2, decay_rate=0.5, staircase=True)
    assert [decay(s) for s in range(5)] == [1.0, 1.0, 0.5, 0.5, 0.25]
    inv = O.schedules.InverseTimeDecay(1.0, decay_steps=1, decay_rate=1.0)
    assert inv(tg.constant(3)) == 0.25
    pw = O.schedules.PiecewiseConstantDecay([1, 3], [1.0, 0.5, 0.1])
    assert [pw(s) for s in range(5)] == [1.0, 1.0, 0.5, 0.5, 0.1]
    w = tg.Variable([0.0])
    opt = O.SGD(decay)
    for _ in range(4):
        opt.apply_gradients([(tg.constant([1.0]), w)])
    np.testing.assert_allclose(w.numpy(), [-3.0])


def test_other_hyperparameters_are_read_every_step(path):
    beta1 = tg.Variable(0.9, dtype=tg.float64)
    momentum = tg.Variable(0.9)
    adam, ref_adam = O.Adam(0.1, beta1=beta1), O.Adam(0.1, beta1=0.9)
    mom, ref_mom = O.Momentum(0.1, momentum=momentum), O.Momentum(0.1, momentum=0.9)
    assert adam.beta1 is beta1 and mom.momentum is momentum
    ws = [tg.Variable([1.0, -1.0]) for _ in range(4)]
    for i, b in enumerate([0.9, 0.5, 0.0]):
        beta1.assign(b)
        momentum.assign(np.float32(b))
        ref_adam.beta1 = b
        ref_mom.momentum = b
        g = tg.constant([0.3 * (i + 1), -0.7])
        for opt, w in zip([adam, ref_adam, mom, ref_mom], ws):
            opt.apply_gradients([(g, w)])
    np.testing.assert_allclose(ws[0].numpy(), ws[1].numpy(), rtol=1e-6)
    np.testing.assert_allclose(ws[2].numpy(), ws[3].numpy(), rtol=1e-6)
    assert ref_adam.get_config()["beta1"] == 0.0


def test_plain_numbers_keep_the_fused_kernels():
    for lr in (0.1, tg.Variable(0.1)):
        opt = O.Adam(lr)
        w = tg.Variable(np.zeros(100, np.float32))
        opt.apply_gradients([(tg.constant(np.ones(100, np.float32)), w)])
        assert opt._scratch == {}  # the NumPy fallback would have allocated a buffer


def test_numbers_are_returned_as_given():
    lr = np.float32(0.25)
    opt = O.Momentum(lr, momentum=1)
    assert opt.learning_rate is lr and opt.momentum == 1 and type(opt.momentum) is int
    assert opt.get_config()["learning_rate"] == 0.25 and opt.get_config()["momentum"] == 1.0


def test_bad_hyperparameters():
    with pytest.raises(TypeError, match="learning_rate must be"):
        O.SGD("fast")
    with pytest.raises(TypeError, match="learning_rate must be"):
        O.SGD(None)
    with pytest.raises(ValueError, match="beta1 must be in"):
        O.Adam(beta1=2.0)
    opt = O.SGD(0.1)
    with pytest.raises(ValueError, match="learning_rate must be in"):
        opt.learning_rate = -1.0
    assert opt.learning_rate == 0.1
    w = tg.Variable([1.0])
    for bad, exc in [(lambda: "x", TypeError), (lambda: -0.5, ValueError),
                     (tg.Variable([0.1, 0.2]), TypeError), (lambda: float("nan"), ValueError)]:
        opt.learning_rate = bad
        with pytest.raises(exc, match="learning_rate"):
            opt.apply_gradients([(tg.constant([1.0]), w)])
    assert w.numpy()[0] == 1.0 and int(opt.iterations.numpy()) == 0


# ---------------------------------------------------------------- float16


@pytest.mark.parametrize("name", sorted(MAKERS))
def test_float16_zero_and_tiny_gradients_stay_finite(name, path):
    opt = MAKERS[name](0.01)
    w = tg.Variable(np.array([1.0, -2.0, 0.5, 3.0], np.float16))
    tiny = np.array([0.0, 6e-8, -1e-6, 1e-4], np.float16)
    for g in [tiny, np.zeros(4, np.float16), tiny]:
        opt.apply_gradients([(tg.constant(g), w)])
        assert w.dtype == np.float16
        assert np.all(np.isfinite(w.numpy())), (name, w.numpy())
        for slot_name in opt.get_slot_names():
            slot = opt.get_slot(w, slot_name)
            assert slot.dtype == np.float16 and np.all(np.isfinite(slot.numpy()))
    assert abs(float(w.numpy()[0]) - 1.0) < 0.05


@pytest.mark.parametrize("name", sorted(MAKERS))
def test_float16_follows_the_float32_update(name, path):
    half, single = MAKERS[name](0.01), MAKERS[name](0.01)
    w16 = tg.Variable(np.array([1.0, -2.0, 0.5], np.float16))
    w32 = tg.Variable(np.array([1.0, -2.0, 0.5], np.float32))
    for g in GRADS:
        half.apply_gradients([(tg.constant(g.astype(np.float16)), w16)])
        single.apply_gradients([(tg.constant(g), w32)])
    np.testing.assert_allclose(w16.numpy().astype(np.float32), w32.numpy(), rtol=3e-3,
                               atol=3e-3)


def test_float16_adam_first_step_with_zero_gradient_is_exact():
    opt = O.Adam(0.001)
    w = tg.Variable(np.array([1.0, 2.0], np.float16))
    opt.apply_gradients([(tg.constant(np.zeros(2, np.float16)), w)])
    np.testing.assert_array_equal(w.numpy(), [1.0, 2.0])
    np.testing.assert_array_equal(opt.get_slot(w, "v").numpy(), [0.0, 0.0])


# ---------------------------------------------------------------- all or nothing


def _state(opt, variables):
    out = [v.numpy().copy() for v in variables] + [int(opt.iterations.numpy())]
    for v in variables:
        for name in opt.get_slot_names():
            slot = opt.get_slot(v, name)
            out.append(None if slot is None else slot.numpy().copy())
    return out


def _assert_same(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        if x is None or y is None:
            assert x is None and y is None
        else:
            np.testing.assert_array_equal(x, y)


def _setup(name, dtype=np.float32):
    opt = MAKERS[name](0.1)
    vs = [tg.Variable(np.full(3, float(i + 1), dtype)) for i in range(3)]
    grads = [tg.constant(np.full(3, 0.5 * (i + 1), dtype)) for i in range(3)]
    opt.apply_gradients(zip(grads, vs))  # slots exist, step 1 done
    return opt, vs, grads


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
@pytest.mark.parametrize("name", sorted(MAKERS))
def test_a_failure_late_in_the_step_changes_nothing(name, dtype, path):
    opt, vs, grads = _setup(name, dtype)
    step = tg.Variable(5, dtype=tg.int64)
    before = _state(opt, vs)
    bad = [grads[0], grads[1], tg.constant(np.ones(4, dtype))]  # last one: wrong shape
    with pytest.raises(ValueError, match="shape"):
        opt.apply_gradients(zip(bad, vs), global_step=step)
    _assert_same(_state(opt, vs), before)
    assert int(step.numpy()) == 5
    bad[2] = np.array(["a", "b", "c"])
    with pytest.raises(TypeError):
        opt.apply_gradients(zip(bad, vs), global_step=step)
    _assert_same(_state(opt, vs), before)
    with pytest.raises(TypeError, match="global_step"):
        opt.apply_gradients(zip(grads, vs), global_step=5)
    _assert_same(_state(opt, vs), before)
    # a learning-rate schedule that raises
    opt.learning_rate = lambda: 1 / 0
    with pytest.raises(ZeroDivisionError):
        opt.apply_gradients(zip(grads, vs))
    _assert_same(_state(opt, vs), before)


@pytest.mark.parametrize("name", ["sgd", "adam", "momentum", "rmsprop"])
def test_keyboard_interrupt_mid_update_is_delivered_after_a_whole_step(name, monkeypatch):
    opt, vs, grads = _setup(name)
    ref_opt, ref_vs, _ = _setup(name)
    ref_opt.apply_gradients(zip(grads, ref_vs))
    expected = _state(ref_opt, ref_vs)

    calls = []
    cls = type(opt)
    original = cls._apply_dense_numpy

    def interrupted(self, *args):
        calls.append(1)
        if calls.count(1) == 2:  # between the first and the last variable
            os.kill(os.getpid(), signal.SIGINT)
        return original(self, *args)

    monkeypatch.setattr(cls, "_apply_dense_numpy", interrupted)
    fused = {"sgd": "sgd_update", "adam": "adam_update"}.get(name)
    if fused:  # also between two kernel calls
        kernel = getattr(_kernels, fused)
        monkeypatch.setattr(_kernels, fused, lambda *a: calls.append(0) or kernel(*a))
    with pytest.raises(KeyboardInterrupt):
        opt.apply_gradients(zip(grads, vs))
    assert len([c for c in calls if c == 1]) == 3
    _assert_same(_state(opt, vs), expected)
    # the handler is put back: outside a step, Ctrl-C raises at once
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_user_sigint_handler_is_kept_and_called_after_the_step(monkeypatch):
    received = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: received.append(signum))
    try:
        opt, vs, grads = _setup("momentum")
        cls = type(opt)
        original = cls._apply_dense_numpy
        seen = []

        def interrupted(self, *args):
            if not seen:
                os.kill(os.getpid(), signal.SIGINT)
            seen.append(list(received))
            return original(self, *args)

        monkeypatch.setattr(cls, "_apply_dense_numpy", interrupted)
        opt.apply_gradients(zip(grads, vs))
        assert seen == [[], [], []]  # not called during the step
        assert received == [signal.SIGINT]  # but right after it
        assert int(opt.iterations.numpy()) == 2
    finally:
        signal.signal(signal.SIGINT, previous)
