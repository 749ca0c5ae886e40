"""GPU against CPU for every primitive: forward values and gradients (needs a GPU).

Every test here is marked ``cuda`` and skipped when ``tg.num_gpus() == 0``.  The
inputs come from cuda_cases.py, which a meta-test (test_launch.py) keeps complete.
"""
import numpy as np
import pytest
from cuda_cases import NOT_DISPATCHED, RANDOM, cases

import tapegrad as tg
from tapegrad import _core

pytestmark = [pytest.mark.cuda,
              pytest.mark.skipif(tg.num_gpus() == 0, reason="needs a CUDA GPU")]

TOL = {np.dtype(np.float16): (2e-3, 2e-3), np.dtype(np.float32): (2e-5, 1e-5),
       np.dtype(np.float64): (1e-12, 1e-12)}
# float32 paths with long accumulations (cuBLAS, convolutions, reductions) get more slack
LOOSE = {"matmul", "einsum", "conv2d", "conv2d_backprop_input", "conv2d_backprop_filter",
         "reduce_sum", "reduce_prod", "softmax", "log_softmax", "add_n"}


def _close(got, want, name, loose=False):
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape and got.dtype == want.dtype, (
        f"{name}: {got.shape} {got.dtype} vs {want.shape} {want.dtype}")
    if want.dtype.kind in "fc":
        rtol, atol = TOL[want.dtype]
        if loose:
            rtol, atol = rtol * 20, atol * 20
        np.testing.assert_allclose(got, want, rtol=rtol, atol=atol, err_msg=name)
    else:
        np.testing.assert_array_equal(got, want, err_msg=name)


def _all_cases():
    out = []
    for name, items in sorted(cases().items()):
        if name in NOT_DISPATCHED:
            continue
        for k, (args, params) in enumerate(items):
            out.append(pytest.param(name, args, params, id=f"{name}-{k}"))
    return out


def _gpu_forward(name, args, params):
    from tapegrad.cuda.array import CudaArray
    from tapegrad.cuda.ops import IMPLS
    gparams = dict(params)
    if not args:
        gparams["_device"] = "/gpu:0"
    return IMPLS[name](*[CudaArray.from_numpy(a) for a in args], **gparams)


@pytest.mark.parametrize("name,args,params", _all_cases())
def test_forward_matches_cpu(name, args, params):
    reg = _core.registry()
    gpu = _gpu_forward(name, args, params).to_numpy()
    if name in RANDOM:
        cpu = np.asarray(reg[name].cpu(*args, **params))
        assert gpu.shape == cpu.shape and gpu.dtype == cpu.dtype
        again = _gpu_forward(name, args, params).to_numpy()
        np.testing.assert_array_equal(gpu, again)  # same key, same numbers
        return
    cpu = np.asarray(reg[name].cpu(*args, **params))
    _close(gpu, cpu, name, name in LOOSE)


def _grad_cases():
    reg = _core.registry()
    out = []
    for p in _all_cases():
        name, args, params = p.values
        if reg[name].differentiable and name not in RANDOM and args and \
                any(a.dtype.kind == "f" for a in args) and \
                np.asarray(reg[name].cpu(*args, **params)).dtype.kind == "f":
            out.append(p)
    return out


def _grads(prim, arrays, params, device, seed=0):
    xs = [tg.constant(a) for a in arrays]
    if device != "/cpu:0":
        xs = [x.gpu() for x in xs]
    with tg.GradientTape() as tape:
        for x in xs:
            if x.dtype.kind == "f":
                tape.watch(x)
        y = prim(*xs, **params)
    gy = np.random.default_rng(seed).standard_normal(y.shape).astype(y.dtype)
    gy_t = tg.constant(gy) if device == "/cpu:0" else tg.constant(gy).gpu()
    sources = [x for x in xs if x.dtype.kind == "f"]
    grads = tape.gradient(y, sources, output_gradients=gy_t)
    for g in grads:
        if g is not None:
            assert g.device == device, f"{prim.name}: gradient on {g.device}, expected {device}"
    return y.numpy(), [None if g is None else g.numpy() for g in grads]


@pytest.mark.parametrize("name,args,params", _grad_cases())
def test_gradient_matches_cpu(name, args, params):
    prim = _core.registry()[name]
    y_cpu, g_cpu = _grads(prim, args, params, "/cpu:0")
    y_gpu, g_gpu = _grads(prim, args, params, "/gpu:0")
    _close(y_gpu, y_cpu, name, name in LOOSE)
    for i, (a, b) in enumerate(zip(g_gpu, g_cpu)):
        assert (a is None) == (b is None), f"{name}: gradient {i} None on one device only"
        if a is not None:
            _close(a, b, f"{name} grad {i}", True)


def test_second_order_gradient_on_gpu():
    x = tg.constant(np.linspace(-1, 1, 7)).gpu()
    with tg.GradientTape() as t2:
        t2.watch(x)
        with tg.GradientTape() as t1:
            t1.watch(x)
            y = tg.reduce_sum(tg.tanh(x) * x)
        g = t1.gradient(y, x)
    h = t2.gradient(g, x)
    xn = np.linspace(-1, 1, 7)
    th = np.tanh(xn)
    want = 2 * (1 - th**2) - 2 * xn * th * (1 - th**2)
    np.testing.assert_allclose(h.numpy(), want, rtol=1e-10)


# ------------------------------------------------------------------ placement and memory
def test_round_trip_and_device_names():
    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    t = tg.constant(a).gpu()
    assert t.device == "/gpu:0" and t.shape == (3, 4) and t.dtype == np.float32
    np.testing.assert_array_equal(t.numpy(), a)
    back = t.cpu()
    assert back.device == "/cpu:0"
    np.testing.assert_array_equal(back.numpy(), a)
    assert "/gpu:0" in tg.list_devices()


def test_mixed_devices_raise():
    a = tg.constant([1.0, 2.0])
    with pytest.raises(ValueError, match="different devices"):
        tg.add(a, a.gpu())


def test_device_scope_places_new_tensors_and_ops():
    with tg.device("/gpu:0"):
        z = tg.zeros([2, 3])
        r = tg.random.normal([4], seed=1)
        m = tg.matmul(tg.ones([2, 2]), tg.ones([2, 2]))
    assert z.device == r.device == m.device == "/gpu:0"
    np.testing.assert_array_equal(m.numpy(), np.full((2, 2), 2.0, np.float32))


def test_guide_matmul_on_gpu():
    x = tg.random.normal([1000, 1000])
    want = tg.matmul(x, x).numpy()
    got = tg.matmul(x.gpu(), x.gpu()).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-3)


def test_memory_stats_and_cache_reuse():
    from tapegrad import cuda
    cuda.synchronize()
    before = cuda.memory_stats()
    for _ in range(3):
        t = tg.constant(np.ones((256, 256), np.float32)).gpu()
        del t
    after = cuda.memory_stats()
    assert after["cache_hits"] >= before["cache_hits"] + 2
    cuda.empty_cache()
    assert cuda.memory_stats()["cached_bytes"] == 0


def test_gather_out_of_range_raises_on_gpu():
    p = tg.constant(np.arange(6.0).reshape(3, 2)).gpu()
    with pytest.raises(IndexError, match="out of range"):
        tg.gather(p, tg.constant([0, 3]).gpu())


def test_random_moments_on_gpu():
    from tapegrad.cuda import random as rnd
    n = rnd.sample("normal", (200_000,), 1.0, 2.0, np.float32, 5, 0, "t").to_numpy()
    assert abs(n.mean() - 1.0) < 0.02 and abs(n.std() - 2.0) < 0.02
    t = rnd.sample("truncated_normal", (200_000,), 0.0, 1.0, np.float64, 5, 0, "t").to_numpy()
    assert np.abs(t).max() <= 2.0 and abs(t.std() - 0.8796) < 0.01
    u = rnd.sample("uniform", (200_000,), -1.0, 3.0, np.float32, 5, 0, "t").to_numpy()
    assert u.min() >= -1.0 and u.max() < 3.0 and abs(u.mean() - 1.0) < 0.02
    i = rnd.sample("uniform", (100_000,), 2, 9, np.int64, 5, 0, "t").to_numpy()
    assert set(np.unique(i)) == set(range(2, 9))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fused_optimizer_updates_match_numpy(dtype):
    from tapegrad.cuda import optim
    from tapegrad.cuda.array import CudaArray
    rng = np.random.default_rng(0)
    w, g, m, v = (rng.standard_normal(1000).astype(dtype) for _ in range(4))
    v = np.abs(v)
    gw, gg, gm, gv = (CudaArray.from_numpy(a) for a in (w, g, m, v))
    optim.adam_update(gw, gm, gv, gg, 0.01, 0.9, 0.999, 1e-7, step=3)
    m2 = 0.9 * m + 0.1 * g
    v2 = 0.999 * v + 0.001 * g * g
    lr_t = 0.01 * np.sqrt(1 - 0.999**3) / (1 - 0.9**3)
    w2 = w - lr_t * m2 / (np.sqrt(v2) + 1e-7)
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(gm.to_numpy(), m2, rtol=rtol)
    np.testing.assert_allclose(gw.to_numpy(), w2, rtol=rtol, atol=rtol)
    acc = CudaArray.from_numpy(m)
    gw = CudaArray.from_numpy(w)
    optim.momentum_update(gw, acc, gg, 0.1, 0.9, nesterov=True)
    a2 = 0.9 * m + g
    np.testing.assert_allclose(gw.to_numpy(), w - 0.1 * (g + 0.9 * a2), rtol=rtol, atol=rtol)
    gw = CudaArray.from_numpy(w)
    optim.sgd_update(gw, gg, 0.5)
    np.testing.assert_allclose(gw.to_numpy(), w - 0.5 * g, rtol=rtol, atol=rtol)


def test_large_reduction_two_pass():
    x = np.random.default_rng(1).standard_normal(3_000_001)
    got = tg.reduce_sum(tg.constant(x).gpu()).numpy()
    np.testing.assert_allclose(got, x.sum(), rtol=1e-9)
    got = tg.reduce_max(tg.constant(x).gpu()).numpy()
    assert got == x.max()


def test_small_cnn_training_step_matches_cpu():
    rng = np.random.default_rng(0)
    xb = rng.standard_normal((8, 12, 12, 1)).astype(np.float32)
    yb = rng.integers(0, 10, 8)
    w1 = rng.standard_normal((3, 3, 1, 4)).astype(np.float32) * 0.3
    w2 = rng.standard_normal((6 * 6 * 4, 10)).astype(np.float32) * 0.1

    def step(device):
        with tg.device(device):
            x, ws = tg.constant(xb), [tg.Variable(w1), tg.Variable(w2)]
            with tg.GradientTape() as tape:
                h = tg.nn.relu(tg.nn.conv2d(x, ws[0], 1, "SAME"))
                h = tg.nn.max_pool2d(h, 2, 2, "VALID")
                logits = tg.matmul(tg.reshape(h, [8, -1]), ws[1])
                loss = tg.reduce_mean(tg.nn.sparse_softmax_cross_entropy_with_logits(
                    labels=tg.constant(yb), logits=logits))
            grads = tape.gradient(loss, ws)
        return loss.numpy(), [g.numpy() for g in grads]

    l_cpu, g_cpu = step("/cpu:0")
    l_gpu, g_gpu = step("/gpu:0")
    np.testing.assert_allclose(l_gpu, l_cpu, rtol=1e-5)
    for a, b in zip(g_gpu, g_cpu):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_check_numerics_on_gpu_tensors():
    from tapegrad.debugging import CheckNumericsError

    x = tg.constant([-1.0, 4.0]).gpu()
    with tg.debugging.enable_check_numerics():
        np.testing.assert_array_equal(tg.sqrt(tg.abs(x)).numpy(), [1.0, 2.0])
        with pytest.raises(CheckNumericsError, match="sqrt produced NaN"):
            tg.sqrt(x)
        v = tg.Variable(np.ones(3, np.float32)).gpu() if hasattr(tg.Variable, "gpu") else None
        if v is not None:
            with pytest.raises(CheckNumericsError, match="apply_gradients made Inf"):
                tg.optimizers.SGD(1e38).apply_gradients(
                    [(tg.constant(np.full(3, 1e38, np.float32)).gpu(), v)])


def test_floordiv_special_cases_match_cpu():
    # an infinity against a finite number: both give the array API standard's floor(a / b)
    # (the GPU kernel computes floor(a / b); the CPU fixes NumPy's divmod quotient)
    vals = np.array([np.inf, -np.inf, 2.5, -2.5, 0.0, -0.0, np.nan])
    for dt in (np.float32, np.float64):
        a, b = (v.ravel().astype(dt) for v in np.meshgrid(vals, vals))
        cpu = tg.floordiv(a, b).numpy()
        gpu = tg.floordiv(tg.constant(a).gpu(), tg.constant(b).gpu()).numpy()
        np.testing.assert_array_equal(np.isnan(gpu), np.isnan(cpu))
        ok = ~np.isnan(cpu)
        np.testing.assert_array_equal(gpu[ok], cpu[ok])
        np.testing.assert_array_equal(np.signbit(gpu[ok]), np.signbit(cpu[ok]))
