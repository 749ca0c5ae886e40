"""Function transformations over GradientTape: gradients_function, grad, value_and_grad,
implicit_gradients (TF 1.x eager / JAX style)."""

import functools
import inspect

from tapegrad import _core
from tapegrad.autodiff import nest
from tapegrad.autodiff.tape import GradientTape


def _to_tensor(x):
    if isinstance(x, (_core.Tensor, _core.BaseVariable)):
        return x
    return _core.convert(x, None, "gradients_function")


def _distinct(args, indices):
    """One tensor passed as two differentiated arguments gets a fresh id per position
    (an identity op), so each argument receives its own partial derivative."""
    from tapegrad.ops.elementwise import identity

    seen = set()
    for i in indices:
        a = args[i]
        if isinstance(a, _core.Tensor):
            if a._id in seen and a.dtype.kind == "f":
                args[i] = identity(a)
            seen.add(a._id)
    return args


def _param_indices(f, params, nargs):
    if params is None:
        return list(range(nargs))
    names = list(inspect.signature(f).parameters)
    out = []
    for p in params:
        if isinstance(p, int):
            out.append(p)
        elif p in names:
            out.append(names.index(p))
        else:
            raise ValueError("gradients_function: %r is not a parameter of %s"
                             % (p, getattr(f, "__name__", f)))
    return out


def _value_and_grads(f, args, kwargs, indices):
    args = [_to_tensor(a) for a in args]
    for i in indices:
        if i >= len(args):
            raise ValueError("gradients_function: parameter %d was not passed (got %d "
                             "arguments)" % (i, len(args)))
    args = _distinct(args, indices)
    with GradientTape(persistent=False) as tape:
        for i in indices:
            tape.watch(args[i])
        value = f(*args, **kwargs)
    if not isinstance(value, (_core.Tensor, _core.BaseVariable)):
        value = _core.convert(value, None, "gradients_function")
    grads = tape.gradient(value, [args[i] for i in indices])
    return value, grads


def value_and_gradients_function(f, params=None):
    """Returns fn(*args) -> (f(*args), [df/darg for each arg in ``params``])."""

    @functools.wraps(f)
    def wrapper(*args, **kwargs):
        return _value_and_grads(f, args, kwargs, _param_indices(f, params, len(args)))

    return wrapper


def gradients_function(f, params=None):
    """Returns fn(*args) -> [df/darg ...]; unconnected arguments give None (TF 1.x)."""

    @functools.wraps(f)
    def wrapper(*args, **kwargs):
        return _value_and_grads(f, args, kwargs, _param_indices(f, params, len(args)))[1]

    return wrapper


def implicit_value_and_gradients(f):
    """Returns fn(*args) -> (value, [(grad, variable) for each trainable variable f read])."""

    @functools.wraps(f)
    def wrapper(*args, **kwargs):
        with GradientTape() as tape:
            value = f(*args, **kwargs)
        variables = tape.watched_variables()
        if not variables:
            raise ValueError("implicit_gradients: %s read no trainable variables"
                             % getattr(f, "__name__", "the function"))
        grads = tape.gradient(value, list(variables))
        return value, list(zip(grads, variables))

    return wrapper


def implicit_gradients(f):
    """Returns fn(*args) -> [(grad, variable) for each trainable variable f read]."""
    vg = implicit_value_and_gradients(f)

    @functools.wraps(f)
    def wrapper(*args, **kwargs):
        return vg(*args, **kwargs)[1]

    return wrapper


def value_and_grad(f, argnums=0, has_aux=False):
    """JAX-style: fn(*args) -> (value, grad) (or ((value, aux), grad) with has_aux)."""
    single = isinstance(argnums, int)
    try:
        nums = (argnums,) if single else tuple(argnums)
    except TypeError:
        nums = None
    if nums is None or not all(isinstance(i, int) and not isinstance(i, bool) and i >= 0
                               for i in nums):
        # a str or float argnums would fail later with a bare comparison TypeError
        raise TypeError("grad: argnums must be a non-negative int or a tuple of them, got %r"
                        % (argnums,))

    @functools.wraps(f)
    def wrapper(*args, **kwargs):
        args = list(args)
        for i in nums:
            if i >= len(args):
                raise ValueError("grad: argnums %d but only %d arguments" % (i, len(args)))
            args[i] = nest.map_structure(_to_tensor, args[i])
        args = _distinct(args, nums)
        with GradientTape() as tape:
            for i in nums:
                tape.watch(args[i])
            out = f(*args, **kwargs)
        if has_aux:
            if not (isinstance(out, (tuple, list)) and len(out) == 2):
                raise ValueError("grad(has_aux=True): the function must return (value, aux)")
            value, aux = out
        else:
            value, aux = out, None
        value = _core.convert(value, None, "grad") if not isinstance(
            value, _core.Tensor) else value
        if value.shape != ():
            raise ValueError("grad: the function must return a scalar, got shape %s (use "
                             "tg.jacobian or GradientTape.gradient for non-scalar outputs)"
                             % (value.shape,))
        if value.dtype.kind != "f":
            raise TypeError("grad: the function's output must be floating, got %s"
                            % value.dtype.name)
        grads = tape.gradient(value, [args[i] for i in nums],
                              unconnected_gradients="zero")
        g = grads[0] if single else tuple(grads)
        return ((value, aux), g) if has_aux else (value, g)

    return wrapper


def grad(f, argnums=0, has_aux=False):
    """JAX-style gradient of a scalar function; composes to any order."""
    vg = value_and_grad(f, argnums, has_aux)

    @functools.wraps(f)
    def wrapper(*args, **kwargs):
        out, g = vg(*args, **kwargs)
        return (g, out[1]) if has_aux else g

    return wrapper
