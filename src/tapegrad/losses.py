"""Loss functions with TF 1.x ``tf.losses`` semantics.

Each loss computes an elementwise loss, multiplies it by ``weights`` (a scalar, or a
tensor broadcastable to the loss's shape) and reduces it according to ``reduction``:

* ``Reduction.NONE``: the weighted losses, same shape as the elementwise loss;
* ``Reduction.SUM``: their sum;
* ``Reduction.MEAN``: their sum divided by the sum of the (broadcast) weights;
* ``Reduction.SUM_OVER_BATCH_SIZE``: their sum divided by the number of elements;
* ``Reduction.SUM_BY_NONZERO_WEIGHTS`` (the default): their sum divided by the number of
  nonzero (broadcast) weights.

A division by zero (all weights zero) gives 0, as in TensorFlow.  Everything is written
in tapegrad ops, so losses are differentiable, to any order, with respect to their
inputs; the softmax and sigmoid losses use log-sum-exp forms that stay finite for
logits of any size.
"""

import math

import numpy as np

import tapegrad as tg
from tapegrad.ops.reductions import _sum

__all__ = [
    "Reduction",
    "compute_weighted_loss",
    "sparse_softmax_cross_entropy",
    "softmax_cross_entropy",
    "sigmoid_cross_entropy",
    "mean_squared_error",
    "absolute_difference",
    "huber_loss",
    "log_loss",
    "hinge_loss",
]


class Reduction:
    """How a weighted loss is reduced to what the loss function returns."""

    NONE = "none"
    SUM = "weighted_sum"
    MEAN = "weighted_mean"
    SUM_OVER_BATCH_SIZE = "weighted_sum_over_batch_size"
    SUM_BY_NONZERO_WEIGHTS = "weighted_sum_by_nonzero_weights"

    @classmethod
    def all(cls):
        return (cls.NONE, cls.SUM, cls.MEAN, cls.SUM_OVER_BATCH_SIZE,
                cls.SUM_BY_NONZERO_WEIGHTS)

    @classmethod
    def validate(cls, reduction, where="loss"):
        if reduction not in cls.all():
            raise ValueError(f"{where}: unknown reduction {reduction!r}; expected one of "
                             f"{cls.all()}")


def _float_tensor(value, dtype=None):
    """``value`` as a Tensor of ``dtype``, or of a float dtype when ``dtype`` is None."""
    if not isinstance(value, (tg.Tensor, tg.Variable)):
        value = tg.convert_to_tensor(np.asarray(value))
    if dtype is None and value.dtype.kind != "f":
        # TF 1.x losses compute in float32 whatever the integer/bool input.
        dtype = tg.float32
    return value if dtype is None or value.dtype == dtype else tg.cast(value, dtype)


def _check_same_shape(a, b, where, a_name, b_name):
    if tuple(a.shape) != tuple(b.shape):
        raise ValueError(
            f"{where}: {a_name} shape {tuple(a.shape)} must equal {b_name} shape "
            f"{tuple(b.shape)}"
        )


def _weights_array_shape(weights):
    if isinstance(weights, (tg.Tensor, tg.Variable)):
        return tuple(weights.shape)
    return np.shape(weights)


def _safe_divide(numerator, denominator):
    """``numerator / denominator``, and 0 where the denominator is 0 (tf.div_no_nan)."""
    if not isinstance(denominator, (tg.Tensor, tg.Variable)):
        return numerator * (1.0 / denominator) if denominator else numerator * 0.0
    nonzero = tg.not_equal(denominator, 0.0)
    safe = tg.where(nonzero, denominator, tg.ones_like(denominator))
    return tg.where(nonzero, numerator / safe, tg.zeros_like(numerator))


def compute_weighted_loss(losses, weights=1.0, reduction=Reduction.SUM_BY_NONZERO_WEIGHTS,
                          where="compute_weighted_loss"):
    """Weight the elementwise ``losses`` and reduce them as ``reduction`` says."""
    Reduction.validate(reduction, where)
    losses = _float_tensor(losses)
    loss_shape = tuple(losses.shape)
    # a Python number (the default 1.0) broadcasts to anything: no shape check needed
    scalar_weight = isinstance(weights, (int, float)) or (
        not isinstance(weights, (tg.Tensor, tg.Variable)) and np.ndim(weights) == 0)
    if not scalar_weight:
        weight_shape = tuple(_weights_array_shape(weights))
        try:
            broadcast = np.broadcast_shapes(weight_shape, loss_shape)
        except ValueError:
            broadcast = None
        if broadcast != loss_shape:
            raise ValueError(
                f"{where}: weights of shape {weight_shape} cannot be broadcast to the loss "
                f"shape {loss_shape}"
            )
    if scalar_weight:
        weights = float(weights)
        weighted = losses if weights == 1.0 else losses * weights
    else:
        weights = _float_tensor(weights, dtype=losses.dtype)
        weighted = losses * weights
    if reduction == Reduction.NONE:
        return weighted
    # the reduction primitive over every axis, without reduce_sum's argument parsing
    total = _sum(weighted, axes=tuple(range(len(weighted.shape))), keepdims=False)
    if reduction == Reduction.SUM:
        return total
    size = math.prod(loss_shape)
    if reduction == Reduction.SUM_OVER_BATCH_SIZE:
        return _safe_divide(total, size)
    if reduction == Reduction.MEAN:
        if scalar_weight:
            return _safe_divide(total, weights * size)
        return _safe_divide(total, tg.reduce_sum(weights * tg.ones_like(losses)))
    # SUM_BY_NONZERO_WEIGHTS: the count is a number, never differentiated.
    if scalar_weight:
        count = size if weights != 0.0 else 0
    else:
        count = int(np.count_nonzero(np.broadcast_to(np.asarray(weights), loss_shape)))
    return _safe_divide(total, count)


def sparse_softmax_cross_entropy(labels, logits, weights=1.0,
                                 reduction=Reduction.SUM_BY_NONZERO_WEIGHTS):
    """Cross entropy of ``logits [..., classes]`` against integer class ids ``labels [...]``."""
    where = "sparse_softmax_cross_entropy"
    logits = _float_tensor(logits)
    # The op checks the labels' dtype, shape and range and names itself in the error.
    losses = tg.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)
    return compute_weighted_loss(losses, weights, reduction, where)


def softmax_cross_entropy(onehot_labels, logits, weights=1.0, label_smoothing=0.0,
                          reduction=Reduction.SUM_BY_NONZERO_WEIGHTS):
    """Cross entropy against probability ``onehot_labels`` of the same shape as ``logits``.

    ``label_smoothing`` ``s`` replaces the labels by ``labels * (1 - s) + s / classes``.
    """
    where = "softmax_cross_entropy"
    logits = _float_tensor(logits)
    labels = _float_tensor(onehot_labels, dtype=logits.dtype)
    _check_same_shape(labels, logits, where, "onehot_labels", "logits")
    if len(logits.shape) < 1:
        raise ValueError(f"{where}: logits need a class axis, got a scalar")
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"{where}: label_smoothing must be in [0, 1], got {label_smoothing}")
    if label_smoothing:
        labels = labels * (1.0 - label_smoothing) + label_smoothing / logits.shape[-1]
    losses = tg.nn.softmax_cross_entropy_with_logits(labels=labels, logits=logits)
    return compute_weighted_loss(losses, weights, reduction, where)


def sigmoid_cross_entropy(multi_class_labels, logits, weights=1.0, label_smoothing=0.0,
                          reduction=Reduction.SUM_BY_NONZERO_WEIGHTS):
    """Elementwise logistic loss of ``logits`` against labels in [0, 1].

    ``max(x, 0) - x * z + log(1 + exp(-|x|))``: finite for any ``x``.
    ``label_smoothing`` ``s`` replaces the labels by ``z * (1 - s) + s / 2``.
    """
    where = "sigmoid_cross_entropy"
    logits = _float_tensor(logits)
    labels = _float_tensor(multi_class_labels, dtype=logits.dtype)
    _check_same_shape(labels, logits, where, "multi_class_labels", "logits")
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"{where}: label_smoothing must be in [0, 1], got {label_smoothing}")
    if label_smoothing:
        labels = labels * (1.0 - label_smoothing) + 0.5 * label_smoothing
    losses = tg.nn.sigmoid_cross_entropy_with_logits(labels=labels, logits=logits)
    return compute_weighted_loss(losses, weights, reduction, where)


def _regression_inputs(labels, predictions, where):
    predictions = _float_tensor(predictions)
    labels = _float_tensor(labels, dtype=predictions.dtype)
    _check_same_shape(labels, predictions, where, "labels", "predictions")
    return labels, predictions


def mean_squared_error(labels, predictions, weights=1.0,
                       reduction=Reduction.SUM_BY_NONZERO_WEIGHTS):
    """``(predictions - labels) ** 2``, weighted and reduced."""
    where = "mean_squared_error"
    labels, predictions = _regression_inputs(labels, predictions, where)
    return compute_weighted_loss(tg.square(predictions - labels), weights, reduction, where)


def absolute_difference(labels, predictions, weights=1.0,
                        reduction=Reduction.SUM_BY_NONZERO_WEIGHTS):
    """``|predictions - labels|``, weighted and reduced."""
    where = "absolute_difference"
    labels, predictions = _regression_inputs(labels, predictions, where)
    return compute_weighted_loss(tg.abs(predictions - labels), weights, reduction, where)


def huber_loss(labels, predictions, weights=1.0, delta=1.0,
               reduction=Reduction.SUM_BY_NONZERO_WEIGHTS):
    """Quadratic for errors up to ``delta``, linear beyond: ``0.5 q^2 + delta (|e| - q)``."""
    where = "huber_loss"
    if delta <= 0:
        raise ValueError(f"{where}: delta must be > 0, got {delta}")
    labels, predictions = _regression_inputs(labels, predictions, where)
    error = tg.abs(predictions - labels)
    quadratic = tg.minimum(error, float(delta))
    losses = 0.5 * tg.square(quadratic) + float(delta) * (error - quadratic)
    return compute_weighted_loss(losses, weights, reduction, where)


def log_loss(labels, predictions, weights=1.0, epsilon=1e-7,
             reduction=Reduction.SUM_BY_NONZERO_WEIGHTS):
    """Binary cross entropy of probabilities: ``-z log(p + eps) - (1 - z) log(1 - p + eps)``."""
    where = "log_loss"
    labels, predictions = _regression_inputs(labels, predictions, where)
    losses = -(labels * tg.log(predictions + epsilon)
               + (1.0 - labels) * tg.log(1.0 - predictions + epsilon))
    return compute_weighted_loss(losses, weights, reduction, where)


def hinge_loss(labels, logits, weights=1.0, reduction=Reduction.SUM_BY_NONZERO_WEIGHTS):
    """``max(0, 1 - (2z - 1) x)`` for labels ``z`` in {0, 1} and logits ``x``."""
    where = "hinge_loss"
    logits = _float_tensor(logits)
    labels = _float_tensor(labels, dtype=logits.dtype)
    _check_same_shape(labels, logits, where, "labels", "logits")
    losses = tg.nn.relu(1.0 - (2.0 * labels - 1.0) * logits)
    return compute_weighted_loss(losses, weights, reduction, where)


# Keras' loss objects (``tf.keras.losses``), for ``Model.compile`` (issue 21).
from tapegrad.training.losses import (  # noqa: E402
    BinaryCrossentropy,
    CategoricalCrossentropy,
    Huber,
    Loss,
    MeanAbsoluteError,
    MeanSquaredError,
    SparseCategoricalCrossentropy,
)

__all__ += ["Loss", "SparseCategoricalCrossentropy", "CategoricalCrossentropy",
            "BinaryCrossentropy", "MeanSquaredError", "MeanAbsoluteError", "Huber"]
