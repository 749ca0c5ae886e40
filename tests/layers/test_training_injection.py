"""A layer whose ``call(self, x, training)`` has no default gets ``training`` injected,
as Keras does: False unless the caller or an enclosing layer gives it (issue 16)."""

import numpy as np

import tapegrad as tg


class Required(tg.layers.Layer):
    def call(self, x, training):
        self.seen = training
        return x * (2.0 if training else 1.0)


class KeywordOnly(tg.layers.Layer):
    def call(self, x, *, training):
        self.seen = training
        return x


class Outer(tg.layers.Layer):
    def __init__(self):
        super().__init__()
        self.inner = Required()

    def call(self, x, training=None):
        return self.inner(x)


def test_required_training_defaults_to_false():
    layer = Required()
    y = layer(tg.constant([1.0, 2.0]))
    assert layer.seen is False
    np.testing.assert_array_equal(y.numpy(), [1.0, 2.0])


def test_required_training_given_by_keyword_or_position():
    layer = Required()
    np.testing.assert_array_equal(layer(tg.constant([1.0]), training=True).numpy(), [2.0])
    assert layer.seen is True
    np.testing.assert_array_equal(layer(tg.constant([1.0]), True).numpy(), [2.0])
    assert layer.seen is True


def test_keyword_only_training_injected():
    layer = KeywordOnly()
    layer(tg.constant([1.0]))
    assert layer.seen is False
    layer(tg.constant([1.0]), training=True)
    assert layer.seen is True


def test_enclosing_layer_training_propagates():
    outer = Outer()
    outer(tg.constant([1.0]), training=True)
    assert outer.inner.seen is True
    outer(tg.constant([1.0]))
    assert outer.inner.seen is False


def test_sequential_with_required_training():
    model = tg.Sequential([Required()])
    np.testing.assert_array_equal(model(tg.constant([3.0])).numpy(), [3.0])
    np.testing.assert_array_equal(model(tg.constant([3.0]), training=True).numpy(), [6.0])
