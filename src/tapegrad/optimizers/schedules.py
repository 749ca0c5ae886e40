"""Learning-rate schedules as zero-argument callables (TF 1.x eager semantics).

``tf.train.exponential_decay(lr, global_step, ...)`` in eager mode returns a callable
that reads ``global_step`` each time it is called; an optimizer given such a callable
as ``learning_rate`` evaluates it once per ``apply_gradients``.
"""

import math

import numpy as np

__all__ = ["exponential_decay", "inverse_time_decay", "piecewise_constant"]


def _step_value(global_step, where):
    if callable(global_step) and not hasattr(global_step, "numpy"):
        global_step = global_step()
    try:
        return float(np.asarray(global_step))
    except (TypeError, ValueError):
        raise TypeError(f"{where}: global_step must be a number or a variable, "
                        f"got {global_step!r}") from None


def exponential_decay(learning_rate, global_step, decay_steps, decay_rate, staircase=False):
    """``lr * decay_rate ** (step / decay_steps)`` (floored exponent with ``staircase``)."""
    if decay_steps <= 0:
        raise ValueError(f"exponential_decay: decay_steps must be > 0, got {decay_steps}")

    def schedule():
        p = _step_value(global_step, "exponential_decay") / decay_steps
        return float(learning_rate) * float(decay_rate) ** (math.floor(p) if staircase else p)

    return schedule


def inverse_time_decay(learning_rate, global_step, decay_steps, decay_rate, staircase=False):
    """``lr / (1 + decay_rate * step / decay_steps)`` (floored ratio with ``staircase``)."""
    if decay_steps <= 0:
        raise ValueError(f"inverse_time_decay: decay_steps must be > 0, got {decay_steps}")

    def schedule():
        p = _step_value(global_step, "inverse_time_decay") / decay_steps
        return float(learning_rate) / (1.0 + float(decay_rate) * (math.floor(p) if staircase
                                                                   else p))

    return schedule


def piecewise_constant(x, boundaries, values):
    """``values[i]`` while ``boundaries[i-1] < x <= boundaries[i]`` (TF's convention)."""
    boundaries = [float(b) for b in boundaries]
    values = [float(v) for v in values]
    if len(values) != len(boundaries) + 1:
        raise ValueError(
            f"piecewise_constant: need len(values) == len(boundaries) + 1, got "
            f"{len(values)} values and {len(boundaries)} boundaries"
        )
    if any(b2 < b1 for b1, b2 in zip(boundaries, boundaries[1:])):
        raise ValueError(f"piecewise_constant: boundaries must be increasing, got {boundaries}")

    def schedule():
        step = _step_value(x, "piecewise_constant")
        for boundary, value in zip(boundaries, values):
            if step <= boundary:
                return value
        return values[-1]

    return schedule
