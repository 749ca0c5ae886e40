"""Whole-model saving: ``model.save(path)`` / ``tg.models.load_model(path)`` (one file,
Keras' ``.keras`` zip layout, sealed by a SHA-256), ``model.to_json()`` /
``tg.models.model_from_json(s)``, and ``register_keras_serializable`` for custom
classes.  archive.py describes the file; compile_config.py what of ``compile`` is kept;
registry.py how saved names find their classes again."""

from tapegrad.saving.model_io import (
    load_model,
    model_from_config,
    model_from_json,
    model_to_json,
    save_model,
)
from tapegrad.saving.registry import (
    get_registered_name,
    get_registered_object,
    register_keras_serializable,
)

__all__ = ["get_registered_name", "get_registered_object", "load_model", "model_from_config",
           "model_from_json", "model_to_json", "register_keras_serializable", "save_model"]
