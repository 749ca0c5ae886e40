"""Callbacks that watch a logged quantity: ModelCheckpoint, EarlyStopping, ReduceLROnPlateau."""

import math
import os
import warnings

from tapegrad.callbacks.base import Callback
from tapegrad.callbacks.schedule import _optimizer, get_learning_rate, set_learning_rate

__all__ = ["ModelCheckpoint", "EarlyStopping", "ReduceLROnPlateau"]


class _Monitor:
    """``monitor``'s direction ("min"/"max"/"auto": max for accuracies) and comparisons."""

    def __init__(self, where, monitor, mode):
        if mode not in ("auto", "min", "max"):
            warnings.warn(f"{where}: mode {mode!r} is unknown, falling back to 'auto'")
            mode = "auto"
        if mode == "auto":
            name = monitor.lower()
            mode = "max" if ("acc" in name or name.endswith("auc")
                             or name.startswith("fmeasure")) else "min"
        self.where = where
        self.monitor = monitor
        self.mode = mode

    def initial(self):
        return math.inf if self.mode == "min" else -math.inf

    def better(self, current, reference, min_delta=0.0):
        """``current`` improves on ``reference`` by more than ``min_delta``."""
        if self.mode == "min":
            return current + min_delta < reference
        return current - min_delta > reference

    def read(self, logs):
        value = (logs or {}).get(self.monitor)
        if value is None:
            warnings.warn(
                f"{self.where}: the monitored quantity {self.monitor!r} is not in the logs "
                f"(available: {sorted(logs or {})}); skipping"
            )
            return None
        return float(value)


class ModelCheckpoint(Callback):
    """Saves the model after every epoch (or every ``save_freq`` batches).

    ``filepath`` may hold ``str.format`` fields filled from the epoch (from 1) and the
    logs: ``"ckpt/weights-{epoch:02d}-{val_loss:.3f}"``.  ``save_weights_only=True``
    writes ``model.save_weights(filepath)``; otherwise a ``tg.train.Checkpoint`` of the
    model and its optimizer, so training can resume with the optimizer's state, or for a
    path ending in ``.keras`` ``model.save(filepath)`` (``tg.models.load_model`` reads it).
    With ``save_best_only=True`` a save happens only when ``monitor`` improves on the
    best value seen so far (direction from ``mode``).  Files appear atomically.
    """

    def __init__(self, filepath, monitor="val_loss", verbose=0, save_best_only=False,
                 save_weights_only=False, mode="auto", save_freq="epoch",
                 initial_value_threshold=None):
        super().__init__()
        self.filepath = os.fspath(filepath)
        self.verbose = verbose
        self.save_best_only = bool(save_best_only)
        self.save_weights_only = bool(save_weights_only)
        if save_freq != "epoch" and (isinstance(save_freq, bool)
                                     or not isinstance(save_freq, int) or save_freq <= 0):
            raise ValueError(
                f"ModelCheckpoint: save_freq must be 'epoch' or a positive int, got {save_freq!r}"
            )
        self.save_freq = save_freq
        self._monitor = _Monitor("ModelCheckpoint", monitor, mode)
        self.monitor = monitor
        self.best = (self._monitor.initial() if initial_value_threshold is None
                     else float(initial_value_threshold))
        self._batches_seen = 0
        self._epoch = 0
        self.saved = []

    def on_train_begin(self, logs=None):
        self._batches_seen = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.save_freq == "epoch":
            return
        self._batches_seen += 1
        if self._batches_seen % self.save_freq == 0:
            self._save(self._epoch, dict(logs or {}, batch=batch))

    def on_epoch_end(self, epoch, logs=None):
        if self.save_freq == "epoch":
            self._save(epoch, logs)

    def _path(self, epoch, logs):
        try:
            return self.filepath.format(epoch=epoch + 1, **(logs or {}))
        except KeyError as exc:
            raise KeyError(
                f"ModelCheckpoint: filepath {self.filepath!r} names {exc.args[0]!r}, which is "
                f"not in the logs (available: {sorted(logs or {})})"
            ) from None

    def _save(self, epoch, logs):
        path = self._path(epoch, logs)
        if self.save_best_only:
            current = self._monitor.read(logs)
            if current is None:
                return
            if not self._monitor.better(current, self.best):
                if self.verbose:
                    print(f"\nEpoch {epoch + 1}: {self.monitor} did not improve from "
                          f"{self.best:.5f}")
                return
            if self.verbose:
                print(f"\nEpoch {epoch + 1}: {self.monitor} improved from {self.best:.5f} to "
                      f"{current:.5f}, saving model to {path}")
            self.best = current
        elif self.verbose:
            print(f"\nEpoch {epoch + 1}: saving model to {path}")
        if self.save_weights_only:
            self.model.save_weights(path)
        elif path.endswith(".keras"):
            self.model.save(path)  # Keras 3's convention: a .keras path is a whole model
        else:
            self.model._save_training_state(path)
        self.saved.append(path)


class EarlyStopping(Callback):
    """Stops training when ``monitor`` has not improved by more than ``min_delta`` for
    ``patience`` epochs.

    ``baseline``: training also stops if the value does not beat it within ``patience``
    epochs.  ``restore_best_weights=True`` puts back the weights of the best epoch when
    stopping (and, as in Keras, only then).  ``start_from_epoch`` epochs of warm-up are
    not counted.  After training, ``stopped_epoch`` is the epoch (from 0) it stopped at,
    or 0, and ``best_epoch`` the best one.
    """

    def __init__(self, monitor="val_loss", min_delta=0, patience=0, verbose=0, mode="auto",
                 baseline=None, restore_best_weights=False, start_from_epoch=0):
        super().__init__()
        self.monitor = monitor
        self._monitor = _Monitor("EarlyStopping", monitor, mode)
        self.min_delta = abs(float(min_delta))
        if isinstance(patience, bool) or not isinstance(patience, int) or patience < 0:
            raise ValueError(f"EarlyStopping: patience must be an int >= 0, got {patience!r}")
        self.patience = patience
        self.verbose = verbose
        self.baseline = None if baseline is None else float(baseline)
        self.restore_best_weights = bool(restore_best_weights)
        self.start_from_epoch = int(start_from_epoch)

    def on_train_begin(self, logs=None):
        self.wait = 0
        self.stopped_epoch = 0
        self.best = self._monitor.initial()
        self.best_weights = None
        self.best_epoch = 0

    def on_epoch_end(self, epoch, logs=None):
        current = self._monitor.read(logs)
        if current is None or epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            # The first epoch's weights, in case no epoch ever improves.
            self.best_weights = self.model.get_weights()
        self.wait += 1
        if self._monitor.better(current, self.best, self.min_delta):
            self.best = current
            self.best_epoch = epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            if self.baseline is None or self._monitor.better(current, self.baseline,
                                                             self.min_delta):
                self.wait = 0
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True
            if self.restore_best_weights and self.best_weights is not None:
                if self.verbose:
                    print(f"Restoring model weights from the end of the best epoch: "
                          f"{self.best_epoch + 1}.")
                self.model.set_weights(self.best_weights)

    def on_train_end(self, logs=None):
        if self.stopped_epoch > 0 and self.verbose:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping")


class ReduceLROnPlateau(Callback):
    """Multiplies the learning rate by ``factor`` when ``monitor`` has not improved by
    more than ``min_delta`` for ``patience`` epochs, then waits ``cooldown`` epochs;
    never below ``min_lr``.  The rate is logged as ``logs["lr"]``."""

    def __init__(self, monitor="val_loss", factor=0.1, patience=10, verbose=0, mode="auto",
                 min_delta=1e-4, cooldown=0, min_lr=0.0):
        super().__init__()
        factor = float(factor)
        if not 0.0 <= factor < 1.0:
            raise ValueError(f"ReduceLROnPlateau: factor must be in [0, 1), got {factor}")
        self.monitor = monitor
        self._monitor = _Monitor("ReduceLROnPlateau", monitor, mode)
        self.factor = factor
        self.patience = int(patience)
        self.verbose = verbose
        self.min_delta = abs(float(min_delta))
        self.cooldown = int(cooldown)
        self.min_lr = float(min_lr)
        self._reset()

    def _reset(self):
        self.best = self._monitor.initial()
        self.wait = 0
        self.cooldown_counter = 0

    def on_train_begin(self, logs=None):
        self._reset()

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        optimizer = _optimizer(self.model, "ReduceLROnPlateau")
        logs["lr"] = get_learning_rate(optimizer)
        current = self._monitor.read(logs)
        if current is None:
            return
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.wait = 0
        if self._monitor.better(current, self.best, self.min_delta):
            self.best = current
            self.wait = 0
        elif self.cooldown_counter <= 0:
            self.wait += 1
            if self.wait >= self.patience:
                old = get_learning_rate(optimizer)
                if old > self.min_lr:
                    new = max(old * self.factor, self.min_lr)
                    set_learning_rate(optimizer, new)
                    if self.verbose:
                        print(f"\nEpoch {epoch + 1}: ReduceLROnPlateau reducing learning "
                              f"rate to {new}.")
                    self.cooldown_counter = self.cooldown
                    self.wait = 0
