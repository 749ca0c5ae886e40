"""Big-endian (non-native) inputs give the same results as native ones on every path
that ends in a Cython kernel: conversion normalizes the byte order, and the kernels
themselves refuse (or copy) a swapped buffer instead of reading it as native floats."""

import numpy as np
import pytest

import tapegrad as tg
from tapegrad import _kernels

SWAP = {np.float32: ">f4", np.float64: ">f8", np.int32: ">i4", np.int64: ">i8"}
if np.dtype(">f4").isnative:  # pragma: no cover - a big-endian host
    SWAP = {np.float32: "<f4", np.float64: "<f8", np.int32: "<i4", np.int64: "<i8"}


def swapped(a):
    a = np.asarray(a)
    out = a.astype(SWAP[a.dtype.type])
    assert not out.dtype.isnative
    return out


@pytest.fixture(params=[np.float32, np.float64])
def dt(request):
    return request.param


def test_constant_normalizes_byte_order(dt):
    x = tg.constant(swapped(np.array([1.0, 2.0, 3.0], dt)))
    assert x.dtype == np.dtype(dt) and x.dtype.isnative
    np.testing.assert_array_equal((x + x).numpy(), [2.0, 4.0, 6.0])
    assert tg.convert_to_tensor(swapped(np.array([1, 2], np.int32))).dtype.isnative


@pytest.mark.parametrize("op", [tg.add, tg.subtract, tg.multiply, tg.divide, tg.maximum,
                                tg.minimum])
def test_elementwise(op, dt):
    rng = np.random.RandomState(0)
    a, b = rng.randn(4, 3).astype(dt), rng.randn(4, 3).astype(dt) + 3
    want = op(tg.constant(a), tg.constant(b)).numpy()
    np.testing.assert_array_equal(op(tg.constant(swapped(a)), tg.constant(swapped(b))).numpy(),
                                  want)
    # the row-broadcast and scalar fast paths
    np.testing.assert_array_equal(
        op(tg.constant(swapped(a)), tg.constant(swapped(b[0]))).numpy(),
        op(tg.constant(a), tg.constant(b[0])).numpy())
    np.testing.assert_array_equal(op(tg.constant(swapped(a)), 2.5).numpy(),
                                  op(tg.constant(a), 2.5).numpy())


def test_kernels_never_read_swapped_buffers(dt):
    a = np.array([[1.0, -2.0], [3.0, 4.0]], dt)
    s = swapped(a)
    assert _kernels.binary_same_shape(_kernels.FAST_ADD, s, s) is None
    assert _kernels.binary_scalar(_kernels.FAST_ADD, s, 1.0, False) is None
    assert _kernels.binary_rows(_kernels.FAST_ADD, s, swapped(a[0])) is None
    assert _kernels.relu(s) is None
    assert _kernels.relu_grad(s, s) is None
    assert _kernels.sum_rows(s, 2) is None
    assert _kernels.softmax_xent(s, np.array([0, 1], np.int32)) is None
    assert _kernels.softmax_xent(a, swapped(np.array([0, 1], np.int32))) is None
    w = s.copy()
    assert _kernels.sgd_update(w, s, 0.1) is False
    np.testing.assert_array_equal(w, s)
    # the window kernels copy to native order instead
    x4 = np.arange(16, dtype=dt).reshape(1, 4, 4, 1)
    np.testing.assert_array_equal(_kernels.max_pool(swapped(x4), 2, 2, 2, 2, 0, 0, 2, 2),
                                  _kernels.max_pool(x4, 2, 2, 2, 2, 0, 0, 2, 2))


def test_relu_and_gradient(dt):
    x = np.array([-1.0, 0.5, 2.0, -3.0], dt)
    v = tg.Variable(swapped(x))
    with tg.GradientTape() as tape:
        y = tg.nn.relu(v)
    np.testing.assert_array_equal(y.numpy(), np.maximum(x, 0))
    np.testing.assert_array_equal(tape.gradient(y, v).numpy(), (x > 0).astype(dt))


@pytest.mark.parametrize("pool", ["max_pool2d", "avg_pool2d"])
def test_pooling(pool, dt):
    x = np.random.RandomState(1).randn(2, 4, 4, 3).astype(dt)
    fn = getattr(tg.nn, pool)

    def run(arr):
        t = tg.constant(arr)
        with tg.GradientTape() as tape:
            tape.watch(t)
            y = fn(t, 2, 2, "VALID")
            loss = tg.reduce_sum(y * y)
        return y.numpy(), tape.gradient(loss, t).numpy()

    for got, want in zip(run(swapped(x)), run(x)):
        np.testing.assert_array_equal(got, want)


def test_cross_entropies(dt):
    rng = np.random.RandomState(2)
    logits = rng.randn(5, 4).astype(dt)
    labels = np.array([0, 3, 1, 2, 3], np.int32)
    onehot = np.eye(4, dtype=dt)[labels]

    def run(z, lab, oh):
        zt = tg.Variable(z)
        with tg.GradientTape(persistent=True) as tape:
            a = tg.nn.sparse_softmax_cross_entropy_with_logits(labels=lab, logits=zt)
            b = tg.nn.softmax_cross_entropy_with_logits(labels=oh, logits=zt)
            c = tg.nn.sigmoid_cross_entropy_with_logits(labels=oh, logits=zt)
        return [r.numpy() for r in (a, b, c, tape.gradient(a, zt), tape.gradient(b, zt),
                                    tape.gradient(c, zt))]

    for got, want in zip(run(swapped(logits), swapped(labels), swapped(onehot)),
                         run(logits, labels, onehot)):
        np.testing.assert_array_equal(got, want)


def test_reduce_sum(dt):
    x = np.random.RandomState(3).randn(64, 3).astype(dt)
    np.testing.assert_array_equal(tg.reduce_sum(tg.constant(swapped(x)), axis=0).numpy(),
                                  tg.reduce_sum(tg.constant(x), axis=0).numpy())
    np.testing.assert_array_equal(tg.reduce_sum(tg.constant(swapped(x))).numpy(),
                                  tg.reduce_sum(tg.constant(x)).numpy())


def test_variable_and_assign(dt):
    v = tg.Variable(swapped(np.array([1.0, 2.0], dt)))
    assert v.dtype == np.dtype(dt)
    np.testing.assert_array_equal((v * 2.0).numpy(), [2.0, 4.0])
    v.assign(swapped(np.array([5.0, 6.0], dt)))
    np.testing.assert_array_equal((v + v).numpy(), [10.0, 12.0])
    v.assign_add(swapped(np.array([1.0, 1.0], dt)))
    np.testing.assert_array_equal(v.numpy(), [6.0, 7.0])


@pytest.mark.parametrize("make", [lambda: tg.optimizers.SGD(0.1),
                                  lambda: tg.optimizers.Adam(0.1)], ids=["sgd", "adam"])
def test_optimizer_updates(make, dt):
    w0 = np.array([1.0, -2.0, 3.0], dt)
    g = np.array([0.5, 0.25, -1.0], dt)
    ref_v, ref_o = tg.Variable(w0), make()
    got_v, got_o = tg.Variable(swapped(w0)), make()
    for _ in range(3):
        ref_o.apply_gradients([(g, ref_v)])
        got_o.apply_gradients([(swapped(g), got_v)])
    np.testing.assert_array_equal(got_v.numpy(), ref_v.numpy())
    assert np.all(np.abs(got_v.numpy() - w0) < 1)     # moved, and by sane amounts
