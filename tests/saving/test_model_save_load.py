"""model.save / tg.models.load_model round trips: the same class and config, weights
bit-identical, predictions bit-identical, and a compiled model's optimizer restored so
that training continues exactly as it would have without the save."""

import json
import os

import numpy as np
import pytest

import tapegrad as tg
from tapegrad.layers import (
    LSTM,
    Add,
    BatchNormalization,
    Concatenate,
    Conv2D,
    Dense,
    Dropout,
    Flatten,
    Input,
    MaxPooling2D,
)


def _same_weights(a, b):
    wa, wb = a.get_weights(), b.get_weights()
    assert len(wa) == len(wb)
    for x, y in zip(wa, wb):
        assert x.dtype == y.dtype and x.shape == y.shape and np.array_equal(x, y)


def _same_predictions(a, b, x):
    pa, pb = a.predict(x), b.predict(x)
    for p, q in zip(pa if isinstance(pa, list) else [pa], pb if isinstance(pb, list) else [pb]):
        assert p.tobytes() == q.tobytes()


def _fit_both(a, b, *args, **kwargs):
    """Continue training both models from the same random state (Dropout draws)."""
    histories = []
    for model in (a, b):
        tg.random.set_seed(7)
        histories.append(model.fit(*args, verbose=0, shuffle=False, **kwargs).history)
    assert histories[0] == histories[1]
    _same_weights(a, b)


def _round_trip(model, tmp_path, **kwargs):
    path = os.path.join(tmp_path, "model.keras")
    model.save(path)
    loaded = tg.models.load_model(path, **kwargs)
    assert type(loaded) is type(model)
    assert json.loads(loaded.to_json())["config"] == json.loads(model.to_json())["config"]
    _same_weights(model, loaded)
    return loaded


def _mlp():
    return tg.Sequential([Dense(8, activation="relu", input_shape=(5,)), Dropout(0.2),
                          Dense(3)], name="mlp")


def _xy(n=32, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 5)).astype(np.float32), rng.integers(0, 3, n)


def test_sequential_adam_continues_bitwise(tmp_path):
    x, y = _xy()
    model = _mlp()
    model.compile(tg.optimizers.Adam(0.01), "sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(x, y, batch_size=8, epochs=2, verbose=0, shuffle=False)
    loaded = _round_trip(model, tmp_path)
    _same_predictions(model, loaded, x)
    opt, opt2 = model.optimizer, loaded.optimizer
    assert type(opt2) is tg.optimizers.Adam and opt2 is not opt
    assert opt2.get_config() == opt.get_config()
    assert int(opt2.iterations.numpy()) == int(opt.iterations.numpy()) == 8
    for v, v2 in zip(model.trainable_variables, loaded.trainable_variables):
        for slot in ("m", "v"):
            assert np.array_equal(opt.get_slot(v, slot).numpy(), opt2.get_slot(v2, slot).numpy())
    assert loaded.metrics_names[:1] == ["loss"]
    _fit_both(model, loaded, x, y, batch_size=8, epochs=2)


def test_functional_merge_layers_and_several_outputs(tmp_path):
    a, b = Input(shape=(4,), name="a"), Input(shape=(4,), name="b")
    shared = Dense(4, activation="tanh", name="shared")
    merged = Concatenate(name="cat")([Add(name="add")([shared(a), shared(b)]), a])
    out1 = Dense(2, name="out1")(merged)
    out2 = Dense(1, name="out2")(Dense(3, name="hidden")(merged))
    model = tg.Model([a, b], [out1, out2], name="two_heads")
    model.compile("rmsprop", {"out1": "mse", "out2": "mae"},
                  loss_weights={"out1": 1.0, "out2": 0.5})
    rng = np.random.default_rng(1)
    xs = [rng.normal(size=(16, 4)).astype(np.float32) for _ in range(2)]
    ys = [rng.normal(size=(16, 2)).astype(np.float32), rng.normal(size=(16, 1)).astype(
        np.float32)]
    model.fit(xs, ys, batch_size=4, epochs=1, verbose=0, shuffle=False)
    loaded = _round_trip(model, tmp_path)
    assert [layer.name for layer in loaded.layers] == [layer.name for layer in model.layers]
    _same_predictions(model, loaded, xs)
    assert type(loaded.optimizer) is type(model.optimizer)
    _fit_both(model, loaded, xs, ys, batch_size=4, epochs=1)


def test_lstm_model(tmp_path):
    rng = np.random.default_rng(2)
    x = rng.normal(size=(12, 7, 3)).astype(np.float32)
    y = rng.integers(0, 4, 12)
    model = tg.Sequential([LSTM(6, return_sequences=True, input_shape=(7, 3)), LSTM(5),
                           Dense(4)])
    model.compile("adam", tg.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x, y, batch_size=4, epochs=1, verbose=0, shuffle=False)
    loaded = _round_trip(model, tmp_path)
    _same_predictions(model, loaded, x)
    assert loaded.compiled_loss.losses[0].from_logits is True
    _fit_both(model, loaded, x, y, batch_size=4, epochs=1)


def test_conv_model_with_batch_norm(tmp_path):
    rng = np.random.default_rng(3)
    x = rng.normal(size=(8, 10, 10, 2)).astype(np.float32)
    y = rng.integers(0, 3, 8)
    model = tg.Sequential([Conv2D(4, 3, activation="relu", input_shape=(10, 10, 2)),
                           BatchNormalization(), MaxPooling2D(2), Flatten(), Dense(3)])
    model.compile(tg.optimizers.Momentum(0.05, 0.9, clipnorm=1.0),
                  "sparse_categorical_crossentropy")
    model.fit(x, y, batch_size=4, epochs=1, verbose=0, shuffle=False)
    loaded = _round_trip(model, tmp_path)
    _same_predictions(model, loaded, x)
    assert loaded.optimizer.get_config() == model.optimizer.get_config()
    assert loaded.optimizer.get_config()["clipnorm"] == 1.0
    _fit_both(model, loaded, x, y, batch_size=4, epochs=1)


def test_sequential_built_by_a_call_keeps_its_input_shape(tmp_path):
    model = tg.Sequential([Dense(3), Dense(2)])
    x = np.ones((2, 4), np.float32)
    model(x)
    assert model.get_config()["build_input_shape"] == [None, 4]
    loaded = _round_trip(model, tmp_path)
    assert loaded.built
    _same_predictions(model, loaded, x)


@pytest.mark.parametrize("name", ["SGD", "Momentum", "Adam", "RMSProp", "Adagrad", "AdamW",
                                  "Adamax", "Nadam", "Ftrl"])
def test_every_optimizer_continues_bitwise(tmp_path, name):
    x, y = _xy(16)
    model = _mlp()
    kwargs = {"learning_rate": tg.optimizers.schedules.ExponentialDecay(0.05, 2, 0.5)} \
        if name == "Adam" else {}
    model.compile(getattr(tg.optimizers, name)(**kwargs), "sparse_categorical_crossentropy")
    for _ in range(2):
        model.train_on_batch(x, y)
    loaded = _round_trip(model, tmp_path)
    if name == "Adam":  # the schedule comes back as an equal schedule
        rate = loaded.optimizer.learning_rate
        assert type(rate) is tg.optimizers.schedules.ExponentialDecay
        assert rate.get_config() == kwargs["learning_rate"].get_config()
    else:
        assert loaded.optimizer.get_config() == model.optimizer.get_config()
    _fit_both(model, loaded, x, y, batch_size=8, epochs=1)


def test_variable_learning_rate_is_saved_as_its_value(tmp_path):
    model = _mlp()
    model.compile(tg.optimizers.SGD(tg.Variable(0.125)), "mse")
    loaded = _round_trip(model, tmp_path)
    assert loaded.optimizer.learning_rate == 0.125


def test_include_optimizer_false_and_compile_false(tmp_path):
    x, y = _xy(16)
    model = _mlp()
    model.compile("adam", "sparse_categorical_crossentropy")
    model.train_on_batch(x, y)
    path = os.path.join(tmp_path, "m.keras")
    model.save(path, include_optimizer=False)
    fresh = tg.models.load_model(path)
    assert type(fresh.optimizer) is tg.optimizers.Adam
    assert int(fresh.optimizer.iterations.numpy()) == 0
    _same_weights(model, fresh)
    model.save(path)
    bare = tg.models.load_model(path, compile=False)
    assert bare.optimizer is None
    _same_weights(model, bare)
    _same_predictions(model, bare, x)


def test_uncompiled_model_and_save_model_function(tmp_path):
    model = _mlp()
    path = os.path.join(tmp_path, "sub", "m.keras")  # the directory is created
    tg.models.save_model(model, path)
    loaded = tg.models.load_model(path)
    assert loaded.optimizer is None
    _same_weights(model, loaded)


def test_overwrite_false_raises_and_keeps_the_file(tmp_path):
    path = os.path.join(tmp_path, "m.keras")
    _mlp().save(path)
    before = open(path, "rb").read()
    with pytest.raises(FileExistsError):
        _mlp().save(path, overwrite=False)
    assert open(path, "rb").read() == before
    with pytest.raises(ValueError, match="HDF5"):
        _mlp().save(os.path.join(tmp_path, "m.h5"))


def test_model_checkpoint_writes_whole_models_for_keras_paths(tmp_path):
    x, y = _xy(16)
    model = _mlp()
    model.compile("adam", "sparse_categorical_crossentropy")
    path = os.path.join(tmp_path, "ckpt", "model-{epoch}.keras")
    model.fit(x, y, epochs=2, verbose=0, shuffle=False,
              callbacks=[tg.callbacks.ModelCheckpoint(path, monitor="loss")])
    assert sorted(os.listdir(os.path.join(tmp_path, "ckpt"))) == ["model-1.keras",
                                                                 "model-2.keras"]
    loaded = tg.models.load_model(path.format(epoch=2))
    _same_weights(model, loaded)
    assert int(loaded.optimizer.iterations.numpy()) == 2
