"""tg.jacobian / jacfwd / jacrev, GradientTape.jacobian, tg.hessian and tg.hvp with
complex inputs: a real output's rows are gradients in the tape's convention
(dy/dx + i dy/dy), a holomorphic function's Jacobian is dy/dz (``holomorphic=True``),
and the cases without a complex N x N answer raise a TypeError saying what to do."""

import numpy as np
import pytest

import tapegrad as tg

RNG = np.random.default_rng(5)
Z0 = RNG.standard_normal((2, 3)) + 1j * RNG.standard_normal((2, 3))


def _real_fn(z):
    # non-holomorphic, real-valued, elementwise coupled across rows
    return tg.math.abs(tg.exp(z) * z[::-1]) + tg.real(z * tg.conj(z[:, ::-1]))


def _holo_fn(z):
    return tg.exp(z) * z[::-1] + tg.matmul(z, tg.transpose(z))[:, :1]


def _numeric(f, z0, units, eps=1e-6, holomorphic=False):
    """Central differences d_u of f along each unit u, summed as sum_u u d_u (the
    gradient convention: d/dx + i d/dy) or, for a holomorphic f, conj(u) d_u (= f'(z)
    for each single unit, since d_u = u f')."""
    out = f(tg.constant(z0)).numpy()
    jac = np.zeros(out.shape + z0.shape, complex)
    for idx in np.ndindex(z0.shape):
        for u in units:
            zp, zm = z0.copy(), z0.copy()
            zp[idx] += eps * u
            zm[idx] -= eps * u
            d = (f(tg.constant(zp)).numpy() - f(tg.constant(zm)).numpy()) / (2 * eps)
            jac[(Ellipsis,) + idx] += d * (np.conj(u) if holomorphic else u)
    return jac


@pytest.mark.parametrize("mode", ["rev", "fwd", "auto"])
def test_real_output_rows_are_gradients(mode):
    jac = tg.jacobian(_real_fn, mode=mode)(tg.constant(Z0))
    assert jac.dtype == tg.complex128 and jac.shape == (2, 3, 2, 3)
    np.testing.assert_allclose(jac.numpy(), _numeric(_real_fn, Z0, (1, 1j)), atol=1e-8)
    # a scalar function's Jacobian is its gradient, and tape.gradient's
    loss = lambda z: tg.reduce_sum(_real_fn(z))  # noqa: E731
    np.testing.assert_allclose(tg.jacobian(loss, mode=mode)(tg.constant(Z0)).numpy(),
                               tg.grad(loss)(tg.constant(Z0)).numpy(), rtol=1e-13, atol=1e-14)


def test_tape_jacobians_with_complex_sources():
    z = tg.constant(Z0)
    with tg.GradientTape(persistent=True) as tape:
        tape.watch(z)
        y = _real_fn(z)
    ref = _numeric(_real_fn, Z0, (1, 1j))
    np.testing.assert_allclose(tape.jacobian(y, z).numpy(), ref, atol=1e-8)
    # batch_jacobian: a per-example function (row b of the output reads row b of z)
    per_example = lambda w: tg.math.abs(tg.exp(w) * w[:, ::-1]) + tg.imag(w * w)  # noqa: E731
    with tg.GradientTape() as tape:
        tape.watch(z)
        y = per_example(z)
    full = _numeric(per_example, Z0, (1, 1j))
    np.testing.assert_allclose(tape.batch_jacobian(y, z).numpy(),
                               np.stack([full[b, :, b, :] for b in range(2)]), atol=1e-8)
    with tg.GradientTape() as tape:
        tape.watch(z)
        w = tg.exp(z)
    with pytest.raises(TypeError, match=r"GradientTape.jacobian: target is complex128.*"
                                        r"holomorphic=True"):
        tape.jacobian(w, z)


@pytest.mark.parametrize("mode", ["rev", "fwd"])
def test_holomorphic_jacobian_is_dy_dz(mode):
    jac = tg.jacobian(_holo_fn, mode=mode, holomorphic=True)(tg.constant(Z0))
    np.testing.assert_allclose(jac.numpy(), _numeric(_holo_fn, Z0, (1,), holomorphic=True),
                               atol=1e-8)
    # Cauchy-Riemann: the derivative along i is i f'(z) too
    np.testing.assert_allclose(jac.numpy(), _numeric(_holo_fn, Z0, (1j,), holomorphic=True),
                               atol=1e-8)
    jr = tg.jacrev(_holo_fn, holomorphic=True)(tg.constant(Z0)).numpy()
    jf = tg.jacfwd(_holo_fn, holomorphic=True)(tg.constant(Z0)).numpy()
    np.testing.assert_allclose(jr, jf, rtol=1e-12, atol=1e-13)


def test_what_has_no_complex_jacobian_says_so():
    z = tg.constant(Z0)
    with pytest.raises(TypeError, match=r"jacobian: output 0 is complex128.*holomorphic=True"
                                        r".*tg.complex\(x, y\)"):
        tg.jacobian(_holo_fn)(z)
    with pytest.raises(TypeError, match="holomorphic=True needs complex outputs"):
        tg.jacobian(_real_fn, holomorphic=True)(z)
    with pytest.raises(TypeError, match="holomorphic=True needs complex arguments"):
        tg.jacobian(lambda x: tg.exp(tg.complex(x, x)), holomorphic=True)(tg.constant(Z0.real))
    loss = lambda z: tg.reduce_sum(_real_fn(z))  # noqa: E731
    for fn in (tg.hessian(loss), tg.hessian(loss, argnums=(0,))):
        with pytest.raises(TypeError, match=r"hessian: argument 0 is complex128.*2N x 2N.*"
                                            r"argnums=\(0, 1\)"):
            fn(z)
    with pytest.raises(TypeError, match="only floating-point or complex"):
        tg.jacobian(lambda x: x * 2)(tg.constant([1, 2]))


def test_hessian_by_parts_and_complex_hvp_agree():
    loss = lambda z: tg.reduce_sum(_real_fn(z))  # noqa: E731
    h = tg.hessian(lambda x, y: loss(tg.complex(x, y)), argnums=(0, 1))(
        tg.constant(Z0.real), tg.constant(Z0.imag))
    n = Z0.size
    blocks = [[h[i][j].numpy().reshape(n, n) for j in range(2)] for i in range(2)]
    full = np.block(blocks)
    np.testing.assert_allclose(full, full.T, rtol=1e-10, atol=1e-12)
    v = RNG.standard_normal(Z0.shape) + 1j * RNG.standard_normal(Z0.shape)
    hv = tg.hvp(loss, tg.constant(Z0), tg.constant(v)).numpy().ravel()
    ref = full @ np.concatenate([v.real.ravel(), v.imag.ravel()])
    np.testing.assert_allclose(hv, ref[:n] + 1j * ref[n:], rtol=1e-10, atol=1e-12)

    # and against finite differences of the gradient along v
    def grad_at(w):
        return tg.grad(loss)(tg.constant(w)).numpy()

    eps = 1e-6
    num = (grad_at(Z0 + eps * v) - grad_at(Z0 - eps * v)) / (2 * eps)
    np.testing.assert_allclose(hv, num.ravel(), rtol=1e-6, atol=1e-7)
