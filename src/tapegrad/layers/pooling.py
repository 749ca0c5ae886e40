"""Pooling layers over NHWC inputs."""

import tapegrad as tg
from tapegrad.layers.base import Layer
from tapegrad.layers.convolutional import (
    check_data_format,
    conv_output_length,
    normalize_padding,
    normalize_tuple,
)

__all__ = ["MaxPooling2D", "AveragePooling2D", "GlobalAveragePooling2D", "GlobalMaxPooling2D"]


class _Pooling2D(Layer):
    _op_name = ""
    _single_input = True

    def __init__(self, pool_size=(2, 2), strides=None, padding="valid", data_format=None,
                 **kwargs):
        super().__init__(**kwargs)
        where = type(self).__name__
        self.pool_size = normalize_tuple(pool_size, 2, "pool_size", where)
        self.strides = (self.pool_size if strides is None
                        else normalize_tuple(strides, 2, "strides", where))
        self.padding = normalize_padding(padding, where)
        self.data_format = check_data_format(data_format, where)

    def _pool(self, inputs):
        raise TypeError(f"{type(self).__name__} does not define a pooling op")

    def call(self, inputs):
        if len(inputs.shape) != 4:
            raise ValueError(
                f"{type(self).__name__} {self.name!r}: expected NHWC inputs of rank 4, "
                f"got shape {tuple(inputs.shape)}"
            )
        return self._pool(inputs)

    def compute_output_shape(self, input_shape):
        n, h, w, c = input_shape
        return (
            n,
            conv_output_length(h, self.pool_size[0], self.padding, self.strides[0]),
            conv_output_length(w, self.pool_size[1], self.padding, self.strides[1]),
            c,
        )

    def get_config(self):
        config = super().get_config()
        config.update(pool_size=self.pool_size, strides=self.strides, padding=self.padding,
                      data_format=self.data_format)
        return config


class MaxPooling2D(_Pooling2D):
    """Maximum over ``pool_size`` windows moved by ``strides`` (default: ``pool_size``)."""

    def _pool(self, inputs):
        return tg.nn.max_pool2d(inputs, ksize=self.pool_size, strides=self.strides,
                                padding=self.padding.upper())


class AveragePooling2D(_Pooling2D):
    """Mean over ``pool_size`` windows; with ``"same"`` padding, over the valid cells only."""

    def _pool(self, inputs):
        return tg.nn.avg_pool2d(inputs, ksize=self.pool_size, strides=self.strides,
                                padding=self.padding.upper())


class _GlobalPooling2D(Layer):
    _single_input = True

    def __init__(self, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = check_data_format(data_format, type(self).__name__)

    def call(self, inputs):
        if len(inputs.shape) != 4:
            raise ValueError(
                f"{type(self).__name__} {self.name!r}: expected NHWC inputs of rank 4, "
                f"got shape {tuple(inputs.shape)}"
            )
        return self._reduce(inputs, axis=[1, 2])

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[3])

    def get_config(self):
        config = super().get_config()
        config["data_format"] = self.data_format
        return config


class GlobalAveragePooling2D(_GlobalPooling2D):
    """Mean over the spatial axes: ``(n, h, w, c)`` -> ``(n, c)``."""

    @staticmethod
    def _reduce(inputs, axis):
        return tg.reduce_mean(inputs, axis=axis)


class GlobalMaxPooling2D(_GlobalPooling2D):
    """Maximum over the spatial axes: ``(n, h, w, c)`` -> ``(n, c)``."""

    @staticmethod
    def _reduce(inputs, axis):
        return tg.reduce_max(inputs, axis=axis)
