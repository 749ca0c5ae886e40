"""tg.function(reduce_retracing=True): a new shape of an already-traced signature runs
eagerly and is traced only when it comes back; results are eager's bits either way."""

import logging

import numpy as np
import pytest

import tapegrad as tg


def _x(n, cols=3, dtype=np.float32):
    return tg.constant(np.arange(n * cols, dtype=dtype).reshape(n, cols) / 7)


def _body(x):
    # a mean: its traced graph holds 1/n for the traced n, so a graph of one shape
    # must never serve another
    return tg.reduce_mean(tg.tanh(x) * x, axis=0)


def test_new_shapes_run_eagerly_and_recurring_shapes_are_traced():
    calls = []

    def body(x):
        calls.append(tuple(x.shape))
        return _body(x)

    f = tg.function(body, reduce_retracing=True)
    for n in (2, 4, 4, 5, 6, 7, 8, 9, 4, 5, 2):
        x = _x(n)
        np.testing.assert_array_equal(f(x).numpy(), _body(x).numpy())
    # traced: 2 (first), 4 and 5 (each on its second call); eager: 4, 5, 6, 7, 8, 9
    assert f.tracing_count == 3
    assert f.eager_call_count == 6
    assert len(calls) == 9          # the Python body ran for 3 traces + 6 eager calls


def test_default_traces_every_new_shape():
    f = tg.function(_body)
    for n in (2, 3, 4):
        x = _x(n)
        np.testing.assert_array_equal(f(x).numpy(), _body(x).numpy())
    assert f.tracing_count == 3
    assert f.eager_call_count == 0


def test_new_rank_or_dtype_is_traced_at_once():
    f = tg.function(lambda x: tg.reduce_sum(x * x), reduce_retracing=True)
    f(_x(2))
    f(tg.constant(np.ones(5, np.float32)))           # rank 1: nothing of that form yet
    f(_x(2, dtype=np.float64))                       # float64: likewise
    assert f.tracing_count == 3 and f.eager_call_count == 0
    f(_x(3))                                         # a new shape of a traced form
    assert f.tracing_count == 3 and f.eager_call_count == 1


def test_no_retrace_warning_for_a_stream_of_new_shapes(caplog):
    f = tg.function(_body, reduce_retracing=True)
    with caplog.at_level(logging.WARNING):
        for n in range(1, 30):
            f(_x(n))
    assert f.tracing_count == 1 and f.eager_call_count == 28
    assert not [r for r in caplog.records if "traced" in r.getMessage()]


@pytest.mark.parametrize("outside", [True, False])
def test_gradients_of_eager_calls_match_eager(outside):
    w = tg.Variable(np.linspace(-1, 1, 3).astype(np.float64))

    def loss(x):
        return tg.reduce_sum(_body(x * w))

    def grad(x):
        with tg.GradientTape() as tape:
            y = loss(x)
        return tape.gradient(y, w)

    if outside:
        f = tg.function(loss, reduce_retracing=True)

        def run(x):
            with tg.GradientTape() as tape:
                y = f(x)
            return tape.gradient(y, w)
    else:
        run = tg.function(grad, reduce_retracing=True)
    for n in (2, 3, 3, 4):
        x = _x(n, dtype=np.float64)
        np.testing.assert_array_equal(run(x).numpy(), grad(x).numpy())


def test_methods_keep_the_setting():
    class M:
        @tg.function(reduce_retracing=True)
        def f(self, x):
            return _body(x)

    m = M()
    m.f(_x(2))
    m.f(_x(3))
    assert m.f.reduce_retracing and m.f.eager_call_count == 1


def test_tf2_experimental_relax_shapes_is_the_same_switch():
    f = tg.function(_body, experimental_relax_shapes=True)
    f(_x(2))
    f(_x(3))
    assert f.reduce_retracing and f.eager_call_count == 1
