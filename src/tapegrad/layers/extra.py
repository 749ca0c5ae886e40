"""More Keras layers, composed from existing differentiable ops (so their gradients, of
every order, come from the ops'): activation layers (Softmax, ReLU, LeakyReLU, PReLU,
ELU), LayerNormalization, 1-D convolution and pooling (through the 2-D kernels on a
height-1 image), and reshaping layers (RepeatVector, Permute, ZeroPadding2D, Cropping2D,
UpSampling2D), and TimeDistributed."""

import numpy as np

import tapegrad as tg
from tapegrad import initializers
from tapegrad.layers.base import Layer
from tapegrad.layers.convolutional import Conv2D, conv_output_length, normalize_padding
from tapegrad.layers.core import _positive_int

__all__ = ["Softmax", "ReLU", "LeakyReLU", "PReLU", "ELU", "LayerNormalization", "Conv1D",
           "MaxPooling1D", "AveragePooling1D", "GlobalAveragePooling1D", "GlobalMaxPooling1D",
           "RepeatVector", "Permute", "ZeroPadding2D", "Cropping2D", "UpSampling2D",
           "TimeDistributed"]


def _shape_only(layer, input_shape):
    return tuple(input_shape)


# ---------------------------------------------------------------------- activations


def _int_axis(axis, where):
    # int(1.5) would silently pick axis 1
    if isinstance(axis, (bool, np.bool_)) or not isinstance(axis, (int, np.integer)):
        raise TypeError(f"{where}: axis must be an int, got {axis!r}")
    return int(axis)


class Softmax(Layer):
    """``softmax(inputs, axis)``."""

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.axis = _int_axis(axis, "Softmax")

    def call(self, inputs):
        return tg.nn.softmax(inputs, axis=self.axis)

    compute_output_shape = _shape_only


class ReLU(Layer):
    """``min(max(x, threshold) ... )``: Keras' ReLU with ``max_value``,
    ``negative_slope`` and ``threshold``."""

    def __init__(self, max_value=None, negative_slope=0.0, threshold=0.0, **kwargs):
        super().__init__(**kwargs)
        if max_value is not None and max_value < 0:
            raise ValueError(f"ReLU: max_value must be >= 0, got {max_value}")
        if negative_slope < 0:
            raise ValueError(f"ReLU: negative_slope must be >= 0, got {negative_slope}")
        self.max_value = None if max_value is None else float(max_value)
        self.negative_slope = float(negative_slope)
        self.threshold = float(threshold)

    def call(self, inputs):
        if self.negative_slope == 0.0 and self.threshold == 0.0:
            out = tg.nn.relu(inputs)
        else:
            below = (inputs - self.threshold) * self.negative_slope
            out = tg.where(inputs >= self.threshold, inputs, below)
        if self.max_value is not None:
            out = tg.minimum(out, self.max_value)
        return out

    compute_output_shape = _shape_only


class LeakyReLU(Layer):
    """``x`` where positive, ``alpha * x`` elsewhere (Keras' default alpha 0.3)."""

    def __init__(self, alpha=0.3, **kwargs):
        super().__init__(**kwargs)
        try:
            self.alpha = float(alpha)
        except (TypeError, ValueError):
            raise TypeError(f"LeakyReLU: alpha must be a number, got {alpha!r}") from None

    def call(self, inputs):
        return tg.nn.leaky_relu(inputs, alpha=self.alpha)

    compute_output_shape = _shape_only


class ELU(Layer):
    """``x`` where positive, ``alpha * (exp(x) - 1)`` elsewhere."""

    def __init__(self, alpha=1.0, **kwargs):
        super().__init__(**kwargs)
        self.alpha = float(alpha)

    def call(self, inputs):
        out = tg.nn.elu(inputs)
        if self.alpha != 1.0:
            out = tg.where(inputs > 0, out, out * self.alpha)
        return out

    compute_output_shape = _shape_only


class PReLU(Layer):
    """LeakyReLU with a learned slope per feature (``alpha`` of the input's shape without
    the batch axis; ``shared_axes`` share one slope along those axes)."""

    def __init__(self, alpha_initializer="zeros", shared_axes=None, **kwargs):
        super().__init__(**kwargs)
        self.alpha_initializer = initializers.get(alpha_initializer)
        if shared_axes is not None and not isinstance(shared_axes, (list, tuple)):
            shared_axes = [shared_axes]
        self.shared_axes = None if shared_axes is None else [int(a) for a in shared_axes]

    def build(self, input_shape):
        shape = list(input_shape[1:])
        for axis in self.shared_axes or ():
            shape[axis - 1] = 1
        if any(d is None for d in shape):
            raise ValueError(f"PReLU {self.name!r}: every non-batch dimension must be known "
                             f"(or shared), got {input_shape}")
        self.alpha = self.add_weight("alpha", tuple(shape), initializer=self.alpha_initializer)
        self.built = True

    def call(self, inputs):
        return tg.nn.relu(inputs) - self.alpha * tg.nn.relu(-inputs)

    compute_output_shape = _shape_only


# ---------------------------------------------------------------------- normalization


class LayerNormalization(Layer):
    """Normalizes each example over ``axis`` (default the last) to zero mean and unit
    variance, then scales by ``gamma`` and shifts by ``beta``."""

    def __init__(self, axis=-1, epsilon=1e-3, center=True, scale=True,
                 beta_initializer="zeros", gamma_initializer="ones", **kwargs):
        super().__init__(**kwargs)
        self.axis = [int(a) for a in (axis if isinstance(axis, (list, tuple)) else [axis])]
        self.epsilon = float(epsilon)
        self.center = bool(center)
        self.scale = bool(scale)
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)

    def build(self, input_shape):
        rank = len(input_shape)
        if rank == 0:
            # a % 0 below would raise a bare ZeroDivisionError
            raise ValueError(f"LayerNormalization {self.name!r}: expected inputs of rank >= 1, "
                             f"got a scalar")
        axes = sorted(a % rank for a in self.axis)
        shape = tuple(input_shape[a] for a in axes)
        if any(d is None for d in shape):
            raise ValueError(f"LayerNormalization {self.name!r}: the normalized axes must have "
                             f"known sizes, got {input_shape}")
        self.gamma = (self.add_weight("gamma", shape, initializer=self.gamma_initializer)
                      if self.scale else None)
        self.beta = (self.add_weight("beta", shape, initializer=self.beta_initializer)
                     if self.center else None)
        self.built = True

    def call(self, inputs):
        rank = len(inputs.shape)
        axes = tuple(a % rank for a in self.axis)
        mean, var = tg.nn.moments(inputs, axes=list(axes), keepdims=True)
        out = (inputs - mean) * tg.rsqrt(var + self.epsilon)
        bshape = tuple(inputs.shape[a] if a in axes else 1 for a in range(rank))
        if self.gamma is not None:
            out = out * tg.reshape(self.gamma, bshape)
        if self.beta is not None:
            out = out + tg.reshape(self.beta, bshape)
        return out

    compute_output_shape = _shape_only


# ---------------------------------------------------------------------- 1-D


class Conv1D(Conv2D):
    """1-D convolution over ``(batch, steps, channels)``: kernel ``(k, in, filters)``.

    Runs the 2-D kernel on a height-1 image; ``padding`` "valid", "same" or "causal"
    (left padding only, for sequence models).
    """

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None,
                 dilation_rate=1, **kwargs):
        self.causal = isinstance(padding, str) and padding.lower() == "causal"
        k = kernel_size[0] if isinstance(kernel_size, (list, tuple)) else kernel_size
        s = strides[0] if isinstance(strides, (list, tuple)) else strides
        d = dilation_rate[0] if isinstance(dilation_rate, (list, tuple)) else dilation_rate
        super().__init__(filters, (1, k), strides=(1, s),
                         padding="valid" if self.causal else padding,
                         data_format=data_format, dilation_rate=(1, d), **kwargs)

    def build(self, input_shape):
        if len(input_shape) != 3 or input_shape[-1] is None:
            raise ValueError(f"Conv1D {self.name!r}: expected (batch, steps, channels) input "
                             f"with known channels, got {input_shape}")
        # Keras' 1-D layout: (kernel_size, in_channels, filters)
        self.kernel = self.add_weight("kernel", (self.kernel_size[1], input_shape[-1],
                                                 self.filters),
                                      initializer=self.kernel_initializer,
                                      regularizer=self.kernel_regularizer,
                                      constraint=self.kernel_constraint)
        self.bias = (self.add_weight("bias", (self.filters,), initializer=self.bias_initializer,
                                     regularizer=self.bias_regularizer,
                                     constraint=self.bias_constraint)
                     if self.use_bias else None)
        self.built = True

    def call(self, inputs):
        if len(inputs.shape) != 3:
            raise ValueError(f"Conv1D {self.name!r}: expected (batch, steps, channels) "
                             f"inputs, got shape {tuple(inputs.shape)}")
        if self.causal:
            left = self.dilation_rate[1] * (self.kernel_size[1] - 1)
            inputs = tg.pad(inputs, [[0, 0], [left, 0], [0, 0]])
        x = tg.expand_dims(inputs, 1)
        kernel = tg.expand_dims(self.kernel, 0)
        out = tg.nn.conv2d(x, kernel, strides=self.strides, padding=self.padding.upper(),
                           dilations=self.dilation_rate)
        out = tg.squeeze(out, axis=1)
        if self.bias is not None:
            out = out + self.bias
        out = self.activation(out)
        if self.activity_regularizer is not None:
            self._record_activity_loss(self.activity_regularizer, out)
        return out

    def compute_output_shape(self, input_shape):
        n, steps, _ = input_shape
        if self.causal:
            length = None if steps is None else -(-steps // self.strides[1])
        else:
            length = conv_output_length(steps, self.kernel_size[1], self.padding,
                                        self.strides[1], self.dilation_rate[1])
        return (n, length, self.filters)

    def get_config(self):
        # Conv2D's config holds the height-1 kernel this layer runs; give the 1-D values
        config = super().get_config()
        config.update(kernel_size=(self.kernel_size[1],), strides=(self.strides[1],),
                      dilation_rate=(self.dilation_rate[1],))
        if self.causal:
            config["padding"] = "causal"
        return config


class _Pooling1D(Layer):
    def __init__(self, pool_size=2, strides=None, padding="valid", **kwargs):
        super().__init__(**kwargs)
        self.pool_size = _positive_int(pool_size, "pool_size", type(self).__name__)
        self.strides = self.pool_size if strides is None else _positive_int(
            strides, "strides", type(self).__name__)
        self.padding = normalize_padding(padding, type(self).__name__)

    def call(self, inputs):
        if len(inputs.shape) != 3:
            raise ValueError(f"{type(self).__name__} {self.name!r}: expected (batch, steps, "
                             f"channels) inputs, got shape {tuple(inputs.shape)}")
        out = self._pool(tg.expand_dims(inputs, 1), (1, self.pool_size), (1, self.strides),
                         self.padding.upper())
        return tg.squeeze(out, axis=1)

    def compute_output_shape(self, input_shape):
        n, steps, c = input_shape
        return (n, conv_output_length(steps, self.pool_size, self.padding, self.strides), c)


class MaxPooling1D(_Pooling1D):
    """Maximum over windows of ``pool_size`` steps."""

    @staticmethod
    def _pool(x, ksize, strides, padding):
        return tg.nn.max_pool2d(x, ksize, strides, padding)


class AveragePooling1D(_Pooling1D):
    """Mean over windows of ``pool_size`` steps."""

    @staticmethod
    def _pool(x, ksize, strides, padding):
        return tg.nn.avg_pool2d(x, ksize, strides, padding)


class GlobalAveragePooling1D(Layer):
    """Mean over the steps axis: ``(batch, steps, channels)`` -> ``(batch, channels)``."""

    def call(self, inputs):
        if len(inputs.shape) != 3:
            raise ValueError(f"GlobalAveragePooling1D {self.name!r}: expected rank-3 inputs, "
                             f"got shape {tuple(inputs.shape)}")
        return tg.reduce_mean(inputs, axis=1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[2])


class GlobalMaxPooling1D(GlobalAveragePooling1D):
    """Maximum over the steps axis."""

    def call(self, inputs):
        if len(inputs.shape) != 3:
            raise ValueError(f"GlobalMaxPooling1D {self.name!r}: expected rank-3 inputs, "
                             f"got shape {tuple(inputs.shape)}")
        return tg.reduce_max(inputs, axis=1)


# ---------------------------------------------------------------------- reshaping


class RepeatVector(Layer):
    """``(batch, features)`` -> ``(batch, n, features)``."""

    def __init__(self, n, **kwargs):
        super().__init__(**kwargs)
        self.n = _positive_int(n, "n", "RepeatVector")

    def call(self, inputs):
        if len(inputs.shape) != 2:
            raise ValueError(f"RepeatVector {self.name!r}: expected rank-2 inputs, got shape "
                             f"{tuple(inputs.shape)}")
        return tg.tile(tg.expand_dims(inputs, 1), (1, self.n, 1))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.n, input_shape[1])

    def get_config(self):
        return dict(super().get_config(), n=self.n)


class Permute(Layer):
    """Permutes the non-batch axes: ``dims`` is a permutation of ``1..rank-1``."""

    def __init__(self, dims, **kwargs):
        super().__init__(**kwargs)
        self.dims = tuple(int(d) for d in dims)
        if sorted(self.dims) != list(range(1, len(self.dims) + 1)):
            raise ValueError(f"Permute: dims must be a permutation of 1..{len(self.dims)}, "
                             f"got {self.dims}")

    def call(self, inputs):
        if len(inputs.shape) != len(self.dims) + 1:
            raise ValueError(f"Permute {self.name!r}: dims {self.dims} need inputs of rank "
                             f"{len(self.dims) + 1}, got shape {tuple(inputs.shape)}")
        return tg.transpose(inputs, (0,) + self.dims)

    def compute_output_shape(self, input_shape):
        return (input_shape[0],) + tuple(input_shape[d] for d in self.dims)

    def get_config(self):
        return dict(super().get_config(), dims=self.dims)


def _pairs(value, where):
    def is_int(v):
        return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))

    def pair(v):
        return hasattr(v, "__len__") and len(v) == 2 and all(is_int(x) for x in v)

    # every entry an int >= 0: int(1.5) would truncate, a negative size would reach pad/
    # slicing as an error about another op, a float scalar as "not iterable"
    if is_int(value):
        out = ((int(value),) * 2,) * 2
    elif hasattr(value, "__len__") and len(value) == 2 and all(is_int(v) for v in value):
        out = ((int(value[0]),) * 2, (int(value[1]),) * 2)
    elif hasattr(value, "__len__") and len(value) == 2 and all(pair(v) for v in value):
        out = tuple((int(a), int(b)) for a, b in value)
    else:
        raise TypeError(f"{where}: expected an int, 2 ints or 2 pairs of ints, got {value!r}")
    if any(a < 0 or b < 0 for a, b in out):
        raise ValueError(f"{where}: sizes must be >= 0, got {value!r}")
    return out


def _check_nhwc(layer, inputs):
    if len(inputs.shape) != 4:
        raise ValueError(f"{type(layer).__name__} {layer.name!r}: expected NHWC inputs, got "
                         f"shape {tuple(inputs.shape)}")


class ZeroPadding2D(Layer):
    """Pads rows and columns of NHWC inputs with zeros."""

    def __init__(self, padding=(1, 1), data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.padding = _pairs(padding, "ZeroPadding2D")

    def call(self, inputs):
        _check_nhwc(self, inputs)
        (t, b), (l, r) = self.padding
        return tg.pad(inputs, [[0, 0], [t, b], [l, r], [0, 0]])

    def compute_output_shape(self, input_shape):
        n, h, w, c = input_shape
        (t, b), (l, r) = self.padding
        return (n, None if h is None else h + t + b, None if w is None else w + l + r, c)


class Cropping2D(Layer):
    """Removes rows and columns from the edges of NHWC inputs."""

    def __init__(self, cropping=((0, 0), (0, 0)), data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.cropping = _pairs(cropping, "Cropping2D")

    def call(self, inputs):
        _check_nhwc(self, inputs)
        (t, b), (l, r) = self.cropping
        h, w = inputs.shape[1], inputs.shape[2]
        if t + b >= h or l + r >= w:
            raise ValueError(f"Cropping2D {self.name!r}: cropping {self.cropping} leaves nothing "
                             f"of a {h}x{w} image")
        return inputs[:, t:h - b, l:w - r, :]

    def compute_output_shape(self, input_shape):
        n, h, w, c = input_shape
        (t, b), (l, r) = self.cropping
        return (n, None if h is None else h - t - b, None if w is None else w - l - r, c)


class UpSampling2D(Layer):
    """Repeats rows and columns ``size`` times (nearest-neighbour upsampling)."""

    def __init__(self, size=(2, 2), data_format=None, interpolation="nearest", **kwargs):
        super().__init__(**kwargs)
        if interpolation != "nearest":
            raise ValueError(f"UpSampling2D: only interpolation='nearest' is supported, got "
                             f"{interpolation!r}")
        if not hasattr(size, "__len__"):
            size = (size, size)           # _positive_int rejects a non-int scalar
        self.size = tuple(_positive_int(s, "size", "UpSampling2D") for s in size)
        if len(self.size) != 2:
            raise ValueError(f"UpSampling2D: size must be an int or 2 ints, got {size!r}")

    def call(self, inputs):
        _check_nhwc(self, inputs)
        n, h, w, c = inputs.shape
        sh, sw = self.size
        x = tg.reshape(inputs, (n, h, 1, w, 1, c))
        x = tg.tile(x, (1, 1, sh, 1, sw, 1))
        return tg.reshape(x, (n, h * sh, w * sw, c))

    def compute_output_shape(self, input_shape):
        n, h, w, c = input_shape
        return (n, None if h is None else h * self.size[0],
                None if w is None else w * self.size[1], c)


class TimeDistributed(Layer):
    """Applies ``layer`` to every time step: ``(batch, time, ...)`` folded into the batch."""

    def __init__(self, layer, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(layer, Layer):
            raise TypeError(f"TimeDistributed: expected a Layer, got {type(layer).__name__}")
        self.layer = layer

    def build(self, input_shape):
        if len(input_shape) < 3:
            raise ValueError(f"TimeDistributed {self.name!r}: expected inputs of rank >= 3, "
                             f"got {input_shape}")
        self.layer._build_for_shape((None,) + tuple(input_shape[2:]))
        self.built = True

    def call(self, inputs, training=None):
        shape = tuple(inputs.shape)
        if len(shape) < 3:
            raise ValueError(f"TimeDistributed {self.name!r}: expected inputs of rank >= 3, "
                             f"got shape {shape}")
        folded = tg.reshape(inputs, (shape[0] * shape[1],) + shape[2:])
        out = self.layer(folded, training=training)
        return tg.reshape(out, shape[:2] + tuple(out.shape[1:]))

    def compute_output_shape(self, input_shape):
        inner = self.layer.compute_output_shape((None,) + tuple(input_shape[2:]))
        return tuple(input_shape[:2]) + tuple(inner[1:])

    def get_config(self):
        from tapegrad.layers.functional_config import serialize_layer

        return dict(super().get_config(), layer=serialize_layer(self.layer))

    @classmethod
    def from_config(cls, config):
        from tapegrad.layers.functional_config import deserialize_layer

        config = dict(config)
        return cls(deserialize_layer(config.pop("layer")), **config)
