"""Tensor creation: constant, zeros/ones/fill, eye, range, linspace."""

import numpy as np

from tapegrad import _core
from tapegrad.ops._registry import (
    NotSupported,
    as_dtype,
    int_arg,
    norm_shape,
    not_differentiable,
    tensor,
)
from tapegrad.ops._registry import onnx_rules as _onnx_rules
from tapegrad.ops.elementwise import add, cast, multiply
from tapegrad.ops.shape import broadcast_to, reshape


def constant(value, dtype=None, shape=None, name=None):
    """A new tensor holding a copy of ``value`` (reshaped or broadcast to ``shape``)."""
    dt = None if dtype is None else as_dtype(dtype, "constant")
    if isinstance(value, (_core.Tensor, _core.BaseVariable)):
        t = tensor(value, op="constant")
        if dt is not None and t.dtype != dt:

            t = cast(t, dt)
    else:
        t = _core.convert(value, dt, "constant")
    if shape is not None:
        shape = norm_shape(shape, "constant")
        if t.size == 1:
            return fill(shape, t.numpy().reshape(()).item(), dtype=t.dtype)

        return reshape(t, shape)
    return t


def convert_to_tensor(value, dtype=None, name=None, dtype_hint=None):
    """A tensor from a tensor, variable, NumPy array, Python number or nested list."""
    dt = None if dtype is None else as_dtype(dtype, "convert_to_tensor")
    if dt is None and dtype_hint is not None and not isinstance(
            value, (_core.Tensor, _core.BaseVariable, np.ndarray)):
        try:
            return _core.convert(value, as_dtype(dtype_hint), "convert_to_tensor")
        except (TypeError, ValueError):
            pass
    return _core.convert(value, dt, "convert_to_tensor")


@not_differentiable("fill")
def _fill(shape, value, dtype):
    """A tensor of ``shape`` filled with ``value``."""
    return np.full(shape, value, dtype=dtype)


def fill(dims, value, dtype=None, name=None):
    """A tensor of shape ``dims`` filled with ``value``."""
    shape = norm_shape(dims, "fill")
    if any(d < 0 for d in shape):
        raise ValueError("fill: negative dimension in shape %s" % (shape,))
    if dtype is None:
        v = tensor(value, op="fill")
        if v.size != 1:
            raise ValueError("fill: value must be a scalar, got shape %s" % (v.shape,))
        dtype, value = v.dtype, v.numpy().reshape(()).item()
    else:
        # the value must fit the dtype (300 as uint8 raises instead of wrapping)
        v = _core.convert(value, as_dtype(dtype, "fill"), "fill")
        if v.size != 1:
            raise ValueError("fill: value must be a scalar, got shape %s" % (v.shape,))
        value = v.numpy().reshape(()).item()
    return _fill(shape=shape, value=value, dtype=as_dtype(dtype, "fill"))


def zeros(shape, dtype=np.float32, name=None):
    """A tensor of zeros of ``shape`` (float32 unless ``dtype`` is given)."""
    return fill(shape, 0, dtype)


def ones(shape, dtype=np.float32, name=None):
    """A tensor of ones of ``shape`` (float32 unless ``dtype`` is given)."""
    return fill(shape, 1, dtype)


@not_differentiable("eye")
def _eye(num_rows, num_columns, dtype):
    """Identity matrix."""
    return np.eye(num_rows, num_columns, dtype=dtype)


def eye(num_rows, num_columns=None, batch_shape=None, dtype=np.float32, name=None):
    """Identity matrices [*batch_shape, num_rows, num_columns]."""
    n = int_arg(num_rows, "num_rows", "eye")
    m = n if num_columns is None else int_arg(num_columns, "num_columns", "eye")
    if n < 0 or m < 0:
        raise ValueError("eye: sizes must be >= 0, got %d x %d" % (n, m))
    out = _eye(num_rows=n, num_columns=m, dtype=as_dtype(dtype, "eye"))
    if batch_shape:
        out = broadcast_to(out, tuple(batch_shape) + (n, m))
    return out


@not_differentiable("range")
def _range(start, limit, delta, dtype):
    """Evenly spaced values in [start, limit)."""
    return np.arange(start, limit, delta, dtype=dtype)


def range(start, limit=None, delta=1, dtype=None, name=None):  # noqa: A001
    """start, start + delta, ... up to (not including) ``limit``, as in tf.range."""
    if limit is None:
        start, limit = 0, start
    vals = [_scalar(v, "range") for v in (start, limit, delta)]
    for v in vals:
        # None (tg.range(None)) would make an empty range; strings reach NumPy's ufuncs
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, float, np.integer,
                                                                 np.floating)):
            raise TypeError("range: start, limit and delta must be real numbers, got %r"
                            % (v,))
        if not np.isfinite(v):
            raise ValueError("range: start, limit and delta must be finite, got %r" % (v,))
    if vals[2] == 0:
        raise ValueError("range: delta must not be zero")
    if dtype is None:
        dtype = np.float32 if any(isinstance(v, float) for v in vals) else np.int32
    return _range(start=vals[0], limit=vals[1], delta=vals[2], dtype=as_dtype(dtype, "range"))


def linspace(start, stop, num, name=None):
    """``num`` evenly spaced values from ``start`` to ``stop``, both included."""
    num = int_arg(num, "num", "linspace")
    if num < 1:
        raise ValueError("linspace: num must be >= 1")
    start_t = tensor(start, op="linspace")
    if start_t.dtype.kind not in "iuf" or start_t.shape.num_elements() != 1:
        raise TypeError("linspace: start must be a real scalar, got shape %s and dtype %s"
                        % (tuple(start_t.shape), start_t.dtype.name))
    stop_v = _scalar(stop, "linspace")
    if isinstance(stop_v, (bool, np.bool_)) or not isinstance(stop_v, (int, float, np.integer,
                                                                       np.floating)):
        raise TypeError("linspace: stop must be a real number, got %r" % (stop,))
    step = (float(stop_v) - float(start_t.numpy().reshape(()))) / max(num - 1, 1)
    try:
        ramp = range(0, num, dtype=start_t.dtype)
    except MemoryError as e:
        raise MemoryError("linspace: cannot allocate %d values (%s)" % (num, e)) from None
    return add(start_t, multiply(ramp, step))


def _scalar(v, op):
    # a one-element tensor/array as a Python number; anything else passes to the caller's
    # type checks (.item() of a vector would raise NumPy's own ValueError)
    if isinstance(v, (_core.Tensor, _core.BaseVariable, np.ndarray)):
        a = np.asarray(v.numpy() if not isinstance(v, np.ndarray) else v)
        if a.size != 1:
            raise TypeError("%s: expected a scalar, got shape %s" % (op, a.shape))
        return a.reshape(()).item()
    return v


def _onnx_evaluate(ctx, node):
    # no tensor inputs: the value is known at export time, so it is stored as a
    # constant (a batch-dependent one cannot be, and says so)
    if ctx.batch is not None and ctx.batch.dims.get(node.outputs[0]):
        raise ValueError("%s: its shape depends on the batch size; build it from a "
                         "tensor's shape instead, or export with dynamic_batch=False"
                         % node.op)
    return ctx.const(node.prim.cpu(*node.args, **node.params))


_onnx_rules({"fill": _onnx_evaluate, "eye": _onnx_evaluate, "range": _onnx_evaluate})
# tg.vmap: no tensor operands, so never batched (their value is shared by every example)
for _name in ("fill", "eye", "range"):
    _core.registered()[_name].defrule("batch", NotSupported("no tensor operands: never "
                                                          "batched"))
