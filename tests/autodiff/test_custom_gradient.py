"""tg.custom_gradient: the guide's examples, variables, higher order under nested tapes,
forward mode through custom gradients, and the errors for malformed grad_fns."""

import numpy as np
import pytest

import tapegrad as tg


@tg.custom_gradient
def clip_gradient_by_norm(x, norm):
    y = tg.identity(x)

    def grad_fn(dresult):
        return [tg.clip_by_norm(dresult, norm), None]

    return y, grad_fn


def naive_log1pexp(x):
    return tg.log(1 + tg.exp(x))


@tg.custom_gradient
def log1pexp(x):
    e = tg.exp(x)

    def grad(dy):
        return dy * (1 - 1 / (1 + e))

    return tg.log(1 + e), grad


@tg.custom_gradient
def softplus_from_inputs(x):
    """grad_fn recomputes what it needs from x, so it differentiates to any order."""

    def grad(dy):
        return dy * tg.sigmoid(x)

    return tg.nn.softplus(x), grad


def test_clip_gradient_by_norm_from_the_guide():
    x = tg.constant([3.0, 4.0])
    norm = tg.constant(1.0)
    with tg.GradientTape() as tape:
        tape.watch([x, norm])
        y = clip_gradient_by_norm(x, norm)
        loss = tg.reduce_sum(y * tg.constant([30.0, 40.0]))
    gx, gnorm = tape.gradient(loss, [x, norm])
    assert y.numpy().tolist() == [3.0, 4.0]
    np.testing.assert_allclose(gx.numpy(), [0.6, 0.8], rtol=1e-6)  # [30, 40] clipped to norm 1
    assert gnorm is None
    # a small upstream gradient passes unclipped
    with tg.GradientTape() as tape:
        tape.watch(x)
        loss = tg.reduce_sum(clip_gradient_by_norm(x, 1.0) * 0.1)
    np.testing.assert_allclose(tape.gradient(loss, x).numpy(), [0.1, 0.1], rtol=1e-6)


def test_log1pexp_naive_is_nan_at_100_and_custom_is_exactly_one():
    naive = tg.gradients_function(naive_log1pexp)
    assert float(naive(0.0)[0]) == 0.5
    assert np.isnan(float(naive(100.0)[0]))
    custom = tg.gradients_function(log1pexp)
    assert float(custom(0.0)[0]) == 0.5
    assert float(custom(100.0)[0]) == 1.0
    assert float(log1pexp(tg.constant(0.0))) == pytest.approx(np.log(2.0))


def test_custom_gradient_under_nested_tapes_second_and_third_order():
    x = tg.constant([-1.0, 0.3, 2.0], dtype=tg.float64)
    with tg.GradientTape() as t3:
        t3.watch(x)
        with tg.GradientTape() as t2:
            t2.watch(x)
            with tg.GradientTape() as t1:
                t1.watch(x)
                y = tg.reduce_sum(softplus_from_inputs(x))
            g1 = t1.gradient(y, x)
        g2 = t2.gradient(g1, x)
    g3 = t3.gradient(g2, x)
    s = 1 / (1 + np.exp(-x.numpy()))
    np.testing.assert_allclose(g1.numpy(), s, rtol=1e-12)
    np.testing.assert_allclose(g2.numpy(), s * (1 - s), rtol=1e-12)
    np.testing.assert_allclose(g3.numpy(), s * (1 - s) * (1 - 2 * s), rtol=1e-12)


def test_custom_gradient_second_order_with_gradients_function():
    g = tg.gradients_function(softplus_from_inputs)
    gg = tg.gradients_function(lambda x: g(x)[0])
    assert float(gg(0.0)[0]) == pytest.approx(0.25, abs=1e-7)


def test_second_order_through_values_captured_from_the_forward():
    g = tg.gradients_function(log1pexp)
    gg = tg.gradients_function(lambda x: g(x)[0])
    d2 = gg(0.0)[0]
    assert d2 is not None and float(d2) == pytest.approx(0.25, abs=1e-7)


def test_custom_gradient_with_several_inputs_and_broadcast_gradients():
    @tg.custom_gradient
    def scaled(x, b):
        def grad(dy):
            return dy * 2.0, dy  # dy has x's shape: the engine sums it down to b's (1,)
        return x * 2.0 + b, grad

    x = tg.constant([1.0, 2.0, 3.0])
    b = tg.constant([0.5])
    with tg.GradientTape() as tape:
        tape.watch([x, b])
        y = scaled(x, b)
    gx, gb = tape.gradient(y, [x, b])
    assert gx.numpy().tolist() == [2.0, 2.0, 2.0]
    assert gb.shape == (1,) and gb.numpy().tolist() == [3.0]


def test_custom_gradient_with_variables():
    v = tg.Variable(2.0, name="scale")

    @tg.custom_gradient
    def times_v(x):
        def grad(dy, variables=None):
            assert len(variables) == 1 and variables[0] is v
            return dy * v * 10.0, [dy * x * 100.0]
        return x * v, grad

    x = tg.constant(3.0)
    with tg.GradientTape() as tape:
        tape.watch(x)
        y = times_v(x)
    gx, gv = tape.gradient(y, [x, v])
    assert float(y) == 6.0 and float(gx) == 20.0 and float(gv) == 300.0
    pairs = tg.implicit_gradients(lambda: times_v(tg.constant(1.0)))()
    assert len(pairs) == 1 and pairs[0][1] is v and float(pairs[0][0]) == 100.0


def test_forward_mode_and_jacobians_use_the_custom_gradient():
    x = tg.constant([0.0, 100.0])
    _, t = tg.jvp(log1pexp, [x], [tg.constant([2.0, 3.0])])
    assert t.numpy().tolist() == [1.0, 3.0]
    for mode in ("rev", "fwd"):
        J = tg.jacobian(log1pexp, mode=mode)(x)
        np.testing.assert_allclose(J.numpy(), np.diag([0.5, 1.0]))
    tg.check_grads(softplus_from_inputs, [np.array([-0.5, 0.2, 1.5])], order=3,
                   modes=("fwd", "rev"))


def test_wrong_number_of_gradients_names_the_function():
    @tg.custom_gradient
    def two_grads(x):
        def grad(dy):
            return dy, dy
        return x * 2.0, grad

    with pytest.raises(ValueError, match="custom_gradient two_grads: grad_fn returned 2 "
                                         "gradients for 1 inputs"):
        tg.gradients_function(two_grads)(1.0)


def test_wrong_gradient_shape_names_the_function_and_shapes():
    @tg.custom_gradient
    def bad_shape(x):
        def grad(dy):
            return tg.ones((3,))
        return x * 2.0, grad

    with pytest.raises(ValueError, match=r"custom_gradient bad_shape: gradient 0 has shape "
                                         r"\(3,\), expected \(2,\)"):
        tg.gradients_function(bad_shape)(tg.constant([1.0, 2.0]))


def test_variables_require_a_variables_keyword_and_the_right_count():
    v = tg.Variable(1.0, name="w")

    @tg.custom_gradient
    def no_kw(x):
        def grad(dy):
            return dy
        return x * v, grad

    with tg.GradientTape() as tape:
        x = tg.constant(1.0)
        tape.watch(x)
        y = no_kw(x)
    with pytest.raises(TypeError, match="custom_gradient no_kw: .*variables="):
        tape.gradient(y, x)

    @tg.custom_gradient
    def wrong_count(x):
        def grad(dy, variables=None):
            return dy, []
        return x * v, grad

    with tg.GradientTape() as tape:
        tape.watch(x)
        y = wrong_count(x)
    with pytest.raises(ValueError, match="custom_gradient wrong_count: grad_fn returned 0 "
                                         "variable gradients for 1 variables"):
        tape.gradient(y, x)


def test_function_must_return_a_grad_fn():
    @tg.custom_gradient
    def no_grad_fn(x):
        return x, None

    with pytest.raises(TypeError, match="custom_gradient no_grad_fn: the function must return "
                                        r"\(y, grad_fn\)"):
        no_grad_fn(tg.constant(1.0))
