"""Scientific primitives (linalg, special functions, complex numbers, FFT): forward and
forward+backward, with the NumPy/SciPy call each one wraps timed beside it.

Same table layout as ops.py (``FORWARD``, ``FORWARD_BACKWARD``, ``SECOND_ORDER``,
``ADJOINTS``; ``tests/test_bench_meta.py`` checks both modules cover the registry).
``size`` picks the workload: 100 is one 100x100 matrix (10,000 elements for elementwise
ops, a 100x100 signal for FFTs); anything <= 8 is a batch of 64 8x8 matrices (4,096
elements, a batch of 64 length-64 signals).
"""

import numpy as np

import tapegrad as tg

from . import DTYPES, Case, build_case, ones_like, seed_all

SIZES = [8, 100]


def _mshape(size):
    return (64, 8, 8) if size <= 8 else (size, size)


def _t(a, dtype):
    return tg.constant(np.asarray(a).astype(dtype))


def _elementwise(fn, low, high, arity=1):
    def build(size, dtype, rng):
        shape = (64, 64) if size <= 8 else (size, size)
        return Case(fn, *[_t(rng.uniform(low, high, shape), dtype) for _ in range(arity)])
    return build


def _with_const(fn, const, low, high):
    def build(size, dtype, rng):
        shape = (64, 64) if size <= 8 else (size, size)
        c = _t(np.full(shape, const), dtype)
        return Case(lambda x: fn(c, x), _t(rng.uniform(low, high, shape), dtype))
    return build


def _spd(rng, shape, dtype):
    a = rng.standard_normal(shape)
    return _t(a @ np.swapaxes(a, -1, -2) + shape[-1] * np.eye(shape[-1]), dtype)


def _wellcond(rng, shape, dtype):
    return _t(rng.standard_normal(shape) + 2 * np.sqrt(shape[-1]) * np.eye(shape[-1]), dtype)


def _matrix(fn, gen=_wellcond):
    def build(size, dtype, rng):
        return Case(fn, gen(rng, _mshape(size), dtype))
    return build


def _solve_like(fn):
    def build(size, dtype, rng):
        shape = _mshape(size)
        return Case(fn, _wellcond(rng, shape, dtype),
                    _t(rng.standard_normal(shape[:-1] + (4,)), dtype))
    return build


def _sum_outputs(fn):
    # a decomposition's outputs summed into one tensor (one cotangent for all of them)
    def call(*xs):
        outs = fn(*xs)
        return tg.add_n([tg.reduce_sum(o * o) for o in outs])
    call.__name__ = getattr(fn, "__name__", "outputs")
    return call


def _complex_in(fn, shape_of):
    def build(size, dtype, rng):
        shape = shape_of(size)
        x, y = _t(rng.standard_normal(shape), dtype), _t(rng.standard_normal(shape), dtype)
        return Case(lambda a, b: fn(tg.complex(a, b)), x, y)
    return build


def _signal(size):
    return (64, 64) if size <= 8 else (size, size)


def _real_of(fn):
    def call(z):
        out = fn(z)
        return tg.math.abs(out) if out.dtype.kind == "c" else out
    return call


L, M, S = tg.linalg, tg.math, tg.signal

FORWARD = {
    # special functions (scipy.special / NumPy ufuncs)
    "tan": _elementwise(M.tan, -1, 1), "asin": _elementwise(M.asin, -0.9, 0.9),
    "acos": _elementwise(M.acos, -0.9, 0.9), "atan": _elementwise(M.atan, -2, 2),
    "sinh": _elementwise(M.sinh, -2, 2), "cosh": _elementwise(M.cosh, -2, 2),
    "asinh": _elementwise(M.asinh, -2, 2), "acosh": _elementwise(M.acosh, 1.1, 3),
    "atanh": _elementwise(M.atanh, -0.9, 0.9), "atan2": _elementwise(M.atan2, 0.5, 2, 2),
    "erf": _elementwise(M.erf, -2, 2), "erfc": _elementwise(M.erfc, -2, 2),
    "erfinv": _elementwise(M.erfinv, -0.9, 0.9), "ndtri": _elementwise(M.ndtri, 0.1, 0.9),
    "lgamma": _elementwise(M.lgamma, 0.5, 3), "digamma": _elementwise(M.digamma, 0.5, 3),
    "polygamma": _with_const(M.polygamma, 1.0, 0.5, 3),
    "igamma": _with_const(M.igamma, 1.5, 0.5, 3),
    "igammac": _with_const(M.igammac, 1.5, 0.5, 3),
    "betainc": _with_const(lambda a, x: M.betainc(a, a + 1.0, x), 2.0, 0.1, 0.9),
    "zeta": _with_const(M.zeta, 2.5, 0.5, 2),
    "bessel_i0e": _elementwise(M.bessel_i0e, -3, 3),
    "bessel_i1e": _elementwise(M.bessel_i1e, -3, 3),
    # linear algebra (numpy.linalg)
    "matrix_inverse": _matrix(L.inv),
    "matrix_solve": _solve_like(L.solve),
    "matrix_triangular_solve": _solve_like(L.triangular_solve),
    "cholesky": _matrix(L.cholesky, _spd),
    "matrix_determinant": _matrix(L.det),
    "log_abs_det": _matrix(lambda x: L.slogdet(x)[1]),
    "self_adjoint_eig": _matrix(_sum_outputs(L.eigh), _spd),
    "self_adjoint_eigvals": _matrix(L.eigvalsh, _spd),
    "svd": _matrix(_sum_outputs(L.svd)),
    "singular_values": _matrix(lambda x: L.svd(x, compute_uv=False)),
    "qr": _matrix(_sum_outputs(L.qr)),
    "pinv": _matrix(L.pinv),
    "expm": _matrix(lambda x: L.expm(x * 0.1)),
    "matrix_diag_part": _matrix(L.diag_part),
    "matrix_diag": _matrix(lambda x: L.diag(L.diag_part(x))),
    "matrix_set_diag": _matrix(lambda x: L.set_diag(x, L.diag_part(x) * 2.0)),
    # complex numbers and FFT (numpy.fft)
    "complex": _complex_in(tg.math.abs, _signal),
    "real": _complex_in(tg.real, _signal),
    "imag": _complex_in(tg.imag, _signal),
    "conj": _complex_in(lambda z: tg.math.abs(tg.conj(z) * z), _signal),
    "complex_abs": _complex_in(tg.math.abs, _signal),
    "angle": _complex_in(tg.math.angle, _signal),
    "fft_c2c": _complex_in(_real_of(S.fft), _signal),
    "fft_r2c": _elementwise(_real_of(S.rfft), -1, 1),
    "fft_c2r": _complex_in(S.irfft, _signal),
}

FORWARD_BACKWARD = dict(FORWARD)

# det's backward runs det_cofactor, whose VJP (det_cofactor_deriv's forward) the
# second-order benchmark runs
SECOND_ORDER = {name: FORWARD[name] for name in ("matrix_determinant", "cholesky",
                                                 "self_adjoint_eig")}
ADJOINTS = {"det_cofactor": "matrix_determinant", "det_cofactor_deriv": "matrix_determinant"}


class Forward:
    """One forward call of each scientific primitive."""

    params = [sorted(FORWARD), SIZES, DTYPES]
    param_names = ["op", "size", "dtype"]

    def setup(self, op, size, dtype):
        self.case = build_case(FORWARD, op, size, dtype)

    def time_forward(self, op, size, dtype):
        self.case()


class ForwardBackward:
    """Forward under a tape, then ``tape.gradient`` to every float input."""

    params = [sorted(FORWARD_BACKWARD), SIZES, DTYPES]
    param_names = ["op", "size", "dtype"]

    def setup(self, op, size, dtype):
        self.case = build_case(FORWARD_BACKWARD, op, size, dtype)
        self.dy = ones_like(self.case())

    def time_forward_backward(self, op, size, dtype):
        case = self.case
        with tg.GradientTape() as tape:
            tape.watch(case.sources)
            y = case()
        tape.gradient(y, case.sources, output_gradients=self.dy)


class SecondOrder:
    """Gradient of the squared norm of the first gradient."""

    params = [sorted(SECOND_ORDER), SIZES, DTYPES]
    param_names = ["op", "size", "dtype"]

    def setup(self, op, size, dtype):
        self.case = build_case(SECOND_ORDER, op, size, dtype)
        self.dy = ones_like(self.case())

    def time_second_order(self, op, size, dtype):
        case, dy = self.case, self.dy
        with tg.GradientTape() as outer:
            outer.watch(case.sources)
            with tg.GradientTape() as inner:
                inner.watch(case.sources)
                y = case()
            grads = inner.gradient(y, case.sources, output_gradients=dy)
            penalty = tg.add_n([tg.reduce_sum(tg.square(g)) for g in grads])
        outer.gradient(penalty, case.sources)


class Reference:
    """The NumPy/SciPy calls the forwards wrap, on the same inputs (the baseline)."""

    params = [["inv", "solve", "cholesky", "det", "eigh", "svd", "expm", "erf", "lgamma",
               "fft", "rfft"], SIZES, DTYPES]
    param_names = ["op", "size", "dtype"]

    def setup(self, op, size, dtype):
        import scipy.linalg
        import scipy.special

        rng = seed_all()
        shape = _mshape(size)
        a = rng.standard_normal(shape)
        spd = (a @ np.swapaxes(a, -1, -2) + shape[-1] * np.eye(shape[-1])).astype(dtype)
        wc = (a + 2 * np.sqrt(shape[-1]) * np.eye(shape[-1])).astype(dtype)
        b = rng.standard_normal(shape[:-1] + (4,)).astype(dtype)
        sig = rng.standard_normal(_signal(size)).astype(dtype)
        calls = {
            "inv": lambda: np.linalg.inv(wc), "solve": lambda: np.linalg.solve(wc, b),
            "cholesky": lambda: np.linalg.cholesky(spd), "det": lambda: np.linalg.det(wc),
            "eigh": lambda: np.linalg.eigh(spd), "svd": lambda: np.linalg.svd(wc),
            "expm": lambda: scipy.linalg.expm(wc * 0.1),
            "erf": lambda: scipy.special.erf(sig), "lgamma": lambda: scipy.special.gammaln(sig),
            "fft": lambda: np.fft.fft(sig + 1j * sig), "rfft": lambda: np.fft.rfft(sig),
        }
        self.call = calls[op]
        self.call()

    def time_reference(self, op, size, dtype):
        self.call()
