"""tg.debugging: why a gradient is None, where a NaN came from, what a tape holds.

- ``tape.explain(target, source)``: the chain of recorded ops from source to target,
  or why there is none (never watched, integer dtype, cut by stop_gradient / a
  non-differentiable op, left tapegrad through NumPy, computed outside the tape, tape
  already used), with the ``file:line`` of each op when call sites are on
  (``GradientTape(debug=True)`` or ``enable_tracebacks()``; off by default, so the
  hot path pays nothing).
- A ``GradientCutWarning`` (once per call site) when a watched tensor goes through
  ``__array__``/a NumPy function while a tape records: the gradient is cut there.
- ``tape.stats()``: ops, tensors and bytes held for the backward pass, by primitive
  and by call site; ``GradientTape(max_bytes=N)`` makes it a limit; a persistent tape
  that lives through many gradient() calls holding much memory warns once.
- ``enable_check_numerics()`` / ``disable_check_numerics()`` (TF's names; also a
  context manager): the first op, forward or backward, or optimizer update that
  produces a NaN or Inf raises ``CheckNumericsError``.  ``check_numerics(t, message)``
  and ``assert_all_finite(t, message)`` check one tensor.
"""

import warnings
import weakref

import numpy as np

from tapegrad import _core, _kernels, _tape
from tapegrad.debugging import numerics as _numerics
from tapegrad.debugging.numerics import CheckNumericsError
from tapegrad.debugging.sites import call_site, user_frame
from tapegrad.debugging.tapedebug import TapeDebug, TapeMemoryError, _fmt


class GradientCutWarning(UserWarning):
    """A watched tensor was converted to a NumPy array while a tape was recording."""


_state = {"tracebacks": False, "leak_bytes": 100 * 2 ** 20}
_warned_tapes = weakref.WeakSet()


def _make_debug(tape, sites, max_bytes):
    return TapeDebug(tape, sites, max_bytes)


def _on_escape(tapes, tensor, how, warned):
    site = call_site(2)
    for core in tapes:
        if core.debug is not None:
            core.debug.on_escape(tensor, how, site)
    if how != "array" or site in warned:
        return
    warned.add(site)
    frame = user_frame(2)
    msg = ("a watched tensor %s %s was converted to a NumPy array while a GradientTape "
           "was recording: the gradient path is cut here (what is computed from the "
           "array is a constant to the tape). Use tapegrad ops instead, or "
           "tape.stop_recording() if this is intended." % (tensor.dtype,
                                                            tuple(tensor.shape)))
    if frame is None:
        warnings.warn(msg, GradientCutWarning, stacklevel=3)
    else:
        warnings.warn_explicit(msg, GradientCutWarning, frame.f_code.co_filename,
                               frame.f_lineno, module=frame.f_globals.get("__name__"),
                               registry=frame.f_globals.setdefault("__warningregistry__",
                                                                   {}))


def _leak_check(tape):
    if tape in _warned_tapes:
        return
    from tapegrad.debugging.stats import stats

    held = stats(tape).bytes
    if held > _state["leak_bytes"]:
        _warned_tapes.add(tape)
        warnings.warn(
            "a persistent GradientTape has served %d gradient() calls and holds %s for "
            "its backward pass: it keeps every recorded op alive until it is deleted. "
            "Delete it (del tape) or use a new tape per step." % (tape._calls, _fmt(held)),
            ResourceWarning, stacklevel=3)


def set_persistent_tape_warning(calls=(100, 1000, 10000, 100000), bytes=100 * 2 ** 20):  # noqa: A002
    """When a persistent tape is checked for the leak warning: after these numbers
    of gradient() calls, warning (once per tape) if it holds more than ``bytes``."""
    _state["leak_bytes"] = int(bytes)
    _tape._set_leak_check(_leak_check, [int(c) for c in calls])


def enable_tracebacks():
    """Every new GradientTape notes call sites, cuts and NumPy escapes (as debug=True)."""
    _state["tracebacks"] = True
    _tape._set_debug(_make_debug, True)


def disable_tracebacks():
    _state["tracebacks"] = False
    _tape._set_debug(_make_debug, False)


def tracebacks_enabled():
    return _state["tracebacks"]


class _NumericsScope:
    """enable_check_numerics() works as a call and as a context manager."""

    def __init__(self, previous):
        self._previous = previous

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        _set_numerics(self._previous)
        return False


def _set_numerics(on):
    _core._set_numerics(bool(on), _numerics.report, _numerics.device_all_finite)
    _tape._set_track_vjp(bool(on))
    _kernels.set_output_checks(bool(on))


def enable_check_numerics():
    """Raise at the first op (forward or backward) or optimizer update that produces a
    NaN or Inf.  Returns a context manager that restores the previous state."""
    previous = _core._numerics_enabled()
    _set_numerics(True)
    return _NumericsScope(previous)


def disable_check_numerics():
    previous = _core._numerics_enabled()
    _set_numerics(False)
    return _NumericsScope(previous)


def check_numerics_enabled():
    return _core._numerics_enabled()


def check_numerics(tensor, message, name=None):
    """``tensor`` unchanged if it is finite, else ``InvalidArgumentError(message ...)``.

    Differentiable (an identity), as TF's: the check applies to the forward value.
    """
    from tapegrad.ops.elementwise import identity

    t = tensor if isinstance(tensor, _core.Tensor) else _core.convert(tensor, None,
                                                                     "check_numerics")
    arr = np.asarray(t._data) if type(t._data) is np.ndarray else np.asarray(t.numpy())
    if arr.dtype.kind in "fc" and not np.isfinite(arr).all():
        raise CheckNumericsError("%s : Tensor had %s values" % (
            message, _numerics._kinds(arr) or "NaN/Inf"))
    return identity(t)


def assert_all_finite(t, msg, name=None):
    """TF 1.x's ``tf.debugging.assert_all_finite(t, msg)``: ``check_numerics``."""
    return check_numerics(t, msg)


_tape._set_debug(_make_debug, False)
_tape._set_leak_check(_leak_check, [100, 1000, 10000, 100000])
_core._set_debug_hooks(_on_escape)

__all__ = ["CheckNumericsError", "GradientCutWarning", "TapeMemoryError",
           "assert_all_finite", "check_numerics", "check_numerics_enabled",
           "disable_check_numerics", "disable_tracebacks", "enable_check_numerics",
           "enable_tracebacks", "set_persistent_tape_warning", "tracebacks_enabled"]
