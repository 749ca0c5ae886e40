"""Training steps through layers, models and optimizers, as a user writes them."""

import numpy as np

import tapegrad as tg

from . import DTYPES, seed_all


def _batch(rng, shape, dtype, classes=10):
    x = tg.constant(rng.random(shape).astype(dtype))
    y = tg.constant(rng.integers(0, classes, shape[0]).astype(np.int32))
    return x, y


def train_step(model, optimizer, x, y):
    """One step of the guide's loop: loss under a tape, gradients, apply_gradients."""
    with tg.GradientTape() as tape:
        logits = model(x, training=True)
        loss = tg.losses.sparse_softmax_cross_entropy(labels=y, logits=logits)
    variables = model.trainable_variables
    grads = tape.gradient(loss, variables)
    optimizer.apply_gradients(zip(grads, variables))
    return loss


def mlp(dtype):
    layers = tg.layers
    return tg.Sequential([
        layers.Dense(128, activation="relu", input_shape=(784,), dtype=dtype),
        layers.Dense(10, dtype=dtype),
    ])


def cnn(width):
    """The guide's mnist_eager CNN; ``small`` has a quarter of its channels and units."""
    c1, c2, units = (32, 64, 1024) if width == "mnist" else (8, 16, 256)
    layers = tg.layers
    return tg.Sequential([
        layers.Conv2D(c1, 5, padding="same", activation="relu", input_shape=(28, 28, 1)),
        layers.MaxPooling2D((2, 2), (2, 2), padding="same"),
        layers.Conv2D(c2, 5, padding="same", activation="relu"),
        layers.MaxPooling2D((2, 2), (2, 2), padding="same"),
        layers.Flatten(),
        layers.Dense(units, activation="relu"),
        layers.Dropout(0.4),
        layers.Dense(10),
    ])


class MLPStep:
    """MLP 784-128-10, SGD, sparse softmax cross entropy."""

    params = [[32, 256], DTYPES]
    param_names = ["batch", "dtype"]

    def setup(self, batch, dtype):
        rng = seed_all()
        self.model = mlp(dtype)
        self.optimizer = tg.optimizers.SGD(0.01)
        self.x, self.y = _batch(rng, (batch, 784), dtype)
        train_step(self.model, self.optimizer, self.x, self.y)

    def time_sgd_step(self, batch, dtype):
        train_step(self.model, self.optimizer, self.x, self.y)

    def time_predict(self, batch, dtype):
        self.model(self.x, training=False)

    def peakmem_sgd_step(self, batch, dtype):
        train_step(self.model, self.optimizer, self.x, self.y)


class CNNStep:
    """The MNIST CNN (Adam) on a batch of 64 28x28 images."""

    params = [["small", "mnist"]]
    param_names = ["width"]
    timeout = 300

    def setup(self, width):
        rng = seed_all()
        self.model = cnn(width)
        self.optimizer = tg.optimizers.Adam(1e-3)
        self.x, self.y = _batch(rng, (64, 28, 28, 1), np.float32)
        train_step(self.model, self.optimizer, self.x, self.y)

    def time_adam_step(self, width):
        train_step(self.model, self.optimizer, self.x, self.y)

    def peakmem_adam_step(self, width):
        train_step(self.model, self.optimizer, self.x, self.y)


OPTIMIZERS = {
    "sgd": lambda: tg.optimizers.SGD(0.01),
    "momentum": lambda: tg.optimizers.Momentum(0.01, 0.9),
    "adam": lambda: tg.optimizers.Adam(1e-3),
    "rmsprop": lambda: tg.optimizers.RMSProp(1e-3),
    "adagrad": lambda: tg.optimizers.Adagrad(0.01),
}


class OptimizerStep:
    """``apply_gradients`` on 1,001,000 parameters (a 1000x1000 kernel and its bias)."""

    params = [sorted(OPTIMIZERS), DTYPES]
    param_names = ["optimizer", "dtype"]

    def setup(self, optimizer, dtype):
        rng = seed_all()
        shapes = [(1000, 1000), (1000,)]
        self.variables = [tg.Variable(rng.standard_normal(s).astype(dtype)) for s in shapes]
        self.grads = [tg.constant(rng.standard_normal(s).astype(dtype)) for s in shapes]
        self.optimizer = OPTIMIZERS[optimizer]()
        self.optimizer.apply_gradients(zip(self.grads, self.variables))  # creates the slots

    def time_apply_gradients(self, optimizer, dtype):
        self.optimizer.apply_gradients(zip(self.grads, self.variables))

    def peakmem_apply_gradients(self, optimizer, dtype):
        self.optimizer.apply_gradients(zip(self.grads, self.variables))
