"""to_json / model_from_json, custom classes (custom_objects, register_keras_serializable),
subclassed models, compile configs with custom parts, and the TF names of all of it."""

import json
import os
import warnings

import numpy as np
import pytest

import tapegrad as tg
from tapegrad.compat import tf1 as tf
from tapegrad.layers import Concatenate, Dense, Input, Layer


class Scale(Layer):
    """A custom layer with a weight and a constructor argument."""

    def __init__(self, factor=2.0, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def build(self, input_shape):
        self.w = self.add_weight("w", shape=(input_shape[-1],), initializer="ones")

    def call(self, inputs):
        return inputs * self.w * self.factor

    def get_config(self):
        return dict(super().get_config(), factor=self.factor)


@tg.saving.register_keras_serializable(package="tests_saving")
class Shift(Layer):
    def __init__(self, by=1.0, **kwargs):
        super().__init__(**kwargs)
        self.by = by

    def call(self, inputs):
        return inputs + self.by

    def get_config(self):
        return dict(super().get_config(), by=self.by)


class Tower(tg.Model):
    """A subclassed model that can describe itself."""

    def __init__(self, units=3, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.hidden = Dense(units, activation="relu")
        self.out = Dense(1)

    def call(self, inputs, training=None):
        return self.out(self.hidden(inputs))

    def get_config(self):
        return {"units": self.units, "name": self.name}


class Opaque(tg.Model):
    def __init__(self):
        super().__init__()
        self.dense = Dense(2)

    def call(self, inputs, training=None):
        return self.dense(inputs)


def my_loss(y_true, y_pred):
    return tg.reduce_mean(tg.square(y_pred - y_true))


def _functional():
    a, b = Input(shape=(3,), name="a"), Input(shape=(2,), name="b")
    x = Concatenate()([Scale(3.0, name="scale")(a), b])
    return tg.Model([a, b], Dense(2, name="head")(x), name="f")


def test_to_json_and_back():
    model = tg.Sequential([Dense(4, input_shape=(3,), activation="relu"), Dense(2)])
    text = model.to_json(indent=2)
    spec = json.loads(text)
    assert spec["class_name"] == "Sequential" and spec["backend"] == "tapegrad"
    assert spec["tapegrad_version"] == tg.__version__
    again = tg.models.model_from_json(text)
    assert type(again) is tg.Sequential and again.built
    assert json.loads(again.to_json())["config"] == spec["config"]
    assert not np.array_equal(again.get_weights()[0], model.get_weights()[0])  # fresh
    functional = _functional()
    spec = json.loads(functional.to_json())
    assert spec["class_name"] == "Functional"
    with pytest.raises(ValueError, match="custom_objects"):
        tg.models.model_from_json(functional.to_json())
    again = tg.models.model_from_json(functional.to_json(), custom_objects={"Scale": Scale})
    assert again.get_layer("scale").factor == 3.0
    assert json.loads(again.to_json())["config"] == spec["config"]
    with pytest.raises(ValueError, match="JSON"):
        tg.models.model_from_json("{nope")
    again = tg.models.model_from_config(json.loads(functional.to_json()), {"Scale": Scale})
    assert [layer.name for layer in again.layers] == [layer.name for layer in functional.layers]


def test_custom_layer_through_save_and_load(tmp_path):
    model = _functional()
    model.compile("sgd", my_loss)
    x = [np.ones((4, 3), np.float32), np.ones((4, 2), np.float32)]
    model.train_on_batch(x, np.zeros((4, 2), np.float32))
    path = os.path.join(tmp_path, "f.keras")
    model.save(path)
    with pytest.raises(ValueError, match="Scale"):
        tg.models.load_model(path)
    with pytest.raises(ValueError, match="my_loss"):
        tg.models.load_model(path, custom_objects={"Scale": Scale})
    loaded = tg.models.load_model(path, custom_objects={"Scale": Scale, "my_loss": my_loss})
    assert loaded.compiled_loss.losses[0].fn is my_loss     # wrapped as Keras wraps it
    assert loaded.predict(x).tobytes() == model.predict(x).tobytes()
    bare = tg.models.load_model(path, custom_objects={"Scale": Scale}, compile=False)
    assert bare.predict(x).tobytes() == model.predict(x).tobytes()


def test_registered_layer_needs_no_custom_objects(tmp_path):
    assert tg.saving.get_registered_name(Shift) == "tests_saving>Shift"
    assert tg.saving.get_registered_object("tests_saving>Shift") is Shift
    model = tg.Sequential([Dense(2, input_shape=(3,)), Shift(0.5)])
    path = os.path.join(tmp_path, "s.keras")
    model.save(path)
    loaded = tg.models.load_model(path)
    assert type(loaded.layers[1]) is Shift and loaded.layers[1].by == 0.5
    impostor = type("Shift", (Layer,), {})  # configs carry plain names: one per name
    with pytest.raises(ValueError, match="already registered"):
        tg.saving.register_keras_serializable(package="other")(impostor)


def test_subclassed_model_without_get_config_says_what_to_implement(tmp_path):
    model = Opaque()
    model(np.ones((1, 3), np.float32))
    with pytest.raises(NotImplementedError, match="get_config"):
        model.to_json()
    path = os.path.join(tmp_path, "o.keras")
    with pytest.raises(NotImplementedError, match="save_weights"):
        model.save(path)
    assert not os.path.exists(path)


def test_subclassed_model_with_get_config(tmp_path):
    model = Tower(4, name="tower")
    x = np.ones((2, 5), np.float32)
    model.compile("adam", "mse")
    model.fit(x, np.ones((2, 1), np.float32), verbose=0)
    path = os.path.join(tmp_path, "t.keras")
    model.save(path)
    loaded = tg.models.load_model(path, custom_objects={"Tower": Tower})
    assert type(loaded) is Tower and loaded.units == 4 and loaded.name == "tower"
    assert loaded.predict(x).tobytes() == model.predict(x).tobytes()
    assert int(loaded.optimizer.iterations.numpy()) == 1


def test_unnamed_loss_saves_without_compile_config(tmp_path):
    model = tg.Sequential([Dense(1, input_shape=(2,))])
    model.compile("sgd", lambda y, p: tg.reduce_mean(tg.square(y - p)))
    path = os.path.join(tmp_path, "l.keras")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.save(path)
    assert any("compile config" in str(w.message) for w in caught)
    loaded = tg.models.load_model(path)
    assert loaded.optimizer is None
    np.testing.assert_array_equal(loaded.get_weights()[0], model.get_weights()[0])


def test_lambda_layer_cannot_be_saved(tmp_path):
    model = tg.Sequential([Dense(2, input_shape=(3,)), tg.layers.Lambda(lambda t: t * 2)])
    with pytest.raises(NotImplementedError, match="Lambda"):
        model.save(os.path.join(tmp_path, "x.keras"))


def test_metrics_and_loss_objects_in_the_compile_config(tmp_path):
    model = tg.Sequential([Dense(3, input_shape=(2,))])
    model.compile(tg.optimizers.Ftrl(0.1, l1_regularization_strength=0.01),
                  tg.losses.CategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy", tg.metrics.CategoricalAccuracy(name="cat_acc")])
    path = os.path.join(tmp_path, "m.keras")
    model.save(path)
    loaded = tg.models.load_model(path)
    assert loaded.optimizer.get_config() == model.optimizer.get_config()
    assert loaded.optimizer.l1 == 0.01
    assert loaded.compiled_loss.losses[0].from_logits is True
    x, y = np.ones((2, 2), np.float32), np.eye(3, dtype=np.float32)[:2]
    assert set(loaded.evaluate(x, y, verbose=0, return_dict=True)) == {
        "loss", "accuracy", "cat_acc"}


def test_tf_keras_names():
    assert tf.keras.models.load_model is tg.models.load_model
    assert tf.keras.models.model_from_json is tg.models.model_from_json
    assert tf.keras.models.save_model is tg.models.save_model
    assert tf.keras.models.model_from_config is tg.models.model_from_config
    assert tf.keras.utils.register_keras_serializable is tg.saving.register_keras_serializable
    assert tg.Model.to_json and tg.Sequential.save
