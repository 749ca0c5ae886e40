"""QR derivatives at rank-deficient inputs.

A square (or wide) input whose leading square block has rank m-1 still has a smooth QR:
q's last column is fixed, up to LAPACK's sign, by the others.  Both modes must give the
finite-difference derivative there (PyTorch does).  Below rank m-1 q is not differentiable
and the rule must say so, naming qr, rather than return a number.
"""

import numpy as np
import pytest

import tapegrad as tg

RNG = np.random.default_rng(1415)


def _rank_r(m, n, r):
    return RNG.standard_normal((m, r)) @ RNG.standard_normal((r, n))


def _loss_np(a, w1, w2):
    q, r = np.linalg.qr(a)
    return (q * w1).sum() + (r * w2).sum()


def _fd_grad(a, w1, w2, eps=1e-6):
    g = np.zeros_like(a)
    for i in np.ndindex(a.shape):
        d = np.zeros_like(a)
        d[i] = eps
        g[i] = (_loss_np(a + d, w1, w2) - _loss_np(a - d, w1, w2)) / (2 * eps)
    return g


def _loss_tg(x, w1, w2):
    q, r = tg.linalg.qr(x)
    return tg.reduce_sum(q * w1) + tg.reduce_sum(r * w2)


@pytest.mark.parametrize("m,n", [(3, 3), (3, 5), (4, 4), (4, 7), (2, 2), (2, 4)])
def test_rank_m_minus_1_matches_finite_differences_both_modes(m, n):
    a = _rank_r(m, n, m - 1)
    w1 = RNG.standard_normal((m, m))
    w2 = RNG.standard_normal((m, n))
    fd = _fd_grad(a, w1, w2)
    x = tg.constant(a)
    with tg.GradientTape() as tape:
        tape.watch(x)
        loss = _loss_tg(x, w1, w2)
    g = tape.gradient(loss, x).numpy()
    np.testing.assert_allclose(g, fd, atol=1e-6)
    # forward mode: the directional derivative along a random direction
    v = RNG.standard_normal((m, n))
    _, dl = tg.jvp(lambda t: _loss_tg(t, w1, w2), [x], [tg.constant(v)])
    np.testing.assert_allclose(float(dl.numpy()), float((fd * v).sum()), atol=1e-5)


def test_rank_deficient_square_second_order_matches_full_rank_formula_nearby():
    # second order at rank m-1: the Hessian-vector product of the loss against central
    # differences of the (first-order, checked above) gradient
    m = n = 3
    a = _rank_r(m, n, m - 1)
    w1 = RNG.standard_normal((m, m))
    w2 = RNG.standard_normal((m, n))
    v = RNG.standard_normal((m, n))

    def grad_at(arr):
        x = tg.constant(arr)
        with tg.GradientTape() as tape:
            tape.watch(x)
            loss = _loss_tg(x, w1, w2)
        return tape.gradient(loss, x)

    x = tg.constant(a)
    with tg.GradientTape() as outer:
        outer.watch(x)
        with tg.GradientTape() as inner:
            inner.watch(x)
            loss = _loss_tg(x, w1, w2)
        gv = tg.reduce_sum(inner.gradient(loss, x) * v)
    hv = outer.gradient(gv, x).numpy()
    eps = 1e-5
    ref = (grad_at(a + eps * v).numpy() - grad_at(a - eps * v).numpy()) / (2 * eps)
    np.testing.assert_allclose(hv, ref, atol=1e-4)


@pytest.mark.parametrize("m,n", [(4, 4), (4, 6)])
def test_rank_m_minus_2_raises_naming_qr(m, n):
    # an exact zero on r's diagonal: q has no derivative there
    a = np.zeros((m, n))
    a[:m - 2, :m - 2] = np.eye(m - 2) * 2.0
    if n > m:
        a[:, m:] = RNG.standard_normal((m, n - m))
    x = tg.constant(a)
    with tg.GradientTape() as tape:
        tape.watch(x)
        loss = _loss_tg(x, np.ones((m, m)), np.ones((m, n)))
    with pytest.raises(tg.errors.InvalidArgumentError, match=r"qr: the gradient is not "
                       r"defined at this input \(%d, %d\) float64" % (m, n)):
        tape.gradient(loss, x)
    with pytest.raises(tg.errors.InvalidArgumentError, match="qr: the forward-mode"):
        tg.jvp(lambda t: _loss_tg(t, np.ones((m, m)), np.ones((m, n))), [x],
               [tg.constant(np.ones((m, n)))])
