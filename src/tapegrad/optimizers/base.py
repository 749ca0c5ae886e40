"""The ``Optimizer`` base class: gradient application, slots and step counting.

Subclasses give the update rule twice: ``_apply_dense_numpy`` updates a CPU variable's
storage in place with NumPy ufuncs (``out=``, into one reusable scratch buffer), and
``_dense_tensor_update`` writes the same rule in tapegrad ops for variables on a GPU,
returning the new values (the base class writes them, all variables at once).  Both
read hyperparameters from the per-step ``hyper`` dict, never from attributes: an
attribute holds what the user gave (maybe a Variable or a schedule).
In-place writes go through ``Variable._inplace_array()``, which gives the variable a
private copy first if a tape or a user still holds its current value, so a saved
forward value never changes under a tape.
"""

import functools
import signal
import threading

import numpy as np

import tapegrad as tg
from tapegrad import _core, tracking
from tapegrad.graph.trace import host_call
from tapegrad.ops.indexed_slices import IndexedSlices
from tapegrad.optimizers import schedules
from tapegrad.optimizers.sparse import apply_sparse_numpy

__all__ = ["Optimizer"]


def _host_gradient(grad, dtype, variable, where):
    """``grad`` as a C-contiguous NumPy array of ``dtype`` and the variable's shape."""
    if isinstance(grad, (tg.Tensor, tg.Variable)):
        arr = grad.numpy()
    else:
        arr = np.asarray(grad)
    if arr.dtype != dtype:
        if arr.dtype.kind not in "biuf":
            raise TypeError(
                f"{where}: gradient for {variable.name!r} has non-numeric dtype {arr.dtype}"
            )
        arr = arr.astype(dtype)
    if arr.shape != tuple(variable.shape):
        raise ValueError(
            f"{where}: gradient shape {arr.shape} does not match variable {variable.name!r} "
            f"of shape {tuple(variable.shape)}"
        )
    # the fused kernels take C-contiguous arrays only; NumPy's fallback would be slower.
    # (ascontiguousarray makes a 0-d array 1-d: a scalar variable's in-place update
    # would then broadcast its slots to shape (1,) and fail; the reshape keeps ())
    return np.ascontiguousarray(arr).reshape(arr.shape)


# Half-precision variables (and their slots) are updated in float32 and stored back:
# in float16, Adam's epsilon (1e-8) rounds to 0 and g**2 underflows, so a zero or tiny
# gradient gave 0/0 = NaN or x/0 = inf (TF and PyTorch compute in float32 too).
_COMPUTE_DTYPE = {np.dtype(np.float16): np.dtype(np.float32)}
@functools.cache
def _check_update():
    # tapegrad.debugging's update check, imported once on first use (optimizers load
    # before the debugging package, and a step must not pay an import statement)
    from tapegrad.debugging.numerics import check_update

    return check_update


# The C-level signal functions: signal.signal/getsignal wrap handlers in enum lookups
# that cost ~15 us a swap, more than a small model's whole update; these cost ~1 us.
_signal_impl = getattr(signal, "_signal", signal)


class _SignalsDeferred:
    """``with _SignalsDeferred():`` runs the block with SIGINT recorded, not raised, and
    re-delivers it (to the handler that was installed) after the block.

    A KeyboardInterrupt between two variables' updates would leave the optimizer torn
    (some variables and slots stepped, ``iterations`` not).  Signal handlers only run in
    the main thread, and only there can KeyboardInterrupt arrive.  A class, not a
    generator context manager: this runs at every step.
    """

    __slots__ = ("previous", "received")

    def __enter__(self):
        self.previous = None
        if threading.current_thread() is not _main_thread:
            return self
        try:
            if _signal_impl.getsignal(signal.SIGINT) is None:
                return self  # installed from C: it could not be put back
            received = self.received = []
            self.previous = _signal_impl.signal(
                signal.SIGINT, lambda signum, frame: received.append(frame))
        except (ValueError, OSError, TypeError):  # no signal support here
            self.previous = None
        return self

    def __exit__(self, *exc_info):
        previous = self.previous
        if previous is None:
            return False
        _signal_impl.signal(signal.SIGINT, previous)
        if self.received:
            if callable(previous):
                previous(signal.SIGINT, self.received[-1])  # default: KeyboardInterrupt
            elif previous == signal.SIG_DFL:
                signal.raise_signal(signal.SIGINT)
        return False


_main_thread = threading.main_thread()


def _is_number(value):
    return isinstance(value, (int, float, np.number)) and not isinstance(value, (bool, np.bool_))


class _Hyper:
    """A hyperparameter attribute: reads give what was set (a number, tensor, Variable,
    callable or schedule); the optimizer resolves it to a number at every step."""

    def __init__(self, name):
        self.name = name

    def __get__(self, obj, owner=None):
        return self if obj is None else obj._hyper[self.name]

    def __set__(self, obj, value):
        obj._set_hyper(self.name, value)


class Optimizer(tracking.Trackable):
    """Base class of the optimizers (TF 1.x ``tf.train.Optimizer`` semantics).

    Hyperparameters (``learning_rate``, Adam's ``beta1``...) may be given, as in
    TensorFlow, as a Python number, a scalar tensor, a ``tg.Variable`` (changed with
    ``assign`` between steps), a zero-argument callable, or a
    ``tg.optimizers.schedules.LearningRateSchedule`` (called with ``iterations``).  Each
    is read at every ``apply_gradients`` and checked then; the attribute returns what
    was given.  ``iterations`` is an int64 variable counting the applied steps: it
    drives Adam's bias correction and is saved by checkpoints, so a restored optimizer
    continues exactly.

    A step is all-or-nothing as seen from Python: everything that can fail (gradients,
    hyperparameters, slots, half-precision updates) is computed first, and the writes
    then run in a block that a KeyboardInterrupt cannot cut (it is delivered after).
    The writes are not journaled (a backup would cost more than Adam's update itself):
    an update rule that raises during them (a bug in a subclass's rule) is not rolled
    back; the built-in rules only do arithmetic on checked, preallocated arrays there.
    """

    # Slot names in creation order, e.g. ("m", "v").
    _slot_names = ()
    # Initial value of each slot, by name (default 0).
    _slot_init = {}
    # {hyperparameter: (low, high, low_open)}, merged over the MRO by _bounds().
    _hyper_bounds = {"learning_rate": (0.0, None, False)}
    # False for rules whose float32/float64 update is one fused kernel (no scratch)
    _uses_scratch = True

    learning_rate = _Hyper("learning_rate")

    def __init__(self, learning_rate, name, clipnorm=None, clipvalue=None,
                 global_clipnorm=None):
        self.__dict__["_hyper"] = {}
        # the checked float of each hyperparameter given as a plain number
        self.__dict__["_hyper_numbers"] = {}
        self.learning_rate = learning_rate
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

    def _bounds(self, name):
        for klass in type(self).__mro__:
            bounds = klass.__dict__.get("_hyper_bounds", {}).get(name)
            if bounds is not None:
                return bounds
        return (None, None, False)

    def _set_hyper(self, name, value):
        """Store ``value`` as given; a plain number is checked (and made a float) now."""
        if _is_number(value):
            self._hyper_numbers[name] = self._check_hyper(name, value, *self._bounds(name))
            self._hyper[name] = value  # returned as given (an int stays an int)
            return
        elif isinstance(value, (bool, np.bool_, str, bytes)) or value is None or not (
                isinstance(value, (tg.Tensor, tg.Variable, np.ndarray)) or callable(value)):
            raise TypeError(
                f"{type(self).__name__}: {name} must be a number, a scalar tensor or "
                f"Variable, a callable or a schedule, got {value!r}")
        self._hyper_numbers.pop(name, None)
        self._hyper[name] = value

    def _resolve_hyper(self, name, iterations):
        """The value of hyperparameter ``name`` for the step after ``iterations`` steps."""
        number = self._hyper_numbers.get(name)
        if number is not None:  # checked when it was set
            return number
        given = value = self._hyper[name]
        if isinstance(value, schedules.LearningRateSchedule):
            value = value(iterations)
        elif callable(value) and not isinstance(value, (tg.Tensor, tg.Variable)):
            value = value()
        if isinstance(value, (tg.Tensor, tg.Variable)):
            value = value.numpy()
        where = type(self).__name__
        arr = np.asarray(value) if not isinstance(value, np.ndarray) else value
        if arr.size != 1 or arr.dtype.kind not in "iuf":
            raise TypeError(f"{where}: {name} must be a real scalar at each step; {given!r} "
                            f"gave {value!r}")
        return self._check_hyper(name, arr.reshape(()).item(), *self._bounds(name))

    @property
    def name(self):
        return self._name

    def _current_learning_rate(self):
        return self._resolve_hyper("learning_rate", int(self.iterations.numpy()))

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

    def _prepare_step(self, hyper, step):
        """Per-step constants from the resolved hyperparameters ``hyper`` (by name)."""
        prepared = dict(hyper)
        prepared.update(self._prepare(hyper["learning_rate"], step))
        return prepared

    def _apply_dense_numpy(self, grad, var_arr, slots, hyper):
        raise TypeError(f"{type(self).__name__} does not define a CPU update rule")

    def _dense_tensor_update(self, grad, var, slots, hyper):
        """The tensor (GPU) rule: ``(new variable value, [new slot values])``, no writes."""
        raise TypeError(f"{type(self).__name__} does not define a tensor update rule")

    def _has_tensor_update(self):
        return type(self)._dense_tensor_update is not Optimizer._dense_tensor_update

    def _apply_dense_tensor(self, grad, var, slots, hyper):
        new_var, new_slots = self._dense_tensor_update(grad, var, slots, hyper)
        for slot, value in zip(slots, new_slots):
            slot.assign(value)
        var.assign(new_var)

    @host_call  # inside tg.function: one graph step that updates the variables on replay
    def apply_gradients(self, grads_and_vars, global_step=None, name=None):
        """Apply one update to each variable from its gradient.

        ``grads_and_vars`` is an iterable of ``(gradient, variable)`` pairs, e.g.
        ``zip(tape.gradient(loss, model.variables), model.variables)``.  Pairs whose
        gradient is ``None`` (a variable the loss does not depend on) are skipped without
        a warning, as in TensorFlow; if every gradient is ``None`` this raises
        ``ValueError``, since nothing could be trained.  ``iterations`` and, if given,
        ``global_step`` are incremented by one.

        All or nothing: if this raises (a bad gradient, a hyperparameter out of range),
        no variable, slot or counter has changed.
        """
        where = f"{type(self).__name__}.apply_gradients"
        pairs = []
        seen = set()
        skipped = []
        if isinstance(grads_and_vars, (str, bytes)) or not hasattr(grads_and_vars, "__iter__"):
            raise TypeError(f"{where}: expected a list of (gradient, variable) pairs, got "
                            f"{type(grads_and_vars).__name__}")
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
            # Keras' clipnorm/clipvalue/global_clipnorm, before anything else
            from tapegrad.optimizers.clipping import clip_pairs

            pairs = clip_pairs(pairs, self._clipping)
        if global_step is not None and not isinstance(global_step, tg.Variable):
            raise TypeError(f"{where}: global_step must be a tg.Variable, got "
                            f"{type(global_step).__name__}")

        # Phase 1: everything that can fail, without changing any value.
        done = int(self.iterations.numpy())
        step = done + 1
        hyper = self._prepare_step({name: self._resolve_hyper(name, done)
                                    for name in self._hyper}, step)
        in_place, copied, tensor_updates, legacy, sparse = [], [], [], [], []
        for grad, var in pairs:
            slots = self._get_or_create_slots(var)
            if type(grad) is IndexedSlices:
                # a row lookup's gradient: touched rows only, on CPU, written in phase 2
                if self._updates_in_place(var) and _COMPUTE_DTYPE.get(var.dtype) is None:
                    sparse.append((grad, var, slots))
                    continue
                grad = grad.to_dense()
            if self._updates_in_place(var):
                compute = _COMPUTE_DTYPE.get(var.dtype)
                if compute is None:
                    g = _host_gradient(grad, var.dtype, var, where)
                    in_place.append((g, var._inplace_array(),
                                     [slot._inplace_array() for slot in slots]))
                    if self._uses_scratch:
                        self._scratch_like(g)  # allocated now, not during the writes
                else:
                    # the whole update, in float32 copies; stored back in phase 2
                    g = _host_gradient(grad, compute, var, where)
                    w = var.numpy().astype(compute)
                    slot_arrays = [slot.numpy().astype(compute) for slot in slots]
                    with np.errstate(all="ignore"):
                        self._apply_dense_numpy(g, w, slot_arrays, hyper)
                    # the storage views now: a copy-on-write allocation cannot fail later
                    targets = [v._inplace_array() for v in (var, *slots)]
                    copied.append((targets, (w, *slot_arrays)))
            else:
                if not isinstance(grad, (tg.Tensor, tg.Variable)):
                    grad = tg.convert_to_tensor(np.asarray(grad))
                if tuple(grad.shape) != tuple(var.shape):
                    raise ValueError(
                        f"{where}: gradient shape {tuple(grad.shape)} does not match variable "
                        f"{var.name!r} of shape {tuple(var.shape)}"
                    )
                compute = _COMPUTE_DTYPE.get(var.dtype, var.dtype)
                if grad.dtype != compute:
                    grad = tg.cast(grad, compute)
                if not self._has_tensor_update():
                    if type(self)._apply_dense_tensor is Optimizer._apply_dense_tensor:
                        raise TypeError(f"{type(self).__name__} does not define a tensor "
                                        "update rule")
                    legacy.append((grad, var, slots))  # a subclass that assigns itself
                    continue
                values = [var.read_value()] + [slot.read_value() for slot in slots]
                if compute != var.dtype:
                    values = [tg.cast(v, compute) for v in values]
                new_var, new_slots = self._dense_tensor_update(grad, values[0], values[1:],
                                                               hyper)
                news = [new_var, *new_slots]
                if compute != var.dtype:
                    news = [tg.cast(v, var.dtype) for v in news]
                tensor_updates.append(((var, *slots), news))

        # Phase 2: the writes, which cannot fail on checked inputs, uninterrupted.
        apply_numpy = self._apply_dense_numpy
        with _SignalsDeferred(), np.errstate(all="ignore"):
            for g, w, slot_arrays in in_place:
                apply_numpy(g, w, slot_arrays, hyper)
            for targets, values in copied:
                for target, value in zip(targets, values):
                    np.copyto(target, value, casting="same_kind")
            for targets, values in tensor_updates:
                for target, value in zip(targets, values):
                    target.assign(value)
            for grad, var, slots in legacy:
                self._apply_dense_tensor(grad, var, slots, hyper)
            for grad, var, slots in sparse:
                apply_sparse_numpy(self, grad, var, slots, hyper, where)
            # Keras' weight constraints: projected right after the update
            for _, var in pairs:
                constraint = getattr(var, "constraint", None)
                if constraint is not None:
                    var.assign(constraint(var.read_value()))
            self._count_step(self.iterations, step)
            if global_step is not None:
                global_step.assign_add(1)
        if _core._numerics_enabled():
            # the fused update kernels bypass the op dispatcher's check
            _check_update()(self, [var for _, var in pairs])

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
        grads = self._gradient_tape(tape).gradient(loss, var_list)
        return self._pairs(zip(grads, var_list)), loss

    def _gradient_tape(self, tape):
        """The tape ``compute_gradients``/``minimize`` take gradients from (a distributed
        optimizer wraps it: tapegrad.distribute)."""
        return tape

    def _pairs(self, pairs):
        return list(pairs)

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

    def _hyper_config(self, name):
        number = self._hyper_numbers.get(name)
        return number if number is not None else repr(self._hyper[name])

    def get_config(self):
        config = {"name": self._name, "learning_rate": self._hyper_config("learning_rate")}
        config.update(self._clipping)  # clipnorm / clipvalue / global_clipnorm, if set
        return config

    @classmethod
    def from_config(cls, config):
        """A new optimizer (no slots, ``iterations`` 0) from ``get_config()``'s output;
        the keys are the constructor's arguments."""
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} learning_rate={self.learning_rate!r}>"
