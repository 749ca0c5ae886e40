"""Taylor ("taylor") rules of the decompositions: cholesky, det, slogdet, eigvalsh and
eigh (distinct eigenvalues), through tg.jet at orders 1-4 against the derivatives of
<w, f(x + t v)> from nested tapes, real and complex (built from real and imaginary
parts, which jet moves), batched and not.  tests/autodiff/test_jet.py covers the first
cases of the gradient sweep too."""

import numpy as np
import pytest

import tapegrad as tg

L = tg.linalg
K = 4


def _nested(g, t, k):
    if k == 0:
        return g(t)
    with tg.GradientTape() as tape:
        tape.watch(t)
        y = _nested(g, t, k - 1)
    return tape.gradient(y, t)


def _parts(out):
    return tg.concat([tg.reshape(tg.real(out), [-1]), tg.reshape(tg.imag(out), [-1])], 0) \
        if out.dtype.kind == "c" else tg.reshape(out, [-1])


def _check(fn, args, seed):
    rng = np.random.default_rng(seed)
    xs = [tg.constant(a) for a in args]
    vs = [rng.standard_normal(np.shape(a)) * 0.3 for a in args]
    series = tuple([tg.constant(v)] + [tg.zeros_like(x)] * (K - 1) for v, x in zip(vs, xs))
    flat = lambda *z: _parts(fn(*z))  # noqa: E731
    y0, ys = tg.jet(flat, tuple(xs), series)
    np.testing.assert_allclose(y0.numpy(), flat(*xs).numpy(), rtol=1e-12, atol=1e-12)
    w = tg.constant(rng.standard_normal(tuple(y0.shape)))

    def along(t):
        return tg.reduce_sum(flat(*[x + t * tg.constant(v) for x, v in zip(xs, vs)]) * w)

    t0 = tg.constant(0.0, dtype=tg.float64)
    for k in range(1, K + 1):
        want = float(_nested(along, t0, k))
        got = float(tg.reduce_sum(ys[k - 1] * w))
        assert abs(got - want) <= 1e-8 * max(1.0, abs(want)), (k, got, want)


def _spd(x):
    n = x.shape[-1]
    return tg.matmul(x, x, transpose_b=True) + float(n) * tg.eye(n, dtype=tg.float64)


def _hpd(x, y):
    z = tg.complex(x, y)
    n = z.shape[-1]
    return tg.matmul(z, tg.conj(z), transpose_b=True) + tg.complex(
        float(n) * tg.eye(n, dtype=tg.float64), tg.zeros((n, n), dtype=tg.float64))


def _herm(x, y):
    z = tg.complex(x, y)
    return z + tg.conj(tg.linalg.matrix_transpose(z))


def _wc(shape, seed):
    return np.random.default_rng(seed).standard_normal(shape) + 3.0 * np.eye(shape[-1])


def _n(shape, seed):
    return np.random.default_rng(seed).standard_normal(shape)


CASES = [
    ("cholesky", lambda x: L.cholesky(_spd(x)), [_n((2, 3, 3), 1)]),
    ("cholesky_complex", lambda x, y: L.cholesky(_hpd(x, y)), [_n((3, 3), 2), _n((3, 3), 3)]),
    ("det", L.det, [_wc((2, 3, 3), 4)]),
    ("det_complex", lambda x, y: L.det(tg.complex(x, y)), [_wc((2, 3, 3), 5),
                                                            _n((2, 3, 3), 6)]),
    ("slogdet", lambda x: L.slogdet(x)[1], [_wc((2, 3, 3), 7)]),
    ("slogdet_complex", lambda x, y: L.slogdet(tg.complex(x, y))[1],
     [_wc((2, 3, 3), 8), _n((2, 3, 3), 9)]),
    # a complex sign (the phase of det) moves with the matrix
    ("slogdet_complex_sign", lambda x, y: L.slogdet(tg.complex(x, y))[0],
     [_wc((2, 3, 3), 16), _n((2, 3, 3), 17)]),
    ("eigvalsh", lambda x: L.eigvalsh(x + tg.linalg.matrix_transpose(x)), [_n((2, 4, 4), 10)]),
    ("eigvalsh_complex", lambda x, y: L.eigvalsh(_herm(x, y)), [_n((3, 3), 11),
                                                                 _n((3, 3), 12)]),
    # eigenvectors in the JVP's gauge: compared as they are (the phase of the expansion
    # point is LAPACK's in both), and through a phase-free product
    ("eigh", lambda x: tg.concat([L.eigh(x + tg.linalg.matrix_transpose(x))[0][..., None, :],
                                  L.eigh(x + tg.linalg.matrix_transpose(x))[1]], -2),
     [_n((2, 3, 3), 13)]),
    ("eigh_complex", lambda x, y: (lambda e, v: tg.concat([
        tg.complex(e, tg.zeros_like(e))[None, :], v, v * tg.conj(v[:1])], 0))(
        *L.eigh(_herm(x, y))), [_n((3, 3), 14), _n((3, 3), 15)]),
]


@pytest.mark.parametrize("name, fn, args", CASES, ids=[c[0] for c in CASES])
def test_taylor_rule_matches_nested_tapes(name, fn, args):
    _check(fn, args, hash(name) % 1000)


def test_rules_registered_beside_the_forwards():
    from tapegrad import _core
    from tapegrad.ops._registry import NotSupported

    reg = _core.registry()
    for name in ("cholesky", "matrix_determinant", "log_abs_det", "self_adjoint_eig",
                 "self_adjoint_eigvals", "matrix_inverse", "matrix_solve"):
        rule = reg[name].rule("taylor")
        assert callable(rule) and not isinstance(rule, NotSupported), name
    for name in ("svd", "qr", "expm", "det_cofactor", "det_cofactor_deriv"):
        assert isinstance(reg[name].rule("taylor"), NotSupported), name


def test_det_rule_needs_an_invertible_point():
    a = np.array([[1.0, 2.0], [2.0, 4.0]])
    with pytest.raises(tg.linalg.LinAlgError, match="needs an invertible matrix"):
        tg.jet(L.det, (tg.constant(a),), ([tg.constant(np.eye(2))],))
