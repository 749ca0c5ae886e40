"""tapegrad: a fast eager-mode automatic differentiation engine.

``import tapegrad as tg``; the API follows TensorFlow's eager execution (see README).
"""

from tapegrad import _core
from tapegrad import ops as _ops  # registers the primitives (some families on first use)
from tapegrad._core import Tensor
from tapegrad.autodiff.custom import custom_gradient
from tapegrad.autodiff.functional import (
    grad,
    gradients_function,
    implicit_gradients,
    implicit_value_and_gradients,
    value_and_grad,
    value_and_gradients_function,
)
from tapegrad.autodiff.tape import GradientTape
from tapegrad.device import device, executing_eagerly, list_devices, num_gpus
from tapegrad.dtypes import (
    DType,
    as_dtype,
    bool,
    complex64,
    complex128,
    double,
    float16,
    float32,
    float64,
    half,
    int8,
    int16,
    int32,
    int64,
    uint8,
)
from tapegrad.interop import from_dlpack  # DLPack (h18)
from tapegrad.ops.complex import abs, complex, conj, imag, real  # abs: |z| for complex
from tapegrad.ops.creation import (
    constant,
    convert_to_tensor,
    eye,
    fill,
    linspace,
    ones,
    range,
    zeros,
)
from tapegrad.ops.elementwise import (
    add,
    add_n,
    cast,
    ceil,
    cos,
    divide,
    equal,
    exp,
    expm1,
    floor,
    floordiv,
    floormod,
    greater,
    greater_equal,
    identity,
    is_finite,
    is_inf,
    is_nan,
    less,
    less_equal,
    log,
    log1p,
    logical_and,
    logical_not,
    logical_or,
    logical_xor,
    maximum,
    minimum,
    multiply,
    negative,
    not_equal,
    ones_like,
    pow,
    reciprocal,
    round,
    rsqrt,
    safe_mul,
    sigmoid,
    sign,
    sin,
    sqrt,
    square,
    stop_gradient,
    subtract,
    tanh,
    where,
    zeros_like,
)
from tapegrad.ops.indexing import one_hot, pad
from tapegrad.ops.linalg import (
    clip_by_global_norm,
    clip_by_norm,
    clip_by_value,
    einsum,
    global_norm,
    matmul,
    norm,
    tensordot,
)
from tapegrad.ops.reductions import (
    argmax,
    argmin,
    count_nonzero,
    reduce_all,
    reduce_any,
    reduce_logsumexp,
    reduce_max,
    reduce_mean,
    reduce_min,
    reduce_prod,
    reduce_std,
    reduce_sum,
    reduce_variance,
)
from tapegrad.ops.shape import (
    broadcast_to,
    concat,
    expand_dims,
    matrix_transpose,
    rank,
    reshape,
    shape,
    size,
    split,
    squeeze,
    stack,
    tile,
    transpose,
    unstack,
)

# TF 2 idioms that ported TF 1.x code uses (issue 16).
from tapegrad.printing import print_ as print  # noqa: A001,E402
from tapegrad.scopes import name_scope  # noqa: E402
from tapegrad.tensor_shape import Dimension, TensorShape  # noqa: E402
from tapegrad.variables import Variable

# tape debugging (explain, stats, check_numerics): installs its hooks in the engine
from tapegrad import debugging  # noqa: E402  isort: skip

mod = floormod
truediv = divide
sub = subtract
mul = multiply
div = divide

__version__ = "0.1.0"


def _lazy(name):
    import importlib

    return importlib.import_module("tapegrad." + name)


_LAZY = {
    # tg.nn and tg.random: op families that `import tapegrad` defers (tapegrad/ops/__init__.py)
    "nn": "ops.nn", "random": "ops.random",
    "layers": "layers", "optimizers": "optimizers", "losses": "losses", "metrics": "metrics",
    "initializers": "initializers", "data": "data", "datasets": "data.datasets",
    "train": "train", "summary": "summary", "cuda": "cuda", "errors": "errors",
    "compat": "compat", "config": "config", "tracking": "tracking", "backend": "backend",
    "onnx": "onnx",
    "linalg": "linalg", "math": "math", "signal": "signal", "spectral": "signal",
    # Keras training loop
    "callbacks": "callbacks", "regularizers": "regularizers", "constraints": "constraints",
    "numpy": "numpy",
    # tg.models.load_model / model_from_json / clone_model; tg.saving (whole-model files)
    "models": "models", "saving": "saving",
}


# Functions whose modules load on the first use of one of their names (issue 25: importing
# them all was most of `import tapegrad`'s time; tapegrad/ops/__init__.py says which op
# families are deferred): the array ops and control flow (h18; ops/array.py gathers them
# for tg.math and compat.tf1, and tests/test_import_time.py checks this table against
# its __all__), and the graph-based transformations jet and vmap.
_LAZY_FUNCTIONS = {
    name: module
    for module, names in (
        ("ops.control", ("case", "cond", "switch_case", "while_loop")),
        ("ops.cumulative", ("cumprod", "cumsum", "cumulative_logsumexp")),
        ("ops.manip", ("boolean_mask", "meshgrid", "repeat", "reverse", "roll")),
        ("ops.scatter", ("gather", "gather_nd", "scatter_nd", "tensor_scatter_nd_add",
                         "tensor_scatter_nd_max", "tensor_scatter_nd_min",
                         "tensor_scatter_nd_sub", "tensor_scatter_nd_update")),
        ("ops.segment", ("segment_max", "segment_mean", "segment_min", "segment_prod",
                         "segment_sum", "unsorted_segment_max", "unsorted_segment_mean",
                         "unsorted_segment_min", "unsorted_segment_prod",
                         "unsorted_segment_sum")),
        ("ops.sorting", ("argsort", "searchsorted", "sort", "take_along_axis", "top_k",
                         "unique", "unique_with_counts")),
        ("autodiff.jet", ("derivatives", "jet", "taylor_coefficients")),
        ("autodiff.vmap", ("vectorized_map", "vmap")),
    )
    for name in names
}


def __getattr__(name):
    # Subpackages load on first use, keeping `import tapegrad` as cheap as NumPy's.
    if name in _LAZY:
        module = _lazy(_LAZY[name])
        globals()[name] = module
        return module
    if name in _LAZY_FUNCTIONS:
        value = getattr(_lazy(_LAZY_FUNCTIONS[name]), name)
        globals()[name] = value
        return value
    if name in ("function", "TensorSpec", "print"):
        # graph functions (tapegrad/graph): tg.function, its TensorSpec, tg.print
        from tapegrad import graph

        return getattr(graph, "print_" if name == "print" else name)
    if name in ("Sequential", "Model"):
        from tapegrad import models

        return getattr(models, name)
    if name in ("jvp", "jacobian", "hessian", "hvp", "ForwardAccumulator", "check_grads",
                "vjp", "jacfwd", "jacrev"):
        from tapegrad.autodiff import check, forward, jacobians  # noqa: F401

        for mod_ in (forward, jacobians, check):
            if hasattr(mod_, name):
                return getattr(mod_, name)
    raise AttributeError("module 'tapegrad' has no attribute %r" % name)


def __dir__():
    # the names that loaded eagerly before they were deferred (issue 25) stay listed
    return sorted(set(globals()) | {"nn", "random"} | set(_LAZY_FUNCTIONS))


del _core, _ops
