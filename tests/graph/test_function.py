"""tg.function: retracing rules, side effects, variables, training steps, inspection."""

import io
import logging

import numpy as np
import pytest

import tapegrad as tg
from tapegrad.graph import TracingError, tracing


def _eq(a, b):
    a = np.asarray(a)
    if isinstance(b, (list, float, int)):
        b = np.asarray(b, dtype=a.dtype)   # a literal expectation takes the result's dtype
    np.testing.assert_array_equal(a, np.asarray(b), strict=True)


# ---------------------------------------------------------------- tracing and retracing

def test_decorator_forms_and_replay_values():
    calls = []

    @tg.function
    def f(x, y):
        calls.append(1)
        return tg.tanh(x * y + 1.0)

    g = tg.function()(lambda x: x * 2.0)
    x = tg.constant([1.0, 2.0, 3.0])
    y = tg.constant([0.5, -1.0, 2.0])
    for _ in range(3):
        _eq(f(x, y), np.tanh(np.float32([1, 2, 3]) * np.float32([0.5, -1, 2]) +
                             np.float32(1)))
    assert len(calls) == 1 and f.tracing_count == 1
    _eq(g(x), [2.0, 4.0, 6.0])


def test_retrace_on_shape_dtype_python_value_and_variable():
    @tg.function
    def f(x, k, v=None):
        return x * k if v is None else x * k + v

    f(tg.constant([1.0, 2.0]), 2.0)
    f(tg.constant([3.0, 4.0]), 2.0)              # same signature
    assert f.tracing_count == 1
    f(tg.constant([1.0, 2.0, 3.0]), 2.0)         # new shape
    assert f.tracing_count == 2
    f(tg.constant([1.0, 2.0], tg.float64), 2.0)  # new dtype
    assert f.tracing_count == 3
    _eq(f(tg.constant([1.0, 2.0]), 3.0), np.float32([3, 6]))   # Python value is baked
    assert f.tracing_count == 4
    a, b = tg.Variable([1.0, 1.0]), tg.Variable([2.0, 2.0])
    _eq(f(tg.constant([1.0, 2.0]), 1.0, a), np.float32([2, 3]))
    _eq(f(tg.constant([1.0, 2.0]), 1.0, b), np.float32([3, 4]))   # another variable
    assert f.tracing_count == 6
    # -0.0 and 0.0 are different Python values (x * -0.0 differs in sign)
    r1 = f(tg.constant([1.0]), 0.0)
    r2 = f(tg.constant([1.0]), -0.0)
    assert not np.signbit(r1.numpy()[0]) and np.signbit(r2.numpy()[0])


def test_retracing_warning_names_the_argument(caplog):
    @tg.function
    def f(x, scale):
        return x * scale

    x = tg.constant(1.0)
    with caplog.at_level(logging.WARNING, logger="tapegrad"):
        for i in range(5):
            f(x, float(i))
        assert not caplog.records
        f(x, 5.0)
    assert len(caplog.records) == 1
    msg = caplog.records[0].getMessage()
    assert "traced 6 times" in msg and "'scale'" in msg and "4.0" in msg and "5.0" in msg


def test_input_signature_is_enforced():
    @tg.function(input_signature=[tg.TensorSpec([None, 2], tg.float32)])
    def f(x):
        return x + 1.0

    _eq(f(tg.ones((3, 2))), np.full((3, 2), 2, np.float32))
    with pytest.raises(TypeError, match="input_signature"):
        f(tg.ones((3, 3)))
    with pytest.raises(TypeError, match="input_signature"):
        f(tg.ones((3, 2), tg.float64))


def test_same_tensor_twice_is_two_inputs():
    @tg.function
    def f(a, b):
        return a - b

    x = tg.constant([1.0, 2.0])
    _eq(f(x, x), [0.0, 0.0])
    _eq(f(x, tg.constant([0.5, 0.5])), [0.5, 1.5])


def test_nested_structures_and_non_tensor_outputs():
    @tg.function
    def f(d, pair):
        return {"s": d["a"] + pair[1], "n": 3, "none": None}

    out = f({"a": tg.constant(1.0)}, (None, tg.constant(2.0)))
    out = f({"a": tg.constant(5.0)}, (None, tg.constant(2.0)))
    assert out["n"] == 3 and out["none"] is None
    _eq(out["s"], np.float32(7))


def test_numpy_arguments_are_tensors():
    @tg.function
    def f(x):
        return x * 2.0

    _eq(f(np.float32([1, 2])), [2.0, 4.0])
    _eq(f(np.float32([3, 4])), [6.0, 8.0])
    assert f.tracing_count == 1


def test_nested_function_is_inlined():
    @tg.function
    def inner(x):
        return x * x

    @tg.function
    def outer(x):
        return inner(x) + 1.0

    x = tg.constant(3.0)
    _eq(outer(x), np.float32(10))
    _eq(outer(tg.constant(2.0)), np.float32(5))
    assert inner.tracing_count == 0   # inlined into outer's graph


# ---------------------------------------------------------------- side effects

def test_python_side_effects_at_trace_time_only_tg_print_every_call(capsys):
    seen = []
    stream = io.StringIO()

    @tg.function
    def f(x):
        print("tracing")
        seen.append(1)
        tg.print("value:", x, output_stream=stream)
        return x + 1.0

    for v in (1.0, 2.0, 3.0):
        f(tg.constant(v))
    assert capsys.readouterr().out.count("tracing") == 1
    assert seen == [1]
    assert stream.getvalue().splitlines() == ["value: 1.", "value: 2.", "value: 3."]


def test_tg_print_eager_prints_to_stderr(capsys):
    tg.print("x", tg.constant([1, 2]))
    assert capsys.readouterr().err == "x [1 2]\n"


@pytest.mark.parametrize("body", [
    lambda x: x * 2 if x > 0 else x,
    lambda x: float(x),
    lambda x: int(tg.cast(x, tg.int32)),
    lambda x: x.numpy(),
    lambda x: np.asarray(x * 2),
])
def test_data_dependent_python_raises_during_tracing(body):
    f = tg.function(body)
    with pytest.raises(TracingError) as info:
        f(tg.constant(1.5))
    msg = str(info.value)
    assert "test_function.py" in msg          # names the user's line
    assert "tg.cond" in msg and "without tg.function" in msg


def test_variable_value_in_python_raises_but_constant_closure_is_fine():
    v = tg.Variable(2.0)
    c = tg.constant(3.0)

    @tg.function
    def bad(x):
        return x * 2 if v.numpy() > 0 else x

    @tg.function
    def good(x):
        k = 2.0 if float(c) > 0 else 1.0     # a captured constant: a fixed value
        return x * k

    with pytest.raises(TracingError, match="variable"):
        bad(tg.constant(1.0))
    _eq(good(tg.constant(1.0)), np.float32(2))


# ---------------------------------------------------------------- variables

def test_variables_are_captured_by_reference_and_assigned_every_call():
    v = tg.Variable([1.0, 2.0])
    counter = tg.Variable(0, dtype=tg.int32, trainable=False)

    @tg.function
    def f(x):
        counter.assign_add(1)
        v.assign(v * x)
        return v.read_value() + 0.0

    _eq(f(tg.constant(2.0)), [2.0, 4.0])
    _eq(f(tg.constant(2.0)), [4.0, 8.0])
    v.assign([1.0, 1.0])                       # changed outside: read on the next call
    _eq(f(tg.constant(3.0)), [3.0, 3.0])
    assert int(counter.numpy()) == 3


def test_read_before_and_after_assign_are_distinct():
    v = tg.Variable(1.0)

    @tg.function
    def f():
        a = v.read_value()
        v.assign_add(1.0)
        b = v.read_value()
        v.assign_sub(0.5)
        return a, b, v.read_value()

    for expect in [(1.0, 2.0, 1.5), (1.5, 2.5, 2.0)]:
        out = f()
        _eq([o.numpy() for o in out], np.float32(expect))


def test_random_ops_draw_fresh_values_like_eager():
    def f(x):
        return tg.nn.dropout(x, rate=0.5) + tg.random.normal([3])

    x = tg.ones((3,))
    tg.random.set_seed(7)
    eager = [f(x).numpy() for _ in range(3)]
    tg.random.set_seed(7)
    traced_f = tg.function(f)
    traced = [traced_f(x).numpy() for _ in range(3)]
    for a, b in zip(eager, traced):
        _eq(a, b)
    assert not np.array_equal(traced[0], traced[1])


# ---------------------------------------------------------------- differentiation

def test_nested_tapes_third_order_inside_and_outside():
    def f(x):
        with tg.GradientTape() as t3:
            t3.watch(x)
            with tg.GradientTape() as t2:
                t2.watch(x)
                with tg.GradientTape() as t1:
                    t1.watch(x)
                    y = tg.tanh(x) * tg.exp(x)
                d1 = t1.gradient(y, x)
            d2 = t2.gradient(d1, x)
        d3 = t3.gradient(d2, x)
        return y, d1, d2, d3

    x = tg.constant([0.3, -1.2, 2.0], dtype=tg.float64)
    eager = f(x)
    tf_ = tg.function(f)
    tf_(x)
    for a, b in zip(eager, tf_(tg.constant([0.3, -1.2, 2.0], dtype=tg.float64))):
        _eq(a, b)

    # a tape outside a replayed function: orders 1..3 as eager
    g = tg.function(lambda x: tg.sin(x) * x * x)
    g(x)

    def derivs(fn):
        with tg.GradientTape() as a:
            a.watch(x)
            with tg.GradientTape() as b:
                b.watch(x)
                with tg.GradientTape() as c:
                    c.watch(x)
                    y = fn(x)
                d1 = c.gradient(y, x)
            d2 = b.gradient(d1, x)
        return y, d1, d2, a.gradient(d2, x)

    for a_, b_ in zip(derivs(lambda x: tg.sin(x) * x * x), derivs(g)):
        _eq(a_, b_)
    assert g.tracing_count == 1


def test_tg_grad_of_a_traced_function():
    f = tg.function(lambda x: tg.reduce_sum(tg.exp(x) * x))
    x = tg.constant([0.5, 1.5])
    f(x)
    _eq(tg.grad(f)(x), tg.grad(lambda x: tg.reduce_sum(tg.exp(x) * x))(x))


def test_custom_gradient_inside_traced_function():
    @tg.custom_gradient
    def clip_grad(x):
        def grad(dy):
            return tg.clip_by_value(dy, -0.1, 0.1)
        return x * 1.0, grad

    def loss(x):
        return tg.reduce_sum(clip_grad(x) * 3.0)

    f = tg.function(loss)
    x = tg.constant([1.0, 2.0])
    f(x)
    with tg.GradientTape() as t:
        t.watch(x)
        y = f(x)
    _eq(t.gradient(y, x), [0.1, 0.1])

    @tg.function
    def inside(x):
        with tg.GradientTape() as t:
            t.watch(x)
            y = loss(x)
        return t.gradient(y, x)

    inside(x)
    _eq(inside(tg.constant([3.0, 4.0])), [0.1, 0.1])


# ---------------------------------------------------------------- training steps

OPTIMIZERS = {
    "sgd": lambda: tg.optimizers.SGD(0.1),
    "momentum": lambda: tg.optimizers.Momentum(0.05, 0.9),
    "adam": lambda: tg.optimizers.Adam(0.01),
    "rmsprop": lambda: tg.optimizers.RMSProp(0.01),
    "adagrad": lambda: tg.optimizers.Adagrad(0.1),
}


def _mlp():
    return tg.Sequential([tg.layers.Dense(16, activation="relu"), tg.layers.Dense(10)])


def _cnn():
    return tg.Sequential([
        tg.layers.Conv2D(4, 3, activation="relu"), tg.layers.MaxPooling2D(2),
        tg.layers.Flatten(), tg.layers.Dense(10)])


def _train(make_model, make_opt, traced, xs, ys, build_inside):
    tg.random.set_seed(0)
    model = make_model()
    if not build_inside:
        model(xs[0][:1])
    opt = make_opt()

    def step(x, y):
        with tg.GradientTape() as tape:
            logits = model(x)
            loss = tg.reduce_mean(tg.nn.sparse_softmax_cross_entropy_with_logits(
                labels=y, logits=logits))
        grads = tape.gradient(loss, model.trainable_variables)
        opt.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    fn = tg.function(step) if traced else step
    losses = [fn(x, y).numpy() for x, y in zip(xs, ys)]
    slots_after_first = None
    return losses, [v.numpy().copy() for v in model.variables], \
        [v.numpy().copy() for v in opt.variables()], fn, opt, slots_after_first


@pytest.mark.parametrize("opt", sorted(OPTIMIZERS))
@pytest.mark.parametrize("model,shape", [(_mlp, (4, 8)), (_cnn, (4, 8, 8, 1))],
                         ids=["mlp", "cnn"])
def test_training_step_bit_identical(opt, model, shape):
    rng = np.random.default_rng(1)
    xs = [tg.constant(rng.normal(size=shape).astype(np.float32)) for _ in range(4)]
    ys = [tg.constant(rng.integers(0, 10, size=4).astype(np.int32)) for _ in range(4)]
    build_inside = model is _cnn     # the CNN builds its weights during the first trace
    le, ve, oe, *_ = _train(model, OPTIMIZERS[opt], False, xs, ys, build_inside)
    lt, vt, ot, fn, optimizer, _ = _train(model, OPTIMIZERS[opt], True, xs, ys, build_inside)
    for a, b in zip(le + ve + oe, lt + vt + ot):
        _eq(a, b)
    assert fn.tracing_count == 1
    # slot variables were created once, on the first (tracing) call
    n_slots = len(optimizer.variables())
    fn(xs[0], ys[0])
    assert len(optimizer.variables()) == n_slots
    assert int(optimizer.iterations.numpy()) == 5


def test_guide_linear_regression_traced_matches_eager():
    tg.random.set_seed(3)
    x = tg.random.normal([1000])
    y = x * 3 + 2 + tg.random.normal([1000])

    def run(traced):
        W, B = tg.Variable(5.0), tg.Variable(10.0)

        def step():
            with tg.GradientTape() as tape:
                loss = tg.reduce_mean(tg.square(x * W + B - y))
            dW, dB = tape.gradient(loss, [W, B])
            W.assign_sub(dW * 0.01)
            B.assign_sub(dB * 0.01)
            return loss

        fn = tg.function(step) if traced else step
        losses = [fn().numpy() for _ in range(200)]
        return losses, W.numpy(), B.numpy()

    for a, b in zip(run(False), run(True)):
        _eq(a, b)


# ---------------------------------------------------------------- layers, inspection

class _Affine(tg.layers.Layer):
    def build(self, input_shape):
        self.w = self.add_weight("w", shape=(int(input_shape[-1]), 3))

    @tg.function
    def call(self, inputs):
        return tg.matmul(inputs, self.w) * 2.0


class _Net(tg.Model):
    def __init__(self):
        super().__init__()
        self.a = tg.layers.Dense(4, activation="tanh")
        self.b = tg.layers.Dense(2)

    @tg.function
    def call(self, inputs):
        return self.b(self.a(inputs))


def test_function_on_layer_call_and_model_call():
    x = tg.constant(np.arange(6, dtype=np.float32).reshape(2, 3))
    layer = _Affine()
    out = layer(x)
    _eq(out, np.matmul(x.numpy(), layer.w.numpy()) * np.float32(2))
    layer.w.assign(tg.ones((3, 3)))
    _eq(layer(x), np.matmul(x.numpy(), np.ones((3, 3), np.float32)) * np.float32(2))
    other = _Affine()
    other(x)
    assert not np.array_equal(other(x).numpy(), layer(x).numpy())
    net = _Net()
    y1 = net(x)
    y2 = net(x)
    _eq(y1, y2)
    expect = net.b(net.a(x))
    _eq(y2, expect)


def test_concrete_function_graph_text_and_pass_log():
    v = tg.Variable([1.0, 2.0], name="w")

    @tg.function
    def f(x):
        a = x * v
        b = x * v          # common subexpression
        unused = tg.exp(x)  # noqa: F841  dead code
        k = tg.constant(2.0) * tg.constant(3.0)   # constant folding
        return a + b * 1.0 + k

    cf = f.get_concrete_function(tg.constant([1.0, 1.0]))
    text = str(cf.graph)
    assert "read_variable() {var=w:0}" in text
    assert "float32[2]" in text and "exp" not in text
    assert text.count("multiply") == 1
    assert "passes:" in text
    raw = str(cf.raw_graph)
    assert raw.count("multiply") == 4 and "exp" in raw
    log = {name: (b, a) for name, b, a in cf.graph.pass_log}
    assert log["simplify"][1] < log["simplify"][0]
    assert log["cse"][1] < log["cse"][0] and log["dce"][1] < log["dce"][0]
    _eq(cf(tg.constant([2.0, 2.0])), np.float32([2, 4]) * 2 + 6)


def test_passes_can_be_switched_off():
    @tg.function(passes=())
    def f(x):
        return x * 1.0 + tg.exp(x) * 0.0

    cf = f.get_concrete_function(tg.constant(1.0))
    assert len(cf.graph.nodes) == len(cf.raw_graph.nodes) == 4
    with pytest.raises(ValueError, match="unknown graph pass"):
        tg.function(lambda x: x, passes=("nope",))


def test_compat_defun_and_tf_function():
    from tapegrad.compat import tf1 as tf

    tfe = tf.contrib.eager
    assert tfe.defun is tg.function and tf.function is tg.function
    assert tf.print is tg.print and tf.TensorSpec is tg.TensorSpec
    v = tfe.Variable(2.0)

    @tfe.defun
    def step(x):
        v.assign_add(x)
        return v * 2.0

    _eq(step(tf.constant(1.0)), np.float32(6))
    _eq(step(tf.constant(1.0)), np.float32(8))
    assert step.tracing_count == 1


def test_other_threads_run_eagerly_while_one_traces():
    import threading

    started, release = threading.Event(), threading.Event()
    results = []

    def worker():
        started.wait(5)
        a = tg.constant([1.0, 2.0])
        results.append((a * 3.0).numpy())      # must not land in the trace
        release.set()

    t = threading.Thread(target=worker)
    t.start()

    @tg.function
    def f(x):
        y = x + 1.0
        started.set()
        release.wait(5)
        return y * 2.0

    _eq(f(tg.constant(1.0)), np.float32(4))
    t.join(5)
    _eq(results[0], [3.0, 6.0])
    cf = f.get_concrete_function(tg.constant(1.0))
    assert [n.op for n in cf.raw_graph.nodes] == ["add", "multiply"]
    _eq(f(tg.constant(2.0)), np.float32(6))


def test_shuffle_draws_a_new_permutation_every_call():
    def f(x):
        return tg.random.shuffle(x) * 1.0

    x = tg.range(20)
    tg.random.set_seed(11)
    eager = [f(x).numpy() for _ in range(3)]
    tg.random.set_seed(11)
    g = tg.function(f)
    traced = [g(x).numpy() for _ in range(3)]
    for a, b in zip(eager, traced):
        _eq(a, b)
    assert not np.array_equal(traced[1], traced[2])


def test_an_exception_while_tracing_leaves_no_trace_behind():
    @tg.function
    def f(x, fail):
        y = x * 2.0
        if fail:
            raise KeyError("boom")
        return y

    with pytest.raises(KeyError):
        f(tg.constant(1.0), True)
    assert tracing() is False and f.tracing_count == 0
    _eq(tg.constant(2.0) * 3.0, np.float32(6))       # eager again, nothing recorded
    _eq(f(tg.constant(1.0), False), np.float32(2))


@pytest.mark.cuda
def test_gpu_tensors_replay_on_the_gpu_and_the_device_is_in_the_signature():
    def step(x, w):
        with tg.GradientTape() as tape:
            tape.watch(w)
            loss = tg.reduce_sum(tg.tanh(tg.matmul(x, w)))
        return loss, tape.gradient(loss, w)

    rng = np.random.default_rng(0)
    x = tg.constant(rng.normal(size=(4, 3)).astype(np.float32))
    w = tg.constant(rng.normal(size=(3, 2)).astype(np.float32))
    f = tg.function(step)
    eager = step(x.gpu(), w.gpu())
    f(x.gpu(), w.gpu())
    again = f(x.gpu(), w.gpu())
    for a, b in zip(eager, again):
        assert b.device == "/gpu:0"
        _eq(a.cpu(), b.cpu())
    f(x, w)                                   # the same shapes on the CPU: a new trace
    assert f.tracing_count == 2


@pytest.mark.parametrize("bad,exc", [(5, TypeError), ([3], TypeError), ([([2], "nope")], TypeError),
                                     ([([2, "x"], tg.float32)], (TypeError, ValueError))])
def test_junk_input_signature_and_function_arguments_raise_clearly(bad, exc):
    with pytest.raises(exc):
        tg.function(lambda x: x, input_signature=bad)


def test_non_callable_raises():
    with pytest.raises(TypeError, match="callable"):
        tg.function(3)


def test_layer_training_context_is_part_of_the_signature():
    class Block(tg.layers.Layer):
        def __init__(self):
            super().__init__()
            self.drop = tg.layers.Dropout(0.5)

        @tg.function
        def call(self, x):
            return self.drop(x) * 1.0

    block = Block()
    x = tg.ones((200,))
    _eq(block(x, training=False), np.ones(200, np.float32))
    trained = block(x, training=True).numpy()
    assert (trained == 0).any() and (trained == 2).any()
    _eq(block(x, training=False), np.ones(200, np.float32))
    _eq(block(x), np.ones(200, np.float32))


def test_buffer_reuse_keeps_eager_layouts_and_values():
    def f(x):
        t = tg.tanh(tg.sin(tg.transpose(x)))       # F-ordered intermediates
        u = tg.abs(tg.cos(x))                      # C-ordered: computed in place
        return tg.matmul(t, u), tg.matmul(u, t)

    x = tg.constant(np.random.default_rng(0).random((33, 33)).astype(np.float32))
    eager = f(x)
    g = tg.function(f)
    g(x)
    for a, b in zip(eager, g(x)):
        _eq(a, b)
    assert g.get_concrete_function(x)._plan.reused > 0


def test_printing_a_traced_tensor_shows_its_type_not_a_stale_value(capsys):
    @tg.function
    def f(x):
        y = x * 2.0
        print(y, repr(y))
        return y

    f(tg.constant([1.0, 2.0]))
    out = capsys.readouterr().out
    assert out.count("<tg.Tensor (traced): shape=(2,), dtype=float32>") == 2
    assert "2." not in out
    print(tg.constant([1.0]))                 # eager printing is unchanged
    assert "tg.Tensor([1.], shape=(1,), dtype=float32)" in capsys.readouterr().out


def test_variables_created_on_the_first_call_only_or_refused():
    state = {}

    @tg.function
    def once(x):
        if "v" not in state:
            state["v"] = tg.Variable(tg.ones_like(x))
        state["v"].assign_add(x)
        return state["v"].read_value() * 1.0

    x = tg.constant([1.0, 2.0])
    _eq(once(x), [2.0, 3.0])
    _eq(once(x), [3.0, 5.0])     # the verifying second trace ran eagerly, once
    _eq(once(x), [4.0, 7.0])     # replayed
    assert once.tracing_count == 1

    @tg.function
    def every(x):
        v = tg.Variable(tg.zeros_like(x))
        v.assign_add(x)
        return v.read_value()

    _eq(every(x), [1.0, 2.0])
    with pytest.raises(ValueError, match="creates variables on every call"):
        every(x)

