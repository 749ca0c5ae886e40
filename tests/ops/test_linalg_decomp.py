"""tg.linalg: values against numpy.linalg/scipy, errors, degenerate inputs, norms."""

import numpy as np
import pytest

import tapegrad as tg

L = tg.linalg
RNG = np.random.default_rng(17)
DTYPES = [np.float32, np.float64]


def _wc(shape, dtype=np.float64):
    n = shape[-1]
    return (RNG.standard_normal(shape) + 2 * np.sqrt(n) * np.eye(n)).astype(dtype)


def _spd(shape, dtype=np.float64):
    a = RNG.standard_normal(shape)
    return (a @ np.swapaxes(a, -1, -2) + shape[-1] * np.eye(shape[-1])).astype(dtype)


def _eq(t, ref):
    """Bitwise equal to the NumPy kernel's result (same call, same dtype)."""
    ref = np.asarray(ref)
    assert t.dtype == ref.dtype, (t.dtype, ref.dtype)
    np.testing.assert_array_equal(t.numpy(), ref)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(4, 4), (3, 5, 5), (2, 2, 3, 3)])
def test_values_equal_numpy_kernels(dtype, shape):
    a = _wc(shape, dtype)
    s = _spd(shape, dtype)
    b = RNG.standard_normal(shape[:-1] + (2,)).astype(dtype)
    _eq(L.inv(a), np.linalg.inv(a))
    _eq(L.solve(a, b), np.linalg.solve(a, b))
    _eq(L.solve(a, b, adjoint=True), np.linalg.solve(np.swapaxes(a, -1, -2), b))
    _eq(L.cholesky(s), np.linalg.cholesky(s))
    _eq(L.det(a), np.linalg.det(a))
    sign, lad = L.slogdet(a)
    rs, rl = np.linalg.slogdet(a)
    _eq(sign, rs)
    _eq(lad, rl)
    e, v = L.eigh(s)
    re, rv = np.linalg.eigh(s)
    _eq(e, re)
    _eq(v, rv)
    _eq(L.eigvalsh(s), np.linalg.eigvalsh(s))
    sv, u, vv = L.svd(a)
    ru, rs_, rvt = np.linalg.svd(a, full_matrices=False)
    _eq(sv, rs_)
    _eq(u, ru)
    _eq(vv, np.swapaxes(rvt, -1, -2))  # TF's order: v, not v^T
    _eq(L.svd(a, compute_uv=False), np.linalg.svd(a, compute_uv=False))
    q, r = L.qr(a)
    rq, rr = np.linalg.qr(a)
    _eq(q, rq)
    _eq(r, rr)
    _eq(L.trace(a), np.trace(a, axis1=-2, axis2=-1))
    _eq(L.diag_part(a), np.diagonal(a, axis1=-2, axis2=-1))


@pytest.mark.parametrize("dtype", DTYPES)
def test_values_of_composites(dtype):
    import scipy.linalg

    tol = dict(rtol=2e-4, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-12)
    a = _wc((3, 4, 4), dtype)
    s = _spd((3, 4, 4), dtype)
    b = RNG.standard_normal((3, 4, 2)).astype(dtype)
    tril = np.tril(a)
    for lower in (True, False):
        for adj in (False, True):
            m = np.tril(a) if lower else np.triu(a)
            m = np.swapaxes(m, -1, -2) if adj else m
            ref = np.stack([scipy.linalg.solve_triangular(m[i], b[i], lower=lower != adj)
                            for i in range(3)])
            np.testing.assert_allclose(L.triangular_solve(a, b, lower=lower, adjoint=adj).numpy(),
                                       ref, **tol)
    c = np.linalg.cholesky(s)
    np.testing.assert_allclose(L.cholesky_solve(c, b).numpy(), np.linalg.solve(s, b), **tol)
    np.testing.assert_allclose(L.logdet(s).numpy(), np.linalg.slogdet(s)[1], **tol)
    np.testing.assert_allclose(L.expm(a * 0.3).numpy(),
                               np.stack([scipy.linalg.expm(x * 0.3) for x in a]), **tol)
    big = (a * 3.0).astype(dtype)  # scaling and squaring kicks in
    np.testing.assert_allclose(L.expm(big).numpy(),
                               np.stack([scipy.linalg.expm(x) for x in big]),
                               rtol=tol["rtol"] * 10, atol=tol["atol"])
    w = RNG.standard_normal((5, 3)).astype(dtype)
    y = RNG.standard_normal((5, 2)).astype(dtype)
    np.testing.assert_allclose(L.lstsq(w, y).numpy(), np.linalg.lstsq(w, y, rcond=None)[0],
                               **tol)
    wide = RNG.standard_normal((2, 4)).astype(dtype)
    yw = RNG.standard_normal((2, 1)).astype(dtype)
    np.testing.assert_allclose(L.lstsq(wide, yw).numpy(),
                               np.linalg.lstsq(wide, yw, rcond=None)[0], **tol)
    lam = 0.5
    ridge = np.linalg.solve(w.T @ w + lam * np.eye(3), w.T @ y)
    np.testing.assert_allclose(L.lstsq(w, y, l2_regularizer=lam).numpy(), ridge, **tol)
    np.testing.assert_allclose(L.pinv(w).numpy(), np.linalg.pinv(w, rcond=10 * 5 * np.finfo(
        dtype).eps), **tol)
    np.testing.assert_array_equal(L.band_part(a, 1, 0).numpy(),
                                  np.tril(np.triu(a, -1)))
    np.testing.assert_array_equal(L.band_part(a, -1, 0).numpy(), tril)
    np.testing.assert_array_equal(L.adjoint(a).numpy(), np.swapaxes(a, -1, -2))
    d = RNG.standard_normal((3, 4)).astype(dtype)
    np.testing.assert_array_equal(L.diag(d).numpy(), np.stack([np.diag(x) for x in d]))
    sd = L.set_diag(a, d).numpy()
    np.testing.assert_array_equal(np.diagonal(sd, axis1=-2, axis2=-1), d)
    np.testing.assert_array_equal(sd - np.stack([np.diag(np.diag(x)) for x in sd]),
                                  a - np.stack([np.diag(np.diag(x)) for x in a]))
    u3 = RNG.standard_normal((4, 3)).astype(dtype)
    v3 = RNG.standard_normal((4, 3)).astype(dtype)
    np.testing.assert_allclose(L.cross(u3, v3).numpy(), np.cross(u3, v3), **tol)


def test_matmul_einsum_tensordot_are_reexported():
    assert L.matmul is tg.matmul and L.einsum is tg.einsum and L.tensordot is tg.tensordot
    assert L.matrix_transpose is tg.matrix_transpose


def test_full_matrices():
    a = RNG.standard_normal((5, 3))
    s, u, v = L.svd(a, full_matrices=True)
    assert u.shape == (5, 5) and v.shape == (3, 3)
    np.testing.assert_allclose((u[:, :3] * s) @ tg.transpose(v), a, atol=1e-12)
    q, r = L.qr(a, full_matrices=True)
    assert q.shape == (5, 5) and r.shape == (5, 3)
    x = tg.constant(a)
    with tg.GradientTape() as tape:
        tape.watch(x)
        y = tg.reduce_sum(L.svd(x, full_matrices=True)[1])
    with pytest.raises(NotImplementedError, match="svd: .*full_matrices"):
        tape.gradient(y, x)


# ---------------------------------------------------------------------------
# errors: one clear exception naming op, shapes, dtypes; never a raw LinAlgError

def test_not_positive_definite_names_the_batch_element():
    s = _spd((2, 3, 3, 3))
    s[1, 2] = -np.eye(3)
    with pytest.raises(L.LinAlgError, match=r"cholesky: .*not positive definite.*"
                                            r"batch element \(1, 2\).*\(2, 3, 3, 3\) float64"):
        L.cholesky(s)
    with pytest.raises(ValueError):  # LinAlgError is a ValueError (InvalidArgumentError)
        L.logdet(s)
    with pytest.raises(tg.errors.InvalidArgumentError):
        L.cholesky(-np.eye(2))


def test_singular_matrices_raise_clearly():
    a = _wc((3, 3, 3))
    a[2] = 0.0
    with pytest.raises(L.LinAlgError, match=r"matrix_inverse: matrix is singular at batch "
                                            r"element \(2,\)"):
        L.inv(a)
    with pytest.raises(L.LinAlgError, match="matrix_solve: matrix is singular"):
        L.solve(a, np.ones((3, 3, 1)))
    with pytest.raises(L.LinAlgError, match="triangular_solve: .*singular"):
        L.triangular_solve(np.zeros((2, 2)), np.ones((2, 1)))


@pytest.mark.parametrize("call, exc, pattern", [
    (lambda: L.inv(np.ones((2, 3))), ValueError, r"inv: .*square.*\(2, 3\)"),
    (lambda: L.cholesky(np.ones(3)), ValueError, r"cholesky: .*square.*\(3,\)"),
    (lambda: L.det(np.ones((2, 2), np.int32)), TypeError, r"det: .*float.*int32"),
    (lambda: L.eigh(np.ones((2, 2), np.int64)), TypeError, r"eigh: .*int64"),
    (lambda: L.solve(np.eye(3), np.ones((4, 1))), ValueError, r"solve: .*\(3, 3\).*\(4, 1\)"),
    (lambda: L.solve(np.eye(3), np.ones(3)), ValueError, r"solve: rhs must be a matrix"),
    (lambda: L.solve(np.ones((2, 3, 3)), np.ones((4, 3, 1))), ValueError,
     r"solve: batch shapes do not broadcast.*\(2, 3, 3\).*\(4, 3, 1\)"),
    (lambda: L.solve(np.eye(2), np.ones((2, 1), np.float32)), TypeError,
     r"solve: dtypes differ: matrix float64, rhs float32"),
    (lambda: L.triangular_solve(np.eye(2), np.ones((3, 1))), ValueError, "triangular_solve"),
    (lambda: L.svd(np.ones(3)), ValueError, r"svd: .*\(3,\)"),
    (lambda: L.qr(np.ones((2, 2), bool)), TypeError, r"qr: .*bool"),
    (lambda: L.expm(np.ones((2, 3))), ValueError, r"expm: .*square"),
    (lambda: L.set_diag(np.ones((3, 3)), np.ones(2)), ValueError, r"set_diag: .*\(2,\)"),
    (lambda: L.cross(np.ones(3), np.ones(2)), ValueError, r"cross: .*\[\.\.\., 3\]"),
    (lambda: L.band_part(np.ones((2, 2)), 0.5, 0), TypeError, "band_part"),
    (lambda: tg.norm(np.ones((2, 2)), ord="nuc"), ValueError, r"norm: .*matrix norm"),
    (lambda: tg.norm(np.ones((2, 2)), axis=[0, 0]), ValueError, r"norm: .*differ"),
])
def test_errors_name_op_shapes_dtypes(call, exc, pattern):
    with pytest.raises(exc, match=pattern):
        call()


# ---------------------------------------------------------------------------
# degenerate inputs: PyTorch's documented behaviour

def _grad(fn, x):
    x = tg.constant(x)
    with tg.GradientTape() as tape:
        tape.watch(x)
        y = fn(x)
    return tape.gradient(y, x).numpy()


def test_det_of_a_singular_matrix_has_a_finite_gradient():
    a = np.array([[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [1.0, 0.0, 1.0]])
    g = _grad(L.det, a)
    # the cofactor matrix (adjugate transposed), exact
    cof = np.array([[4.0, 4.0, -4.0], [-2.0, -2.0, 2.0], [0.0, 0.0, 0.0]])
    np.testing.assert_allclose(g, cof, atol=1e-12)
    assert np.all(np.isfinite(_grad(L.det, np.zeros((2, 3, 3)))))


def test_repeated_eigenvalues():
    a = np.diag([1.0, 1.0, 2.0])
    # eigenvalues only: finite
    g = _grad(lambda x: tg.reduce_sum(L.eigh(x)[0] ** 2), a)
    np.testing.assert_allclose(g, 2 * a, atol=1e-12)
    np.testing.assert_allclose(_grad(lambda x: tg.reduce_sum(L.eigvalsh(x) ** 2), a), 2 * a,
                               atol=1e-12)
    # a loss on the eigenvectors of the repeated pair: not finite (as PyTorch documents)
    g = _grad(lambda x: tg.reduce_sum(L.eigh(x)[1][:, 0] * np.array([1.0, 2.0, 3.0])), a)
    assert not np.all(np.isfinite(g))


def test_repeated_singular_values():
    a = np.eye(3)
    g = _grad(lambda x: tg.reduce_sum(L.svd(x)[0]), a)
    np.testing.assert_allclose(g, np.eye(3), atol=1e-12)
    g = _grad(lambda x: tg.reduce_sum(L.svd(x, compute_uv=False)), a)
    np.testing.assert_allclose(g, np.eye(3), atol=1e-12)
    g = _grad(lambda x: tg.reduce_sum(L.svd(x)[1] * tg.constant(np.arange(9.0).reshape(3, 3))),
              a)
    assert not np.all(np.isfinite(g))


def test_gradients_in_float32_and_batched_match_unbatched():
    a = _wc((3, 4, 4))
    ga = _grad(lambda x: tg.reduce_sum(L.inv(x) * L.det(x)[:, None, None]), a)
    for i in range(3):
        gi = _grad(lambda x: tg.reduce_sum(L.inv(x) * L.det(x)), a[i])
        np.testing.assert_allclose(ga[i], gi, rtol=1e-12)
    g32 = _grad(lambda x: tg.reduce_sum(L.inv(x)), a.astype(np.float32))
    assert g32.dtype == np.float32
    np.testing.assert_allclose(g32, _grad(lambda x: tg.reduce_sum(L.inv(x)), a), rtol=1e-4,
                               atol=1e-5)


# ---------------------------------------------------------------------------
# norms (issue 16): matrix norms over an axis pair, stable values, subgradient 0 at 0

@pytest.mark.parametrize("dtype", DTYPES)
def test_matrix_norms_match_numpy(dtype):
    tol = dict(rtol=1e-5) if dtype == np.float32 else dict(rtol=1e-12)
    a = RNG.standard_normal((2, 4, 3)).astype(dtype)
    for ord_ in (1, np.inf, 2, "fro", "nuc"):
        for axis in ((1, 2), (2, 1), (-2, -1)):
            ref = np.linalg.norm(a, ord=ord_, axis=axis)
            got = tg.norm(a, ord=ord_, axis=list(axis))
            np.testing.assert_allclose(got.numpy(), ref, **tol)
            kept = tg.norm(a, ord=ord_, axis=axis, keepdims=True)
            np.testing.assert_allclose(kept.numpy(),
                                       np.linalg.norm(a, ord=ord_, axis=axis, keepdims=True),
                                       **tol)
    m = a[0]
    np.testing.assert_allclose(tg.norm(m, ord=1, axis=[0, 1]).numpy(), np.abs(m).sum(0).max(),
                               **tol)
    np.testing.assert_allclose(tg.norm(m, ord=np.inf, axis=[0, 1]).numpy(),
                               np.abs(m).sum(1).max(), **tol)
    np.testing.assert_allclose(tg.norm(m, ord="euclidean", axis=[0, 1]).numpy(),
                               np.linalg.norm(m), **tol)
    np.testing.assert_allclose(tg.linalg.norm(m, ord=3, axis=1).numpy(),
                               np.linalg.norm(m, ord=3, axis=1), **tol)
    np.testing.assert_allclose(tg.math.reduce_euclidean_norm(m, axis=0).numpy(),
                               np.linalg.norm(m, axis=0), **tol)


def test_matrix_norm_gradients():
    a = RNG.standard_normal((4, 3))
    for ord_ in (1, np.inf, 2, "fro", "nuc"):
        tg.check_grads(lambda x, o=ord_: tg.norm(x, ord=o, axis=[0, 1]), [a], order=2,
                       modes=("rev", "fwd"))


@pytest.mark.parametrize("dtype", DTYPES)
def test_norm_gradient_at_zero_is_zero(dtype):
    for fn in (lambda x: tg.norm(x), lambda x: tg.norm(x, axis=1),
               lambda x: tg.norm(x, ord=3), lambda x: tg.norm(x, axis=[0, 1])):
        g = _grad(fn, np.zeros((2, 3), dtype))
        np.testing.assert_array_equal(g, np.zeros((2, 3)))
    # clip_by_norm is the identity below the clip norm, at 0 too
    g = _grad(lambda x: tg.reduce_sum(tg.clip_by_norm(x, 1.0)), np.zeros((2, 3), dtype))
    np.testing.assert_array_equal(g, np.ones((2, 3)))


def test_norm_second_derivative_at_zero_is_finite():
    x = tg.constant(np.zeros(3))
    with tg.GradientTape() as t2:
        t2.watch(x)
        with tg.GradientTape() as t1:
            t1.watch(x)
            y = tg.norm(x)
        g = t1.gradient(y, x)
        s = tg.reduce_sum(g)
    assert np.all(np.isfinite(t2.gradient(s, x).numpy()))


@pytest.mark.parametrize("v", [[1e-30, 0.0, -5e-31], [3.4e38, 0.0, -1e30], [2e38, 0.0, -2e38],
                               [1e-38, 3e-39, 0.0]])
def test_norm_is_finite_at_float32_extremes(v):
    v = np.array(v, np.float32)
    ref = np.linalg.norm(v.astype(np.float64))
    n = tg.norm(v)
    assert n.dtype == np.float32
    assert np.isfinite(n.numpy())
    np.testing.assert_allclose(float(n), ref, rtol=1e-6)
    g = _grad(tg.norm, v)
    assert np.all(np.isfinite(g))
    np.testing.assert_allclose(g, v.astype(np.float64) / ref, rtol=1e-5, atol=1e-7)
    c = tg.clip_by_norm(v, 1.0)
    assert np.all(np.isfinite(c.numpy()))
    assert np.all(np.isfinite(_grad(lambda x: tg.reduce_sum(tg.clip_by_norm(x, 1.0)), v)))


def test_norm_with_inf_entry_is_inf():
    assert float(tg.norm(np.array([1.0, np.inf]))) == np.inf
