"""Per-thread summary state: the default writer and the recording policy.

Both live in one ``threading.local`` so that a summary call on the no-op path
costs two attribute reads. Each thread starts with no default writer and with
recording on (TensorFlow 2 semantics: inside ``writer.as_default()`` summaries
are recorded unless a policy says otherwise; wrapping every call in a
``record_summaries_*`` scope, as TensorFlow 1 required, is allowed but optional).
"""

import threading

import numpy as np

__all__ = [
    "record_if",
    "always_record_summaries",
    "never_record_summaries",
    "record_summaries_every_n_global_steps",
    "should_record_summaries",
]


class _SummaryState(threading.local):
    def __init__(self):
        # The default writer, or None; set by SummaryWriter.set_as_default/as_default.
        self.writer = None
        # True, False, or a zero-argument callable evaluated at each summary call.
        self.condition = True


_state = _SummaryState()


def _host_value(x):
    """``x`` as a NumPy array, copying device tensors to the host."""
    if isinstance(x, np.ndarray):
        return x
    to_numpy = getattr(x, "numpy", None)
    if to_numpy is not None and callable(to_numpy):
        return np.asarray(to_numpy())
    return np.asarray(x)


def _truth(value, where):
    """Python bool of a bool, NumPy bool or single-element tensor."""
    if value is True or value is False:
        return value
    arr = _host_value(value)
    if arr.size != 1:
        raise ValueError(
            f"{where}: the recording condition must be a single boolean, "
            f"got shape {arr.shape} and dtype {arr.dtype}"
        )
    if arr.dtype.kind not in "biu":
        raise TypeError(
            f"{where}: the recording condition must be a bool or an integer, "
            f"got dtype {arr.dtype}"
        )
    return bool(arr.reshape(()))


def _condition_holds(condition):
    if condition is True:
        return True
    if condition is False:
        return False
    return _truth(condition(), "should_record_summaries")


def should_record_summaries():
    """True when a default writer is set and the current policy says record."""
    state = _state
    return state.writer is not None and _condition_holds(state.condition)


class _RecordScope:
    """Context manager installing a recording condition for its body.

    Scopes nest: the innermost condition wins, and leaving a scope restores the
    one that was active when it was entered.
    """

    __slots__ = ("_condition", "_saved")

    def __init__(self, condition):
        self._condition = condition
        self._saved = []

    def __enter__(self):
        state = _state
        self._saved.append(state.condition)
        state.condition = self._condition
        return self

    def __exit__(self, exc_type, exc, tb):
        _state.condition = self._saved.pop()
        return False


def record_if(condition):
    """Record summaries in the body only when ``condition`` holds.

    ``condition`` is a bool (or a boolean tensor, read once on entry), or a
    zero-argument callable returning one, which is evaluated at every summary
    call inside the scope.
    """
    if condition is True or condition is False or callable(condition):
        return _RecordScope(condition)
    return _RecordScope(_truth(condition, "record_if"))


def always_record_summaries():
    """Record every summary in the body (given a default writer)."""
    return _RecordScope(True)


def never_record_summaries():
    """Record no summary in the body."""
    return _RecordScope(False)


def _step_value(step, where):
    """An integer step from a Python/NumPy integer, Variable or tensor."""
    if isinstance(step, (int, np.integer)) and not isinstance(step, (bool, np.bool_)):
        return int(step)
    arr = _host_value(step)
    if arr.size != 1 or arr.dtype.kind not in "iu":
        raise TypeError(
            f"{where}: step must be a single integer (Python int, integer array, "
            f"Variable or tensor), got shape {arr.shape} and dtype {arr.dtype}"
        )
    return int(arr.reshape(()))


class _EveryNSteps:
    """Callable condition: true when the step counter is a multiple of n."""

    __slots__ = ("_n", "_global_step")

    def __init__(self, n, global_step):
        self._n = n
        self._global_step = global_step

    def __call__(self):
        step = _step_value(self._global_step, "record_summaries_every_n_global_steps")
        return step % self._n == 0


def record_summaries_every_n_global_steps(n, global_step=None):
    """Record summaries in the body when ``global_step % n == 0``.

    ``global_step`` defaults to ``tapegrad.train.get_or_create_global_step()``.
    The step is read at each summary call, so the scope may wrap a whole
    training loop as well as a single iteration.
    """
    if isinstance(n, (bool, np.bool_)) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(
            f"record_summaries_every_n_global_steps: n must be a positive integer, got {n!r}"
        )
    if global_step is None:
        from tapegrad.train import get_or_create_global_step

        global_step = get_or_create_global_step()
    else:
        # Fail at the scope rather than at the first summary call.
        _step_value(global_step, "record_summaries_every_n_global_steps")
    return _RecordScope(_EveryNSteps(int(n), global_step))
