"""The kernels' thread pool (docs/architecture.md §5.4): the thread-count setting, results
that do not depend on the thread count (bit for bit where the op is not a reduction),
deterministic reductions, products on NumPy's OpenBLAS, fork and concurrent callers."""

import os
import subprocess
import sys
import threading

import numpy as np
import pytest

import tapegrad as tg
from tapegrad import _blas, _kernels

# big enough that every kernel splits at two threads (grains: 2^14..2^16 items)
N_BIG = 1 << 18


@pytest.fixture
def threads():
    """Run a body at a given thread count and restore the default afterwards."""
    def run(n, fn, *args):
        _kernels.set_threads(n)
        try:
            return fn(*args)
        finally:
            _kernels.set_threads(_kernels.default_threads())
    yield run
    tg.config.threading.set_intra_op_parallelism_threads(0)


def _rng(seed=0):
    return np.random.default_rng(seed)


# -- the setting --------------------------------------------------------------------------

def test_setting_round_trips_and_zero_means_default():
    th = tg.config.threading
    assert th.get_intra_op_parallelism_threads() == 0
    assert th.get_num_threads() == _kernels.default_threads()
    th.set_intra_op_parallelism_threads(3)
    try:
        assert th.get_intra_op_parallelism_threads() == 3
        assert th.get_num_threads() == 3
    finally:
        th.set_intra_op_parallelism_threads(0)
    assert th.get_num_threads() == _kernels.default_threads()


@pytest.mark.parametrize("bad, exc", [(-1, ValueError), (1.5, TypeError), ("2", TypeError),
                                      (True, TypeError), (None, TypeError)])
def test_setting_rejects_bad_counts(bad, exc):
    with pytest.raises(exc, match="set_intra_op_parallelism_threads"):
        tg.config.threading.set_intra_op_parallelism_threads(bad)


def test_compat_tf1_exposes_the_setting():
    import tapegrad.compat.tf1 as tf

    assert tf.config.threading.set_intra_op_parallelism_threads is \
        tg.config.threading.set_intra_op_parallelism_threads


@pytest.mark.parametrize("env, expected", [("3", 3), ("1,2", 1), ("junk", None)])
def test_default_reads_omp_num_threads(env, expected):
    code = "from tapegrad import _kernels; print(_kernels.get_threads())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=dict(os.environ, OMP_NUM_THREADS=env), check=True).stdout
    if expected is None:        # unparsable: the CPUs this process may use
        expected = len(os.sched_getaffinity(0))
    assert int(out) == expected


# -- same bits at every thread count (not reductions) -------------------------------------

def _elementwise_cases():
    r = _rng(1)
    x32 = r.standard_normal(N_BIG).astype(np.float32)
    y32 = r.standard_normal(N_BIG).astype(np.float32)
    x64 = r.standard_normal(N_BIG)
    return {
        "exp": lambda: tg.exp(tg.constant(x32)),
        "tanh64": lambda: tg.tanh(tg.constant(x64)),
        "add": lambda: tg.add(tg.constant(x32), tg.constant(y32)),
        "mul_scalar": lambda: tg.constant(x32) * 1.7,
        "bias_rows": lambda: tg.constant(x32.reshape(-1, 64)) + tg.constant(y32[:64]),
        "relu": lambda: tg.nn.relu(tg.constant(x32)),
        "softmax": lambda: tg.nn.softmax(tg.constant(x32.reshape(256, -1))),
        "bias_grad": lambda: tg.reduce_sum(tg.constant(x32.reshape(-1, 2048)), axis=0),
        # each row is one part's own sum, so row sums are the same at every count too
        "row_sums": lambda: tg.reduce_sum(tg.constant(x32.reshape(256, -1)), axis=-1),
        "row_means64": lambda: tg.reduce_mean(tg.constant(x64.reshape(64, -1)), axis=1,
                                              keepdims=True),
    }


@pytest.mark.parametrize("name", sorted(_elementwise_cases()))
def test_elementwise_kernels_give_the_same_bits_at_1_and_2_threads(name, threads):
    fn = _elementwise_cases()[name]
    one = threads(1, lambda: fn().numpy())
    two = threads(2, lambda: fn().numpy())
    assert np.array_equal(one, two, equal_nan=True)


def test_ufunc_results_equal_numpy_bit_for_bit(threads):
    x = _rng(2).uniform(-20, 20, N_BIG).astype(np.float32)
    for fn, ref, arg in [(tg.exp, np.exp, x), (tg.tanh, np.tanh, x), (tg.sin, np.sin, x),
                         (tg.log1p, np.log1p, np.abs(x))]:
        got = threads(2, lambda f=fn, a=arg: f(tg.constant(a)).numpy())
        assert np.array_equal(got, ref(arg))


def test_softmax_gradient_matches_numpy_formula_and_thread_counts(threads):
    r = _rng(3)
    x = r.standard_normal((300, 1000)).astype(np.float32) * 4
    w = r.standard_normal((300, 1000)).astype(np.float32)

    def grad():
        xt = tg.constant(x)
        with tg.GradientTape() as tape:
            tape.watch(xt)
            y = tg.nn.softmax(xt)
        return tape.gradient(y, xt, output_gradients=tg.constant(w)).numpy()

    one, two = threads(1, grad), threads(2, grad)
    assert np.array_equal(one, two)
    e = np.exp(x - x.max(-1, keepdims=True))
    y = e / e.sum(-1, keepdims=True)
    np.testing.assert_allclose(two, y * (w - (w * y).sum(-1, keepdims=True)), rtol=2e-5,
                               atol=1e-7)


def test_pooling_and_cross_entropy_same_bits(threads):
    r = _rng(4)
    x = tg.constant(r.standard_normal((64, 28, 28, 32)).astype(np.float32))
    logits = r.standard_normal((4096, 40)).astype(np.float32)
    labels = r.integers(0, 40, 4096).astype(np.int32)

    def run():
        with tg.GradientTape() as tape:
            tape.watch(x)
            p = tg.nn.max_pool2d(x, 2, 2, "SAME")
            a = tg.nn.avg_pool2d(x, 3, 2, "SAME")
            z = tg.constant(logits)
            tape.watch(z)
            xe = tg.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=z)
            loss = tg.reduce_sum(p * p) + tg.reduce_sum(a) + tg.reduce_sum(xe)
        gx, gz = tape.gradient(loss, [x, z])
        return p.numpy(), a.numpy(), xe.numpy(), gx.numpy(), gz.numpy()

    for u, v in zip(threads(1, run), threads(2, run)):
        # the loss's full sums differ in their last bits; the pools and the cross entropy
        # rows, forward and adjoint, do not
        assert np.array_equal(u, v)


def test_optimizer_updates_same_bits(threads):
    r = _rng(5)
    w0 = r.standard_normal((512, 1024)).astype(np.float32)
    grads = [r.standard_normal(w0.shape).astype(np.float32) for _ in range(3)]

    def train(opt):
        v = tg.Variable(w0.copy())
        for g in grads:
            opt.apply_gradients([(tg.constant(g), v)])
        return v.numpy()

    for make in (lambda: tg.optimizers.Adam(1e-2), lambda: tg.optimizers.SGD(0.1)):
        assert np.array_equal(threads(1, train, make()), threads(2, train, make()))


# -- reductions: deterministic at a fixed count, close to NumPy ---------------------------

def test_full_sum_is_deterministic_and_accurate(threads):
    x = _rng(6).uniform(0, 1, 3 * N_BIG).astype(np.float32)
    a = threads(2, lambda: [float(tg.reduce_sum(tg.constant(x))) for _ in range(5)])
    assert len(set(a)) == 1
    exact = float(np.sum(x, dtype=np.float64))
    assert abs(a[0] - exact) <= 1e-6 * exact
    assert abs(threads(1, lambda: float(tg.reduce_sum(tg.constant(x)))) - exact) <= 1e-6 * exact


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("ta, tb", [(False, False), (True, False), (False, True),
                                    (True, True)])
def test_pool_gemm_matches_numpy(dtype, ta, tb, threads):
    r = _rng(7)
    a = r.standard_normal((300, 517)).astype(dtype)
    b = r.standard_normal((517, 129)).astype(dtype)
    A = np.ascontiguousarray(a.T) if ta else a
    B = np.ascontiguousarray(b.T) if tb else b

    def run():
        return tg.matmul(A, B, transpose_a=ta, transpose_b=tb).numpy()

    tol = 1e-4 if dtype == np.float32 else 1e-12
    two = threads(2, run)
    np.testing.assert_allclose(two, a @ b, rtol=tol, atol=tol)
    assert np.array_equal(two, threads(2, run))
    np.testing.assert_allclose(threads(1, run), a @ b, rtol=tol, atol=tol)


def test_gemm_declines_what_blas_cannot_read_in_place():
    a = np.ones((64, 64), np.float32)
    assert _kernels.gemm(a[:, ::2], a[:32]) is None         # strided columns
    assert _kernels.gemm(a, a.astype(np.float64)) is None   # mixed dtypes
    assert _kernels.gemm(a.astype(np.int32), a.astype(np.int32)) is None
    assert _kernels.gemm(np.ones((3, 0), np.float32), np.ones((0, 2), np.float32)) is None
    # and the op still computes those through NumPy
    np.testing.assert_allclose(tg.matmul(a[:, ::2], a[:32]).numpy(), a[:, ::2] @ a[:32])


def test_products_leave_numpys_blas_threading_alone():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    a = np.ones((512, 512), np.float32)
    tg.matmul(a, a)
    if not _kernels.blas_bound():
        pytest.skip("NumPy's BLAS is not an OpenBLAS tapegrad can bind")
    before = [i["num_threads"] for i in threadpoolctl.threadpool_info()
              if i["internal_api"] == "openblas"]
    for _ in range(3):
        tg.matmul(a, a)
        tg.nn.conv2d(np.ones((8, 16, 16, 4), np.float32), np.ones((3, 3, 4, 8), np.float32),
                     1, "SAME")
    after = [i["num_threads"] for i in threadpoolctl.threadpool_info()
             if i["internal_api"] == "openblas"]
    assert before == after


def test_pool_gemm_can_be_turned_off():
    code = ("import numpy as np, tapegrad as tg; a = np.ones((300, 300), np.float32); "
            "r = tg.matmul(a, a).numpy(); print(tg._kernels.blas_bound(), r[0, 0])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=dict(os.environ, TAPEGRAD_POOL_GEMM="0"), check=True).stdout
    assert out.split() == ["False", "300.0"]


def test_blas_binding_refuses_a_library_that_is_not_loaded():
    assert _kernels.bind_blas("/nonexistent/libopenblas.so") is False
    with pytest.raises(TypeError):
        _kernels.bind_blas(None)
    assert _blas.bind() == _kernels.blas_bound()


# -- convolutions on the pool against the NumPy reference ---------------------------------

def _conv_reference(x, w, stride, pad):
    kh, kw, c, o = w.shape
    n, h, wd, _ = x.shape
    if pad == "SAME":
        oh, ow = -(-h // stride), -(-wd // stride)
        ph = max((oh - 1) * stride + kh - h, 0)
        pw = max((ow - 1) * stride + kw - wd, 0)
        x = np.pad(x, ((0, 0), (ph // 2, ph - ph // 2), (pw // 2, pw - pw // 2), (0, 0)))
    else:
        oh, ow = (h - kh) // stride + 1, (wd - kw) // stride + 1
    out = np.zeros((n, oh, ow, o))
    for i in range(kh):
        for j in range(kw):
            patch = x[:, i:i + stride * oh:stride, j:j + stride * ow:stride, :]
            out += np.einsum("nhwc,co->nhwo", patch, w[i, j])
    return out


@pytest.mark.parametrize("stride, pad", [(1, "SAME"), (2, "VALID")])
def test_pool_convolution_and_adjoints_match_reference(stride, pad, threads):
    r = _rng(8)
    x = r.standard_normal((48, 20, 20, 3))
    w = r.standard_normal((5, 5, 3, 8))
    g = None

    def run():
        nonlocal g
        xt, wt = tg.constant(x), tg.constant(w)
        with tg.GradientTape() as tape:
            tape.watch([xt, wt])
            y = tg.nn.conv2d(xt, wt, stride, pad)
        if g is None:
            g = r.standard_normal(y.shape)
        gx, gw = tape.gradient(y, [xt, wt], output_gradients=tg.constant(g))
        return y.numpy(), gx.numpy(), gw.numpy()

    y2, gx2, gw2 = threads(2, run)
    np.testing.assert_allclose(y2, _conv_reference(x, w, stride, pad), rtol=1e-10, atol=1e-10)
    # the adjoints against finite differences of <y, g> along random directions
    for arr, grad, k in [(x, gx2, 0), (w, gw2, 1)]:
        d = r.standard_normal(arr.shape)
        eps = 1e-6
        args = [x, w]
        args[k] = arr + eps * d
        plus = np.sum(_conv_reference(*args, stride, pad) * g)
        args[k] = arr - eps * d
        minus = np.sum(_conv_reference(*args, stride, pad) * g)
        assert abs((plus - minus) / (2 * eps) - np.sum(grad * d)) <= 1e-6 * abs(plus) + 1e-6
    y1, gx1, gw1 = threads(1, run)
    assert np.array_equal(y1, y2) or np.allclose(y1, y2, rtol=1e-12)
    np.testing.assert_allclose(gw1, gw2, rtol=1e-10)
    assert np.array_equal(gw2, threads(2, run)[2])          # fixed count: fixed bits


# -- fork and concurrent callers ----------------------------------------------------------

def test_a_forked_child_gets_a_working_pool():
    if not hasattr(os, "fork"):
        pytest.skip("no fork on this platform")
    x = np.ones(N_BIG, np.float32)
    tg.exp(tg.constant(x))                  # the parent's workers exist now
    pid = os.fork()
    if pid == 0:                            # child: the pool must run, not hang
        try:
            ok = np.allclose(tg.exp(tg.constant(x)).numpy(), np.e) and \
                float(tg.reduce_sum(tg.constant(x))) == N_BIG
            os._exit(0 if ok else 1)
        except BaseException:
            os._exit(2)
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0


def test_concurrent_python_threads_get_correct_results():
    r = _rng(9)
    xs = [r.standard_normal(N_BIG).astype(np.float32) for _ in range(4)]
    a = r.standard_normal((256, 300)).astype(np.float32)
    errors = []

    def work(x):
        try:
            for _ in range(20):
                if not np.array_equal(tg.tanh(tg.constant(x)).numpy(), np.tanh(x)):
                    errors.append("tanh")
                if not np.allclose(tg.matmul(a, a.T).numpy(), a @ a.T, rtol=1e-4, atol=1e-3):
                    errors.append("matmul")
        except Exception as e:     # pragma: no cover - reported below
            errors.append(repr(e))

    ts = [threading.Thread(target=work, args=(x,)) for x in xs]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert not errors, errors


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex64])
def test_finiteness_scan_finds_a_bad_value_in_any_part(dtype, threads):
    for where in (0, N_BIG // 2 + 1, N_BIG - 1):
        x = np.ones(N_BIG, dtype)
        assert threads(2, _kernels.all_finite, x)
        x[where] = np.nan if where % 2 else np.inf
        assert not threads(1, _kernels.all_finite, x)
        assert not threads(2, _kernels.all_finite, x)


def test_row_sums_equal_numpys(threads):
    x = _rng(10).standard_normal((300, 2000)).astype(np.float32)
    got = threads(2, lambda: tg.reduce_sum(tg.constant(x), axis=-1).numpy())
    np.testing.assert_allclose(got, x.sum(-1), rtol=1e-5, atol=1e-4)
    assert got.shape == (300,) and got.dtype == np.float32


def test_traced_buffer_reuse_runs_large_ufuncs_into_the_donor(threads):
    # tg.function replays a chain of unary ufuncs into dead buffers; on the pool that
    # must give eager's bits at every thread count
    x = tg.constant(_rng(11).standard_normal(N_BIG).astype(np.float32))
    f = tg.function(lambda a: tg.sin(tg.tanh(tg.exp(a * 0.1))))
    eager = tg.sin(tg.tanh(tg.exp(x * 0.1))).numpy()
    for n in (1, 2):
        assert np.array_equal(threads(n, lambda: f(x).numpy()), eager)


def test_ufunc_map_into_out():
    a = _rng(12).standard_normal(N_BIG).astype(np.float32)
    out = np.empty_like(a)
    res = _kernels.ufunc_map(np.tanh, (a,), out)
    if _kernels.get_threads() > 1:
        assert res is out and np.array_equal(out, np.tanh(a))
    ro = np.empty_like(a)
    ro.flags.writeable = False
    assert _kernels.ufunc_map(np.tanh, (a,), ro) is None          # not writable
    assert _kernels.ufunc_map(np.tanh, (a,), out[:-1]) is None    # another shape
