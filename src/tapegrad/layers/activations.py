"""Activation functions by name, for layers' ``activation=`` arguments."""

import tapegrad as tg

__all__ = ["get", "serialize", "linear", "selu", "swish"]


def linear(x):
    return x


_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def selu(x):
    return tg.where(x > 0, x, tg.nn.elu(x) * _SELU_ALPHA) * _SELU_SCALE


def swish(x):
    return x * tg.nn.sigmoid(x)


def _by_name():
    return {
        "linear": linear,
        "relu": tg.nn.relu,
        "tanh": tg.tanh,
        "sigmoid": tg.nn.sigmoid,
        "softmax": tg.nn.softmax,
        "log_softmax": tg.nn.log_softmax,
        "softplus": tg.nn.softplus,
        "elu": tg.nn.elu,
        "selu": selu,
        "swish": swish,
        "silu": swish,
    }


def get(identifier):
    """``None`` or ``"linear"`` -> identity; a known name -> its function; a callable as is."""
    if identifier is None:
        return linear
    if isinstance(identifier, str):
        fn = _by_name().get(identifier.lower())
        if fn is None:
            raise ValueError(
                f"activations.get: unknown activation {identifier!r}; "
                f"known: {sorted(_by_name())}"
            )
        return fn
    if callable(identifier):
        return identifier
    raise TypeError(
        f"activations.get: expected None, a name or a callable, got {identifier!r}"
    )


def serialize(fn):
    """The name of a built-in activation, or the callable itself."""
    for name, known in _by_name().items():
        if known is fn:
            return name
    return getattr(fn, "__name__", fn)
