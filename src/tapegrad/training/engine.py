"""``compile``/``fit``/``evaluate``/``predict`` and weight saving, mixed into ``tg.Model``.

The training step is built in exactly one place, :meth:`TrainingMixin.make_train_function`;
compiling it into a graph function (``tg.function``) belongs there, with
``run_eagerly=True`` keeping it eager.  Everything else in the loop (batching, metrics,
logs, callbacks) runs on the host between steps and costs a few tens of microseconds
per batch.

Ctrl-C during ``fit`` does not tear a step in half: a SIGINT handler (installed only
while ``fit`` runs, in the main thread) sets a flag that the loop reads after each
batch, so training stops with the weights of the last completed step, calls
``on_train_end`` and returns the History so far (``history.interrupted`` is True).
A second Ctrl-C raises ``KeyboardInterrupt`` at once, as usual.
"""

import os
import signal
import threading

import numpy as np

import tapegrad as tg
from tapegrad.callbacks import CallbackList, History, ProgbarLogger
from tapegrad.ops.indexed_slices import sparse_gradients
from tapegrad.training import compile_utils, data_adapter

__all__ = ["TrainingMixin"]


class _Interrupt:
    """Turns the first SIGINT into a flag the training loop reads after each batch."""

    def __init__(self):
        self.requested = False
        self._previous = None

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            try:
                self._previous = signal.signal(signal.SIGINT, self._handle)
            except ValueError:  # not allowed here (embedded interpreters)
                self._previous = None
        return self

    def _handle(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def __exit__(self, *exc):
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
        return False


def _to_tensors(value, dtype):
    """Host batches as tensors; floating arrays in the model's dtype."""
    if value is None:
        return None
    if isinstance(value, (list, tuple)):
        return type(value)(_to_tensors(v, dtype) for v in value)
    if isinstance(value, dict):
        return {k: _to_tensors(v, dtype) for k, v in value.items()}
    if isinstance(value, (tg.Tensor, tg.Variable)):
        return value
    arr = np.asarray(value)
    if arr.dtype.kind == "f" and dtype.kind == "f" and arr.dtype != dtype:
        arr = arr.astype(dtype)
    return tg.convert_to_tensor(arr)


def _batch_size_of(x):
    while isinstance(x, (list, tuple, dict)):
        x = next(iter(x.values())) if isinstance(x, dict) else x[0]
    shape = getattr(x, "shape", None)
    return int(shape[0]) if shape is not None and len(shape) else 1


def _numpy_outputs(outputs):
    if isinstance(outputs, (list, tuple)):
        return [np.array(o.numpy()) for o in outputs]
    if isinstance(outputs, dict):
        return {k: np.array(v.numpy()) for k, v in outputs.items()}
    return np.array(outputs.numpy())


def _concat_outputs(chunks):
    first = chunks[0]
    if isinstance(first, list):
        return [np.concatenate([c[i] for c in chunks]) for i in range(len(first))]
    if isinstance(first, dict):
        return {k: np.concatenate([c[k] for c in chunks]) for k in first}
    return np.concatenate(chunks)


class _Mean:
    """A running mean weighted by batch size, in Python floats (the loss in the logs)."""

    __slots__ = ("total", "count")

    def __init__(self):
        self.total = 0.0
        self.count = 0

    def add(self, value, n):
        self.total += value * n
        self.count += n

    def result(self):
        return self.total / self.count if self.count else 0.0


class TrainingMixin:
    """Keras' training API for ``tg.Model`` (and so ``tg.Sequential``)."""

    # ------------------------------------------------------------------ compile

    def compile(self, optimizer="rmsprop", loss=None, metrics=None, loss_weights=None,
                run_eagerly=None, weighted_metrics=None, **kwargs):
        """Configure training: ``model.compile("adam", "sparse_categorical_crossentropy",
        metrics=["accuracy"])``.

        ``optimizer``: an optimizer or a Keras name (``"adam"``, ``"sgd"``,
        ``"rmsprop"``, ``"adagrad"``...).  ``loss``: a name, a ``tg.losses`` Keras
        loss object, or a function ``(y_true, y_pred)``; for several outputs a list or
        a dict by output name (or one loss for every output).  ``metrics``: names
        (``"accuracy"`` picks binary/categorical/sparse accuracy from the shapes),
        ``tg.metrics`` objects or functions; per output as a list of lists or a dict.
        ``loss_weights`` scale each output's loss.  ``run_eagerly`` is recorded for
        when the step is compiled into a graph function; the step is eager today.
        """
        if kwargs:
            raise TypeError(f"compile: unexpected keyword argument(s) {sorted(kwargs)}")
        if weighted_metrics is not None:
            metrics = list(compile_utils.as_list(metrics or [])) + list(
                compile_utils.as_list(weighted_metrics))
        names = self._compile_output_names(loss)
        d = self.__dict__
        d["_optimizer"] = compile_utils.get_optimizer(optimizer)
        d["compiled_loss"] = None if loss is None else compile_utils.LossesContainer(
            loss, loss_weights, names)
        d["compiled_metrics"] = compile_utils.MetricsContainer(
            metrics, names,
            d["compiled_loss"].losses if loss is not None else [None] * len(names))
        d["run_eagerly"] = run_eagerly
        # as given, for model.save's compile config (tapegrad/saving/compile_config.py)
        d["_compile_args"] = {"loss": loss, "metrics": metrics, "loss_weights": loss_weights,
                              "run_eagerly": run_eagerly}
        d["stop_training"] = False
        d["_train_function"] = None
        d["_is_compiled"] = True

    @property
    def optimizer(self):
        """The optimizer given to ``compile`` (None before).  Not part of
        ``save_weights``' file; ModelCheckpoint without ``save_weights_only`` saves it."""
        return self.__dict__.get("_optimizer")

    @optimizer.setter
    def optimizer(self, value):
        self.__dict__["_optimizer"] = compile_utils.get_optimizer(value)

    def _compile_output_names(self, loss):
        names = getattr(self, "output_names", None)
        if names:
            return list(names)
        if isinstance(loss, dict):
            return list(loss)
        if isinstance(loss, (list, tuple)) and len(loss) > 1:
            return [f"output_{i + 1}" for i in range(len(loss))]
        return ["output_1"]

    def _check_compiled(self, where):
        if not self.__dict__.get("_is_compiled"):
            raise RuntimeError(f"{where}: the model must be compiled first: call "
                               "model.compile(optimizer, loss, metrics)")
        # compiled without a loss: the losses the model adds (add_loss) are the loss;
        # _compute_loss raises when there are none

    @property
    def metrics_names(self):
        """``["loss", <metric log names>...]`` (metrics appear after the first batch)."""
        container = self.__dict__.get("compiled_metrics")
        names = ["loss"]
        if container is not None and container.metrics:
            names += [name for _, name, _ in container.metrics]
        return names

    def _regularization_losses(self):
        losses = getattr(self, "losses", None)
        return list(losses) if losses else ()

    def _compute_loss(self, y, y_pred, sample_weight):
        """The compiled loss plus ``model.losses`` (regularizers, ``add_loss``); with no
        compiled loss, those losses alone."""
        extra = self._regularization_losses()
        if self.compiled_loss is not None:
            return self.compiled_loss(y, y_pred, sample_weight, extra)[0]
        if not extra:
            raise RuntimeError(f"{self.name}: the model was compiled without a loss and "
                               "adds none (add_loss); give compile a loss")
        return tg.add_n(extra) if len(extra) > 1 else extra[0]

    # ------------------------------------------------------------------ steps

    def make_train_function(self):
        """Build (once) and return the training step ``(x, y, sample_weight) -> (loss, y_pred)``.

        This is the single place where the step is made: a graph-compiled version
        (``tg.function``) replaces the eager closure here, unless ``run_eagerly``.
        """
        step = self.__dict__.get("_train_function")
        if step is not None:
            return step
        model = self

        def train_step(x, y, sample_weight):
            with tg.GradientTape() as tape:
                y_pred = model(x, training=True)
                loss = model._compute_loss(y, y_pred, sample_weight)
            variables = model.trainable_variables
            # row lookups (Embedding) give IndexedSlices: only touched rows are updated
            with sparse_gradients():
                grads = tape.gradient(loss, variables)
            model.optimizer.apply_gradients(zip(grads, variables))
            return loss, y_pred

        self.__dict__["_train_function"] = train_step
        return train_step

    def _test_step(self, x, y, sample_weight):
        y_pred = self(x, training=False)
        loss = self._compute_loss(y, y_pred, sample_weight)
        return loss, y_pred

    def _logs(self, loss_mean):
        logs = {"loss": loss_mean.result()}
        logs.update(self.compiled_metrics.results())
        return logs

    # ------------------------------------------------------------------ fit

    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose=1, callbacks=None,
            validation_split=0.0, validation_data=None, shuffle=True, class_weight=None,
            sample_weight=None, initial_epoch=0, steps_per_epoch=None, validation_steps=None,
            validation_batch_size=None, validation_freq=1):
        """Train for ``epochs`` passes over the data; returns a :class:`History`.

        ``x``/``y``: NumPy arrays, tensors, lists/dicts of them (several inputs or
        outputs), or a ``tg.data.Dataset`` of ``(x, y)`` / ``(x, y, sample_weight)``
        batches (then ``y`` is not given).  ``batch_size`` defaults to 32 for arrays.
        ``validation_split`` holds out the last fraction of the arrays (before
        shuffling); ``validation_data`` is ``(x_val, y_val)``, ``(x_val, y_val, sw)`` or
        a Dataset, evaluated every ``validation_freq`` epochs (an int, or a list of
        epochs from 1).  ``class_weight`` maps class ids to loss weights;
        ``sample_weight`` weighs each example.  ``steps_per_epoch`` caps the batches
        per epoch (a dataset's iterator then carries over between epochs).
        ``verbose``: 0 silent, 1 progress bar, 2 one line per epoch.
        """
        self._check_compiled("fit")
        if batch_size is None:
            batch_size = 32
        if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 0:
            raise ValueError(f"fit: epochs must be an int >= 0, got {epochs!r}")
        if verbose not in (0, 1, 2, "auto"):
            raise ValueError(f"fit: verbose must be 0, 1, 2 or 'auto', got {verbose!r}")
        verbose = 1 if verbose == "auto" else verbose
        if validation_split and validation_data is None:
            (x, y, sample_weight), validation_data = data_adapter.split_validation(
                x, y, sample_weight, validation_split)
        if class_weight:
            if isinstance(x, tg.data.Dataset):
                raise ValueError("fit: class_weight is not supported for Dataset inputs; "
                                 "add a sample weight to the dataset's elements instead")
            sample_weight = data_adapter.with_class_weight(
                data_adapter._to_host(y, "fit"), sample_weight, class_weight, "fit")
        batches = data_adapter.make_batches(x, y, sample_weight, batch_size, shuffle, "fit")
        val_batches = None
        if validation_data is not None:
            if isinstance(validation_data, tg.data.Dataset):
                val_batches = data_adapter.DatasetBatches(validation_data)
            else:
                if not isinstance(validation_data, (tuple, list)) or \
                        len(validation_data) not in (2, 3):
                    raise ValueError("fit: validation_data must be (x, y), (x, y, "
                                     "sample_weight) or a Dataset")
                vx, vy, *vsw = validation_data
                val_batches = data_adapter.ArrayBatches(
                    vx, vy, vsw[0] if vsw else None,
                    batch_size=validation_batch_size or batch_size, where="fit")
        steps = batches.steps if steps_per_epoch is None else int(steps_per_epoch)

        history = History()
        cbs = list(callbacks or ())
        if verbose and not any(isinstance(cb, ProgbarLogger) for cb in cbs):
            cbs.insert(0, ProgbarLogger())
        cbs.append(history)
        callback_list = CallbackList(cbs, model=self, params={
            "verbose": verbose, "epochs": epochs, "steps": steps})
        history.interrupted = False
        self.__dict__["stop_training"] = False
        train_step = self.make_train_function()
        dtype = self.dtype
        metrics = self.compiled_metrics

        with _Interrupt() as interrupt:
            callback_list.on_train_begin()
            logs = {}
            for epoch in range(initial_epoch, epochs):
                metrics.reset()
                loss_mean = _Mean()
                callback_list.on_epoch_begin(epoch)
                if isinstance(batches, data_adapter.DatasetBatches):
                    epoch_iter = batches.epoch(steps_per_epoch)
                else:
                    epoch_iter = batches.epoch()
                seen = 0
                for step_index, (bx, by, bsw) in enumerate(epoch_iter):
                    if steps_per_epoch is not None and step_index >= steps_per_epoch:
                        break
                    callback_list.on_train_batch_begin(step_index)
                    bx = _to_tensors(bx, dtype)
                    by = _to_tensors(by, dtype)
                    bsw = _to_tensors(bsw, dtype)
                    loss, y_pred = train_step(bx, by, bsw)
                    n = _batch_size_of(bx)
                    loss_mean.add(float(loss.numpy()), n)
                    metrics.update(by, y_pred, bsw)
                    seen += 1
                    logs = self._logs(loss_mean)
                    callback_list.on_train_batch_end(step_index, logs)
                    if self.stop_training or interrupt.requested:
                        break
                if interrupt.requested:
                    history.interrupted = True
                    break
                if seen == 0:
                    import warnings

                    warnings.warn("fit: the input ran out of data; training stops (a Dataset "
                                  "with steps_per_epoch needs at least that many batches, or "
                                  ".repeat())")
                    break
                epoch_logs = dict(logs)
                if val_batches is not None and self._should_validate(epoch, validation_freq):
                    val_logs = self._evaluate_batches(val_batches, callback_list,
                                                      validation_steps)
                    epoch_logs.update({"val_" + k: v for k, v in val_logs.items()})
                callback_list.on_epoch_end(epoch, epoch_logs)
                if self.stop_training or interrupt.requested:
                    history.interrupted = interrupt.requested
                    break
            callback_list.on_train_end(logs)
        return history

    @staticmethod
    def _should_validate(epoch, validation_freq):
        if isinstance(validation_freq, int):
            if validation_freq <= 0:
                raise ValueError(f"fit: validation_freq must be >= 1, got {validation_freq}")
            return (epoch + 1) % validation_freq == 0
        return (epoch + 1) in validation_freq

    # ------------------------------------------------------------------ evaluate / predict

    def _evaluate_batches(self, batches, callback_list, steps=None):
        dtype = self.dtype
        metrics = self.compiled_metrics
        metrics.reset()
        loss_mean = _Mean()
        callback_list.on_test_begin()
        logs = {"loss": 0.0}
        if isinstance(batches, data_adapter.DatasetBatches):
            iterator = batches.epoch()
        else:
            iterator = batches.epoch()
        for i, (bx, by, bsw) in enumerate(iterator):
            if steps is not None and i >= steps:
                break
            callback_list.on_test_batch_begin(i)
            bx = _to_tensors(bx, dtype)
            by = _to_tensors(by, dtype)
            bsw = _to_tensors(bsw, dtype)
            loss, y_pred = self._test_step(bx, by, bsw)
            loss_mean.add(float(loss.numpy()), _batch_size_of(bx))
            metrics.update(by, y_pred, bsw)
            logs = self._logs(loss_mean)
            callback_list.on_test_batch_end(i, logs)
        callback_list.on_test_end(logs)
        return logs

    def evaluate(self, x=None, y=None, batch_size=None, verbose=1, sample_weight=None,
                 steps=None, callbacks=None, return_dict=False):
        """Loss and metrics over the data, in inference mode.

        Returns the loss (a float) when no metrics were compiled, else
        ``[loss, metric...]`` in ``metrics_names`` order; ``return_dict=True`` gives a
        dict.  ``verbose`` prints the result.
        """
        self._check_compiled("evaluate")
        batches = data_adapter.make_batches(x, y, sample_weight, batch_size or 32, False,
                                            "evaluate")
        callback_list = CallbackList(callbacks, model=self,
                                     params={"verbose": verbose, "steps": batches.steps})
        logs = self._evaluate_batches(batches, callback_list, steps)
        if verbose:
            from tapegrad.callbacks.progbar import _format_logs

            print(_format_logs(logs))
        if return_dict:
            return dict(logs)
        values = [logs["loss"]] + [v for k, v in logs.items() if k != "loss"]
        return values[0] if len(values) == 1 else values

    def predict(self, x, batch_size=None, verbose=0, steps=None, callbacks=None):
        """The model's outputs as NumPy arrays, computed in batches (inference mode)."""
        if isinstance(x, tg.data.Dataset):
            batches = data_adapter.DatasetBatches(x, "predict")
        else:
            batches = data_adapter.ArrayBatches(x, batch_size=batch_size or 32,
                                                where="predict")
        callback_list = CallbackList(callbacks, model=self,
                                     params={"verbose": verbose, "steps": batches.steps})
        callback_list.on_predict_begin()
        dtype = self.dtype
        chunks = []
        for i, (bx, _, _) in enumerate(batches.epoch()):
            if steps is not None and i >= steps:
                break
            callback_list.on_predict_batch_begin(i)
            out = _numpy_outputs(self(_to_tensors(bx, dtype), training=False))
            chunks.append(out)
            callback_list.on_predict_batch_end(i, {"outputs": out})
        callback_list.on_predict_end()
        if not chunks:
            raise ValueError("predict: the input holds no samples")
        return _concat_outputs(chunks)

    # ------------------------------------------------------------------ single batches

    def _batch_result(self, loss, return_dict):
        logs = {"loss": float(loss.numpy())}
        logs.update(self.compiled_metrics.results())
        if return_dict:
            return logs
        values = list(logs.values())
        return values[0] if len(values) == 1 else values

    def train_on_batch(self, x, y=None, sample_weight=None, class_weight=None,
                       reset_metrics=True, return_dict=False):
        """One training step on one batch; returns its loss (and metrics)."""
        self._check_compiled("train_on_batch")
        dtype = self.dtype
        if class_weight:
            sample_weight = data_adapter.with_class_weight(
                data_adapter._to_host(y, "train_on_batch"), sample_weight, class_weight,
                "train_on_batch")
        if reset_metrics:
            self.compiled_metrics.reset()
        x, y, sample_weight = (_to_tensors(x, dtype), _to_tensors(y, dtype),
                               _to_tensors(sample_weight, dtype))
        loss, y_pred = self.make_train_function()(x, y, sample_weight)
        self.compiled_metrics.update(y, y_pred, sample_weight)
        return self._batch_result(loss, return_dict)

    def test_on_batch(self, x, y=None, sample_weight=None, reset_metrics=True,
                      return_dict=False):
        """Loss (and metrics) of one batch in inference mode."""
        self._check_compiled("test_on_batch")
        dtype = self.dtype
        if reset_metrics:
            self.compiled_metrics.reset()
        x, y, sample_weight = (_to_tensors(x, dtype), _to_tensors(y, dtype),
                               _to_tensors(sample_weight, dtype))
        loss, y_pred = self._test_step(x, y, sample_weight)
        self.compiled_metrics.update(y, y_pred, sample_weight)
        return self._batch_result(loss, return_dict)

    def predict_on_batch(self, x):
        """The model's outputs on one batch, as NumPy arrays."""
        return _numpy_outputs(self(_to_tensors(x, self.dtype), training=False))

    # ------------------------------------------------------------------ weights on disk

    @staticmethod
    def _checkpoint_prefix(filepath):
        from tapegrad.train.format import FILE_SUFFIX

        filepath = os.fspath(filepath)
        if filepath.endswith(FILE_SUFFIX):
            filepath = filepath[: -len(FILE_SUFFIX)]
        if not filepath or filepath.endswith(os.sep):
            raise ValueError(f"a weights file name is needed, got the directory {filepath!r}")
        return filepath

    def save_weights(self, filepath, overwrite=True):
        """Write the model's variables to ``filepath`` (+ ``.tgckpt``) in tapegrad's
        checkpoint format, atomically.  Returns the prefix written."""
        prefix = self._checkpoint_prefix(filepath)
        from tapegrad.train.format import FILE_SUFFIX

        if not overwrite and os.path.exists(prefix + FILE_SUFFIX):
            raise FileExistsError(f"save_weights: {prefix + FILE_SUFFIX} exists "
                                  "(overwrite=False)")
        return tg.train.Checkpoint(model=self).write(prefix)

    def load_weights(self, filepath):
        """Load variables written by :meth:`save_weights` (or a ModelCheckpoint).

        Every existing variable must find a value of the same shape and dtype, else this
        raises and changes nothing; values for layers not built yet are assigned when
        they are built.  Returns the load status.
        """
        prefix = self._checkpoint_prefix(filepath)
        status = tg.train.Checkpoint(model=self).restore(prefix)
        if self.built and self.variables:
            status.assert_existing_objects_matched()
        return status.expect_partial()

    def save(self, filepath, overwrite=True, include_optimizer=True, save_format=None):
        """Save architecture, weights and (when compiled) the compile config and the
        optimizer's state to ONE file, Keras' ``.keras`` archive; reload with
        ``tg.models.load_model(filepath)``.  See :mod:`tapegrad.saving`."""
        from tapegrad.saving import save_model

        save_model(self, filepath, overwrite=overwrite, include_optimizer=include_optimizer,
                   save_format=save_format)

    def to_json(self, **kwargs):
        """The architecture as a JSON string ``{"class_name", "config", ...}``;
        ``tg.models.model_from_json(s)`` rebuilds it (fresh weights).  ``kwargs`` go to
        ``json.dumps`` (``indent=2``)."""
        from tapegrad.saving import model_to_json

        return model_to_json(self, **kwargs)

    def _save_training_state(self, filepath):
        """Model and optimizer in one checkpoint (ModelCheckpoint without weights_only)."""
        prefix = self._checkpoint_prefix(filepath)
        optimizer = self.optimizer
        objects = {"model": self}
        if optimizer is not None:
            objects["optimizer"] = optimizer
        return tg.train.Checkpoint(**objects).write(prefix)
