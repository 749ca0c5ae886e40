"""``tf.layers``: the Keras-style layer classes and TF 1.x's functional layers.

``tf.layers.dense(inputs, units, ...)``, ``conv2d``, ``max_pooling2d``,
``average_pooling2d``, ``flatten``, ``dropout`` and ``batch_normalization`` call a layer
on ``inputs`` and return the result.

Variables.  TF 1.x in *graph* mode creates a layer's variables once per name (and
raises on a second creation unless ``reuse`` says otherwise); TF 1.x in *eager* mode
creates fresh variables at every call, which silently makes a training loop train
nothing.  Here a functional call creates its layer (and variables) once per **name**
(under the active ``variable_scope``), or, without a name, once per **call site**
(source line) and scope: a loop calling ``tf.layers.dense(x, 10)`` reuses one layer and
trains.  ``reuse=False`` with a name that already has a layer raises ValueError, as TF's
graph mode does; calling an existing layer with a different configuration raises too.
The variables are watched by tapes like any others (``tape.watched_variables()`` lists
them after a forward pass), and ``tf.layers.get_layer(name)`` returns a named layer.
"""

import sys
import threading

from tapegrad import backend as _backend
from tapegrad.compat._v1_scopes import get_variable_scope
from tapegrad.layers import (  # noqa: F401  (the classes, under their TF 1.x names)
    AveragePooling2D,
    BatchNormalization,
    Conv2D,
    Dense,
    Dropout,
    Flatten,
    Layer,
    MaxPooling2D,
)

__all__ = ["AveragePooling2D", "BatchNormalization", "Conv2D", "Dense", "Dropout",
           "Flatten", "Layer", "MaxPooling2D", "average_pooling2d", "batch_normalization",
           "conv2d", "dense", "dropout", "flatten", "get_layer", "max_pooling2d"]

_lock = threading.Lock()
_layers = {}  # key -> (config, layer)


def _functional(cls, config, inputs, name, reuse, call_kwargs=None):
    scope = get_variable_scope()
    if name is not None:
        key = ("name", scope.original_name_scope + name)
    else:
        caller = sys._getframe(2)
        key = ("site", scope.original_name_scope, cls.__name__, caller.f_code.co_filename,
               caller.f_lineno)
    with _lock:
        entry = _layers.get(key)
        if entry is not None and reuse is False and name is not None:
            raise ValueError("tf.layers.%s: a layer named %r already exists in scope %r; pass "
                             "reuse=True (or tf.AUTO_REUSE) to share it"
                             % (cls.__name__.lower(), name, scope.name))
        if entry is None:
            layer = cls(name=name, **config) if name is not None else cls(**config)
            _layers[key] = (config, layer)
        else:
            old, layer = entry
            if old != config:
                raise ValueError("tf.layers.%s: the layer %s was created with %r and is now "
                                 "called with %r" % (cls.__name__.lower(), name or "at this "
                                                     "call site", old, config))
    return layer(inputs, **(call_kwargs or {}))


def get_layer(name):
    """The layer a named functional call created (full scoped name, e.g. "block/fc")."""
    entry = _layers.get(("name", name))
    if entry is None:
        raise KeyError("tf.layers.get_layer: no functional layer named %r" % (name,))
    return entry[1]


def dense(inputs, units, activation=None, use_bias=True, kernel_initializer=None,
          bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None,
          activity_regularizer=None, kernel_constraint=None, bias_constraint=None,
          trainable=True, name=None, reuse=None):
    _unsupported("dense", kernel_regularizer=kernel_regularizer,
                 bias_regularizer=bias_regularizer, activity_regularizer=activity_regularizer,
                 kernel_constraint=kernel_constraint, bias_constraint=bias_constraint)
    config = dict(units=units, activation=activation, use_bias=use_bias,
                  kernel_initializer=kernel_initializer or "glorot_uniform",
                  bias_initializer=bias_initializer, trainable=trainable)
    return _functional(Dense, config, inputs, name, reuse)


def conv2d(inputs, filters, kernel_size, strides=(1, 1), padding="valid",
           data_format="channels_last", dilation_rate=(1, 1), activation=None, use_bias=True,
           kernel_initializer=None, bias_initializer="zeros", kernel_regularizer=None,
           bias_regularizer=None, activity_regularizer=None, kernel_constraint=None,
           bias_constraint=None, trainable=True, name=None, reuse=None):
    _unsupported("conv2d", kernel_regularizer=kernel_regularizer,
                 bias_regularizer=bias_regularizer, activity_regularizer=activity_regularizer,
                 kernel_constraint=kernel_constraint, bias_constraint=bias_constraint)
    config = dict(filters=filters, kernel_size=kernel_size, strides=strides, padding=padding,
                  data_format=data_format, dilation_rate=dilation_rate,
                  activation=activation, use_bias=use_bias,
                  kernel_initializer=kernel_initializer or "glorot_uniform",
                  bias_initializer=bias_initializer, trainable=trainable)
    return _functional(Conv2D, config, inputs, name, reuse)


def max_pooling2d(inputs, pool_size, strides, padding="valid", data_format="channels_last",
                  name=None):
    return MaxPooling2D(pool_size, strides, padding, data_format)(inputs)


def average_pooling2d(inputs, pool_size, strides, padding="valid",
                      data_format="channels_last", name=None):
    return AveragePooling2D(pool_size, strides, padding, data_format)(inputs)


def flatten(inputs, name=None, data_format="channels_last"):
    return Flatten()(inputs)


def dropout(inputs, rate=0.5, noise_shape=None, seed=None, training=False, name=None):
    """Drop with probability ``rate`` when ``training`` is true (TF 1.x: False by
    default, so an inference call passes ``inputs`` through)."""
    from tapegrad.ops import nn

    if not training:
        return inputs
    return nn.dropout(inputs, rate, noise_shape=noise_shape, seed=seed)


def batch_normalization(inputs, axis=-1, momentum=0.99, epsilon=1e-3, center=True,
                        scale=True, beta_initializer="zeros", gamma_initializer="ones",
                        moving_mean_initializer="zeros", moving_variance_initializer="ones",
                        training=False, trainable=True, name=None, reuse=None, **unsupported):
    _unsupported("batch_normalization", **unsupported)
    config = dict(axis=axis, momentum=momentum, epsilon=epsilon, center=center, scale=scale,
                  beta_initializer=beta_initializer, gamma_initializer=gamma_initializer,
                  moving_mean_initializer=moving_mean_initializer,
                  moving_variance_initializer=moving_variance_initializer,
                  trainable=trainable)
    return _functional(BatchNormalization, config, inputs, name, reuse,
                       {"training": bool(training)})


def _unsupported(op, **given):
    bad = sorted(k for k, v in given.items() if v is not None)
    if bad:
        raise NotImplementedError("tf.layers.%s: %s not supported by tapegrad.compat.tf1"
                                  % (op, ", ".join(bad)))


def _clear():
    with _lock:
        _layers.clear()


# tf.keras.backend.clear_session() forgets the functional layers too.
_backend._session_hooks.append(_clear)


def __getattr__(name):
    from tapegrad.compat._graph_only import missing

    raise missing("tf.layers", name)
