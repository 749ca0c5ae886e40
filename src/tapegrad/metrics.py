"""Stateful metrics (the guide's ``tfe.metrics``).

A metric accumulates over calls: ``m(values)`` (or ``m.update_state(values)``) adds a
batch, ``m.result()`` returns the value so far as a Tensor, ``m.reset_states()`` starts
over.  The state lives in non-trainable ``tg.Variable``\\ s, so a ``tg.train.Checkpoint``
that holds a metric saves and restores its running totals.

    m = tg.metrics.Mean("loss")
    m(0); m(5); m.result()   # 2.5
    m([8, 9]); m.result()    # 5.5
"""

import numpy as np

import tapegrad as tg
from tapegrad import tracking
from tapegrad.layers.base import _to_snake_case

__all__ = [
    "Metric",
    "Mean",
    "Sum",
    "Accuracy",
    "SparseCategoricalAccuracy",
    "CategoricalAccuracy",
]


def _host(value, where, what):
    """A NumPy view (CPU tensors) or copy (GPU tensors, Python values) of ``value``."""
    if isinstance(value, (tg.Tensor, tg.Variable)):
        return value.numpy()
    try:
        return np.asarray(value)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{where}: {what} must be numeric, got {value!r}") from exc


def _check_numeric(arr, where, what):
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{where}: {what} must be numeric, got dtype {arr.dtype}")
    return arr


def _broadcast_weights(weights, shape, where):
    weights = _check_numeric(_host(weights, where, "weights"), where, "weights")
    try:
        return np.broadcast_to(weights, shape)
    except ValueError:
        raise ValueError(
            f"{where}: weights of shape {weights.shape} cannot be broadcast to the values' "
            f"shape {shape}"
        ) from None


class Metric(tracking.Trackable):
    """Base class: subclasses create state with ``add_weight`` and define
    ``update_state(...)`` and ``result()``.  Calling the metric updates it and returns
    ``result()``."""

    def __init__(self, name=None, dtype=None):
        if name is None:
            name = _to_snake_case(type(self).__name__)
        if not isinstance(name, str) or not name:
            raise TypeError(f"{type(self).__name__}: name must be a non-empty str, got {name!r}")
        self.__dict__["_name"] = name
        self.__dict__["_dtype"] = np.dtype(tg.float64 if dtype is None else dtype)
        if self._dtype.kind != "f":
            raise TypeError(
                f"{type(self).__name__}: dtype must be floating, got {self._dtype}"
            )
        self.__dict__["_metric_variables"] = []

    @property
    def name(self):
        return self._name

    @property
    def dtype(self):
        return self._dtype

    @property
    def variables(self):
        return list(self._metric_variables)

    def add_weight(self, name, shape=(), dtype=None):
        """A zero-initialized, non-trainable state variable named ``"<metric>/<name>"``."""
        dtype = self._dtype if dtype is None else np.dtype(dtype)
        variable = tg.Variable(np.zeros(shape, dtype=dtype), trainable=False,
                               name=f"{self._name}/{name}", dtype=dtype)
        self._metric_variables.append(variable)
        tracking.variable_created(self, name, variable)
        return variable

    def update_state(self, *args, **kwargs):
        raise TypeError(f"{type(self).__name__} does not define update_state")

    def result(self):
        raise TypeError(f"{type(self).__name__} does not define result")

    def __call__(self, *args, **kwargs):
        self.update_state(*args, **kwargs)
        return self.result()

    def reset_states(self):
        """Set every state variable back to zero."""
        for variable in self._metric_variables:
            variable.assign(np.zeros(variable.shape, dtype=variable.dtype))

    reset_state = reset_states

    def _add_to(self, variable, amount):
        variable.assign_add(np.asarray(amount, dtype=variable.dtype))

    def __repr__(self):
        return f"<{type(self).__name__} name={self._name!r} result={float(self.result()):g}>"


class Sum(Metric):
    """Running (weighted) sum of every value passed in."""

    def __init__(self, name="sum", dtype=None):
        super().__init__(name, dtype)
        self.total = self.add_weight("total")

    def update_state(self, values, weights=None):
        where = f"{type(self).__name__}.update_state"
        values = _check_numeric(_host(values, where, "values"), where, "values")
        if weights is not None:
            values = values * _broadcast_weights(weights, values.shape, where)
        self._add_to(self.total, np.sum(values, dtype=self._dtype))

    def result(self):
        return tg.constant(self.total.numpy().copy())


class Mean(Metric):
    """Running (weighted) mean of every value passed in; 0 before any value."""

    def __init__(self, name="mean", dtype=None):
        super().__init__(name, dtype)
        self.total = self.add_weight("total")
        self.count = self.add_weight("count")

    def _accumulate(self, values, weights, where):
        values = np.asarray(values, dtype=self._dtype)
        if weights is None:
            self._add_to(self.total, np.sum(values, dtype=self._dtype))
            self._add_to(self.count, values.size)
        else:
            weights = _broadcast_weights(weights, values.shape, where).astype(self._dtype)
            self._add_to(self.total, np.sum(values * weights, dtype=self._dtype))
            self._add_to(self.count, np.sum(weights, dtype=self._dtype))

    def update_state(self, values, weights=None):
        where = f"{type(self).__name__}.update_state"
        values = _check_numeric(_host(values, where, "values"), where, "values")
        self._accumulate(values, weights, where)

    def result(self):
        total = self.total.numpy()
        count = self.count.numpy()
        value = total / count if count != 0 else np.zeros_like(total)
        return tg.constant(np.asarray(value, dtype=self._dtype))


def _labels_and_predictions(metric, labels, predictions):
    """Both as checked numeric host arrays, with the name their errors carry."""
    where = f"{type(metric).__name__}.update_state"
    labels = _check_numeric(_host(labels, where, "labels"), where, "labels")
    predictions = _check_numeric(_host(predictions, where, "predictions"), where,
                                 "predictions")
    return where, labels, predictions


class Accuracy(Mean):
    """Fraction of positions where ``labels == predictions`` (both class ids)."""

    def __init__(self, name="accuracy", dtype=None):
        super().__init__(name, dtype)

    def update_state(self, labels, predictions, weights=None):
        where, labels, predictions = _labels_and_predictions(self, labels, predictions)
        if labels.shape != predictions.shape:
            raise ValueError(
                f"{where}: labels shape {labels.shape} must equal predictions shape "
                f"{predictions.shape}"
            )
        self._accumulate(labels == predictions, weights, where)


class SparseCategoricalAccuracy(Mean):
    """Fraction of examples whose highest-scoring class equals the integer label.

    ``labels`` has shape ``[...]`` (or ``[..., 1]``), ``predictions`` (logits or
    probabilities) ``[..., classes]``.
    """

    def __init__(self, name="sparse_categorical_accuracy", dtype=None):
        super().__init__(name, dtype)

    def update_state(self, labels, predictions, weights=None):
        where, labels, predictions = _labels_and_predictions(self, labels, predictions)
        if predictions.ndim < 1:
            raise ValueError(f"{where}: predictions need a class axis, got a scalar")
        if labels.ndim == predictions.ndim and labels.shape[-1:] == (1,):
            labels = labels[..., 0]
        if labels.shape != predictions.shape[:-1]:
            raise ValueError(
                f"{where}: labels shape {labels.shape} must equal predictions shape "
                f"{predictions.shape} without its last (class) axis"
            )
        self._accumulate(np.argmax(predictions, axis=-1) == labels, weights, where)


class CategoricalAccuracy(Mean):
    """Fraction of examples whose highest-scoring class is the one-hot label's class."""

    def __init__(self, name="categorical_accuracy", dtype=None):
        super().__init__(name, dtype)

    def update_state(self, labels, predictions, weights=None):
        where, labels, predictions = _labels_and_predictions(self, labels, predictions)
        if labels.shape != predictions.shape or predictions.ndim < 1:
            raise ValueError(
                f"{where}: labels shape {labels.shape} must equal predictions shape "
                f"{predictions.shape} (with a class axis)"
            )
        matches = np.argmax(labels, axis=-1) == np.argmax(predictions, axis=-1)
        self._accumulate(matches, weights, where)
