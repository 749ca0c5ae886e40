"""Compatibility namespaces for code written against other APIs.

``tapegrad.compat.tf1`` maps the TensorFlow 1.x eager-execution names used by the
eager execution guide onto tapegrad, so that the guide's programs run after replacing
``import tensorflow as tf`` with ``import tapegrad.compat.tf1 as tf``.

Nothing is imported here eagerly: ``import tapegrad.compat`` costs nothing until a
submodule is used.
"""

__all__ = ["tf1"]


def __getattr__(name):
    if name == "tf1":
        import importlib

        module = importlib.import_module("tapegrad.compat.tf1")
        globals()["tf1"] = module
        return module
    raise AttributeError("module 'tapegrad.compat' has no attribute %r" % name)
