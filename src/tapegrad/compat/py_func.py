"""``py_func``: call a Python function on tensor values inside an eager program.

TensorFlow 1.x needed ``tf.py_func`` to run Python code from a graph; under eager
execution it is just a call, and what remains is its contract: the outputs are new
tensors of the declared dtypes (``Tout``), and no gradient flows through the Python
code unless a gradient function is supplied.  Both variants are built on
``tg.custom_gradient``, which runs the function with every tape paused and records the
call as one op whose VJP is the supplied gradient (or ``None`` for every input).

* ``py_func(func, inp, Tout, stateful=True, name=None, grad=None)`` (TF 1.x
  ``tf.py_func``): ``func`` receives NumPy arrays.
* ``eager_py_func(func, inp, Tout, name=None, grad=None)`` (the guide's
  ``tfe.py_func``, TF's ``py_function``): ``func`` receives ``tg.Tensor`` values, so it
  may use tapegrad ops and print tensors.

``grad(*dys)`` receives one upstream gradient per output and returns the gradient for
each input (a tensor, array, number or ``None``; a bare value when there is one input).
Write it in tapegrad ops to make higher-order derivatives work.  With several outputs,
``grad`` is called once per output that receives a gradient, with zeros for the other
outputs, and the results are summed by the tape; this is exact because a gradient is
linear in ``dys``.
"""

import numpy as np

from tapegrad import _core
from tapegrad.autodiff.custom import custom_gradient
from tapegrad.dtypes import as_dtype
from tapegrad.ops.creation import constant, convert_to_tensor
from tapegrad.ops.elementwise import zeros_like

__all__ = ["py_func", "eager_py_func"]


def py_func(func, inp, Tout, stateful=True, name=None, grad=None):
    """Run ``func`` on the NumPy values of ``inp``; return tensors of dtype ``Tout``.

    ``Tout`` is one dtype (a single tensor is returned) or a list of dtypes (a list
    is returned).  ``stateful`` is accepted for TF 1.x compatibility: every call runs
    ``func``.  The result has no gradient unless ``grad`` is given (see module doc).
    """
    return _call(func, inp, Tout, grad, name or "py_func", as_numpy=True)


def eager_py_func(func, inp, Tout, name=None, grad=None):
    """Like :func:`py_func`, but ``func`` receives ``tg.Tensor`` values."""
    return _call(func, inp, Tout, grad, name or "eager_py_func", as_numpy=False)


def _call(func, inp, Tout, grad, where, as_numpy):
    if not callable(func):
        raise TypeError("%s: func must be callable, got %s" % (where, type(func).__name__))
    if grad is not None and not callable(grad):
        raise TypeError("%s: grad must be callable or None, got %s"
                        % (where, type(grad).__name__))
    if not isinstance(inp, (list, tuple)):
        raise TypeError("%s: inp must be a list of tensors, got %s"
                        % (where, type(inp).__name__))
    single = not isinstance(Tout, (list, tuple))
    touts = [_dtype(t, where) for t in ([Tout] if single else Tout)]
    tensors = [_input(x, i, where) for i, x in enumerate(inp)]

    cache = []

    def outputs():
        # The first recorded output runs func (inside custom_gradient, tapes paused);
        # the others reuse its results, so func runs exactly once per call.
        if not cache:
            args = [t.numpy() for t in tensors] if as_numpy else list(tensors)
            cache.append(_outputs(func(*args), touts, single, where))
        return cache[0]

    if not touts:
        outputs()
        return []
    results = [_recorded_output(k, outputs, tensors, grad, where) for k in range(len(touts))]
    return results[0] if single else results


def _recorded_output(k, outputs, tensors, grad, where):
    """Output ``k`` recorded as one custom-gradient op over all the inputs."""
    n_inputs = len(tensors)

    def forward(*unused_inputs):
        ys = outputs()

        def grad_fn(dy, variables=None):
            if grad is None:
                input_grads = [None] * n_inputs
            else:
                dys = [dy if i == k else zeros_like(y) for i, y in enumerate(ys)]
                input_grads = _input_grads(grad(*dys), n_inputs, where)
            if variables is None:
                return input_grads
            # Variables read inside func get no gradient: py_func differentiates
            # only with respect to its declared inputs.
            return input_grads, [None] * len(variables)

        return ys[k], grad_fn

    forward.__name__ = where
    return custom_gradient(forward)(*tensors)


def _dtype(t, where):
    try:
        return as_dtype(t)
    except (TypeError, ValueError) as e:
        raise TypeError("%s: Tout must be a dtype or a list of dtypes, got %r (%s)"
                        % (where, t, e)) from None


def _input(x, i, where):
    try:
        return convert_to_tensor(x)
    except (TypeError, ValueError) as e:
        raise TypeError("%s: input %d (%s) cannot be converted to a tensor: %s"
                        % (where, i, type(x).__name__, e)) from None


def _outputs(result, touts, single, where):
    """``func``'s result as a list of tensors with the declared dtypes."""
    if not touts:
        if result is not None and not (isinstance(result, (list, tuple)) and not result):
            raise ValueError("%s: Tout is empty but func returned %s"
                             % (where, type(result).__name__))
        return []
    if single:
        values = [result]
    elif isinstance(result, (list, tuple)):
        values = list(result)
    elif len(touts) == 1:
        values = [result]
    else:
        raise ValueError("%s: Tout lists %d dtypes but func returned one %s"
                         % (where, len(touts), type(result).__name__))
    if len(values) != len(touts):
        raise ValueError("%s: Tout lists %d dtypes but func returned %d values"
                         % (where, len(touts), len(values)))
    return [_output(v, dt, i, where) for i, (v, dt) in enumerate(zip(values, touts))]


def _output(value, dtype, i, where):
    if isinstance(value, _core.Tensor) and value.dtype == dtype:
        return value
    if value is None:
        raise ValueError("%s: func returned None for output %d (expected %s)"
                         % (where, i, np.dtype(dtype).name))
    arr = value.numpy() if isinstance(value, (_core.Tensor, _core.BaseVariable)) else \
        np.asarray(value)
    # NumPy code often yields float64 or int64 where float32 or int32 is declared;
    # those narrow within their kind, but a float result for an integer output is an error.
    if arr.dtype != dtype and not np.can_cast(arr.dtype, dtype, "same_kind"):
        raise TypeError("%s: output %d of func has dtype %s, which cannot be cast to the "
                        "declared Tout %s" % (where, i, arr.dtype.name, np.dtype(dtype).name))
    return constant(arr, dtype=dtype)


def _input_grads(out, n_inputs, where):
    grads = list(out) if isinstance(out, (list, tuple)) else [out]
    if len(grads) != n_inputs:
        raise ValueError("%s: grad returned %d gradients for %d inputs"
                         % (where, len(grads), n_inputs))
    return grads
