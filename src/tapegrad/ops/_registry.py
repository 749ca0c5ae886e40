"""The one op registry: ``@primitive`` defines a forward; ``.defvjp``/``.defjvp`` (or
``.deflinear()``) put its rules beside it (docs/architecture.md §3), and the argument
helpers every op module shares (axes, shapes, dtypes, shape formatting)."""

import sys

import numpy as np

from tapegrad import _core
from tapegrad._core import (  # noqa: F401
    KIND_ANY,
    KIND_BOOL,
    KIND_COMPLEX,
    KIND_FLOAT,
    KIND_INT,
    KIND_NUMERIC,
    with_message,
)

# dtype kinds a primitive accepts.  Complex dtypes count as numeric (add, multiply,
# matmul, reductions...); REAL excludes them for ops that need an order (maximum, less,
# argmax...).  INEXACT is real or complex floating point.
FLOAT = KIND_FLOAT
COMPLEX = KIND_COMPLEX
INEXACT = KIND_FLOAT | KIND_COMPLEX
REAL = KIND_NUMERIC
NUMERIC = KIND_NUMERIC | KIND_COMPLEX
ANY = KIND_ANY | KIND_COMPLEX
INT = KIND_INT
BOOL = KIND_BOOL


class NotSupported:
    """A rule slot filled on purpose with "this transform does not apply", and why."""

    __slots__ = ("reason",)

    def __init__(self, reason):
        self.reason = reason

    def __repr__(self):
        return "NotSupported(%r)" % self.reason


class OnnxOp:
    """The ONNX rule of a primitive that is one ONNX operator on the same operands
    (``add`` -> ``Add``).  Rules run only inside ``tapegrad.onnx.export``, which passes
    the emitting context; nothing here imports onnx."""

    __slots__ = ("op_type", "attrs")

    def __init__(self, op_type, **attrs):
        self.op_type = op_type
        self.attrs = attrs

    def __call__(self, ctx, node):
        return ctx.op(self.op_type, ctx.operands(node), **self.attrs)


def define_rules(kind, rules):
    """Register ``{primitive name: rule}`` as those primitives' rules of transform
    ``kind`` ("taylor", "batch", "onnx", ...): a module's rule table in one call."""
    reg = _core.registered()
    for name, rule in rules.items():
        reg[name].defrule(kind, rule)


def taylor_linear(forward, zero_params=()):
    """The Taylor-mode (tg.jet) rule of a primitive linear in its tensor operand: each
    coefficient goes through ``forward`` on its own, the higher ones with the
    ``zero_params`` (an affine op's constant, such as pad's value) set to 0."""
    def rule(x, *rest, **params):
        out = [forward(x[0], *[r[0] for r in rest], **params)]
        hi = dict(params, **{k: 0 for k in zero_params})
        out += [forward(x[k], *[r[0] for r in rest], **hi) for k in range(1, x.shape[0])]
        return np.stack(out)

    return rule


def onnx_rules(rules):
    """``define_rules("onnx", ...)``, a str being shorthand for a one-operator rule."""
    define_rules("onnx", {name: OnnxOp(rule) if isinstance(rule, str) else rule
                          for name, rule in rules.items()})


def primitive(name, *, differentiable=True, dtypes=ANY, same_dtype=None, save_inputs=True,
              save_output=True, fast_code=-1, quiet=False, args=None, doc=None):
    """Register ``fn`` (the CPU forward on ndarrays) as primitive ``name``.

    ``same_dtype`` lists the argument positions that must share one dtype (default: all);
    ``save_inputs``/``save_output`` say what the VJP reads, so a tape keeps nothing else
    (inputs not saved reach the VJP as shape/dtype descriptors).  ``quiet`` runs the
    forward with NumPy's floating-point warnings off (inf/NaN results are IEEE, as in TF).
    ``args`` names the tensor inputs of a primitive that is itself a public function
    (``tg.add``): they fix its positional count and may be passed by keyword; ``doc``
    is its docstring when the forward has none of its own (a NumPy ufunc).
    """

    def deco(fn):
        prim = _core.Primitive(name, fn, differentiable=differentiable, dtypes=dtypes,
                               same_dtype=same_dtype, save_inputs=save_inputs,
                               save_output=save_output, fast_code=fast_code, quiet=quiet,
                               args=args, doc=doc, module=_caller_module())
        return _core.register(prim)

    return deco


def _caller_module():
    # the op module that registers the primitive (its public function's __module__)
    return sys._getframe(2).f_globals.get("__name__")


def not_differentiable(name, **kw):
    """A primitive whose outputs are never recorded (argmax, comparisons, one_hot...)."""
    return primitive(name, differentiable=False, save_inputs=False, save_output=False, **kw)


def norm_axes(axis, ndim, op):
    """Axis argument → sorted tuple of non-negative ints, validated against ``ndim``."""
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, (list, tuple)):
        axes = list(axis)
    else:
        axes = [axis]
    out = []
    for a in axes:
        if isinstance(a, _core.Tensor):
            a = _tensor_int(a, "axis", op)
        if isinstance(a, (bool, np.bool_)) or not isinstance(a, (int, np.integer)):
            raise TypeError("%s: axis must be an int or a list of ints, got %r" % (op, axis))
        a = int(a)
        if ndim == 0:
            # a scalar reduces over nothing; TF accepts axis 0 / -1 here
            if a not in (0, -1):
                raise ValueError("%s: axis %d is out of range for a rank-0 tensor" % (op, a))
            a = 0
        elif not -ndim <= a < ndim:
            raise ValueError("%s: axis %d is out of range for a rank-%d tensor" % (op, a, ndim))
        else:
            a %= ndim
        if a in out:
            raise ValueError("%s: axis %d is repeated in %r" % (op, a, axis))
        out.append(a)
    if ndim == 0:
        return ()
    return tuple(sorted(out))


def format_shape(shape):
    """``(2, 3)``, ``(3,)``, ``()``: shapes in error messages, as Python prints tuples."""
    shape = tuple(shape)
    return "(%s)" % ", ".join(str(d) for d in shape) if len(shape) != 1 else \
        "(%s,)" % shape[0]


def on_device(array, like):
    """A tensor over the fresh ndarray ``array``, on ``like``'s device."""
    t = _core.wrap(array)
    return t if like is None or like.device == "/cpu:0" else t.to(like.device)


def zeros_on_device(shape, dtype, like):
    """Zeros of ``shape`` and ``dtype`` on ``like``'s device: forward mode's zero
    tangents and cotangents, the Jacobians' unconnected blocks."""
    return on_device(np.zeros(tuple(shape), dtype=dtype), like)


def _tensor_int(t, what, op):
    """The Python int held by a one-element integer tensor or array (an axis, a size...).

    ``int()`` of a float tensor truncates (1.7 -> 1), which would turn a wrong argument
    into a silently wrong result; TF rejects non-integer axes and sizes too.
    """
    a = np.asarray(t.numpy() if isinstance(t, _core.Tensor) else t)
    if a.dtype.kind not in "iu" or a.size != 1:
        raise TypeError("%s: %s must be an int or a one-element integer tensor, got %s of "
                        "shape %s and dtype %s"
                        % (op, what, "a tensor" if isinstance(t, _core.Tensor) else "an array",
                           format_shape(a.shape), a.dtype.name))
    return int(a.reshape(()))


def host_array(value, what, op):
    """An index-like argument (indices, segment ids, a mask, paddings...) as an ndarray.

    NumPy's conversion errors (a ragged nested list: "setting an array element with a
    sequence. The requested array has an inhomogeneous shape...") become a ValueError
    naming the op and the argument.
    """
    try:
        return np.asarray(value.numpy() if isinstance(value, _core.Tensor) else value)
    except (ValueError, TypeError) as e:
        raise type(e)("%s: %s must be a rectangular array, got %s (%s)"
                      % (op, what, type(value).__name__, e)) from None


def int_arg(value, what, op, minimum=None):
    """A count/size argument (depth, k, num, num_segments...) -> a Python int.

    Accepts Python and NumPy integers and one-element integer tensors/arrays; floats,
    bools and strings raise a TypeError naming the op (``int(2.5)`` would truncate
    silently), and values below ``minimum`` a ValueError.
    """
    v = value
    if isinstance(v, _core.BaseVariable):
        v = v.read_value()
    if isinstance(v, (_core.Tensor, np.ndarray)):
        v = _tensor_int(v, what, op)
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)):
        raise TypeError("%s: %s must be an int, got %r (%s)"
                        % (op, what, value, type(value).__name__))
    v = int(v)
    if minimum is not None and v < minimum:
        raise ValueError("%s: %s must be >= %d, got %d" % (op, what, minimum, v))
    return v


def renamed(e, op):
    """``e`` with its message prefixed by ``op:`` (a public op built of helper primitives:
    an error raised inside gather_grad says "scatter_nd: gather_grad: ...")."""
    return with_message(e, "%s: %s" % (op, e))


def norm_axis(axis, ndim, op):
    """A single axis → a non-negative int."""
    if isinstance(axis, _core.Tensor):
        axis = _tensor_int(axis, "axis", op)
    if isinstance(axis, (bool, np.bool_)) or not isinstance(axis, (int, np.integer)):
        raise TypeError("%s: axis must be an int, got %r" % (op, axis))
    if not -ndim <= axis < ndim:
        raise ValueError("%s: axis %d is out of range for a rank-%d tensor" % (op, axis, ndim))
    return int(axis) % ndim


def norm_shape(shape, op):
    """A shape argument (list, tuple, Tensor, int) → tuple of ints (-1 allowed)."""
    if isinstance(shape, (_core.Tensor, _core.BaseVariable)):
        shape = np.asarray(shape).tolist()
    elif isinstance(shape, np.ndarray):
        shape = shape.tolist()
    if isinstance(shape, (int, np.integer)) and not isinstance(shape, bool):
        shape = [shape]
    if not isinstance(shape, (list, tuple)):
        raise TypeError("%s: shape must be a list/tuple of ints, got %r" % (op, shape))
    out = []
    for d in shape:
        if isinstance(d, _core.Tensor):
            d = _tensor_int(d, "shape entry", op)
        if d is None:
            raise ValueError("%s: shape %r has an unknown (None) dimension" % (op, shape))
        if isinstance(d, (bool, np.bool_)) or not isinstance(d, (int, np.integer)):
            raise TypeError("%s: shape entries must be ints, got %r" % (op, shape))
        out.append(int(d))
    return tuple(out)


def as_dtype(dtype, op="dtype"):
    if dtype is None:
        # np.dtype(None) is float64: cast(x, None) would silently become a float64 cast
        raise TypeError("%s: dtype must be given, got None" % op)
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise TypeError("%s: %r is not a dtype" % (op, dtype)) from None
    if dt.kind not in "fiubc":
        raise TypeError("%s: unsupported dtype %s" % (op, dt))
    return dt


def tensor(x, dtype=None, op="convert_to_tensor"):
    return _core.convert(x, dtype, op)



def tensor_list(values, op):
    """A list/tuple argument of tensors (concat, stack, add_n...), validated."""
    if isinstance(values, (_core.Tensor, _core.BaseVariable)) or not isinstance(
            values, (list, tuple)):
        raise TypeError("%s: expected a list of tensors, got %s" % (op, type(values).__name__))
    return [tensor(v, op=op) for v in values]
