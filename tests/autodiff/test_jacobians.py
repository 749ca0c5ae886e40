"""tg.jacobian / jacrev / jacfwd, GradientTape.jacobian / batch_jacobian, tg.hessian,
tg.hvp: against finite differences and closed forms; chunking with max_bytes."""

import numpy as np
import pytest

import tapegrad as tg

RNG = np.random.default_rng(11)


def fd_jac(f, x, eps=1e-6):
    x = np.asarray(x, dtype=np.float64)
    y0 = np.asarray(f(tg.constant(x)))
    J = np.zeros(y0.shape + x.shape)
    for idx in np.ndindex(*x.shape):
        d = np.zeros_like(x)
        d[idx] = eps
        J[(Ellipsis,) + idx] = (np.asarray(f(tg.constant(x + d))) -
                                np.asarray(f(tg.constant(x - d)))) / (2 * eps)
    return J


W1 = RNG.standard_normal((4, 5))
B1 = RNG.standard_normal(5)
W2 = RNG.standard_normal((5, 3))


def mlp(x):
    """[n, 4] -> [n, 3], per-example."""
    h = tg.tanh(tg.matmul(x, tg.constant(W1)) + tg.constant(B1))
    return tg.nn.softmax(tg.matmul(h, tg.constant(W2)))


def mlp_single(x):
    return mlp(tg.reshape(x, (1, 4)))[0]


@pytest.mark.parametrize("mode", ["rev", "fwd", "auto"])
def test_mlp_jacobian_matches_finite_differences(mode):
    x = RNG.standard_normal(4)
    J = tg.jacobian(mlp_single, mode=mode)(tg.constant(x))
    assert J.shape == (3, 4) and J.dtype == tg.float64
    np.testing.assert_allclose(J.numpy(), fd_jac(mlp_single, x), rtol=1e-6, atol=1e-8)


def test_jacobian_of_matrix_function_has_out_shape_plus_in_shape():
    A = RNG.standard_normal((2, 3))
    f = lambda X: tg.matmul(tg.constant(A), tg.sin(X))  # noqa: E731
    X = RNG.standard_normal((3, 2))
    for jac in (tg.jacrev(f), tg.jacfwd(f)):
        J = jac(tg.constant(X))
        assert J.shape == (2, 2, 3, 2)
        np.testing.assert_allclose(J.numpy(), fd_jac(f, X), rtol=1e-6, atol=1e-8)


def test_jacobian_argnums_tuple_nested_outputs_and_structured_args():
    def f(a, p):
        return {"u": a * p["w"], "v": (tg.reduce_sum(a), p["w"][0])}

    a = tg.constant([1.0, 2.0], dtype=tg.float64)
    w = tg.constant([3.0, 4.0], dtype=tg.float64)
    for mode in ("rev", "fwd"):
        J = tg.jacobian(f, argnums=(0, 1), mode=mode)(a, {"w": w})
        ja, jp = J["u"]
        np.testing.assert_allclose(ja.numpy(), np.diag([3.0, 4.0]))
        np.testing.assert_allclose(jp["w"].numpy(), np.diag([1.0, 2.0]))
        np.testing.assert_allclose(J["v"][0][0].numpy(), [1.0, 1.0])
        np.testing.assert_allclose(J["v"][0][1]["w"].numpy(), [0.0, 0.0])
        np.testing.assert_allclose(J["v"][1][1]["w"].numpy(), [1.0, 0.0])
    J1 = tg.jacobian(lambda a, b: a * b, argnums=1)(a, w)
    np.testing.assert_allclose(J1.numpy(), np.diag([1.0, 2.0]))


def test_jacobian_has_aux_and_unconnected_is_zero():
    x = tg.constant([1.0, 2.0])
    J, aux = tg.jacobian(lambda x, y: (y * 2.0, "aux"), has_aux=True)(x, tg.constant(1.0))
    assert aux == "aux"
    assert J.shape == (2,) and J.numpy().tolist() == [0.0, 0.0]


def test_jacobian_errors():
    with pytest.raises(ValueError, match="mode must be"):
        tg.jacobian(tg.sin, mode="backward")
    with pytest.raises(ValueError, match="argnums 2 but the function got 1"):
        tg.jacobian(tg.sin, argnums=2)(tg.constant(1.0))
    with pytest.raises(TypeError, match="argument 0 has dtype int32"):
        tg.jacobian(lambda n: n * 2)(tg.constant([1, 2]))


def test_max_bytes_chunks_give_the_same_result_and_reject_too_small_budgets():
    x = tg.constant(RNG.standard_normal(4))
    # a reverse-mode row is 4 float64 (32 bytes), a forward-mode column 3 (24 bytes):
    # 40 bytes -> one row per chunk
    for mode in ("rev", "fwd"):
        full = tg.jacobian(mlp_single, mode=mode)(x).numpy()
        chunked = tg.jacobian(mlp_single, mode=mode, max_bytes=40)(x).numpy()
        np.testing.assert_array_equal(chunked, full)
    with pytest.raises(ValueError, match=r"one Jacobian row needs 32 bytes.*max_bytes=16"):
        tg.jacobian(mlp_single, max_bytes=16)(x)
    with pytest.raises(ValueError, match="max_bytes must be positive"):
        tg.jacobian(mlp_single, max_bytes=0)(x)


def test_chunked_collection_under_an_outer_tape_stays_differentiable(monkeypatch):
    # Under a recording tape rows are stacked in chunks with tapegrad ops; check that the
    # chunks are really formed (several concats) and the result is still exact.
    stacks, concats = [], []
    real_concat, real_stack = tg.concat, tg.stack

    def counting_concat(values, axis, name=None):
        concats.append(len(values))
        return real_concat(values, axis)

    def counting_stack(values, axis=0, name=None):
        stacks.append(len(values))
        return real_stack(values, axis)

    import tapegrad.ops.shape as shape_mod

    monkeypatch.setattr(shape_mod, "concat", counting_concat)
    monkeypatch.setattr(shape_mod, "stack", counting_stack)
    x = tg.constant([0.3, -0.2, 0.8], dtype=tg.float64)
    with tg.GradientTape() as tape:
        tape.watch(x)
        J = tg.jacobian(lambda x: tg.sin(x) * tg.reduce_sum(x), max_bytes=48)(x)
        s = tg.reduce_sum(J)
    # 3 rows of 24 bytes, 2 rows per chunk -> chunks of 2 and 1 rows, joined at the end
    assert stacks == [2, 1] and concats[-1] == 2
    xn = x.numpy()
    np.testing.assert_allclose(J.numpy(), np.diag(np.cos(xn) * xn.sum()) + np.sin(xn)[:, None])
    # s = sum(cos x_i) sum(x) + 3 sum(sin x); ds/dx_k = -sin x_k S + C + 3 cos x_k
    expect = -np.sin(xn) * xn.sum() + np.cos(xn).sum() + 3 * np.cos(xn)
    np.testing.assert_allclose(tape.gradient(s, x).numpy(), expect, rtol=1e-12)


# ---------------------------------------------------------------------------
# GradientTape.jacobian / batch_jacobian

def test_tape_jacobian_matches_tensorflow_semantics():
    x = tg.constant([[1.0, 2.0], [3.0, 4.0]], dtype=tg.float64)
    v = tg.Variable([0.5, -1.0], dtype=tg.float64)
    with tg.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y = tg.square(x) * v
        total = tg.reduce_sum(y)
    jx, jv = tape.jacobian(y, [x, v])
    assert jx.shape == (2, 2, 2, 2) and jv.shape == (2, 2, 2)
    expect_x = np.zeros((2, 2, 2, 2))
    for i in range(2):
        for j in range(2):
            expect_x[i, j, i, j] = 2 * x.numpy()[i, j] * v.numpy()[j]
    np.testing.assert_allclose(jx.numpy(), expect_x)
    expect_v = np.zeros((2, 2, 2))
    for i in range(2):
        for j in range(2):
            expect_v[i, j, j] = x.numpy()[i, j] ** 2
    np.testing.assert_allclose(jv.numpy(), expect_v)
    # persistent: still usable
    assert tape.gradient(total, v).numpy().tolist() == [10.0, 20.0]


def test_tape_jacobian_consumes_a_non_persistent_tape_and_handles_unconnected():
    x = tg.constant([1.0, 2.0])
    z = tg.constant([3.0])
    with tg.GradientTape() as tape:
        tape.watch([x, z])
        y = x * 3.0
    jx, jz = tape.jacobian(y, {"x": x, "z": z}).values()
    assert jz is None
    np.testing.assert_allclose(jx.numpy(), 3.0 * np.eye(2))
    with pytest.raises(RuntimeError, match="non-persistent"):
        tape.jacobian(y, x)
    with tg.GradientTape() as tape:
        tape.watch([x, z])
        y = x * 3.0
    jz = tape.jacobian(y, z, unconnected_gradients="zero")
    assert jz.shape == (2, 1) and not jz.numpy().any()


def test_tape_jacobian_scalar_target_equals_gradient():
    x = tg.constant([0.5, 1.5])
    with tg.GradientTape() as tape:
        tape.watch(x)
        y = tg.reduce_sum(tg.exp(x))
    np.testing.assert_allclose(tape.jacobian(y, x).numpy(), np.exp([0.5, 1.5]), rtol=1e-6)


def test_batch_jacobian_of_mlp_is_one_pass_per_output_feature(monkeypatch):
    X = RNG.standard_normal((6, 4))
    passes = []
    from tapegrad.autodiff import tape_jacobians

    real = tape_jacobians._backward

    def counting(core, targets, seeds, ids):
        passes.append(1)
        return real(core, targets, seeds, ids)

    monkeypatch.setattr(tape_jacobians, "_backward", counting)
    x = tg.constant(X)
    with tg.GradientTape() as tape:
        tape.watch(x)
        y = mlp(x)
    bj = tape.batch_jacobian(y, x)
    assert len(passes) == 3  # 3 output features, not 6 * 3 output elements
    assert bj.shape == (6, 3, 4)
    for i in range(6):
        np.testing.assert_allclose(bj.numpy()[i], fd_jac(mlp_single, X[i]), rtol=1e-6,
                                   atol=1e-8)


def test_batch_jacobian_higher_rank_and_errors():
    x = tg.constant(RNG.standard_normal((3, 2, 2)))
    with tg.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y = tg.reshape(tg.sin(x), (3, 4)) * 2.0
    bj = tape.batch_jacobian(y, x)
    assert bj.shape == (3, 4, 2, 2)
    xn = x.numpy()
    for b in range(3):
        expect = np.diag(2 * np.cos(xn[b]).ravel()).reshape(4, 2, 2)
        np.testing.assert_allclose(bj.numpy()[b], expect, rtol=1e-12)
    with pytest.raises(ValueError, match=r"same leading batch dimension, got target \(3, 4\) "
                                         r"and source \(2,\)"):
        tape.batch_jacobian(y, tg.constant([1.0, 2.0]))
    other = tg.constant(np.ones((3, 5)))
    assert tape.batch_jacobian(y, other) is None
    assert tape.batch_jacobian(y, other, unconnected_gradients="zero").shape == (3, 4, 5)


# ---------------------------------------------------------------------------
# Hessians

def rosenbrock(x):
    return tg.reduce_sum(100.0 * tg.square(x[1:] - tg.square(x[:-1])) +
                         tg.square(1.0 - x[:-1]))


def rosenbrock_hessian(x):
    n = len(x)
    H = np.zeros((n, n))
    for i in range(n - 1):
        H[i, i] += 1200 * x[i] ** 2 - 400 * x[i + 1] + 2
        H[i, i + 1] += -400 * x[i]
        H[i + 1, i] += -400 * x[i]
        H[i + 1, i + 1] += 200
    return H


def test_rosenbrock_hessian_is_exact():
    for x in ([1.2, 0.8, -0.5], [1.0, 1.0, 1.0, 1.0], RNG.standard_normal(5)):
        x = np.asarray(x, dtype=np.float64)
        H = tg.hessian(rosenbrock)(tg.constant(x))
        assert H.shape == (len(x), len(x))
        np.testing.assert_allclose(H.numpy(), rosenbrock_hessian(x), rtol=1e-13, atol=1e-10)
    # at the minimum, the classic [[802, -400], [-400, 200]]
    H = tg.hessian(rosenbrock)(tg.constant([1.0, 1.0], dtype=tg.float64))
    np.testing.assert_array_equal(H.numpy(), [[802.0, -400.0], [-400.0, 200.0]])


def test_hessian_of_matrix_argument_and_argnums_blocks():
    A = RNG.standard_normal((3, 3))
    X = tg.constant(RNG.standard_normal((2, 3)))
    # f(X) = sum((X A) * X): Hessian d2f/dX_ij dX_kl = delta_ik (A + A^T)_jl
    H = tg.hessian(lambda X: tg.reduce_sum(tg.matmul(X, tg.constant(A)) * X))(X)
    expect = np.einsum("ik,jl->ijkl", np.eye(2), A + A.T)
    np.testing.assert_allclose(H.numpy(), expect, rtol=1e-12, atol=1e-12)
    a = tg.constant([0.5, -1.0], dtype=tg.float64)
    b = tg.constant(2.0, dtype=tg.float64)
    H = tg.hessian(lambda a, b: tg.reduce_sum(tg.square(a)) * b ** 3, argnums=(0, 1))(a, b)
    np.testing.assert_allclose(H[0][0].numpy(), 2 * 8.0 * np.eye(2))
    np.testing.assert_allclose(H[0][1].numpy(), 2 * a.numpy() * 3 * 4.0)
    np.testing.assert_allclose(H[1][0].numpy(), 2 * a.numpy() * 3 * 4.0)
    np.testing.assert_allclose(float(H[1][1]), 1.25 * 6 * 2.0)


def test_hessian_of_nonscalar_function_is_a_clear_error():
    with pytest.raises(ValueError, match="must return a scalar"):
        tg.hessian(tg.sin)(tg.constant([1.0, 2.0]))


def test_hvp_equals_hessian_times_vector():
    x = RNG.standard_normal(4)
    v = RNG.standard_normal(4)
    hv = tg.hvp(rosenbrock, tg.constant(x), tg.constant(v))
    np.testing.assert_allclose(hv.numpy(), rosenbrock_hessian(x) @ v, rtol=1e-12)
    a, b = tg.constant([1.0, 2.0], dtype=tg.float64), tg.constant(3.0, dtype=tg.float64)
    ha, hb = tg.hvp(lambda a, b: tg.reduce_sum(a * a) * b, (a, b),
                    (tg.constant([1.0, 0.0], dtype=tg.float64), tg.constant(1.0,
                                                                       dtype=tg.float64)))
    # H = [[2b I, 2a], [2a^T, 0]]
    np.testing.assert_allclose(ha.numpy(), [6.0 + 2.0, 4.0])
    np.testing.assert_allclose(float(hb), 2.0)


def test_hvp_errors():
    with pytest.raises(ValueError, match="must return a scalar"):
        tg.hvp(tg.sin, tg.constant([1.0, 2.0]), tg.constant([1.0, 0.0]))
    with pytest.raises(ValueError, match=r"hvp: tangent 0 has shape \(3,\)"):
        tg.hvp(rosenbrock, tg.constant([1.0, 2.0]), tg.constant([1.0, 0.0, 0.0]))
    with pytest.raises(ValueError, match="2 tangents for 1 primals"):
        tg.hvp(lambda a: tg.reduce_sum(a), [tg.constant([1.0])], [tg.constant([1.0])] * 2)
