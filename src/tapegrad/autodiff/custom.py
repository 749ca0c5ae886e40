"""tg.custom_gradient: a function that supplies its own gradient.

The decorated function returns ``(y, grad_fn)``.  Its ops run unrecorded; one record
for the whole call goes on every tape that watches an input, with ``grad_fn`` as the
VJP.  When ``grad_fn`` is written in tapegrad ops, outer tapes record the backward
pass too, so custom gradients compose to higher order.
"""

import functools

from tapegrad import _core
from tapegrad.autodiff import nest
from tapegrad.ops._registry import NotSupported


class _CustomCall:
    """The VJP of one custom_gradient call, holding its grad_fn and variables."""

    def __init__(self, name, grad_fn, n_inputs, variables):
        self.name = name
        self.grad_fn = grad_fn
        self.n_inputs = n_inputs
        self.variables = variables


def _custom_vjp(g, ans, *inputs, call):
    if call.variables:
        try:
            out = call.grad_fn(g, variables=call.variables)
        except TypeError as e:
            if "variables" not in str(e):
                raise
            raise TypeError("custom_gradient %s: the function reads variables %s, so its "
                            "grad_fn must accept a `variables=` keyword and return "
                            "(input_grads, variable_grads)"
                            % (call.name, [v.name for v in call.variables])) from None
        if not (isinstance(out, (tuple, list)) and len(out) == 2):
            raise ValueError("custom_gradient %s: grad_fn(dy, variables=...) must return "
                             "(input_grads, variable_grads)" % call.name)
        in_grads, var_grads = out
        in_grads = list(in_grads) if isinstance(in_grads, (list, tuple)) else [in_grads]
        var_grads = list(var_grads)
        if len(var_grads) != len(call.variables):
            raise ValueError("custom_gradient %s: grad_fn returned %d variable gradients for "
                             "%d variables" % (call.name, len(var_grads), len(call.variables)))
    else:
        out = call.grad_fn(g)
        in_grads = list(out) if isinstance(out, (list, tuple)) else [out]
        var_grads = []
    if len(in_grads) != call.n_inputs:
        raise ValueError("custom_gradient %s: grad_fn returned %d gradients for %d inputs"
                         % (call.name, len(in_grads), call.n_inputs))
    result = []
    for i, gi in enumerate(in_grads + var_grads):
        if gi is None:
            result.append(None)
            continue
        gi = gi if isinstance(gi, _core.Tensor) else _core.convert(gi, None, call.name)
        want = inputs[i].shape
        if gi.shape != want:
            try:
                from tapegrad.ops.shape import sum_to

                gi = sum_to(gi, want)
            except ValueError:
                raise ValueError("custom_gradient %s: gradient %d has shape %s, expected %s"
                                 % (call.name, i, gi.shape, want)) from None
        result.append(gi)
    return tuple(result)


def _never_called(*arrays, call):
    """Custom-gradient calls are recorded directly; this primitive is never dispatched."""
    raise TypeError("custom_gradient: apply it with the @tg.custom_gradient decorator")


_prim = _core.Primitive("custom_gradient", _never_called, save_inputs=True, save_output=False)
_prim.defvjp(_custom_vjp)
# the user's grad_fn is the only rule there is: forward mode transposes it
_prim.defjvp_by_transposition()
# ONNX: never a graph node (tg.function traces the forward's own ops, which export)
_prim.defrule("onnx", NotSupported("custom_gradient calls are exported through the ops "
                                   "of their forward"))
_prim.defrule("taylor", NotSupported("never a graph node: tg.jet traces the forward's own "
                                     "ops"))
_prim.defrule("batch", NotSupported("never a graph node: tg.vmap traces the forward's "
                                    "own ops"))
_core.register(_prim)


def custom_gradient(f=None):
    """Decorator: ``f(*args) -> (y, grad_fn)`` with ``grad_fn(dy) -> input grads``."""
    if f is None:
        return custom_gradient
    name = getattr(f, "__name__", "custom_gradient")

    @functools.wraps(f)
    def wrapper(*args, **kwargs):
        inputs = [a if isinstance(a, (_core.Tensor, _core.BaseVariable)) or a is None
                  else _core.convert(a, None, name) for a in args]
        tensors = [a.read_value() if isinstance(a, _core.BaseVariable) else a for a in inputs]
        # run the forward unrecorded, but see which trainable variables it reads
        from tapegrad.autodiff.tape import GradientTape

        # The forward runs recorded, as in TensorFlow: grad_fn may use its intermediate
        # values (the guide's e = exp(x)), and outer tapes differentiate through them.
        with GradientTape() as probe:
            result = f(*args, **kwargs)
        if not isinstance(result, (tuple, list)) or len(result) != 2:
            # unpacking a bare tensor would fail with "iteration over a 0-d tensor"
            raise TypeError("custom_gradient %s: the function must return (y, grad_fn), got "
                            "%s" % (name, type(result).__name__))
        y, grad_fn = result
        variables = [v for v in probe.watched_variables()
                     if not any(v is a for a in inputs)]
        if not callable(grad_fn):
            raise TypeError("custom_gradient %s: the function must return (y, grad_fn)" % name)
        flat_y = nest.flatten(y)
        if len(flat_y) != 1:
            raise ValueError("custom_gradient %s: only single-tensor outputs are supported, "
                             "got %d outputs" % (name, len(flat_y)))
        y_t = flat_y[0] if isinstance(flat_y[0], _core.Tensor) else _core.convert(
            flat_y[0], None, name)
        # a fresh Tensor over the same value, recorded as the output of one custom op
        out = _core._wrap_device(y_t._data)
        present = [t for t in tensors if t is not None]
        rec_inputs = present + [v._peek() for v in variables]
        for v in variables:
            v.read_value()  # register the read with active tapes
        call = _CustomCall(name, grad_fn, len(present), variables)
        _core._record_external(_prim, tuple(rec_inputs), out, {"call": call})
        return nest.pack_sequence_as(y, [out]) if not isinstance(y, _core.Tensor) else out

    return wrapper

