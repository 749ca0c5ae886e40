"""tg.signal FFTs (values equal numpy.fft) and complex numbers: dtypes, values, the
gradient convention (dL/dx + i dL/dy), ops that take complex input, and errors."""

import numpy as np
import pytest

import tapegrad as tg

S = tg.signal
RNG = np.random.default_rng(11)


def _c(shape, dtype=np.complex128):
    return (RNG.standard_normal(shape) + 1j * RNG.standard_normal(shape)).astype(dtype)


@pytest.mark.parametrize("dtype", [np.complex64, np.complex128])
def test_c2c_values_equal_numpy_fft(dtype):
    z = _c((2, 3, 4, 5), dtype)
    for fn, ref, rank in [(S.fft, np.fft.fft, 1), (S.ifft, np.fft.ifft, 1),
                          (S.fft2d, np.fft.fft2, 2), (S.ifft2d, np.fft.ifft2, 2),
                          (S.fft3d, np.fft.fftn, 3), (S.ifft3d, np.fft.ifftn, 3)]:
        out = fn(z)
        assert out.dtype == dtype
        kw = {} if rank < 3 else {"axes": (-3, -2, -1)}
        np.testing.assert_array_equal(out.numpy(), ref(z, **kw).astype(dtype))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_real_transforms_equal_numpy_fft(dtype):
    cdt = np.complex64 if dtype == np.float32 else np.complex128
    x = RNG.standard_normal((3, 6, 8)).astype(dtype)
    y = S.rfft(x)
    assert y.dtype == cdt and y.shape == (3, 6, 5)
    np.testing.assert_array_equal(y.numpy(), np.fft.rfft(x).astype(cdt))
    np.testing.assert_array_equal(S.rfft(x, fft_length=[5]).numpy(),
                                  np.fft.rfft(x, n=5).astype(cdt))
    np.testing.assert_array_equal(S.rfft(x, fft_length=[12]).numpy(),
                                  np.fft.rfft(x, n=12).astype(cdt))
    back = S.irfft(y)
    assert back.dtype == dtype and back.shape == x.shape
    np.testing.assert_allclose(back.numpy(), x, rtol=1e-5 if dtype == np.float32 else 1e-12,
                               atol=1e-5 if dtype == np.float32 else 1e-12)
    np.testing.assert_array_equal(S.irfft(y, fft_length=[7]).numpy(),
                                  np.fft.irfft(y.numpy(), n=7).astype(dtype))
    y2 = S.rfft2d(x)
    np.testing.assert_array_equal(y2.numpy(), np.fft.rfft2(x).astype(cdt))
    np.testing.assert_array_equal(S.rfft2d(x, fft_length=[4, 10]).numpy(),
                                  np.fft.rfft2(x, s=(4, 10)).astype(cdt))
    np.testing.assert_array_equal(S.irfft2d(y2).numpy(), np.fft.irfft2(y2.numpy()).astype(dtype))
    np.testing.assert_array_equal(S.irfft2d(y2, fft_length=[6, 8]).numpy(),
                                  np.fft.irfft2(y2.numpy(), s=(6, 8)).astype(dtype))


def test_fft_errors():
    with pytest.raises(TypeError, match=r"fft: expected complex64 or complex128 input, got "
                                        r"float32"):
        S.fft(np.ones(4, np.float32))
    with pytest.raises(TypeError, match="rfft: expected float32 or float64 input, got int32"):
        S.rfft(tg.constant([1, 2, 3]))
    with pytest.raises(ValueError, match=r"fft2d: needs rank >= 2.*\(4,\)"):
        S.fft2d(np.ones(4, np.complex64))
    with pytest.raises(ValueError, match="rfft: fft_length must be 1 positive ints"):
        S.rfft(np.ones(4), fft_length=[2, 2])
    with pytest.raises(ValueError, match="irfft: fft_length"):
        S.irfft(np.ones(4, np.complex64), fft_length=[0])


def test_parseval_gradient():
    """d/dx sum |fft(x)|^2 = 2 N x (Parseval), through rfft-free complex path."""
    x = tg.constant(RNG.standard_normal(8))
    with tg.GradientTape() as tape:
        tape.watch(x)
        z = S.fft(tg.complex(x, tg.zeros_like(x)))
        p = tg.reduce_sum(tg.square(tg.math.abs(z)))
    np.testing.assert_allclose(tape.gradient(p, x).numpy(), 2 * 8 * x.numpy(), rtol=1e-12,
                               atol=1e-12)


# ---------------------------------------------------------------------------
# complex numbers

def test_complex_construction_and_parts():
    x = np.array([1.0, -2.0], np.float32)
    y = np.array([0.5, 3.0], np.float32)
    z = tg.complex(x, y)
    assert z.dtype == tg.complex64
    np.testing.assert_array_equal(tg.real(z).numpy(), x)
    np.testing.assert_array_equal(tg.imag(z).numpy(), y)
    np.testing.assert_array_equal(tg.conj(z).numpy(), x - 1j * y)
    np.testing.assert_array_equal(tg.math.abs(z).numpy(), np.abs(x + 1j * y))
    np.testing.assert_array_equal(tg.math.angle(z).numpy(), np.angle(x + 1j * y))
    assert tg.complex(x.astype(np.float64), y.astype(np.float64)).dtype == tg.complex128
    assert tg.constant(1 + 2j).dtype == tg.complex128
    np.testing.assert_array_equal((z * 2.0).numpy(), 2 * (x + 1j * y))
    np.testing.assert_array_equal((z + 1j).numpy(), (x + 1j * y + 1j).astype(np.complex64))
    # real tensors through the parts (TF)
    assert tg.real(x) is not None and np.all(tg.imag(x).numpy() == 0)
    # scalars keep their rank (0-d in, 0-d out)
    z0 = tg.constant(1.5 - 2j)
    assert tg.real(z0).shape == () and tg.imag(z0).shape == () and tg.conj(z0).shape == ()
    assert float(tg.imag(z0).numpy()) == -2.0
    np.testing.assert_array_equal(tg.math.angle(np.array([-1.0, 2.0])).numpy(), [np.pi, 0])
    with pytest.raises(TypeError, match="complex: real and imag dtypes differ"):
        tg.complex(x, y.astype(np.float64))
    with pytest.raises(TypeError, match=r"complex: .*int32"):
        tg.complex(tg.constant([1]), tg.constant([2]))


def test_complex_through_elementwise_reductions_matmul_einsum():
    a = _c((3, 4))
    b = _c((4, 2))
    A, B = tg.constant(a), tg.constant(b)
    np.testing.assert_allclose(tg.matmul(A, B).numpy(), a @ b, rtol=1e-12)
    np.testing.assert_allclose(tg.einsum("ij,jk->ik", A, B).numpy(), a @ b, rtol=1e-12)
    np.testing.assert_allclose(tg.reduce_sum(A, 1).numpy(), a.sum(1), rtol=1e-12)
    np.testing.assert_allclose(tg.reduce_mean(A).numpy(), a.mean(), rtol=1e-12)
    for fn, ref in [(tg.exp, np.exp), (tg.log, np.log), (tg.sqrt, np.sqrt), (tg.sin, np.sin),
                    (tg.cos, np.cos), (tg.tanh, np.tanh), (tg.square, np.square),
                    (tg.reciprocal, np.reciprocal), (tg.negative, np.negative)]:
        np.testing.assert_allclose(fn(A).numpy(), ref(a), rtol=1e-12)
    np.testing.assert_allclose((A / (A + 3)).numpy(), a / (a + 3), rtol=1e-12)
    np.testing.assert_allclose(tg.transpose(A).numpy(), a.T)
    np.testing.assert_allclose(tg.linalg.adjoint(A).numpy(), a.conj().T)
    np.testing.assert_allclose(A[1:, ::2].numpy(), a[1:, ::2])
    assert tg.cast(A, tg.float64).dtype == tg.float64
    np.testing.assert_array_equal(tg.cast(A, tg.float64).numpy(), a.real)  # TF: real part
    for fn in (tg.maximum, tg.less):
        with pytest.raises(TypeError, match="complex"):
            fn(A, A)
    with pytest.raises(TypeError, match="reduce_max: .*complex"):
        tg.reduce_max(A)


def _numeric_grad(f, z, eps=1e-6):
    """dL/dx + i dL/dy by central differences on the real and imaginary parts."""
    g = np.zeros(z.shape, complex)
    for idx in np.ndindex(z.shape):
        for unit in (1.0, 1j):
            zp, zm = z.copy(), z.copy()
            zp[idx] += eps * unit
            zm[idx] -= eps * unit
            d = (float(f(tg.constant(zp))) - float(f(tg.constant(zm)))) / (2 * eps)
            g[idx] += d * (1 if unit == 1.0 else 1j)
    return g


LOSSES = [
    ("abs2", lambda z: tg.reduce_sum(tg.square(tg.math.abs(z)))),
    ("real_exp", lambda z: tg.reduce_sum(tg.real(tg.exp(z) * z))),
    ("imag_log", lambda z: tg.reduce_sum(tg.imag(tg.log(z + 3.0)))),
    ("angle", lambda z: tg.reduce_sum(tg.math.angle(z) * tg.real(z))),
    ("matmul", lambda z: tg.reduce_sum(tg.math.abs(tg.matmul(z, tg.conj(z), transpose_b=True)))),
    ("fft", lambda z: tg.reduce_sum(tg.real(tg.signal.fft(z)) ** 2)),
    ("ifft2d", lambda z: tg.reduce_sum(tg.imag(tg.signal.ifft2d(z * z)))),
    ("irfft", lambda z: tg.reduce_sum(tg.signal.irfft(z) ** 3)),
    ("cast", lambda z: tg.reduce_sum(tg.cast(z * z, tg.float64))),
    ("sqrt_div", lambda z: tg.reduce_sum(tg.math.abs(tg.sqrt(z + 4.0) / (z + 2.0)))),
]


@pytest.mark.parametrize("name, loss", LOSSES, ids=[n for n, _ in LOSSES])
def test_complex_gradient_convention(name, loss):
    """tape.gradient(L, z) == dL/dx + i dL/dy (PyTorch/TF), so z - lr*grad descends."""
    z0 = _c((2, 3))
    z = tg.constant(z0)
    with tg.GradientTape() as tape:
        tape.watch(z)
        y = loss(z)
    g = tape.gradient(y, z)
    assert g.dtype == tg.complex128
    np.testing.assert_allclose(g.numpy(), _numeric_grad(loss, z0), rtol=1e-6, atol=1e-7)
    step = z0 - 1e-4 * g.numpy()
    assert float(loss(tg.constant(step))) < float(y)


def test_complex_second_order_hvp_matches_numeric():
    z0 = _c((3,))

    def loss(z):
        return tg.reduce_sum(tg.square(tg.math.abs(tg.exp(z))))

    def grad(z):
        with tg.GradientTape() as tape:
            tape.watch(z)
            y = loss(z)
        return tape.gradient(y, z)

    z = tg.constant(z0)
    v = _c((3,))
    with tg.GradientTape() as outer:
        outer.watch(z)
        g = grad(z)
        s = tg.reduce_sum(tg.real(g * tg.conj(tg.constant(v))))
    h = outer.gradient(s, z).numpy()
    num = _numeric_grad(lambda w: tg.reduce_sum(tg.real(grad(w) * tg.conj(tg.constant(v)))), z0)
    np.testing.assert_allclose(h, num, rtol=1e-5, atol=1e-6)


def test_complex_variable_descends():
    w = tg.Variable(np.array([1 + 1j, -2 + 0.5j]))
    target = np.array([0.5 - 1j, 1 + 2j])
    for _ in range(200):
        with tg.GradientTape() as tape:
            loss = tg.reduce_sum(tg.square(tg.math.abs(w - target)))
        g = tape.gradient(loss, w)
        w.assign_sub(0.1 * g)
    np.testing.assert_allclose(w.numpy(), target, atol=1e-8)


def test_forward_mode_on_complex():
    z = tg.constant(_c((3,)))
    t = tg.constant(_c((3,)))
    _, jv = tg.jvp(lambda w: tg.exp(w) * w, [z], [t])
    zz, tt = z.numpy(), t.numpy()
    np.testing.assert_allclose(jv.numpy(), (np.exp(zz) * zz + np.exp(zz)) * tt, rtol=1e-12)


def test_complex_linalg_values_and_gradient_convention():
    L = tg.linalg
    a = _c((2, 3, 3)) + 3 * np.eye(3)
    b = _c((2, 3, 2))
    np.testing.assert_array_equal(L.inv(a).numpy(), np.linalg.inv(a))
    np.testing.assert_array_equal(L.solve(a, b).numpy(), np.linalg.solve(a, b))
    np.testing.assert_array_equal(L.det(a).numpy(), np.linalg.det(a))
    sign, lad = L.slogdet(a)
    rs, rl = np.linalg.slogdet(a)
    np.testing.assert_array_equal(sign.numpy(), rs)
    np.testing.assert_array_equal(lad.numpy(), rl)
    assert lad.dtype == np.float64
    np.testing.assert_allclose(L.triangular_solve(a, b).numpy(),
                               np.linalg.solve(np.tril(a), b), rtol=1e-12)
    import scipy.linalg

    np.testing.assert_allclose(L.expm(a[0] * 0.3).numpy(), scipy.linalg.expm(a[0] * 0.3),
                               rtol=1e-12)
    a0 = a[0]

    def loss(z):
        return tg.reduce_sum(tg.math.abs(L.inv(z))) + tg.math.abs(L.det(z))

    z = tg.constant(a0)
    with tg.GradientTape() as tape:
        tape.watch(z)
        y = loss(z)
    np.testing.assert_allclose(tape.gradient(y, z).numpy(), _numeric_grad(loss, a0),
                               rtol=1e-6, atol=1e-7)
    h = a + np.conj(np.swapaxes(a, -1, -2))
    e, v = L.eigh(h)
    re, rv = np.linalg.eigh(h)
    assert e.dtype == np.float64
    np.testing.assert_array_equal(e.numpy(), re)
    np.testing.assert_array_equal(v.numpy(), rv)
    np.testing.assert_array_equal(L.eigvalsh(h).numpy(), np.linalg.eigvalsh(h))
    s, u, v = L.svd(a)
    ru, rs, rvh = np.linalg.svd(a, full_matrices=False)
    assert s.dtype == np.float64 and u.dtype == v.dtype == np.complex128
    np.testing.assert_array_equal(s.numpy(), rs)
    np.testing.assert_array_equal(u.numpy(), ru)
    np.testing.assert_array_equal(v.numpy(), np.conj(np.swapaxes(rvh, -1, -2)))
    np.testing.assert_array_equal(L.svd(a, compute_uv=False).numpy(),
                                  np.linalg.svd(a, compute_uv=False))
    q, r = L.qr(a)
    rq, rr = np.linalg.qr(a)
    np.testing.assert_array_equal(q.numpy(), rq)
    np.testing.assert_array_equal(r.numpy(), rr)
    np.testing.assert_array_equal(L.pinv(a[0, :2]).numpy(),
                                  np.linalg.pinv(a[0, :2], rcond=10 * 3 * np.finfo(float).eps))
    with pytest.raises(TypeError, match="svd: .*int32"):
        L.svd(np.ones((2, 2), np.int32))


def test_complex_cholesky_family():
    L = tg.linalg
    z = _c((2, 3, 3))
    h = z @ np.conj(np.swapaxes(z, -1, -2)) + 3 * np.eye(3)
    b = _c((2, 3, 2))
    np.testing.assert_array_equal(L.cholesky(h).numpy(), np.linalg.cholesky(h))
    np.testing.assert_allclose(L.cholesky_solve(np.linalg.cholesky(h), b).numpy(),
                               np.linalg.solve(h, b), rtol=1e-10)
    np.testing.assert_allclose(L.logdet(h).numpy(), np.linalg.slogdet(h)[1], rtol=1e-12)
    ah = np.conj(np.swapaxes(z, -1, -2))
    np.testing.assert_allclose(L.solve(z + 3 * np.eye(3), b, adjoint=True).numpy(),
                               np.linalg.solve(ah + 3 * np.eye(3), b), rtol=1e-10)
    np.testing.assert_allclose(L.triangular_solve(z + 3 * np.eye(3), b, adjoint=True).numpy(),
                               np.linalg.solve(np.tril(z + 3 * np.eye(3)).conj().swapaxes(-1, -2),
                                               b), rtol=1e-10)

    def loss(w):
        hh = tg.matmul(w, tg.conj(w), transpose_b=True) + tg.constant(3 * np.eye(3) + 0j)
        return tg.reduce_sum(tg.math.abs(L.cholesky(hh))) + tg.real(
            tg.reduce_sum(L.cholesky_solve(L.cholesky(hh), tg.constant(b[0]))))

    w0 = z[0]
    w = tg.constant(w0)
    with tg.GradientTape() as tape:
        tape.watch(w)
        y = loss(w)
    np.testing.assert_allclose(tape.gradient(y, w).numpy(), _numeric_grad(loss, w0),
                               rtol=1e-6, atol=1e-7)


def test_complex_lstsq():
    L = tg.linalg
    a = _c((5, 3))
    b = _c((5, 2))
    np.testing.assert_allclose(L.lstsq(a, b).numpy(), np.linalg.lstsq(a, b, rcond=None)[0],
                               rtol=1e-10)
    w = _c((2, 4))
    y = _c((2, 1))
    np.testing.assert_allclose(L.lstsq(w, y).numpy(), np.linalg.lstsq(w, y, rcond=None)[0],
                               rtol=1e-10)

    def loss(z):
        return tg.reduce_sum(tg.math.abs(L.lstsq(z, tg.constant(b), l2_regularizer=0.1)))

    z = tg.constant(a)
    with tg.GradientTape() as tape:
        tape.watch(z)
        val = loss(z)
    np.testing.assert_allclose(tape.gradient(val, z).numpy(), _numeric_grad(loss, a),
                               rtol=1e-6, atol=1e-7)


def test_complex_norms():
    z = _c((3, 4))
    z[0, 0] = 0.0
    for kw in ({}, {"axis": 1}, {"ord": 1, "axis": [0, 1]}, {"ord": np.inf, "axis": [0, 1]},
               {"ord": 3}, {"axis": [0, 1]}):
        ref_kw = dict(kw)
        if "axis" in ref_kw:
            ref_kw["axis"] = tuple(ref_kw["axis"]) if isinstance(ref_kw["axis"], list) \
                else ref_kw["axis"]
            ref = np.linalg.norm(z, **ref_kw)
        else:
            ref = np.linalg.norm(z.ravel(), ref_kw.get("ord"))
        got = tg.norm(z, **kw)
        assert got.dtype == np.float64
        np.testing.assert_allclose(got.numpy(), ref, rtol=1e-12)

    def loss(w):
        return tg.reduce_sum(tg.norm(w, axis=1)) + tg.norm(w, ord=3)

    w = tg.constant(z)
    with tg.GradientTape() as tape:
        tape.watch(w)
        y = loss(w)
    np.testing.assert_allclose(tape.gradient(y, w).numpy(), _numeric_grad(loss, z), rtol=1e-6,
                               atol=1e-6)


def test_abs_and_pow_operators_on_complex_tensors():
    z = tg.constant(np.array([1 + 1j, 2 - 1j, 0j]))
    np.testing.assert_allclose(abs(z).numpy(), np.abs(z.numpy()))       # the magnitude
    assert abs(z).dtype == tg.float64
    np.testing.assert_allclose((z ** 2).numpy(), z.numpy() ** 2)        # exact at 0
    np.testing.assert_allclose((z ** 3.0).numpy(), z.numpy() ** 3)
    np.testing.assert_allclose((z[:2] ** (0.5 + 1j)).numpy(), z.numpy()[:2] ** (0.5 + 1j))
    np.testing.assert_allclose((2.0 ** z).numpy(), 2.0 ** z.numpy())
    with pytest.raises(TypeError, match="pow: dtypes differ"):
        z ** tg.constant(np.array([1 + 0j], np.complex64))

    def loss(v):
        w = tg.complex(v, 0.5 * v)
        return tg.reduce_sum(tg.real(w ** 3) + abs(w) + tg.imag(w ** (0.5 + 0.25j)))
    tg.check_grads(loss, [np.array([0.3, -1.2, 2.0])], order=2, modes=("rev", "fwd"))
