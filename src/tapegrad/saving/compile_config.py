"""``compile``'s arguments as JSON, and back: the optimizer (class and hyperparameters),
the losses and metrics (names, objects or functions, per output), ``loss_weights``.

Forms: a name stays a string; an object is ``{"class_name", "config"}``; a function is
``{"function": name}``; a dict by output name is ``{"by_output": {...}}``; lists stay
lists.  Loading resolves names through :mod:`tapegrad.saving.registry`.  What has no
name (a lambda, a callable object without ``get_config``) cannot be saved: ``save``
then warns and writes the model without its compile config (Keras does the same).
"""

import numpy as np

from tapegrad.saving.registry import get_registered_object, resolve

__all__ = ["NotSerializable", "deserialize_compile", "deserialize_optimizer",
           "serialize_compile", "serialize_optimizer"]


class NotSerializable(TypeError):
    """A compile argument a config cannot describe."""


# ---------------------------------------------------------------------- optimizers

def _hyper_value(optimizer, name, value):
    import tapegrad as tg
    from tapegrad.optimizers.schedules import LearningRateSchedule

    if isinstance(value, LearningRateSchedule):
        return {"class_name": type(value).__name__, "config": value.get_config()}
    if isinstance(value, (tg.Tensor, tg.Variable, np.ndarray)):
        # Keras saves a variable hyperparameter as its current value, too
        return float(np.asarray(value.numpy() if hasattr(value, "numpy") else value))
    raise NotSerializable(f"{type(optimizer).__name__}.{name} is {value!r}; only numbers, "
                          "tensors/Variables and LearningRateSchedules can be saved")


def serialize_optimizer(optimizer):
    from tapegrad.optimizers import Optimizer

    if not isinstance(optimizer, Optimizer):  # a wrapper (distribute) has no config
        raise NotSerializable(f"the optimizer {optimizer!r} is not a tg.optimizers "
                              "Optimizer")
    config = optimizer.get_config()
    # get_config shows a non-number hyperparameter as its repr; save what rebuilds it
    for name, value in optimizer._hyper.items():
        if name not in optimizer._hyper_numbers:
            config[name] = _hyper_value(optimizer, name, value)
    return {"class_name": type(optimizer).__name__, "config": config}


def deserialize_optimizer(spec, custom_objects=None):
    cls = resolve(spec["class_name"], "optimizer", custom_objects)
    config = dict(spec["config"])
    for key, value in config.items():
        if isinstance(value, dict) and "class_name" in value:
            schedule = resolve(value["class_name"], "schedule", custom_objects)
            config[key] = schedule(**value.get("config", {}))
    return cls.from_config(config)


# ---------------------------------------------------------------------- losses, metrics

def _serialize_item(item, kind):
    from tapegrad.metrics import Metric
    from tapegrad.training.losses import Loss, LossFunctionWrapper

    base = Loss if kind == "loss" else Metric
    if item is None or isinstance(item, str):
        return item
    if isinstance(item, LossFunctionWrapper):      # compile's wrapping of a plain function
        return _serialize_item(item.fn, kind)
    if isinstance(item, dict):
        return {"by_output": {k: _serialize_item(v, kind) for k, v in item.items()}}
    if isinstance(item, (list, tuple)):
        return [_serialize_item(v, kind) for v in item]
    if isinstance(item, type) and issubclass(item, base):
        return {"class_name": item.__name__, "config": {}}
    if isinstance(item, base):
        if hasattr(item, "get_config"):
            config = item.get_config()
        else:  # a Metric: its constructor's common arguments
            config = {"name": item.name}
            if item.dtype != np.float64:
                config["dtype"] = item.dtype.name
        return {"class_name": type(item).__name__, "config": config}
    name = getattr(item, "__name__", None)
    if callable(item) and isinstance(name, str) and name.isidentifier():
        return {"function": name}
    raise NotSerializable(f"the {kind} {item!r} has no name a config can hold (a lambda, or "
                          "an object without get_config)")


def _builtin_function(name):
    # Keras' loss functions (y_true, y_pred), which compile also takes as metrics
    from tapegrad.compat import _v1_keras

    return _v1_keras.LOSSES.get(name)


def _deserialize_item(spec, kind, custom_objects):
    if spec is None or isinstance(spec, str):
        return spec
    if isinstance(spec, list):
        return [_deserialize_item(v, kind, custom_objects) for v in spec]
    if isinstance(spec, dict) and "by_output" in spec:
        return {k: _deserialize_item(v, kind, custom_objects)
                for k, v in spec["by_output"].items()}
    if isinstance(spec, dict) and "function" in spec:
        name = spec["function"]
        fn = get_registered_object(name, custom_objects) or _builtin_function(name)
        if fn is None:
            raise ValueError(f"load_model: unknown {kind} function {name!r}; pass "
                             f"custom_objects={{{name!r}: {name}}} (or compile=False)")
        return fn
    if isinstance(spec, dict) and "class_name" in spec:
        cls = resolve(spec["class_name"], kind, custom_objects)
        return cls(**spec.get("config", {}))
    raise ValueError(f"load_model: malformed {kind} entry {spec!r} in the compile config")


# ---------------------------------------------------------------------- compile

def serialize_compile(model):
    """The compile config of a compiled ``model`` (raises NotSerializable)."""
    args = model.__dict__.get("_compile_args", {})
    loss_weights = args.get("loss_weights")
    if isinstance(loss_weights, dict):
        loss_weights = {"by_output": {k: float(v) for k, v in loss_weights.items()}}
    elif loss_weights is not None:
        loss_weights = [float(v) for v in loss_weights]
    return {
        "optimizer": serialize_optimizer(model.optimizer),
        "loss": _serialize_item(args.get("loss"), "loss"),
        "metrics": _serialize_item(args.get("metrics"), "metric"),
        "loss_weights": loss_weights,
        "run_eagerly": args.get("run_eagerly"),
    }


def deserialize_compile(config, custom_objects=None):
    """``compile``'s keyword arguments from :func:`serialize_compile`'s output."""
    loss_weights = config.get("loss_weights")
    if isinstance(loss_weights, dict):
        loss_weights = loss_weights["by_output"]
    return {
        "optimizer": deserialize_optimizer(config["optimizer"], custom_objects),
        "loss": _deserialize_item(config.get("loss"), "loss", custom_objects),
        "metrics": _deserialize_item(config.get("metrics"), "metric", custom_objects),
        "loss_weights": loss_weights,
        "run_eagerly": config.get("run_eagerly"),
    }
