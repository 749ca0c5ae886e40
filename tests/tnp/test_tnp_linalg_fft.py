"""tapegrad.numpy's linalg and fft extensions and its complex dtypes: values against
NumPy's own ``np.linalg`` / ``np.fft`` (the standard's reference behaviour), gradients
checked numerically in float64 in both modes and to second order, and against PyTorch
where it has the function."""

import math

import numpy as np
import pytest

import tapegrad as tg
import tapegrad.numpy as tnp

la = tnp.linalg
RNG = np.random.default_rng(7)
M = RNG.standard_normal((2, 4, 4))
SPD = M @ np.swapaxes(M, -1, -2) + 4 * np.eye(4)
RECT = RNG.standard_normal((3, 5, 2))
SIG = RNG.standard_normal((3, 4, 6))
CSIG = SIG + 1j * RNG.standard_normal(SIG.shape)


def _np(t):
    return np.asarray(t.numpy())


def _close(t, want, **kw):
    np.testing.assert_allclose(_np(t), want, rtol=kw.get("rtol", 1e-10),
                               atol=kw.get("atol", 1e-10))


# ---------------------------------------------------------------------------
# linalg: values

def test_linalg_has_every_function_of_the_extension():
    names = ["cholesky", "cross", "det", "diagonal", "eigh", "eigvalsh", "inv", "matmul",
             "matrix_norm", "matrix_power", "matrix_rank", "matrix_transpose", "outer",
             "pinv", "qr", "slogdet", "solve", "svd", "svdvals", "tensordot", "trace",
             "vecdot", "vector_norm"]
    assert all(callable(getattr(la, n)) for n in names)
    assert la.LinAlgError is tg.linalg.LinAlgError


def test_decompositions_match_numpy_with_the_standards_conventions():
    _close(la.cholesky(SPD), np.linalg.cholesky(SPD))
    _close(la.cholesky(SPD, upper=True), np.linalg.cholesky(SPD, upper=True))
    _close(la.det(M), np.linalg.det(M))
    _close(la.inv(M), np.linalg.inv(M))
    res = la.eigh(SPD)
    assert type(res).__name__ == "EighResult" and res._fields == ("eigenvalues",
                                                                  "eigenvectors")
    _close(res.eigenvalues, np.linalg.eigvalsh(SPD))
    _close(la.eigvalsh(SPD), np.linalg.eigvalsh(SPD))
    sd = la.slogdet(M)
    _close(sd.sign, np.linalg.slogdet(M).sign)
    _close(sd.logabsdet, np.linalg.slogdet(M).logabsdet)
    # svd: (U, S, Vh), full_matrices=True by default
    u, s, vh = la.svd(RECT)
    assert (u.shape, s.shape, vh.shape) == ((3, 5, 5), (3, 2), (3, 2, 2))
    np.testing.assert_allclose((_np(u)[..., :2] * _np(s)[:, None, :]) @ _np(vh), RECT,
                               atol=1e-12)
    assert la.svd(RECT, full_matrices=False).U.shape == (3, 5, 2)
    _close(la.svdvals(RECT), np.linalg.svd(RECT, compute_uv=False))
    q, r = la.qr(RECT)
    assert (q.shape, r.shape) == ((3, 5, 2), (3, 2, 2))
    qc, rc = la.qr(RECT, mode="complete")
    assert (qc.shape, rc.shape) == ((3, 5, 5), (3, 5, 2))
    np.testing.assert_allclose(_np(qc) @ _np(rc), RECT, atol=1e-12)
    with pytest.raises(ValueError, match="mode"):
        la.qr(RECT, mode="r")
    _close(la.pinv(RECT), np.linalg.pinv(RECT))


def test_solvers_products_and_diagonals_match_numpy():
    b = RNG.standard_normal((2, 4, 3))
    v = RNG.standard_normal(4)
    _close(la.solve(M, b), np.linalg.solve(M, b))
    _close(la.solve(M, v), np.linalg.solve(M, v))          # a vector right-hand side
    _close(la.solve(M, b[:1]), np.linalg.solve(M, b[:1]))  # batch axes broadcast
    x, y = RNG.standard_normal((3, 5)), RNG.standard_normal((3, 1))
    _close(la.cross(x, np.broadcast_to(y, (3, 5)), axis=0),
           np.linalg.cross(x, np.broadcast_to(y, (3, 5)), axis=0))
    with pytest.raises(ValueError, match="size 3"):
        la.cross(x, x, axis=1)
    for n in (0, 1, 2, 3, 6, -1, -3):
        _close(la.matrix_power(M, n), np.linalg.matrix_power(M, n), rtol=1e-8)
    assert _np(la.matrix_power(np.array([[1, 1], [0, 1]]), 5)).tolist() == [[1, 5], [0, 1]]
    low = RNG.standard_normal((4, 2)) @ RNG.standard_normal((2, 6))
    assert int(_np(la.matrix_rank(low))) == 2 == np.linalg.matrix_rank(low)
    assert _np(la.matrix_rank(RECT)).dtype == np.int64
    for off in (-3, -1, 0, 1, 2, 7):
        _close(la.diagonal(RECT, offset=off), np.linalg.diagonal(RECT, offset=off))
        _close(la.trace(RECT, offset=off), np.linalg.trace(RECT, offset=off))
    ints = np.arange(12).reshape(3, 4)
    assert _np(la.trace(ints)).dtype == np.int64 and int(_np(la.trace(ints))) == 15
    _close(la.outer(v, v), np.outer(v, v))
    c1 = RNG.standard_normal((3, 4)) + 1j * RNG.standard_normal((3, 4))
    c2 = RNG.standard_normal((3, 4)) + 1j * RNG.standard_normal((3, 4))
    _close(la.vecdot(c1, c2), np.linalg.vecdot(c1, c2))     # conjugates x1


@pytest.mark.parametrize("ord", ["fro", "nuc", 1, -1, 2, -2, math.inf, -math.inf])
def test_matrix_norm_matches_numpy(ord):
    _close(la.matrix_norm(RECT, ord=ord), np.linalg.matrix_norm(RECT, ord=ord))
    assert la.matrix_norm(RECT, ord=ord, keepdims=True).shape == (3, 1, 1)


@pytest.mark.parametrize("ord", [2, 1, 3, 0.5, 0, -1, -2.5, math.inf, -math.inf])
@pytest.mark.parametrize("axis", [None, 1, -1, (0, 2)])
def test_vector_norm_matches_numpy(ord, axis):
    x = RECT
    _close(la.vector_norm(x, ord=ord, axis=axis), np.linalg.vector_norm(x, ord=ord, axis=axis))
    assert la.vector_norm(x, ord=ord, axis=axis, keepdims=True).shape == \
        np.linalg.vector_norm(x, ord=ord, axis=axis, keepdims=True).shape
    c = CSIG[0]
    out = la.vector_norm(c, ord=ord, axis=axis if axis != (0, 2) else (0, 1))
    assert _np(out).dtype == np.float64
    _close(out, np.linalg.vector_norm(c, ord=ord, axis=axis if axis != (0, 2) else (0, 1)))


def test_numpy_norm_spelling():
    _close(la.norm(RECT[0]), np.linalg.norm(RECT[0]))
    _close(la.norm(RECT[0], ord=2), np.linalg.norm(RECT[0], ord=2))
    _close(la.norm(RECT, axis=1), np.linalg.norm(RECT, axis=1))
    _close(la.norm(RECT, ord="nuc", axis=(0, 1), keepdims=True),
           np.linalg.norm(RECT, ord="nuc", axis=(0, 1), keepdims=True))


# ---------------------------------------------------------------------------
# linalg: gradients (float64, reverse and forward mode, second order)

@pytest.mark.parametrize("fn", [
    lambda a: tnp.sum(la.cholesky(a @ a.mT + 4 * tnp.eye(4), upper=True) ** 2),
    lambda a: tnp.sum(la.inv(a + 3 * tnp.eye(4))) + la.det(a),
    lambda a: tnp.sum(la.eigh(a + a.mT).eigenvalues ** 3),
    lambda a: la.slogdet(a + 3 * tnp.eye(4)).logabsdet,
    lambda a: tnp.sum(la.solve(a + 3 * tnp.eye(4), a[:, 0])),
    lambda a: tnp.sum(la.svdvals(a)) + tnp.sum(la.matrix_power(a, 3)),
    lambda a: tnp.sum(la.matrix_power(a + 3 * tnp.eye(4), -2)),
    lambda a: tnp.sum(la.diagonal(a, offset=1) ** 2) + la.trace(a, offset=-1),
    lambda a: tnp.sum(la.cross(a[:3], a[1:], axis=0)),
    lambda a: la.vector_norm(a, ord=3) + la.vector_norm(a, ord=-math.inf)
    + tnp.sum(la.vector_norm(a, axis=0, ord=0.5)),
    lambda a: la.matrix_norm(a, ord="nuc") + la.matrix_norm(a, ord=-1)
    + la.matrix_norm(a, ord=-2),
    lambda a: tnp.sum(la.qr(a).R ** 2) + tnp.sum(la.pinv(a[:, :3]) ** 2),
])
def test_linalg_gradients_both_modes_second_order(fn):
    a = M[0] + np.diag([0.5, 1.5, 2.5, 3.5])  # distinct singular values, no ties
    tg.check_grads(fn, [a], order=2, modes=("rev", "fwd"))


def test_svd_of_the_standard_is_differentiable_for_square_input():
    def f(a):
        u, s, vh = la.svd(a)
        return tnp.sum(s * tnp.abs(u[0])) + tnp.sum(vh[:, 0] ** 2)
    tg.check_grads(f, [M[0] + np.diag([0.5, 1.5, 2.5, 3.5])], order=1, modes=("rev", "fwd"))


def test_linalg_gradients_match_torch():
    torch = pytest.importorskip("torch")
    a = M[0]
    ta = torch.tensor(a, requires_grad=True)
    torch.linalg.matrix_norm(ta, ord=-2).backward()
    g = tg.grad(lambda x: la.matrix_norm(x, ord=-2))(tnp.asarray(a))
    np.testing.assert_allclose(_np(g), ta.grad.numpy(), rtol=1e-9, atol=1e-12)
    ta = torch.tensor(a, requires_grad=True)
    torch.linalg.vector_norm(ta, ord=0.5, dim=0).sum().backward()
    g = tg.grad(lambda x: tnp.sum(la.vector_norm(x, ord=0.5, axis=0)))(tnp.asarray(a))
    np.testing.assert_allclose(_np(g), ta.grad.numpy(), rtol=1e-9)


CM = RNG.standard_normal((2, 4, 3)) + 1j * RNG.standard_normal((2, 4, 3))


def test_complex_matrices_match_numpy():
    for shape in [(2, 4, 3), (3, 5), (1, 1), (5, 1), (1, 4)]:
        a = RNG.standard_normal(shape) + 1j * RNG.standard_normal(shape)
        for mode in ("reduced", "complete"):
            q, r = la.qr(a, mode=mode)
            qn, rn = np.linalg.qr(a, mode=mode)
            _close(q, qn)          # LAPACK's reflections: the same Q and R, real diag(R)
            _close(r, rn)
            assert np.array_equal(_np(r), np.triu(_np(r)))
    for z in (np.zeros((3, 2), complex), np.array([[1j, 0], [0, 2]]),
              np.array([[2.0, 1], [0, 3]]) + 0j):
        q, r = la.qr(z)
        _close(q, np.linalg.qr(z)[0])
        _close(r, np.linalg.qr(z)[1])
    _close(la.svdvals(CM), np.linalg.svd(CM, compute_uv=False), rtol=1e-13)
    _close(la.svdvals(CM * 1e200), np.linalg.svd(CM * 1e200, compute_uv=False), rtol=1e-13,
           atol=0)
    _close(la.pinv(CM), np.linalg.pinv(CM))
    for ord in ("fro", "nuc", 1, -1, 2, -2, math.inf, -math.inf):
        _close(la.matrix_norm(CM, ord=ord), np.linalg.matrix_norm(CM, ord=ord))
    assert int(_np(la.matrix_rank(CM[0]))) == 3
    spd = np.swapaxes(CM, -1, -2).conj() @ CM + np.eye(3)
    _close(la.cholesky(spd), np.linalg.cholesky(spd))
    _close(la.eigvalsh(spd), np.linalg.eigvalsh(spd))
    _close(la.det(spd), np.linalg.det(spd))
    for full in (True, False):
        u, s_, vh = la.svd(CM, full_matrices=full)
        k = min(CM.shape[-2:])
        rebuilt = (_np(u)[..., :, :k] * _np(s_)[..., None, :]) @ _np(vh)[..., :k, :]
        np.testing.assert_allclose(rebuilt, CM, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(_np(s_), np.linalg.svd(CM, compute_uv=False), rtol=1e-13)


def test_pinv_with_a_cutoff_per_matrix():
    x = RNG.standard_normal((2, 3, 3))
    x[1] = np.outer([1.0, 2.0, 3.0], [1.0, 0.5, 0.2]) + 1e-3 * x[1]
    rtol = np.array([1e-15, 1e-2])
    _close(la.pinv(x, rtol=rtol), np.linalg.pinv(x, rtol=rtol))
    assert la.pinv(np.zeros((0, 2, 3))).shape == (0, 3, 2)


def _complex_input(v):
    # a complex matrix that depends on the real parameters v (3,)
    return tnp.asarray(CM[0]) * tnp.fft.fft(v)[None, :]


@pytest.mark.parametrize("fn", [
    lambda v: tnp.sum(la.svdvals(_complex_input(v)) * tnp.asarray([1.0, 2.0, 3.0])),
    lambda v: tnp.sum(tnp.real(la.qr(_complex_input(v)).Q) * tnp.asarray(CM[0].real))
    + tnp.sum(tnp.imag(la.qr(_complex_input(v)).R) ** 2),
    lambda v: tnp.sum(tnp.abs(la.pinv(_complex_input(v))) ** 2),
    lambda v: la.matrix_norm(_complex_input(v), ord=2) + la.matrix_norm(_complex_input(v),
                                                                        ord="nuc"),
])
def test_complex_matrix_gradients(fn):
    tg.check_grads(fn, [SIG[0, 0, :3]], order=2, modes=("rev", "fwd"))


def test_complex_matrix_gradients_match_torch():
    torch = pytest.importorskip("torch")
    v = SIG[0, 0, :3]
    tv = torch.tensor(v, requires_grad=True)
    a = torch.tensor(CM[0]) * torch.fft.fft(tv)[None, :]
    q, r = torch.linalg.qr(a)
    loss = (torch.linalg.svdvals(a) * torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)).sum() \
        + (q.real * torch.tensor(CM[0].real)).sum() + (r.imag ** 2).sum()
    loss.backward()

    def f(x):
        a = _complex_input(x)
        q, r = la.qr(a)
        return tnp.sum(la.svdvals(a) * tnp.asarray([1.0, 2.0, 3.0])) + \
            tnp.sum(tnp.real(q) * tnp.asarray(CM[0].real)) + tnp.sum(tnp.imag(r) ** 2)
    np.testing.assert_allclose(_np(tg.grad(f)(tnp.asarray(v))), tv.grad.numpy(), rtol=1e-9)


# ---------------------------------------------------------------------------
# fft

def test_fft_has_every_function_of_the_extension():
    names = ["fft", "ifft", "fftn", "ifftn", "rfft", "irfft", "rfftn", "irfftn", "hfft",
             "ihfft", "fftfreq", "rfftfreq", "fftshift", "ifftshift"]
    assert all(callable(getattr(tnp.fft, n)) for n in names)


@pytest.mark.parametrize("norm", ["backward", "ortho", "forward"])
def test_transforms_match_numpy(norm):
    f = tnp.fft
    _close(f.fft(CSIG, norm=norm), np.fft.fft(CSIG, norm=norm))
    _close(f.fft(CSIG, n=9, axis=1, norm=norm), np.fft.fft(CSIG, n=9, axis=1, norm=norm))
    _close(f.ifft(CSIG, n=3, axis=0, norm=norm), np.fft.ifft(CSIG, n=3, axis=0, norm=norm))
    _close(f.fftn(CSIG, norm=norm), np.fft.fftn(CSIG, norm=norm))
    _close(f.fftn(CSIG, s=(5, -1), axes=(2, 0), norm=norm),
           np.fft.fftn(CSIG, s=(5, CSIG.shape[0]), axes=(2, 0), norm=norm))
    _close(f.ifftn(CSIG, s=(2, 7), axes=(0, 2), norm=norm),
           np.fft.ifftn(CSIG, s=(2, 7), axes=(0, 2), norm=norm))
    _close(f.rfft(SIG, n=7, axis=1, norm=norm), np.fft.rfft(SIG, n=7, axis=1, norm=norm))
    _close(f.rfftn(SIG, axes=(0, 1), norm=norm), np.fft.rfftn(SIG, axes=(0, 1), norm=norm))
    _close(f.irfft(CSIG, norm=norm), np.fft.irfft(CSIG, norm=norm))
    _close(f.irfft(CSIG, n=5, axis=0, norm=norm), np.fft.irfft(CSIG, n=5, axis=0, norm=norm))
    _close(f.irfftn(CSIG, s=(3, 4, 9), axes=(0, 1, 2), norm=norm),
           np.fft.irfftn(CSIG, s=(3, 4, 9), axes=(0, 1, 2), norm=norm))
    _close(f.hfft(CSIG, norm=norm), np.fft.hfft(CSIG, norm=norm))
    _close(f.hfft(CSIG, n=7, axis=1, norm=norm), np.fft.hfft(CSIG, n=7, axis=1, norm=norm))
    _close(f.ihfft(SIG, norm=norm), np.fft.ihfft(SIG, norm=norm))
    _close(f.ihfft(SIG, n=5, axis=0, norm=norm), np.fft.ihfft(SIG, n=5, axis=0, norm=norm))


def test_fft_dtypes_helpers_and_errors():
    f = tnp.fft
    x32 = SIG.astype(np.float32)
    assert f.fft(x32).dtype == np.complex64            # real input promotes, same precision
    assert f.rfft(x32).dtype == np.complex64 and f.irfft(f.rfft(x32)).dtype == np.float32
    _close(f.irfft(f.rfft(SIG), n=6), SIG)
    _close(f.fftfreq(7, d=0.25), np.fft.fftfreq(7, d=0.25))
    _close(f.rfftfreq(8), np.fft.rfftfreq(8))
    assert f.fftfreq(4, dtype=tnp.float32).dtype == np.float32
    _close(f.fftshift(SIG), np.fft.fftshift(SIG))
    _close(f.fftshift(SIG, axes=1), np.fft.fftshift(SIG, axes=1))
    _close(f.ifftshift(SIG, axes=(0, 2)), np.fft.ifftshift(SIG, axes=(0, 2)))
    with pytest.raises(ValueError, match="norm"):
        f.fft(CSIG, norm="none")
    with pytest.raises(ValueError, match="axes"):
        f.fftn(CSIG, axes=(0, 0))
    with pytest.raises(TypeError, match="rfft"):
        f.rfft(CSIG)


@pytest.mark.parametrize("fn", [
    lambda x: tnp.sum(tnp.abs(tnp.fft.fft(x, n=8, norm="ortho")) ** 2),
    lambda x: tnp.sum(tnp.real(tnp.pow(tnp.fft.fftn(x, axes=(0, 1), s=(3, 5)), 2))),
    lambda x: tnp.sum(tnp.imag(tnp.fft.ifftn(x * x, norm="forward")) ** 3),
    lambda x: tnp.sum(tnp.abs(tnp.fft.rfftn(x, axes=(1, 0))) ** 2),
    lambda x: tnp.sum(tnp.fft.irfft(tnp.fft.rfft(x, n=7), n=5) ** 2),
    lambda x: tnp.sum(tnp.fft.irfftn(tnp.fft.rfftn(x) * 2.0, s=(2, 6), axes=(0, 1)) ** 3),
    lambda x: tnp.sum(tnp.fft.hfft(tnp.fft.ihfft(x, axis=0), n=4, axis=0, norm="ortho") ** 2),
    lambda x: tnp.sum(tnp.fft.fftshift(x, axes=1) * tnp.arange(6.0)),
])
def test_fft_gradients_both_modes_second_order(fn):
    tg.check_grads(fn, [SIG[0]], order=2, modes=("rev", "fwd"))


def test_fft_gradients_match_torch():
    torch = pytest.importorskip("torch")
    x = SIG[0]
    tx = torch.tensor(x, requires_grad=True)
    y = torch.fft.irfftn(torch.fft.rfftn(tx, norm="ortho") ** 2, s=(4, 6), norm="ortho")
    (y ** 2).sum().backward()
    g = tg.grad(lambda v: tnp.sum(tnp.fft.irfftn(tnp.square(tnp.fft.rfftn(v, norm="ortho")),
                                                 s=(4, 6), norm="ortho") ** 2))(
        tnp.asarray(x))
    np.testing.assert_allclose(_np(g), tx.grad.numpy(), rtol=1e-9, atol=1e-12)
    tx = torch.tensor(x, requires_grad=True)
    torch.fft.hfft(torch.fft.ihfft(tx), n=6).pow(3).sum().backward()
    g = tg.grad(lambda v: tnp.sum(tnp.fft.hfft(tnp.fft.ihfft(v), n=6) ** 3))(tnp.asarray(x))
    np.testing.assert_allclose(_np(g), tx.grad.numpy(), rtol=1e-9, atol=1e-12)


# ---------------------------------------------------------------------------
# complex dtypes

def test_complex_dtypes_promotion_and_creation():
    info = tnp.__array_namespace_info__()
    assert info.default_dtypes()["complex floating"] == tnp.complex128
    assert set(info.dtypes(kind="complex floating")) == {"complex64", "complex128"}
    z = tnp.asarray([1 + 2j, 3 - 1j], dtype=tnp.complex64)
    assert z.dtype == np.complex64
    assert tnp.asarray(1j).dtype == np.complex128
    f32 = tnp.asarray([1.0], dtype=tnp.float32)
    assert tnp.add(f32, 1j).dtype == np.complex64        # weak complex scalar
    assert tnp.add(z, tnp.asarray([1.0])).dtype == np.complex128
    with pytest.raises(TypeError, match="complex"):
        tnp.add(tnp.asarray([1]), 1j)
    assert tnp.full((2,), 1 + 1j).dtype == np.complex128
    assert tnp.zeros(3, dtype=tnp.complex64).dtype == np.complex64
    assert tnp.linspace(0, 1j, 3).dtype == np.complex128
    assert tnp.isdtype(tnp.complex64, "complex floating")
    assert not tnp.can_cast(tnp.complex64, tnp.float64)
    _close(tnp.real(z), np.real(_np(z)))
    _close(tnp.imag(z), np.imag(_np(z)))
    _close(tnp.conj(z), np.conj(_np(z)))
    assert tnp.abs(z).dtype == np.float32
    _close(tnp.abs(z), np.abs(_np(z)), rtol=1e-6)


@pytest.mark.parametrize("name", ["exp", "log", "sqrt", "sin", "cos", "tanh", "square",
                                  "reciprocal", "negative", "expm1", "log1p", "tan", "sinh",
                                  "cosh", "asin", "acos", "atan", "asinh", "acosh", "atanh",
                                  "log2", "log10", "sign", "round", "isfinite", "abs"])
def test_complex_elementwise_values_match_numpy(name):
    z = 0.3 * CSIG[0]
    np_name = {"asin": "arcsin", "acos": "arccos", "atan": "arctan", "asinh": "arcsinh",
               "acosh": "arccosh", "atanh": "arctanh"}.get(name, name)
    np.testing.assert_allclose(_np(getattr(tnp, name)(z)), getattr(np, np_name)(z),
                               rtol=1e-12)


def test_complex_pow():
    z = 0.5 * CSIG[0]
    _close(tnp.pow(z, 3), z ** 3)
    _close(tnp.pow(z, 0), np.ones_like(z))
    _close(tnp.pow(z, 0.5 + 1j), z ** (0.5 + 1j))
    _close(tnp.pow(tnp.asarray([0j]), 2), [0j])
    tg.check_grads(lambda v: tnp.sum(tnp.real(tnp.pow(tnp.fft.fft(v), 3))), [SIG[0]],
                   order=2, modes=("rev", "fwd"))
    tg.check_grads(lambda v: tnp.sum(tnp.imag(tnp.pow(tnp.fft.fft(v) + 5.0, 1.5 - 0.5j))),
                   [SIG[0]], order=2, modes=("rev", "fwd"))


def test_complex_functions_are_differentiable():
    x = SIG[0]

    def f(v):
        z = tnp.fft.fft(v) * (1 + 2j)
        return tnp.sum(tnp.real(tnp.exp(0.1 * z) * tnp.conj(z))) + \
            tnp.sum(tnp.abs(z - 1j)) + tnp.sum(tnp.imag(tnp.mean(z * z, axis=0)))
    tg.check_grads(f, [x], order=2, modes=("rev", "fwd"))


def test_clip_bounds_broadcast_against_x():
    x = tnp.asarray(np.arange(3.0))
    lo = tnp.asarray(np.full((2, 3), 1.0))
    np.testing.assert_array_equal(_np(tnp.clip(x, lo)),
                                  np.clip(np.arange(3.0), np.ones((2, 3)), None))
    assert tnp.clip(tnp.zeros((0,)), tnp.zeros((0, 0))).shape == (0, 0)
    assert tnp.clip(tnp.asarray([1, 2], dtype=tnp.uint8), 300).dtype == np.uint8
