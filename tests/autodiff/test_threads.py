"""Recording state is per thread (and per asyncio task): tapes, watched variables and
the `needs_input` answer of a running VJP never leak between threads."""

import asyncio
import sys
import threading

import numpy as np
import pytest
from tapegrad._tape import needs_input

import tapegrad as tg
from tapegrad import _core

TIMEOUT = 30


def _run_threads(*targets):
    errors = []

    def guard(fn):
        def run():
            try:
                fn()
            except BaseException as e:  # surfaced in the main thread below
                errors.append(e)
        return run

    threads = [threading.Thread(target=guard(t)) for t in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join(TIMEOUT)
        assert not t.is_alive(), "thread hung"
    if errors:
        raise errors[0]


def _recorded_prims(tape):
    return {rec.prim.name for rec in tape._core.producers.values() if rec is not None}


def _train(act, seed, steps, barrier=None, tapes=None):
    """A two-layer regression trained with plain SGD; returns final weights and losses."""
    rng = np.random.RandomState(seed)
    x = tg.constant(rng.randn(8, 3).astype(np.float32))
    y = tg.constant(rng.randn(8, 1).astype(np.float32))
    w1 = tg.Variable(rng.randn(3, 4).astype(np.float32))
    w2 = tg.Variable(rng.randn(4, 1).astype(np.float32))
    losses = []
    for _ in range(steps):
        with tg.GradientTape(persistent=True) as tape:
            if barrier is not None:
                barrier.wait(TIMEOUT)       # both tapes are open from here on
            h = act(tg.matmul(x, w1))
            loss = tg.reduce_mean(tg.square(tg.matmul(h, w2) - y))
            if barrier is not None:
                barrier.wait(TIMEOUT)       # ... until both losses are computed
        if tapes is not None:
            tapes.append(tape)
        g1, g2 = tape.gradient(loss, [w1, w2])
        w1.assign_sub(0.1 * g1)
        w2.assign_sub(0.1 * g2)
        losses.append(loss.numpy().item())
    return w1.numpy(), w2.numpy(), losses, (w1, w2)


def test_two_threads_train_with_their_own_tapes():
    steps = 20
    ref_a = _train(tg.tanh, 0, steps)
    ref_b = _train(tg.sigmoid, 1, steps)
    barrier = threading.Barrier(2)
    out, tapes = {}, {"a": [], "b": []}
    _run_threads(lambda: out.__setitem__("a", _train(tg.tanh, 0, steps, barrier, tapes["a"])),
                 lambda: out.__setitem__("b", _train(tg.sigmoid, 1, steps, barrier, tapes["b"])))
    for got, ref in ((out["a"], ref_a), (out["b"], ref_b)):
        np.testing.assert_array_equal(got[0], ref[0])        # bit for bit
        np.testing.assert_array_equal(got[1], ref[1])
        assert got[2] == ref[2]
    for tape in tapes["a"]:
        assert "sigmoid" not in _recorded_prims(tape) and "tanh" in _recorded_prims(tape)
        assert set(map(id, tape.watched_variables())) == set(map(id, out["a"][3]))
    for tape in tapes["b"]:
        assert "tanh" not in _recorded_prims(tape) and "sigmoid" in _recorded_prims(tape)
        assert set(map(id, tape.watched_variables())) == set(map(id, out["b"][3]))


def test_needs_input_stress_two_threads():
    # matmul's VJP skips the adjoint of an input that needs none; reading another
    # thread's answer used to make it skip W's (about once in 10^4 calls)
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    nones = []

    def worker(seed):
        # the two threads need opposite adjoints: W is matmul's second input in one and
        # its first in the other, so reading the other thread's needs skips W's
        rng = np.random.RandomState(seed)
        c = tg.constant(rng.randn(3, 3).astype(np.float32))
        w = tg.Variable(rng.randn(3, 3).astype(np.float32))
        for _ in range(10000):
            with tg.GradientTape() as tape:
                y = tg.matmul(c, w) if seed == 0 else tg.matmul(w, c)
            if tape.gradient(y, w) is None:
                nones.append(seed)

    try:
        _run_threads(lambda: worker(0), lambda: worker(1))
    finally:
        sys.setswitchinterval(old)
    assert not nones


def _half_watched_op(on_vjp):
    """A custom op of (c, w) whose gradient function calls ``on_vjp()``; with c a
    constant only w is on the tape, so the running VJP's needs are (False, True)."""
    @tg.custom_gradient
    def op(c, w):
        def grad(dy):
            on_vjp()
            return dy * w, dy * c
        return c * w, grad
    return op


def test_needs_input_is_per_thread():
    inside, checked = threading.Event(), threading.Event()
    seen = {}

    def main_side():
        c, w = tg.constant(2.0), tg.Variable(3.0)

        def on_vjp():
            seen["main"] = needs_input(0)
            inside.set()
            assert checked.wait(TIMEOUT)

        op = _half_watched_op(on_vjp)
        with tg.GradientTape() as tape:
            y = op(c, w)
        assert tape.gradient(y, w).numpy() == 2.0

    def other_side():
        assert inside.wait(TIMEOUT)
        # no VJP runs in this thread: every input counts as needed
        seen["other"] = needs_input(0)
        checked.set()

    _run_threads(main_side, other_side)
    assert seen == {"main": False, "other": True}


def test_nested_backward_restores_needs():
    seen = []

    def on_vjp():
        seen.append(needs_input(0))
        v = tg.Variable(1.5)
        with tg.GradientTape() as inner:
            z = v * v
        assert inner.gradient(z, v).numpy() == 3.0
        # the nested backward pass gave the outer VJP's answer back
        seen.append(needs_input(0))

    op = _half_watched_op(on_vjp)
    c, w = tg.constant(2.0), tg.Variable(3.0)
    with tg.GradientTape() as tape:
        y = op(c, w)
    assert tape.gradient(y, w).numpy() == 2.0
    assert seen == [False, False]
    assert needs_input(0)


def test_other_threads_variables_are_not_watched():
    mine, theirs = tg.Variable(2.0), tg.Variable(5.0)
    entered, done = threading.Event(), threading.Event()

    def reader():
        assert entered.wait(TIMEOUT)
        for _ in range(10):
            theirs * theirs
        tg.matmul(tg.reshape(theirs, (1, 1)), tg.ones((1, 1)))
        done.set()

    def f():
        y = mine * 3.0
        entered.set()
        assert done.wait(TIMEOUT)
        return y

    t = threading.Thread(target=reader)
    t.start()
    try:
        pairs = tg.implicit_gradients(f)()
    finally:
        t.join(TIMEOUT)
    assert [v for _, v in pairs] == [mine]
    assert pairs[0][0].numpy() == 3.0

    entered.clear()
    done.clear()
    t = threading.Thread(target=reader)
    t.start()
    try:
        with tg.GradientTape() as tape:
            f()
    finally:
        t.join(TIMEOUT)
    assert tape.watched_variables() == (mine,)


def test_thread_started_inside_a_tape_records_nothing_on_it():
    w = tg.Variable(2.0)
    v = tg.Variable(7.0)
    with tg.GradientTape() as tape:
        w * w
        _run_threads(lambda: v * v)
        assert len(_core._active_tapes()) == 1
    assert tape.watched_variables() == (w,)
    assert _core._active_tapes() == []


def test_asyncio_tasks_have_their_own_tapes():
    async def task(act, x0, other_started, mine_started):
        w = tg.Variable(x0)
        with tg.GradientTape() as tape:
            mine_started.set()
            await other_started.wait()      # the other task's tape is open now
            y = act(w)
            await asyncio.sleep(0)
        prims = _recorded_prims(tape)
        return tape, w, prims, tape.gradient(y, w)

    async def main():
        ea, eb = asyncio.Event(), asyncio.Event()
        return await asyncio.gather(task(tg.tanh, 0.5, eb, ea), task(tg.sigmoid, 0.25, ea, eb))

    (ta, wa, pa, ga), (tb, wb, pb, gb) = asyncio.run(main())
    assert ta.watched_variables() == (wa,) and tb.watched_variables() == (wb,)
    assert pa == {"tanh"} and pb == {"sigmoid"}
    np.testing.assert_allclose(ga.numpy(), 1 - np.tanh(0.5) ** 2, rtol=1e-6)
    s = 1 / (1 + np.exp(-0.25))
    np.testing.assert_allclose(gb.numpy(), s * (1 - s), rtol=1e-6)


@pytest.mark.parametrize("persistent", [False, True])
def test_tape_state_restored_after_exceptions(persistent):
    w = tg.Variable(1.0)
    with pytest.raises(RuntimeError):
        with tg.GradientTape(persistent=persistent):
            w * w
            raise RuntimeError("boom")
    assert _core._active_tapes() == []


def test_prefetched_map_is_not_recorded_on_the_consumers_tape():
    # the map function runs in the prefetch thread; the tape open in this thread must
    # not watch the variable it reads nor record its ops
    scale = tg.Variable(2.0)
    started = threading.Event()

    def f(x):
        started.set()
        return tg.tanh(x * scale)

    ds = tg.data.Dataset.from_tensor_slices(np.arange(6, dtype=np.float32)).map(f).prefetch(4)
    w = tg.Variable(1.0)
    with tg.GradientTape(persistent=True) as tape:
        it = iter(ds)
        first = next(it)            # starts the producer thread
        assert started.wait(TIMEOUT)
        y = w * first
        rest = [float(v) for v in it]
        prims = _recorded_prims(tape)
    assert tape.watched_variables() == (w,)
    assert "tanh" not in prims
    assert tape.gradient(y, w).numpy() == np.tanh(0.0)
    np.testing.assert_allclose(rest, np.tanh(2 * np.arange(1, 6)), rtol=1e-6)


def test_asyncio_tasks_gathered_inside_a_tape_are_recorded_on_it():
    w = tg.Variable(2.0)

    async def part(k):
        await asyncio.sleep(0)
        return w * float(k)

    async def main():
        with tg.GradientTape() as tape:
            parts = await asyncio.gather(part(1), part(2), part(3))
            total = tg.add_n(list(parts))
        return tape.gradient(total, w)

    assert asyncio.run(main()).numpy() == 6.0
    assert _core._active_tapes() == []


def test_asyncio_task_tape_stays_in_the_task():
    # a tape entered inside a task never records the parent's later ops
    w, v = tg.Variable(2.0), tg.Variable(3.0)
    entered, release = None, None

    async def child():
        with tg.GradientTape() as tape:
            entered.set()
            await release.wait()
            w * w
        return tape

    async def main():
        nonlocal entered, release
        entered, release = asyncio.Event(), asyncio.Event()
        task = asyncio.ensure_future(child())
        await entered.wait()
        v * v                                   # the parent's op, child's tape open
        assert _core._active_tapes() == []
        release.set()
        return await task

    tape = asyncio.run(main())
    assert tape.watched_variables() == (w,)


def test_minimize_ignores_variables_read_by_another_thread():
    mine, theirs = tg.Variable(2.0), tg.Variable(5.0)
    entered, done = threading.Event(), threading.Event()

    def reader():
        assert entered.wait(TIMEOUT)
        theirs * theirs
        done.set()

    def loss():
        y = mine * mine
        entered.set()
        assert done.wait(TIMEOUT)
        return y

    opt = tg.optimizers.SGD(0.1)
    t = threading.Thread(target=reader)
    t.start()
    try:
        pairs = opt.compute_gradients(loss)
    finally:
        t.join(TIMEOUT)
    assert [v for _, v in pairs] == [mine]

    entered.clear()
    done.clear()
    t = threading.Thread(target=reader)
    t.start()
    try:
        opt.minimize(loss)
    finally:
        t.join(TIMEOUT)
    assert mine.numpy() == np.float32(2.0 - 0.1 * 4.0) and theirs.numpy() == 5.0
