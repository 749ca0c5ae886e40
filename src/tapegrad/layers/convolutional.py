"""2-D convolution (NHWC inputs, HWIO kernels)."""

import numpy as np

import tapegrad as tg
from tapegrad import initializers
from tapegrad.layers import activations
from tapegrad.layers.base import Layer

__all__ = ["Conv2D"]


def normalize_tuple(value, n, what, where):
    """``3`` -> ``(3, 3)``; a length-``n`` sequence of positive ints as a tuple."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        value = (value,) * n
    try:
        out = tuple(int(v) for v in value)
    except (TypeError, ValueError):
        raise TypeError(f"{where}: {what} must be an int or {n} ints, got {value!r}") from None
    if len(out) != n or any(v <= 0 for v in out):
        raise ValueError(f"{where}: {what} must be {n} positive ints, got {value!r}")
    return out


def normalize_padding(padding, where):
    if not isinstance(padding, str) or padding.lower() not in ("valid", "same"):
        raise ValueError(f"{where}: padding must be 'valid' or 'same', got {padding!r}")
    return padding.lower()


def check_data_format(data_format, where):
    if data_format not in (None, "channels_last"):
        raise ValueError(
            f"{where}: only data_format='channels_last' (NHWC) is supported, got {data_format!r}"
        )
    return "channels_last"


def conv_output_length(length, window, padding, stride, dilation=1):
    if length is None:
        return None
    effective = (window - 1) * dilation + 1
    if padding == "same":
        return -(-length // stride)
    return max(0, -(-(length - effective + 1) // stride))


class Conv2D(Layer):
    """``activation(conv2d(inputs, kernel) + bias)`` on NHWC inputs.

    ``kernel_size``, ``strides`` and ``dilation_rate`` take an int or a pair;
    ``padding`` is ``"valid"`` or ``"same"``.  The kernel has shape
    ``(kh, kw, in_channels, filters)``.
    """

    _single_input = True

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid",
                 data_format=None, dilation_rate=(1, 1), activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(**kwargs)
        from tapegrad.layers.core import _set_penalties

        _set_penalties(self, kernel_regularizer, bias_regularizer, activity_regularizer,
                       kernel_constraint, bias_constraint)
        if isinstance(filters, bool) or not isinstance(filters, (int, np.integer)) or filters <= 0:
            raise ValueError(f"Conv2D: filters must be a positive int, got {filters!r}")
        self.filters = int(filters)
        self.kernel_size = normalize_tuple(kernel_size, 2, "kernel_size", "Conv2D")
        self.strides = normalize_tuple(strides, 2, "strides", "Conv2D")
        self.dilation_rate = normalize_tuple(dilation_rate, 2, "dilation_rate", "Conv2D")
        if self.strides != (1, 1) and self.dilation_rate != (1, 1):
            raise ValueError(
                f"Conv2D: strides {self.strides} and dilation_rate {self.dilation_rate} "
                "cannot both differ from 1"
            )
        self.padding = normalize_padding(padding, "Conv2D")
        self.data_format = check_data_format(data_format, "Conv2D")
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)

    def build(self, input_shape):
        if len(input_shape) != 4 or input_shape[-1] is None:
            raise ValueError(
                f"Conv2D {self.name!r}: expected NHWC input with a known channel count, "
                f"got input shape {input_shape}"
            )
        kh, kw = self.kernel_size
        self.kernel = self.add_weight("kernel", (kh, kw, input_shape[-1], self.filters),
                                      initializer=self.kernel_initializer,
                                      regularizer=self.kernel_regularizer,
                                      constraint=self.kernel_constraint)
        self.bias = (self.add_weight("bias", (self.filters,), initializer=self.bias_initializer,
                                     regularizer=self.bias_regularizer,
                                     constraint=self.bias_constraint)
                     if self.use_bias else None)
        self.built = True

    def call(self, inputs):
        if inputs.dtype.kind in "biu":
            # integer data (a list of ints, uint8 images) is cast as TF's Conv2D casts it
            inputs = tg.cast(inputs, self.dtype)
        shape = inputs.shape
        if len(shape) != 4 or shape[-1] != self.kernel.shape[2]:
            raise ValueError(
                f"Conv2D {self.name!r}: expected NHWC inputs with {self.kernel.shape[2]} "
                f"channels, got shape {tuple(shape)}"
            )
        outputs = tg.nn.conv2d(inputs, self.kernel, strides=self.strides,
                               padding=self.padding.upper(),
                               dilations=self.dilation_rate)
        if self.bias is not None:
            outputs = outputs + self.bias
        if self.activation is not activations.linear:
            outputs = self.activation(outputs)
        if self.activity_regularizer is not None:
            self._record_activity_loss(self.activity_regularizer, outputs)
        return outputs

    def compute_output_shape(self, input_shape):
        n, h, w, _ = input_shape
        return (
            n,
            conv_output_length(h, self.kernel_size[0], self.padding, self.strides[0],
                               self.dilation_rate[0]),
            conv_output_length(w, self.kernel_size[1], self.padding, self.strides[1],
                               self.dilation_rate[1]),
            self.filters,
        )

    def get_config(self):
        config = super().get_config()
        config.update(
            filters=self.filters,
            kernel_size=self.kernel_size,
            strides=self.strides,
            padding=self.padding,
            data_format=self.data_format,
            dilation_rate=self.dilation_rate,
            activation=activations.serialize(self.activation),
            use_bias=self.use_bias,
            kernel_initializer=initializers.serialize(self.kernel_initializer),
            bias_initializer=initializers.serialize(self.bias_initializer),
        )
        from tapegrad.layers.core import _penalty_config

        config.update(_penalty_config(self))
        return config
