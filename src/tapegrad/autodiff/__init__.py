"""Reverse- and forward-mode differentiation on top of the tape."""

from importlib import import_module as _import_module

# loaded by `import tapegrad` until issue 25 (import time) deferred them; still
# reachable as tapegrad.autodiff.<name> without an import
_DEFERRED = ("jet", "tape_jacobians", "vmap")


def __getattr__(name):
    if name in _DEFERRED:
        return _import_module("tapegrad.autodiff." + name)
    raise AttributeError("module 'tapegrad.autodiff' has no attribute %r" % name)


def __dir__():
    return sorted(set(globals()) | set(_DEFERRED))
