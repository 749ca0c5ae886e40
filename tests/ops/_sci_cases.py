"""Gradient cases for the scientific primitives (special functions, linalg, complex, FFT).

``SCI_GRAD_CASES`` has the shape of ``test_gradients.GRAD_CASES`` (one entry per
primitive: ``(label, fn, args)``) and is merged into it, so the registry meta-tests see
every primitive here.  ``tests/ops/test_sci_gradients.py`` runs these cases in both modes
(reverse and forward) to second order; ``SCI_FORWARD_OPS`` is the single-output form that
``tests/autodiff/test_forward.py`` sweeps.

Inputs are drawn where each function is smooth: well-conditioned matrices (a multiple
of the identity added), symmetric inputs for cholesky/eigh built inside the function
(they read one triangle only), sign-invariant products of eigen/singular vectors
(``v * v[..., :1, :]``: a column flipped in sign leaves it unchanged).  Complex
primitives are checked through ``tg.complex(x, y)`` with real and imaginary parts as two
real inputs, and complex outputs split into their real and imaginary parts: finite
differences on the real and imaginary parts separately.
"""

import zlib

import numpy as np

import tapegrad as tg

MATRIX_SHAPES = [(3, 3), (2, 3, 3)]


def _rng(*key):
    return np.random.default_rng(zlib.crc32(repr(key).encode()))


def normal(shape, *key):
    return _rng("n", shape, *key).standard_normal(shape)


def uniform(lo, hi):
    def gen(shape, *key):
        return _rng("u", shape, lo, hi, *key).uniform(lo, hi, shape)
    return gen


def away(shape, *key):
    r = _rng("a", shape, *key)
    return r.choice([-1.0, 1.0], size=shape) * r.uniform(0.3, 2.0, shape)


def well_conditioned(shape, *key):
    n = shape[-1]
    return normal(shape, "wc", *key) * 0.5 + 2.0 * np.eye(n)


def _named(fn, name):
    fn.__name__ = name
    return fn


def _vjp(fn, wrt=0):
    """fn's VJP as a function of (*args, cotangent): reaches the primitives that only
    appear inside backward passes (det_cofactor)."""

    def vjp(*args):
        *xs, ct = args
        with tg.GradientTape() as tape:
            tape.watch(xs[wrt])
            y = fn(*xs)
        return tape.gradient(y, xs[wrt], output_gradients=ct)

    vjp.__name__ = "vjp_" + fn.__name__
    return vjp


SHAPES = [(), (3,), (3, 4), (3, 1), (1, 4), (2, 3, 4)]


def unary(fn, gen, shapes=SHAPES):
    return [(str(s), fn, [gen(s, fn.__name__)]) for s in shapes]


def _with_const(fn, const, name):
    """fn(const, x) with const a fixed (undifferentiated) tensor."""
    c = tg.constant(const)
    return _named(lambda x: fn(c, x), name)


def _sym(x):
    return 0.5 * (x + tg.linalg.matrix_transpose(x))


def _spd(x):
    n = x.shape[-1]
    return tg.matmul(x, x, transpose_b=True) + float(n) * tg.eye(n, dtype=x.dtype)


def _sign_free(v):
    # columns flipped in sign leave v * v[..., :1, :] unchanged
    return v * v[..., :1, :]


def _parts(w):
    return [tg.real(w), tg.imag(w)]


def _cx(fn, name):
    """fn of a complex input, checked on its real and imaginary parts separately."""
    def wrapped(x, y):
        out = fn(tg.complex(x, y))
        outs = out if isinstance(out, (list, tuple)) else [out]
        res = []
        for o in outs:
            res += _parts(o) if o.dtype.kind == "c" else [o]
        return res
    return _named(wrapped, name)


def _times_self(out, z):
    # a non-linear use of the output (a second-order check needs curvature)
    return out * (z if out.dtype.kind == "c" else tg.real(z))


def _cx_args(shape, key):
    return [normal(shape, key, "re"), normal(shape, key, "im")]


# ---------------------------------------------------------------------------
# special functions

def _special_cases():
    m = tg.math
    c = {
        "tan": unary(m.tan, uniform(-1.0, 1.0)),
        "asin": unary(m.asin, uniform(-0.8, 0.8)),
        "acos": unary(m.acos, uniform(-0.8, 0.8)),
        "atan": unary(m.atan, normal),
        "sinh": unary(m.sinh, normal),
        "cosh": unary(m.cosh, normal),
        "asinh": unary(m.asinh, normal),
        "acosh": unary(m.acosh, uniform(1.2, 3.0)),
        "atanh": unary(m.atanh, uniform(-0.8, 0.8)),
        "atan2": [("%s,%s" % (a, b), m.atan2, [normal(a, "y"), away(b, "x")])
                  for a, b in [((3,), (3,)), ((3, 4), (4,)), ((), (2, 3))]],
        "erf": unary(m.erf, normal),
        "erfc": unary(m.erfc, normal),
        "erfinv": unary(m.erfinv, uniform(-0.8, 0.8)),
        "ndtri": unary(m.ndtri, uniform(0.1, 0.9)),
        "lgamma": unary(m.lgamma, uniform(0.5, 3.0)),
        "digamma": unary(m.digamma, uniform(0.5, 3.0)),
        "bessel_i0e": unary(m.bessel_i0e, away),
        "bessel_i1e": unary(m.bessel_i1e, away),
        "polygamma": [("a=%d %s" % (a, s), _with_const(m.polygamma, np.full(s, float(a)),
                                                       "polygamma"),
                       [uniform(0.5, 3.0)(s, "pg")]) for a in (0, 1, 2) for s in [(3,), (2, 3)]],
        "igamma": [(str(s), _with_const(m.igamma, uniform(0.5, 3.0)(s, "a"), "igamma"),
                    [uniform(0.3, 3.0)(s, "x")]) for s in [(3,), (2, 3)]],
        "igammac": [(str(s), _with_const(m.igammac, uniform(0.5, 3.0)(s, "a"), "igammac"),
                     [uniform(0.3, 3.0)(s, "x")]) for s in [(3,), (2, 3)]],
        "betainc": [(str(s), _named(lambda x, s=s: m.betainc(
            tg.constant(uniform(0.5, 3.0)(s, "a")), tg.constant(uniform(0.5, 3.0)(s, "b")), x),
            "betainc"), [uniform(0.2, 0.8)(s, "x")]) for s in [(3,), (2, 3)]],
        "zeta": [(str(s), _with_const(m.zeta, np.full(s, 2.5), "zeta"),
                  [uniform(0.5, 2.0)(s, "q")]) for s in [(3,), (2, 3)]],
    }
    return c


# ---------------------------------------------------------------------------
# linear algebra

def _linalg_cases():
    L = tg.linalg
    c = {}
    c["matrix_diag_part"] = [(str(s), L.diag_part, [normal(s, "dp")])
                             for s in [(3, 4), (4, 3), (2, 3, 3)]]
    c["matrix_diag"] = [(str(s), L.diag, [normal(s, "dg")]) for s in [(3,), (2, 4)]]
    c["matrix_set_diag"] = [("%s" % (s,), L.set_diag, [normal(s, "sd"), normal(d, "sdd")])
                            for s, d in [((3, 4), (3,)), ((2, 3, 3), (2, 3))]]
    c["matrix_inverse"] = [(str(s), L.inv, [well_conditioned(s, "inv")]) for s in MATRIX_SHAPES]
    c["matrix_solve"] = [
        ("%s %s adj=%s" % (a, b, adj), _named(lambda x, y, adj=adj: L.solve(x, y, adjoint=adj),
                                             "solve"),
         [well_conditioned(a, "sa"), normal(b, "sb")])
        for a, b in [((3, 3), (3, 2)), ((2, 3, 3), (2, 3, 1)), ((3, 3), (2, 3, 2))]
        for adj in (False, True)]
    c["matrix_triangular_solve"] = [
        ("%s lower=%s adj=%s" % (a, lo, adj),
         _named(lambda x, y, lo=lo, adj=adj: L.triangular_solve(x, y, lower=lo, adjoint=adj),
                "triangular_solve"),
         [well_conditioned(a, "ta"), normal(b, "tb")])
        for a, b in [((3, 3), (3, 2)), ((2, 3, 3), (2, 3, 2))]
        for lo in (True, False) for adj in (False, True)]
    c["cholesky"] = [(str(s), _named(lambda x: L.cholesky(_spd(x)), "cholesky"),
                      [normal(s, "ch")]) for s in MATRIX_SHAPES]
    c["matrix_determinant"] = [(str(s), L.det, [well_conditioned(s, "det")])
                               for s in MATRIX_SHAPES]
    c["det_cofactor"] = [(str(s), _vjp(_named(L.det, "det")),
                          [well_conditioned(s, "cof"), normal(s[:-2], "cofg")])
                         for s in MATRIX_SHAPES]
    c["det_cofactor_deriv"] = [(str(s), _vjp(_vjp(_named(L.det, "det"))),
                                [well_conditioned(s, "cofd"), normal(s[:-2], "cofdg"),
                                 normal(s, "cofdv")]) for s in MATRIX_SHAPES]
    c["log_abs_det"] = [(str(s), _named(lambda x: L.slogdet(x)[1], "slogdet"),
                         [well_conditioned(s, "lad")]) for s in MATRIX_SHAPES]
    c["self_adjoint_eig"] = [
        (str(s), _named(lambda x: (lambda ev: [ev[0], _sign_free(ev[1])])(L.eigh(_sym(x))),
                        "eigh"), [normal(s, "eig")]) for s in MATRIX_SHAPES]
    c["self_adjoint_eigvals"] = [(str(s), _named(lambda x: L.eigvalsh(_sym(x)), "eigvalsh"),
                                  [normal(s, "eigv")]) for s in MATRIX_SHAPES]
    c["svd"] = [
        (str(s), _named(lambda x: (lambda r: [r[0], _sign_free(r[1]), _sign_free(r[2])])(
            L.svd(x)), "svd"), [normal(s, "svd")])
        for s in [(3, 3), (4, 3), (3, 4), (2, 4, 3)]]
    c["singular_values"] = [(str(s), _named(lambda x: L.svd(x, compute_uv=False), "svals"),
                             [normal(s, "sv")]) for s in [(3, 3), (4, 3), (2, 3, 4)]]
    c["qr"] = [(str(s), _named(lambda x: list(L.qr(x)), "qr"), [well_conditioned(s, "qr")
                                                                 if s[-1] == s[-2] else
                                                                 normal(s, "qr")])
               for s in [(3, 3), (4, 3), (3, 4), (2, 4, 3)]]
    c["pinv"] = [(str(s), L.pinv, [normal(s, "pinv")]) for s in [(4, 3), (3, 4), (2, 3, 3)]]
    c["expm"] = [(str(s), L.expm, [normal(s, "expm") * 0.5]) for s in MATRIX_SHAPES]
    # complex matrices (holomorphic ops), checked on real and imaginary parts
    for name, fn in [("matrix_inverse", L.inv), ("matrix_determinant", L.det),
                     ("expm", lambda z: L.expm(z * 0.5))]:
        c[name] = c[name] + [("complex %s" % (s,), _cx(fn, name), _cx_wc(s, name))
                             for s in MATRIX_SHAPES]
    c["matrix_solve"] += [("complex adj=%s" % adj, _cx2(
        lambda a, b, adj=adj: L.solve(a, b, adjoint=adj), "solve"),
        _cx_wc((2, 3, 3), "cs") + _cx_args((2, 3, 2), "csb")) for adj in (False, True)]
    c["matrix_triangular_solve"] += [("complex lower=%s" % lo, _cx2(
        lambda a, b, lo=lo: L.triangular_solve(a, b, lower=lo, adjoint=True), "tsolve"),
        _cx_wc((3, 3), "ct") + _cx_args((3, 2), "ctb")) for lo in (True, False)]
    c["det_cofactor"] += [("complex", _cx_vjp_det(), _cx_wc((2, 3, 3), "ccof"))]
    c["det_cofactor_deriv"] += [("complex", _cx_hvp_det(),
                                 _cx_wc((2, 3, 3), "ccofd") + _cx_args((2, 3, 3), "ccofv"))]
    c["self_adjoint_eig"] += [("complex %s" % (s,), _cx(
        lambda z: (lambda ev: [ev[0], ev[1] * tg.conj(ev[1][..., :1, :])])(
            L.eigh(_hermitian(z))), "eigh"), _cx_args(s, "ceig")) for s in MATRIX_SHAPES]
    c["self_adjoint_eigvals"] += [("complex %s" % (s,), _cx(
        lambda z: L.eigvalsh(_hermitian(z)), "eigvalsh"), _cx_args(s, "ceigv"))
        for s in MATRIX_SHAPES]
    c["log_abs_det"] += [("complex %s" % (s,), _cx(lambda z: L.slogdet(z)[1], "slogdet"),
                          _cx_wc(s, "clad")) for s in MATRIX_SHAPES]
    c["cholesky"] += [("complex %s" % (s,), _cx(lambda z: L.cholesky(_hpd(z)), "cholesky"),
                       _cx_args(s, "cch")) for s in MATRIX_SHAPES]
    # complex SVD: gauge-invariant outputs only (each pair u_i, v_i has a free common phase)
    c["svd"] += [("complex %s" % (s,), _cx(lambda z: _svd_gauge_free(L.svd(z)), "svd"),
                  _cx_args(s, "csvd")) for s in [(3, 3), (4, 3), (3, 4), (2, 4, 3)]]
    c["singular_values"] += [("complex %s" % (s,), _cx(
        lambda z: L.svd(z, compute_uv=False), "svals"), _cx_args(s, "csv"))
        for s in [(3, 3), (2, 3, 4)]]
    c["qr"] += [("complex %s" % (s,), _cx(lambda z: list(L.qr(z)), "qr"),
                 _cx_wc(s, "cqr") if s[-1] == s[-2] else _cx_args(s, "cqr"))
                for s in [(3, 3), (4, 3), (3, 4), (2, 4, 3)]]
    c["pinv"] += [("complex %s" % (s,), _cx(L.pinv, "pinv"), _cx_args(s, "cpinv"))
                  for s in [(4, 3), (3, 4), (2, 3, 3)]]
    return c


def _svd_gauge_free(r):
    # s, u and v each up to their columns' phases, and u_0i conj(v_0i) (invariant only
    # under the common phase of u_i and v_i: it reaches the VJP's imaginary diagonal term)
    s, u, v = r
    return [s, u * tg.conj(u[..., :1, :]), v * tg.conj(v[..., :1, :]),
            u[..., :1, :] * tg.conj(v[..., :1, :])]


def _hermitian(z):
    return z + tg.conj(tg.linalg.matrix_transpose(z))


def _hpd(z):
    n = z.shape[-1]
    return tg.matmul(z, tg.conj(z), transpose_b=True) + tg.complex(
        tg.eye(n, dtype=tg.float64) * float(n), tg.zeros((n, n), dtype=tg.float64))


def _cx_wc(shape, key):
    return [well_conditioned(shape, key, "re"), normal(shape, key, "im") * 0.5]


def _cx2(fn, name):
    """fn of two complex inputs, each given as real and imaginary parts."""
    def wrapped(ar, ai, br, bi):
        out = fn(tg.complex(ar, ai), tg.complex(br, bi))
        return _parts(out)
    return _named(wrapped, name)


def _cx_vjp_det():
    # the gradient of |det|^2-like real loss: reaches det_cofactor with complex input
    def fn(x, y):
        z = tg.complex(x, y)
        with tg.GradientTape() as tape:
            tape.watch(z)
            d = tg.real(tg.linalg.det(z) * tg.constant(np.array(0.3 - 0.7j)))
        g = tape.gradient(d, z)
        return _parts(g)
    return _named(fn, "vjp_det_complex")


def _cx_hvp_det():
    # the derivative of that gradient along v: reaches det_cofactor_deriv, complex
    def fn(x, y, vr, vi):
        z = tg.complex(x, y)
        with tg.GradientTape() as outer:
            outer.watch(z)
            with tg.GradientTape() as tape:
                tape.watch(z)
                d = tg.real(tg.linalg.det(z) * tg.constant(np.array(0.3 - 0.7j)))
            g = tape.gradient(d, z)
            s = tg.reduce_sum(tg.real(g * tg.conj(tg.complex(vr, vi))))
        return _parts(outer.gradient(s, z))
    return _named(fn, "hvp_det_complex")


# ---------------------------------------------------------------------------
# complex numbers and FFT

def _complex_cases():
    c = {}
    c["complex"] = [(str(s), _named(lambda x, y: _parts(tg.complex(x, y)), "complex"),
                     _cx_args(s, "cplx")) for s in [(), (3,), (2, 3)]]
    for name, fn in [("real", tg.real), ("imag", tg.imag), ("conj", tg.conj),
                     ("complex_abs", tg.math.abs), ("angle", tg.math.angle)]:
        c[name] = [(str(s), _cx(lambda z, fn=fn: _times_self(fn(z), z), name),
                    _cx_args(s, name))
                   for s in [(3,), (2, 3)]]
    s = tg.signal
    c["fft_c2c"] = [("%s %s" % (f.__name__, sh), _cx(f, f.__name__), _cx_args(sh, f.__name__))
                    for f, sh in [(s.fft, (4,)), (s.ifft, (2, 5)), (s.fft2d, (3, 4)),
                                  (s.ifft2d, (2, 3, 3)), (s.fft3d, (2, 2, 3)),
                                  (s.ifft3d, (2, 3, 2))]]
    c["fft_r2c"] = [
        ("%s %s n=%s" % (f.__name__, sh, n),
         _named(lambda x, f=f, n=n: _parts(f(x, fft_length=n)), f.__name__), [normal(sh, "r2c")])
        for f, sh, n in [(s.rfft, (6,), None), (s.rfft, (2, 5), None), (s.rfft, (2, 5), [8]),
                         (s.rfft, (7,), [4]), (s.rfft2d, (3, 4), None),
                         (s.rfft2d, (2, 3, 5), [4, 3])]]
    c["fft_c2r"] = [
        ("%s %s n=%s" % (f.__name__, sh, n),
         _cx(lambda z, f=f, n=n: f(z, fft_length=n), f.__name__), _cx_args(sh, "c2r"))
        for f, sh, n in [(s.irfft, (4,), None), (s.irfft, (2, 4), [7]), (s.irfft, (5,), [6]),
                         (s.irfft2d, (3, 3), None), (s.irfft2d, (2, 3, 4), [4, 5])]]
    return c


SCI_GRAD_CASES = {}
SCI_GRAD_CASES.update(_special_cases())
SCI_GRAD_CASES.update(_linalg_cases())
SCI_GRAD_CASES.update(_complex_cases())


def _single(fn):
    """A case function with one output tensor: the outputs flattened and concatenated."""
    def one(*xs):
        out = fn(*xs)
        outs = out if isinstance(out, (list, tuple)) else [out]
        return tg.concat([tg.reshape(o, [-1]) for o in outs], axis=0)
    one.__name__ = fn.__name__
    return one


# the first case of each primitive, single-output (autodiff/test_forward.py's OPS form)
SCI_FORWARD_OPS = [(name, _single(cases[0][1]), cases[0][2])
                   for name, cases in sorted(SCI_GRAD_CASES.items()) if name != "det_cofactor"]
