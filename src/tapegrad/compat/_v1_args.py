"""Helpers of the TF 1.x signature adapters: deprecated keyword aliases and the
positional "sentinel" that TF 1.x puts first in its cross-entropy ops."""

_UNSET = object()


def alias(op, name, value, old_name, old_value, default=None):
    """The value of an argument that TF 1.x also accepts under ``old_name``.

    Giving both raises, as TF does; giving neither returns ``default``."""
    if value is not None and old_value is not None:
        raise ValueError("%s: cannot specify both '%s' and '%s' (the TF 1.x name of the same "
                         "argument)" % (op, name, old_name))
    if value is not None:
        return value
    if old_value is not None:
        return old_value
    return default


def no_sentinel(op, sentinel):
    if sentinel is not None:
        raise ValueError("%s: only call with named arguments (labels=..., logits=...), as "
                         "TF 1.x requires" % op)
