"""get_config / from_config of functional models, Model.from_config and clone_model:
the rebuilt model has the same layers and calls (same outputs once given the same
weights), fresh weights of its own, and a config that is plain JSON."""

import json

import numpy as np
import pytest

import tapegrad as tg
from tapegrad.layers import (
    LSTM,
    Concatenate,
    Dense,
    Dropout,
    Embedding,
    Input,
)


def _two_tower():
    """Two inputs, a shared Dense, an LSTM returning its states and fed an initial state
    by keyword, a nested Sequential, and two outputs (a list)."""
    seq = Input(shape=(5, 3), name="seq")
    side = Input(shape=(4,), name="side")
    shared = Dense(4, activation="tanh", name="shared")
    start = shared(side)
    out, h, c = LSTM(4, return_sequences=False, return_state=True, name="lstm")(
        seq, initial_state=[start, shared(side)])
    merged = Concatenate(name="cat")([out, h, c, start])
    head = tg.Sequential([Dense(6, activation="relu"), Dropout(0.1), Dense(2)], name="head")
    first = head(merged)
    second = Dense(1, name="second")(shared(out))
    return tg.Model([seq, side], [first, second], name="towers")


def _data(seed=0):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=(3, 5, 3)).astype(np.float32),
            rng.normal(size=(3, 4)).astype(np.float32)]


def test_round_trip_rebuilds_the_same_graph():
    model = _two_tower()
    config = model.get_config()
    text = json.dumps(config)           # plain JSON
    again = tg.Model.from_config(json.loads(text))
    assert type(again) is type(model)
    assert [layer.name for layer in again.layers] == [layer.name for layer in model.layers]
    assert [type(layer).__name__ for layer in again.layers] == \
        [type(layer).__name__ for layer in model.layers]
    assert again.name == "towers"
    assert again.get_layer("shared") is not model.get_layer("shared")
    # the shared Dense is one layer with three calls in both
    entry = [e for e in config["layers"] if e["name"] == "shared"][0]
    assert len(entry["inbound_nodes"]) == 3
    assert len(again.trainable_variables) == len(model.trainable_variables)
    x = _data()
    before = [o.numpy() for o in again(x)]
    again.set_weights(model.get_weights())
    after = [o.numpy() for o in again(x)]
    expected = [o.numpy() for o in model(x)]
    for a, b in zip(after, expected):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)
    # fresh weights: the rebuilt model computed something else before set_weights
    assert not np.allclose(before[0], expected[0])
    # the rebuilt config is the same config
    assert json.dumps(again.get_config()) == text


def test_dict_inputs_single_output_and_embedding():
    ids = Input(shape=(6,), dtype="int32", name="ids")
    dense_in = Input(shape=(2,), name="dense_in")
    emb = Embedding(10, 3, name="emb")(ids)
    pooled = tg.layers.GlobalAveragePooling1D(name="pool")(emb)
    out = Dense(1, name="out")(Concatenate(name="cat")([pooled, dense_in]))
    model = tg.Model({"ids": ids, "dense_in": dense_in}, out)
    again = tg.Model.from_config(model.get_config())
    again.set_weights(model.get_weights())
    feed = {"ids": np.array([[1, 2, 3, 0, 0, 4]] * 2, np.int32),
            "dense_in": np.ones((2, 2), np.float32)}
    np.testing.assert_allclose(again(feed).numpy(), model(feed).numpy(), rtol=1e-6)


def test_clone_model_sequential_and_functional():
    from tapegrad.models import clone_model

    seq = tg.Sequential([Dense(3, activation="relu", input_shape=(4,)), Dense(2)])
    clone = clone_model(seq)
    assert clone is not seq and len(clone.layers) == 2
    assert not np.allclose(clone.layers[0].kernel.numpy(), seq.layers[0].kernel.numpy())
    x = np.ones((2, 4), np.float32)
    clone.set_weights(seq.get_weights())
    np.testing.assert_allclose(clone(x).numpy(), seq(x).numpy(), rtol=1e-6)

    renamed = clone_model(seq, clone_function=lambda layer: type(layer).from_config(
        dict(layer.get_config(), name=layer.name + "_copy")))
    assert [layer.name for layer in renamed.layers] == \
        [layer.name + "_copy" for layer in seq.layers]

    model = _two_tower()
    twin = clone_model(model)
    twin.set_weights(model.get_weights())
    for a, b in zip(twin(_data(1)), model(_data(1))):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6, atol=1e-6)
    # the tf.keras spelling
    from tapegrad.compat import tf1

    assert tf1.keras.models.clone_model is clone_model


def test_clone_and_config_errors_are_clear():
    from tapegrad.models import clone_model

    class Net(tg.Model):
        def __init__(self):
            super().__init__()
            self.d = Dense(2)

        def call(self, x):
            return self.d(x)

    with pytest.raises(ValueError, match="subclassed model"):
        clone_model(Net())
    inp = Input(shape=(2,))
    model = tg.Model(inp, Dense(2, name="d")(inp))
    config = model.get_config()
    config["layers"][1]["class_name"] = "NoSuchLayer"
    with pytest.raises(ValueError, match="unknown layer class 'NoSuchLayer'"):
        tg.Model.from_config(config)
    # a custom class comes through custom_objects
    config["layers"][1]["class_name"] = "MyDense"

    class MyDense(Dense):
        pass

    rebuilt = tg.Model.from_config(config, custom_objects={"MyDense": MyDense})
    assert type(rebuilt.get_layer("d")) is MyDense
    # a call argument a config cannot hold

    class Scale(tg.layers.Layer):
        def call(self, x, scale):
            return x * scale

    arr_inp = Input(shape=(2,))
    odd = tg.Model(arr_inp, Scale()(arr_inp, scale=np.array(2.0, np.float32)))
    with pytest.raises(TypeError, match="cannot hold"):
        odd.get_config()


@pytest.mark.parametrize("make", [
    lambda: tg.layers.LSTM(3, return_sequences=True, unit_forget_bias=False),
    lambda: tg.layers.GRU(3, reset_after=False, go_backwards=True),
    lambda: tg.layers.SimpleRNN(3, activation="relu"),
    lambda: tg.layers.RNN(tg.layers.GRUCell(3), return_state=True),
])
def test_recurrent_layers_round_trip_their_config(make):
    layer = make()
    again = type(layer).from_config(layer.get_config())
    assert again.get_config() == dict(layer.get_config(), name=layer.name)
    x = np.random.default_rng(0).normal(size=(2, 4, 2)).astype(np.float32)
    layer(x)
    again(x)
    again.set_weights(layer.get_weights())
    listed = lambda v: v if isinstance(v, list) else [v]  # noqa: E731
    for a, b in zip(listed(again(x)), listed(layer(x))):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6)
