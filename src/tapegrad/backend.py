"""Keras-backend helpers (``tf.keras.backend``): the default float type of layers, the
fuzz factor, value access and shape queries.

``set_floatx("float64")`` changes the dtype that layers created afterwards use when
given no ``dtype``; ``clear_session()`` resets the automatic layer names (``dense``,
``dense_1``, ...).  ``learning_phase()`` is a plain value (0 unless
``set_learning_phase(1)``): eager layers take ``training=`` instead.
"""

import numpy as np

__all__ = ["epsilon", "set_epsilon", "floatx", "set_floatx", "clear_session", "get_value",
           "set_value", "batch_get_value", "batch_set_value", "shape", "int_shape", "ndim",
           "dtype", "learning_phase", "set_learning_phase", "cast_to_floatx", "is_tensor",
           "zeros", "ones", "constant", "variable", "eval"]

_state = {"epsilon": 1e-7, "floatx": np.dtype(np.float32), "learning_phase": 0}
_session_hooks = []


def epsilon():
    return _state["epsilon"]


def set_epsilon(value):
    _state["epsilon"] = float(value)


def floatx():
    """The default float dtype name of new layers (``"float32"``)."""
    return _state["floatx"].name


def _floatx_dtype():
    return _state["floatx"]


def set_floatx(value):
    dt = np.dtype(value)
    if dt.kind != "f":
        raise ValueError("set_floatx: expected float16, float32 or float64, got %r" % (value,))
    _state["floatx"] = dt


def clear_session():
    """Reset the automatic layer names, and state registered by the compat layers."""
    from tapegrad.layers.base import _reset_name_counters

    _reset_name_counters()
    for hook in list(_session_hooks):
        hook()


def _tensor_types():
    from tapegrad import _core

    return (_core.Tensor, _core.BaseVariable)


def is_tensor(x):
    return isinstance(x, _tensor_types())


def get_value(x):
    """The NumPy value of a tensor or variable."""
    if not is_tensor(x):
        raise TypeError("get_value: expected a tensor or Variable, got %s" % type(x).__name__)
    return x.numpy()


def batch_get_value(xs):
    return [get_value(x) for x in xs]


def set_value(x, value):
    from tapegrad import _core

    if not isinstance(x, _core.BaseVariable):
        raise TypeError("set_value: expected a Variable, got %s" % type(x).__name__)
    x.assign(np.asarray(value, dtype=x.dtype))


def batch_set_value(pairs):
    for x, value in pairs:
        set_value(x, value)


def shape(x):
    """The shape as an int32 tensor (``tf.shape``)."""
    from tapegrad.ops.shape import shape as _shape

    return _shape(x)


def int_shape(x):
    """The shape as a tuple of ints."""
    if is_tensor(x):
        return tuple(x.shape)
    return tuple(np.shape(x))


def ndim(x):
    return len(int_shape(x))


def dtype(x):
    return np.dtype(x.dtype).name


def learning_phase():
    return _state["learning_phase"]


def set_learning_phase(value):
    if value not in (0, 1):
        raise ValueError("set_learning_phase: expected 0 or 1, got %r" % (value,))
    _state["learning_phase"] = int(value)


def cast_to_floatx(x):
    return np.asarray(x, dtype=_state["floatx"])


def zeros(shape, dtype=None, name=None):
    from tapegrad.variables import Variable

    return Variable(np.zeros(shape, dtype=dtype or _state["floatx"]), name=name)


def ones(shape, dtype=None, name=None):
    from tapegrad.variables import Variable

    return Variable(np.ones(shape, dtype=dtype or _state["floatx"]), name=name)


def variable(value, dtype=None, name=None):
    from tapegrad.variables import Variable

    return Variable(np.asarray(value, dtype=dtype or _state["floatx"]), name=name)


def constant(value, dtype=None, shape=None, name=None):
    from tapegrad.ops.creation import constant as _constant

    return _constant(value, dtype=dtype or _state["floatx"], shape=shape)


def eval(x):  # noqa: A001  (Keras' name)
    return get_value(x)
