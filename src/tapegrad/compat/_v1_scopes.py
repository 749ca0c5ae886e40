"""``tf.variable_scope``, ``tf.control_dependencies``, ``tf.print`` and ``tf.Print``.

* ``variable_scope(name_or_scope, default_name=None, values=None, ..., reuse=None, ...)``
  prefixes the names of variables created in its body, like ``tg.name_scope`` (which it
  uses).  ``reuse`` (True, False, None or ``AUTO_REUSE``) is recorded on the scope and
  read by the ``tf.layers`` functions; initializer/regularizer/partitioner arguments
  are graph-mode ``get_variable`` defaults and are ignored.
* ``control_dependencies(inputs)``: eager ops already run in program order, so it is a
  context manager that does nothing (TF's eager behaviour).
"""

import contextvars
import sys

from tapegrad.printing import _format, print_  # noqa: F401  (tf.print)
from tapegrad.scopes import name_scope

__all__ = ["AUTO_REUSE", "VariableScope", "variable_scope", "get_variable_scope",
           "control_dependencies", "print_", "Print"]


class _AutoReuse:
    def __repr__(self):
        return "tf.AUTO_REUSE"


AUTO_REUSE = _AutoReuse()


class VariableScope:
    """What ``with tf.variable_scope(...) as scope`` binds: ``name``, ``reuse`` and the
    full prefix (``original_name_scope``)."""

    def __init__(self, name, reuse, prefix):
        self.name = name
        self.reuse = reuse
        self.original_name_scope = prefix

    def reuse_variables(self):
        self.reuse = True

    def __repr__(self):
        return "<VariableScope %r reuse=%r>" % (self.name, self.reuse)


_ROOT = VariableScope("", None, "")
# Per thread and asyncio task, like the name scope itself.
_current = contextvars.ContextVar("tapegrad_variable_scope", default=_ROOT)


def get_variable_scope():
    return _current.get()


class variable_scope:  # noqa: N801  (TF's spelling)
    def __init__(self, name_or_scope, default_name=None, values=None, initializer=None,
                 regularizer=None, caching_device=None, partitioner=None,
                 custom_getter=None, reuse=None, dtype=None, use_resource=None,
                 constraint=None, auxiliary_name_scope=True):
        if isinstance(name_or_scope, VariableScope):
            self._absolute = name_or_scope.original_name_scope
            name = name_or_scope.name
            if reuse is None:
                reuse = name_or_scope.reuse
        else:
            self._absolute = None
            name = name_or_scope if name_or_scope is not None else default_name
            if name is None:
                raise ValueError("variable_scope: give name_or_scope or default_name")
            if not isinstance(name, str):
                raise TypeError("variable_scope: name_or_scope must be a str or a "
                                "VariableScope, got %r" % (name,))
        if reuse not in (None, True, False) and reuse is not AUTO_REUSE:
            raise ValueError("variable_scope: reuse must be True, False, None or "
                             "AUTO_REUSE, got %r" % (reuse,))
        self._name = name
        self._reuse = reuse
        self._inner = None
        self._token = None

    def __enter__(self):
        outer = get_variable_scope()
        # reuse is inherited: a scope inside a reusing scope reuses too, as in TF.
        reuse = True if outer.reuse is True else self._reuse
        self._inner = name_scope(self._absolute if self._absolute else self._name)
        prefix = self._inner.__enter__()
        scope = VariableScope(prefix.rstrip("/"), reuse, prefix)
        self._token = _current.set(scope)
        return scope

    def __exit__(self, exc_type, exc, tb):
        _current.reset(self._token)
        return self._inner.__exit__(exc_type, exc, tb)


class control_dependencies:  # noqa: N801
    """Accepted for TF 1.x code: eager ops already ran in order, so nothing to do."""

    def __init__(self, control_inputs):
        if control_inputs is not None and not isinstance(control_inputs, (list, tuple)):
            raise TypeError("control_dependencies: control_inputs must be a list or None, "
                            "got %s" % type(control_inputs).__name__)

    def __enter__(self):
        return None

    def __exit__(self, exc_type, exc, tb):
        return False


def Print(input_, data, message=None, first_n=None, summarize=None, name=None):  # noqa: N802
    """TF 1.x ``tf.Print``: print ``message`` and ``data`` to stderr, return ``input_``."""
    values = " ".join(_format(d, summarize or 3) for d in data)
    sys.stderr.write("%s%s\n" % (message or "", values))
    return input_

