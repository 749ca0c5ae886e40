"""Differentiating tg.jet's outputs (Taylor-mode VJPs, autodiff/jet.py): against nested
tapes, against central differences of the jet itself, for primals and series terms."""

import math

import numpy as np
import pytest

import tapegrad as tg

RNG = np.random.default_rng(4)


def _c(a):
    return tg.constant(np.asarray(a, dtype=np.float64))


def _nth(f, k):
    for _ in range(k):
        f = tg.grad(f)
    return f


@pytest.mark.parametrize("fn", [tg.tanh, lambda x: tg.exp(tg.sin(x)),
                                lambda x: 1.0 / (1.0 + x * x)])
def test_gradient_of_each_order_is_the_next_derivative(fn):
    x, one, zero = _c(0.37), _c(1.0), _c(0.0)
    K = 4
    with tg.GradientTape(persistent=True) as tape:
        tape.watch([x, one])
        y0, ys = tg.jet(fn, (x,), ((one,) + (zero,) * (K - 1),))
    for k, y in enumerate([y0] + ys):
        # y_k = f^(k)(x): d/dx is f^(k+1)(x); with x(t) = x + s t, y_k = f^(k)(x) s^k
        np.testing.assert_allclose(tape.gradient(y, x).numpy(), _nth(fn, k + 1)(x).numpy(),
                                   rtol=1e-12)
        if k:
            np.testing.assert_allclose(tape.gradient(y, one).numpy(),
                                       k * _nth(fn, k)(x).numpy(), rtol=1e-12)


def _mlp(x, w):
    return tg.reduce_sum(tg.tanh(tg.matmul(tg.reshape(x, (2, 3)), w)) ** 2, axis=1)


def test_gradients_of_a_jet_match_central_differences():
    x0 = RNG.standard_normal(6)
    w0 = RNG.standard_normal((3, 4))
    sx = [RNG.standard_normal(6) for _ in range(3)]
    sw = [RNG.standard_normal((3, 4)) for _ in range(3)]
    weights = RNG.standard_normal((4, 2))

    def loss(x, w, tx, tw):
        y0, ys = tg.jet(_mlp, (x, w), (tuple(tx), tuple(tw)))
        return sum(tg.reduce_sum(y * float(weights[k, 0])) + tg.reduce_sum(y * y) *
                   float(weights[k, 1]) for k, y in enumerate([y0] + ys))

    inputs = [_c(x0), _c(w0)] + [_c(t) for t in sx] + [_c(t) for t in sw]

    def call(vals):
        return loss(vals[0], vals[1], vals[2:5], vals[5:8])

    with tg.GradientTape() as tape:
        tape.watch(inputs)
        L = call(inputs)
    grads = tape.gradient(L, inputs)
    h = 1e-6
    for i, (v, g) in enumerate(zip(inputs, grads)):
        base = v.numpy()
        fd = np.empty(base.size)
        for j in range(base.size):
            e = np.zeros(base.size)
            e[j] = h
            up = [*inputs]
            dn = [*inputs]
            up[i] = _c(base + e.reshape(base.shape))
            dn[i] = _c(base - e.reshape(base.shape))
            fd[j] = (call(up).numpy() - call(dn).numpy()) / (2 * h)
        np.testing.assert_allclose(g.numpy().reshape(-1), fd, rtol=1e-6, atol=1e-6,
                                   err_msg="input %d" % i)


def test_derivatives_and_taylor_coefficients_are_differentiable():
    x, v = _c([0.2, -0.4]), _c([1.0, 0.5])
    f = lambda z: tg.reduce_sum(tg.exp(z) * z[::-1])         # noqa: E731
    with tg.GradientTape(persistent=True) as tape:
        tape.watch([x, v])
        ds = tg.derivatives(f, x, 3, direction=v)
        cs = tg.taylor_coefficients(f, x, 3, direction=v)
    plain = tg.derivatives(f, x, 3, direction=v)
    for d, p in zip(ds, plain):
        np.testing.assert_allclose(d.numpy(), p.numpy(), rtol=1e-14)
    for k in range(1, 4):
        np.testing.assert_allclose(cs[k].numpy() * math.factorial(k), ds[k - 1].numpy(),
                                   rtol=1e-13)
    # d/dx of the directional 2nd derivative v^T H(x) v, by nested tapes
    def second(z):
        with tg.GradientTape() as t2:
            t2.watch(z)
            with tg.GradientTape() as t1:
                t1.watch(z)
                y = f(z)
            g = t1.gradient(y, z)
            gv = tg.reduce_sum(g * v)
        return tg.reduce_sum(t2.gradient(gv, z) * v)

    with tg.GradientTape() as t3:
        t3.watch(x)
        s = second(x)
    want = t3.gradient(s, x).numpy()
    np.testing.assert_allclose(tape.gradient(ds[1], x).numpy(), want, rtol=1e-12)
    np.testing.assert_allclose(tape.gradient(cs[2], x).numpy(), want / 2, rtol=1e-12)


def test_second_order_through_a_jet_is_a_clear_error():
    x, one = _c(0.5), _c(1.0)
    with tg.GradientTape() as outer:
        outer.watch(x)
        with tg.GradientTape() as inner:
            inner.watch(x)
            _, ys = tg.jet(tg.tanh, (x,), ((one,),))
        with pytest.raises(TypeError, match="not differentiable again"):
            inner.gradient(ys[0], x)
