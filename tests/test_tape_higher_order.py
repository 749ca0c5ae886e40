"""GradientTape semantics, continued (issue 4): higher order, long chains, zero-cotangent
safety, Jacobians and odd targets."""

import numpy as np
import pytest

import tapegrad as tg


def _grad(f, x, **kw):
    x = tg.constant(x)
    with tg.GradientTape() as tape:
        tape.watch(x)
        y = f(x)
    return tape.gradient(y, x, **kw)

# ---------------------------------------------------------------------------
# higher order


def _nth_derivative(f, x, n):
    tapes = [tg.GradientTape() for _ in range(n)]
    for tape in tapes:
        tape.__enter__()
        tape.watch(x)
    y = f(x)
    for tape in reversed(tapes):
        tape.__exit__(None, None, None)
        y = tape.gradient(y, x)
    return y


def test_fourth_derivative_of_tanh_exact():
    t = np.tanh(0.5)
    expected = 8 * t * (1 - t * t) * (2 - 3 * t * t)
    got = _nth_derivative(tg.tanh, tg.constant(0.5, dtype=tg.float64), 4)
    assert abs(float(got) - expected) < 1e-12


def test_nested_tapes_second_derivative():
    x = tg.constant(3.0)
    with tg.GradientTape() as outer:
        outer.watch(x)
        with tg.GradientTape() as inner:
            inner.watch(x)
            y = x * x * x
        dy = inner.gradient(y, x)
    assert float(dy) == 27.0
    assert float(outer.gradient(dy, x)) == 18.0


def test_guide_higher_order_example():
    """The guide's gradients of x^3 style nesting with a variable."""
    v = tg.Variable(2.0)
    with tg.GradientTape() as t2:
        with tg.GradientTape() as t1:
            y = v * v * v
        g1 = t1.gradient(y, v)
    g2 = t2.gradient(g1, v)
    assert float(g1) == 12.0 and float(g2) == 12.0


def test_higher_order_through_matmul_and_softmax():
    x = tg.constant(np.random.default_rng(0).standard_normal((2, 3)))
    w = tg.constant(np.random.default_rng(1).standard_normal((3, 3)))
    with tg.GradientTape() as outer:
        outer.watch(x)
        with tg.GradientTape() as inner:
            inner.watch(x)
            y = tg.reduce_sum(tg.nn.softmax(tg.matmul(x, w)) ** 2)
        g = inner.gradient(y, x)
        s = tg.reduce_sum(g * g)
    assert outer.gradient(s, x).shape == (2, 3)
    tg.check_grads(lambda a: tg.reduce_sum(tg.nn.softmax(tg.matmul(a, w)) ** 2),
                   [x.numpy()], order=2)


def test_higher_order_cost_is_linear_in_order():
    """The n-th derivative's tape does not blow up: record counts grow polynomially."""
    x = tg.constant(0.3, dtype=tg.float64)
    sizes = []
    for n in range(1, 6):
        outer = tg.GradientTape(persistent=True)
        with outer:
            outer.watch(x)
            _nth_derivative(tg.tanh, x, n)
        sizes.append(len(outer._core.producers))
    ratios = [b / a for a, b in zip(sizes, sizes[1:])]
    assert max(ratios) < 4, sizes


# ---------------------------------------------------------------------------
# long chains


def test_100k_op_chain_no_recursion_error():
    x = tg.constant(1.0, dtype=tg.float64)
    with tg.GradientTape() as tape:
        tape.watch(x)
        y = x
        for _ in range(50_000):
            y = y * 1.0
            y = y + 0.0
    g = tape.gradient(y, x)
    assert float(g) == 1.0


def test_long_chain_of_unary_ops():
    x = tg.constant(0.1, dtype=tg.float64)
    with tg.GradientTape() as tape:
        tape.watch(x)
        y = x
        for _ in range(2000):
            y = tg.sin(y)
    expected, v = 1.0, 0.1
    for _ in range(2000):
        expected *= np.cos(v)
        v = np.sin(v)
    assert float(tape.gradient(y, x)) == pytest.approx(expected, rel=1e-9)


# ---------------------------------------------------------------------------
# zero-cotangent safety: a branch masked off by where never injects NaN


_XS = np.array([-2.0, -1.0, 0.0, 1.0, 4.0])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_where_sqrt_finite_everywhere(dtype):
    g = _grad(lambda x: tg.where(x > 0, tg.sqrt(x), 0.0), _XS.astype(dtype))
    assert np.all(np.isfinite(g.numpy()))
    np.testing.assert_allclose(g.numpy(), [0, 0, 0, 0.5, 0.25])


@pytest.mark.parametrize("f, expected", [
    (lambda x: tg.where(x > 0, tg.log(x), 0.0), [0, 0, 0, 1, 0.25]),
    (lambda x: tg.where(x > 0, tg.rsqrt(x), 0.0), [0, 0, 0, -0.5, -1 / 16]),
    (lambda x: tg.where(x != 0, tg.reciprocal(x), 0.0), [-0.25, -1, 0, -1, -1 / 16]),
    (lambda x: tg.where(x != 0, 1.0 / x, 0.0), [-0.25, -1, 0, -1, -1 / 16]),
    (lambda x: tg.where(x != 0, 3.0 / x, 0.0), [-0.75, -3, 0, -3, -3 / 16]),
    (lambda x: tg.where(x > 0, x ** 0.5, 0.0), [0, 0, 0, 0.5, 0.25]),
    (lambda x: tg.where(x > 0, x ** 1.5, 0.0), [0, 0, 0, 1.5, 3.0]),
    (lambda x: tg.where(x > -1, tg.log1p(x), 0.0), [0, 0, 1, 0.5, 0.2]),
    (lambda x: tg.where(x > 0, tg.log(tg.abs(x)) * 2.0, 0.0), [0, 0, 0, 2, 0.5]),
])
def test_masked_division_forms_have_finite_gradients(f, expected):
    g = _grad(f, _XS)
    assert np.all(np.isfinite(g.numpy())), g
    np.testing.assert_allclose(g.numpy(), expected, rtol=1e-6, atol=1e-12)


@pytest.mark.parametrize("f, expected", [
    (lambda x: tg.where(x > 0, tg.sqrt(x), 0.0), [0, 0, 0, -0.25, -1 / 32]),
    (lambda x: tg.where(x > 0, tg.log(x), 0.0), [0, 0, 0, -1, -1 / 16]),
    (lambda x: tg.where(x != 0, 1.0 / x, 0.0), [-0.25, -2, 0, 2, 1 / 32]),
    (lambda x: tg.where(x != 0, x ** -1.0, 0.0), [-0.25, -2, 0, 2, 1 / 32]),
    (lambda x: tg.where(x > 0, x ** 0.5, 0.0), [0, 0, 0, -0.25, -1 / 32]),
    (lambda x: tg.where(x > 0, tg.rsqrt(x), 0.0), [0, 0, 0, 0.75, 0.75 / 32]),
    (lambda x: tg.where(x != 0, tg.reciprocal(x), 0.0), [-0.25, -2, 0, 2, 1 / 32]),
])
def test_masked_second_derivatives_are_finite(f, expected):
    x = tg.constant(_XS)
    with tg.GradientTape() as outer:
        outer.watch(x)
        with tg.GradientTape() as inner:
            inner.watch(x)
            y = f(x)
        g = inner.gradient(y, x)
    h = outer.gradient(g, x).numpy()
    assert np.all(np.isfinite(h)), h
    np.testing.assert_allclose(h, expected, rtol=1e-6, atol=1e-12)


def test_masked_gradients_finite_at_second_order():
    x = tg.constant(_XS)
    with tg.GradientTape() as outer:
        outer.watch(x)
        with tg.GradientTape() as inner:
            inner.watch(x)
            y = tg.where(x > 0, tg.sqrt(x), 0.0) + tg.where(x > 0, tg.log(x), 0.0)
        g = inner.gradient(y, x)
    h = outer.gradient(g, x).numpy()
    assert np.all(np.isfinite(h))
    safe = np.where(_XS > 0, _XS, 1.0)
    expected = np.where(_XS > 0, -0.25 * safe ** -1.5 - 1 / safe ** 2, 0)
    np.testing.assert_allclose(h, expected, rtol=1e-6)


def test_masked_log_with_mask_multiplication():
    """A masked log via multiply by a 0/1 mask: 0 * (1/0) stays 0, not NaN."""
    x = tg.constant([0.0, 2.0])
    mask = tg.constant([0.0, 1.0])
    g = _grad(lambda x_: tg.reduce_sum(tg.where(mask > 0, tg.log(x_), 0.0)), x.numpy())
    np.testing.assert_array_equal(g.numpy(), [0.0, 0.5])


# Per op: a zero incoming gradient gives exactly zero, even at points where the
# partial derivative is infinite or undefined (division-form VJPs).
_ZERO_COT = [
    ("log", tg.log, [0.0, -1.0]),
    ("log1p", tg.log1p, [-1.0, -2.0]),
    ("sqrt", tg.sqrt, [0.0, -1.0]),
    ("rsqrt", tg.rsqrt, [0.0, -1.0]),
    ("reciprocal", tg.reciprocal, [0.0]),
    ("divide numerator", lambda x: x / 0.0, [1.0, 0.0]),
    ("divide denominator", lambda x: 1.0 / x, [0.0]),
    ("divide both", lambda x: x / x, [0.0]),
    ("pow base", lambda x: x ** 0.5, [0.0, -1.0]),
    ("pow base negative exponent", lambda x: x ** -2.0, [0.0]),
    ("pow exponent", lambda x: tg.pow(-1.0, x), [0.5]),
    ("pow exponent zero base", lambda x: tg.pow(0.0, x), [-1.0]),
    ("tanh", tg.tanh, [1e30]),
    ("sigmoid", tg.sigmoid, [-1e30, 1e30]),
    ("square", tg.square, [0.0]),
    ("abs", tg.abs, [0.0]),
    ("relu", tg.nn.relu, [0.0]),
    ("softmax", lambda x: tg.nn.softmax(x), [1.0, -np.inf]),
    ("log_softmax", lambda x: tg.nn.log_softmax(x), [1.0, -np.inf]),
    ("reduce_max", tg.reduce_max, [1.0, 1.0]),
    ("maximum", lambda x: tg.maximum(x, 0.0), [0.0]),
    ("matmul", lambda x: tg.matmul(tg.reshape(x, (1, 2)), tg.ones((2, 1))), [1.0, 2.0]),
    ("reduce_prod", tg.reduce_prod, [0.0, 0.0]),
    ("conv2d", lambda x: tg.nn.conv2d(tg.reshape(x, (1, 1, 2, 1)), tg.ones((1, 1, 1, 1)), 1,
                                      "VALID"), [1.0, 2.0]),
    ("clip_by_norm", lambda x: tg.clip_by_norm(x, 1.0), [0.0, 0.0]),
]


@pytest.mark.parametrize("name, f, values", _ZERO_COT, ids=[c[0] for c in _ZERO_COT])
def test_zero_cotangent_gives_exact_zero(name, f, values):
    x = tg.constant(np.array(values, np.float32))
    with tg.GradientTape() as tape:
        tape.watch(x)
        y = f(x)
    g = tape.gradient(y, x, output_gradients=tg.zeros_like(y)).numpy()
    assert not np.any(np.isnan(g)), (name, g)
    np.testing.assert_array_equal(g, np.zeros_like(g))


@pytest.mark.parametrize("name, f, values", _ZERO_COT[:12], ids=[c[0] for c in _ZERO_COT[:12]])
def test_zero_cotangent_exact_zero_at_second_order(name, f, values):
    """The VJPs of the VJPs keep the property (safe_mul is itself safe)."""
    x = tg.constant(np.array(values, np.float64))
    with tg.GradientTape() as outer:
        outer.watch(x)
        with tg.GradientTape() as inner:
            inner.watch(x)
            y = f(x)
        g = inner.gradient(y, x, output_gradients=tg.zeros_like(y))
    h = outer.gradient(g, x)
    if h is not None:
        h = h.numpy()
        assert not np.any(np.isnan(h)), (name, h)
        np.testing.assert_array_equal(h, np.zeros_like(h))


def test_naive_log1pexp_still_nan_at_100():
    """The guide's point: a multiplicative VJP (exp) keeps IEEE 0 * inf = NaN."""

    def log1pexp(x):
        return tg.log(1.0 + tg.exp(x))

    g0 = _grad(log1pexp, np.float32(0.0))
    assert float(g0) == pytest.approx(0.5)
    g100 = _grad(log1pexp, np.float32(100.0))
    assert np.isnan(float(g100))


def test_custom_gradient_log1pexp_fixes_nan():
    @tg.custom_gradient
    def log1pexp(x):
        e = tg.exp(x)

        def grad(dy):
            return dy * (1 - 1 / (1 + e))

        return tg.log(1 + e), grad

    assert float(_grad(log1pexp, np.float32(100.0))) == 1.0
    assert float(_grad(tg.nn.softplus, np.float32(100.0))) == 1.0


# ---------------------------------------------------------------------------
# jacobians and odd targets


def test_jacobian_matches_analytic():
    x = tg.constant([1.0, 2.0, 3.0])
    w = tg.constant([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    with tg.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y = tg.matmul(tg.reshape(x * x, (1, 3)), w)[0]
    jac = tape.jacobian(y, x)
    assert jac.shape == (2, 3)
    np.testing.assert_allclose(jac.numpy(), (w.numpy() * 2 * x.numpy()[:, None]).T)


def test_batch_jacobian_matches_per_example():
    x = tg.constant([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    with tg.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y = tg.concat([x * x, tg.reduce_sum(x, axis=1, keepdims=True)], axis=1)
    bj = tape.batch_jacobian(y, x)
    assert bj.shape == (3, 3, 2)
    for b in range(3):
        expected = np.vstack([np.diag(2 * x.numpy()[b]), np.ones((1, 2))])
        np.testing.assert_allclose(bj.numpy()[b], expected)


def test_gradient_with_respect_to_intermediate():
    x = tg.constant([1.0, 2.0])
    with tg.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y = x * 2.0
        z = tg.reduce_sum(y * y)
    np.testing.assert_array_equal(tape.gradient(z, y).numpy(), [4, 8])
    np.testing.assert_array_equal(tape.gradient(z, x).numpy(), [8, 16])


def test_integer_target_and_unrelated_target_give_none():
    x = tg.constant([1.5, 2.5])
    with tg.GradientTape(persistent=True) as tape:
        tape.watch(x)
        i = tg.cast(x, tg.int32)
    assert tape.gradient(i, x) is None
    assert tape.gradient(tg.constant(3.0), x) is None


def test_output_gradients_errors():
    x = tg.constant([1.0, 2.0])
    with tg.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y = x * 2.0
    with pytest.raises(ValueError):
        tape.gradient(y, x, output_gradients=tg.ones((3,)))
    with pytest.raises(TypeError, match="float64"):
        tape.gradient(y, x, output_gradients=tg.ones((2,), tg.float64))
    np.testing.assert_array_equal(tape.gradient(y, x, output_gradients=3.0).numpy(), [6, 6])


def test_sources_must_be_tensors_or_variables():
    x = tg.constant(1.0)
    with tg.GradientTape() as tape:
        tape.watch(x)
        y = x * x
    with pytest.raises(TypeError, match="sources"):
        tape.gradient(y, [x, 3.0])


def test_tapes_exited_out_of_order():
    x = tg.constant([1.0, 2.0])
    a, b = tg.GradientTape(persistent=True), tg.GradientTape(persistent=True)
    a.__enter__()
    b.__enter__()
    a.watch(x)
    b.watch(x)
    y = x * 3.0
    a.__exit__(None, None, None)
    z = y * 2.0
    b.__exit__(None, None, None)
    assert a.gradient(z, x) is None
    np.testing.assert_array_equal(a.gradient(y, x).numpy(), [3, 3])
    np.testing.assert_array_equal(b.gradient(z, x).numpy(), [6, 6])


def test_persistent_tape_records_its_own_gradient_inside_context():
    x = tg.constant(3.0)
    with tg.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y = x * x
        dy = tape.gradient(y, x)
    assert float(dy) == 6.0
    assert float(tape.gradient(dy, x)) == 2.0


def test_unread_variable_unconnected_zero():
    v = tg.Variable([[1.0, 2.0]], dtype=tg.float64)
    x = tg.constant(1.0)
    with tg.GradientTape() as tape:
        tape.watch(x)
        y = x * 2.0
    gx, gv = tape.gradient(y, [x, v], unconnected_gradients="zero")
    assert float(gx) == 2.0
    assert gv.shape == (1, 2) and gv.dtype == np.float64
    np.testing.assert_array_equal(gv.numpy(), [[0.0, 0.0]])
