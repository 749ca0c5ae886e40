"""The functional API: Input, symbolic layer calls, Model(inputs, outputs), shared layers,
several inputs/outputs, training and weight round trips; merge layers and Lambda."""

import numpy as np
import pytest

import tapegrad as tg
from tapegrad.layers import (
    LSTM,
    Add,
    Average,
    Concatenate,
    Dense,
    Embedding,
    Input,
    Lambda,
    Maximum,
    Minimum,
    Multiply,
    Subtract,
)


def test_sequential_like_graph_matches_layer_by_layer():
    inp = Input(shape=(4,))
    hidden = Dense(5, activation="tanh", name="hidden")
    out_layer = Dense(2)
    assert tuple(inp.shape) == (None, 4)
    h = hidden(inp)
    assert h.shape == (None, 5)
    model = tg.Model(inp, out_layer(h))
    x = np.random.default_rng(0).normal(size=(3, 4)).astype(np.float32)
    np.testing.assert_allclose(model(x).numpy(), out_layer(hidden(x)).numpy(), rtol=1e-6)
    assert [type(layer).__name__ for layer in model.layers] == ["InputLayer", "Dense", "Dense"]
    assert model.get_layer("hidden") is hidden and model.get_layer(index=-1) is out_layer
    with pytest.raises(ValueError, match="no layer named"):
        model.get_layer("nope")
    assert len(model.trainable_variables) == 4
    assert model.output_shape == (None, 2)
    lines = []
    model.summary(print_fn=lines.append)
    assert any("hidden (Dense)" in line and "(None, 5)" in line and "25" in line
               for line in lines)


def test_shared_layer_has_one_set_of_weights_and_gets_both_gradients():
    a, b = Input(shape=(3,), name="a"), Input(shape=(3,), name="b")
    shared = Dense(2, name="shared")
    diff = Subtract()([shared(a), shared(b)])
    model = tg.Model([a, b], diff)
    assert [layer.name for layer in model.layers] == ["a", "b", "shared", "subtract"]
    assert len(model.variables) == 2
    xa = np.random.default_rng(1).normal(size=(4, 3)).astype(np.float32)
    xb = np.random.default_rng(2).normal(size=(4, 3)).astype(np.float32)
    with tg.GradientTape() as tape:
        out = tg.reduce_sum(model([xa, xb]))
    gk, gb = tape.gradient(out, [shared.kernel, shared.bias])
    # d/dK sum((xa - xb) K) = (xa - xb) summed over the batch, for each unit
    np.testing.assert_allclose(gk.numpy(), np.repeat((xa - xb).sum(0)[:, None], 2, 1),
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(gb.numpy(), [0.0, 0.0], atol=1e-6)
    # dict inputs by Input name
    np.testing.assert_allclose(model({"a": xa, "b": xb}).numpy(), model([xa, xb]).numpy())


def test_multiple_outputs_fit_with_loss_dict_and_weights():
    inp = Input(shape=(3,))
    trunk = Dense(8, activation="relu")(inp)
    reg = Dense(1, name="reg")(trunk)
    cls = Dense(2, name="cls")(trunk)
    model = tg.Model(inputs=inp, outputs=[reg, cls])
    assert model.output_names == ["reg", "cls"]
    model.compile(tg.optimizers.Adam(0.01),
                  loss={"reg": "mse",
                        "cls": tg.losses.SparseCategoricalCrossentropy(from_logits=True)},
                  loss_weights={"reg": 0.5, "cls": 1.0}, metrics={"cls": ["accuracy"]})
    rng = np.random.default_rng(3)
    x = rng.normal(size=(64, 3)).astype(np.float32)
    y_reg = x.sum(1, keepdims=True)
    y_cls = (x[:, 0] > 0).astype(np.int32)
    hist = model.fit(x, [y_reg, y_cls], epochs=3, batch_size=16, verbose=0)
    assert set(hist.history) == {"loss", "cls_accuracy"}
    loss = model.evaluate(x, [y_reg, y_cls], verbose=0, return_dict=True)["loss"]
    p_reg, p_cls = model.predict(x)
    expected = 0.5 * np.mean((p_reg - y_reg) ** 2) + float(tg.reduce_mean(
        tg.nn.sparse_softmax_cross_entropy_with_logits(labels=y_cls, logits=p_cls)))
    assert loss == pytest.approx(expected, rel=1e-4)


def test_save_and_load_weights_of_a_functional_model(tmp_path):
    def make():
        inp = Input(shape=(6,), dtype="int32")
        emb = Embedding(20, 4, mask_zero=True)(inp)
        seq, h, c = LSTM(3, return_sequences=True, return_state=True)(emb)
        return tg.Model(inp, Concatenate()([h, c]))

    model = make()
    ids = np.array([[1, 2, 3, 0, 0, 0], [4, 5, 6, 7, 8, 9]])
    out = model.predict(ids)
    assert out.shape == (2, 6)
    model.save_weights(str(tmp_path / "w"))
    other = make()
    other.load_weights(str(tmp_path / "w"))
    np.testing.assert_allclose(other.predict(ids), out, rtol=1e-6)


def test_graph_errors():
    a, b = Input(shape=(2,)), Input(shape=(2,))
    out = Add()([a, b])
    with pytest.raises(ValueError, match="disconnected"):
        tg.Model(a, out)
    with pytest.raises(TypeError, match="symbolic"):
        np.asarray(a)
    model = tg.Model([a, b], out)
    with pytest.raises(ValueError, match="expected 2 input"):
        model(np.zeros((1, 2), np.float32))
    with pytest.raises(ValueError, match="expects shape"):
        model([np.zeros((1, 3), np.float32), np.zeros((1, 3), np.float32)])
    with pytest.raises(ValueError, match="Dense"):
        Dense(2)(Input(shape=(None,)))


def test_merge_layers_values():
    rng = np.random.default_rng(4)
    x, y, z = (rng.normal(size=(2, 3)).astype(np.float32) for _ in range(3))
    np.testing.assert_allclose(Add()([x, y, z]).numpy(), x + y + z, rtol=1e-6)
    np.testing.assert_allclose(Subtract()([x, y]).numpy(), x - y, rtol=1e-6)
    np.testing.assert_allclose(Multiply()([x, y]).numpy(), x * y, rtol=1e-6)
    np.testing.assert_allclose(Average()([x, y]).numpy(), (x + y) / 2, rtol=1e-6)
    np.testing.assert_allclose(Maximum()([x, y]).numpy(), np.maximum(x, y))
    np.testing.assert_allclose(Minimum()([x, y]).numpy(), np.minimum(x, y))
    np.testing.assert_allclose(Concatenate(axis=0)([x, y]).numpy(), np.concatenate([x, y]))
    np.testing.assert_allclose(Lambda(lambda t, k: t * k, arguments={"k": 3.0})(x).numpy(),
                               3 * x, rtol=1e-6)
    with pytest.raises(ValueError, match="same shape"):
        Add()([x, x[:, :2]])
    with pytest.raises(ValueError, match="exactly 2"):
        Subtract()([x, y, z])
    with pytest.raises(TypeError, match="list"):
        Add()(x)


def test_merge_layer_gradients_second_order():
    rng = np.random.default_rng(5)
    x, y = rng.normal(size=(2, 3)), rng.normal(size=(2, 3))
    for layer in (Add(dtype="float64"), Multiply(dtype="float64"), Average(dtype="float64"),
                  Subtract(dtype="float64"), Concatenate(dtype="float64")):
        tg.check_grads(lambda a, b, layer=layer: layer.call([a, b]), [x, y], order=2)
