"""tg.jet / tg.derivatives / tg.taylor_coefficients against nested tapes and closed forms.

Every case of the gradient sweep (tests/ops/test_gradients.py) is pushed through jet
along a random direction (orders 1-4, float64) and compared with the derivatives of
<w, f(x + t v)> in t from nested tapes; a function using a primitive without a Taylor
rule must raise naming it.
"""

import importlib.util
import math
import os

import numpy as np
import pytest

import tapegrad as tg
from tapegrad.autodiff.jet import JetError
from tapegrad.graph.function import Function
from tapegrad.ops._registry import NotSupported


def _load_sweep():
    path = os.path.join(os.path.dirname(__file__), "..", "ops", "test_gradients.py")
    spec = importlib.util.spec_from_file_location("_tg_sweep_for_jet", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


SWEEP = _load_sweep()
CASES = [(name, label, fn, args) for name, cases in sorted(SWEEP.GRAD_CASES.items())
         for (label, fn, args, *_) in cases[:2]]


def _nested(g, t, k):
    """d^k g / dt^k at the scalar t, by k nested tapes."""
    if k == 0:
        return g(t)
    with tg.GradientTape() as tape:
        tape.watch(t)
        y = _nested(g, t, k - 1)
    d = tape.gradient(y, t)
    return tg.zeros_like(t) if d is None else d


def _floats(args):
    return [i for i, a in enumerate(args) if np.asarray(a).dtype.kind == "f"]


@pytest.mark.parametrize("name,label,fn,args", CASES,
                         ids=["%s[%s]" % (c[0], c[1]) for c in CASES])
def test_jet_matches_nested_tapes(name, label, fn, args):
    rng = np.random.default_rng(abs(hash(label)) % (2 ** 32))
    xs = [tg.constant(np.asarray(a)) for a in args]
    fl = _floats(args)
    if not fl:
        pytest.skip("no floating argument")
    vs = {i: rng.standard_normal(np.shape(args[i])) * 0.3 for i in fl}
    graph = Function(fn).get_concrete_function(*xs).graph
    missing = sorted({n.op for n in graph.nodes if n.prim is not None and
                      n.prim.differentiable and (n.prim.rule("taylor") is None or
                                                 isinstance(n.prim.rule("taylor"),
                                                            NotSupported))})
    K = 4
    # a case that casts to float32 on the way is compared at float32 precision
    tol = 1e-9 if all(v.dtype != np.float32 for v in graph.values.values()) else 2e-5
    series = [[tg.constant(vs[i]) if (k == 0 and i in vs) else tg.zeros_like(x)
               for k in range(K)] if x.dtype.kind == "f" else [tg.zeros_like(x)] * K
              for i, x in enumerate(xs)]
    if missing:
        with pytest.raises(JetError, match="|".join(missing)):
            tg.jet(fn, tuple(xs), tuple(series))
        return
    y0, ys = tg.jet(fn, tuple(xs), tuple(series))
    if isinstance(y0, (list, tuple)):
        y0, ys = y0[0], ys[0]

    def first(out):
        # a case may return several tensors (complex parts): the first is compared
        return out[0] if isinstance(out, (list, tuple)) else out

    np.testing.assert_allclose(y0.numpy(), first(fn(*xs)).numpy(), rtol=1e-12, atol=1e-12)
    w = tg.constant(rng.standard_normal(tuple(y0.shape)))

    def along(t):
        moved = [x + t * tg.constant(vs[i]) if i in vs else x for i, x in enumerate(xs)]
        return tg.reduce_sum(first(fn(*moved)) * w)

    t0 = tg.constant(0.0, dtype=tg.float64)
    for k in range(1, K + 1):
        want = float(_nested(along, t0, k))
        got = float(tg.reduce_sum(ys[k - 1] * w))
        scale = max(1.0, abs(want))
        assert abs(got - want) <= tol * scale, (name, label, k, got, want)


def _closed_forms():
    t = np.tanh(0.3)
    return [
        ("tanh", tg.tanh, 0.3, [1 - t ** 2, -2 * t * (1 - t ** 2),
                                (1 - t ** 2) * (6 * t ** 2 - 2)]),
        ("exp_sin", lambda x: tg.exp(tg.sin(x)), 0.7, None),
        ("log1p_sq", lambda x: tg.log1p(x * x), 0.4, None),
        ("lorentz", lambda x: 1.0 / (1.0 + x * x), 0.6, None),
    ]


def _taylor_by_series(name, x0, n):
    """Reference Taylor derivatives from exact power-series arithmetic in float64."""
    def compose_exp(c):
        # exp of a series c (c[0] included): e' = c' e
        e = np.zeros(n + 1)
        e[0] = math.exp(c[0])
        for k in range(1, n + 1):
            e[k] = sum(j * c[j] * e[k - j] for j in range(1, k + 1)) / k
        return e

    x = np.zeros(n + 1)
    x[0], x[1] = x0, 1.0
    if name == "exp_sin":
        s = np.zeros(n + 1)
        c = np.zeros(n + 1)
        s[0], c[0] = math.sin(x0), math.cos(x0)
        for k in range(1, n + 1):
            s[k] = sum(j * x[j] * c[k - j] for j in range(1, k + 1)) / k
            c[k] = -sum(j * x[j] * s[k - j] for j in range(1, k + 1)) / k
        coef = compose_exp(s)
    elif name == "log1p_sq":
        q = np.convolve(x, x)[:n + 1]
        q[0] += 1.0
        coef = np.zeros(n + 1)
        coef[0] = math.log(q[0])
        for k in range(1, n + 1):
            coef[k] = (q[k] - sum(j * coef[j] * q[k - j] for j in range(1, k)) / k) / q[0]
    else:
        q = np.convolve(x, x)[:n + 1]
        q[0] += 1.0
        coef = np.zeros(n + 1)
        for k in range(n + 1):
            coef[k] = ((1.0 if k == 0 else 0.0) - sum(q[j] * coef[k - j]
                                                     for j in range(1, k + 1))) / q[0]
    return [coef[k] * math.factorial(k) for k in range(1, n + 1)]


@pytest.mark.parametrize("name,f,x0,closed", _closed_forms(), ids=lambda v: str(v)[:12])
def test_derivatives_1_to_8_match_nested_tapes_and_closed_forms(name, f, x0, closed):
    x = tg.constant(x0, dtype=tg.float64)
    raw = tg.derivatives(f, x, 8)
    assert all(tuple(d.shape) == () for d in raw)          # a scalar's derivatives
    ds = [float(d) for d in raw]
    for k in range(1, 9):
        want = float(_nested(f, x, k))
        assert abs(ds[k - 1] - want) <= 1e-12 * max(1.0, abs(want)), (name, k, ds, want)
    if closed is not None:
        np.testing.assert_allclose(ds[:3], closed, rtol=1e-12)
    else:
        np.testing.assert_allclose(ds, _taylor_by_series(name, x0, 8), rtol=1e-12)


def test_mlp_along_a_direction():
    rng = np.random.default_rng(3)
    W1 = tg.constant(rng.standard_normal((5, 8)))
    W2 = tg.constant(rng.standard_normal((8, 3)))

    def mlp(x):
        h = tg.tanh(tg.matmul(x, W1))
        weights = tg.constant([1.0, 2.0, 3.0], dtype=tg.float64)
        return tg.reduce_sum(tg.nn.softmax(tg.matmul(h, W2)) * weights)

    x = tg.constant(rng.standard_normal((2, 5)))
    v = rng.standard_normal((2, 5))
    ds = tg.derivatives(mlp, x, 8, direction=v)
    t0 = tg.constant(0.0, dtype=tg.float64)
    for k in range(1, 9):
        want = float(_nested(lambda t: mlp(x + t * tg.constant(v)), t0, k))
        assert abs(float(ds[k - 1]) - want) <= 1e-12 * max(1.0, abs(want)), (k,)


def test_order_20_of_tanh():
    x = tg.constant(0.25, dtype=tg.float64)
    coeffs = tg.taylor_coefficients(tg.tanh, x, 20)
    # the series of tanh(x0 + t) satisfies y' = 1 - y^2 exactly: check that identity
    c = np.array([float(a) for a in coeffs])
    for k in range(1, 20):
        lhs = (k + 1) * c[k + 1]
        rhs = (1.0 if k == 0 else 0.0) - sum(c[i] * c[k - i] for i in range(k + 1))
        assert abs(lhs - rhs) <= 1e-10 * max(1.0, abs(rhs)), k
    assert np.all(np.isfinite(c))
    assert abs(c[1] - (1 - math.tanh(0.25) ** 2)) < 1e-15


def test_jet_signature_and_errors():
    x = tg.constant([0.1, 0.2], dtype=tg.float64)
    y0, (y1, y2) = tg.jet(tg.exp, (x,), ((tg.ones_like(x), tg.zeros_like(x)),))
    np.testing.assert_allclose(y1.numpy(), np.exp([0.1, 0.2]))
    np.testing.assert_allclose(y2.numpy(), np.exp([0.1, 0.2]))
    with pytest.raises(ValueError, match="series"):
        tg.jet(tg.exp, (x,), ())
    with pytest.raises(ValueError, match="shape"):
        tg.jet(tg.exp, (x,), ((tg.ones(3, dtype=tg.float64),),))
    with pytest.raises(ValueError, match="direction"):
        tg.derivatives(tg.exp, x, 2)
    v = tg.Variable(1.0)
    with pytest.raises(JetError, match="stateful"):
        tg.jet(lambda a: v.assign_add(a), (tg.constant(1.0),), ((tg.constant(1.0),),))


def test_power_with_a_whole_exponent_at_base_zero():
    # x ** p's recurrence divides by x_0; at x_0 == 0 a whole p >= 0 still has a series
    # (a polynomial): along x(t) = x_0 + t + t^2/2, against the polynomial's derivatives
    x0 = np.array([0.0, 0.0, 0.0, 0.0, 1.0])
    p = np.array([2.0, 3.0, 0.0, 5.0, 2.0])
    x, ones = tg.constant(x0), tg.ones_like(tg.constant(x0))
    polys = [np.polynomial.Polynomial([a, 1.0, 0.5]) ** int(q) for a, q in zip(x0, p)]
    want = [[poly.deriv(k)(0.0) for poly in polys] for k in range(1, 5)]
    for f in (lambda a: tg.math.pow(a, tg.constant(p)), lambda a: a ** p):
        _, ds = tg.jet(f, (x,), ([ones, ones, 0 * ones, 0 * ones],))
        for d, w in zip(ds, want):
            np.testing.assert_allclose(d.numpy(), w, rtol=1e-12, atol=1e-12)
    # a scalar exponent: the same path
    _, ds = tg.jet(lambda a: a ** 2.0, (x,), ([ones, ones, 0 * ones, 0 * ones],))
    np.testing.assert_allclose([d.numpy()[0] for d in ds], [0.0, 2.0, 6.0, 6.0], atol=1e-12)
