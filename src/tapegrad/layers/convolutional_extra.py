"""Conv2DTranspose, DepthwiseConv2D and SeparableConv2D (NHWC), on the conv2d primitives.

``Conv2DTranspose`` is the adjoint of a convolution: it runs the ``conv2d_backprop_input``
primitive (itself differentiable to any order).  ``DepthwiseConv2D`` runs one conv2d
with a block-diagonal kernel built from the depthwise kernel in tapegrad ops, so it costs
``in_channels`` times the arithmetic of a dedicated depthwise kernel (fine for the small
channel counts of mobile-style blocks; there is no grouped-convolution primitive yet).
"""

import numpy as np

import tapegrad as tg
from tapegrad import initializers
from tapegrad.layers import activations
from tapegrad.layers.base import Layer
from tapegrad.layers.convolutional import (
    Conv2D,
    check_data_format,
    conv_output_length,
    normalize_padding,
    normalize_tuple,
)
from tapegrad.layers.core import _positive_int, _set_penalties

__all__ = ["Conv2DTranspose", "DepthwiseConv2D", "SeparableConv2D"]


def _check_nhwc(layer, inputs, channels):
    shape = tuple(inputs.shape)
    if len(shape) != 4 or shape[-1] != channels:
        raise ValueError(f"{type(layer).__name__} {layer.name!r}: expected NHWC inputs with "
                         f"{channels} channels, got shape {shape}")


def _finish(layer, outputs):
    if layer.bias is not None:
        outputs = outputs + layer.bias
    outputs = layer.activation(outputs)
    if layer.activity_regularizer is not None:
        layer._record_activity_loss(layer.activity_regularizer, outputs)
    return outputs


class Conv2DTranspose(Conv2D):
    """Transposed convolution ("deconvolution"): kernel ``(kh, kw, filters, in_channels)``.

    Output size: ``in * stride`` with ``"same"``, ``(in - 1) * stride + kernel`` with
    ``"valid"`` (no ``output_padding``; dilation 1).
    """

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", **kwargs):
        if kwargs.get("dilation_rate", (1, 1)) not in (1, (1, 1), [1, 1]):
            raise ValueError("Conv2DTranspose: dilation_rate other than 1 is not supported")
        if kwargs.pop("output_padding", None) is not None:
            raise ValueError("Conv2DTranspose: output_padding is not supported")
        super().__init__(filters, kernel_size, strides=strides, padding=padding, **kwargs)

    def build(self, input_shape):
        if len(input_shape) != 4 or input_shape[-1] is None:
            raise ValueError(f"Conv2DTranspose {self.name!r}: expected NHWC input with a known "
                             f"channel count, got {input_shape}")
        kh, kw = self.kernel_size
        self.kernel = self.add_weight("kernel", (kh, kw, self.filters, input_shape[-1]),
                                      initializer=self.kernel_initializer,
                                      regularizer=self.kernel_regularizer,
                                      constraint=self.kernel_constraint)
        self.bias = (self.add_weight("bias", (self.filters,), initializer=self.bias_initializer,
                                     regularizer=self.bias_regularizer,
                                     constraint=self.bias_constraint)
                     if self.use_bias else None)
        self.built = True

    def _out_length(self, length, k, s):
        if length is None:
            return None
        return length * s if self.padding == "same" else (length - 1) * s + k

    def call(self, inputs):
        from tapegrad.ops.conv import _conv2d_backprop_input

        _check_nhwc(self, inputs, self.kernel.shape[3])
        n, h, w, _ = inputs.shape
        out_shape = (n, self._out_length(h, self.kernel_size[0], self.strides[0]),
                     self._out_length(w, self.kernel_size[1], self.strides[1]), self.filters)
        outputs = _conv2d_backprop_input(inputs, self.kernel, input_shape=out_shape,
                                         strides=self.strides, padding=self.padding.upper(),
                                         dilations=(1, 1))
        return _finish(self, outputs)

    def compute_output_shape(self, input_shape):
        n, h, w, _ = input_shape
        return (n, self._out_length(h, self.kernel_size[0], self.strides[0]),
                self._out_length(w, self.kernel_size[1], self.strides[1]), self.filters)


def _block_diagonal(depthwise):
    """``(kh, kw, C, M)`` -> the ``(kh, kw, C, C*M)`` conv2d kernel of the depthwise conv."""
    kh, kw, c, m = depthwise.shape
    eye = tg.constant(np.eye(c, dtype=depthwise.dtype).reshape(1, 1, c, c, 1))
    return tg.reshape(tg.expand_dims(depthwise, 3) * eye, (kh, kw, c, c * m))


class DepthwiseConv2D(Layer):
    """Convolves each input channel with its own ``depth_multiplier`` filters.

    Kernel ``depthwise_kernel`` ``(kh, kw, in_channels, depth_multiplier)``; output
    channel ``c * depth_multiplier + m``.
    """

    def __init__(self, kernel_size, strides=(1, 1), padding="valid", depth_multiplier=1,
                 data_format=None, dilation_rate=(1, 1), activation=None, use_bias=True,
                 depthwise_initializer="glorot_uniform", bias_initializer="zeros",
                 depthwise_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 depthwise_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(**kwargs)
        where = type(self).__name__
        self.kernel_size = normalize_tuple(kernel_size, 2, "kernel_size", where)
        self.strides = normalize_tuple(strides, 2, "strides", where)
        self.dilation_rate = normalize_tuple(dilation_rate, 2, "dilation_rate", where)
        self.padding = normalize_padding(padding, where)
        self.data_format = check_data_format(data_format, where)
        self.depth_multiplier = _positive_int(depth_multiplier, "depth_multiplier", where)
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.depthwise_initializer = initializers.get(depthwise_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        _set_penalties(self, depthwise_regularizer, bias_regularizer, activity_regularizer,
                       depthwise_constraint, bias_constraint)

    def build(self, input_shape):
        if len(input_shape) != 4 or input_shape[-1] is None:
            raise ValueError(f"{type(self).__name__} {self.name!r}: expected NHWC input with "
                             f"a known channel count, got {input_shape}")
        c = input_shape[-1]
        kh, kw = self.kernel_size
        self.depthwise_kernel = self.add_weight(
            "depthwise_kernel", (kh, kw, c, self.depth_multiplier),
            initializer=self.depthwise_initializer, regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint)
        self.bias = (self.add_weight("bias", (c * self.depth_multiplier,),
                                     initializer=self.bias_initializer,
                                     regularizer=self.bias_regularizer,
                                     constraint=self.bias_constraint)
                     if self.use_bias else None)
        self.built = True

    def _depthwise(self, inputs):
        _check_nhwc(self, inputs, self.depthwise_kernel.shape[2])
        return tg.nn.conv2d(inputs, _block_diagonal(self.depthwise_kernel),
                            strides=self.strides, padding=self.padding.upper(),
                            dilations=self.dilation_rate)

    def call(self, inputs):
        return _finish(self, self._depthwise(inputs))

    def compute_output_shape(self, input_shape):
        n, h, w, c = input_shape
        return (n, conv_output_length(h, self.kernel_size[0], self.padding, self.strides[0],
                                      self.dilation_rate[0]),
                conv_output_length(w, self.kernel_size[1], self.padding, self.strides[1],
                                   self.dilation_rate[1]),
                None if c is None else c * self.depth_multiplier)


    def get_config(self):
        from tapegrad.layers.core import _penalty_config

        penalties = _penalty_config(self)  # stored under the kernel_* names
        return dict(
            super().get_config(), kernel_size=self.kernel_size, strides=self.strides,
            padding=self.padding, depth_multiplier=self.depth_multiplier,
            data_format=self.data_format, dilation_rate=self.dilation_rate,
            activation=activations.serialize(self.activation), use_bias=self.use_bias,
            depthwise_initializer=initializers.serialize(self.depthwise_initializer),
            bias_initializer=initializers.serialize(self.bias_initializer),
            depthwise_regularizer=penalties["kernel_regularizer"],
            bias_regularizer=penalties["bias_regularizer"],
            activity_regularizer=penalties["activity_regularizer"],
            depthwise_constraint=penalties["kernel_constraint"],
            bias_constraint=penalties["bias_constraint"])


class SeparableConv2D(DepthwiseConv2D):
    """A depthwise convolution followed by a 1x1 (pointwise) convolution to ``filters``.

    Kernels ``depthwise_kernel`` ``(kh, kw, C, depth_multiplier)`` and
    ``pointwise_kernel`` ``(1, 1, C * depth_multiplier, filters)``.
    """

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid",
                 depth_multiplier=1, activation=None, use_bias=True,
                 pointwise_initializer="glorot_uniform", **kwargs):
        super().__init__(kernel_size, strides=strides, padding=padding,
                         depth_multiplier=depth_multiplier, activation=activation,
                         use_bias=use_bias, **kwargs)
        self.filters = _positive_int(filters, "filters", "SeparableConv2D")
        self.pointwise_initializer = initializers.get(pointwise_initializer)

    def build(self, input_shape):
        use_bias = self.use_bias
        self.use_bias = False
        super().build(input_shape)
        self.use_bias = use_bias
        self.pointwise_kernel = self.add_weight(
            "pointwise_kernel", (1, 1, input_shape[-1] * self.depth_multiplier, self.filters),
            initializer=self.pointwise_initializer)
        self.bias = (self.add_weight("bias", (self.filters,), initializer=self.bias_initializer)
                     if use_bias else None)
        self.built = True

    def call(self, inputs):
        depthwise = self._depthwise(inputs)
        return _finish(self, tg.nn.conv2d(depthwise, self.pointwise_kernel, padding="VALID"))

    def compute_output_shape(self, input_shape):
        shape = super().compute_output_shape(input_shape)
        return shape[:3] + (self.filters,)

    def get_config(self):
        return dict(super().get_config(), filters=self.filters,
                    pointwise_initializer=initializers.serialize(self.pointwise_initializer))
