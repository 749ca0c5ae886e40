"""The gradient sweep's cases, traced: values, first and second derivatives bit-identical.

Each case of ``tests/ops/test_gradients.py`` GRAD_CASES runs as one program (value,
gradient, gradient of the gradient, all through nested tapes) eagerly and under
``tg.function``; the replay (second call) must give the same bits.  A second test
differentiates a replayed traced function with a tape *outside* it.
"""


import numpy as np
import pytest
from _sweep_cases import load_sweep, sweep_params

import tapegrad as tg

SWEEP = load_sweep("_tg_graph_gradient_sweep")
CASES = sweep_params(SWEEP)


def _floats(values):
    return [v for v in values if isinstance(v, tg.Tensor) and v.dtype.kind == "f"]


def _flatten(x):
    if isinstance(x, (list, tuple)):
        return [t for a in x for t in _flatten(a)]
    return [x] if isinstance(x, tg.Tensor) else []


def _program(fn):
    def program(*ts):
        xs = _floats(ts)
        with tg.GradientTape(persistent=True) as outer:
            for x in xs:
                outer.watch(x)
            with tg.GradientTape() as inner:
                for x in xs:
                    inner.watch(x)
                ys = _floats(_flatten(fn(*ts)))
                total = tg.add_n([tg.reduce_sum(y * y) for y in ys])
            grads = inner.gradient(total, xs)
            gsum = tg.add_n([tg.reduce_sum(g * g) for g in grads if g is not None] +
                            [tg.zeros((), tg.float64)])
        second = outer.gradient(gsum, xs) if gsum.dtype.kind == "f" else []
        return ys, [g for g in grads if g is not None], [h for h in second if h is not None]
    return program


def _inputs(args):
    return [tg.constant(np.asarray(a, dtype=np.float64)) if np.asarray(a).dtype.kind == "f"
            else tg.constant(np.asarray(a)) for a in args]


def _same(a, b):
    fa, fb = _flatten(a), _flatten(b)
    assert len(fa) == len(fb)
    for x, y in zip(fa, fb):
        assert x.shape == y.shape and x.dtype == y.dtype
        np.testing.assert_array_equal(x.numpy(), y.numpy(), strict=True)


@pytest.mark.parametrize("fn,args", CASES)
def test_sweep_case_traced_bit_identical(fn, args):
    ts = _inputs(args)
    eager = _program(fn)(*ts)
    traced = tg.function(_program(fn))
    first = traced(*ts)
    again = traced(*_inputs(args))
    _same(eager, first)
    _same(eager, again)
    assert traced.tracing_count == 1


@pytest.mark.parametrize("fn,args", CASES[::7])
def test_outer_tape_through_replay(fn, args):
    # differentiate a *replayed* traced function from outside: same bits as eager
    traced = tg.function(fn)
    traced(*_inputs(args))   # trace

    def grads(f):
        ts = _inputs(args)
        xs = _floats(ts)
        with tg.GradientTape(persistent=True) as t2:
            for x in xs:
                t2.watch(x)
            with tg.GradientTape() as t1:
                for x in xs:
                    t1.watch(x)
                ys = _floats(_flatten(f(*ts)))
                total = tg.add_n([tg.reduce_sum(y * y) for y in ys])
            g = [v for v in t1.gradient(total, xs) if v is not None]
            gs = tg.add_n([tg.reduce_sum(v * v) for v in g] + [tg.zeros((), tg.float64)])
        h = [v for v in t2.gradient(gs, xs) if v is not None]
        return ys, g, h

    _same(grads(fn), grads(traced))
