"""GPU forwards for every registered primitive: ``IMPLS[name]`` has exactly the CPU
forward's signature, with CudaArray in place of ndarray.

The core looks an entry up the first time a primitive runs on a GPU tensor.  Ops
without array inputs (fill, eye, range, random_*) also receive ``_device="/gpu:N"``.
"""
import math

import numpy as np

from . import elementwise as ew
from . import host_staged, linalg, nn, reduce, shape
from . import random as rnd
from .array import CudaArray
from .host import host_impls


def _device_index(device):
    if device is None:
        return 0
    if isinstance(device, int):
        return device
    name = str(device).lower()
    if not name.startswith("/gpu:"):
        raise ValueError(f"expected a GPU device like '/gpu:0', got {device!r}")
    return int(name[5:])


def _unary(op):
    def forward(x):
        return ew.unary(op, x)

    forward.__name__ = op
    forward.__doc__ = f"GPU {op} (elementwise)."
    return forward


def _binary(op):
    def forward(x, y):
        return ew.binary(op, x, y)

    forward.__name__ = op
    forward.__doc__ = f"GPU {op} (broadcasting)."
    return forward


def _compare(op):
    def forward(x, y):
        return ew.compare(op, x, y)

    forward.__name__ = op
    return forward


def _predicate(op):
    def forward(x):
        return ew.predicate(op, x)

    forward.__name__ = op
    return forward


def _logical(op):
    def forward(x, y):
        for a in (x, y):
            if a.dtype != np.bool_:
                raise TypeError(f"{op}: expected bool inputs, got {a.dtype}")
        return ew.binary(op, x, y)

    forward.__name__ = op
    return forward


def divide(x, y):
    return ew.true_divide(x, y)


def logical_not(x):
    if x.dtype != np.bool_:
        raise TypeError(f"logical_not: expected a bool input, got {x.dtype}")
    return ew.unary("logical_not", x)


def identity(x):
    return x  # arrays are immutable: sharing is a copy


def zeros_like(x):
    return ew.full(x.shape, 0, x.dtype, x.device_index)


def ones_like(x):
    return ew.full(x.shape, 1, x.dtype, x.device_index)


def add_n(*xs):
    return ew.add_n(list(xs))


def where(cond, x, y):
    return ew.where(cond, x, y)


def cast(x, dtype):
    return ew.cast(x, dtype)


def sparse_softmax_xent(logits, labels):
    """GPU per-example -log softmax(logits)[label] (log-softmax, one-hot, masked sum)."""
    depth = logits.shape[-1]
    axis = logits.ndim - 1
    ls = log_softmax(logits, axis)
    onehot = shape.one_hot(labels, depth, 1, 0, -1, logits.dtype)
    picked = reduce.reduce("sum", ew.binary("multiply", onehot, ls), (axis,), False,
                           "sparse_softmax_xent")
    return ew.unary("negative", picked)


def sparse_softmax_xent_grad(logits, labels, g):
    """GPU (softmax(logits) - onehot(labels)) * g[..., None]."""
    axis = logits.ndim - 1
    onehot = shape.one_hot(labels, logits.shape[-1], 1, 0, -1, logits.dtype)
    diff = ew.binary("subtract", softmax(logits, axis), onehot)
    return ew.binary("multiply", diff, g.reshape(tuple(g.shape) + (1,)))


def softmax_grad(y, g, axis):
    """GPU softmax adjoint y * (g - sum(g * y, axis))."""
    s = reduce.reduce("sum", ew.binary("multiply", g, y), (axis,), True, "softmax_grad")
    return ew.binary("multiply", y, ew.binary("subtract", g, s))


def relu_grad(g, ans):
    """GPU g where ans > 0, else 0."""
    zero = CudaArray.from_scalar(0, ans.dtype, ans.device_index)
    return ew.where(ew.compare("greater", ans, zero), g,
                    CudaArray.from_scalar(0, g.dtype, g.device_index))


def reduce_sum(x, axes, keepdims):
    if x.dtype == np.bool_:
        raise TypeError("reduce_sum: bool tensors cannot be summed; cast them first")
    return reduce.reduce("sum", x, axes, keepdims, "reduce_sum")


def reduce_prod(x, axes, keepdims):
    return reduce.reduce("prod", x, axes, keepdims, "reduce_prod")


def reduce_max(x, axes, keepdims):
    return reduce.reduce("max", x, axes, keepdims, "reduce_max")


def reduce_min(x, axes, keepdims):
    return reduce.reduce("min", x, axes, keepdims, "reduce_min")


def reduce_any(x, axes, keepdims):
    return reduce.reduce_bool("max", x, axes, keepdims)


def reduce_all(x, axes, keepdims):
    return reduce.reduce_bool("min", x, axes, keepdims)


def argmax(x, axis, output_type):
    return reduce.argminmax(True, x, axis, output_type)


def argmin(x, axis, output_type):
    return reduce.argminmax(False, x, axis, output_type)


def softmax(x, axis):
    return reduce.softmax(x, axis, log=False)


def log_softmax(x, axis):
    return reduce.softmax(x, axis, log=True)


def reshape(x, shape):
    return x.reshape(tuple(shape))


def transpose(x, perm):
    return ew.transpose(x, perm)


def broadcast_to(x, shape):
    return ew.broadcast_to(x, shape)


def concat(*xs, axis):
    return shape.concat(list(xs), axis)


def custom_gradient(*arrays, call):
    raise TypeError("custom_gradient: apply it with the @tg.custom_gradient decorator")


def function_call(*arrays, call):
    raise TypeError("function_call: recorded by tg.function calls under a tape only")


def einsum(*xs, equation):
    return linalg.einsum(list(xs), equation)


def matmul(a, b, transpose_a, transpose_b):
    return linalg.matmul(a, b, bool(transpose_a), bool(transpose_b))


def random_normal(shape, mean, stddev, dtype, key, _device=None):
    return rnd.sample("normal", shape, mean, stddev, dtype, key, _device_index(_device),
                      "random_normal")


def random_truncated_normal(shape, mean, stddev, dtype, key, _device=None):
    return rnd.sample("truncated_normal", shape, mean, stddev, dtype, key,
                      _device_index(_device), "random_truncated_normal")


def random_uniform(shape, minval, maxval, dtype, key, _device=None):
    return rnd.sample("uniform", shape, minval, maxval, dtype, key, _device_index(_device),
                      "random_uniform")


def fill(shape, value, dtype, _device=None):
    dtype = np.asarray(value).dtype if dtype is None else np.dtype(dtype)
    dims = tuple(int(d) for d in shape)
    if any(d < 0 for d in dims):
        raise ValueError(f"fill: negative dimension in shape {dims}")
    if dtype.kind in "iu" and not -2**53 <= int(value) <= 2**53:
        # exact for any int64: stage the scalar through the host
        const = CudaArray.from_scalar(value, dtype, _device_index(_device))
        return ew.broadcast_to(const, dims)
    return ew.full(dims, value, dtype, _device_index(_device))


def eye(num_rows, num_columns, dtype, _device=None):
    return ew.eye((), int(num_rows), int(num_columns), 0, np.dtype(dtype), _device_index(_device))


def range_(start, limit, delta, dtype, _device=None):
    dtype = np.dtype(dtype)
    if delta == 0:
        raise ValueError("range: delta must not be zero")
    n = max(0, math.ceil((limit - start) / delta))
    return ew.arange(start, delta, n, dtype, _device_index(_device))


IMPLS = {
    # elementwise arithmetic
    "add": _binary("add"), "subtract": _binary("subtract"), "multiply": _binary("multiply"),
    "divide": divide, "pow": _binary("pow"), "maximum": _binary("maximum"),
    "minimum": _binary("minimum"), "floordiv": _binary("floordiv"),
    "floormod": _binary("floormod"), "safe_mul": _binary("safe_mul"),
    "negative": _unary("negative"), "abs": _unary("abs"), "sign": _unary("sign"),
    "floor": _unary("floor"), "ceil": _unary("ceil"), "round": _unary("round"),
    "square": _unary("square"), "exp": _unary("exp"), "expm1": _unary("expm1"),
    "log": _unary("log"), "log1p": _unary("log1p"), "sqrt": _unary("sqrt"),
    "rsqrt": _unary("rsqrt"), "reciprocal": _unary("reciprocal"), "tanh": _unary("tanh"),
    "sigmoid": _unary("sigmoid"), "sin": _unary("sin"), "cos": _unary("cos"),
    "relu": _unary("relu"), "relu_grad": relu_grad, "sparse_softmax_xent": sparse_softmax_xent,
    "sparse_softmax_xent_grad": sparse_softmax_xent_grad, "softmax_grad": softmax_grad,
    # comparisons and logic
    "equal": _compare("equal"), "not_equal": _compare("not_equal"), "less": _compare("less"),
    "less_equal": _compare("less_equal"), "greater": _compare("greater"),
    "greater_equal": _compare("greater_equal"), "logical_and": _logical("logical_and"),
    "logical_or": _logical("logical_or"), "logical_xor": _logical("logical_xor"),
    "logical_not": logical_not, "is_nan": _predicate("is_nan"),
    "is_finite": _predicate("is_finite"), "is_inf": _predicate("is_inf"),
    # selection, casts, creation
    "where": where, "cast": cast, "zeros_like": zeros_like, "ones_like": ones_like,
    "identity": identity, "stop_gradient": identity, "add_n": add_n, "fill": fill, "eye": eye,
    "range": range_, "random_normal": random_normal,
    "random_truncated_normal": random_truncated_normal, "random_uniform": random_uniform,
    # reductions
    "reduce_sum": reduce_sum, "reduce_prod": reduce_prod, "reduce_max": reduce_max,
    "reduce_min": reduce_min, "reduce_any": reduce_any, "reduce_all": reduce_all,
    "argmax": argmax, "argmin": argmin, "softmax": softmax, "log_softmax": log_softmax,
    # shape and indexing
    "reshape": reshape, "transpose": transpose, "broadcast_to": broadcast_to, "concat": concat,
    "tile": shape.tile, "getitem": shape.getitem, "getitem_grad": shape.getitem_grad,
    "gather": shape.gather, "gather_grad": shape.gather_grad, "one_hot": shape.one_hot,
    "pad": shape.pad, "repeat": shape.repeat,
    # linear algebra and nn
    "matmul": matmul, "einsum": einsum, "conv2d": nn.conv2d,
    "conv2d_backprop_input": nn.conv2d_backprop_input,
    "conv2d_backprop_filter": nn.conv2d_backprop_filter, "max_pool2d": nn.max_pool2d,
    "max_pool2d_grad": nn.max_pool2d_grad, "max_pool2d_select": nn.max_pool2d_select,
    "avg_pool2d": nn.avg_pool2d, "avg_pool2d_grad": nn.avg_pool2d_grad,
    "custom_gradient": custom_gradient, "function_call": function_call,
}
# decompositions, special functions, FFT, complex parts: on the host (cuda/host.py)
IMPLS.update(host_impls())
IMPLS.update(host_staged.impls())  # array ops (h18), staged through the host


def lookup(name):
    """The GPU forward of primitive ``name`` (a precise error if the GPU lacks it)."""
    try:
        return IMPLS[name]
    except KeyError:
        raise RuntimeError(f"{name}: no GPU implementation is registered; run it on "
                                  "the CPU (tensor.cpu() or tg.device('/cpu:0'))") from None
