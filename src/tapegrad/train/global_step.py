"""The process-wide global step (``tf.train.get_or_create_global_step``)."""

import threading

__all__ = ["get_or_create_global_step", "get_global_step"]

_lock = threading.Lock()
_global_step = None


def get_or_create_global_step():
    """Return the process-wide step counter, creating it on first use.

    A non-trainable int64 scalar ``tg.Variable`` named ``"global_step"`` starting at 0.
    Optimizers' ``apply_gradients(..., global_step=)`` and summaries read it; it can be
    put in a ``tg.train.Checkpoint`` like any variable.
    """
    global _global_step
    step = _global_step
    if step is not None:
        return step
    with _lock:
        if _global_step is None:
            import tapegrad

            # On the host whatever device scope is active: it is read by Python code
            # (summaries, checkpoint numbering) far more often than by kernels.
            with tapegrad.device("/cpu:0"):
                _global_step = tapegrad.Variable(
                    0, trainable=False, name="global_step", dtype=tapegrad.int64
                )
        return _global_step


def get_global_step():
    """Return the global step variable, or ``None`` if it was never created."""
    return _global_step


def _reset_for_tests():
    """Forget the global step so the next ``get_or_create_global_step`` makes a new one."""
    global _global_step
    with _lock:
        _global_step = None
