"""tg.nn.selu, gelu, swish/silu, elu, leaky_relu, relu6, l2_normalize, embedding_lookup,
in_top_k: values against NumPy formulas, and derivatives to second order against
float64 central differences in both modes (they are compositions of primitives)."""

import math

import numpy as np
import pytest

import tapegrad as tg

ALPHA = 1.6732632423543772848170429916717
SCALE = 1.0507009873554804934193349852946


def _x(shape=(3, 4), seed=0):
    x = np.random.default_rng(seed).uniform(-3, 3, shape)
    # away from the kinks at 0 (and 6 for relu6), where central differences straddle
    x[np.abs(x) < 0.1] += 0.3
    return x


def _ref_gelu_tanh(x):
    return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


VALUE_CASES = [
    ("selu", tg.nn.selu, lambda x: SCALE * np.where(x > 0, x, ALPHA * np.expm1(x))),
    ("gelu_tanh", lambda x: tg.nn.gelu(x, approximate=True), _ref_gelu_tanh),
    ("swish", tg.nn.swish, lambda x: x * _sigmoid(x)),
    ("swish_beta", lambda x: tg.nn.swish(x, beta=1.5), lambda x: x * _sigmoid(1.5 * x)),
    ("silu", tg.nn.silu, lambda x: x * _sigmoid(x)),
    ("elu", tg.nn.elu, lambda x: np.where(x > 0, x, np.expm1(x))),
    ("leaky_relu", lambda x: tg.nn.leaky_relu(x, 0.1), lambda x: np.where(x > 0, x, 0.1 * x)),
    ("relu6", tg.nn.relu6, lambda x: np.minimum(np.maximum(x, 0), 6)),
    ("l2_normalize", lambda x: tg.nn.l2_normalize(x, axis=1),
     lambda x: x / np.sqrt(np.sum(x * x, axis=1, keepdims=True))),
    ("l2_normalize_all", tg.nn.l2_normalize, lambda x: x / np.sqrt(np.sum(x * x))),
]


@pytest.mark.parametrize("name,fn,ref", VALUE_CASES, ids=[c[0] for c in VALUE_CASES])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_values(name, fn, ref, dtype):
    x = _x().astype(dtype)
    if name == "relu6":
        x = x * 3
    out = fn(tg.constant(x))
    assert out.dtype == dtype
    tol = 1e-6 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(out.numpy(), ref(x.astype(np.float64)), rtol=tol * 10, atol=tol)


@pytest.mark.parametrize("name,fn,ref", VALUE_CASES, ids=[c[0] for c in VALUE_CASES])
def test_gradients_second_order_both_modes(name, fn, ref):
    x = _x(seed=1)
    if name == "relu6":
        x = x * 3
        x[np.abs(x - 6) < 0.1] += 0.3
    tg.check_grads(fn, [x], order=2, modes=("rev", "fwd"))


def test_selu_and_gelu_large_inputs_stay_finite():
    x = tg.constant([-1e4, -50.0, 50.0, 1e4], dtype=tg.float32)
    with tg.GradientTape() as tape:
        tape.watch(x)
        y = tg.reduce_sum(tg.nn.selu(x) + tg.nn.gelu(x, approximate=True) + tg.nn.swish(x))
    g = tape.gradient(y, x).numpy()
    assert np.isfinite(y.numpy()) and np.isfinite(g).all()


def test_l2_normalize_zero_slice_is_zero_with_finite_gradient():
    x = tg.constant(np.zeros((2, 3)))
    with tg.GradientTape() as tape:
        tape.watch(x)
        y = tg.nn.l2_normalize(x, axis=1)
    np.testing.assert_array_equal(y.numpy(), 0)
    assert np.isfinite(tape.gradient(y, x).numpy()).all()


def test_gelu_exact_uses_erf():
    x = tg.constant([0.5, -1.0])
    ref = 0.5 * x.numpy() * (1 + np.array([math.erf(v / math.sqrt(2)) for v in x.numpy()]))
    np.testing.assert_allclose(tg.nn.gelu(x).numpy(), ref, rtol=1e-6)


def test_embedding_lookup_values_and_gradient():
    table = np.arange(12.0).reshape(6, 2)
    ids = np.array([[0, 5], [3, 3]])
    out = tg.nn.embedding_lookup(tg.constant(table), ids)
    np.testing.assert_array_equal(out.numpy(), table[ids])
    tg.check_grads(lambda p: tg.nn.embedding_lookup(p, ids), [table], order=2)
    # rows repeated in ids accumulate their gradients
    p = tg.Variable(table)
    with tg.GradientTape() as tape:
        y = tg.reduce_sum(tg.nn.embedding_lookup(p, ids))
    expected = np.zeros_like(table)
    np.add.at(expected, ids.ravel(), 1.0)
    np.testing.assert_array_equal(np.asarray(tape.gradient(y, p)), expected)


def test_embedding_lookup_mod_shards_and_max_norm():
    full = np.arange(20.0).reshape(10, 2)
    # "mod": id i lives in shard i % 3 at row i // 3
    shards = [tg.constant(full[s::3]) for s in range(3)]
    ids = np.array([0, 1, 2, 3, 7, 9])
    np.testing.assert_array_equal(tg.nn.embedding_lookup(shards, ids).numpy(), full[ids])
    out = tg.nn.embedding_lookup(tg.constant(full), [1, 9], max_norm=2.0).numpy()
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), [2.0, 2.0], rtol=1e-12)
    np.testing.assert_allclose(out / np.linalg.norm(out, axis=1, keepdims=True),
                               full[[1, 9]] / np.linalg.norm(full[[1, 9]], axis=1,
                                                             keepdims=True))


def test_embedding_lookup_rejects_bad_ids():
    with pytest.raises(ValueError, match=r"embedding_lookup: ids must be in \[0, 6\)"):
        tg.nn.embedding_lookup(tg.constant(np.zeros((6, 2))), [6])
    with pytest.raises(ValueError, match="embedding_lookup"):
        tg.nn.embedding_lookup(tg.constant(np.zeros((6, 2))), [-1])
    with pytest.raises(TypeError, match="ids must be integers"):
        tg.nn.embedding_lookup(tg.constant(np.zeros((6, 2))), [0.5])


def test_in_top_k():
    preds = np.array([[0.1, 0.5, 0.4], [0.3, 0.3, 0.4], [0.2, 0.2, 0.2], [np.nan, 1, 0]],
                     np.float32)
    targets = np.array([2, 0, 1, 1])
    np.testing.assert_array_equal(tg.nn.in_top_k(targets, preds, 1).numpy(),
                                  [False, False, True, False])
    np.testing.assert_array_equal(tg.nn.in_top_k(targets, preds, 2).numpy(),
                                  [True, True, True, False])
    with pytest.raises(ValueError, match="in_top_k"):
        tg.nn.in_top_k([0], preds, 1)


def test_relu6_gradient_is_zero_at_both_kinks():
    # TF's Relu6Grad (and PyTorch): 1 on 0 < x < 6 only
    x = tg.constant(np.array([-1.0, 0.0, 3.0, 6.0, 7.0]))
    with tg.GradientTape() as tape:
        tape.watch(x)
        y = tg.reduce_sum(tg.nn.relu6(x))
    np.testing.assert_array_equal(tape.gradient(y, x).numpy(), [0.0, 0.0, 1.0, 0.0, 0.0])
