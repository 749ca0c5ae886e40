"""Derivatives at the edge inputs where a rule used to give a silently wrong number:
reduce_prod's second order at zeros, the xlogy family's d/dx at x == 0, the gradient of
a complex slogdet sign, det's second order at singular matrices, atan2/angle at tiny and
huge magnitudes; and TF ops whose complex values were not TF's (transpose(conjugate=True),
squared_difference, the variance family).  Checked against closed
forms and float64 finite differences (PyTorch too when it is installed)."""

import itertools

import numpy as np
import pytest

import tapegrad as tg

L = tg.linalg


def _hvp_nested(f, x, v):
    """H(x) v by reverse over reverse (nested tapes)."""
    x = tg.constant(x)
    with tg.GradientTape() as outer:
        outer.watch(x)
        with tg.GradientTape() as inner:
            inner.watch(x)
            y = f(x)
        g = inner.gradient(y, x)
        s = tg.reduce_sum(g * tg.constant(v))
    return outer.gradient(s, x).numpy()


def _hvp_both(f, x, v):
    """H v by nested tapes and by forward over reverse (tg.hvp)."""
    fr = tg.hvp(f, [tg.constant(x)], [tg.constant(v)])[0].numpy()
    return _hvp_nested(f, x, v), fr


# ---------------------------------------------------------------------------
# reduce_prod: d^2 prod / dx_i dx_j = prod_{k != i, j} x_k, nonzero beside one zero


def _prod_hessian(x):
    n = x.size
    h = np.zeros((n, n))
    for i, j in itertools.permutations(range(n), 2):
        h[i, j] = np.prod(np.delete(x, [i, j]))
    return h


@pytest.mark.parametrize("x", [[1.5, 0.0, 2.0, -1.0, 3.0], [1.5, 0.0, 2.0, 0.0, 3.0],
                               [0.0, 0.0, 0.0], [0.0, 2.0], [0.5, -2.0, 3.0]])
def test_reduce_prod_hessian_at_zeros(x):
    x = np.array(x)
    want = _prod_hessian(x)
    got = tg.hessian(tg.reduce_prod)(tg.constant(x)).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    v = np.random.default_rng(0).standard_normal(x.shape)
    for hv in _hvp_both(tg.reduce_prod, x, v):
        np.testing.assert_allclose(hv, want @ v, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("axis", [0, 1, (0, 2), None])
def test_reduce_prod_hessian_over_axes_at_zeros(axis):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 2, 4))
    x[0, 1, 2] = x[2, 0, 0] = x[2, 0, 3] = x[1, 1, 1] = 0.0
    w = rng.standard_normal(np.prod(x, axis=axis).shape)
    v = rng.standard_normal(x.shape)

    def f(t):
        return tg.reduce_sum(tg.constant(w) * tg.reduce_prod(t, axis))

    axes = list(range(3)) if axis is None else np.atleast_1d(axis).tolist()
    rest = [d for d in range(3) if d not in axes]
    n = int(np.prod([x.shape[d] for d in axes]))
    xs = np.transpose(x, rest + axes).reshape(-1, n)
    vs = np.transpose(v, rest + axes).reshape(-1, n)
    want = np.stack([wk * _prod_hessian(xk) @ vk for xk, vk, wk in zip(xs, vs, w.ravel())])
    want = np.transpose(want.reshape([x.shape[d] for d in rest + axes]),
                        np.argsort(rest + axes))
    for hv in _hvp_both(f, x, v):
        np.testing.assert_allclose(hv, want, rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------------------
# xlogy / xlog1py / xdivy: x * f(y) is smooth in x at x == 0 wherever f(y) is finite


XFY = [(tg.math.xlogy, np.log, lambda y: 1 / y, 2.5),
       (tg.math.xlog1py, np.log1p, lambda y: 1 / (1 + y), 1.0),
       (tg.math.xdivy, lambda y: 1 / y, lambda y: -1 / y ** 2, 4.0)]


@pytest.mark.parametrize("op, f, df, y", XFY, ids=["xlogy", "xlog1py", "xdivy"])
def test_xfy_derivatives_at_x_zero(op, f, df, y):
    x, yt = tg.constant(np.array([0.0, 0.0, 1.5])), tg.constant(np.array([y, y, y]))
    with tg.GradientTape(persistent=True) as outer:
        outer.watch([x, yt])
        with tg.GradientTape() as inner:
            inner.watch([x, yt])
            out = op(x, yt)
        gx, gy = inner.gradient(out, [x, yt])
    np.testing.assert_allclose(out.numpy(), [0.0, 0.0, 1.5 * f(y)], rtol=1e-14)
    np.testing.assert_allclose(gx.numpy(), [f(y)] * 3, rtol=1e-14)
    np.testing.assert_allclose(gy.numpy(), [0.0, 0.0, 1.5 * df(y)], rtol=1e-14)
    # d^2 / dx dy = f'(y), at x == 0 too
    np.testing.assert_allclose(outer.gradient(gx, yt).numpy(), [df(y)] * 3, rtol=1e-14)
    _, jx = tg.jvp(lambda a: op(a, yt), [x], [tg.ones_like(x)])
    np.testing.assert_allclose(jx.numpy(), [f(y)] * 3, rtol=1e-14)


@pytest.mark.parametrize("op, bad_y", [(tg.math.xlogy, [0.0, -1.0, np.inf, np.nan]),
                                       (tg.math.xlog1py, [-1.0, -2.0, np.inf, np.nan]),
                                       (tg.math.xdivy, [0.0, 0.0, 0.0, np.nan])])
def test_xfy_is_zero_with_zero_gradients_where_f_is_not_finite(op, bad_y):
    x, y = tg.zeros((4,), dtype=tg.float64), tg.constant(np.array(bad_y))
    with tg.GradientTape() as tape:
        tape.watch([x, y])
        out = op(x, y)
    gx, gy = tape.gradient(out, [x, y])
    np.testing.assert_array_equal(out.numpy(), np.zeros(4))
    np.testing.assert_array_equal(gx.numpy(), np.zeros(4))
    np.testing.assert_array_equal(gy.numpy(), np.zeros(4))


def test_xlogy_x_zero_gradient_matches_torch():
    torch = pytest.importorskip("torch")
    x, y = np.array([0.0, 0.0, 2.0]), np.array([3.0, 0.5, 0.7])
    xt, yt = (torch.tensor(a, requires_grad=True) for a in (x, y))
    want = torch.autograd.grad(torch.xlogy(xt, yt).sum(), [xt, yt])
    a, b = tg.constant(x), tg.constant(y)
    with tg.GradientTape() as tape:
        tape.watch([a, b])
        out = tg.reduce_sum(tg.math.xlogy(a, b))
    for g, w in zip(tape.gradient(out, [a, b]), want):
        np.testing.assert_allclose(g.numpy(), w.numpy(), rtol=1e-14)


# ---------------------------------------------------------------------------
# slogdet: a complex sign det / |det| is smooth; its derivative is i sign Im tr(A^-1 dA)


def _complex_fd_grad(f, z, eps=1e-6):
    """dL/dx + i dL/dy of a real function of complex z, by central differences."""
    g = np.zeros_like(z)
    for idx in np.ndindex(z.shape):
        for unit in (1.0, 1j):
            e = np.zeros_like(z)
            e[idx] = unit * eps
            g[idx] += unit * (f(z + e) - f(z - e)) / (2 * eps)
    return g


def _sign_loss_np(z, w):
    s, _ = np.linalg.slogdet(z)
    return float(np.sum((w * s).real))


def _sign_loss(z, w):
    return tg.reduce_sum(tg.real(tg.constant(w) * L.slogdet(z)[0]))


@pytest.mark.parametrize("shape", [(3, 3), (2, 2, 2), (1, 1)])
def test_complex_slogdet_sign_gradient_matches_finite_differences(shape):
    rng = np.random.default_rng(2)
    z = rng.standard_normal(shape) + 1j * rng.standard_normal(shape)
    w = rng.standard_normal(shape[:-2]) + 1j * rng.standard_normal(shape[:-2])
    zt = tg.constant(z)
    with tg.GradientTape() as tape:
        tape.watch(zt)
        loss = _sign_loss(zt, w) + tg.reduce_sum(L.slogdet(zt)[1])
    got = tape.gradient(loss, zt).numpy()
    want = _complex_fd_grad(
        lambda a: _sign_loss_np(a, w) + float(np.sum(np.linalg.slogdet(a)[1])), z)
    np.testing.assert_allclose(got, want, rtol=1e-7, atol=1e-8)
    # forward mode: the tangent of the sign along v
    v = rng.standard_normal(shape) + 1j * rng.standard_normal(shape)
    _, ds = tg.jvp(lambda a: L.slogdet(a)[0], [zt], [tg.constant(v)])
    fd = (np.linalg.slogdet(z + 1e-6 * v)[0] - np.linalg.slogdet(z - 1e-6 * v)[0]) / 2e-6
    np.testing.assert_allclose(ds.numpy(), fd, rtol=1e-7, atol=1e-8)


def test_complex_slogdet_sign_second_order_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    z = rng.standard_normal((2, 3, 3)) + 1j * rng.standard_normal((2, 3, 3))
    w = rng.standard_normal(2) + 1j * rng.standard_normal(2)
    v = rng.standard_normal(z.shape) + 1j * rng.standard_normal(z.shape)
    zt = torch.tensor(z, requires_grad=True)
    g = torch.autograd.grad((torch.tensor(w) * torch.linalg.slogdet(zt)[0]).real.sum(), zt,
                            create_graph=True)[0]
    want_g = g.detach().numpy()
    want_hv = torch.autograd.grad((g.conj() * torch.tensor(v)).real.sum(), zt)[0].numpy()
    x = tg.constant(z)
    with tg.GradientTape() as outer:
        outer.watch(x)
        with tg.GradientTape() as inner:
            inner.watch(x)
            loss = _sign_loss(x, w)
        gx = inner.gradient(loss, x)
        s = tg.reduce_sum(tg.real(tg.conj(gx) * tg.constant(v)))
    np.testing.assert_allclose(gx.numpy(), want_g, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(outer.gradient(s, x).numpy(), want_hv, rtol=1e-9, atol=1e-11)


def test_real_slogdet_sign_still_has_zero_gradient():
    a = tg.constant(np.random.default_rng(4).standard_normal((3, 3)))
    with tg.GradientTape() as tape:
        tape.watch(a)
        s = L.slogdet(a)[0]
    np.testing.assert_array_equal(tape.gradient(s, a, unconnected_gradients="zero").numpy(),
                                  np.zeros((3, 3)))


# ---------------------------------------------------------------------------
# det at singular matrices: the Hessian is a polynomial's and exists everywhere


def _cofactor_3x3(a):
    c = np.empty_like(a)
    for i, j in np.ndindex(3, 3):
        m = np.delete(np.delete(a, i, axis=-2), j, axis=-1)
        c[..., i, j] = (-1) ** (i + j) * (m[..., 0, 0] * m[..., 1, 1] - m[..., 0, 1] * m[..., 1, 0])
    return c


def _det_hvp_exact(a, v):
    # a 3x3 cofactor is quadratic in t along a + t v: the central difference is exact
    return (_cofactor_3x3(a + v) - _cofactor_3x3(a - v)) / 2


def _rank_deficient(rank, seed, dtype=float):
    rng = np.random.default_rng(seed)
    b, c = rng.standard_normal((2, 3, rank)), rng.standard_normal((2, rank, 3))
    if dtype is complex:
        b = b + 1j * rng.standard_normal(b.shape)
        c = c + 1j * rng.standard_normal(c.shape)
    return b @ c


@pytest.mark.parametrize("rank", [2, 1, 0])
def test_det_hessian_at_singular_matrices(rank):
    # rank 2: det ~ 1e-16 in floating point (A^-1 ~ 1e16); rank 1 and 0: exactly
    # singular, the Hessian is still nonzero (rank 1) or zero (rank 0)
    a = _rank_deficient(rank, 5) if rank else np.zeros((2, 3, 3))
    v = np.random.default_rng(6).standard_normal(a.shape)
    want = _det_hvp_exact(a, v)
    assert np.abs(want).max() > 0.1 or rank == 0
    for hv in _hvp_both(lambda x: tg.reduce_sum(L.det(x)), a, v):
        np.testing.assert_allclose(hv, want, rtol=1e-10, atol=1e-12)


def test_complex_det_hessian_at_a_singular_matrix():
    a = _rank_deficient(2, 7, complex)
    rng = np.random.default_rng(8)
    v = rng.standard_normal(a.shape) + 1j * rng.standard_normal(a.shape)
    # det is holomorphic: the JVP of its gradient map (conjugated, the tape's convention)
    # along v is the conjugate of d cof[v]
    want = np.conj(_det_hvp_exact(a, v))
    w = np.array([0.3 - 0.7j, 1.1 + 0.2j])

    def grad_of_real_loss(z):
        with tg.GradientTape() as tape:
            tape.watch(z)
            loss = tg.reduce_sum(tg.real(tg.constant(w) * L.det(z)))
        return tape.gradient(loss, z)

    _, got = tg.jvp(grad_of_real_loss, [tg.constant(a)], [tg.constant(v)])
    np.testing.assert_allclose(got.numpy(), np.conj(w)[:, None, None] * want,
                               rtol=1e-10, atol=1e-12)


def test_det_third_derivative_still_exact_at_an_invertible_matrix():
    # third order goes through the cofactor derivative's own rule (the inverse form)
    rng = np.random.default_rng(9)
    a = rng.standard_normal((3, 3)) + 3 * np.eye(3)
    v, u = rng.standard_normal((3, 3)), rng.standard_normal((3, 3))

    def hvp_along_v(x):
        return tg.reduce_sum(tg.hvp(L.det, [x], [tg.constant(v)])[0] * tg.constant(u))

    x = tg.constant(a)
    with tg.GradientTape() as tape:
        tape.watch(x)
        y = hvp_along_v(x)
    got = tape.gradient(y, x).numpy()
    eps = 1e-5
    fd = np.array([(hvp_along_v(tg.constant(a + eps * e)).numpy()
                    - hvp_along_v(tg.constant(a - eps * e)).numpy()) / (2 * eps)
                   for e in np.eye(9).reshape(9, 3, 3)]).reshape(3, 3)
    np.testing.assert_allclose(got, fd, rtol=1e-7, atol=1e-8)


def test_det_hessian_at_singular_matrix_matches_torch():
    torch = pytest.importorskip("torch")
    a = _rank_deficient(2, 10)
    v = np.random.default_rng(11).standard_normal(a.shape)
    at = torch.tensor(a, requires_grad=True)
    g = torch.autograd.grad(torch.linalg.det(at).sum(), at, create_graph=True)[0]
    want = torch.autograd.grad((g * torch.tensor(v)).sum(), at)[0].numpy()
    for hv in _hvp_both(lambda x: tg.reduce_sum(L.det(x)), a, v):
        np.testing.assert_allclose(hv, want, rtol=1e-10, atol=1e-12)


# ---------------------------------------------------------------------------
# complex input to TF ops that conjugate: transpose(conjugate=True), squared_difference,
# the variance family


def test_transpose_conjugate_conjugates_complex_input():
    rng = np.random.default_rng(12)
    z = rng.standard_normal((2, 3, 4)) + 1j * rng.standard_normal((2, 3, 4))
    w = rng.standard_normal((4, 2, 3)) + 1j * rng.standard_normal((4, 2, 3))
    zt = tg.constant(z)
    out = tg.transpose(zt, [2, 0, 1], conjugate=True)
    np.testing.assert_array_equal(out.numpy(), np.conj(np.transpose(z, [2, 0, 1])))
    with tg.GradientTape() as tape:
        tape.watch(zt)
        loss = tg.reduce_sum(tg.real(tg.constant(w) * tg.transpose(zt, [2, 0, 1],
                                                                    conjugate=True)))
    # L = Re sum(w conj(P z)) = sum(Re w Re Pz + Im w Im Pz): the gradient is w, permuted
    # back
    np.testing.assert_allclose(tape.gradient(loss, zt).numpy(),
                               np.transpose(w, [1, 2, 0]), rtol=1e-15)
    real = tg.constant(z.real)
    np.testing.assert_array_equal(tg.transpose(real, conjugate=True).numpy(), z.real.T)


def test_complex_squared_difference_is_the_squared_modulus():
    rng = np.random.default_rng(13)
    a = rng.standard_normal(4) + 1j * rng.standard_normal(4)
    b = rng.standard_normal(4) + 1j * rng.standard_normal(4)
    at, bt = tg.constant(a), tg.constant(b)
    with tg.GradientTape() as tape:
        tape.watch([at, bt])
        out = tg.math.squared_difference(at, bt)
        loss = tg.reduce_sum(tg.real(out))
    np.testing.assert_allclose(out.numpy(), np.abs(a - b) ** 2, rtol=1e-14)
    ga, gb = tape.gradient(loss, [at, bt])
    # |x - y|^2 has gradient 2 (x - y) in z (dL/dx + i dL/dy)
    np.testing.assert_allclose(ga.numpy(), 2 * (a - b), rtol=1e-14)
    np.testing.assert_allclose(gb.numpy(), -2 * (a - b), rtol=1e-14)


def test_complex_variance_and_std_are_real_moduli():
    rng = np.random.default_rng(14)
    z = rng.standard_normal((2, 5)) + 1j * rng.standard_normal((2, 5))
    zt = tg.constant(z)
    with tg.GradientTape(persistent=True) as tape:
        tape.watch(zt)
        var = tg.math.reduce_variance(zt, 1)
        std = tg.math.reduce_std(zt, 1)
        lv, ls = tg.reduce_sum(var), tg.reduce_sum(std)
    assert var.dtype == np.float64 and std.dtype == np.float64
    np.testing.assert_allclose(var.numpy(), np.var(z, 1), rtol=1e-14)
    np.testing.assert_allclose(std.numpy(), np.std(z, 1), rtol=1e-14)
    d = z - z.mean(1, keepdims=True)
    np.testing.assert_allclose(tape.gradient(lv, zt).numpy(), 2 * d / 5, rtol=1e-13)
    np.testing.assert_allclose(tape.gradient(ls, zt).numpy(),
                               d / 5 / np.std(z, 1, keepdims=True), rtol=1e-13)
    _, v = tg.nn.moments(zt, [1])
    np.testing.assert_allclose(v.numpy(), np.var(z, 1), rtol=1e-14)


# ---------------------------------------------------------------------------
# atan2 and angle at tiny and huge magnitudes: x^2 + y^2 must not under/overflow


@pytest.mark.parametrize("scale", [1e-200, 1e-170, 1.0, 1e170, 1e200])
def test_atan2_and_angle_gradients_at_extreme_magnitudes(scale):
    x0, y0 = np.array([1.0, -4.0, 0.0]) * scale, np.array([1.0, 3.0, -2.0]) * scale
    r = np.hypot(x0, y0)
    x, y = tg.constant(x0), tg.constant(y0)
    with tg.GradientTape() as tape:
        tape.watch([x, y])
        a = tg.reduce_sum(tg.math.atan2(y, x))
    gx, gy = tape.gradient(a, [x, y])
    np.testing.assert_allclose(gx.numpy(), -(y0 / r) / r, rtol=1e-14)
    np.testing.assert_allclose(gy.numpy(), (x0 / r) / r, rtol=1e-14)
    z = tg.constant(x0 + 1j * y0)
    with tg.GradientTape() as tape:
        tape.watch(z)
        a = tg.reduce_sum(tg.math.angle(z))
    # dL/dx + i dL/dy = (-y + i x) / |z|^2
    np.testing.assert_allclose(tape.gradient(a, z).numpy(), (-(y0 / r) + 1j * (x0 / r)) / r,
                               rtol=1e-14)
