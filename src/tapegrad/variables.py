"""tg.Variable: a named, mutable holder of a tensor value (storage logic in _core)."""

import itertools

import numpy as np

from tapegrad import _core
from tapegrad.scopes import scoped_name

_names = itertools.count()


class Variable(_core.BaseVariable):
    """A mutable tensor value, watched automatically by tapes when trainable.

    ``initial_value`` may be a tensor, array, number or a zero-argument callable.
    Assignments never alter a value that a tape saved: they write in place only when
    nothing else holds the current value (copy-on-write).
    """

    def __init__(self, initial_value=None, trainable=True, name=None, dtype=None,
                 validate_shape=True, **kwargs):
        if initial_value is None:
            raise ValueError("Variable: initial_value is required")
        if callable(initial_value) and not isinstance(initial_value, (_core.Tensor,
                                                                      _core.BaseVariable)):
            initial_value = initial_value()
        if dtype is not None:
            dtype = np.dtype(dtype)
            if isinstance(initial_value, (_core.Tensor, _core.BaseVariable)) and \
                    initial_value.dtype != dtype:
                from tapegrad.ops.elementwise import cast

                initial_value = cast(initial_value, dtype)
        super().__init__(initial_value, trainable=trainable, dtype=dtype)
        # Inside tg.name_scope("s") (or compat's variable_scope) the name is "s/<name>".
        self._name = scoped_name("Variable" if name is None else str(name))
        self._handle_name = self._name + ":0"

    @property
    def name(self):
        return self._handle_name

    # assign, assign_add and assign_sub (TF's signatures) are _core.BaseVariable's own

    def __repr__(self):
        return "<tg.Variable '%s' shape=%s dtype=%s, numpy=%s>" % (
            self._handle_name, self.shape, self.dtype.name,
            np.array2string(self.numpy(), separator=", ", prefix="numpy="))

    def __str__(self):
        return repr(self)

    def __reduce__(self):
        raise TypeError("tg.Variable cannot be pickled; save it with tg.train.Checkpoint")

    def __deepcopy__(self, memo):
        return Variable(self.numpy(), trainable=self.trainable, name=self._name)
