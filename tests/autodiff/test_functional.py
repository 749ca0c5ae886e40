"""gradients_function / value_and_gradients_function / implicit_gradients (the guide) and
grad / value_and_grad (JAX style), against analytic results and finite differences."""

import numpy as np
import pytest

import tapegrad as tg


def square(x):
    return tg.multiply(x, x)


def flow_abs(x):
    return x if x > 0.0 else -x


def test_guide_square_and_its_derivatives():
    grad = tg.gradients_function(square)
    assert float(square(3.0)) == 9.0
    g = grad(3.0)
    assert isinstance(g, list) and len(g) == 1 and float(g[0]) == 6.0
    gradgrad = tg.gradients_function(lambda x: grad(x)[0])
    assert float(gradgrad(3.0)[0]) == 2.0
    gradgradgrad = tg.gradients_function(lambda x: gradgrad(x)[0])
    assert gradgradgrad(3.0) == [None]


def test_guide_abs_with_flow_control():
    grad = tg.gradients_function(flow_abs)
    assert float(grad(3.0)[0]) == 1.0
    assert float(grad(-3.0)[0]) == -1.0


def test_value_and_gradients_function():
    vg = tg.value_and_gradients_function(lambda x, y: x * x * y)
    value, grads = vg(2.0, 5.0)
    assert float(value) == 20.0
    assert [float(g) for g in grads] == [20.0, 4.0]


def test_params_select_arguments_by_name_or_index_and_unconnected_is_none():
    def f(a, b, c):
        return a * b

    assert [float(g) for g in tg.gradients_function(f, params=["b"])(2.0, 3.0, 4.0)] == [2.0]
    assert [float(g) for g in tg.gradients_function(f, params=[0])(2.0, 3.0, 4.0)] == [3.0]
    grads = tg.gradients_function(f)(2.0, 3.0, 4.0)
    assert float(grads[0]) == 3.0 and float(grads[1]) == 2.0 and grads[2] is None
    with pytest.raises(ValueError, match="'z' is not a parameter of f"):
        tg.gradients_function(f, params=["z"])(1.0, 2.0, 3.0)
    with pytest.raises(ValueError, match="parameter 2 was not passed"):
        tg.gradients_function(lambda a, b, c=1.0: a * b * c, params=[2])(1.0, 2.0)


def test_gradients_function_matches_finite_differences():
    def f(x, w):
        return tg.reduce_sum(tg.nn.softplus(tg.matmul(x, w)))

    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 3))
    w = rng.standard_normal((3, 4))
    gx, gw = tg.gradients_function(f)(tg.constant(x), tg.constant(w))
    eps = 1e-6
    for arr, g, k in ((x, gx, 0), (w, gw, 1)):
        for idx in np.ndindex(*arr.shape):
            d = np.zeros_like(arr)
            d[idx] = eps
            args_p = [tg.constant(x), tg.constant(w)]
            args_m = [tg.constant(x), tg.constant(w)]
            args_p[k] = tg.constant(arr + d)
            args_m[k] = tg.constant(arr - d)
            fd = (float(f(*args_p)) - float(f(*args_m))) / (2 * eps)
            assert abs(float(g.numpy()[idx]) - fd) < 1e-6


def test_gradients_function_composes_to_fourth_order():
    f = lambda x: x ** 5  # noqa: E731
    fs = [f]
    for _ in range(4):
        g = tg.gradients_function(fs[-1])
        fs.append(lambda x, g=g: g(x)[0])
    x = tg.constant(1.5, dtype=tg.float64)
    expected = [1.5 ** 5, 5 * 1.5 ** 4, 20 * 1.5 ** 3, 60 * 1.5 ** 2, 120 * 1.5]
    for fk, e in zip(fs, expected):
        assert abs(float(fk(x)) - e) < 1e-10 * abs(e)


# ---------------------------------------------------------------------------
# implicit gradients

def test_implicit_gradients_pairs_every_trainable_variable_read():
    w = tg.Variable([1.0, 2.0], name="w")
    b = tg.Variable(0.5, name="b")
    frozen = tg.Variable(3.0, trainable=False, name="frozen")
    unused = tg.Variable(7.0, name="unused")

    def loss(x):
        return tg.reduce_sum(w * x) * frozen + b

    pairs = tg.implicit_gradients(loss)(tg.constant([3.0, 4.0]))
    by_var = {v.name: g for g, v in pairs}
    assert set(by_var) == {"w:0", "b:0"}
    assert all(v is not unused and v is not frozen for _, v in pairs)
    assert by_var["w:0"].numpy().tolist() == [9.0, 12.0]
    assert float(by_var["b:0"]) == 1.0
    value, pairs2 = tg.implicit_value_and_gradients(loss)(tg.constant([3.0, 4.0]))
    assert float(value) == 3.0 * 11.0 + 0.5
    assert [float(np.sum(g.numpy())) for g, _ in pairs2] == \
        [float(np.sum(g.numpy())) for g, _ in pairs]
    _ = unused  # read nowhere, so never reported


def test_implicit_gradients_train_a_linear_model():
    w = tg.Variable(0.0)
    xs = tg.constant([1.0, 2.0, 3.0])
    ys = xs * 3.0
    step = tg.implicit_gradients(lambda: tg.reduce_mean(tg.square(w * xs - ys)))
    for _ in range(50):
        (g, v), = step()
        v.assign_sub(0.1 * g)
    assert abs(float(w) - 3.0) < 1e-4


def test_implicit_gradients_without_variables_is_a_clear_error():
    with pytest.raises(ValueError, match="read no trainable variables"):
        tg.implicit_gradients(lambda x: x * 2.0)(tg.constant(1.0))


# ---------------------------------------------------------------------------
# grad / value_and_grad

def test_grad_argnums_and_value_and_grad():
    f = lambda x, y, z: x * x * y + z  # noqa: E731
    x, y, z = tg.constant(2.0), tg.constant(3.0), tg.constant(4.0)
    assert float(tg.grad(f)(x, y, z)) == 12.0
    assert float(tg.grad(f, argnums=1)(x, y, z)) == 4.0
    gx, gz = tg.grad(f, argnums=(0, 2))(x, y, z)
    assert (float(gx), float(gz)) == (12.0, 1.0)
    value, (gy,) = tg.value_and_grad(f, argnums=(1,))(x, y, z)
    assert float(value) == 16.0 and float(gy) == 4.0


def test_grad_has_aux():
    def f(x):
        y = tg.reduce_sum(x * x)
        return y, {"norm": tg.sqrt(y)}

    g, aux = tg.grad(f, has_aux=True)(tg.constant([3.0, 4.0]))
    assert g.numpy().tolist() == [6.0, 8.0] and float(aux["norm"]) == 5.0
    (value, aux), g = tg.value_and_grad(f, has_aux=True)(tg.constant([3.0, 4.0]))
    assert float(value) == 25.0 and g.numpy().tolist() == [6.0, 8.0]
    with pytest.raises(ValueError, match=r"must return \(value, aux\)"):
        tg.grad(lambda x: x * x, has_aux=True)(tg.constant(1.0))


def test_grad_of_structured_argument_and_unconnected_zero():
    def f(p, x):
        return tg.reduce_sum(p["w"] * x) + p["b"]

    g = tg.grad(f)({"w": tg.constant([1.0, 2.0]), "b": tg.constant(0.5),
                    "unused": tg.constant(9.0)}, tg.constant([3.0, 4.0]))
    assert g["w"].numpy().tolist() == [3.0, 4.0]
    assert float(g["b"]) == 1.0
    assert float(g["unused"]) == 0.0  # JAX semantics: zeros, not None


def test_grad_python_number_input_and_higher_order():
    assert float(tg.grad(lambda x: x * x * x)(2.0)) == 12.0
    d3 = tg.grad(tg.grad(tg.grad(lambda x: tg.sin(x) * x)))
    x = 0.4
    assert abs(float(d3(tg.constant(x, dtype=tg.float64))) -
               (-3 * np.sin(x) - x * np.cos(x))) < 1e-12


def test_grad_errors():
    with pytest.raises(ValueError, match=r"grad: the function must return a scalar, got "
                                         r"shape \(2,\)"):
        tg.grad(lambda x: x * 2.0)(tg.constant([1.0, 2.0]))
    with pytest.raises(TypeError, match="output must be floating, got int32"):
        tg.grad(lambda x: tg.cast(x, tg.int32))(tg.constant(1.0))
    with pytest.raises(ValueError, match="argnums 1 but only 1 arguments"):
        tg.grad(lambda x: x, argnums=1)(tg.constant(1.0))


def test_grad_same_tensor_as_two_arguments():
    x = tg.constant(2.0)
    ga, gb = tg.grad(lambda a, b: a * b * b, argnums=(0, 1))(x, x)
    assert (float(ga), float(gb)) == (4.0, 8.0)
