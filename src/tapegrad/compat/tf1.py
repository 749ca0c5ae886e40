"""The TensorFlow 1.x eager-execution names, mapped onto tapegrad (aliases only).

    import tapegrad.compat.tf1 as tf        # instead of: import tensorflow as tf

    tf.enable_eager_execution()
    tfe = tf.contrib.eager
    w = tfe.Variable([[1.0]])
    with tf.GradientTape() as tape:
        loss = w * w
    print(tape.gradient(loss, w))           # tg.Tensor([[2.]], shape=(1, 1), dtype=float32)

Every name here is a tapegrad object under its TF 1.x name (``tf.train.AdamOptimizer``
is ``tg.optimizers.Adam``, ``tf.contrib.eager.metrics`` is ``tg.metrics``, ...); the
README's mapping table lists them.  The namespaces that need the layers, optimizers,
data, checkpoint or summary packages (``keras``, ``train``, ``losses``, ``data``,
``contrib``, ``test``) resolve their members on first access, so this module imports
only tapegrad's core.

Graph-mode names (``Session``, ``placeholder``, ``global_variables_initializer``) have
no counterpart: tapegrad has no graphs.  ``tfe.py_func`` calls its function at once
(see ``tapegrad.compat.py_func``).
"""

import importlib

from tapegrad import (
    GradientTape,
    Tensor,
    Variable,
    abs,
    add,
    add_n,
    argmax,
    argmin,
    bool,
    cast,
    ceil,
    clip_by_global_norm,
    clip_by_norm,
    clip_by_value,
    concat,
    constant,
    convert_to_tensor,
    cos,
    custom_gradient,
    device,
    divide,
    double,
    einsum,
    equal,
    executing_eagerly,
    exp,
    expand_dims,
    expm1,
    eye,
    fill,
    float16,
    float32,
    float64,
    floor,
    floordiv,
    floormod,
    gather,
    global_norm,
    greater,
    greater_equal,
    half,
    identity,
    int8,
    int16,
    int32,
    int64,
    is_finite,
    is_inf,
    is_nan,
    less,
    less_equal,
    linspace,
    log,
    log1p,
    logical_and,
    logical_not,
    logical_or,
    logical_xor,
    matmul,
    matrix_transpose,
    maximum,
    minimum,
    multiply,
    negative,
    nn,
    norm,
    not_equal,
    num_gpus,
    one_hot,
    ones,
    ones_like,
    pad,
    pow,
    random,
    range,
    rank,
    reciprocal,
    reduce_all,
    reduce_any,
    reduce_logsumexp,
    reduce_max,
    reduce_mean,
    reduce_min,
    reduce_prod,
    reduce_sum,
    reshape,
    round,
    rsqrt,
    shape,
    sigmoid,
    sign,
    sin,
    size,
    split,
    sqrt,
    square,
    squeeze,
    stack,
    stop_gradient,
    subtract,
    tanh,
    tensordot,
    tile,
    transpose,
    uint8,
    unstack,
    where,
    zeros,
    zeros_like,
)
from tapegrad.compat._shims import enable_eager_execution
from tapegrad.compat.py_func import py_func
from tapegrad.dtypes import DType, as_dtype
from tapegrad.ops import array as _array
from tapegrad.ops.array import *  # noqa: F403  (array ops and control flow, h18)

__all__ = ["abs", "add", "add_n", "argmax", "argmin", "as_dtype", "bool", "cast", "ceil",
           "clip_by_global_norm", "clip_by_norm", "clip_by_value", "concat", "constant",
           "contrib", "convert_to_tensor", "cos", "custom_gradient", "device", "div",
           "divide", "double", "DType", "einsum", "enable_eager_execution", "equal",
           "executing_eagerly", "exp", "expand_dims", "expm1", "eye", "fill", "float16",
           "float32", "float64", "floor", "floordiv", "floormod", "gather", "global_norm",
           "GradientTape", "greater", "greater_equal", "half", "identity",
           "int16", "int32", "int64", "int8", "is_finite", "is_inf", "is_nan", "keras",
           "less", "less_equal", "lin_space", "linspace", "log", "log1p", "logical_and",
           "logical_not", "logical_or", "logical_xor", "matmul", "matrix_transpose",
           "maximum", "minimum", "mod", "mul", "multiply", "negative", "nn", "norm", "not_equal",
           "num_gpus", "one_hot", "ones", "ones_like", "pad", "pow", "py_func", "random",
           "random_normal", "random_uniform", "range", "rank", "reciprocal", "reduce_all",
           "reduce_any", "reduce_logsumexp", "reduce_max", "reduce_mean", "reduce_min",
           "reduce_prod", "reduce_sum", "reshape", "round", "rsqrt", "set_random_seed", "shape",
           "sigmoid", "sign", "sin", "size", "split", "sqrt", "square", "squeeze", "stack",
           "stop_gradient", "sub", "subtract", "tanh", "Tensor", "tensordot", "test", "tile",
           "train", "transpose", "truediv", "truncated_normal", "uint8", "unstack", "Variable",
           "where", "zeros", "zeros_like"]
__all__ += [n for n in _array.__all__ if n not in ("gather", "take_along_axis")]  # h18

# TF 1.x spellings of core ops.
random_normal = random.normal
random_uniform = random.uniform
truncated_normal = random.truncated_normal
set_random_seed = random.set_seed
div = divide
truediv = divide
mod = floormod
sub = subtract
mul = multiply
lin_space = linspace


class _Aliases:
    """A namespace of TF 1.x names whose tapegrad targets are imported on first use.

    A target is an object, a module path (``"tapegrad.losses"``) or
    ``"module:attribute"``; a resolved target is cached on the instance.
    """

    def __init__(self, name, targets):
        self.__dict__["_name"] = name
        self.__dict__["_targets"] = dict(targets)

    def __getattr__(self, attr):
        try:
            target = self._targets[attr]
        except KeyError:
            raise AttributeError(
                "%s has no attribute %r (tapegrad.compat.tf1 maps the TF 1.x eager names "
                "listed in the README; the native tapegrad API may have it)"
                % (self._name, attr)) from None
        value = _resolve(target)
        self.__dict__[attr] = value
        return value

    def __setattr__(self, attr, value):
        raise AttributeError("%s is a read-only alias namespace" % self._name)

    def __dir__(self):
        return sorted(self._targets)

    def __repr__(self):
        return "<tapegrad.compat.tf1 namespace %s>" % self._name


def _resolve(target):
    if not isinstance(target, str):
        return target
    module_name, _, attr = target.partition(":")
    module = importlib.import_module(module_name)
    return getattr(module, attr) if attr else module


keras = _Aliases("tf.keras", {
    "layers": "tapegrad.layers",
    "Sequential": "tapegrad.models:Sequential",
    "Model": "tapegrad.models:Model",
    "metrics": "tapegrad.metrics",
    "initializers": "tapegrad.initializers",
    "activations": "tapegrad.layers.activations",
})

train = _Aliases("tf.train", {
    "Optimizer": "tapegrad.optimizers:Optimizer",
    "GradientDescentOptimizer": "tapegrad.optimizers:GradientDescent",
    "MomentumOptimizer": "tapegrad.optimizers:Momentum",
    "AdamOptimizer": "tapegrad.optimizers:Adam",
    "RMSPropOptimizer": "tapegrad.optimizers:RMSProp",
    "AdagradOptimizer": "tapegrad.optimizers:Adagrad",
    "exponential_decay": "tapegrad.optimizers.schedules:exponential_decay",
    "inverse_time_decay": "tapegrad.optimizers.schedules:inverse_time_decay",
    "piecewise_constant": "tapegrad.optimizers.schedules:piecewise_constant",
    "Checkpoint": "tapegrad.train:Checkpoint",
    "CheckpointManager": "tapegrad.train:CheckpointManager",
    "latest_checkpoint": "tapegrad.train:latest_checkpoint",
    "get_checkpoint_state": "tapegrad.train:get_checkpoint_state",
    "get_or_create_global_step": "tapegrad.train:get_or_create_global_step",
    "get_global_step": "tapegrad.train:get_global_step",
})

# tf.contrib.eager, the guide's `tfe`.
_eager = _Aliases("tf.contrib.eager", {
    "Variable": Variable,
    "enable_eager_execution": enable_eager_execution,
    "executing_eagerly": executing_eagerly,
    "num_gpus": num_gpus,
    "gradients_function": "tapegrad:gradients_function",
    "value_and_gradients_function": "tapegrad:value_and_gradients_function",
    "implicit_gradients": "tapegrad:implicit_gradients",
    "implicit_value_and_gradients": "tapegrad:implicit_value_and_gradients",
    "custom_gradient": custom_gradient,
    "py_func": "tapegrad.compat.py_func:eager_py_func",
    "metrics": "tapegrad.metrics",
    "Checkpoint": "tapegrad.train:Checkpoint",
    "CheckpointManager": "tapegrad.train:CheckpointManager",
    "Iterator": "tapegrad.data:Iterator",
})

contrib = _Aliases("tf.contrib", {
    "eager": _eager,
    "summary": "tapegrad.summary",
})

test = _Aliases("tf.test", {
    "is_gpu_available": "tapegrad.compat._shims:is_gpu_available",
})

# Whole tapegrad modules under their TF 1.x names, imported on first access.
_MODULES = {
    "losses": "tapegrad.losses",
    "data": "tapegrad.data",
    "layers": "tapegrad.layers",
    "initializers": "tapegrad.initializers",
    "errors": "tapegrad.errors",
}


def __getattr__(name):
    if name in _MODULES:
        module = importlib.import_module(_MODULES[name])
        globals()[name] = module
        return module
    raise AttributeError(
        "module 'tapegrad.compat.tf1' has no attribute %r (it maps the TF 1.x eager names "
        "listed in the README; graph-mode APIs such as Session have no tapegrad "
        "counterpart)" % name)


def __dir__():
    return sorted(set(__all__) | set(_MODULES))
