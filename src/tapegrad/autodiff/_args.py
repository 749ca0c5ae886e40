"""Argument helpers shared by the tape, forward mode and the Jacobians.

A leaf module (it imports no other autodiff module), so tape.py, forward.py and
jacobians.py can all use it without importing each other.
"""

from tapegrad import _core


def zero_mode(unconnected_gradients, what="gradient"):
    """True for unconnected_gradients="zero", False for "none" (TF's enum and its
    ``UnconnectedGradients.ZERO`` spelling too)."""
    mode = str(getattr(unconnected_gradients, "value", unconnected_gradients)).lower()
    if mode.startswith("unconnectedgradients."):
        mode = mode.split(".", 1)[1]
    if mode not in ("none", "zero"):
        raise ValueError("%s: unconnected_gradients must be 'none' or 'zero', got %r"
                         % (what, unconnected_gradients))
    return mode == "zero"


def as_target(t, what="gradient"):
    """A gradient target: a tensor, or a variable's current value."""
    if isinstance(t, _core.BaseVariable):
        return t._peek()
    if not isinstance(t, _core.Tensor):
        raise TypeError("%s: target must be a tensor, got %s" % (what, type(t).__name__))
    return t


def as_tensor(x, what):
    """A tensor (a variable's current value, or ``x`` converted)."""
    if isinstance(x, _core.Tensor):
        return x
    if isinstance(x, _core.BaseVariable):
        return x._peek()
    return _core.convert(x, None, what)
