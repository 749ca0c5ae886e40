"""tg.vmap / tg.vectorized_map against a Python loop, for every case of the gradient
sweep (all arguments mapped, and only the first), nested vmap, vmap of grad and grad of
vmap, in_axes/out_axes variations."""

import importlib.util
import os
import zlib

import numpy as np
import pytest

import tapegrad as tg
from tapegrad.autodiff.vmap import BatchingError


def _load_sweep():
    path = os.path.join(os.path.dirname(__file__), "..", "ops", "test_gradients.py")
    spec = importlib.util.spec_from_file_location("_tg_sweep_for_vmap", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


SWEEP = _load_sweep()
CASES = [(name, label, fn, args) for name, cases in sorted(SWEEP.GRAD_CASES.items())
         for (label, fn, args, *_) in cases[:2]]
B = 3


def _batch(a, rng):
    a = np.asarray(a)
    if a.dtype.kind == "f":
        # small perturbations: stays away from the kinks the sweep avoided
        return np.stack([a + 1e-3 * k * rng.standard_normal(a.shape) for k in range(B)])
    return np.stack([a] * B)


@pytest.mark.parametrize("mapped", ["all", "first"])
@pytest.mark.parametrize("name,label,fn,args", CASES,
                         ids=["%s[%s]" % (c[0], c[1]) for c in CASES])
def test_vmap_matches_a_python_loop(name, label, fn, args, mapped):
    rng = np.random.default_rng(zlib.crc32(label.encode()))
    if mapped == "all":
        axes = [0] * len(args)
        batched = [_batch(a, rng) for a in args]
    else:
        axes = [0] + [None] * (len(args) - 1)
        batched = [_batch(args[0], rng)] + [np.asarray(a) for a in args[1:]]
    got = tg.vmap(fn, in_axes=axes)(*[tg.constant(b) for b in batched])
    for i in range(B):
        ex = [tg.constant(b[i] if ax == 0 else b) for b, ax in zip(batched, axes)]
        want = fn(*ex)
        g = got[i] if not isinstance(got, (list, tuple)) else got[0][i]
        w = want if not isinstance(want, (list, tuple)) else want[0]
        np.testing.assert_allclose(np.asarray(g.numpy()), np.asarray(w.numpy()),
                                   rtol=1e-12, atol=1e-12, err_msg="%s %s" % (name, label))


def test_per_example_gradients_and_grad_of_vmap():
    rng = np.random.default_rng(1)
    W = tg.constant(rng.standard_normal((4, 6)))
    X = tg.constant(rng.standard_normal((10, 4)))
    Y = tg.constant(rng.integers(0, 6, 10).astype(np.int32))

    def loss(w, x, y):
        logits = tg.matmul(tg.reshape(x, (1, 4)), w)
        return tg.reduce_sum(tg.nn.sparse_softmax_cross_entropy_with_logits(
            labels=tg.reshape(y, (1,)), logits=logits))

    per = tg.vmap(tg.grad(loss), in_axes=(None, 0, 0))(W, X, Y)
    for i in range(10):
        np.testing.assert_allclose(per[i].numpy(), tg.grad(loss)(W, X[i], Y[i]).numpy(),
                                   rtol=1e-12, atol=1e-12)
    # the gradient of the summed vmapped losses is the sum of the per-example ones
    with tg.GradientTape() as tape:
        tape.watch(W)
        total = tg.reduce_sum(tg.vmap(loss, in_axes=(None, 0, 0))(W, X, Y))
    np.testing.assert_allclose(tape.gradient(total, W).numpy(),
                               tg.reduce_sum(per, axis=0).numpy(), rtol=1e-12)


def test_nested_vmap_axes_and_out_axes():
    x = tg.constant(np.arange(24.0).reshape(2, 3, 4))
    outer = tg.vmap(tg.vmap(lambda r: r * tg.reduce_sum(r)))
    want = np.stack([[r * r.sum() for r in m] for m in x.numpy()])
    np.testing.assert_allclose(outer(x).numpy(), want)
    f = tg.vmap(lambda r: tg.reduce_max(r), in_axes=2)
    np.testing.assert_allclose(f(x).numpy(), x.numpy().max(axis=(0, 1)))
    g = tg.vmap(lambda r: r * 2.0, in_axes=1, out_axes=1)
    np.testing.assert_allclose(g(x).numpy(), x.numpy() * 2.0)
    h = tg.vmap(lambda a, b: (a + b, a * b), in_axes=(0, None), out_axes=(0, 1))
    s, p = h(tg.constant(np.ones((3, 2))), tg.constant(np.array([1.0, 2.0])))
    assert s.shape == (3, 2) and p.shape == (2, 3)
    np.testing.assert_allclose(tg.vectorized_map(lambda r: tg.reduce_sum(r), x).numpy(),
                               x.numpy().sum(axis=(1, 2)))


def test_errors():
    x = tg.constant(np.ones((3, 2)))
    with pytest.raises(ValueError, match="different sizes"):
        tg.vmap(lambda a, b: a + b)(x, tg.constant(np.ones((4, 2))))
    with pytest.raises(ValueError, match="out of range"):
        tg.vmap(lambda a: a, in_axes=2)(x)
    with pytest.raises(ValueError, match="maps no argument"):
        tg.vmap(lambda a: a, in_axes=None)(x)
    with pytest.raises(BatchingError, match="random"):
        tg.vmap(lambda a: a + tg.random.normal((2,), dtype=tg.float64))(x)
