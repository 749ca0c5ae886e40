"""tg.math special functions: values equal scipy.special/NumPy (the kernels), dtypes kept,
edge values, errors, and the namespace itself."""

import numpy as np
import pytest
import scipy.special as sp

import tapegrad as tg
from tapegrad import _core

M = tg.math
RNG = np.random.default_rng(5)

UNARY = [
    ("tan", np.tan, -1, 1), ("asin", np.arcsin, -0.9, 0.9), ("acos", np.arccos, -0.9, 0.9),
    ("atan", np.arctan, -3, 3), ("sinh", np.sinh, -3, 3), ("cosh", np.cosh, -3, 3),
    ("asinh", np.arcsinh, -3, 3), ("acosh", np.arccosh, 1, 4), ("atanh", np.arctanh, -0.9, 0.9),
    ("erf", sp.erf, -3, 3), ("erfc", sp.erfc, -3, 3), ("erfinv", sp.erfinv, -0.99, 0.99),
    ("ndtri", sp.ndtri, 0.01, 0.99), ("lgamma", sp.gammaln, 0.1, 10),
    ("digamma", sp.digamma, 0.1, 10), ("bessel_i0e", sp.i0e, -5, 5),
    ("bessel_i1e", sp.i1e, -5, 5),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name, ref, lo, hi", UNARY, ids=[u[0] for u in UNARY])
def test_unary_values_equal_the_kernel(name, ref, lo, hi, dtype):
    x = RNG.uniform(lo, hi, (3, 4)).astype(dtype)
    out = getattr(M, name)(x)
    assert out.dtype == dtype and out.shape == (3, 4)
    np.testing.assert_array_equal(out.numpy(), ref(x).astype(dtype))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_binary_and_ternary_values(dtype):
    a = RNG.uniform(0.5, 3, (4,)).astype(dtype)
    x = RNG.uniform(0.1, 0.9, (4,)).astype(dtype)
    np.testing.assert_array_equal(M.igamma(a, x).numpy(), sp.gammainc(a, x).astype(dtype))
    np.testing.assert_array_equal(M.igammac(a, x).numpy(), sp.gammaincc(a, x).astype(dtype))
    np.testing.assert_array_equal(M.betainc(a, a + 1, x).numpy(),
                                  sp.betainc(a, a + 1, x).astype(dtype))
    np.testing.assert_array_equal(M.zeta(a + 1, x).numpy(), sp.zeta(a + 1, x).astype(dtype))
    np.testing.assert_array_equal(M.polygamma(np.full(4, 2.0, dtype), a).numpy(),
                                  sp.polygamma(2, a).astype(dtype))
    np.testing.assert_array_equal(M.atan2(x, a - 2).numpy(), np.arctan2(x, a - 2))
    tol = dict(rtol=1e-6) if dtype == np.float32 else dict(rtol=1e-13)
    np.testing.assert_allclose(M.lbeta(np.stack([a, x], -1)).numpy(),
                               sp.betaln(a, x), **tol)
    np.testing.assert_allclose(M.xlogy(x, a).numpy(), sp.xlogy(x, a), **tol)
    np.testing.assert_allclose(M.xlog1py(x, a).numpy(), sp.xlog1py(x, a), **tol)
    np.testing.assert_allclose(M.squared_difference(x, a).numpy(), (x - a) ** 2, **tol)
    np.testing.assert_allclose(M.log_sigmoid(a - 2).numpy(), -np.logaddexp(0, -(a - 2)), **tol)


def test_zero_conventions_and_their_gradients():
    x = tg.constant([0.0, 0.0, 2.0], dtype=tg.float64)
    y = tg.constant([0.0, 3.0, 0.0], dtype=tg.float64)
    with tg.GradientTape(persistent=True) as tape:
        tape.watch([x, y])
        outs = {"xlogy": M.xlogy(x, y), "xdivy": M.xdivy(x, y), "xlog1py": M.xlog1py(x, y - 1),
                "divide_no_nan": M.divide_no_nan(x, y),
                "multiply_no_nan": M.multiply_no_nan(x * np.inf, y)}
    np.testing.assert_array_equal(outs["xlogy"].numpy(), [0.0, 0.0, -np.inf])
    np.testing.assert_array_equal(outs["xdivy"].numpy(), [0.0, 0.0, np.inf])
    np.testing.assert_array_equal(outs["divide_no_nan"].numpy(), [0.0, 0.0, 0.0])
    # y == 0 gives 0 even where x is NaN (0 * inf) or inf
    np.testing.assert_array_equal(outs["multiply_no_nan"].numpy()[[0, 2]], [0.0, 0.0])
    for name in ("xlogy", "xdivy", "divide_no_nan"):
        gx, gy = tape.gradient(outs[name], [x, y])
        assert np.all(np.isfinite(gx.numpy()[:2])) and np.all(np.isfinite(gy.numpy()[:2])), name
    gx, gy = tape.gradient(outs["divide_no_nan"], [x, y])
    np.testing.assert_array_equal(gx.numpy(), [0.0, 1 / 3.0, 0.0])


def test_bessel_i1e_gradient_at_zero_is_one_half():
    x = tg.constant([0.0], dtype=tg.float64)
    with tg.GradientTape() as tape:
        tape.watch(x)
        y = M.bessel_i1e(x)
    np.testing.assert_allclose(tape.gradient(y, x).numpy(), [0.5])


def test_gradients_wrt_parameters_raise_clearly():
    a = tg.constant([1.5, 2.0], dtype=tg.float64)
    x = tg.constant([0.5, 1.0], dtype=tg.float64)
    with tg.GradientTape() as tape:
        tape.watch([a, x])
        y = M.igamma(a, x)
    with pytest.raises(NotImplementedError, match="igamma: .*respect to a"):
        tape.gradient(y, [a, x])
    with pytest.raises(ValueError, match="polygamma: the order a must be a non-negative int"):
        M.polygamma(np.array([0.5]), np.array([1.0]))


def test_dtype_errors_name_the_op():
    with pytest.raises(TypeError, match=r"erf: .*int32"):
        M.erf(tg.constant([1, 2]))
    with pytest.raises(TypeError, match="lgamma: .*bool"):
        M.lgamma(np.array([True]))
    with pytest.raises(TypeError, match="igamma: dtypes differ"):
        M.igamma(tg.constant(np.array([1.0], np.float32)), tg.constant(np.array([1.0])))
    with pytest.raises(ValueError, match="lbeta: needs rank >= 1"):
        M.lbeta(1.0)


def test_math_namespace_is_one_namespace():
    """Existing ops are re-exported (the same objects), nothing is defined twice."""
    for name in ("add", "exp", "log", "reduce_sum", "reduce_mean", "argmax", "sigmoid",
                 "maximum", "cast", "sqrt", "tanh", "reduce_logsumexp"):
        assert getattr(M, name) is getattr(tg, name), name
    assert M.softplus is tg.nn.softplus
    for name in ("erf", "erfc", "erfinv", "ndtri", "lgamma", "digamma", "polygamma", "igamma",
                 "igammac", "lbeta", "betainc", "zeta", "bessel_i0e", "bessel_i1e", "xlogy",
                 "xdivy", "xlog1py", "log_sigmoid", "softplus", "atan2", "tan", "asin", "acos",
                 "atan", "sinh", "cosh", "asinh", "acosh", "atanh", "squared_difference",
                 "reduce_euclidean_norm", "divide_no_nan", "multiply_no_nan", "real", "imag",
                 "conj", "angle", "abs"):
        fn = getattr(M, name)
        assert callable(fn) and fn.__doc__, name
        assert not isinstance(fn, _core.Primitive), name


def test_import_tapegrad_does_not_import_scipy():
    import subprocess
    import sys

    code = ("import sys, tapegrad as tg; tg.linalg.inv([[2.0]]); "
            "assert 'scipy' not in sys.modules, 'scipy imported'; "
            "tg.math.erf(1.0); assert 'scipy.special' in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_bessel_i1e_higher_derivatives_near_zero():
    # i1e'(x) has an i1e(x)/x term: differentiated as a quotient its derivatives are
    # differences of ~1/x^k terms, the third derivative at x = 1e-8 was 2.0, not 1.875.
    # Reference: the power series of e^-x I1(x) for x > 0 (12 terms are exact here)
    from math import factorial

    i1 = np.zeros(12)
    for k in range(6):
        i1[2 * k + 1] = 0.5 ** (2 * k + 1) / (factorial(k) * factorial(k + 1))
    e = np.array([(-1.0) ** j / factorial(j) for j in range(12)])
    poly = np.polynomial.Polynomial(np.convolve(e, i1)[:12])
    for x0 in (1e-8, 1e-4, 0.03, 0.2):
        x = tg.constant(np.array([x0, -x0]))
        with tg.GradientTape() as t3:
            t3.watch(x)
            with tg.GradientTape() as t2:
                t2.watch(x)
                with tg.GradientTape() as t1:
                    t1.watch(x)
                    y = tg.reduce_sum(M.bessel_i1e(x))
                d1 = t1.gradient(y, x)
                s1 = tg.reduce_sum(d1)
            d2 = t2.gradient(s1, x)
            s2 = tg.reduce_sum(d2)
        d3 = t3.gradient(s2, x)
        for k, d in ((1, d1), (2, d2), (3, d3)):
            want = poly.deriv(k)(x0)
            # i1e is odd: its k-th derivative at -x is (-1)^(k+1) times the one at x
            np.testing.assert_allclose(d.numpy(), [want, (-1) ** (k + 1) * want],
                                       rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("dtype, big", [(np.float64, 1e160), (np.float32, 1e30)])
def test_asinh_acosh_gradients_do_not_overflow(dtype, big):
    # 1/sqrt(x^2 +- 1): x^2 overflowed past 1.3e154 (3.4e19 in float32), giving 0
    x0 = np.array([3.0, big], dtype)
    x = tg.constant(x0)
    with tg.GradientTape(persistent=True) as tape:
        tape.watch(x)
        a, c = tg.reduce_sum(M.asinh(x)), tg.reduce_sum(M.acosh(x))
    tol = 1e-6 if dtype == np.float32 else 1e-14
    np.testing.assert_allclose(tape.gradient(a, x).numpy(), [1 / np.sqrt(10), 1 / big],
                               rtol=tol)
    np.testing.assert_allclose(tape.gradient(c, x).numpy(), [1 / np.sqrt(8), 1 / big],
                               rtol=tol)
