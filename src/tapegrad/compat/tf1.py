"""The TensorFlow 1.x eager-execution names, mapped onto tapegrad.

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

Where a TF 1.x signature differs from tapegrad's (TF 2) one, the name is a thin adapter
with the TF 1.x signature instead of an alias (``tf.nn.dropout(x, keep_prob)``,
``tf.argmax(x, axis, name, dimension)``, ``tf.train.AdamOptimizer(..., use_locking,
name)``, ``tf.losses.*(..., scope, loss_collection, reduction)``, ...): see the
``_v1_*`` modules beside this one, whose docstrings list each difference.

Graph-mode names (``Session``, ``placeholder``, ``global_variables_initializer``) have
no counterpart: tapegrad has no graphs, and accessing one raises an AttributeError that
says so (``_graph_only.py``); other missing names say they are not implemented yet.
``tfe.defun`` and ``tf.function`` are ``tg.function`` (traced graphs).
``tfe.py_func`` calls its function at once (see ``tapegrad.compat.py_func``).
"""

import importlib

from tapegrad import (
    GradientTape,
    Tensor,
    Variable,
    abs,
    add,
    add_n,
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
    expm1,
    eye,
    fill,
    float16,
    float32,
    float64,
    floor,
    floordiv,
    floormod,
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
    not_equal,
    num_gpus,
    one_hot,
    ones,
    ones_like,
    pow,
    random,
    range,
    rank,
    reciprocal,
    reshape,
    round,
    rsqrt,
    sigmoid,
    sign,
    sin,
    split,
    sqrt,
    square,
    stack,
    stop_gradient,
    subtract,
    tanh,
    tensordot,
    tile,
    uint8,
    unstack,
    where,
    zeros,
    zeros_like,
)

# --- array ops and eager control flow (issue 18); the v1 adapters below take precedence
# isort: off
from tapegrad.ops import array as _array  # noqa: E402
from tapegrad.ops.array import *  # noqa: E402,F403
# isort: on

# --- TF 1.x signatures and idioms (issue 16): v1 adapters where the signature differs
# from tapegrad's, eager versions of the TF 1.x control flow and scope helpers.
from tapegrad.compat import _v1_nn as nn  # noqa: E402,I001
from tapegrad.compat._graph_only import missing as _missing
from tapegrad.compat._shims import enable_eager_execution
from tapegrad.compat._v1_control import foldl, foldr, map_fn, scan
from tapegrad.compat._v1_ops import (
    argmax,
    argmin,
    assign,
    assign_add,
    assign_sub,
    count_nonzero,
    expand_dims,
    gather,
    norm,
    pad,
    reduce_all,
    reduce_any,
    reduce_logsumexp,
    reduce_max,
    reduce_mean,
    reduce_min,
    reduce_prod,
    reduce_sum,
    shape,
    size,
    squeeze,
    to_double,
    to_float,
    to_int32,
    to_int64,
    transpose,
)
from tapegrad.compat._v1_scopes import (
    AUTO_REUSE,
    Print,
    VariableScope,
    control_dependencies,
    get_variable_scope,
    print_,
    variable_scope,
)
from tapegrad.compat.py_func import py_func
from tapegrad.dtypes import DType, as_dtype
from tapegrad.scopes import name_scope
from tapegrad.tensor_shape import Dimension, TensorShape, dimension_value

print = print_  # noqa: A001  (tf.print)

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
__all__ += ["assign", "assign_add", "assign_sub", "AUTO_REUSE", "control_dependencies",
            "count_nonzero", "Dimension", "dimension_value", "foldl", "foldr",
            "get_variable_scope", "map_fn", "name_scope", "print", "Print", "scan",
            "TensorShape", "to_double", "to_float", "to_int32", "to_int64", "variable_scope",
            "VariableScope"]
__all__ += [n for n in _array.__all__ if n not in ("gather", "take_along_axis")]

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
            raise _missing(self._name, attr) from None
        value = _resolve(target)
        if not isinstance(target, _Pending):
            self.__dict__[attr] = value
        return value

    def __setattr__(self, attr, value):
        raise AttributeError("%s is a read-only alias namespace" % self._name)

    def __dir__(self):
        return sorted(self._targets)

    def __repr__(self):
        return "<tapegrad.compat.tf1 namespace %s>" % self._name


def _resolve(target):
    if isinstance(target, _Pending):
        try:
            return importlib.import_module(target.module)
        except ModuleNotFoundError as e:
            if e.name != target.module:
                raise
            raise AttributeError(
                "%s is not available yet: it maps to %s, which this tapegrad build does not "
                "have" % (target.name, target.module)) from None
    if callable(target) and getattr(target, "__name__", "").startswith("_keras_"):
        return target()
    if not isinstance(target, str):
        return target
    module_name, _, attr = target.partition(":")
    module = importlib.import_module(module_name)
    return getattr(module, attr) if attr else module


class _Pending:
    """A namespace another module will provide: resolved by name on each access, with a
    clear error until that module exists."""

    def __init__(self, name, module):
        self.name, self.module = name, module


def _keras_losses():
    from tapegrad.compat import _v1_keras as k

    targets = dict(k.LOSSES)
    targets.update(k.LOSS_CLASSES)
    targets["get"] = k.get_loss
    return _Aliases("tf.keras.losses", targets)


def _keras_activations():
    from tapegrad.compat import _v1_keras as k

    return _Aliases("tf.keras.activations", k._activations())


keras = _Aliases("tf.keras", {
    "layers": "tapegrad.layers",
    "Sequential": "tapegrad.models:Sequential",
    "Model": "tapegrad.models:Model",
    "models": "tapegrad.models",
    "metrics": "tapegrad.metrics",
    "initializers": "tapegrad.initializers",
    # issue 16: the rest of the tf.keras namespaces TF 1.x code reaches for.
    "activations": _keras_activations,
    "backend": "tapegrad.backend",
    "losses": _keras_losses,
    "optimizers": _Aliases("tf.keras.optimizers", {
        "SGD": "tapegrad.compat._v1_keras:SGD",
        "Adam": "tapegrad.compat._v1_keras:Adam",
        "RMSprop": "tapegrad.compat._v1_keras:RMSprop",
        "Adagrad": "tapegrad.compat._v1_keras:Adagrad",
        "Optimizer": "tapegrad.optimizers:Optimizer",
        "schedules": "tapegrad.optimizers.schedules",
        "AdamW": "tapegrad.optimizers:AdamW",
        "Adamax": "tapegrad.optimizers:Adamax",
        "Nadam": "tapegrad.optimizers:Nadam",
        "Ftrl": "tapegrad.optimizers:Ftrl",
    }),
    # Keras training loop
    "callbacks": "tapegrad.callbacks",
    "Input": "tapegrad.layers:Input",
    "regularizers": "tapegrad.regularizers",
    "constraints": "tapegrad.constraints",
    # whole-model saving: tf.keras.models.load_model etc. come with tapegrad.models
    "utils": _Aliases("tf.keras.utils", {
        "register_keras_serializable": "tapegrad.saving:register_keras_serializable",
        "get_registered_name": "tapegrad.saving:get_registered_name",
        "get_registered_object": "tapegrad.saving:get_registered_object",
    }),
})

train = _Aliases("tf.train", {
    "Optimizer": "tapegrad.optimizers:Optimizer",
    "GradientDescentOptimizer": "tapegrad.compat._v1_train:GradientDescentOptimizer",
    "MomentumOptimizer": "tapegrad.compat._v1_train:MomentumOptimizer",
    "AdamOptimizer": "tapegrad.compat._v1_train:AdamOptimizer",
    "RMSPropOptimizer": "tapegrad.compat._v1_train:RMSPropOptimizer",
    "AdagradOptimizer": "tapegrad.compat._v1_train:AdagradOptimizer",
    "exponential_decay": "tapegrad.compat._v1_train:exponential_decay",
    "inverse_time_decay": "tapegrad.compat._v1_train:inverse_time_decay",
    "piecewise_constant": "tapegrad.compat._v1_train:piecewise_constant",
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
    "defun": "tapegrad.graph:function",
})

contrib = _Aliases("tf.contrib", {
    "eager": _eager,
    "summary": "tapegrad.compat._v1_summary",
})

test = _Aliases("tf.test", {
    "is_gpu_available": "tapegrad.compat._shims:is_gpu_available",
})

# Whole tapegrad modules under their TF 1.x names, imported on first access.
_MODULES = {
    "losses": "tapegrad.compat._v1_losses",
    "data": "tapegrad.data",
    "layers": "tapegrad.compat._v1_layers",
    "initializers": "tapegrad.initializers",
    "errors": "tapegrad.errors",
    # scientific math (issue 17)
    "linalg": "tapegrad.linalg",
    "math": "tapegrad.math",
    "signal": "tapegrad.signal",
    "spectral": "tapegrad.signal",
    # tf.config.threading.set_intra_op_parallelism_threads (TF >= 1.14)
    "config": "tapegrad.config",
}

# TF 1.x top-level spellings of linalg, special-function and FFT ops (tf.cholesky, ...)
_SCIENTIFIC = {name: "tapegrad.linalg:" + target for name, target in {
    "matrix_inverse": "inv", "matrix_solve": "solve", "cholesky": "cholesky",
    "cholesky_solve": "cholesky_solve", "matrix_triangular_solve": "triangular_solve",
    "matrix_determinant": "det", "log_matrix_determinant": "slogdet",
    "self_adjoint_eig": "eigh", "self_adjoint_eigvals": "eigvalsh", "svd": "svd", "qr": "qr",
    "matrix_solve_ls": "lstsq", "trace": "trace", "matrix_diag": "diag",
    "matrix_diag_part": "diag_part", "diag_part": "diag_part", "matrix_set_diag": "set_diag",
    "matrix_band_part": "band_part", "adjoint": "adjoint", "cross": "cross",
}.items()}
_SCIENTIFIC.update({name: "tapegrad.math:" + name for name in (
    "erf", "erfc", "lgamma", "digamma", "polygamma", "igamma", "igammac", "lbeta", "betainc",
    "zeta", "atan2", "tan", "asin", "acos", "atan", "sinh", "cosh", "asinh", "acosh", "atanh",
    "squared_difference", "reduce_euclidean_norm", "real", "imag", "conj", "angle",
    "complex", "xlogy", "xdivy", "log_sigmoid", "softplus", "divide_no_nan",
    # the rest of TF 1.x's top-level tf.math aliases (tapegrad/ops/math_misc.py)
    "bincount", "confusion_matrix", "invert_permutation", "is_non_decreasing",
    "is_strictly_increasing", "rint", "scalar_mul", "accumulate_n", "zero_fraction",
    "unsorted_segment_sqrt_n", "reciprocal_no_nan")})
_SCIENTIFIC.update({name: "tapegrad.signal:" + name for name in (
    "fft", "ifft", "fft2d", "ifft2d", "fft3d", "ifft3d")})
_SCIENTIFIC.update({"erfinv": "tapegrad.math:erfinv", "ndtri": "tapegrad.math:ndtri",
                    "complex64": "tapegrad.dtypes:complex64",
                    "complex128": "tapegrad.dtypes:complex128"})


# tf.function / tf.print / tf.TensorSpec: tapegrad's graph functions (tapegrad/graph)
_GRAPH = {"function": "function", "print": "print_", "TensorSpec": "TensorSpec"}


def __getattr__(name):
    if name in _GRAPH:
        value = getattr(importlib.import_module("tapegrad.graph"), _GRAPH[name])
        globals()[name] = value
        return value
    if name in _MODULES:
        module = importlib.import_module(_MODULES[name])
        globals()[name] = module
        return module
    if name in _SCIENTIFIC:
        value = _resolve(_SCIENTIFIC[name])
        globals()[name] = value
        return value
    raise _missing("tf", name, module_style=True)


def __dir__():
    return sorted(set(__all__) | set(_MODULES) | set(_GRAPH) | set(_SCIENTIFIC))
