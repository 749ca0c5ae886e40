"""Keras' loss objects: ``loss = SparseCategoricalCrossentropy(from_logits=True)(y, y_pred)``.

Each loss computes one value per example (the mean over the last axis for the
elementwise ones) and reduces them to a scalar as Keras does by default: the weighted
sum divided by the number of examples (``SUM_OVER_BATCH_SIZE``), so a batch's loss does
not depend on the batch size.  ``from_logits=False`` (Keras' default) expects
probabilities and clips them to ``[eps, 1 - eps]`` before taking logs.
"""

import math

import numpy as np

import tapegrad as tg

__all__ = [
    "Loss", "SparseCategoricalCrossentropy", "CategoricalCrossentropy", "BinaryCrossentropy",
    "MeanSquaredError", "MeanAbsoluteError", "Huber", "get",
]

_EPSILON = 1e-7


def _as_float(value, dtype=None):
    if isinstance(value, (tg.Tensor, tg.Variable)):
        if dtype is not None and value.dtype != dtype:
            return tg.cast(value, dtype)
        if value.dtype.kind != "f":
            return tg.cast(value, tg.float32)
        return value
    arr = np.asarray(value)
    if arr.dtype.kind not in "biuf":
        # strings and objects: NumPy's "could not convert string to float" would not say
        # that a loss's y_true / y_pred was the bad argument
        raise TypeError("loss: y_true, y_pred and sample_weight must be numeric, got %s of "
                        "dtype %s" % (type(value).__name__, arr.dtype))
    if dtype is None:
        dtype = arr.dtype if arr.dtype.kind == "f" else np.float32
    return tg.convert_to_tensor(arr.astype(dtype, copy=False))


class Loss:
    """Base class: subclasses define ``per_example(y_true, y_pred)``.

    ``reduction``: ``"sum_over_batch_size"`` (default), ``"sum"`` or ``"none"``.
    """

    _reductions = ("sum_over_batch_size", "auto", "sum", "none")

    def __init__(self, reduction="sum_over_batch_size", name=None):
        if reduction not in self._reductions:
            raise ValueError(
                f"{type(self).__name__}: reduction must be one of {self._reductions}, "
                f"got {reduction!r}"
            )
        self.reduction = "sum_over_batch_size" if reduction == "auto" else reduction
        self.name = name or _snake(type(self).__name__)

    def per_example(self, y_true, y_pred):
        raise NotImplementedError

    def __call__(self, y_true, y_pred, sample_weight=None):
        losses = self.per_example(y_true, y_pred)
        if sample_weight is not None:
            weights = _as_float(sample_weight, losses.dtype)
            if tuple(weights.shape) != tuple(losses.shape):
                try:
                    weights = tg.broadcast_to(
                        tg.reshape(weights, tuple(weights.shape)
                                   + (1,) * (len(losses.shape) - len(weights.shape))),
                        tuple(losses.shape))
                except (ValueError, TypeError):
                    raise ValueError(
                        f"{self.name}: sample_weight of shape {tuple(weights.shape)} does not "
                        f"match the per-example losses of shape {tuple(losses.shape)}"
                    ) from None
            losses = losses * weights
        if self.reduction == "none":
            return losses
        if self.reduction == "sum":
            return tg.reduce_sum(losses)
        count = math.prod(losses.shape)
        if count == 0:
            return tg.reduce_sum(losses)
        # the weighted sum over the number of examples (not over the weights' sum)
        return tg.reduce_mean(losses)

    def get_config(self):
        return {"reduction": self.reduction, "name": self.name}


class LossFunctionWrapper(Loss):
    """A plain ``fn(y_true, y_pred)`` given to ``compile``, as Keras wraps it: ``fn``
    may return one loss per example (``[batch]`` or any shape); sample weights and the
    reduction (the mean by default) are applied here, so ``fit`` always minimizes a
    scalar.  A ``fn`` that already returns a scalar is left as it is."""

    def __init__(self, fn, reduction="sum_over_batch_size", name=None):
        super().__init__(reduction, name or getattr(fn, "__name__", None) or "loss")
        self.fn = fn

    def per_example(self, y_true, y_pred):
        # float targets in the prediction's float dtype, as Keras' loss functions cast
        # them (fit feeds float32 targets to a float64 model otherwise)
        if isinstance(y_pred, (tg.Tensor, tg.Variable)) and y_pred.dtype.kind == "f":
            if not isinstance(y_true, (tg.Tensor, tg.Variable)):
                y_true = tg.convert_to_tensor(np.asarray(y_true))
            if y_true.dtype.kind == "f" and y_true.dtype != y_pred.dtype:
                y_true = tg.cast(y_true, y_pred.dtype)
        out = self.fn(y_true, y_pred)
        if not isinstance(out, (tg.Tensor, tg.Variable)):
            out = _as_float(out)
        return out



def _snake(name):
    from tapegrad.layers.base import _to_snake_case

    return _to_snake_case(name)


class SparseCategoricalCrossentropy(Loss):
    """Cross entropy of class scores ``[..., classes]`` against integer ids ``[...]``."""

    def __init__(self, from_logits=False, reduction="sum_over_batch_size",
                 name="sparse_categorical_crossentropy"):
        super().__init__(reduction, name)
        self.from_logits = bool(from_logits)

    def per_example(self, y_true, y_pred):
        y_pred = _as_float(y_pred)
        if not isinstance(y_true, (tg.Tensor, tg.Variable)):
            y_true = tg.convert_to_tensor(np.asarray(y_true))
        if y_true.dtype.kind == "f":
            y_true = tg.cast(y_true, tg.int64)
        if len(y_true.shape) == len(y_pred.shape) and tuple(y_true.shape)[-1:] == (1,):
            y_true = tg.squeeze(y_true, axis=-1)
        if self.from_logits:
            return tg.nn.sparse_softmax_cross_entropy_with_logits(labels=y_true, logits=y_pred)
        probs = y_pred / tg.reduce_sum(y_pred, axis=-1, keepdims=True)
        log_probs = tg.log(tg.clip_by_value(probs, _EPSILON, 1.0 - _EPSILON))
        # -log p[label] through the logits path: log_softmax(log p) = log p when p sums to 1
        return tg.nn.sparse_softmax_cross_entropy_with_logits(labels=y_true, logits=log_probs)

    def get_config(self):
        return dict(super().get_config(), from_logits=self.from_logits)


class CategoricalCrossentropy(Loss):
    """Cross entropy against one-hot (or probability) labels of ``y_pred``'s shape."""

    def __init__(self, from_logits=False, label_smoothing=0.0,
                 reduction="sum_over_batch_size", name="categorical_crossentropy"):
        super().__init__(reduction, name)
        self.from_logits = bool(from_logits)
        self.label_smoothing = float(label_smoothing)

    def per_example(self, y_true, y_pred):
        y_pred = _as_float(y_pred)
        y_true = _as_float(y_true, y_pred.dtype)
        if tuple(y_true.shape) != tuple(y_pred.shape):
            raise ValueError(
                f"{self.name}: labels shape {tuple(y_true.shape)} must equal predictions "
                f"shape {tuple(y_pred.shape)}"
            )
        if self.label_smoothing:
            classes = y_pred.shape[-1]
            y_true = y_true * (1.0 - self.label_smoothing) + self.label_smoothing / classes
        if self.from_logits:
            return tg.nn.softmax_cross_entropy_with_logits(labels=y_true, logits=y_pred)
        probs = y_pred / tg.reduce_sum(y_pred, axis=-1, keepdims=True)
        log_probs = tg.log(tg.clip_by_value(probs, _EPSILON, 1.0 - _EPSILON))
        return -tg.reduce_sum(y_true * log_probs, axis=-1)

    def get_config(self):
        return dict(super().get_config(), from_logits=self.from_logits,
                    label_smoothing=self.label_smoothing)


class BinaryCrossentropy(Loss):
    """Logistic loss against labels in [0, 1], averaged over the last axis."""

    def __init__(self, from_logits=False, label_smoothing=0.0,
                 reduction="sum_over_batch_size", name="binary_crossentropy"):
        super().__init__(reduction, name)
        self.from_logits = bool(from_logits)
        self.label_smoothing = float(label_smoothing)

    def per_example(self, y_true, y_pred):
        y_pred = _as_float(y_pred)
        y_true = _as_float(y_true, y_pred.dtype)
        y_true, y_pred = _match_rank(y_true, y_pred, self.name)
        if self.label_smoothing:
            y_true = y_true * (1.0 - self.label_smoothing) + 0.5 * self.label_smoothing
        if self.from_logits:
            losses = tg.nn.sigmoid_cross_entropy_with_logits(labels=y_true, logits=y_pred)
        else:
            p = tg.clip_by_value(y_pred, _EPSILON, 1.0 - _EPSILON)
            losses = -(y_true * tg.log(p) + (1.0 - y_true) * tg.log(1.0 - p))
        return tg.reduce_mean(losses, axis=-1)

    def get_config(self):
        return dict(super().get_config(), from_logits=self.from_logits,
                    label_smoothing=self.label_smoothing)


def _match_rank(y_true, y_pred, where):
    """Keras squeezes or expands a trailing 1 so that ``(n,)`` labels fit ``(n, 1)`` outputs."""
    ts, ps = tuple(y_true.shape), tuple(y_pred.shape)
    if ts == ps:
        return y_true, y_pred
    if len(ts) + 1 == len(ps) and ps[-1] == 1 and ts == ps[:-1]:
        return tg.expand_dims(y_true, -1), y_pred
    if len(ps) + 1 == len(ts) and ts[-1] == 1 and ps == ts[:-1]:
        return tg.squeeze(y_true, axis=-1), y_pred
    raise ValueError(f"{where}: labels shape {ts} does not match predictions shape {ps}")


class MeanSquaredError(Loss):
    """``mean((y_pred - y_true) ** 2, axis=-1)`` per example."""

    def __init__(self, reduction="sum_over_batch_size", name="mean_squared_error"):
        super().__init__(reduction, name)

    def per_example(self, y_true, y_pred):
        y_pred = _as_float(y_pred)
        y_true, y_pred = _match_rank(_as_float(y_true, y_pred.dtype), y_pred, self.name)
        return tg.reduce_mean(tg.square(y_pred - y_true), axis=-1)


class MeanAbsoluteError(Loss):
    """``mean(|y_pred - y_true|, axis=-1)`` per example."""

    def __init__(self, reduction="sum_over_batch_size", name="mean_absolute_error"):
        super().__init__(reduction, name)

    def per_example(self, y_true, y_pred):
        y_pred = _as_float(y_pred)
        y_true, y_pred = _match_rank(_as_float(y_true, y_pred.dtype), y_pred, self.name)
        return tg.reduce_mean(tg.abs(y_pred - y_true), axis=-1)


class Huber(Loss):
    """Quadratic within ``delta`` of the target, linear beyond; mean over the last axis."""

    def __init__(self, delta=1.0, reduction="sum_over_batch_size", name="huber_loss"):
        super().__init__(reduction, name)
        self.delta = float(delta)
        if not self.delta > 0:
            raise ValueError(f"Huber: delta must be > 0, got {delta}")

    def per_example(self, y_true, y_pred):
        y_pred = _as_float(y_pred)
        y_true, y_pred = _match_rank(_as_float(y_true, y_pred.dtype), y_pred, self.name)
        err = tg.abs(y_pred - y_true)
        quad = tg.minimum(err, self.delta)
        return tg.reduce_mean(0.5 * tg.square(quad) + self.delta * (err - quad), axis=-1)


_BY_NAME = {
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
    "categorical_crossentropy": CategoricalCrossentropy,
    "binary_crossentropy": BinaryCrossentropy,
    "mean_squared_error": MeanSquaredError,
    "mse": MeanSquaredError,
    "mean_absolute_error": MeanAbsoluteError,
    "mae": MeanAbsoluteError,
    "huber": Huber,
    "huber_loss": Huber,
}


def get(identifier):
    """A loss callable ``(y_true, y_pred, sample_weight=None) -> scalar`` for ``identifier``.

    Accepts a Keras name (``"mse"``, ``"sparse_categorical_crossentropy"``, ...), a
    :class:`Loss`, a Loss class, or any callable ``(y_true, y_pred)``.
    """
    if isinstance(identifier, str):
        cls = _BY_NAME.get(identifier.lower())
        if cls is None:
            raise ValueError(
                f"unknown loss {identifier!r}; expected one of {sorted(_BY_NAME)} or a callable"
            )
        return cls()
    if isinstance(identifier, type) and issubclass(identifier, Loss):
        return identifier()
    if isinstance(identifier, Loss):
        return identifier
    if callable(identifier):
        return LossFunctionWrapper(identifier)
    raise TypeError(f"loss must be a name, a Loss or a callable, got {identifier!r}")
