"""A replayed tg.function call under a tape is ONE op (graph/calls.py).

Its VJP is a traced backward graph fed with the forward's values; tapes around the
innermost one see the replay op by op.  Every gradient here must be the eager
program's, bit for bit: first, second and third order, forward mode, variables,
layers, persistent tapes, partial and unconnected sources.
"""

import contextlib

import numpy as np
import pytest
from _sweep_cases import as_inputs, assert_same_bits, flatten, load_sweep, sweep_params

import tapegrad as tg

SWEEP = load_sweep("_tg_call_gradient_sweep")
CASES = sweep_params(SWEEP)


def _floats(values):
    return [v for v in values if isinstance(v, tg.Tensor) and v.dtype.kind == "f"]


def _sumsq(ts, dtype=tg.float64):
    return tg.add_n([tg.reduce_sum(t * t) for t in ts if t is not None] +
                    [tg.zeros((), dtype)])


def _recorded(tape, t):
    rec = tape._core.producers.get(t._id)
    return None if rec is None else rec.prim.name


def _orders(f, ts, order):
    """Outputs and the gradients of orders 1..order (tape k differentiates the sum of
    squares of order k-1), all tapes watching every float input."""
    xs = _floats(ts)
    tapes = [tg.GradientTape() for _ in range(order)]
    out = []
    with contextlib.ExitStack() as stack:
        for t in tapes:                     # tapes[-1] innermost
            stack.enter_context(t)
            t.watch(xs)
        ys = _floats(flatten(f(*ts)))
        kinds = [_recorded(tapes[-1], y) for y in ys]
        cur = _sumsq(ys)
        out.append(ys)
        for k in range(order - 1, -1, -1):
            tapes[k].__exit__(None, None, None)
            g = [v for v in tapes[k].gradient(cur, xs) if v is not None]
            out.append(g)
            cur = _sumsq(g)
    return out, kinds


def _compare(fn, args, order):
    fn = getattr(fn, "python_function", fn)     # the function_call entry is traced already
    traced = tg.function(fn)
    traced(*as_inputs(args))              # trace: later calls replay
    eager, _ = _orders(fn, as_inputs(args), order)
    got, kinds = _orders(traced, as_inputs(args), order)
    assert_same_bits(eager, got)
    assert traced.tracing_count == 1
    return kinds


_ONE_OP = []


@pytest.mark.parametrize("fn,args", CASES)
def test_sweep_first_and_second_order_through_one_op(fn, args):
    kinds = _compare(fn, args, 2)
    _ONE_OP.append("function_call" in kinds)


@pytest.mark.parametrize("fn,args", CASES[::6])
def test_sweep_third_order_through_one_op(fn, args):
    _compare(fn, args, 3)


def test_most_sweep_cases_are_one_op():
    # the sweep's single-output cases are recorded as one op (the rest: several
    # outputs, integer results or random ops, replayed op by op)
    n = 0
    for p in CASES:
        fn, args = p.values
        traced = tg.function(getattr(fn, "python_function", fn))
        traced(*as_inputs(args))
        ts = as_inputs(args)
        with tg.GradientTape() as t:
            t.watch(_floats(ts))
            ys = _floats(flatten(traced(*ts)))
        n += any(_recorded(t, y) == "function_call" for y in ys)
    assert n >= 0.6 * len(CASES), (n, len(CASES))


# ---------------------------------------------------------------- structure

def _one_program(x, w):
    h = tg.tanh(tg.matmul(x, w))
    return tg.reduce_sum(h * x) + tg.reduce_sum(tg.exp(w) * 0.5)


def _xw():
    rng = np.random.default_rng(7)
    return (tg.constant(rng.standard_normal((5, 4))),
            tg.constant(rng.standard_normal((4, 4))))


def test_one_op_on_the_tape_with_stats_and_explain():
    f = tg.function(_one_program)
    x, w = _xw()
    f(x, w)
    with tg.GradientTape(debug=True) as t:
        t.watch([x, w])
        y = f(x, w)
    assert _recorded(t, y) == "function_call"
    st = t.stats()
    assert st.ops == 1 if hasattr(st, "ops") else "1 ops" in str(st)
    assert "function_call" in str(st)
    # the bytes count the forward values the record keeps, not only its inputs
    assert st.bytes > x.numpy().nbytes + w.numpy().nbytes
    assert "function_call" in str(t.explain(y, x))
    gx, gw = t.gradient(y, [x, w])
    with tg.GradientTape() as e:
        e.watch([x, w])
        ye = _one_program(x, w)
    assert_same_bits([ye] + e.gradient(ye, [x, w]), [y, gx, gw])


def test_input_used_inside_and_outside_the_call():
    # x's gradient is summed from contributions outside (3) and inside (several uses):
    # the call appends its per-use contributions in eager's order, so the sum is eager's
    f = tg.function(_one_program)
    x, w = _xw()
    f(x, w)

    def prog(fn):
        with tg.GradientTape() as t:
            t.watch([x, w])
            a = tg.sin(x)
            y = fn(a, w) * tg.reduce_sum(x) + tg.reduce_sum(a * x) + fn(x, w * 2.0)
        return y, t.gradient(y, [x, w])

    assert_same_bits(prog(_one_program), prog(f))


def test_gradient_with_respect_to_some_inputs_and_unconnected():
    f = tg.function(lambda x, w, z: tg.reduce_sum(tg.sigmoid(tg.matmul(x, w))))
    x, w = _xw()
    z = tg.constant([1.0, 2.0])
    f(x, w, z)
    for sources in ([x], [w], [w, x], [z, x]):
        with tg.GradientTape() as t:
            t.watch(sources)
            y = f(x, w, z)
        got = t.gradient(y, sources)
        with tg.GradientTape() as e:
            e.watch(sources)
            ye = f.python_function(x, w, z)
        want = e.gradient(ye, sources)
        assert [g is None for g in got] == [g is None for g in want]
        assert_same_bits([g for g in got if g is not None], [g for g in want if g is not None])
    with tg.GradientTape() as t:
        t.watch(z)
        y = f(x, w, z)
    assert _recorded(t, y) is None       # z is not used: nothing to record, as eager
    assert t.gradient(y, z) is None


def test_persistent_tape_gradient_twice_and_inside_the_block():
    f = tg.function(_one_program)
    x, w = _xw()
    f(x, w)
    for fn in (_one_program, f):
        with tg.GradientTape(persistent=True) as t:
            t.watch([x, w])
            y = fn(x, w)
            g_in = t.gradient(y, x)         # recorded on t itself
            s = tg.reduce_sum(g_in * g_in)
        res = [y, g_in, t.gradient(y, w), t.gradient(y, x), t.gradient(s, [x, w])]
        if fn is _one_program:
            eager = res
    assert_same_bits(eager, res)


def test_variables_captured_by_the_call():
    v = tg.Variable(np.linspace(-1.0, 1.0, 12).reshape(3, 4))
    b = tg.Variable(np.zeros(4))
    frozen = tg.Variable(np.ones(4), trainable=False)

    def model(x):
        return tg.reduce_sum(tg.tanh(tg.matmul(x, v) + b) * frozen + v[0] * v[1])

    f = tg.function(model)
    x = tg.constant(np.arange(6.0).reshape(2, 3) / 6.0)
    f(x)

    def grads(fn):
        with tg.GradientTape() as t:
            y = fn(x)
        kinds = _recorded(t, y)
        return [y] + t.gradient(y, [v, b, frozen]), kinds, t.watched_variables()

    (e, _, ew), (g, kind, gw) = grads(model), grads(f)
    assert kind == "function_call"
    assert e[3] is None and g[3] is None
    assert_same_bits(e[:3], g[:3])
    assert [id(a) for a in ew] == [id(a) for a in gw]
    # the values are read at each call: an update shows in the next call
    v.assign_add(tg.ones((3, 4), tg.float64))
    (e, _, _), (g, kind, _) = grads(model), grads(f)
    assert kind == "function_call"
    assert_same_bits(e[:3], g[:3])


def test_mlp_and_cnn_layers_traced_under_an_outer_tape():
    tg.random.set_seed(3)
    mlp = tg.Sequential([tg.layers.Dense(16, activation="relu", input_shape=(8,)),
                               tg.layers.Dense(3)])
    cnn = tg.Sequential([
        tg.layers.Conv2D(4, 3, activation="relu", input_shape=(8, 8, 1)),
        tg.layers.MaxPooling2D(2), tg.layers.Flatten(), tg.layers.Dense(5)])
    rng = np.random.default_rng(0)
    for model, x in ((mlp, rng.standard_normal((6, 8))),
                     (cnn, rng.standard_normal((2, 8, 8, 1)))):
        x = tg.constant(x.astype(np.float32))
        labels = tg.constant(np.arange(x.shape[0]) % 3)
        model(x)
        call = tg.function(model.call)
        call(x)

        def step(fn, x=x, labels=labels, model=model):
            with tg.GradientTape() as t:
                logits = fn(x)
                loss = tg.reduce_mean(tg.nn.sparse_softmax_cross_entropy_with_logits(
                    labels=labels, logits=logits))
            kind = _recorded(t, logits)
            return [loss] + t.gradient(loss, model.trainable_variables), kind

        eager, _ = step(model.call)
        got, kind = step(call)
        assert kind == "function_call"
        assert_same_bits(eager, got)
        assert call.tracing_count == 1


def test_nested_traced_functions_are_one_op():
    inner = tg.function(lambda x: tg.tanh(x) * x)
    outer = tg.function(lambda x, w: tg.reduce_sum(inner(tg.matmul(x, w)) * inner(x)[:, :4]))
    x, w = _xw()
    outer(x, w)
    with tg.GradientTape() as t:
        t.watch([x, w])
        y = outer(x, w)
    assert _recorded(t, y) == "function_call"
    got = [y] + t.gradient(y, [x, w])
    with tg.GradientTape() as e:
        e.watch([x, w])
        ye = outer.python_function(x, w)
    assert_same_bits([ye] + e.gradient(ye, [x, w]), got)
    # and the inner one called on its own under a tape, twice in one program
    inner(x)
    with tg.GradientTape() as t:
        t.watch(x)
        y = tg.reduce_sum(inner(inner(x)))
    with tg.GradientTape() as e:
        e.watch(x)
        ye = tg.reduce_sum(inner.python_function(inner.python_function(x)))
    assert_same_bits([y, t.gradient(y, x)], [ye, e.gradient(ye, x)])


def test_first_call_under_a_tape_is_differentiable():
    # the tracing call runs on fresh tensors; they are linked to the arguments on tapes
    f = tg.function(lambda x, w: tg.reduce_sum(tg.tanh(x) * x * w))
    x, w = tg.constant([0.5, -1.5]), tg.constant([2.0, 3.0])
    with tg.GradientTape() as t:
        t.watch([x, w])
        y = f(x, w)
    with tg.GradientTape() as e:
        e.watch([x, w])
        ye = f.python_function(x, w)
    assert_same_bits([y] + t.gradient(y, [x, w]), [ye] + e.gradient(ye, [x, w]))
    assert f.tracing_count == 1


def test_custom_gradient_inside_a_traced_function_runs_the_python_function():
    @tg.custom_gradient
    def clip(x):
        def grad(dy):
            return tg.clip_by_value(dy, -0.1, 0.1)
        return x * 1.0, grad

    f = tg.function(lambda x: tg.reduce_sum(clip(x) * 3.0))
    x = tg.constant([1.0, 2.0])
    f(x)
    with tg.GradientTape() as t:
        t.watch(x)
        y = f(x)
    assert _recorded(t, y) != "function_call"
    np.testing.assert_array_equal(t.gradient(y, x).numpy(), np.float32([0.1, 0.1]))


def test_several_outputs_and_effects_replay_op_by_op():
    two = tg.function(lambda x: (tg.sin(x), tg.cos(x) * x))
    v = tg.Variable([1.0, 2.0])

    @tg.function
    def assigns(x):
        v.assign_add(x)
        return tg.reduce_sum(v * x)

    x = tg.constant([0.5, -0.25])
    two(x)
    assigns(x)
    v.assign([1.0, 2.0])
    with tg.GradientTape() as t:
        t.watch(x)
        a, b = two(x)
        y = tg.reduce_sum(a * b)
    assert _recorded(t, a) == "sin"
    g = t.gradient(y, x)
    with tg.GradientTape() as e:
        e.watch(x)
        a, b = two.python_function(x)
        ye = tg.reduce_sum(a * b)
    assert_same_bits(g, e.gradient(ye, x))
    got = []
    for fn in (assigns.python_function, assigns):
        v.assign([1.0, 2.0])
        with tg.GradientTape() as t:
            t.watch(x)
            y = fn(x)
        kind = _recorded(t, y)
        got.append([y, t.gradient(y, x), v.read_value()])
    assert kind == "reduce_sum"
    assert_same_bits(got[0], got[1])


def test_forward_mode_through_one_op():
    f = tg.function(_one_program)
    x, w = _xw()
    f(x, w)
    rng = np.random.default_rng(1)
    tx, tw = (tg.constant(rng.standard_normal(a.shape)) for a in (x, w))
    assert_same_bits(tg.jvp(_one_program, [x, w], [tx, tw]), tg.jvp(f, [x, w], [tx, tw]))
    assert_same_bits(tg.jvp(_one_program, [x, w], [tx, None]), tg.jvp(f, [x, w], [tx, None]))
    with tg.ForwardAccumulator([x], [tx]) as acc:
        y = f(x, w)
    with tg.ForwardAccumulator([x], [tx]) as acc_e:
        ye = _one_program(x, w)
    assert_same_bits([y, acc.jvp(y)], [ye, acc_e.jvp(ye)])
    # forward over reverse: the Hessian-vector product
    def hvp(fn):
        with tg.ForwardAccumulator([x], [tx]) as a:
            with tg.GradientTape() as t:
                t.watch(x)
                y = fn(x, w)
            g = t.gradient(y, x)
        return g, a.jvp(g)

    assert_same_bits(hvp(_one_program), hvp(f))


def test_sparse_gradient_of_a_gathered_variable():
    table = tg.Variable(np.arange(12.0).reshape(6, 2))
    idx = tg.constant([0, 3, 3])
    f = tg.function(lambda i: tg.reduce_sum(tg.gather(table, i) ** 2))
    f(idx)
    with tg.GradientTape() as t:
        y = f(idx)
    with tg.GradientTape() as e:
        ye = f.python_function(idx)
    g, ge = t.gradient(y, table), e.gradient(ye, table)
    assert type(g) is type(ge)
    np.testing.assert_array_equal(tg.convert_to_tensor(g).numpy(),
                                  tg.convert_to_tensor(ge).numpy())


def test_backward_is_traced_once_per_needs_and_replayed():
    from tapegrad.graph import calls

    f = tg.function(_one_program)
    x, w = _xw()
    f(x, w)
    for _ in range(3):
        for src in ([x], [x, w]):
            with tg.GradientTape() as t:
                t.watch(src)
                y = f(x, w)
            t.gradient(y, src)
    cf = next(iter(f._cache.values()))
    info = cf._call_info()
    assert isinstance(info, calls.CallInfo)
    assert len(info.backward) == 2
    bwd = next(iter(info.backward.values()))
    assert bwd.saved.graph.name.endswith("_grad")
    # the backward graph reads the forward's values: no forward op is recomputed
    ops = bwd.saved.graph.op_counts()
    assert "matmul" in ops and ops.get("tanh", 0) == 0
    # the kept forward values narrowed to what the traced backwards read
    kept = info.keep[1]
    assert set(kept) < set(info.graph.values)


def test_jacobian_and_a_gradient_taken_while_tracing():
    body = lambda x: tg.sin(x) * x      # noqa: E731
    f = tg.function(body)
    x = tg.constant([0.3, -1.2, 2.0], dtype=tg.float64)
    f(x)
    got = []
    for fn in (body, f):
        with tg.GradientTape() as t:
            t.watch(x)
            y = fn(x)
        got.append(t.jacobian(y, x))
    assert_same_bits(got[0], got[1])
    # a tape's gradient through a function_call record, taken inside another trace:
    # the nested walk runs (and is traced) eagerly
    with tg.GradientTape() as t:
        t.watch(x)
        y = tg.reduce_sum(f(x))
    g = tg.function(lambda: t.gradient(y, x))()
    with tg.GradientTape() as e:
        e.watch(x)
        ye = tg.reduce_sum(body(x))
    assert_same_bits(g, e.gradient(ye, x))
