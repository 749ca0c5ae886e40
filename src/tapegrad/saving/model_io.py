"""``model.save`` / ``load_model`` and ``to_json`` / ``model_from_json``.

Saving writes nothing until everything is known to serialize (config, compile config,
weights), then writes one file atomically (archive.py).  Loading verifies the whole
file first, rebuilds the model from its config, compiles it, and assigns the weights
and optimizer state through the checkpoint machinery's check-then-assign restore: any
defect raises before a model is returned, and nothing that was built escapes.
"""

import datetime
import json
import os
import warnings

import numpy as np

from tapegrad.saving import archive
from tapegrad.saving.compile_config import NotSerializable, deserialize_compile, serialize_compile
from tapegrad.train.errors import CheckpointCorruptError

__all__ = ["load_model", "model_from_config", "model_from_json", "model_to_json", "save_model"]

FORMAT = "tapegrad.model"
FORMAT_VERSION = 1


def _json_default(value):
    # numbers and shapes that layers keep as NumPy values or tapegrad dtypes
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    from tapegrad.dtypes import DType

    if isinstance(value, (np.dtype, DType)):
        return value.name
    raise TypeError(f"a model config cannot hold {value!r} ({type(value).__name__}); "
                    "a layer's get_config must return JSON values")


def _class_name(model):
    from tapegrad.models import FunctionalModel

    # Keras' name for a functional model's class (what tf.keras writes and reads)
    return "Functional" if type(model) is FunctionalModel else type(model).__name__


def _model_spec(model):
    """``{"class_name", "config", ["build_config"]}`` of ``model``."""
    from tapegrad.models import FunctionalModel, Sequential

    spec = {"class_name": _class_name(model), "config": model.get_config()}
    shape = model.__dict__.get("_build_input_shape")
    if model.built and shape is not None and not isinstance(model, (Sequential,
                                                                   FunctionalModel)):
        # a subclassed model is rebuilt by calling build(input_shape) before the
        # weights are assigned (Keras 3's build_config)
        spec["build_config"] = {"input_shape": list(shape)}
    return spec


def _dumps(value, **kwargs):
    return json.dumps(value, default=_json_default, allow_nan=False, **kwargs)


def model_to_json(model, **kwargs):
    """``model.to_json()``: ``{"class_name", "config", "tapegrad_version", "backend"}``."""
    import tapegrad

    spec = _model_spec(model)
    spec.update(tapegrad_version=tapegrad.__version__, backend="tapegrad")
    return _dumps(spec, **kwargs)


def _model_from_spec(spec, custom_objects, where):
    from tapegrad.layers.functional_config import layer_from_config

    if not isinstance(spec, dict) or not isinstance(spec.get("class_name"), str) or \
            not isinstance(spec.get("config"), dict):
        raise ValueError(f"{where}: expected {{'class_name': ..., 'config': {{...}}}}, got "
                         f"{str(spec)[:200]}")
    model = layer_from_config(spec["class_name"], spec["config"], custom_objects, where)
    build = spec.get("build_config")
    if build and build.get("input_shape") is not None and not model.built:
        model.build(tuple(build["input_shape"]))
    return model


def model_from_config(config, custom_objects=None):
    """A new model from ``{"class_name", "config"}`` (Keras' ``model_from_config``)."""
    return _model_from_spec(config, custom_objects, "model_from_config")


def model_from_json(json_string, custom_objects=None):
    """A new model (fresh weights) from ``model.to_json()``; custom layer classes come
    from ``custom_objects={name: class}`` or ``register_keras_serializable``."""
    try:
        spec = json.loads(json_string)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"model_from_json: not a JSON model description ({exc})") from None
    return _model_from_spec(spec, custom_objects, "model_from_json")


# ---------------------------------------------------------------------- save

def _check_path(filepath, save_format):
    filepath = os.fspath(filepath)
    if save_format not in (None, "keras", "tapegrad"):
        raise ValueError(f"save: save_format={save_format!r} is not supported; tapegrad "
                         "writes one file in Keras' .keras layout (save_format='keras')")
    if filepath.lower().endswith((".h5", ".hdf5")):
        raise ValueError(f"save: {filepath!r}: HDF5 is not supported; name the file "
                         "'<name>.keras'")
    if not os.path.basename(filepath):
        raise ValueError(f"save: a file name is needed, got the directory {filepath!r}")
    return filepath


def save_model(model, filepath, overwrite=True, include_optimizer=True, save_format=None):
    """Write ``model`` to ``filepath``: architecture, weights, and for a compiled model its
    compile config and (``include_optimizer``) the optimizer's state.  ``overwrite=False``
    raises ``FileExistsError`` if the file exists.  See archive.py for the format."""
    import tapegrad
    from tapegrad.train.checkpoint import Checkpoint
    from tapegrad.train.format import encode_chunks
    from tapegrad.train.graph import build_graph

    filepath = _check_path(filepath, save_format)
    if not overwrite and os.path.exists(filepath):
        raise FileExistsError(f"save: {filepath} exists (overwrite=False)")
    spec = _model_spec(model)  # a subclassed model without get_config raises here
    optimizer = None
    if model.__dict__.get("_is_compiled"):
        try:
            spec["compile_config"] = serialize_compile(model)
        except NotSerializable as exc:
            warnings.warn(f"save: the compile config of {model.name!r} cannot be saved "
                          f"({exc}); the file holds the model without it and without the "
                          "optimizer, and load_model returns it uncompiled", stacklevel=3)
        else:
            optimizer = model.optimizer if include_optimizer else None
    config_bytes = _dumps(spec).encode("utf-8")
    objects = {"model": model}
    if optimizer is not None:
        objects["optimizer"] = optimizer
    graph, variables = build_graph(Checkpoint(**objects))
    tensors = [(path, variable.numpy()) for path, variable in variables]
    metadata = {"format": FORMAT, "format_version": FORMAT_VERSION,
                "tapegrad_version": tapegrad.__version__,
                "date_saved": datetime.datetime.now(datetime.timezone.utc).isoformat(
                    timespec="seconds"),
                "optimizer_state": optimizer is not None}
    directory = os.path.dirname(filepath)
    if directory:
        os.makedirs(directory, exist_ok=True)
    archive.write_archive(filepath, [("metadata.json", _dumps(metadata).encode("utf-8")),
                                     ("config.json", config_bytes)],
                          encode_chunks(graph, tensors))


# ---------------------------------------------------------------------- load

def _reject_constant(token):
    raise ValueError(f"non-finite number {token}")


def _parse(data, name, where):
    try:
        value = json.loads(data.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise CheckpointCorruptError(f"model file {where}: {name} is not valid JSON ({exc})"
                                     ) from None
    if not isinstance(value, dict):
        raise CheckpointCorruptError(f"model file {where}: {name} is not a JSON object")
    return value


def _read(filepath):
    """The verified ``(metadata, spec, graph, tensors)`` of a model file."""
    from tapegrad.train.format import decode

    where = repr(os.fspath(filepath))
    members = archive.read_archive(filepath)
    metadata = _parse(members["metadata.json"], "metadata.json", where)
    if metadata.get("format") != FORMAT:
        raise CheckpointCorruptError(f"model file {where}: format {metadata.get('format')!r}"
                                     f" is not {FORMAT!r}")
    version = metadata.get("format_version")
    if type(version) is not int or not 1 <= version <= FORMAT_VERSION:
        raise CheckpointCorruptError(
            f"model file {where}: format version {version!r} is not supported (this "
            f"tapegrad reads version {FORMAT_VERSION}; the file was written by tapegrad "
            f"{metadata.get('tapegrad_version')!r})")
    spec = _parse(members["config.json"], "config.json", where)
    graph, tensors = decode(members["model.weights.tgckpt"], where + " (weights)")
    return metadata, spec, graph, tensors, where


def _create_saved_slots(state, optimizer):
    """Create now the optimizer slots the file holds values for (the restore's hooks
    assign them as they appear), so that the load is complete when it returns."""
    seen = set()
    for (_, var_node, _), slot_node in state.saved.slots.items():
        variable = state.obj_of.get(var_node)
        if slot_node in state.restored or variable is None or id(variable) in seen:
            continue
        seen.add(id(variable))
        optimizer._get_or_create_slots(variable)


def load_model(filepath, custom_objects=None, compile=True):  # noqa: A002 (Keras' name)
    """The model ``model.save(filepath)`` wrote: same class and config, bit-identical
    weights, and with ``compile=True`` compiled as it was, its optimizer's hyperparameters,
    step count and slots restored so that ``fit`` continues exactly.

    A missing file raises ``tg.train.CheckpointNotFoundError`` (a FileNotFoundError); a
    truncated, altered or foreign file ``tg.train.CheckpointCorruptError``; saved values
    that do not fit the rebuilt model ``CheckpointMismatchError``; all before the model
    is returned.  ``custom_objects``: ``{name: class or function}`` for custom layers,
    losses, metrics and optimizers (or register them with ``register_keras_serializable``).
    """
    from tapegrad.train.checkpoint import Checkpoint

    metadata, spec, graph, tensors, where = _read(filepath)
    try:
        model = _model_from_spec(spec, custom_objects, "load_model")
    except (KeyError, IndexError) as exc:
        # the seal held, so the file is as written: a config no tapegrad writes
        raise CheckpointCorruptError(f"model file {where}: config.json does not describe a "
                                     f"model (missing or bad entry {exc})") from exc
    compile_config = spec.get("compile_config")
    optimizer = None
    if compile and compile_config:
        model.compile(**deserialize_compile(compile_config, custom_objects))
        if metadata.get("optimizer_state"):
            optimizer = model.optimizer
    objects = {"model": model}
    if optimizer is not None:
        objects["optimizer"] = optimizer
    status = Checkpoint(**objects)._restore_decoded(graph, tensors, where)
    state = status._state
    try:
        if optimizer is not None:
            _create_saved_slots(state, optimizer)
            status.assert_consumed()
        else:
            status.assert_existing_objects_matched()
    finally:
        # everything the file holds for this model is assigned now (or the load
        # failed): stop listening for objects created later
        status.expect_partial()
        state.deactivate()
    return model
