"""Callback, CallbackList, History, LambdaCallback and TerminateOnNaN."""

import math

__all__ = ["Callback", "CallbackList", "History", "LambdaCallback", "TerminateOnNaN"]


class Callback:
    """Base class: override the hooks you need; each receives a ``logs`` dict (or None)."""

    def __init__(self):
        self.model = None
        self.params = {}

    def set_model(self, model):
        self.model = model

    def set_params(self, params):
        self.params = params

    def on_train_begin(self, logs=None):
        pass

    def on_train_end(self, logs=None):
        pass

    def on_epoch_begin(self, epoch, logs=None):
        pass

    def on_epoch_end(self, epoch, logs=None):
        pass

    def on_train_batch_begin(self, batch, logs=None):
        self.on_batch_begin(batch, logs)

    def on_train_batch_end(self, batch, logs=None):
        self.on_batch_end(batch, logs)

    # TF 1.x names of the training-batch hooks.
    def on_batch_begin(self, batch, logs=None):
        pass

    def on_batch_end(self, batch, logs=None):
        pass

    def on_test_begin(self, logs=None):
        pass

    def on_test_end(self, logs=None):
        pass

    def on_test_batch_begin(self, batch, logs=None):
        pass

    def on_test_batch_end(self, batch, logs=None):
        pass

    def on_predict_begin(self, logs=None):
        pass

    def on_predict_end(self, logs=None):
        pass

    def on_predict_batch_begin(self, batch, logs=None):
        pass

    def on_predict_batch_end(self, batch, logs=None):
        pass


_HOOKS = (
    "on_train_begin", "on_train_end", "on_test_begin", "on_test_end", "on_predict_begin",
    "on_predict_end",
)
_INDEXED_HOOKS = (
    "on_epoch_begin", "on_epoch_end", "on_train_batch_begin", "on_train_batch_end",
    "on_test_batch_begin", "on_test_batch_end", "on_predict_batch_begin",
    "on_predict_batch_end",
)


def _overrides(callback, hook):
    """Whether ``callback`` replaces ``Callback``'s no-op ``hook`` (in its class or itself)."""
    method = getattr(callback, hook)
    return getattr(method, "__func__", None) is not getattr(Callback, hook)


class CallbackList:
    """Calls each hook on every callback in order.

    Batch hooks are only dispatched to callbacks that override them, so the per-batch
    cost of a callback list that only watches epochs is one empty loop.
    """

    def __init__(self, callbacks=None, model=None, params=None):
        self.callbacks = []
        for cb in callbacks or ():
            if not isinstance(cb, Callback):
                raise TypeError(
                    f"callbacks: expected tapegrad.callbacks.Callback instances, got "
                    f"{type(cb).__name__}"
                )
            self.callbacks.append(cb)
        if model is not None:
            self.set_model(model)
        if params is not None:
            self.set_params(params)
        self._refresh()

    def _refresh(self):
        def overriding(hook, alias=None):
            return [getattr(cb, hook) for cb in self.callbacks
                    if _overrides(cb, hook) or (alias and _overrides(cb, alias))]

        self._train_batch_begin = overriding("on_train_batch_begin", "on_batch_begin")
        self._train_batch_end = overriding("on_train_batch_end", "on_batch_end")
        self._test_batch_begin = overriding("on_test_batch_begin")
        self._test_batch_end = overriding("on_test_batch_end")
        self._predict_batch_begin = overriding("on_predict_batch_begin")
        self._predict_batch_end = overriding("on_predict_batch_end")

    def append(self, callback):
        self.callbacks.append(callback)
        self._refresh()

    def set_model(self, model):
        for cb in self.callbacks:
            cb.set_model(model)

    def set_params(self, params):
        for cb in self.callbacks:
            cb.set_params(params)

    def _call(self, hook, *args):
        for cb in self.callbacks:
            getattr(cb, hook)(*args)

    def on_train_begin(self, logs=None):
        self._call("on_train_begin", logs)

    def on_train_end(self, logs=None):
        self._call("on_train_end", logs)

    def on_test_begin(self, logs=None):
        self._call("on_test_begin", logs)

    def on_test_end(self, logs=None):
        self._call("on_test_end", logs)

    def on_predict_begin(self, logs=None):
        self._call("on_predict_begin", logs)

    def on_predict_end(self, logs=None):
        self._call("on_predict_end", logs)

    def on_epoch_begin(self, epoch, logs=None):
        self._call("on_epoch_begin", epoch, logs)

    def on_epoch_end(self, epoch, logs=None):
        self._call("on_epoch_end", epoch, logs)

    def on_train_batch_begin(self, batch, logs=None):
        for hook in self._train_batch_begin:
            hook(batch, logs)

    def on_train_batch_end(self, batch, logs=None):
        for hook in self._train_batch_end:
            hook(batch, logs)

    def on_test_batch_begin(self, batch, logs=None):
        for hook in self._test_batch_begin:
            hook(batch, logs)

    def on_test_batch_end(self, batch, logs=None):
        for hook in self._test_batch_end:
            hook(batch, logs)

    def on_predict_batch_begin(self, batch, logs=None):
        for hook in self._predict_batch_begin:
            hook(batch, logs)

    def on_predict_batch_end(self, batch, logs=None):
        for hook in self._predict_batch_end:
            hook(batch, logs)

    def __iter__(self):
        return iter(self.callbacks)

    def __len__(self):
        return len(self.callbacks)


class History(Callback):
    """Records each epoch's logs: ``history.history["loss"]`` is a list, one per epoch.

    ``fit`` adds one to every run and returns it; ``history.epoch`` lists the epoch
    indices (from ``initial_epoch``), ``history.model`` the model.
    """

    def __init__(self):
        super().__init__()
        self.history = {}
        self.epoch = []

    def on_train_begin(self, logs=None):
        self.epoch = []
        self.history = {}

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)
        if self.model is not None:
            self.model.history = self


class LambdaCallback(Callback):
    """A callback from functions: ``LambdaCallback(on_epoch_end=lambda epoch, logs: ...)``.

    Accepted: ``on_epoch_begin/end(epoch, logs)``, ``on_batch_begin/end(batch, logs)``,
    ``on_train_begin/end(logs)``.
    """

    _ACCEPTED = ("on_epoch_begin", "on_epoch_end", "on_batch_begin", "on_batch_end",
                 "on_train_begin", "on_train_end")

    def __init__(self, on_epoch_begin=None, on_epoch_end=None, on_batch_begin=None,
                 on_batch_end=None, on_train_begin=None, on_train_end=None, **kwargs):
        super().__init__()
        given = dict(on_epoch_begin=on_epoch_begin, on_epoch_end=on_epoch_end,
                     on_batch_begin=on_batch_begin, on_batch_end=on_batch_end,
                     on_train_begin=on_train_begin, on_train_end=on_train_end)
        for name, fn in kwargs.items():
            if not name.startswith("on_") or not hasattr(Callback, name):
                raise TypeError(f"LambdaCallback: unknown hook {name!r}")
            given[name] = fn
        for name, fn in given.items():
            if fn is None:
                continue
            if not callable(fn):
                raise TypeError(f"LambdaCallback: {name} must be callable, got {fn!r}")
            # Instance attributes shadow the base class's no-op hooks.
            setattr(self, name, fn)


class TerminateOnNaN(Callback):
    """Stops training at once when a batch's loss is NaN or infinite."""

    def on_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(loss):
            print(f"Batch {batch}: invalid loss {loss}, terminating training")
            if self.model is not None:
                self.model.stop_training = True
