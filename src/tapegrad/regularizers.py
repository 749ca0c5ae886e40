"""Weight regularizers (Keras' ``tf.keras.regularizers``): penalties added to the loss.

``Dense(64, kernel_regularizer=tg.regularizers.l2(1e-4))`` makes ``model.losses`` hold
``1e-4 * sum(kernel ** 2)``, recomputed from the current weights on every access, and
``fit`` adds ``model.losses`` to the loss it differentiates.  A hand-written loop adds
``tg.add_n(model.losses)`` itself.
"""

import tapegrad as tg

__all__ = ["Regularizer", "L1", "L2", "L1L2", "l1", "l2", "l1_l2", "get", "serialize"]


def _strength(value, what):
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"regularizers: {what} must be a number, got {value!r}") from None
    if not value >= 0.0 or value == float("inf"):
        raise ValueError(f"regularizers: {what} must be finite and >= 0, got {value}")
    return value


class Regularizer:
    """Base class: ``__call__(weights) -> scalar tensor``."""

    def __call__(self, x):
        raise NotImplementedError

    def get_config(self):
        return {}

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class L1L2(Regularizer):
    """``l1 * sum(|x|) + l2 * sum(x ** 2)``."""

    def __init__(self, l1=0.0, l2=0.0):
        self.l1 = _strength(l1, "l1")
        self.l2 = _strength(l2, "l2")

    def __call__(self, x):
        total = None
        if self.l1:
            total = self.l1 * tg.reduce_sum(tg.abs(x))
        if self.l2:
            term = self.l2 * tg.reduce_sum(tg.square(x))
            total = term if total is None else total + term
        return total if total is not None else tg.reduce_sum(x) * 0.0

    def get_config(self):
        return {"l1": self.l1, "l2": self.l2}


class L1(L1L2):
    """``l1 * sum(|x|)`` (Keras' default strength 0.01)."""

    def __init__(self, l1=0.01):
        super().__init__(l1=l1)

    def get_config(self):
        return {"l1": self.l1}


class L2(L1L2):
    """``l2 * sum(x ** 2)`` (Keras' default strength 0.01)."""

    def __init__(self, l2=0.01):
        super().__init__(l2=l2)

    def get_config(self):
        return {"l2": self.l2}


def l1(l1=0.01):
    return L1(l1)


def l2(l2=0.01):
    return L2(l2)


def l1_l2(l1=0.01, l2=0.01):
    return L1L2(l1=l1, l2=l2)


_BY_NAME = {"l1": L1, "l2": L2, "l1_l2": L1L2, "l1l2": L1L2}


def get(identifier):
    """A regularizer from None, a name (``"l2"``), a ``{"class_name", "config"}`` dict,
    or a callable ``weights -> scalar``."""
    if identifier is None or isinstance(identifier, Regularizer):
        return identifier
    if isinstance(identifier, str):
        cls = _BY_NAME.get(identifier.lower())
        if cls is None:
            raise ValueError(f"regularizers.get: unknown regularizer {identifier!r}")
        return cls() if cls is not L1L2 else L1L2(0.01, 0.01)
    if isinstance(identifier, dict):
        name = str(identifier.get("class_name", "")).lower()
        cls = _BY_NAME.get(name)
        if cls is None:
            raise ValueError(f"regularizers.get: unknown regularizer class {name!r}")
        return cls(**identifier.get("config", {}))
    if callable(identifier):
        return identifier
    raise TypeError(f"regularizers.get: expected a name, a dict or a callable, got "
                    f"{identifier!r}")


def serialize(regularizer):
    if isinstance(regularizer, Regularizer):
        return {"class_name": type(regularizer).__name__, "config": regularizer.get_config()}
    return regularizer
