"""Higher-order derivatives: tanh to 8th order against its closed-form polynomials, and
every composition of forward and reverse mode agreeing with each other."""

import numpy as np
import pytest
from numpy.polynomial import polynomial as P

import tapegrad as tg


def tanh_derivative_polys(order):
    """d^k tanh / dx^k = p_k(tanh x), with p_0(t) = t and p_{k+1} = p_k'(t) (1 - t^2)."""
    polys = [np.array([0.0, 1.0])]
    for _ in range(order):
        polys.append(P.polymul(P.polyder(polys[-1]), [1.0, 0.0, -1.0]))
    return polys


POLYS = tanh_derivative_polys(8)
POINTS = [-1.3, 0.0, 0.5, 2.0]


def _exact(k, x):
    return P.polyval(np.tanh(x), POLYS[k])


def _one():
    return tg.constant(1.0, dtype=tg.float64)


def rev(f):
    return tg.grad(f)


def fwd(f):
    return lambda x: tg.jvp(f, [x], [_one()])[1]


def gf(f):
    g = tg.gradients_function(f)
    return lambda x: g(x)[0]


def _tower(step, order, f=tg.tanh):
    fs = [f]
    for _ in range(order):
        fs.append(step(fs[-1]))
    return fs


def _check_tower(fs, rtol=1e-12):
    for x in POINTS:
        xt = tg.constant(x, dtype=tg.float64)
        for k, fk in enumerate(fs):
            got = float(fk(xt))
            want = _exact(k, x)
            assert abs(got - want) <= rtol * max(1.0, abs(want)), (k, x, got, want)


def test_closed_form_polynomials_are_right():
    # sanity of the reference itself: p_k matches central differences of p_{k-1}
    x, h = 0.3, 1e-5
    for k in range(1, 9):
        fd = (_exact(k - 1, x + h) - _exact(k - 1, x - h)) / (2 * h)
        assert abs(fd - _exact(k, x)) < 1e-6 * max(1, abs(_exact(k, x)))


def test_tanh_to_8th_order_reverse_over_reverse():
    _check_tower(_tower(rev, 8))


def test_tanh_to_8th_order_forward_over_forward():
    _check_tower(_tower(fwd, 8))


def test_tanh_to_8th_order_alternating_modes_and_gradients_function():
    fs = [tg.tanh]
    for step in [fwd, gf, rev, fwd] * 2:
        fs.append(step(fs[-1]))
    _check_tower(fs)


def test_fourth_derivative_at_half_to_1e_12():
    x = tg.constant(0.5, dtype=tg.float64)
    t = np.tanh(0.5)
    s2 = 1 - t * t
    # d1 = s2; d2 = -2 t s2; d3 = -2 s2^2 + 4 t^2 s2; d4 = 16 t s2^2 - 8 t^3 s2
    expected = 16 * t * s2 * s2 - 8 * t ** 3 * s2
    for fs in (_tower(rev, 4), _tower(fwd, 4), _tower(gf, 4)):
        assert abs(float(fs[4](x)) - expected) < 1e-12
    assert abs(expected - _exact(4, 0.5)) < 1e-13


def test_third_order_beyond_polynomial_degree_is_unconnected_or_zero():
    # the guide: the third derivative of x*x is None with gradients_function ...
    g1 = tg.gradients_function(lambda x: x * x)
    g2 = tg.gradients_function(lambda x: g1(x)[0])
    g3 = tg.gradients_function(lambda x: g2(x)[0])
    assert float(g1(3.0)[0]) == 6.0 and float(g2(3.0)[0]) == 2.0
    assert g3(3.0) == [None]
    # ... and zero (JAX semantics) with grad and forward mode
    assert float(tg.grad(tg.grad(tg.grad(lambda x: x * x)))(3.0)) == 0.0
    assert float(fwd(fwd(fwd(lambda x: x * x)))(tg.constant(3.0, dtype=tg.float64))) == 0.0


def test_hessians_agree_across_all_four_mode_compositions():
    rng = np.random.default_rng(5)
    A = tg.constant(rng.standard_normal((3, 3)))

    def f(x):
        return tg.reduce_sum(tg.tanh(tg.matmul(A, tg.reshape(x, (3, 1)))) * x) + \
            tg.reduce_prod(tg.sin(x))

    x = tg.constant(rng.standard_normal(3))
    grad_f = tg.grad(f)
    Hs = {
        "fwd_over_rev": tg.hessian(f)(x),
        "rev_over_rev": tg.jacrev(grad_f)(x),
        "fwd_over_fwd": tg.jacfwd(tg.jacfwd(f))(x),
        "rev_over_fwd": tg.jacrev(tg.jacfwd(f))(x),
    }
    # reference: central differences of the (exact) gradient
    eps = 1e-6
    ref = np.zeros((3, 3))
    for j in range(3):
        d = np.zeros(3)
        d[j] = eps
        ref[:, j] = (grad_f(tg.constant(x.numpy() + d)).numpy() -
                     grad_f(tg.constant(x.numpy() - d)).numpy()) / (2 * eps)
    for name, H in Hs.items():
        np.testing.assert_allclose(H.numpy(), ref, rtol=1e-6, atol=1e-8, err_msg=name)
        np.testing.assert_allclose(H.numpy(), H.numpy().T, rtol=1e-12, atol=1e-12,
                                   err_msg=name)
        np.testing.assert_allclose(H.numpy(), Hs["rev_over_rev"].numpy(), rtol=1e-12,
                                   atol=1e-12, err_msg=name)


def test_third_derivative_tensor_of_a_cubic():
    # f(x) = sum_ijk C_ijk x_i x_j x_k with symmetric C: D3 f = 6 C
    rng = np.random.default_rng(2)
    C = rng.standard_normal((3, 3, 3))
    C = sum(np.transpose(C, p) for p in
            [(0, 1, 2), (0, 2, 1), (1, 0, 2), (1, 2, 0), (2, 0, 1), (2, 1, 0)]) / 6
    Ct = tg.constant(C)

    def f(x):
        return tg.einsum("ijk,i,j,k->", Ct, x, x, x)

    x = tg.constant(rng.standard_normal(3))
    for T in (tg.jacobian(tg.hessian(f))(x), tg.jacfwd(tg.jacrev(tg.grad(f)))(x)):
        np.testing.assert_allclose(T.numpy(), 6 * C, rtol=1e-12, atol=1e-12)


def test_hvp_of_hvp_and_jvp_of_grad_agree_with_the_hessian():
    x = tg.constant([0.3, -0.4, 1.1], dtype=tg.float64)
    v = tg.constant([1.0, 2.0, -1.0], dtype=tg.float64)

    def f(x):
        return tg.reduce_sum(tg.exp(x) * tg.square(x)) * tg.reduce_sum(x)

    H = tg.hessian(f)(x).numpy()
    np.testing.assert_allclose(tg.hvp(f, x, v).numpy(), H @ v.numpy(), rtol=1e-12)
    _, jg = tg.jvp(tg.grad(f), [x], [v])
    np.testing.assert_allclose(jg.numpy(), H @ v.numpy(), rtol=1e-12)
    # d/dx <v, H(x) v> via grad of the hvp, against differences of the hvp itself
    g = tg.grad(lambda x: tg.reduce_sum(tg.hvp(f, x, v) * v))(x).numpy()
    eps = 1e-6
    fd = [(float(tg.reduce_sum(tg.hvp(f, tg.constant(x.numpy() + e), v) * v)) -
           float(tg.reduce_sum(tg.hvp(f, tg.constant(x.numpy() - e), v) * v))) / (2 * eps)
          for e in np.eye(3) * eps]
    np.testing.assert_allclose(g, fd, rtol=1e-6)


def test_nested_persistent_tapes_third_order_with_tape_jacobian():
    x = tg.constant([0.2, 0.7], dtype=tg.float64)
    with tg.GradientTape() as t3:
        t3.watch(x)
        with tg.GradientTape() as t2:
            t2.watch(x)
            with tg.GradientTape() as t1:
                t1.watch(x)
                y = tg.reduce_sum(tg.sin(x) * x[0])
            g = t1.gradient(y, x)
        H = t2.jacobian(g, x)
        s = tg.reduce_sum(H)
    third = t3.gradient(s, x).numpy()
    # y = x0 * (sin x0 + sin x1)
    x0, x1 = x.numpy()
    # H = [[2cos x0 - x0 sin x0, cos x1], [cos x1, -x0 sin x1]]
    np.testing.assert_allclose(H.numpy(), [[2 * np.cos(x0) - x0 * np.sin(x0), np.cos(x1)],
                                           [np.cos(x1), -x0 * np.sin(x1)]], rtol=1e-12)
    expect = [-3 * np.sin(x0) - x0 * np.cos(x0) - np.sin(x1),
              -2 * np.sin(x1) - x0 * np.cos(x1)]
    np.testing.assert_allclose(third, expect, rtol=1e-12)


@pytest.mark.parametrize("order", [1, 2, 3])
def test_check_grads_higher_orders_both_modes(order):
    def f(x, y):
        return tg.tanh(x * y) + tg.sin(x) / (1.5 + tg.cos(y))

    tg.check_grads(f, [np.array([0.3, -0.8]), np.array([1.1, 0.4])], order=order,
                   modes=("fwd", "rev"))


def test_tanh_forward_tower_through_transposition_only(monkeypatch):
    from tapegrad import _core
    from tapegrad.ops._jvp import TransposedJVP

    for prim in _core.registry().values():
        if prim.jvp is not None:
            monkeypatch.setattr(prim, "jvp", TransposedJVP(prim))
    _check_tower(_tower(fwd, 6))


@pytest.mark.parametrize("name,fn,shape", [
    ("max_pool2d", lambda x: tg.nn.max_pool2d(x, 2, 2, "VALID"), (1, 4, 4, 2)),
    ("conv2d", lambda x: tg.nn.conv2d(x, tg.constant(np.linspace(-1, 1, 18).reshape(
        3, 3, 2, 1)), 1, "SAME") ** 2, (1, 3, 3, 2)),
    ("avg_pool2d", lambda x: tg.nn.avg_pool2d(tg.exp(x), 2, 1, "SAME"), (1, 3, 3, 1)),
    ("gather", lambda x: tg.sin(tg.gather(x, tg.constant([2, 0, 2]))), (3,)),
])
def test_third_order_of_ops_whose_gradients_are_primitives(name, fn, shape):
    x = np.random.default_rng(1).standard_normal(shape)
    tg.check_grads(fn, [x], order=3, modes=("fwd", "rev"))
