"""Learning-rate schedules.

Two forms, as in TensorFlow.  The TF 1.x eager functions
(``tf.train.exponential_decay(lr, global_step, ...)``) return a zero-argument callable
that reads ``global_step`` each time it is called.  The schedule objects
(:class:`LearningRateSchedule` subclasses, TF 2's ``ExponentialDecay``...) are called
with the optimizer's step count instead.  An optimizer given either evaluates it once
per ``apply_gradients``.
"""

import math

import numpy as np

__all__ = ["exponential_decay", "inverse_time_decay", "piecewise_constant",
           "LearningRateSchedule", "ExponentialDecay", "InverseTimeDecay",
           "PiecewiseConstantDecay"]


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


class LearningRateSchedule:
    """Base class of schedules called with the step: ``schedule(step) -> number``.

    An optimizer calls it with its ``iterations`` (the number of steps already applied)
    before each step.
    """

    def __call__(self, step):
        raise NotImplementedError(f"{type(self).__name__} must define __call__(step)")

    def get_config(self):
        return {}


def _check_decay_steps(decay_steps, where):
    if not decay_steps > 0:
        raise ValueError(f"{where}: decay_steps must be > 0, got {decay_steps}")
    return decay_steps


class ExponentialDecay(LearningRateSchedule):
    """``initial_learning_rate * decay_rate ** (step / decay_steps)`` (floored with
    ``staircase``)."""

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False):
        self.initial_learning_rate = float(initial_learning_rate)
        self.decay_steps = _check_decay_steps(decay_steps, "ExponentialDecay")
        self.decay_rate = float(decay_rate)
        self.staircase = bool(staircase)

    def __call__(self, step):
        p = _step_value(step, "ExponentialDecay") / self.decay_steps
        return self.initial_learning_rate * self.decay_rate ** (
            math.floor(p) if self.staircase else p)

    def get_config(self):
        return dict(vars(self))


class InverseTimeDecay(LearningRateSchedule):
    """``initial_learning_rate / (1 + decay_rate * step / decay_steps)``."""

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False):
        self.initial_learning_rate = float(initial_learning_rate)
        self.decay_steps = _check_decay_steps(decay_steps, "InverseTimeDecay")
        self.decay_rate = float(decay_rate)
        self.staircase = bool(staircase)

    def __call__(self, step):
        p = _step_value(step, "InverseTimeDecay") / self.decay_steps
        return self.initial_learning_rate / (1.0 + self.decay_rate * (
            math.floor(p) if self.staircase else p))

    def get_config(self):
        return dict(vars(self))


class PiecewiseConstantDecay(LearningRateSchedule):
    """``values[i]`` while ``boundaries[i-1] < step <= boundaries[i]``."""

    def __init__(self, boundaries, values):
        self._fn = piecewise_constant(0, boundaries, values)  # validates both
        self.boundaries = [float(b) for b in boundaries]
        self.values = [float(v) for v in values]

    def __call__(self, step):
        step = _step_value(step, "PiecewiseConstantDecay")
        for boundary, value in zip(self.boundaries, self.values):
            if step <= boundary:
                return value
        return self.values[-1]

    def get_config(self):
        return {"boundaries": list(self.boundaries), "values": list(self.values)}
