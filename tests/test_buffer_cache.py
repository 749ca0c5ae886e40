"""Large kernel outputs reuse freed blocks (_kernels_alloc.pxi): same values, bounded
memory, a switch, and safe under threads."""

import os
import subprocess
import sys
import threading

import numpy as np
import pytest

import tapegrad as tg
from tapegrad import _kernels

BIG = 1 << 19          # float32 elements: 2 MiB, above the 1 MiB threshold


@pytest.fixture(autouse=True)
def _restore_limit():
    old = _kernels.set_buffer_cache(256 << 20)
    yield
    _kernels.set_buffer_cache(old)


def test_outputs_are_reused_and_equal():
    x = np.random.default_rng(0).standard_normal(BIG).astype(np.float32)
    t = tg.constant(x)
    _kernels.set_buffer_cache(0)               # start empty
    _kernels.set_buffer_cache(256 << 20)
    y = tg.exp(t)
    assert np.array_equal(y.numpy(), np.exp(x))
    assert _kernels.buffer_cache_bytes() == 0
    del y                                       # its block goes back to the cache
    assert _kernels.buffer_cache_bytes() == x.nbytes
    z = tg.tanh(t)                              # the same size: takes that block
    assert _kernels.buffer_cache_bytes() == 0
    assert np.array_equal(z.numpy(), np.tanh(x))
    w = tg.exp(t)                               # z still alive: a new block
    assert not np.shares_memory(z.numpy(), w.numpy())
    assert np.array_equal(z.numpy(), np.tanh(x))   # not overwritten by w
    # a numpy() view keeps the block alive after the tensor is gone
    view = w.numpy()
    del w
    assert _kernels.buffer_cache_bytes() == 0
    assert np.array_equal(view, np.exp(x))


def test_small_outputs_are_numpy_arrays_and_limit_is_kept():
    small = tg.exp(tg.constant(np.ones(1000, np.float32)))
    assert small.numpy().base is None or small.numpy().base.base is None
    _kernels.set_buffer_cache(0)
    _kernels.set_buffer_cache(3 << 20)          # room for one 2 MiB block only
    t = tg.constant(np.ones(BIG, np.float32))
    a, b = tg.exp(t), tg.exp(t)
    del a, b
    assert _kernels.buffer_cache_bytes() == BIG * 4
    assert _kernels.set_buffer_cache(0) == 3 << 20
    assert _kernels.buffer_cache_bytes() == 0
    assert np.array_equal(tg.exp(t).numpy(), np.exp(np.ones(BIG, np.float32)))
    with pytest.raises(ValueError, match="max_bytes must be >= 0"):
        _kernels.set_buffer_cache(-1)


def test_empty_checks_its_arguments():
    a = _kernels.empty((3, 1 << 18), np.float64)
    assert a.shape == (3, 1 << 18) and a.dtype == np.float64 and a.flags.c_contiguous
    assert a.flags.writeable
    with pytest.raises(ValueError, match="negative dimension"):
        _kernels.empty((2, -1), np.float32)


def test_products_convolutions_and_softmax_through_the_cache():
    rng = np.random.default_rng(1)
    a = rng.standard_normal((600, 700)).astype(np.float32)
    b = rng.standard_normal((700, 500)).astype(np.float32)
    for _ in range(3):                          # the second and third reuse blocks
        np.testing.assert_allclose(tg.matmul(a, b).numpy(), a @ b, rtol=2e-4, atol=2e-3)
        s = tg.nn.softmax(tg.constant(a)).numpy()
        e = np.exp(a - a.max(-1, keepdims=True))
        np.testing.assert_allclose(s, e / e.sum(-1, keepdims=True), rtol=1e-5, atol=1e-7)
    x = rng.standard_normal((64, 28, 28, 8)).astype(np.float32)
    w = rng.standard_normal((3, 3, 8, 16)).astype(np.float32)
    first = tg.nn.conv2d(x, w, 1, "SAME").numpy().copy()
    for _ in range(2):
        assert np.array_equal(tg.nn.conv2d(x, w, 1, "SAME").numpy(), first)


def test_threads_share_the_cache_safely():
    x = np.random.default_rng(2).standard_normal(BIG).astype(np.float32)
    t = tg.constant(x)
    expect = {0: np.exp(x), 1: np.tanh(x), 2: np.sin(x), 3: x + x}
    ops = {0: tg.exp, 1: tg.tanh, 2: tg.sin, 3: lambda v: v + v}
    errors = []

    def work(k):
        try:
            for _ in range(20):
                if not np.array_equal(ops[k](t).numpy(), expect[k]):
                    errors.append(k)
        except Exception as e:      # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == []
    assert _kernels.buffer_cache_bytes() <= 256 << 20


@pytest.mark.parametrize("value, cached", [("0", 0), ("junk", None)])
def test_environment_variable(value, cached):
    code = ("import numpy as np, tapegrad as tg, warnings\n"
            "from tapegrad import _kernels\n"
            "t = tg.constant(np.ones(%d, np.float32))\n"
            "y = tg.exp(t); del y\n"
            "print(_kernels.buffer_cache_bytes())\n" % BIG)
    env = dict(os.environ, TAPEGRAD_BUFFER_CACHE=value)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    if cached is None:
        assert "TAPEGRAD_BUFFER_CACHE='junk' is not a byte count" in out.stderr
        assert int(out.stdout) == BIG * 4         # the default limit stays
    else:
        assert int(out.stdout) == cached


def test_blocks_alive_at_exit_and_pickling():
    # arrays over cached blocks held by module globals, in a cycle, or sitting in the
    # cache when the interpreter exits are freed without a crash; pickling copies them
    code = ("import numpy as np, pickle, tapegrad as tg\n"
            "x = tg.constant(np.ones(%d, np.float32))\n"
            "G = tg.exp(x)\n"
            "H = [tg.tanh(x)]; H.append(H)\n"
            "y = tg.exp(x); del y\n"
            "p = pickle.loads(pickle.dumps(G))\n"
            "assert np.array_equal(p.numpy(), G.numpy())\n"
            "print('done')\n" % BIG)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "done", out.stderr
