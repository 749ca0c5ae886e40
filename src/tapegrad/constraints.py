"""Weight constraints (Keras' ``tf.keras.constraints``): projections applied after each
optimizer step.

``Dense(64, kernel_constraint=tg.constraints.max_norm(3))`` sets the kernel Variable's
``constraint``; every optimizer's ``apply_gradients`` assigns ``constraint(value)`` to
such a variable right after updating it.
"""

import tapegrad as tg

__all__ = ["Constraint", "MaxNorm", "NonNeg", "UnitNorm", "MinMaxNorm", "max_norm", "non_neg",
           "unit_norm", "min_max_norm", "get", "serialize"]

_EPSILON = 1e-7


def _axis(axis):
    return [int(a) for a in axis] if isinstance(axis, (list, tuple)) else int(axis)


class Constraint:
    """Base class: ``__call__(weights) -> projected weights``."""

    def __call__(self, w):
        return w

    def get_config(self):
        return {}


class MaxNorm(Constraint):
    """Rescales each slice along ``axis`` whose L2 norm exceeds ``max_value`` to that norm
    (``axis=0``: each column of a Dense kernel, i.e. each unit's incoming weights)."""

    def __init__(self, max_value=2.0, axis=0):
        self.max_value = float(max_value)
        if not self.max_value > 0:
            raise ValueError(f"MaxNorm: max_value must be > 0, got {max_value}")
        self.axis = _axis(axis)

    def __call__(self, w):
        norms = tg.sqrt(tg.reduce_sum(tg.square(w), axis=self.axis, keepdims=True))
        desired = tg.clip_by_value(norms, 0.0, self.max_value)
        return w * (desired / (norms + _EPSILON))

    def get_config(self):
        return {"max_value": self.max_value, "axis": self.axis}


class NonNeg(Constraint):
    """Sets negative weights to zero."""

    def __call__(self, w):
        return tg.nn.relu(w)


class UnitNorm(Constraint):
    """Rescales each slice along ``axis`` to unit L2 norm."""

    def __init__(self, axis=0):
        self.axis = _axis(axis)

    def __call__(self, w):
        norms = tg.sqrt(tg.reduce_sum(tg.square(w), axis=self.axis, keepdims=True))
        return w / (norms + _EPSILON)

    def get_config(self):
        return {"axis": self.axis}


class MinMaxNorm(Constraint):
    """Moves each slice's norm toward ``[min_value, max_value]`` by ``rate`` (1 = all the
    way)."""

    def __init__(self, min_value=0.0, max_value=1.0, rate=1.0, axis=0):
        self.min_value, self.max_value, self.rate = float(min_value), float(max_value), \
            float(rate)
        if not 0 <= self.min_value <= self.max_value:
            raise ValueError(f"MinMaxNorm: need 0 <= min_value <= max_value, got "
                             f"{min_value}, {max_value}")
        self.axis = _axis(axis)

    def __call__(self, w):
        norms = tg.sqrt(tg.reduce_sum(tg.square(w), axis=self.axis, keepdims=True))
        desired = (self.rate * tg.clip_by_value(norms, self.min_value, self.max_value)
                   + (1.0 - self.rate) * norms)
        return w * (desired / (norms + _EPSILON))

    def get_config(self):
        return {"min_value": self.min_value, "max_value": self.max_value, "rate": self.rate,
                "axis": self.axis}


max_norm = MaxNorm
non_neg = NonNeg
unit_norm = UnitNorm
min_max_norm = MinMaxNorm

_BY_NAME = {"max_norm": MaxNorm, "maxnorm": MaxNorm, "non_neg": NonNeg, "nonneg": NonNeg,
            "unit_norm": UnitNorm, "unitnorm": UnitNorm, "min_max_norm": MinMaxNorm,
            "minmaxnorm": MinMaxNorm}


def get(identifier):
    if identifier is None or isinstance(identifier, Constraint):
        return identifier
    if isinstance(identifier, str):
        cls = _BY_NAME.get(identifier.lower())
        if cls is None:
            raise ValueError(f"constraints.get: unknown constraint {identifier!r}")
        return cls()
    if isinstance(identifier, dict):
        cls = _BY_NAME.get(str(identifier.get("class_name", "")).lower())
        if cls is None:
            raise ValueError(f"constraints.get: unknown constraint {identifier!r}")
        return cls(**identifier.get("config", {}))
    if callable(identifier):
        return identifier
    raise TypeError(f"constraints.get: expected a name, a dict or a callable, got "
                    f"{identifier!r}")


def serialize(constraint):
    if isinstance(constraint, Constraint):
        return {"class_name": type(constraint).__name__, "config": constraint.get_config()}
    return constraint
