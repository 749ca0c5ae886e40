"""Layers that combine several inputs: Add, Subtract, Multiply, Average, Maximum, Minimum,
Concatenate; and Lambda (any function of tensors as a layer)."""

import functools

import numpy as np

import tapegrad as tg
from tapegrad.layers.base import Layer

__all__ = ["Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Concatenate",
           "Lambda"]


class _Merge(Layer):
    _min_inputs = 2
    _max_inputs = None

    def _check(self, inputs):
        if not isinstance(inputs, (list, tuple)):
            raise TypeError(f"{type(self).__name__} {self.name!r}: expects a list of tensors, "
                            f"got {type(inputs).__name__}")
        inputs = [tg.convert_to_tensor(x) if not isinstance(x, (tg.Tensor, tg.Variable))
                  else x for x in inputs]
        n = len(inputs)
        if n < self._min_inputs or (self._max_inputs is not None and n > self._max_inputs):
            wanted = (f"exactly {self._max_inputs}" if self._max_inputs == self._min_inputs
                      else f"at least {self._min_inputs}")
            raise ValueError(f"{type(self).__name__} {self.name!r}: needs {wanted} inputs, "
                             f"got {n}")
        return inputs

    def _check_shapes(self, inputs):
        shapes = [tuple(x.shape) for x in inputs]
        if any(s != shapes[0] for s in shapes[1:]):
            raise ValueError(f"{type(self).__name__} {self.name!r}: inputs must have the same "
                             f"shape, got {shapes}")

    def call(self, inputs):
        inputs = self._check(inputs)
        self._check_shapes(inputs)
        return self._merge(inputs)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[0])


class Add(_Merge):
    """Elementwise sum of the inputs."""

    def _merge(self, inputs):
        return functools.reduce(tg.add, inputs)


class Subtract(_Merge):
    """``inputs[0] - inputs[1]`` (exactly two inputs)."""

    _max_inputs = 2

    def _merge(self, inputs):
        return inputs[0] - inputs[1]


class Multiply(_Merge):
    """Elementwise product of the inputs."""

    def _merge(self, inputs):
        return functools.reduce(tg.multiply, inputs)


class Average(_Merge):
    """Elementwise mean of the inputs."""

    def _merge(self, inputs):
        return functools.reduce(tg.add, inputs) * (1.0 / len(inputs))


class Maximum(_Merge):
    """Elementwise maximum of the inputs."""

    def _merge(self, inputs):
        return functools.reduce(tg.maximum, inputs)


class Minimum(_Merge):
    """Elementwise minimum of the inputs."""

    def _merge(self, inputs):
        return functools.reduce(tg.minimum, inputs)


class Concatenate(_Merge):
    """Joins the inputs along ``axis`` (default the last); other dimensions must match."""

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        if isinstance(axis, (bool, np.bool_)) or not isinstance(axis, (int, np.integer)):
            # int(1.5) would silently pick axis 1
            raise TypeError(f"Concatenate: axis must be an int, got {axis!r}")
        self.axis = int(axis)

    def _check_shapes(self, inputs):
        ranks = {len(x.shape) for x in inputs}
        if len(ranks) != 1:
            raise ValueError(f"Concatenate {self.name!r}: inputs must have the same rank, got "
                             f"shapes {[tuple(x.shape) for x in inputs]}")

    def _merge(self, inputs):
        return tg.concat(inputs, axis=self.axis)

    def compute_output_shape(self, input_shape):
        shapes = [tuple(s) for s in input_shape]
        axis = self.axis % len(shapes[0])
        sizes = [s[axis] for s in shapes]
        out = list(shapes[0])
        out[axis] = None if any(d is None for d in sizes) else sum(sizes)
        return tuple(out)

    def get_config(self):
        return dict(super().get_config(), axis=self.axis)


class Lambda(Layer):
    """Wraps ``function(inputs, **arguments)`` as a layer (for the functional API)."""

    def __init__(self, function, output_shape=None, arguments=None, **kwargs):
        super().__init__(**kwargs)
        if not callable(function):
            raise TypeError(f"Lambda: function must be callable, got {function!r}")
        self.function = function
        self.arguments = dict(arguments or {})
        self._output_shape = output_shape

    def _convert_input(self, inputs):
        if isinstance(inputs, (list, tuple)):
            return type(inputs)(super(Lambda, self)._convert_input(x) for x in inputs)
        return super()._convert_input(inputs)

    def call(self, inputs):
        return self.function(inputs, **self.arguments)

    def get_config(self):
        raise NotImplementedError("Lambda layers hold Python functions and have no config")
