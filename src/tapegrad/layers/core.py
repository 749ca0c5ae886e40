"""Core layers: Dense, Activation, Flatten, Reshape, Dropout, Embedding."""

import operator

import numpy as np

import tapegrad as tg
from tapegrad import initializers
from tapegrad.layers import activations
from tapegrad.layers.base import Layer, _describe_input, _is_number_tree

__all__ = ["Dense", "Activation", "Flatten", "Reshape", "Dropout", "Embedding"]


def _positive_int(value, what, where):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"{where}: {what} must be a positive int, got {value!r}")
    return int(value)


def _set_penalties(layer, kernel_regularizer, bias_regularizer, activity_regularizer,
                   kernel_constraint, bias_constraint):
    """Keras' regularizer and constraint arguments of Dense and Conv* (issue 21)."""
    from tapegrad import constraints, regularizers

    layer.kernel_regularizer = regularizers.get(kernel_regularizer)
    layer.bias_regularizer = regularizers.get(bias_regularizer)
    layer.activity_regularizer = regularizers.get(activity_regularizer)
    layer.kernel_constraint = constraints.get(kernel_constraint)
    layer.bias_constraint = constraints.get(bias_constraint)


def _penalty_config(layer):
    from tapegrad import constraints, regularizers

    return {
        "kernel_regularizer": regularizers.serialize(layer.kernel_regularizer),
        "bias_regularizer": regularizers.serialize(layer.bias_regularizer),
        "activity_regularizer": regularizers.serialize(layer.activity_regularizer),
        "kernel_constraint": constraints.serialize(layer.kernel_constraint),
        "bias_constraint": constraints.serialize(layer.bias_constraint),
    }


class Dense(Layer):
    """``activation(inputs @ kernel + bias)`` over the last axis of the input.

    Inputs of rank > 2 are treated as a batch of vectors along their last axis
    (``(1, 1, 784)`` -> ``(1, 1, units)``, as in the guide).
    """

    _single_input = True

    def __init__(self, units, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(**kwargs)
        _set_penalties(self, kernel_regularizer, bias_regularizer, activity_regularizer,
                       kernel_constraint, bias_constraint)
        self.units = _positive_int(units, "units", "Dense")
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)

    def build(self, input_shape):
        if len(input_shape) < 1 or input_shape[-1] is None:
            raise ValueError(
                f"Dense {self.name!r}: the last dimension of the input must be known, "
                f"got input shape {input_shape}"
            )
        self.kernel = self.add_weight("kernel", (input_shape[-1], self.units),
                                      initializer=self.kernel_initializer,
                                      regularizer=self.kernel_regularizer,
                                      constraint=self.kernel_constraint)
        self.bias = (self.add_weight("bias", (self.units,), initializer=self.bias_initializer,
                                     regularizer=self.bias_regularizer,
                                     constraint=self.bias_constraint)
                     if self.use_bias else None)
        self.built = True

    def call(self, inputs):
        if inputs.dtype.kind in "biu":
            # integer data (a list of ints, uint8 images) is cast as TF's Dense casts it
            inputs = tg.cast(inputs, self.dtype)
        shape = inputs.shape
        if len(shape) == 0 or shape[-1] != self.kernel.shape[0]:
            raise ValueError(
                f"Dense {self.name!r}: expected inputs with last dimension "
                f"{self.kernel.shape[0]}, got shape {tuple(shape)}"
            )
        if len(shape) == 2:
            outputs = tg.matmul(inputs, self.kernel)
        else:
            flat = tg.reshape(inputs, (-1, shape[-1])) if len(shape) > 1 else tg.reshape(
                inputs, (1, shape[-1]))
            outputs = tg.reshape(tg.matmul(flat, self.kernel), tuple(shape[:-1]) + (self.units,))
        if self.bias is not None:
            outputs = outputs + self.bias
        if self.activation is not activations.linear:
            outputs = self.activation(outputs)
        if self.activity_regularizer is not None:
            self._record_activity_loss(self.activity_regularizer, outputs)
        return outputs

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def get_config(self):
        config = super().get_config()
        config.update(
            units=self.units,
            activation=activations.serialize(self.activation),
            use_bias=self.use_bias,
            kernel_initializer=initializers.serialize(self.kernel_initializer),
            bias_initializer=initializers.serialize(self.bias_initializer),
            **_penalty_config(self),
        )
        return config


class Activation(Layer):
    """Applies an activation function (a name such as ``"relu"`` or a callable)."""

    _single_input = True

    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self.activation = activations.get(activation)

    def call(self, inputs):
        return self.activation(inputs)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config["activation"] = activations.serialize(self.activation)
        return config


class Flatten(Layer):
    """Collapses every axis but the first: ``(batch, d1, d2, ...)`` -> ``(batch, d1*d2*...)``."""

    _single_input = True

    def call(self, inputs):
        shape = inputs.shape
        if len(shape) == 0:
            raise ValueError(f"Flatten {self.name!r}: inputs need a batch axis, got a scalar")
        # The explicit size (not -1) keeps an empty batch reshapeable.
        return tg.reshape(inputs, (shape[0], int(np.prod(shape[1:], dtype=np.int64))))

    def compute_output_shape(self, input_shape):
        rest = input_shape[1:]
        size = None if any(d is None for d in rest) else int(np.prod(rest, dtype=np.int64))
        return (input_shape[0], size)


class Reshape(Layer):
    """Reshapes each example to ``target_shape`` (one entry may be -1)."""

    _single_input = True

    def __init__(self, target_shape, **kwargs):
        super().__init__(**kwargs)
        try:
            # operator.index: a float entry is an error, not truncated (2.5 -> 2)
            target = tuple(operator.index(d) for d in target_shape)
        except (TypeError, ValueError):
            raise TypeError(
                f"Reshape: target_shape must be a sequence of ints, got {target_shape!r}"
            ) from None
        if sum(d == -1 for d in target) > 1 or any(d < -1 for d in target):
            raise ValueError(
                f"Reshape: target_shape may hold one -1 and otherwise sizes >= 0, got {target}"
            )
        self.target_shape = target

    def _resolve(self, example_shape):
        size = int(np.prod(example_shape, dtype=np.int64))
        known = int(np.prod([d for d in self.target_shape if d != -1], dtype=np.int64))
        if -1 in self.target_shape:
            if known == 0 or size % known:
                raise ValueError(
                    f"Reshape {self.name!r}: cannot reshape examples of shape "
                    f"{tuple(example_shape)} to {self.target_shape}"
                )
            return tuple(size // known if d == -1 else d for d in self.target_shape)
        if known != size:
            raise ValueError(
                f"Reshape {self.name!r}: cannot reshape examples of shape "
                f"{tuple(example_shape)} ({size} values) to {self.target_shape} ({known} values)"
            )
        return self.target_shape

    def call(self, inputs):
        shape = inputs.shape
        return tg.reshape(inputs, (shape[0],) + self._resolve(shape[1:]))

    def compute_output_shape(self, input_shape):
        if any(d is None for d in input_shape[1:]):
            return (input_shape[0],) + tuple(None if d == -1 else d for d in self.target_shape)
        return (input_shape[0],) + self._resolve(input_shape[1:])

    def get_config(self):
        config = super().get_config()
        config["target_shape"] = self.target_shape
        return config


class Dropout(Layer):
    """Zeroes a fraction ``rate`` of the inputs and scales the rest by ``1 / (1 - rate)``.

    Only when called with ``training=True`` (or inside a layer call that was); otherwise
    it returns its input unchanged.
    """

    _single_input = True

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(**kwargs)
        rate = float(rate)
        if not 0.0 <= rate < 1.0:
            raise ValueError(f"Dropout: rate must be in [0, 1), got {rate}")
        self.rate = rate
        self.seed = seed

    def call(self, inputs, training=None):
        if not training or self.rate == 0.0:
            return inputs
        return tg.nn.dropout(inputs, rate=self.rate, seed=self.seed)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update(rate=self.rate, seed=self.seed)
        return config


class Embedding(Layer):
    """Maps integer ids in ``[0, input_dim)`` to trainable vectors of size ``output_dim``."""

    _single_input = True

    def __init__(self, input_dim, output_dim, embeddings_initializer="random_uniform",
                 mask_zero=False, **kwargs):
        super().__init__(**kwargs)
        # mask_zero: id 0 is padding; recurrent layers skip those steps (issue 21)
        self.mask_zero = bool(mask_zero)
        self.input_dim = _positive_int(input_dim, "input_dim", "Embedding")
        self.output_dim = _positive_int(output_dim, "output_dim", "Embedding")
        self.embeddings_initializer = initializers.get(embeddings_initializer)

    def _convert_input(self, inputs):
        # Ids stay integers: the base class would cast float ids to the layer's dtype.
        if not isinstance(inputs, (tg.Tensor, tg.Variable)):
            if not (isinstance(inputs, (np.ndarray, np.number, int))
                    or isinstance(inputs, (list, tuple)) and _is_number_tree(inputs)):
                return super()._convert_input(inputs)  # the same TypeError as other layers
            try:
                inputs = tg.convert_to_tensor(np.asarray(inputs))
            except (TypeError, ValueError) as error:
                raise TypeError(f"{self.name} (Embedding): cannot convert the ids "
                                f"{_describe_input(inputs)} to a tensor: {error}") from None
        if inputs.dtype.kind not in "iu":
            if inputs.dtype.kind == "f":
                return tg.cast(inputs, tg.int32)
            raise TypeError(
                f"Embedding {self.name!r}: ids must be integers, got dtype {inputs.dtype}"
            )
        return inputs

    def build(self, input_shape):
        self.embeddings = self.add_weight("embeddings", (self.input_dim, self.output_dim),
                                          initializer=self.embeddings_initializer)
        self.built = True

    def call(self, inputs):
        if inputs.device.startswith("/cpu"):
            ids = inputs.numpy()
            if ids.size and (ids.min() < 0 or ids.max() >= self.input_dim):
                raise ValueError(
                    f"Embedding {self.name!r}: ids must be in [0, {self.input_dim}), got "
                    f"values in [{ids.min()}, {ids.max()}]"
                )
        outputs = tg.gather(self.embeddings, inputs)
        if self.mask_zero:
            from tapegrad.layers.recurrent import set_mask

            set_mask(outputs, inputs.numpy() != 0)
        return outputs

    def compute_output_shape(self, input_shape):
        return tuple(input_shape) + (self.output_dim,)

    def get_config(self):
        config = super().get_config()
        config.update(input_dim=self.input_dim, output_dim=self.output_dim,
                      mask_zero=self.mask_zero,
                      embeddings_initializer=initializers.serialize(self.embeddings_initializer))
        return config
