"""The gradient sweep's cases, traced: values, first and second derivatives bit-identical.

Each case of ``tests/ops/test_gradients.py`` GRAD_CASES runs as one program (value,
gradient, gradient of the gradient, all through nested tapes) eagerly and under
``tg.function``; the replay (second call) must give the same bits.  A second test
differentiates a replayed traced function with a tape *outside* it.
"""


import pytest
from _sweep_cases import as_inputs, assert_same_bits, flatten, load_sweep, sweep_params

import tapegrad as tg

SWEEP = load_sweep("_tg_graph_gradient_sweep")
CASES = sweep_params(SWEEP)


def _floats(values):
    return [v for v in values if isinstance(v, tg.Tensor) and v.dtype.kind == "f"]


def _program(fn):
    def program(*ts):
        xs = _floats(ts)
        with tg.GradientTape(persistent=True) as outer:
            for x in xs:
                outer.watch(x)
            with tg.GradientTape() as inner:
                for x in xs:
                    inner.watch(x)
                ys = _floats(flatten(fn(*ts)))
                total = tg.add_n([tg.reduce_sum(y * y) for y in ys])
            grads = inner.gradient(total, xs)
            gsum = tg.add_n([tg.reduce_sum(g * g) for g in grads if g is not None] +
                            [tg.zeros((), tg.float64)])
        second = outer.gradient(gsum, xs) if gsum.dtype.kind == "f" else []
        return ys, [g for g in grads if g is not None], [h for h in second if h is not None]
    return program


@pytest.mark.parametrize("fn,args", CASES)
def test_sweep_case_traced_bit_identical(fn, args):
    ts = as_inputs(args)
    eager = _program(fn)(*ts)
    traced = tg.function(_program(fn))
    first = traced(*ts)
    again = traced(*as_inputs(args))
    assert_same_bits(eager, first)
    assert_same_bits(eager, again)
    assert traced.tracing_count == 1


@pytest.mark.parametrize("fn,args", CASES[::7])
def test_outer_tape_through_replay(fn, args):
    # differentiate a *replayed* traced function from outside: same bits as eager
    traced = tg.function(fn)
    traced(*as_inputs(args))   # trace

    def grads(f):
        ts = as_inputs(args)
        xs = _floats(ts)
        with tg.GradientTape(persistent=True) as t2:
            for x in xs:
                t2.watch(x)
            with tg.GradientTape() as t1:
                for x in xs:
                    t1.watch(x)
                ys = _floats(flatten(f(*ts)))
                total = tg.add_n([tg.reduce_sum(y * y) for y in ys])
            g = [v for v in t1.gradient(total, xs) if v is not None]
            gs = tg.add_n([tg.reduce_sum(v * v) for v in g] + [tg.zeros((), tg.float64)])
        h = [v for v in t2.gradient(gs, xs) if v is not None]
        return ys, g, h

    assert_same_bits(grads(fn), grads(traced))
