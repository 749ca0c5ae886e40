"""Batch normalization."""

import numpy as np

import tapegrad as tg
from tapegrad import initializers
from tapegrad.graph.trace import tracing
from tapegrad.layers.base import Layer

__all__ = ["BatchNormalization"]


class BatchNormalization(Layer):
    """Normalizes each feature along ``axis`` to zero mean and unit variance.

    With ``training=True`` it uses the batch's statistics (the gradient flows through
    them) and moves ``moving_mean``/``moving_variance`` towards them:
    ``moving = moving * momentum + batch * (1 - momentum)``.  Otherwise it uses the
    moving statistics.  The batch variance is the biased one (divided by the count),
    for both the normalization and the moving average.
    """

    _single_input = True

    def __init__(self, axis=-1, momentum=0.99, epsilon=1e-3, center=True, scale=True,
                 beta_initializer="zeros", gamma_initializer="ones",
                 moving_mean_initializer="zeros", moving_variance_initializer="ones", **kwargs):
        super().__init__(**kwargs)
        if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
            raise TypeError(f"BatchNormalization: axis must be an int, got {axis!r}")
        if not 0.0 <= momentum <= 1.0:
            raise ValueError(f"BatchNormalization: momentum must be in [0, 1], got {momentum}")
        if epsilon <= 0:
            raise ValueError(f"BatchNormalization: epsilon must be > 0, got {epsilon}")
        self.axis = int(axis)
        self.momentum = float(momentum)
        self.epsilon = float(epsilon)
        self.center = bool(center)
        self.scale = bool(scale)
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.moving_mean_initializer = initializers.get(moving_mean_initializer)
        self.moving_variance_initializer = initializers.get(moving_variance_initializer)

    def build(self, input_shape):
        ndim = len(input_shape)
        if not -ndim <= self.axis < ndim:
            raise ValueError(
                f"BatchNormalization {self.name!r}: axis {self.axis} is out of range for "
                f"input shape {input_shape}"
            )
        axis = self.axis % ndim
        dim = input_shape[axis]
        if dim is None:
            raise ValueError(
                f"BatchNormalization {self.name!r}: the size of axis {self.axis} must be "
                f"known, got input shape {input_shape}"
            )
        d = self.__dict__
        d["_axis"] = axis
        d["_reduction_axes"] = [i for i in range(ndim) if i != axis]
        # Parameters of shape (C,) broadcast by themselves only along the last axis.
        d["_param_shape"] = None if axis == ndim - 1 else tuple(
            dim if i == axis else 1 for i in range(ndim))
        self.gamma = (self.add_weight("gamma", (dim,), initializer=self.gamma_initializer)
                      if self.scale else None)
        self.beta = (self.add_weight("beta", (dim,), initializer=self.beta_initializer)
                     if self.center else None)
        self.moving_mean = self.add_weight("moving_mean", (dim,), trainable=False,
                                           initializer=self.moving_mean_initializer)
        self.moving_variance = self.add_weight("moving_variance", (dim,), trainable=False,
                                               initializer=self.moving_variance_initializer)
        self.built = True

    def _broadcastable(self, value):
        return value if self._param_shape is None else tg.reshape(value, self._param_shape)

    def _update_moving(self, variable, batch_value):
        decay = 1.0 - self.momentum
        if variable.device.startswith("/cpu") and not tracing():
            values = np.asarray(batch_value.numpy(), dtype=variable.dtype).reshape(-1)
            moving = variable._inplace_array()
            moving *= self.momentum
            moving += values * decay
        else:
            # Traced, the update must be graph ops (reading .numpy() would bake this
            # call's batch into the graph): the same float operations in the same order
            # as the in-place NumPy ones, so the same bits
            batch_value = tg.stop_gradient(tg.reshape(batch_value, (-1,)))
            if batch_value.dtype != variable.dtype:
                batch_value = tg.cast(batch_value, variable.dtype)
            variable.assign(variable.read_value() * self.momentum + batch_value * decay)

    def call(self, inputs, training=None):
        if len(inputs.shape) != len(self._reduction_axes) + 1:
            raise ValueError(
                f"BatchNormalization {self.name!r}: built for inputs of rank "
                f"{len(self._reduction_axes) + 1}, got shape {tuple(inputs.shape)}"
            )
        if training:
            mean, variance = tg.nn.moments(inputs, self._reduction_axes, keepdims=True)
            self._update_moving(self.moving_mean, mean)
            self._update_moving(self.moving_variance, variance)
        else:
            mean = self._broadcastable(self.moving_mean)
            variance = self._broadcastable(self.moving_variance)
        inv = 1.0 / tg.sqrt(variance + self.epsilon)
        if self.gamma is not None:
            inv = inv * self._broadcastable(self.gamma)
        outputs = (inputs - mean) * inv
        if self.beta is not None:
            outputs = outputs + self._broadcastable(self.beta)
        return outputs

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update(
            axis=self.axis, momentum=self.momentum, epsilon=self.epsilon, center=self.center,
            scale=self.scale,
            beta_initializer=initializers.serialize(self.beta_initializer),
            gamma_initializer=initializers.serialize(self.gamma_initializer),
            moving_mean_initializer=initializers.serialize(self.moving_mean_initializer),
            moving_variance_initializer=initializers.serialize(self.moving_variance_initializer),
        )
        return config
