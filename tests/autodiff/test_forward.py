"""Forward mode (tg.jvp, tg.ForwardAccumulator) and tg.vjp against finite-difference
Jacobians: JVP = J @ v and VJP = u^T @ J over every op family."""

import numpy as np
import pytest

import tapegrad as tg
from tapegrad.ops import ufuncs as _ufuncs  # the array API's extra elementwise ops

RNG = np.random.default_rng(7)


def _rand(shape, low=None):
    a = RNG.standard_normal(shape)
    if low is not None:  # keep away from a singular point (log, sqrt, abs, ...)
        a = low + np.abs(a)
    return a


def fd_jacobian(f, args, eps=1e-6):
    """Central-difference Jacobian of the flattened output w.r.t. each flattened arg."""
    args = [np.asarray(a, dtype=np.float64) for a in args]
    y0 = np.asarray(f(*[tg.constant(a) for a in args]))
    blocks = []
    for k, a in enumerate(args):
        J = np.zeros((y0.size, a.size))
        for j in range(a.size):
            d = np.zeros(a.size)
            d[j] = eps
            plus = [tg.constant(b) for b in args]
            minus = [tg.constant(b) for b in args]
            plus[k] = tg.constant(a + d.reshape(a.shape))
            minus[k] = tg.constant(a - d.reshape(a.shape))
            J[:, j] = (np.asarray(f(*plus)) - np.asarray(f(*minus))).ravel() / (2 * eps)
        blocks.append(J)
    return y0, blocks


def _conv(x, w):
    return tg.nn.conv2d(x, w, strides=1, padding="SAME")


# name, function, input arrays (float64)
OPS = [
    ("tanh", tg.tanh, [_rand((3, 4))]),
    ("sin", tg.sin, [_rand((5,))]),
    ("cos", tg.cos, [_rand((2, 3))]),
    ("exp", tg.exp, [_rand((4,))]),
    ("expm1", tg.expm1, [_rand((4,))]),
    ("log", tg.log, [_rand((3,), 0.5)]),
    ("log1p", tg.log1p, [_rand((3,), 0.5)]),
    ("sqrt", tg.sqrt, [_rand((2, 2), 0.5)]),
    ("rsqrt", tg.rsqrt, [_rand((3,), 0.5)]),
    ("reciprocal", tg.reciprocal, [_rand((3,), 0.5)]),
    ("sigmoid", tg.sigmoid, [_rand((3, 2))]),
    ("square", tg.square, [_rand((3,))]),
    ("abs", tg.abs, [_rand((4,), 0.3)]),
    ("negative", tg.negative, [_rand((2,))]),
    ("add_broadcast", tg.add, [_rand((3, 1)), _rand((1, 4))]),
    ("subtract", tg.subtract, [_rand((3,)), _rand((3,))]),
    ("multiply_broadcast", tg.multiply, [_rand((2, 3)), _rand((3,))]),
    ("divide", tg.divide, [_rand((2, 3)), _rand((2, 3), 0.5)]),
    ("pow", tg.pow, [_rand((3,), 0.5), _rand((3,))]),
    ("maximum", tg.maximum, [_rand((4,)), _rand((4,))]),
    ("minimum", tg.minimum, [_rand((4,)), _rand((4,))]),
    ("where", lambda x, y: tg.where(x > 0, x * y, y), [_rand((5,)), _rand((5,))]),
    ("reduce_sum_axis", lambda x: tg.reduce_sum(x, axis=1), [_rand((3, 4))]),
    ("reduce_mean", lambda x: tg.reduce_mean(x, axis=0, keepdims=True), [_rand((3, 4))]),
    ("reduce_max", lambda x: tg.reduce_max(x, axis=-1), [_rand((2, 5))]),
    ("reduce_min", lambda x: tg.reduce_min(x), [_rand((2, 5))]),
    ("reduce_prod", lambda x: tg.reduce_prod(x, axis=0), [_rand((3, 2))]),
    ("logsumexp", lambda x: tg.reduce_logsumexp(x, axis=1), [_rand((2, 4))]),
    ("reshape", lambda x: tg.reshape(x, (4, 3)) * 2.0, [_rand((3, 4))]),
    ("transpose", lambda x: tg.transpose(x, (2, 0, 1)), [_rand((2, 3, 2))]),
    ("broadcast_to", lambda x: tg.broadcast_to(x, (3, 4)), [_rand((1, 4))]),
    ("concat", lambda x, y: tg.concat([x, y], axis=0), [_rand((2, 3)), _rand((1, 3))]),
    ("stack", lambda x, y: tg.stack([x, y], axis=1), [_rand((3,)), _rand((3,))]),
    ("tile", lambda x: tg.tile(x, (2, 3)), [_rand((2, 1))]),
    ("getitem", lambda x: x[1:, ::2] * x[0, 0], [_rand((3, 4))]),
    ("gather", lambda x: tg.gather(x, tg.constant([2, 0, 2]), axis=1), [_rand((2, 3))]),
    ("pad", lambda x: tg.pad(x, [[1, 0], [0, 2]]), [_rand((2, 2))]),
    ("split", lambda x: tg.split(x, 2, axis=1)[1] * 3.0, [_rand((2, 4))]),
    ("expand_squeeze", lambda x: tg.squeeze(tg.expand_dims(x, 0) * 2.0), [_rand((3,))]),
    ("matmul", tg.matmul, [_rand((3, 4)), _rand((4, 2))]),
    ("matmul_t", lambda a, b: tg.matmul(a, b, transpose_a=True, transpose_b=True),
     [_rand((4, 3)), _rand((2, 4))]),
    ("matmul_batched", tg.matmul, [_rand((2, 3, 4)), _rand((4, 2))]),
    ("einsum", lambda a, b: tg.einsum("ij,jk->ik", a, b), [_rand((2, 3)), _rand((3, 2))]),
    ("norm", lambda x: tg.norm(x), [_rand((3, 2))]),
    ("clip_by_norm", lambda x: tg.clip_by_norm(x, 0.5), [_rand((4,))]),
    ("relu", tg.nn.relu, [_rand((6,))]),
    ("softmax", tg.nn.softmax, [_rand((2, 4))]),
    ("log_softmax", lambda x: tg.nn.log_softmax(x, axis=0), [_rand((3, 2))]),
    ("softplus", tg.nn.softplus, [_rand((5,))]),
    ("xent", lambda x: tg.nn.sparse_softmax_cross_entropy_with_logits(
        labels=tg.constant([1, 0]), logits=x), [_rand((2, 3))]),
    ("conv2d", _conv, [_rand((1, 4, 4, 2)), _rand((3, 3, 2, 2))]),
    ("max_pool2d", lambda x: tg.nn.max_pool2d(x, 2, 2, "VALID"), [_rand((1, 4, 4, 1))]),
    ("avg_pool2d", lambda x: tg.nn.avg_pool2d(x, 2, 1, "SAME"), [_rand((1, 3, 3, 2))]),
    ("piecewise_constant", lambda x: x * tg.floor(x) + tg.round(x) * x + tg.sign(x) * x +
     tg.ceil(x), [_rand((5,))]),
    ("floormod", tg.floormod, [_rand((4,)), _rand((4,), 0.5)]),
    ("add_n", lambda x, y: tg.add_n([x, y, x * y]), [_rand((3,)), _rand((3,))]),
    ("safe_mul", tg.safe_mul, [_rand((2, 3)), _rand((3,))]),
    ("identity", lambda x: tg.identity(x) * 2.0, [_rand((2,))]),
]
OPS += [  # array ops (h18)
    ("cumsum", lambda x: tg.cumsum(x, axis=1, exclusive=True), [_rand((2, 4))]),
    ("cumprod", lambda x: tg.cumprod(x, axis=0, reverse=True), [_rand((4, 2))]),
    ("cumulative_logsumexp", lambda x: tg.cumulative_logsumexp(x, 1), [_rand((2, 3))]),
    ("sort", lambda x: tg.sort(x, direction="DESCENDING") * tg.constant(
        [1.0, 2.0, 3.0], tg.float64), [_rand((2, 3))]),
    ("top_k", lambda x: tg.top_k(x, 2)[0], [_rand((3, 4))]),
    ("tensor_scatter_nd_update", lambda t, u: tg.tensor_scatter_nd_update(t, [[1], [0]], u),
     [_rand((3, 2)), _rand((2, 2))]),
    ("unsorted_segment_prod", lambda x: tg.unsorted_segment_prod(x, [1, 0, 1], 2),
     [_rand((3, 2))]),
    ("repeat", lambda x: tg.repeat(x, 2, axis=1), [_rand((2, 3))]),
]
OPS += [("ufunc_" + _n, _p, [_rand((3,), 0.5) + (1.0 if _n == "acosh" else 0.0)]
         if _n in ("acosh", "log2", "log10") else [np.tanh(_rand((3,))) * 0.8])
        for _n, _p in _ufuncs.UNARY.items()]
OPS += [("ufunc_" + _n, _p, [_rand((2, 1), 0.3), _rand((3,), 0.3)])
        for _n, _p in _ufuncs.BINARY.items()]


def _sci_forward_ops():
    # the scientific primitives (special, linalg, complex, FFT): tests/ops/_sci_cases.py
    import importlib.util
    import os

    path = os.path.join(os.path.dirname(os.path.dirname(__file__)), "ops", "_sci_cases.py")
    spec = importlib.util.spec_from_file_location("_tg_sci_cases_fwd", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.SCI_FORWARD_OPS


# (every one has its own JVP rule, checked numerically by the sweeps; the rules-vs-fallback
# comparison below stays on OPS)
SCI_OPS = _sci_forward_ops()


@pytest.mark.parametrize("name,fn,arrays", OPS, ids=[o[0] for o in OPS])
def test_jvp_is_jacobian_times_tangent_and_vjp_is_cotangent_times_jacobian(name, fn, arrays):
    y0, blocks = fd_jacobian(fn, arrays)
    primals = [tg.constant(a) for a in arrays]
    tangents = [RNG.standard_normal(a.shape) for a in arrays]
    out, tan = tg.jvp(fn, primals, [tg.constant(t) for t in tangents])
    np.testing.assert_allclose(out.numpy(), y0, rtol=1e-12, atol=1e-12)
    expect = sum(J @ t.ravel() for J, t in zip(blocks, tangents)).reshape(y0.shape)
    assert tan.shape == y0.shape and tan.dtype == tg.float64
    np.testing.assert_allclose(tan.numpy(), expect, rtol=1e-6, atol=1e-6)

    u = RNG.standard_normal(y0.shape)
    out2, vjp_fn = tg.vjp(fn, *primals)
    grads = vjp_fn(tg.constant(u))
    assert isinstance(grads, tuple) and len(grads) == len(arrays)
    for g, J, a in zip(grads, blocks, arrays):
        assert g.shape == a.shape
        np.testing.assert_allclose(g.numpy(), (u.ravel() @ J).reshape(a.shape),
                                   rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("name,fn,arrays", OPS + SCI_OPS, ids=[o[0] for o in OPS + SCI_OPS])
def test_check_grads_forward_and_reverse(name, fn, arrays):
    tg.check_grads(fn, arrays, order=2, modes=("fwd", "rev"))


def test_op_cases_cover_every_differentiable_primitive():
    # forward ops, and (at second and third order) the primitives their VJPs use
    from tapegrad import _core

    seen = set()
    for _, fn, arrays in OPS + SCI_OPS:
        xs = [tg.constant(a) for a in arrays]
        with tg.GradientTape(persistent=True) as t3:
            t3.watch(xs)
            with tg.GradientTape() as t2:
                t2.watch(xs)
                with tg.GradientTape() as t1:
                    t1.watch(xs)
                    y = fn(*xs)
                    s = tg.reduce_sum(y * y)
                gs = t1.gradient(s, xs)
                s2 = tg.add_n([tg.reduce_sum(g * g) for g in gs if g is not None])
            t2.gradient(s2, xs)
        seen |= {rec.prim.name for rec in t3._core.producers.values() if rec is not None}
    wanted = {n for n, p in _core.registry().items() if p.differentiable}
    # cast has its own test (float32 differences are too coarse); custom gradients have
    # test_custom_gradient.py, replayed tg.function calls tests/graph/test_function_call.py
    assert wanted - seen - {"cast", "custom_gradient", "function_call"} == set()


def test_jvp_through_cast():
    x = tg.constant([1.5, -2.0], dtype=tg.float64)
    _, t = tg.jvp(lambda x: tg.cast(x, tg.float32) * 2.0, [x], [tg.constant([1.0, 3.0],
                                                                            dtype=tg.float64)])
    assert t.dtype == tg.float32 and t.numpy().tolist() == [2.0, 6.0]


def test_check_grads_forward_mode_catches_a_wrong_gradient():
    @tg.custom_gradient
    def wrong_square(x):
        def grad(dy):
            return dy * 3.0 * x  # should be 2x
        return x * x, grad

    with pytest.raises(AssertionError, match="forward-mode derivative of order 1"):
        tg.check_grads(wrong_square, [np.array([0.7, -1.1])], order=1, modes=("fwd",))


def test_jvp_nested_outputs_and_structured_primals():
    def f(p, x):
        return {"sum": p["a"] * x, "pair": (tg.sin(p["b"]), x * 2.0)}

    a, b, x = (tg.constant(v, dtype=tg.float64) for v in ([1.0, 2.0], [0.3], [3.0, -1.0]))
    ta, tb, tx = (tg.constant(v, dtype=tg.float64) for v in ([1.0, 0.0], [2.0], [0.5, 0.5]))
    out, tan = tg.jvp(f, [{"a": a, "b": b}, x], [{"a": ta, "b": tb}, tx])
    assert set(tan) == {"sum", "pair"} and isinstance(tan["pair"], tuple)
    np.testing.assert_allclose(tan["sum"].numpy(), [1.0 * 3.0 + 1.0 * 0.5, 0.0 + 2.0 * 0.5])
    np.testing.assert_allclose(tan["pair"][0].numpy(), np.cos(0.3) * 2.0)
    np.testing.assert_allclose(tan["pair"][1].numpy(), [1.0, 1.0])


def test_jvp_constant_and_integer_outputs_get_zero_tangents():
    x = tg.constant([1.0, 2.0])
    out, tan = tg.jvp(lambda x: (tg.ones((3,)), tg.argmax(x), x * x),
                      [x], [tg.constant([1.0, 1.0])])
    assert tan[0].numpy().tolist() == [0.0, 0.0, 0.0]
    assert tan[1].dtype == tg.int64 and int(tan[1]) == 0
    assert tan[2].numpy().tolist() == [2.0, 4.0]


def test_jvp_none_tangent_means_zero_and_integer_primals_pass_through():
    x = tg.constant(3.0)
    n = tg.constant(2)
    _, tan = tg.jvp(lambda x, n, y: x * tg.cast(n, tg.float32) * y, [x, n, tg.constant(5.0)],
                    [tg.constant(1.0), None, None])
    assert float(tan) == 10.0


def test_jvp_same_tensor_as_two_primals_gets_separate_tangents():
    x = tg.constant([1.5, -2.0])
    _, tan = tg.jvp(lambda a, b: a * b, [x, x], [tg.constant([1.0, 1.0]), tg.zeros((2,))])
    np.testing.assert_allclose(tan.numpy(), [1.5, -2.0])  # d/da (a*b) . v = b * v


def test_jvp_float32_matches_float64():
    x = np.array([0.2, -0.4, 1.3])
    v = np.array([1.0, -2.0, 0.5])
    _, t32 = tg.jvp(lambda x: tg.tanh(x) * tg.exp(x), [tg.constant(x, tg.float32)],
                    [tg.constant(v, tg.float32)])
    _, t64 = tg.jvp(lambda x: tg.tanh(x) * tg.exp(x), [tg.constant(x)], [tg.constant(v)])
    assert t32.dtype == tg.float32
    np.testing.assert_allclose(t32.numpy(), t64.numpy(), rtol=1e-5)


def test_jvp_errors_name_counts_shapes_and_dtypes():
    x = tg.constant([1.0, 2.0])
    with pytest.raises(ValueError, match="jvp: got 1 tangents for 2 primals"):
        tg.jvp(lambda a, b: a * b, [x, x], [x])
    with pytest.raises(ValueError, match=r"jvp: tangent 0 has shape \(3,\) but its primal "
                                         r"has shape \(2,\)"):
        tg.jvp(tg.sin, [x], [tg.constant([1.0, 2.0, 3.0])])
    with pytest.raises(TypeError, match="jvp: tangent 0 has dtype float64 but its primal has "
                                        "dtype float32"):
        tg.jvp(tg.sin, [x], [tg.constant([1.0, 2.0], dtype=tg.float64)])
    with pytest.raises(TypeError, match="primals must be a list or tuple"):
        tg.jvp(tg.sin, x, [x])
    with pytest.raises(TypeError, match="dtype int32; only floating-point"):
        tg.jvp(lambda n: n * 2, [tg.constant([1, 2])], [tg.constant([1, 1])])
    with pytest.raises(ValueError, match="tangent 0 has 1 leaves but primal 0 has 2"):
        tg.jvp(lambda p: p[0] * p[1], [(x, x)], [x])


def test_jvp_tangents_may_be_arrays_or_numbers():
    _, t = tg.jvp(lambda x: x * x, [tg.constant([1.0, 3.0])], [np.array([1.0, 1.0])])
    assert t.numpy().tolist() == [2.0, 6.0]
    _, t = tg.jvp(lambda x: x * x, [tg.constant(3.0)], [2.0])
    assert float(t) == 12.0


def test_jvp_is_differentiable_by_an_outer_tape():
    x = tg.constant([0.4, -0.9], dtype=tg.float64)
    v = tg.constant([1.0, 2.0], dtype=tg.float64)
    with tg.GradientTape() as tape:
        tape.watch(x)
        _, t = tg.jvp(lambda x: tg.sin(x) * x, [x], [v])
        s = tg.reduce_sum(t)
    # t = (cos x * x + sin x) * v ;  dt/dx = (-sin x * x + 2 cos x) * v
    xn = x.numpy()
    np.testing.assert_allclose(tape.gradient(s, x).numpy(),
                               (-np.sin(xn) * xn + 2 * np.cos(xn)) * v.numpy(), rtol=1e-12)


def test_jvp_through_custom_gradient_uses_its_grad_fn():
    @tg.custom_gradient
    def straight_through(x):
        def grad(dy):
            return dy * 4.0
        return tg.round(x), grad

    _, t = tg.jvp(straight_through, [tg.constant([0.2, 1.7])], [tg.constant([1.0, -1.0])])
    assert t.numpy().tolist() == [4.0, -4.0]


# ---------------------------------------------------------------------------
# ForwardAccumulator

def test_forward_accumulator_matches_analytic():
    x = tg.constant([0.1, 0.5, 1.0], dtype=tg.float64)
    v = tg.constant([1.0, 2.0, 3.0], dtype=tg.float64)
    with tg.ForwardAccumulator(x, v) as acc:
        y = tg.exp(x) * x
        z = tg.reduce_sum(y)
    xn = x.numpy()
    np.testing.assert_allclose(acc.jvp(y).numpy(), np.exp(xn) * (1 + xn) * v.numpy())
    np.testing.assert_allclose(float(acc.jvp(z)), np.sum(np.exp(xn) * (1 + xn) * v.numpy()))
    # structures, the primal itself, and a target computed outside the context
    both = acc.jvp({"y": y, "x": x})
    np.testing.assert_allclose(both["x"].numpy(), v.numpy())
    outside = tg.sin(x)
    assert acc.jvp(outside) is None
    assert acc.jvp(outside, unconnected_gradients="zero").numpy().tolist() == [0.0] * 3


def test_forward_accumulator_with_variables_and_several_primals():
    w = tg.Variable([[1.0, 2.0], [3.0, 4.0]])
    b = tg.Variable([0.5, -0.5])
    x = tg.constant([[1.0, -1.0]])
    tw = tg.constant([[0.0, 1.0], [0.0, 0.0]])
    tb = tg.constant([1.0, 0.0])
    with tg.ForwardAccumulator([w, b], [tw, tb]) as acc:
        y = tg.matmul(x, w) + b
    # dy = x @ tw + tb
    np.testing.assert_allclose(acc.jvp(y).numpy(), x.numpy() @ tw.numpy() + tb.numpy())


def test_nested_forward_accumulators_give_second_derivatives():
    x = tg.constant(0.7, dtype=tg.float64)
    with tg.ForwardAccumulator(x, tg.constant(1.0, dtype=tg.float64)) as outer:
        with tg.ForwardAccumulator(x, tg.constant(1.0, dtype=tg.float64)) as inner:
            y = tg.sin(x) * x
        dy = inner.jvp(y)
    d2 = outer.jvp(dy)
    # (x sin x)'' = 2 cos x - x sin x
    assert abs(float(d2) - (2 * np.cos(0.7) - 0.7 * np.sin(0.7))) < 1e-12


def test_forward_accumulator_errors():
    x = tg.constant([1.0, 2.0])
    with pytest.raises(ValueError, match="got 2 tangents for 1 primals"):
        tg.ForwardAccumulator([x], [x, x])
    with pytest.raises(ValueError, match=r"tangent 0 has shape \(1,\)"):
        tg.ForwardAccumulator(x, tg.constant([1.0]))
    with pytest.raises(TypeError, match="primals must be tensors or variables"):
        tg.ForwardAccumulator(1.0, 1.0)
    acc = tg.ForwardAccumulator(x, x)
    with pytest.raises(ValueError, match="unconnected_gradients"):
        acc.jvp(x, unconnected_gradients="ones")


# ---------------------------------------------------------------------------
# vjp

def test_vjp_function_is_reusable_and_structured():
    a = tg.constant([1.0, 2.0])
    b = tg.constant(3.0)
    out, vjp_fn = tg.vjp(lambda a, b: {"p": a * b, "q": tg.reduce_sum(a)}, a, b)
    assert out["p"].numpy().tolist() == [3.0, 6.0]
    ga, gb = vjp_fn({"p": tg.constant([1.0, 0.0]), "q": tg.constant(2.0)})
    assert ga.numpy().tolist() == [5.0, 2.0] and float(gb) == 1.0
    ga, gb = vjp_fn({"p": tg.constant([0.0, 1.0]), "q": None})
    assert ga.numpy().tolist() == [0.0, 3.0] and float(gb) == 2.0


def test_vjp_unconnected_inputs_get_zeros_and_has_aux():
    x = tg.constant([1.0, 2.0])
    y = tg.constant(5.0)
    out, vjp_fn, aux = tg.vjp(lambda x, y: (x * 2.0, "aux"), x, y, has_aux=True)
    assert aux == "aux"
    gx, gy = vjp_fn(tg.ones((2,)))
    assert gx.numpy().tolist() == [2.0, 2.0] and float(gy) == 0.0


def test_vjp_errors():
    _, vjp_fn = tg.vjp(lambda x: x * 2.0, tg.constant([1.0, 2.0]))
    with pytest.raises(ValueError, match=r"cotangent 0 has shape \(3,\) but output 0 has "
                                         r"shape \(2,\)"):
        vjp_fn(tg.ones((3,)))
    with pytest.raises(ValueError, match="got 2 cotangents for 1 outputs"):
        vjp_fn([tg.ones((2,)), tg.ones((2,))])


def test_vjp_is_differentiable_by_an_outer_tape():
    x = tg.constant([0.3, 1.2], dtype=tg.float64)
    with tg.GradientTape() as tape:
        tape.watch(x)
        _, vjp_fn = tg.vjp(lambda x: tg.exp(x) * x, x)
        (g,) = vjp_fn(tg.ones((2,), dtype=tg.float64))
        s = tg.reduce_sum(g)
    xn = x.numpy()
    np.testing.assert_allclose(tape.gradient(s, x).numpy(), np.exp(xn) * (xn + 2), rtol=1e-12)


# ---------------------------------------------------------------------------
# JVP rules vs the transposed VJP (every primitive's two rules agree)

@pytest.fixture
def rules_disabled(monkeypatch):
    """Every primitive's JVP replaced by the transposition of its VJP."""
    from tapegrad import _core
    from tapegrad.ops._jvp import TransposedJVP

    for prim in _core.registry().values():
        if prim.jvp is not None:
            monkeypatch.setattr(prim, "jvp", TransposedJVP(prim))


@pytest.mark.parametrize("name,fn,arrays", OPS, ids=[o[0] for o in OPS])
def test_jvp_rules_agree_with_the_transposed_vjp(name, fn, arrays, monkeypatch):
    primals = [tg.constant(a) for a in arrays]
    tangents = [tg.constant(RNG.standard_normal(a.shape)) for a in arrays]
    _, with_rules = tg.jvp(fn, primals, tangents)
    from tapegrad import _core
    from tapegrad.ops._jvp import TransposedJVP

    for prim in _core.registry().values():
        if prim.jvp is not None:
            monkeypatch.setattr(prim, "jvp", TransposedJVP(prim))
    _, transposed = tg.jvp(fn, primals, tangents)
    np.testing.assert_allclose(with_rules.numpy(), transposed.numpy(), rtol=1e-12, atol=1e-14)


def test_rules_are_read_from_the_primitive(monkeypatch):
    """Forward mode keeps no rules of its own: it calls ``prim.jvp``."""
    from tapegrad import _core

    prim = _core.registry()["tanh"]
    calls = []
    real = prim.jvp

    def spy(ts, ans, x):
        calls.append(x.shape)
        return real(ts, ans, x)

    monkeypatch.setattr(prim, "jvp", spy)
    x = tg.constant(RNG.standard_normal((2, 3)))
    tg.jvp(tg.tanh, [x], [tg.ones_like(x)])
    assert calls == [(2, 3)]


def test_transposition_is_used_only_where_declared(monkeypatch):
    from tapegrad.ops import _jvp

    used = []
    real = _jvp.TransposedJVP.__call__

    def spy(self, ts, ans, *inputs, **params):
        used.append(self.prim.name)
        return real(self, ts, ans, *inputs, **params)

    monkeypatch.setattr(_jvp.TransposedJVP, "__call__", spy)
    w = tg.constant(RNG.standard_normal((3, 2)))
    x = tg.constant(RNG.standard_normal((4, 3)))
    tg.jvp(lambda x: tg.reduce_sum(tg.nn.softmax(tg.tanh(tg.matmul(x, w)))) *
           tg.reduce_prod(x), [x], [tg.ones_like(x)])
    assert used == []
    labels = np.array([0, 1, 1, 0])
    tg.jvp(lambda z: tg.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=z),
           [tg.matmul(x, w)], [tg.ones((4, 2), dtype=tg.float64)])
    assert used == ["sparse_softmax_xent"]


def test_an_op_without_a_jvp_rule_is_a_clear_error(monkeypatch):
    from tapegrad import _core

    monkeypatch.setattr(_core.registry()["sin"], "jvp", None)
    x = tg.constant([0.5, 1.0])
    with pytest.raises(LookupError, match="op 'sin' has no JVP rule"):
        tg.jvp(tg.sin, [x], [tg.ones_like(x)])


def test_forward_accumulator_and_jacfwd_work_without_rules(rules_disabled):
    x = tg.constant([0.2, -0.6], dtype=tg.float64)
    v = tg.constant([1.0, 3.0], dtype=tg.float64)
    with tg.ForwardAccumulator(x, v) as acc:
        y = tg.exp(x) * tg.sin(x)
    xn = x.numpy()
    np.testing.assert_allclose(acc.jvp(y).numpy(),
                               np.exp(xn) * (np.sin(xn) + np.cos(xn)) * v.numpy(), rtol=1e-12)
    J = tg.jacfwd(lambda x: tg.exp(x) * tg.sin(x))(x)
    np.testing.assert_allclose(J.numpy(), np.diag(np.exp(xn) * (np.sin(xn) + np.cos(xn))),
                               rtol=1e-12)
