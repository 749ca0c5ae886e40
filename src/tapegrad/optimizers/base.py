"""The ``Optimizer`` base class: gradient application, slots and step counting.

Subclasses give the update rule twice: ``_apply_dense_numpy`` updates a CPU variable's
storage in place with NumPy ufuncs (``out=``, into one reusable scratch buffer), and
``_apply_dense_tensor`` writes the same rule in tapegrad ops for variables on a GPU.
In-place writes go through ``Variable._inplace_array()``, which gives the variable a
private copy first if a tape or a user still holds its current value, so a saved
forward value never changes under a tape.
"""

import numpy as np

import tapegrad as tg
from tapegrad import tracking
from tapegrad.ops.indexed_slices import IndexedSlices
from tapegrad.optimizers.sparse import apply_sparse_numpy

__all__ = ["Optimizer"]


def _host_gradient(grad, variable, where):
    """``grad`` as a NumPy array of the variable's dtype and shape (a view when possible)."""
    if isinstance(grad, (tg.Tensor, tg.Variable)):
        arr = grad.numpy()
    else:
        arr = np.asarray(grad)
    if arr.dtype != variable.dtype:
        if arr.dtype.kind not in "biuf":
            raise TypeError(
                f"{where}: gradient for {variable.name!r} has non-numeric dtype {arr.dtype}"
            )
        arr = arr.astype(variable.dtype)
    if arr.shape != tuple(variable.shape):
        raise ValueError(
            f"{where}: gradient shape {arr.shape} does not match variable {variable.name!r} "
            f"of shape {tuple(variable.shape)}"
        )
    return arr


class Optimizer(tracking.Trackable):
    """Base class of the optimizers (TF 1.x ``tf.train.Optimizer`` semantics).

    ``learning_rate`` is a number or a zero-argument callable returning one (a
    schedule); it is evaluated once per ``apply_gradients``.  ``iterations`` is an
    int64 variable counting the applied steps: it drives Adam's bias correction and is
    saved by checkpoints, so a restored optimizer continues exactly.
    """

    # Slot names in creation order, e.g. ("m", "v").
    _slot_names = ()
    # Initial value of each slot, by name (default 0).
    _slot_init = {}

    def __init__(self, learning_rate, name, clipnorm=None, clipvalue=None,
                 global_clipnorm=None):
        if not callable(learning_rate):
            learning_rate = self._check_hyper("learning_rate", learning_rate, low=0.0)
        self.__dict__["_learning_rate"] = learning_rate
        self.__dict__["_name"] = name
        # {slot_name: {id(variable): (variable, slot)}}; the tuple's strong reference
        # keeps id(variable) from being reused while the entry lives.
        self.__dict__["_slots"] = {}
        self.__dict__["_scratch"] = {}
        self.iterations = tg.Variable(0, trainable=False, name=f"{name}/iterations",
                                      dtype=tg.int64)
        # Keras' gradient clipping (issue 21), applied by apply_gradients
        from tapegrad.optimizers.clipping import check_clipping

        self.__dict__["_clipping"] = check_clipping(type(self).__name__, clipnorm, clipvalue,
                                                    global_clipnorm)

    def _check_hyper(self, what, value, low=None, high=None, low_open=False):
        where = type(self).__name__
        try:
            value = float(value)
        except (TypeError, ValueError):
            raise TypeError(f"{where}: {what} must be a number, got {value!r}") from None
        if not np.isfinite(value) or (low is not None and (value < low or (
                low_open and value == low))) or (high is not None and value > high):
            bounds = f"{'(' if low_open else '['}{low}, {'inf' if high is None else high}]"
            raise ValueError(f"{where}: {what} must be in {bounds}, got {value}")
        return value

    @property
    def name(self):
        return self._name

    @property
    def learning_rate(self):
        """The learning rate as given: a number or a callable schedule."""
        return self._learning_rate

    @learning_rate.setter
    def learning_rate(self, value):
        if not callable(value):
            value = self._check_hyper("learning_rate", value, low=0.0)
        self.__dict__["_learning_rate"] = value

    def _current_learning_rate(self):
        lr = self._learning_rate
        if callable(lr):
            lr = lr()
            try:
                lr = float(np.asarray(lr))
            except (TypeError, ValueError):
                raise TypeError(
                    f"{type(self).__name__}: the learning_rate schedule must return a number, "
                    f"got {lr!r}"
                ) from None
        return lr

    # ------------------------------------------------------------------ slots

    def get_slot_names(self):
        """Names of the per-variable slots this optimizer creates, e.g. ``["m", "v"]``."""
        return list(self._slot_names)

    def get_slot(self, var, name):
        """The slot ``name`` of ``var``, or ``None`` if it does not exist (yet)."""
        entry = self._slots.get(name, {}).get(id(var))
        return None if entry is None else entry[1]

    def variables(self):
        """The optimizer's own variables: ``iterations`` and every slot created so far."""
        out = [self.iterations]
        for name in self._slot_names:
            out.extend(slot for _, slot in self._slots.get(name, {}).values())
        return out

    def _get_or_create_slots(self, var):
        found = []
        for slot_name in self._slot_names:
            by_var = self._slots.setdefault(slot_name, {})
            entry = by_var.get(id(var))
            if entry is None:
                with tg.device(var.device):
                    initial = np.full(tuple(var.shape), self._slot_init.get(slot_name, 0.0),
                                      dtype=var.dtype)
                    slot = tg.Variable(initial, trainable=False, name=f"{var.name}/{slot_name}",
                                       dtype=var.dtype)
                by_var[id(var)] = (var, slot)
                tracking.slot_created(self, var, slot_name, slot)
            else:
                slot = entry[1]
            found.append(slot)
        return found

    # ------------------------------------------------------------------ updates

    def _scratch_like(self, arr):
        """A writable buffer of ``arr``'s shape and dtype, reused across variables and steps."""
        buf = self._scratch.get(arr.dtype)
        if buf is None or buf.size < arr.size:
            buf = np.empty(arr.size, dtype=arr.dtype)
            self._scratch[arr.dtype] = buf
        return buf[: arr.size].reshape(arr.shape)

    def _count_step(self, counter, step):
        # the step counter in place (an int64 assign_add costs more than a small update)
        if self._updates_in_place(counter):
            counter._inplace_array()[...] = step
        else:
            counter.assign(step)

    @staticmethod
    def _updates_in_place(var):
        """CPU variables are updated through NumPy views; others with tapegrad ops."""
        return var.device.startswith("/cpu")

    def _prepare(self, lr, step):
        """Per-step constants shared by every variable (``step`` counts from 1)."""
        return {"lr": lr}

    def _apply_dense_numpy(self, grad, var_arr, slots, hyper):
        raise TypeError(f"{type(self).__name__} does not define a CPU update rule")

    def _apply_dense_tensor(self, grad, var, slots, hyper):
        raise TypeError(f"{type(self).__name__} does not define a tensor update rule")

    def apply_gradients(self, grads_and_vars, global_step=None, name=None):
        """Apply one update to each variable from its gradient.

        ``grads_and_vars`` is an iterable of ``(gradient, variable)`` pairs, e.g.
        ``zip(tape.gradient(loss, model.variables), model.variables)``.  Pairs whose
        gradient is ``None`` (a variable the loss does not depend on) are skipped without
        a warning, as in TensorFlow; if every gradient is ``None`` this raises
        ``ValueError``, since nothing could be trained.  ``iterations`` and, if given,
        ``global_step`` are incremented by one.
        """
        where = f"{type(self).__name__}.apply_gradients"
        pairs = []
        seen = set()
        skipped = []
        for item in grads_and_vars:
            try:
                grad, var = item
            except (TypeError, ValueError):
                raise TypeError(f"{where}: expected (gradient, variable) pairs, got {item!r}") \
                    from None
            if not isinstance(var, tg.Variable):
                raise TypeError(f"{where}: expected a tg.Variable, got {type(var).__name__}")
            if id(var) in seen:
                raise ValueError(f"{where}: variable {var.name!r} appears more than once")
            seen.add(id(var))
            if var.dtype.kind != "f":
                raise TypeError(
                    f"{where}: variable {var.name!r} has dtype {var.dtype}; only floating "
                    "variables can be trained"
                )
            if grad is None:
                skipped.append(var.name)
                continue
            pairs.append((grad, var))
        if not pairs:
            raise ValueError(
                f"{where}: no gradients provided for any variable ({skipped or 'empty list'}); "
                "check that the loss depends on the variables"
            )
        if self._clipping:
            from tapegrad.optimizers.clipping import clip_pairs

            pairs = clip_pairs(pairs, self._clipping)
        lr = self._current_learning_rate()
        step = int(self.iterations.numpy()) + 1
        hyper = self._prepare(lr, step)
        apply_numpy = self._apply_dense_numpy
        for grad, var in pairs:
            slots = self._get_or_create_slots(var)
            if type(grad) is IndexedSlices:
                # a row lookup's gradient: touched rows only on CPU (issue 21)
                if self._updates_in_place(var):
                    apply_sparse_numpy(self, grad, var, slots, hyper, where)
                    continue
                grad = grad.to_dense()
            if self._updates_in_place(var):
                g = _host_gradient(grad, var, where)
                apply_numpy(g, var._inplace_array(), [slot._inplace_array() for slot in slots],
                            hyper)
            else:
                if not isinstance(grad, (tg.Tensor, tg.Variable)):
                    grad = tg.convert_to_tensor(np.asarray(grad))
                if grad.dtype != var.dtype:
                    grad = tg.cast(grad, var.dtype)
                if tuple(grad.shape) != tuple(var.shape):
                    raise ValueError(
                        f"{where}: gradient shape {tuple(grad.shape)} does not match variable "
                        f"{var.name!r} of shape {tuple(var.shape)}"
                    )
                self._apply_dense_tensor(grad, var, slots, hyper)
        # Keras' weight constraints (issue 21): project right after the update
        for _, var in pairs:
            constraint = getattr(var, "constraint", None)
            if constraint is not None:
                var.assign(constraint(var.read_value()))
        self._count_step(self.iterations, step)
        if global_step is not None:
            global_step.assign_add(1)

    def _gradients(self, loss_fn, var_list, where):
        if not callable(loss_fn):
            raise TypeError(
                f"{where}: loss must be a zero-argument callable (eager execution), got "
                f"{type(loss_fn).__name__}"
            )
        with tg.GradientTape() as tape:
            if var_list is not None:
                var_list = list(var_list)
                for var in var_list:
                    tape.watch(var)
            loss = loss_fn()
        if var_list is None:
            var_list = [v for v in tape.watched_variables() if v.trainable]
        if not var_list:
            raise ValueError(f"{where}: the loss read no trainable variable; nothing to train")
        grads = tape.gradient(loss, var_list)
        return list(zip(grads, var_list)), loss

    def compute_gradients(self, loss_fn, var_list=None):
        """``[(gradient, variable), ...]`` of ``loss_fn()``; see :meth:`minimize`."""
        return self._gradients(loss_fn, var_list,
                               f"{type(self).__name__}.compute_gradients")[0]

    def minimize(self, loss_fn, var_list=None, global_step=None):
        """Compute the gradients of ``loss_fn()`` and apply them; returns the loss.

        ``var_list`` defaults to the trainable variables the loss read.
        """
        grads_and_vars, loss = self._gradients(loss_fn, var_list,
                                               f"{type(self).__name__}.minimize")
        self.apply_gradients(grads_and_vars, global_step=global_step)
        return loss

    def get_config(self):
        lr = self._learning_rate
        return {"name": self._name, "learning_rate": lr if not callable(lr) else repr(lr)}

    def __repr__(self):
        return f"<{type(self).__name__} learning_rate={self._learning_rate!r}>"
