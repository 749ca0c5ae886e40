"""LearningRateScheduler, and the two helpers every learning-rate callback goes through.

An optimizer's ``learning_rate`` may be a number, a ``tg.Variable`` (read at every
step) or a zero-argument schedule.  ``get_learning_rate`` reads whichever it is as a
float; ``set_learning_rate`` assigns into a Variable in place (so anything holding the
Variable sees the new value) and otherwise sets the ``learning_rate`` attribute.
"""

import inspect

import numpy as np

from tapegrad.callbacks.base import Callback

__all__ = ["LearningRateScheduler", "get_learning_rate", "set_learning_rate"]


def _optimizer(model, where):
    optimizer = getattr(model, "optimizer", None)
    if optimizer is None or not hasattr(optimizer, "learning_rate"):
        raise ValueError(f"{where}: the model has no optimizer with a learning_rate; "
                         "call model.compile(optimizer=...) first")
    return optimizer


def get_learning_rate(optimizer):
    """The optimizer's current learning rate as a float."""
    import tapegrad as tg

    lr = optimizer.learning_rate
    if isinstance(lr, (tg.Variable, tg.Tensor)):
        return float(lr.numpy())
    if callable(lr):
        lr = lr()
    return float(np.asarray(lr))


def set_learning_rate(optimizer, value):
    """Set the optimizer's learning rate to ``value`` (a Variable is assigned in place)."""
    import tapegrad as tg

    value = float(value)
    if not np.isfinite(value) or value < 0:
        raise ValueError(f"set_learning_rate: the learning rate must be finite and >= 0, "
                         f"got {value}")
    current = optimizer.learning_rate
    if isinstance(current, tg.Variable):
        current.assign(np.asarray(value, dtype=current.dtype))
    else:
        optimizer.learning_rate = value


class LearningRateScheduler(Callback):
    """Sets the learning rate at the start of each epoch to ``schedule(epoch, lr)``.

    ``schedule`` may also take only the epoch (index from 0).  The rate used is logged
    as ``logs["lr"]`` at the end of the epoch.
    """

    def __init__(self, schedule, verbose=0):
        super().__init__()
        if not callable(schedule):
            raise TypeError(f"LearningRateScheduler: schedule must be callable, got {schedule!r}")
        self.schedule = schedule
        self.verbose = verbose
        try:
            params = inspect.signature(schedule).parameters
            self._two_args = len(params) >= 2 or any(
                p.kind is inspect.Parameter.VAR_POSITIONAL for p in params.values())
        except (TypeError, ValueError):
            self._two_args = True

    def on_epoch_begin(self, epoch, logs=None):
        optimizer = _optimizer(self.model, "LearningRateScheduler")
        if self._two_args:
            lr = self.schedule(epoch, get_learning_rate(optimizer))
        else:
            lr = self.schedule(epoch)
        try:
            lr = float(np.asarray(lr))
        except (TypeError, ValueError):
            raise TypeError(
                f"LearningRateScheduler: the schedule must return a number, got {lr!r}"
            ) from None
        set_learning_rate(optimizer, lr)
        if self.verbose:
            print(f"\nEpoch {epoch + 1}: LearningRateScheduler setting learning rate to {lr}.")

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["lr"] = get_learning_rate(_optimizer(self.model, "LearningRateScheduler"))
