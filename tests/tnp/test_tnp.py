"""tapegrad.numpy: the array API namespace over tg.Tensor -- values against NumPy,
the standard's promotion, immutability with .at[], and differentiability."""

import numpy as np
import pytest

import tapegrad as tg
import tapegrad.numpy as tnp

RNG = np.random.default_rng(0)
A = RNG.standard_normal((3, 4))
B = RNG.standard_normal((4, 2))


def _np(t):
    return np.asarray(t.numpy())


def test_namespace_and_array_attributes():
    x = tnp.asarray(A)
    assert x.__array_namespace__() is tnp
    assert tnp.__array_api_version__ == "2024.12"
    info = tnp.__array_namespace_info__()
    assert info.default_dtypes()["real floating"] == tnp.float64
    assert set(info.dtypes(kind="integral")) == {"int8", "int16", "int32", "int64", "uint8",
                                                "uint16", "uint32", "uint64"}
    np.testing.assert_array_equal(_np(x.mT), A.T)
    np.testing.assert_array_equal(_np(x.T), A.T)
    assert x.to_device(x.device) is x
    assert tnp.asarray(1.0).dtype == np.float64 and tnp.asarray(1).dtype == np.int64
    assert tnp.asarray([1.0], dtype=tnp.complex64).dtype == np.complex64
    with pytest.raises(TypeError, match="float16"):
        tnp.asarray([1.0], dtype=np.float16)


@pytest.mark.parametrize("name", ["sin", "cos", "tan", "sinh", "cosh", "tanh", "arcsin",
                                  "arctan", "arcsinh", "exp", "expm1", "abs", "square",
                                  "sign", "floor", "ceil", "trunc", "round", "negative"])
def test_unary_values_match_numpy(name):
    x = np.tanh(A)
    np.testing.assert_array_equal(_np(getattr(tnp, name)(tnp.asarray(x))),
                                  getattr(np, name)(x))


@pytest.mark.parametrize("name", ["add", "subtract", "multiply", "divide", "maximum",
                                  "minimum", "atan2", "hypot", "logaddexp", "pow",
                                  "remainder", "floor_divide", "copysign", "nextafter"])
def test_binary_values_match_numpy(name):
    x, y = A, np.abs(A[:1]) + 0.5
    np_name = {"atan2": "arctan2", "pow": "power"}.get(name, name)
    np.testing.assert_array_equal(_np(getattr(tnp, name)(tnp.asarray(x), tnp.asarray(y))),
                                  getattr(np, np_name)(x, y))


def test_promotion_follows_the_standard():
    i8 = tnp.asarray([1, 2], dtype=tnp.int8)
    i16 = tnp.asarray([1, 2], dtype=tnp.int16)
    f32 = tnp.asarray([1.0, 2.0], dtype=tnp.float32)
    assert tnp.add(i8, i16).dtype == np.int16
    assert tnp.add(i8, 1).dtype == np.int8             # Python scalars are weak
    assert tnp.multiply(f32, 2.0).dtype == np.float32
    assert tnp.add(f32, tnp.asarray([1.0])).dtype == np.float64
    assert tnp.result_type(tnp.uint8, tnp.int8) == np.int16
    with pytest.raises(TypeError):
        tnp.add(i8, 1.5)
    with pytest.raises(TypeError):
        tnp.add(tnp.asarray([True]), i8)
    # tg keeps TF's rule: mixed dtypes raise
    with pytest.raises(TypeError, match="dtypes differ"):
        tg.add(i8, i16)


def test_reductions_and_manipulation_match_numpy():
    x = tnp.asarray(A)
    for name in ("sum", "prod", "max", "min", "mean"):
        np.testing.assert_allclose(_np(getattr(tnp, name)(x, axis=1, keepdims=True)),
                                   getattr(np, name)(A, axis=1, keepdims=True), rtol=1e-12)
    np.testing.assert_allclose(_np(tnp.var(x, axis=0, correction=1)), np.var(A, 0, ddof=1))
    np.testing.assert_allclose(_np(tnp.std(x)), np.std(A))
    assert tnp.sum(tnp.asarray([1, 2], dtype=tnp.int8)).dtype == np.int64
    np.testing.assert_array_equal(_np(tnp.cumulative_sum(x, axis=1, include_initial=True)),
                                  np.concatenate([np.zeros((3, 1)), np.cumsum(A, 1)], 1))
    np.testing.assert_array_equal(_np(tnp.concat([x, x], axis=None)),
                                  np.concatenate([A, A], axis=None))
    np.testing.assert_array_equal(_np(tnp.moveaxis(tnp.ones((2, 3, 4)), 0, -1)).shape,
                                  (3, 4, 2))
    np.testing.assert_array_equal(_np(tnp.flip(x, axis=1)), np.flip(A, 1))
    np.testing.assert_array_equal(_np(tnp.tril(x, k=1)), np.tril(A, 1))
    np.testing.assert_array_equal(_np(tnp.sort(x, axis=0, descending=True)),
                                  -np.sort(-A, 0))
    np.testing.assert_array_equal(_np(tnp.argsort(x, axis=1)), np.argsort(A, 1, kind="stable"))
    np.testing.assert_array_equal(_np(tnp.diff(x, axis=0, n=2)), np.diff(A, 2, 0))
    np.testing.assert_array_equal([_np(t) for t in tnp.nonzero(x > 0)], np.nonzero(A > 0))
    u = tnp.unique_all(tnp.asarray([3, 1, 3, 2]))
    np.testing.assert_array_equal(_np(u.values), [1, 2, 3])
    np.testing.assert_array_equal(_np(u.counts), [1, 1, 2])
    np.testing.assert_array_equal(_np(tnp.vecdot(x, x)), np.sum(A * A, -1))


def test_numpy_spellings_for_autograd_code():
    x, w = tnp.asarray(A), tnp.asarray(B)
    np.testing.assert_allclose(_np(tnp.dot(x, w)), A @ B)
    np.testing.assert_allclose(_np(tnp.outer(A[0], B[:, 0])), np.outer(A[0], B[:, 0]))
    np.testing.assert_allclose(_np(tnp.concatenate([x, x], axis=1)), np.concatenate([A, A], 1))
    np.testing.assert_allclose(_np(tnp.einsum("ij,jk->ik", x, w)), A @ B)
    np.testing.assert_allclose(_np(tnp.clip(x, -0.5, 0.5)), np.clip(A, -0.5, 0.5))
    np.testing.assert_allclose(_np(tnp.logsumexp(x, axis=1)),
                               np.log(np.exp(A).sum(1)))
    np.testing.assert_allclose(_np(tnp.trace(tnp.dot(x, x.T))), np.trace(A @ A.T))
    np.testing.assert_allclose(_np(tnp.diag(tnp.asarray([1.0, 2.0]))), np.diag([1.0, 2.0]))


def test_autograd_style_program_differentiates():
    """A typical `import autograd.numpy as np` program, with only the import changed."""
    np_ = tnp

    def logistic_loss(w, X, y):
        logits = np_.dot(X, w)
        return np_.mean(np_.logaddexp(0.0, -y * logits)) + 0.1 * np_.sum(w ** 2)

    X = RNG.standard_normal((20, 3))
    y = np.sign(RNG.standard_normal(20))
    w0 = np.array([0.1, -0.2, 0.3])
    g = tg.grad(lambda w: logistic_loss(w, tnp.asarray(X), tnp.asarray(y)))(tnp.asarray(w0))
    z = X @ w0
    want = (X * (-y * (1 / (1 + np.exp(y * z))))[:, None]).mean(0) + 0.2 * w0
    np.testing.assert_allclose(_np(g), want, rtol=1e-10)
    tg.check_grads(lambda w: logistic_loss(w, tnp.asarray(X), tnp.asarray(y)), [w0], order=2,
                   modes=("rev", "fwd"))


@pytest.mark.parametrize("fn", [
    lambda x: tnp.sum(tnp.sinh(x) * tnp.cosh(x)),
    lambda x: tnp.sum(tnp.arctan2(x, 1.5 + x ** 2) + tnp.hypot(x, 1.0)),
    lambda x: tnp.mean(tnp.var(x, axis=0)) + tnp.std(x),
    lambda x: tnp.sum(tnp.where(x > 0, x, tnp.exp(x))),
    lambda x: tnp.sum(tnp.sort(x, axis=1)[:, :2] ** 2),
    lambda x: tnp.sum(tnp.cumulative_prod(x, axis=1)),
    lambda x: tnp.sum(tnp.tril(x) ** 2) + tnp.max(x),
    lambda x: tnp.sum(x.at[1, 2].set(3.0) ** 2) + tnp.sum(x.at[0].add(x[2]) ** 3),
])
def test_functions_are_differentiable_to_second_order(fn):
    tg.check_grads(fn, [np.tanh(A)], order=2, modes=("rev", "fwd"))


def test_tensors_are_immutable_and_at_is_functional():
    x = tnp.asarray([1.0, 2.0, 3.0])
    with pytest.raises(TypeError, match=r"immutable.*\.at\[\.\.\.\]\.set"):
        x[0] = 5.0
    y = x.at[0].set(5.0)
    np.testing.assert_array_equal(_np(x), [1, 2, 3])
    np.testing.assert_array_equal(_np(y), [5, 2, 3])
    np.testing.assert_array_equal(_np(x.at[[0, 0, 2]].add(1.0)), [3, 2, 4])
    np.testing.assert_array_equal(_np(x.at[1:].max(2.5)), [1, 2.5, 3])
    with pytest.raises(IndexError, match="at"):
        x.at[5].set(1.0)


def test_bit_operators():
    a = tnp.asarray([1, 6], dtype=tnp.int32)
    b = tnp.asarray([3, 2], dtype=tnp.int32)
    np.testing.assert_array_equal(_np(a ^ b), [2, 4])
    np.testing.assert_array_equal(_np(a << 2), [4, 24])
    np.testing.assert_array_equal(_np(a >> 1), [0, 3])


def test_new_elementwise_gradients_match_torch():
    torch = pytest.importorskip("torch")
    x = np.tanh(A) * 0.9
    y = np.abs(A[::-1]) + 0.5
    unary = ["sinh", "cosh", "tan", "asin", "acos", "atan", "asinh", "atanh", "log2",
             "log10"]
    for name in unary:
        xv = np.abs(x) + 0.1 if name in ("log2", "log10") else x
        xt = torch.tensor(xv, requires_grad=True)
        tname = {"asin": "arcsin", "acos": "arccos", "atan": "arctan", "asinh": "arcsinh",
                 "atanh": "arctanh"}.get(name, name)
        (gt,) = torch.autograd.grad(getattr(torch, tname)(xt).sum(), xt)
        g = tg.grad(lambda v, n=name: tnp.sum(getattr(tnp, n)(v)))(tnp.asarray(xv))
        np.testing.assert_allclose(_np(g), gt.numpy(), rtol=1e-12, err_msg=name)
    for name, tfn in [("atan2", torch.atan2), ("hypot", torch.hypot),
                      ("logaddexp", torch.logaddexp)]:
        xt = torch.tensor(x, requires_grad=True)
        yt = torch.tensor(y, requires_grad=True)
        gx_t, gy_t = torch.autograd.grad(tfn(xt, yt).sum(), [xt, yt])
        gx, gy = _grads2(name, x, y)
        np.testing.assert_allclose(_np(gx), gx_t.numpy(), rtol=1e-12, err_msg=name)
        np.testing.assert_allclose(_np(gy), gy_t.numpy(), rtol=1e-12, err_msg=name)


def _grads2(name, x, y):
    a, b = tnp.asarray(x), tnp.asarray(y)
    with tg.GradientTape() as tape:
        tape.watch([a, b])
        out = tnp.sum(getattr(tnp, name)(a, b))
    return tape.gradient(out, [a, b])
