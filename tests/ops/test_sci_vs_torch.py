"""Gradients of the scientific ops against PyTorch's (skipped without torch)."""

import numpy as np
import pytest

import tapegrad as tg

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(23)
L = tg.linalg


def _wc(shape):
    return RNG.standard_normal(shape) + 2 * np.sqrt(shape[-1]) * np.eye(shape[-1])


def _tg_grads(fn, arrays):
    xs = [tg.constant(a) for a in arrays]
    with tg.GradientTape() as tape:
        tape.watch(xs)
        y = fn(*xs)
    return y.numpy(), [g.numpy() for g in tape.gradient(y, xs)]


def _torch_grads(fn, arrays):
    xs = [torch.tensor(a, requires_grad=True) for a in arrays]
    y = fn(*xs)
    gs = torch.autograd.grad(y, xs)
    return y.detach().numpy(), [g.numpy() for g in gs]


def _sym_tg(x):
    return x + tg.linalg.matrix_transpose(x)


def _sym_t(x):
    return x + x.transpose(-1, -2)


W = RNG.standard_normal((2, 4, 4))
W3 = RNG.standard_normal((2, 5, 3))
CASES = [
    ("inv", lambda a: tg.reduce_sum(L.inv(a) * W), lambda a: (torch.linalg.inv(a) * torch.tensor(
        W)).sum(), [_wc((2, 4, 4))]),
    ("solve", lambda a, b: tg.reduce_sum(L.solve(a, b) ** 2),
     lambda a, b: (torch.linalg.solve(a, b) ** 2).sum(), [_wc((2, 4, 4)), RNG.standard_normal(
         (2, 4, 3))]),
    ("solve_adjoint", lambda a, b: tg.reduce_sum(L.solve(a, b, adjoint=True) ** 2),
     lambda a, b: (torch.linalg.solve(a.mT, b) ** 2).sum(),
     [_wc((4, 4)), RNG.standard_normal((4, 2))]),
    ("triangular_solve", lambda a, b: tg.reduce_sum(L.triangular_solve(a, b, lower=True) ** 2),
     lambda a, b: (torch.linalg.solve_triangular(a.tril(), b, upper=False) ** 2).sum(),
     [_wc((2, 4, 4)), RNG.standard_normal((2, 4, 3))]),
    ("cholesky", lambda a: tg.reduce_sum(L.cholesky(tg.matmul(a, a, transpose_b=True) + 4.0 *
                                                    tg.eye(4, dtype=tg.float64)) * W),
     lambda a: (torch.linalg.cholesky(a @ a.mT + 4.0 * torch.eye(4, dtype=torch.float64)) *
                torch.tensor(W)).sum(), [RNG.standard_normal((2, 4, 4))]),
    ("eigh", lambda a: tg.reduce_sum(L.eigh(_sym_tg(a))[0] * np.arange(4.0)) + tg.reduce_sum(
        (lambda v: v * v[..., :1, :])(L.eigh(_sym_tg(a))[1]) * W),
     lambda a: (torch.linalg.eigh(_sym_t(a))[0] * torch.arange(4.0, dtype=torch.float64)).sum() +
     ((lambda v: v * v[..., :1, :])(torch.linalg.eigh(_sym_t(a))[1]) * torch.tensor(W)).sum(),
     [RNG.standard_normal((2, 4, 4))]),
    ("svd", lambda a: (lambda s, u, v: tg.reduce_sum(s * np.arange(3.0)) + tg.reduce_sum(
        u * u[..., :1, :] * W3) + tg.reduce_sum(v * v[..., :1, :]))(*L.svd(a)),
     lambda a: (lambda u, s, vh: (s * torch.arange(3.0, dtype=torch.float64)).sum() + (
         u * u[..., :1, :] * torch.tensor(W3)).sum() + (vh.mT * vh.mT[..., :1, :]).sum())(
         *torch.linalg.svd(a, full_matrices=False)), [RNG.standard_normal((2, 5, 3))]),
    ("qr", lambda a: (lambda q, r: tg.reduce_sum(q * W3) + tg.reduce_sum(r ** 2))(*L.qr(a)),
     lambda a: (lambda q, r: (q * torch.tensor(W3)).sum() + (r ** 2).sum())(
         *torch.linalg.qr(a)), [RNG.standard_normal((2, 5, 3))]),
    ("det", lambda a: tg.reduce_sum(L.det(a) ** 2), lambda a: (torch.linalg.det(a) ** 2).sum(),
     [_wc((2, 4, 4))]),
    ("slogdet", lambda a: tg.reduce_sum(L.slogdet(a)[1]),
     lambda a: torch.linalg.slogdet(a)[1].sum(), [_wc((2, 4, 4))]),
    ("pinv", lambda a: tg.reduce_sum(L.pinv(a) ** 2), lambda a: (torch.linalg.pinv(a) ** 2).sum(),
     [RNG.standard_normal((2, 5, 3))]),
    ("expm", lambda a: tg.reduce_sum(L.expm(a) * W), lambda a: (torch.linalg.matrix_exp(a) *
                                                              torch.tensor(W)).sum(),
     [RNG.standard_normal((2, 4, 4)) * 0.5]),
    ("lgamma_digamma", lambda x: tg.reduce_sum(tg.math.lgamma(x) * tg.math.digamma(x)),
     lambda x: (torch.lgamma(x) * torch.digamma(x)).sum(), [RNG.uniform(0.5, 3, 6)]),
    ("erf_erfinv", lambda x: tg.reduce_sum(tg.math.erf(x) * tg.math.erfinv(x * 0.5)),
     lambda x: (torch.erf(x) * torch.erfinv(x * 0.5)).sum(), [RNG.uniform(-1, 1, 6)]),
    ("i0e_i1e", lambda x: tg.reduce_sum(tg.math.bessel_i0e(x) * tg.math.bessel_i1e(x)),
     lambda x: (torch.special.i0e(x) * torch.special.i1e(x)).sum(), [RNG.uniform(-3, 3, 6)]),
    ("xlogy_atan2", lambda x, y: tg.reduce_sum(tg.math.xlogy(x, y) + tg.math.atan2(x, y)),
     lambda x, y: (torch.xlogy(x, y) + torch.atan2(x, y)).sum(),
     [RNG.uniform(-1, 1, 6), RNG.uniform(0.5, 2, 6)]),
    ("polygamma", lambda x: tg.reduce_sum(tg.math.polygamma(np.full(6, 2.0), x)),
     lambda x: torch.polygamma(2, x).sum(), [RNG.uniform(0.5, 3, 6)]),
    ("igamma", lambda x: tg.reduce_sum(tg.math.igamma(np.full(6, 1.7), x)),
     lambda x: torch.special.gammainc(torch.full((6,), 1.7, dtype=torch.float64), x).sum(),
     [RNG.uniform(0.5, 3, 6)]),
    ("norm_matrix", lambda a: tg.norm(a, ord="nuc", axis=[-2, -1]) + tg.norm(a, ord=2, axis=[
        -2, -1]), lambda a: torch.linalg.matrix_norm(a, "nuc") + torch.linalg.matrix_norm(a, 2),
     [RNG.standard_normal((4, 3))]),
    ("rfft_irfft", lambda x: tg.reduce_sum(tg.math.abs(tg.signal.rfft(x)) ** 3) +
     tg.reduce_sum(tg.signal.irfft(tg.signal.rfft(x * x), fft_length=[10]) ** 2),
     lambda x: (torch.fft.rfft(x).abs() ** 3).sum() + (torch.fft.irfft(torch.fft.rfft(x * x),
                                                                     n=10) ** 2).sum(),
     [RNG.standard_normal((2, 8))]),
]


@pytest.mark.parametrize("name, tg_fn, torch_fn, arrays", CASES, ids=[c[0] for c in CASES])
def test_gradients_match_torch(name, tg_fn, torch_fn, arrays):
    y, gs = _tg_grads(tg_fn, arrays)
    ty, tgs = _torch_grads(torch_fn, arrays)
    np.testing.assert_allclose(y, ty, rtol=1e-9, atol=1e-10)
    for g, tgr in zip(gs, tgs):
        np.testing.assert_allclose(g, tgr, rtol=1e-7, atol=1e-9)


COMPLEX_CASES = [
    ("abs_exp", lambda z: tg.reduce_sum(tg.math.abs(tg.exp(z) * z)),
     lambda z: (torch.exp(z) * z).abs().sum()),
    ("fft", lambda z: tg.reduce_sum(tg.real(tg.signal.fft(z) * tg.conj(z))),
     lambda z: (torch.fft.fft(z) * z.conj()).real.sum()),
    ("angle_imag", lambda z: tg.reduce_sum(tg.math.angle(z) + tg.imag(z * z)),
     lambda z: (torch.angle(z) + (z * z).imag).sum()),
    ("matmul_fft2", lambda z: tg.reduce_sum(tg.math.abs(tg.signal.fft2d(tg.matmul(z, z)))),
     lambda z: torch.fft.fft2(z @ z).abs().sum()),
    ("inv_det", lambda z: tg.reduce_sum(tg.math.abs(L.inv(z + 3.0 * _EYE))) +
     tg.math.abs(L.det(z)), lambda z: torch.linalg.inv(z + 3.0 * torch.tensor(_EYE)).abs().sum()
     + torch.linalg.det(z).abs()),
    ("cholesky_logdet", lambda z: tg.reduce_sum(tg.math.abs(L.cholesky(
        tg.matmul(z, tg.conj(z), transpose_b=True) + 3.0 * _EYE))) + L.logdet(
        tg.matmul(z, tg.conj(z), transpose_b=True) + 3.0 * _EYE),
     lambda z: torch.linalg.cholesky(z @ z.mH + 3.0 * torch.tensor(_EYE)).abs().sum() +
     torch.logdet(z @ z.mH + 3.0 * torch.tensor(_EYE)).real),
    ("eigh", lambda z: (lambda e, v: tg.reduce_sum(e * np.arange(3.0)) + tg.reduce_sum(
        tg.math.abs(v * tg.conj(v[..., :1, :]))))(*L.eigh(z + tg.conj(tg.transpose(z)))),
     lambda z: (lambda e, v: (e * torch.arange(3.0, dtype=torch.float64)).sum() + (
         v * v[..., :1, :].conj()).abs().sum())(*torch.linalg.eigh(z + z.mH))),
    ("slogdet", lambda z: L.slogdet(z + 3.0 * _EYE)[1],
     lambda z: torch.linalg.slogdet(z + 3.0 * torch.tensor(_EYE))[1]),
    ("eigvalsh", lambda z: tg.reduce_sum(L.eigvalsh(z + tg.conj(tg.transpose(z))) ** 2),
     lambda z: (torch.linalg.eigvalsh(z + z.mH) ** 2).sum()),
    ("svd", lambda z: _svd_loss_tg(*L.svd(z)),
     lambda z: (lambda u, s, vh: _svd_loss_torch(s, u, vh.mH))(*torch.linalg.svd(
         z, full_matrices=False))),
    ("svd_wide", lambda z: _svd_loss_tg(*L.svd(z[:2])),
     lambda z: (lambda u, s, vh: _svd_loss_torch(s, u, vh.mH))(*torch.linalg.svd(
         z[:2], full_matrices=False))),
    ("svd_tall", lambda z: _svd_loss_tg(*L.svd(z[:, :2])),
     lambda z: (lambda u, s, vh: _svd_loss_torch(s, u, vh.mH))(*torch.linalg.svd(
         z[:, :2], full_matrices=False))),
    ("svdvals", lambda z: tg.reduce_sum(L.svd(z, compute_uv=False) ** 3),
     lambda z: (torch.linalg.svdvals(z) ** 3).sum()),
    ("qr", lambda z: (lambda q, r: tg.reduce_sum(tg.real(q * _W3)) + tg.reduce_sum(
        tg.imag(r * _W3)))(*L.qr(z)),
     lambda z: (lambda q, r: (q * torch.tensor(_W3)).real.sum() + (r * torch.tensor(
         _W3)).imag.sum())(*torch.linalg.qr(z))),
    ("qr_wide", lambda z: (lambda q, r: tg.reduce_sum(tg.real(q * _W3[:2, :2])) + tg.reduce_sum(
        tg.imag(r * _W3[:2]) ** 2))(*L.qr(z[:2])),
     lambda z: (lambda q, r: (q * torch.tensor(_W3[:2, :2])).real.sum() + ((r * torch.tensor(
         _W3[:2])).imag ** 2).sum())(*torch.linalg.qr(z[:2]))),
    ("pinv", lambda z: tg.reduce_sum(tg.real(L.pinv(z[:, :2]) * _W3[:2])),
     lambda z: (torch.linalg.pinv(z[:, :2]) * torch.tensor(_W3[:2])).real.sum()),
]
_W3 = RNG.standard_normal((3, 3)) + 1j * RNG.standard_normal((3, 3))


def _svd_loss_tg(s, u, v):
    # invariant under u_i, v_i -> e^{it} u_i, e^{it} v_i (the complex SVD's gauge)
    return (tg.reduce_sum(s * np.arange(1.0, 1.0 + s.shape[-1])) + tg.reduce_sum(
        tg.math.abs(u * tg.conj(u[..., :1, :]))) + tg.reduce_sum(tg.real(
            u[..., :1, :] * tg.conj(v[..., :1, :]) * _W3[0, :s.shape[-1]])))


def _svd_loss_torch(s, u, v):
    w = torch.tensor(_W3[0, :s.shape[-1]])
    return ((s * torch.arange(1.0, 1.0 + s.shape[-1], dtype=torch.float64)).sum() + (
        u * u[..., :1, :].conj()).abs().sum() + (u[..., :1, :] * v[..., :1, :].conj() * w
                                                 ).real.sum())
_EYE = np.eye(3) + 0j


@pytest.mark.parametrize("name, tg_fn, torch_fn", COMPLEX_CASES, ids=[c[0] for c in COMPLEX_CASES])
def test_complex_gradients_match_torch(name, tg_fn, torch_fn):
    z = RNG.standard_normal((3, 3)) + 1j * RNG.standard_normal((3, 3))
    y, (g,) = _tg_grads(tg_fn, [z])
    ty, (tgr,) = _torch_grads(torch_fn, [z])
    np.testing.assert_allclose(y, ty, rtol=1e-10)
    np.testing.assert_allclose(g, tgr, rtol=1e-8, atol=1e-10)
