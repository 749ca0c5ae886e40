"""What ``Model.compile`` accepts: optimizer, loss and metric names, and their containers.

The loss container turns ``(y_true, y_pred, sample_weight)`` into the scalar the step
differentiates (one loss per output, weighted by ``loss_weights``, plus the model's
regularization losses).  The metric container resolves names such as ``"accuracy"``
on the first batch, when the shapes of the targets and outputs are known (Keras picks
binary, categorical or sparse categorical accuracy from them), and updates the metrics
on the host.
"""

import numpy as np

import tapegrad as tg
from tapegrad import metrics as metrics_module
from tapegrad.training import losses as losses_module

__all__ = ["get_optimizer", "LossesContainer", "MetricsContainer", "BinaryAccuracy",
           "MeanMetricWrapper"]


def _optimizer_classes():
    from tapegrad import optimizers

    table = {
        "sgd": optimizers.SGD,
        "gradientdescent": optimizers.SGD,
        "momentum": optimizers.Momentum,
        "adam": optimizers.Adam,
        "rmsprop": optimizers.RMSProp,
        "adagrad": optimizers.Adagrad,
    }
    for name in ("AdamW", "Nadam", "Adamax", "Ftrl", "Adadelta"):
        cls = getattr(optimizers, name, None)
        if cls is not None:
            table[name.lower()] = cls
    return table


def get_optimizer(identifier):
    """An optimizer for ``identifier``: an Optimizer, or a Keras name (``"adam"``)."""
    from tapegrad.optimizers import Optimizer

    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, str):
        table = _optimizer_classes()
        cls = table.get(identifier.lower())
        if cls is None:
            raise ValueError(f"compile: unknown optimizer {identifier!r}; expected one of "
                             f"{sorted(table)} or an optimizer object")
        # Keras' default step sizes: 0.01 for SGD, 0.001 for the adaptive ones.
        return cls()
    raise TypeError(f"compile: optimizer must be a name or a tapegrad optimizer, got "
                    f"{identifier!r}")


# ---------------------------------------------------------------------- extra metrics


class BinaryAccuracy(metrics_module.Mean):
    """Fraction of predictions on the same side of ``threshold`` as the 0/1 labels."""

    def __init__(self, name="binary_accuracy", dtype=None, threshold=0.5):
        super().__init__(name, dtype)
        self.threshold = float(threshold)

    def get_config(self):
        config = {"name": self.name, "threshold": self.threshold}
        if self.dtype != np.float64:
            config["dtype"] = self.dtype.name
        return config

    def update_state(self, labels, predictions, weights=None):
        labels = np.asarray(_host(labels))
        predictions = np.asarray(_host(predictions))
        if labels.shape != predictions.shape:
            if labels.shape + (1,) == predictions.shape:
                labels = labels[..., None]
            elif predictions.shape + (1,) == labels.shape:
                labels = labels[..., 0]
            else:
                raise ValueError(f"{self.name}: labels shape {labels.shape} does not match "
                                 f"predictions shape {predictions.shape}")
        matches = (predictions > self.threshold) == (labels > 0.5)
        if weights is not None and matches.ndim > 1:
            matches = matches.reshape(len(matches), -1).mean(axis=1)
        self._accumulate(matches, weights, f"{self.name}.update_state")


class MeanMetricWrapper(metrics_module.Mean):
    """The running mean of ``fn(y_true, y_pred)`` per example (a loss used as a metric)."""

    def __init__(self, fn, name, dtype=None):
        super().__init__(name, dtype)
        self._fn = fn

    def update_state(self, labels, predictions, weights=None):
        values = _host(self._fn(labels, predictions))
        self._accumulate(np.asarray(values), weights, f"{self.name}.update_state")


def _host(value):
    if isinstance(value, (tg.Tensor, tg.Variable)):
        return value.numpy()
    return value


def _loss_metric(cls):
    def per_example(y_true, y_pred):
        return cls(reduction="none")(y_true, y_pred)

    return per_example


_METRICS = {
    "sparse_categorical_accuracy": metrics_module.SparseCategoricalAccuracy,
    "categorical_accuracy": metrics_module.CategoricalAccuracy,
    "binary_accuracy": BinaryAccuracy,
}
_LOSS_METRICS = {
    "mse": ("mean_squared_error", losses_module.MeanSquaredError),
    "mean_squared_error": ("mean_squared_error", losses_module.MeanSquaredError),
    "mae": ("mean_absolute_error", losses_module.MeanAbsoluteError),
    "mean_absolute_error": ("mean_absolute_error", losses_module.MeanAbsoluteError),
    "sparse_categorical_crossentropy": ("sparse_categorical_crossentropy",
                                        losses_module.SparseCategoricalCrossentropy),
    "categorical_crossentropy": ("categorical_crossentropy",
                                 losses_module.CategoricalCrossentropy),
    "binary_crossentropy": ("binary_crossentropy", losses_module.BinaryCrossentropy),
}


def _resolve_metric(identifier, y_true, y_pred, loss):
    """A Metric for ``identifier`` (a name, a Metric, or a function ``(y_true, y_pred)``)."""
    if isinstance(identifier, metrics_module.Metric):
        return identifier
    if isinstance(identifier, str):
        key = identifier.lower()
        if key in ("accuracy", "acc"):
            true_shape, pred_shape = tuple(np.shape(y_true)), tuple(y_pred.shape)
            if pred_shape[-1:] == (1,) or isinstance(loss, losses_module.BinaryCrossentropy):
                cls = BinaryAccuracy
            elif len(true_shape) == len(pred_shape) and true_shape[-1:] == pred_shape[-1:]:
                cls = metrics_module.CategoricalAccuracy
            else:
                cls = metrics_module.SparseCategoricalAccuracy
            return cls(name=identifier)
        if key in _METRICS:
            return _METRICS[key](name=identifier)
        if key in _LOSS_METRICS:
            _, cls = _LOSS_METRICS[key]
            return MeanMetricWrapper(_loss_metric(cls), name=identifier)
        raise ValueError(f"compile: unknown metric {identifier!r}; expected one of "
                         f"{sorted(['accuracy'] + list(_METRICS) + list(_LOSS_METRICS))}, "
                         "a tg.metrics.Metric or a function")
    if callable(identifier):
        return MeanMetricWrapper(identifier, name=getattr(identifier, "__name__", "metric"))
    raise TypeError(f"compile: a metric must be a name, a Metric or a function, got "
                    f"{identifier!r}")


# ---------------------------------------------------------------------- containers


def _per_output(value, names, what):
    """``value`` spread over the outputs: one per output (list or dict) or the same for all."""
    if isinstance(value, dict):
        unknown = sorted(set(value) - set(names))
        if unknown:
            raise ValueError(f"compile: {what} names unknown outputs {unknown}; outputs are "
                             f"{names}")
        return [value.get(name) for name in names]
    if isinstance(value, (list, tuple)) and len(names) > 1:
        if len(value) != len(names):
            raise ValueError(f"compile: {what} has {len(value)} entries for {len(names)} "
                             "outputs")
        return list(value)
    return [value] * len(names)


def as_list(value):
    if isinstance(value, (list, tuple)):
        return list(value)
    if isinstance(value, dict):
        return [value[k] for k in value]
    return [value]


class LossesContainer:
    """Computes the total loss of a batch; remembers the running mean for the logs."""

    def __init__(self, loss, loss_weights, output_names):
        self.output_names = list(output_names)
        losses = _per_output(loss, self.output_names, "loss")
        self.losses = [None if item is None else losses_module.get(item) for item in losses]
        if all(item is None for item in self.losses):
            raise ValueError("compile: loss must be given to train the model")
        if loss_weights is None:
            self.weights = [1.0] * len(self.output_names)
        else:
            weights = _per_output(loss_weights, self.output_names, "loss_weights")
            self.weights = [1.0 if w is None else float(w) for w in weights]

    def __call__(self, y_true, y_pred, sample_weight, regularization_losses=()):
        """The scalar to minimize, and the per-output losses (tensors)."""
        trues = _targets(y_true, self.output_names)
        preds = as_list(y_pred)
        if len(preds) != len(self.output_names):
            raise ValueError(f"the model returned {len(preds)} outputs, compile expected "
                             f"{len(self.output_names)}")
        weights = _targets(sample_weight, self.output_names) if sample_weight is not None \
            else [None] * len(preds)
        total = None
        per_output = []
        for loss, weight, t, p, w in zip(self.losses, self.weights, trues, preds, weights):
            if loss is None:
                per_output.append(None)
                continue
            if t is None:
                raise ValueError("fit: targets (y) are needed to compute the loss")
            value = loss(t, p, w) if w is not None else loss(t, p)
            per_output.append(value)
            term = value * weight if weight != 1.0 else value
            total = term if total is None else total + term
        for extra in regularization_losses:
            total = extra if total is None else total + extra
        return total, per_output


def _targets(y, names):
    if y is None:
        return [None] * len(names)
    if isinstance(y, dict):
        return [y.get(name) for name in names]
    if len(names) == 1:
        return [y]
    if isinstance(y, (list, tuple)):
        return list(y)
    return [y] * len(names)


class MetricsContainer:
    """The compiled metrics of each output; built on the first batch."""

    def __init__(self, metrics, output_names, losses):
        self.output_names = list(output_names)
        self._spec = _per_output(metrics, self.output_names, "metrics") \
            if metrics is not None else [None] * len(self.output_names)
        self._losses = losses
        self.metrics = None  # [(output index, log name, Metric)]

    def build(self, y_true, y_pred):
        trues = _targets(y_true, self.output_names)
        preds = as_list(y_pred)
        built = []
        multi = len(self.output_names) > 1
        for i, spec in enumerate(self._spec):
            if spec is None:
                continue
            for identifier in (spec if isinstance(spec, (list, tuple)) else [spec]):
                metric = _resolve_metric(identifier, trues[i], preds[i], self._losses[i])
                name = metric.name
                if multi:
                    name = f"{self.output_names[i]}_{name}"
                built.append((i, name, metric))
        self.metrics = built

    def update(self, y_true, y_pred, sample_weight):
        if self.metrics is None:
            self.build(y_true, y_pred)
        if not self.metrics:
            return
        trues = _targets(y_true, self.output_names)
        preds = as_list(y_pred)
        weights = _targets(sample_weight, self.output_names) if sample_weight is not None \
            else None
        for i, _, metric in self.metrics:
            if weights is not None and weights[i] is not None:
                metric.update_state(trues[i], preds[i], weights[i])
            else:
                metric.update_state(trues[i], preds[i])

    def reset(self):
        for _, _, metric in self.metrics or ():
            metric.reset_states()

    def results(self):
        return {name: float(np.asarray(metric.result().numpy()))
                for _, name, metric in self.metrics or ()}
