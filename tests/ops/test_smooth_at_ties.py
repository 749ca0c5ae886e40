"""softplus / sigmoid cross-entropy are exact at logit 0; reduce_std of a constant has a
zero (not NaN) gradient.  Checked against closed forms, float64 finite differences
(every order), and PyTorch when it is installed."""

import numpy as np
import pytest

import tapegrad as tg


def _sigmoid(x):
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(-x))


def _derivatives(f, x, orders=3):
    """[f'(x), f''(x), f'''(x)] by nested tapes (reverse mode)."""
    x = tg.constant(x)
    tapes = [tg.GradientTape(persistent=True) for _ in range(orders)]
    for t in tapes:
        t.__enter__()
        t.watch(x)
    y = f(x)
    out = []
    for t in reversed(tapes):
        total = tg.reduce_sum(y)  # recorded by t and the tapes around it
        t.__exit__(None, None, None)
        y = t.gradient(total, x, unconnected_gradients="zero")
        out.append(y.numpy())
    return out


def _softplus_derivs(x):
    s = _sigmoid(x)
    return [s, s * (1 - s), s * (1 - s) * (1 - 2 * s)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softplus_every_order_at_zero_and_around(dtype):
    x = np.array([0.0, -0.0, 1e-8, -1e-8, 0.5, -3.0, 40.0, -40.0, 800.0, -800.0], dtype)
    got = _derivatives(tg.nn.softplus, x)
    want = _softplus_derivs(x.astype(np.float64))
    tol = 1e-6 if dtype == np.float32 else 1e-12
    for g, w in zip(got, want):
        assert g.dtype == dtype
        np.testing.assert_allclose(g, w, rtol=tol, atol=tol)
    np.testing.assert_allclose(tg.nn.softplus(x).numpy(),
                               np.logaddexp(0.0, x.astype(np.float64)), rtol=tol)
    assert got[0][0] == 0.5 and got[1][0] == 0.25


def test_sigmoid_cross_entropy_gradient_at_zero_logits():
    z = np.array([0.0, 0.3, 1.0, 0.0, 1.0])
    x = np.zeros(5)
    first, second, third = _derivatives(
        lambda t: tg.nn.sigmoid_cross_entropy_with_logits(labels=z, logits=t), x)
    np.testing.assert_array_equal(first, 0.5 - z)
    np.testing.assert_array_equal(second, np.full(5, 0.25))
    np.testing.assert_allclose(third, np.zeros(5), atol=1e-15)
    # and the gradient with respect to the labels is -x
    zt = tg.constant(z)
    with tg.GradientTape() as tape:
        tape.watch(zt)
        loss = tg.nn.sigmoid_cross_entropy_with_logits(labels=zt, logits=tg.constant(x + 2.0))
    np.testing.assert_array_equal(tape.gradient(loss, zt).numpy(), np.full(5, -2.0))


@pytest.mark.parametrize("at", [0.0, 1e-3, -2.0])
def test_finite_differences_to_third_order(at):
    x = np.full(3, at)
    z = np.array([0.0, 0.5, 1.0])
    tg.check_grads(tg.nn.softplus, [x], order=3, modes=("rev", "fwd"), eps=1e-4, rtol=1e-5,
                   atol=1e-7)
    tg.check_grads(lambda t: tg.nn.sigmoid_cross_entropy_with_logits(labels=z, logits=t),
                   [x], order=3, modes=("rev", "fwd"), eps=1e-4, rtol=1e-5, atol=1e-7)


def test_against_torch():
    torch = pytest.importorskip("torch")
    x = np.array([0.0, 0.0, 2.0, -3.0, 0.0])
    z = np.array([0.0, 1.0, 0.3, 1.0, 0.7])
    xt = torch.tensor(x, requires_grad=True)
    loss = torch.nn.functional.binary_cross_entropy_with_logits(
        xt, torch.tensor(z), reduction="sum")
    (g,) = torch.autograd.grad(loss, xt, create_graph=True)
    (h,) = torch.autograd.grad(g.sum(), xt)
    first, second, _ = _derivatives(
        lambda t: tg.nn.sigmoid_cross_entropy_with_logits(labels=z, logits=t), x)
    np.testing.assert_allclose(first, g.detach().numpy(), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(second, h.numpy(), rtol=1e-12, atol=1e-15)
    xt = torch.tensor(x, requires_grad=True)
    (g,) = torch.autograd.grad(torch.nn.functional.softplus(xt).sum(), xt, create_graph=True)
    (h,) = torch.autograd.grad(g.sum(), xt)
    first, second, _ = _derivatives(tg.nn.softplus, x)
    np.testing.assert_allclose(first, g.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(second, h.numpy(), rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("axis", [None, 0, 1])
def test_reduce_std_of_a_constant_has_zero_gradient_every_order(dtype, axis):
    x = np.full((3, 4), 2.5, dtype)
    got = _derivatives(lambda t: tg.reduce_std(t, axis=axis), x)
    for g in got:
        assert g.dtype == dtype
        np.testing.assert_array_equal(g, np.zeros_like(x))
    assert np.all(tg.reduce_std(x, axis=axis).numpy() == 0)
    # a partly constant input: rows that vary keep the usual derivative
    y = np.array([[1.0, 1.0, 1.0], [1.0, 2.0, 4.0]], dtype)
    g = _derivatives(lambda t: tg.reduce_std(t, axis=1), y, orders=1)[0]
    np.testing.assert_array_equal(g[0], np.zeros(3))
    d = y[1] - y[1].mean()
    np.testing.assert_allclose(g[1], d / (3 * np.sqrt(np.mean(d * d))), rtol=1e-6)
    assert np.all(np.isfinite(g))


def test_reduce_std_smooth_part_matches_finite_differences_and_torch():
    x = np.array([[0.3, -1.2, 2.0], [0.5, 0.5, 0.7]])
    tg.check_grads(lambda t: tg.reduce_std(t, axis=1), [x], order=2, modes=("rev", "fwd"))
    tg.check_grads(lambda t: tg.reduce_variance(t, axis=0), [x], order=2, modes=("rev", "fwd"))
    torch = pytest.importorskip("torch")
    c = np.full((2, 3), 1.5)
    xt = torch.tensor(c, requires_grad=True)
    (g,) = torch.autograd.grad(torch.std(xt, dim=1, unbiased=False).sum(), xt)
    got = _derivatives(lambda t: tg.reduce_std(t, axis=1), c, orders=1)[0]
    np.testing.assert_array_equal(got, g.numpy())
