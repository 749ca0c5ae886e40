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
            try:
                dtype = np.dtype(dtype)
            except TypeError:
                raise TypeError("Variable: %r is not a dtype" % (dtype,)) from None
            if isinstance(initial_value, (_core.Tensor, _core.BaseVariable)) and \
                    initial_value.dtype != dtype:
                from tapegrad.ops.elementwise import cast

                initial_value = cast(initial_value, dtype)
        super().__init__(initial_value, trainable=trainable, dtype=dtype)
        shape = kwargs.get("shape")
        if shape is not None and getattr(shape, "rank", 0) is not None:
            # TF checks the declared shape against the initial value (None dims match
            # anything); ignoring it would let a wrong shape pass silently
            want = tuple(shape.as_list() if hasattr(shape, "as_list") else shape)
            have = tuple(self.shape)
            if len(want) != len(have) or any(w is not None and int(w) != h
                                              for w, h in zip(want, have)):
                raise ValueError("Variable: initial value of shape %s does not match the "
                                 "given shape %s" % (have, want))
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
