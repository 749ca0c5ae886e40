"""Names of classes and functions in saved configs, and how they are found again.

A config names a class (``"class_name": "Dense"``) or a function (``{"function":
"my_loss"}``); loading looks the name up in, in order: the caller's
``custom_objects``, the classes registered with :func:`register_keras_serializable`,
then tapegrad's own modules.  Nothing else is imported or evaluated, so a model file
cannot make the loader run code the program did not already have.
"""

__all__ = ["get_registered_name", "get_registered_object", "register_keras_serializable",
           "resolve"]

_BY_KEY = {}      # "package>name" -> object
_BY_NAME = {}     # "name" -> object (the name configs carry)
_KEY_OF = {}      # id(object) -> "package>name"


def register_keras_serializable(package="Custom", name=None):
    """Decorator (Keras' ``tf.keras.utils.register_keras_serializable``): models that use
    the decorated layer, loss, metric or optimizer class (or function) load without
    ``custom_objects``.  Configs store the plain class name, so one name may be
    registered only once across packages."""
    if not isinstance(package, str) or ">" in package:
        raise ValueError(f"register_keras_serializable: package must be a str without "
                         f"'>', got {package!r}")

    def decorator(obj):
        short = name or getattr(obj, "__name__", None)
        if not isinstance(short, str) or not short:
            raise ValueError(f"register_keras_serializable: {obj!r} has no __name__; pass "
                             "name=")
        if isinstance(obj, type) and not hasattr(obj, "get_config"):
            raise TypeError(f"register_keras_serializable: {obj.__name__} must define "
                            "get_config to be serialized")
        key = f"{package}>{short}"
        for table, k in ((_BY_KEY, key), (_BY_NAME, short)):
            previous = table.get(k)
            if previous is not None and previous is not obj:
                raise ValueError(f"register_keras_serializable: {k!r} is already "
                                 f"registered to {previous!r}")
        _BY_KEY[key] = _BY_NAME[short] = obj
        _KEY_OF[id(obj)] = key
        return obj

    return decorator


def get_registered_name(obj):
    """``"package>name"`` for a registered object, else its ``__name__``."""
    return _KEY_OF.get(id(obj), getattr(obj, "__name__", type(obj).__name__))


def get_registered_object(name, custom_objects=None, module_objects=None):
    """The object saved under ``name``: ``custom_objects`` first, then the registry
    (``"package>name"`` or the plain name), then ``module_objects``; None if absent."""
    if custom_objects and name in custom_objects:
        return custom_objects[name]
    if name in _BY_KEY:
        return _BY_KEY[name]
    if name in _BY_NAME:
        return _BY_NAME[name]
    if module_objects and name in module_objects:
        return module_objects[name]
    return None


def _module_classes(modules, base):
    import importlib

    found = {}
    for module_name in modules:
        module = importlib.import_module(module_name)
        for attr, value in vars(module).items():
            if isinstance(value, type) and issubclass(value, base) and attr not in found:
                found[attr] = value
    return found


def resolve(name, kind, custom_objects=None, where="load_model"):
    """The class of kind ``"layer"``, ``"optimizer"``, ``"loss"``, ``"metric"`` or
    ``"schedule"`` saved as ``name``; raises a ValueError naming the fix."""
    import importlib

    base_of = {
        "layer": ("tapegrad.layers.base", "Layer",
                  ("tapegrad.layers", "tapegrad.models")),
        "optimizer": ("tapegrad.optimizers.base", "Optimizer", ("tapegrad.optimizers",)),
        "loss": ("tapegrad.training.losses", "Loss", ("tapegrad.training.losses",)),
        "metric": ("tapegrad.metrics", "Metric",
                   ("tapegrad.metrics", "tapegrad.training.compile_utils")),
        "schedule": ("tapegrad.optimizers.schedules", "LearningRateSchedule",
                     ("tapegrad.optimizers.schedules",)),
    }
    module_name, base_name, modules = base_of[kind]
    base = getattr(importlib.import_module(module_name), base_name)
    obj = get_registered_object(name, custom_objects)
    if obj is None:
        obj = _module_classes(modules, base).get(name)
    if not (isinstance(obj, type) and issubclass(obj, base)):
        if obj is not None:
            raise TypeError(f"{where}: {name!r} resolves to {obj!r}, which is not a "
                            f"{base_name} subclass")
        raise ValueError(f"{where}: unknown {kind} class {name!r}; pass it as "
                         f"custom_objects={{{name!r}: {name}}} or decorate it with "
                         "register_keras_serializable()")
    return obj
