"""Small models built from raw Variables, so checkpoint tests need no layers/optimizers."""

import numpy as np

import tapegrad as tg
from tapegrad import tracking


class TinyDense(tracking.Trackable):
    """A dense layer that creates its variables on first call, like Keras layers."""

    def __init__(self, units, seed):
        self.units = units
        self._seed = seed
        self._built = False

    def build(self, in_dim):
        rng = np.random.default_rng(self._seed)
        kernel = tg.Variable(rng.standard_normal((in_dim, self.units)).astype(np.float32) * 0.3)
        # The hook runs before the attribute exists: a pending restore must act here.
        tracking.variable_created(self, "kernel", kernel)
        self.kernel = kernel
        bias = tg.Variable(np.zeros(self.units, np.float32))
        tracking.variable_created(self, "bias", bias)
        self.bias = bias
        self._built = True

    def __call__(self, x):
        if not self._built:
            self.build(x.shape[-1])
        return tg.matmul(x, self.kernel) + self.bias


class TinyMLP(tracking.Trackable):
    def __init__(self, seed=0):
        self.layers = [TinyDense(8, seed), TinyDense(3, seed + 1)]

    def __call__(self, x):
        return self.layers[1](tg.nn.relu(self.layers[0](x)))

    @property
    def variables(self):
        out = []
        for layer in self.layers:
            if layer._built:
                out.extend([layer.kernel, layer.bias])
        return out


class MomentumSGD(tracking.Trackable):
    """Hand-written momentum SGD whose velocity slots go through ``slot_created``."""

    def __init__(self, learning_rate=0.1, momentum=0.9):
        self.learning_rate = learning_rate
        self.momentum = momentum
        self._velocity = {}
        self.iterations = tg.Variable(0, dtype=tg.int64, trainable=False)

    def apply_gradients(self, grads_and_vars, global_step=None):
        for grad, var in grads_and_vars:
            slot = self._velocity.get(id(var))
            if slot is None:
                slot = tg.Variable(np.zeros(var.shape, var.dtype), trainable=False)
                self._velocity[id(var)] = slot
                tracking.slot_created(self, var, "velocity", slot)
            new_velocity = slot.numpy() * np.float32(self.momentum) + grad.numpy()
            slot.assign(new_velocity.astype(var.dtype))
            var.assign((var.numpy() - np.float32(self.learning_rate) * new_velocity)
                       .astype(var.dtype))
        self.iterations.assign_add(1)
        if global_step is not None:
            global_step.assign_add(1)


def make_batch(step):
    rng = np.random.default_rng(100 + step)
    x = rng.standard_normal((16, 5)).astype(np.float32)
    y = rng.integers(0, 3, size=16).astype(np.int32)
    return tg.constant(x), tg.constant(y)


def train_steps(model, optimizer, steps, first_step, global_step=None):
    losses = []
    for step in range(first_step, first_step + steps):
        x, y = make_batch(step)
        with tg.GradientTape() as tape:
            logits = model(x)
            loss = tg.reduce_mean(
                tg.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits)
            )
        grads = tape.gradient(loss, model.variables)
        optimizer.apply_gradients(zip(grads, model.variables), global_step=global_step)
        losses.append(float(loss.numpy()))
    return losses


def snapshot(variables):
    return [np.array(v.numpy(), copy=True) for v in variables]


def assert_bitwise_equal(values, variables):
    assert len(values) == len(variables)
    for expected, var in zip(values, variables):
        got = var.numpy()
        assert got.dtype == expected.dtype and got.shape == expected.shape
        assert got.tobytes() == expected.tobytes()
