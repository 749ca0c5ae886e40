"""tg.function variants of the tape and layer benchmarks: the same steps traced once and
replayed, so the eager/traced ratio is tracked over commits."""

import numpy as np

import tapegrad as tg

from . import DTYPES, seed_all
from .layers import _batch, cnn, mlp, train_step


class TracedScalarStep:
    """``tape.gradient(w * w, w)`` inside one traced function (tape.ScalarStep)."""

    params = [DTYPES]
    param_names = ["dtype"]

    def setup(self, dtype):
        seed_all()
        w = tg.Variable(np.asarray(3.0, dtype=dtype))

        @tg.function
        def step():
            with tg.GradientTape() as tape:
                y = w * w
            return tape.gradient(y, w)

        self.step = step
        step()

    def time_variable_step(self, dtype):
        self.step()


class TracedChain:
    """50 × (tanh, multiply) forward and backward, traced (tape.Chain)."""

    params = [[1, 1000], DTYPES]
    param_names = ["size", "dtype"]

    def setup(self, size, dtype):
        rng = seed_all()
        self.x = tg.constant(rng.uniform(-1, 1, size).astype(dtype))
        scale = tg.constant(np.asarray(1.01, dtype=dtype))

        @tg.function
        def forward_backward(x):
            with tg.GradientTape() as tape:
                tape.watch(x)
                y = x
                for _ in range(50):
                    y = tg.tanh(y) * scale
            return tape.gradient(y, x)

        self.fn = forward_backward
        forward_backward(self.x)

    def time_forward_backward(self, size, dtype):
        self.fn(self.x)


class TracedMLPStep:
    """MLP 784-128-10 SGD step, traced (layers.MLPStep)."""

    params = [[32, 256], DTYPES]
    param_names = ["batch", "dtype"]

    def setup(self, batch, dtype):
        rng = seed_all()
        model, optimizer = mlp(dtype), tg.optimizers.SGD(0.01)
        self.x, self.y = _batch(rng, (batch, 784), dtype)
        self.step = tg.function(lambda x, y: train_step(model, optimizer, x, y))
        self.step(self.x, self.y)

    def time_sgd_step(self, batch, dtype):
        self.step(self.x, self.y)


class TracedCNNStep:
    """The MNIST CNN (Adam) step, traced, and the time to trace it (layers.CNNStep)."""

    params = [["small", "mnist"]]
    param_names = ["width"]
    timeout = 300

    def setup(self, width):
        rng = seed_all()
        self.model = cnn(width)
        self.optimizer = tg.optimizers.Adam(1e-3)
        self.x, self.y = _batch(rng, (64, 28, 28, 1), np.float32)
        train_step(self.model, self.optimizer, self.x, self.y)   # builds, creates slots
        self.step = tg.function(self._step)
        self.step(self.x, self.y)

    def _step(self, x, y):
        return train_step(self.model, self.optimizer, x, y)

    def time_adam_step(self, width):
        self.step(self.x, self.y)

    def time_trace(self, width):
        tg.function(self._step).get_concrete_function(self.x, self.y)
