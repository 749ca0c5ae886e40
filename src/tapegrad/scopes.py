"""Name scopes: ``tg.name_scope("block")`` prefixes the names of variables created in
its body (``"block/w:0"``), as TF's name scopes do in eager mode.

The current prefix lives in a ``ContextVar``, so each thread (and asyncio task) has its
own.  Ops have no names in an eager engine, so a scope affects variable names only.
"""

import contextvars

__all__ = ["name_scope", "current_name_scope", "scoped_name"]

_prefix = contextvars.ContextVar("tapegrad_name_scope", default="")


def current_name_scope():
    """The active prefix, ``""`` or ``"outer/inner/"``."""
    return _prefix.get()


def scoped_name(name):
    """``name`` under the active scope (unchanged outside any scope)."""
    prefix = _prefix.get()
    return prefix + name if prefix else name


class name_scope:  # noqa: N801  (TF's spelling)
    """Context manager prefixing variable names with ``name + "/"``.

    Scopes nest (``"a/b/"``); a name ending in ``"/"`` is absolute and replaces the
    current prefix, and ``None`` or ``""`` resets to the top level, as in TF.  Entering
    returns the new prefix (``"a/b/"``).  ``default_name`` is used when ``name`` is
    None (TF 1.x signature); ``values`` is accepted and ignored.
    """

    __slots__ = ("_name", "_tokens")

    def __init__(self, name, default_name=None, values=None):
        if name is None:
            name = default_name
        if name is not None and not isinstance(name, str):
            raise TypeError("name_scope: name must be a str or None, got %r" % (name,))
        self._name = name
        self._tokens = []

    def __enter__(self):
        name = self._name
        if not name:
            prefix = ""
        elif name.endswith("/"):
            prefix = name
        else:
            prefix = _prefix.get() + name + "/"
        self._tokens.append(_prefix.set(prefix))
        return prefix

    def __exit__(self, exc_type, exc, tb):
        _prefix.reset(self._tokens.pop())
        return False
