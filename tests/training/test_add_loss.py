"""Layer.add_loss: tensors added in call (one forward pass's worth, shared layers
counted per call), callables (evaluated on each read), and their place in the loss of
train_on_batch / fit / evaluate, including a model compiled without a loss."""

import numpy as np
import pytest

import tapegrad as tg
from tapegrad.layers import Dense, Input, Layer


class ActivityPenalty(Layer):
    """Identity that adds rate * mean(x^2) of its input as a loss."""

    def __init__(self, rate=0.5, **kwargs):
        super().__init__(**kwargs)
        self.rate = rate

    def call(self, x):
        self.add_loss(self.rate * tg.reduce_mean(tg.square(x)))
        return x

    def get_config(self):
        return dict(super().get_config(), rate=self.rate)


def _x(seed=0, shape=(8, 3)):
    return np.random.default_rng(seed).normal(size=shape).astype(np.float32)


def test_call_losses_belong_to_the_latest_forward_pass():
    penalty = ActivityPenalty(0.5)
    model = tg.Sequential([Dense(4), penalty, Dense(1)])
    x = _x()
    model(x)
    assert len(model.losses) == 1
    hidden = model.layers[0](x).numpy()
    np.testing.assert_allclose(model.losses[0].numpy(), 0.5 * np.mean(hidden ** 2),
                               rtol=1e-6)
    model(2 * x)          # a new pass replaces the loss, it does not pile up
    assert len(model.losses) == 1
    np.testing.assert_allclose(model.losses[0].numpy(),
                               0.5 * np.mean(model.layers[0](2 * x).numpy() ** 2),
                               rtol=1e-6)


def test_shared_layer_keeps_one_loss_per_call():
    inp = Input(shape=(3,))
    penalty = ActivityPenalty(1.0)
    dense = Dense(3)
    out = tg.layers.Add()([penalty(inp), penalty(dense(inp))])
    model = tg.Model(inp, out)
    x = _x()
    model(x)
    values = sorted(float(v.numpy()) for v in model.losses)
    expected = sorted([np.mean(x ** 2), np.mean(dense(x).numpy() ** 2)])
    np.testing.assert_allclose(values, expected, rtol=1e-5)
    model(x)
    assert len(model.losses) == 2


def test_callable_losses_are_evaluated_on_each_read():
    dense = Dense(2, kernel_initializer="ones")
    dense.build((None, 3))
    dense.add_loss(lambda: 0.1 * tg.reduce_sum(dense.kernel))
    np.testing.assert_allclose(dense.losses[0].numpy(), 0.6, rtol=1e-6)
    dense.kernel.assign(2 * np.ones((3, 2), np.float32))
    np.testing.assert_allclose(dense.losses[0].numpy(), 1.2, rtol=1e-6)
    dense(_x())           # a call does not drop callables
    assert len(dense.losses) == 1
    with tg.GradientTape() as tape:
        total = dense.losses[0]
    np.testing.assert_allclose(tape.gradient(total, dense.kernel).numpy(),
                               np.full((3, 2), 0.1), rtol=1e-6)


def test_train_on_batch_adds_the_losses_to_the_compiled_loss():
    x, y = _x(1), _x(2, (8, 1))
    model = tg.Sequential([Dense(4, input_shape=(3,)), ActivityPenalty(0.3), Dense(1)])
    model.compile(tg.optimizers.SGD(0.0), "mse")     # lr 0: the weights stay
    hidden = model.layers[0](x).numpy()
    pred = model(x).numpy()
    expected = np.mean((pred - y) ** 2) + 0.3 * np.mean(hidden ** 2)
    np.testing.assert_allclose(model.train_on_batch(x, y), expected, rtol=1e-5)
    np.testing.assert_allclose(model.evaluate(x, y, verbose=0), expected, rtol=1e-5)
    # the gradient of the added loss reaches the weights: with lr > 0 the step differs
    # from the one a model without the penalty takes
    plain = tg.Sequential([Dense(4, input_shape=(3,)), Dense(1)])
    plain.set_weights(model.get_weights())
    plain.compile(tg.optimizers.SGD(0.1), "mse")
    model.compile(tg.optimizers.SGD(0.1), "mse")
    plain.train_on_batch(x, y)
    model.train_on_batch(x, y)
    assert not np.allclose(plain.layers[0].kernel.numpy(), model.layers[0].kernel.numpy())
    np.testing.assert_allclose(plain.layers[1].kernel.numpy(),
                               model.layers[2].kernel.numpy(), rtol=1e-6)


def test_compiled_without_a_loss_trains_on_added_losses():
    class Autoencoder(tg.Model):
        def __init__(self):
            super().__init__()
            self.enc = Dense(2)
            self.dec = Dense(3)

        def call(self, x):
            out = self.dec(self.enc(x))
            self.add_loss(tg.reduce_mean(tg.square(out - x)))
            return out

    x = _x(3, (64, 3))
    model = Autoencoder()
    model.compile(tg.optimizers.Adam(0.05))
    hist = model.fit(x, epochs=20, batch_size=16, verbose=0)
    assert hist.history["loss"][-1] < 0.5 * hist.history["loss"][0]

    bare = tg.Sequential([Dense(1, input_shape=(3,))])
    bare.compile("sgd")
    with pytest.raises(RuntimeError, match="compiled without a loss and adds none"):
        bare.train_on_batch(x, np.zeros((64, 1), np.float32))


def test_add_loss_rejects_what_it_cannot_use():
    layer = Dense(2)
    with pytest.raises(ValueError, match="must be a scalar"):
        layer.add_loss(tg.ones((2, 2)))
    with pytest.raises(TypeError, match="symbolic tensors"):
        layer.add_loss(Input(shape=(2,)))
    layer.add_loss(tg.ones((1,)))         # size 1 counts as a scalar
    assert layer.losses[0].shape == ()
