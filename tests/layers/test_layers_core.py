"""Dense, Flatten, Reshape, Dropout, Embedding, Activation: shapes, values, gradients."""

import numpy as np
import pytest

import tapegrad as tg


def test_dense_values_shapes_and_variable_count():
    x = np.random.default_rng(0).normal(size=(4, 6)).astype(np.float32)
    dense = tg.layers.Dense(3)
    y = dense(x)
    assert tuple(y.shape) == (4, 3)
    assert [tuple(v.shape) for v in dense.variables] == [(6, 3), (3,)]
    dense.bias.assign(np.array([1.0, -1.0, 0.5], np.float32))
    np.testing.assert_allclose(dense(x).numpy(), x @ dense.kernel.numpy() + [1.0, -1.0, 0.5],
                               rtol=1e-5, atol=1e-6)
    no_bias = tg.layers.Dense(2, use_bias=False)
    no_bias(x)
    assert len(no_bias.variables) == 1 and no_bias.bias is None


def test_dense_on_rank3_input_like_the_guide():
    dense = tg.layers.Dense(10, kernel_initializer="zeros")
    y = dense(tg.zeros([1, 1, 784]))
    assert tuple(y.shape) == (1, 1, 10)
    np.testing.assert_array_equal(y.numpy(), np.zeros((1, 1, 10), np.float32))
    x = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    d2 = tg.layers.Dense(5)
    np.testing.assert_allclose(d2(x).numpy(), x @ d2.kernel.numpy(), rtol=1e-5, atol=1e-5)


def test_dense_rejects_a_changed_input_width():
    dense = tg.layers.Dense(2)
    dense(tg.ones([1, 3]))
    with pytest.raises(ValueError, match="last dimension 3"):
        dense(tg.ones([1, 4]))


def test_dense_gradients():
    x = np.array([[1.0, 2.0], [3.0, -1.0]], np.float32)
    dense = tg.layers.Dense(3, activation="relu")
    with tg.GradientTape() as tape:
        loss = tg.reduce_sum(dense(x))
    gk, gb = tape.gradient(loss, dense.variables)
    pre = x @ dense.kernel.numpy() + dense.bias.numpy()
    mask = (pre > 0).astype(np.float32)
    np.testing.assert_allclose(gk.numpy(), x.T @ mask, rtol=1e-6)
    np.testing.assert_allclose(gb.numpy(), mask.sum(0), rtol=1e-6)


def test_flatten_and_reshape():
    x = np.arange(2 * 3 * 4, dtype=np.float32).reshape(2, 3, 4)
    flat = tg.layers.Flatten()(x)
    np.testing.assert_array_equal(flat.numpy(), x.reshape(2, 12))
    assert tuple(tg.layers.Flatten()(tg.zeros([0, 3, 4])).shape) == (0, 12)
    r = tg.layers.Reshape((4, -1))
    np.testing.assert_array_equal(r(x).numpy(), x.reshape(2, 4, 3))
    assert r.compute_output_shape((None, 3, 4)) == (None, 4, 3)
    with pytest.raises(ValueError, match="cannot reshape"):
        tg.layers.Reshape((5,))(x)
    with pytest.raises(ValueError, match="one -1"):
        tg.layers.Reshape((-1, -1))


def test_dropout_is_identity_unless_training():
    x = tg.ones([200, 50])
    drop = tg.layers.Dropout(0.4)
    assert drop(x) is x or np.array_equal(drop(x).numpy(), x.numpy())
    np.testing.assert_array_equal(drop(x, training=False).numpy(), x.numpy())
    tg.random.set_seed(1)
    y = drop(x, training=True).numpy()
    kept = y != 0
    assert 0.55 < kept.mean() < 0.65
    np.testing.assert_allclose(y[kept], 1 / 0.6, rtol=1e-6)
    assert not np.array_equal(kept, drop(x, training=True).numpy() != 0)
    np.testing.assert_array_equal(tg.layers.Dropout(0.0)(x, training=True).numpy(), x.numpy())
    with pytest.raises(ValueError, match="rate"):
        tg.layers.Dropout(1.0)


def test_dropout_gradient_uses_the_same_mask():
    x = tg.constant(np.arange(1, 101, dtype=np.float32))
    drop = tg.layers.Dropout(0.5)
    with tg.GradientTape() as tape:
        tape.watch(x)
        y = drop(x, training=True)
        s = tg.reduce_sum(y)
    g = tape.gradient(s, x).numpy()
    np.testing.assert_allclose(g, np.where(y.numpy() != 0, 2.0, 0.0))


def test_embedding_lookup_and_gradient():
    emb = tg.layers.Embedding(5, 3)
    ids = np.array([[0, 4], [4, 2]], dtype=np.int32)
    with tg.GradientTape() as tape:
        out = emb(ids)
        loss = tg.reduce_sum(out)
    assert tuple(out.shape) == (2, 2, 3)
    table = emb.embeddings.numpy()
    np.testing.assert_array_equal(out.numpy(), table[ids])
    assert np.abs(table).max() <= 0.05
    (g,) = tape.gradient(loss, emb.variables)
    counts = np.bincount(ids.ravel(), minlength=5)[:, None] * np.ones((1, 3))
    np.testing.assert_allclose(np.asarray(g), counts)
    with pytest.raises(ValueError, match=r"ids must be in \[0, 5\)"):
        emb(np.array([5]))
    assert emb.compute_output_shape((None, 7)) == (None, 7, 3)


def test_activation_layer():
    x = tg.constant([[-1.0, 0.5, 2.0]])
    np.testing.assert_allclose(tg.layers.Activation("relu")(x).numpy(), [[0.0, 0.5, 2.0]])
    sm = tg.layers.Activation("softmax")(x).numpy()
    e = np.exp([-1.0, 0.5, 2.0])
    np.testing.assert_allclose(sm, [e / e.sum()], rtol=1e-6)
    np.testing.assert_allclose(tg.layers.Activation("tanh")(x).numpy(), np.tanh(x.numpy()),
                               rtol=1e-6)
    elu = tg.layers.Activation("elu")(x).numpy()
    np.testing.assert_allclose(elu, [[np.expm1(-1.0), 0.5, 2.0]], rtol=1e-6)
