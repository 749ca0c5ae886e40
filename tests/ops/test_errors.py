"""Error paths of the public ops: wrong types, wrong shapes and None raise a ValueError or
TypeError whose message names the op (never a bare NumPy/Python error, never a crash).

Two layers:
- a sweep over every public function of ``tg`` / ``tg.nn`` fed None, a string and an
  arbitrary object in each tensor position;
- a table of targeted shape/dtype/argument errors with the op name and details expected.
"""

import inspect

import numpy as np
import pytest

import tapegrad as tg

# public functions that are not ops on tensor values
_NOT_OPS = {"device", "executing_eagerly", "list_devices", "num_gpus", "GradientTape",
            "Variable", "custom_gradient", "gradients_function", "value_and_gradients_function",
            "implicit_gradients", "implicit_value_and_gradients", "grad", "value_and_grad",
            "check_grads", "as_dtype", "DType", "Tensor", "range", "eye", "linspace",
            "print",  # print writes any value, as tf.print does
            # transforms of functions (first argument: a function)
            "jet", "derivatives", "taylor_coefficients", "vmap", "vectorized_map"}

# composite ops may report the primitive they are made of
_ALIASES = {"zeros": ("fill",), "ones": ("fill",), "reduce_std": ("reduce_variance",),
            "count_nonzero": ("reduce_sum",), "mod": ("floormod",), "truediv": ("divide",),
            "sub": ("subtract",), "mul": ("multiply",), "div": ("divide",),
            "bias_add": ("add",), "max_pool": ("max_pool2d",), "avg_pool": ("avg_pool2d",),
            "relu6": ("relu",), "l2_loss": ("square",), "moments": ("reduce_mean",)}


def _public(module, prefix):
    out = []
    for name in sorted(getattr(module, "__all__", None) or dir(module)):
        obj = getattr(module, name)
        if name.startswith("_") or name in _NOT_OPS or isinstance(obj, type) or \
                not callable(obj) or inspect.ismodule(obj):
            continue
        out.append((prefix + name, name, obj))
    return out


PUBLIC_OPS = _public(tg, "tg.") + _public(tg.nn, "tg.nn.")

_BAD_VALUES = [("None", None), ("str", "abc"), ("object", object())]

def _first_arg_params():
    for label, name, fn in PUBLIC_OPS:
        for vlabel, value in _BAD_VALUES:
            yield pytest.param(name, fn, value, id="%s-%s" % (label, vlabel))


def _call_with_first(fn, value):
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return fn(value)
    params = [p for p in sig.parameters.values() if p.kind in (p.POSITIONAL_ONLY,
                                                               p.POSITIONAL_OR_KEYWORD)]
    required = [p for p in params if p.default is p.empty]
    if fn is tg.einsum:
        return fn(value, tg.ones((2,)))
    if params and params[0].name == "labels":
        return fn(labels=value, logits=tg.ones((2, 3)))
    if params and params[0].name in ("values", "inputs", "t_list"):
        return fn(value, *[0] * (len(required) - 1))
    extra = {"matmul": (tg.ones((2, 2)),), "conv2d": (tg.ones((1, 1, 1, 1)), 1, "VALID"),
             "max_pool2d": (2, 2, "VALID"), "avg_pool2d": (2, 2, "VALID"),
             "max_pool": (2, 2, "VALID"), "avg_pool": (2, 2, "VALID"),
             "tensordot": (tg.ones((2,)), 1), "dropout": (0.5,), "one_hot": (3,),
             "where": (tg.ones((2,)), tg.ones((2,)))}
    name = getattr(fn, "__name__", None) or getattr(fn, "name", "")
    if name in extra:
        return fn(value, *extra[name])
    rest = []
    for p in required[1:]:
        rest.append(tg.ones((2,)) if p.name in ("y", "b", "bias", "filters", "indices")
                    else 1 if p.name in ("axis", "depth", "num_or_size_splits", "rate")
                    else [1] if p.name in ("shape", "multiples", "paddings", "perm")
                    else tg.ones((2,)))
    return fn(value, *rest)


@pytest.mark.parametrize("name, fn, value", list(_first_arg_params()))
def test_public_op_rejects_bad_first_argument(name, fn, value):
    with pytest.raises((TypeError, ValueError, IndexError)) as info:
        _call_with_first(fn, value)
    msg = str(info.value)
    names = (name,) + _ALIASES.get(name, ())
    prim_name = getattr(fn, "name", None)
    if prim_name:
        names += (prim_name,)
    assert any(n in msg for n in names), "%s: error does not name the op: %r" % (name, msg)


# ---------------------------------------------------------------------------
# binary ops: the second operand wrong

BINARY = ["add", "subtract", "multiply", "divide", "maximum", "minimum", "pow", "floordiv",
          "floormod", "equal", "not_equal", "less", "less_equal", "greater", "greater_equal",
          "safe_mul"]


@pytest.mark.parametrize("name", BINARY)
@pytest.mark.parametrize("bad", [None, "abc", object(), [[1.0], [1.0, 2.0]]],
                         ids=["None", "str", "object", "ragged"])
def test_binary_bad_second_operand(name, bad):
    with pytest.raises((TypeError, ValueError), match=name):
        getattr(tg, name)(tg.ones((2,)), bad)


@pytest.mark.parametrize("name", BINARY)
def test_binary_shape_mismatch_names_op_and_shapes(name):
    with pytest.raises(ValueError) as info:
        getattr(tg, name)(tg.ones((2, 3)), tg.ones((4,)))
    msg = str(info.value)
    assert name in msg and "(2, 3)" in msg and "(4,)" in msg, msg


@pytest.mark.parametrize("name", BINARY)
def test_binary_dtype_mismatch_names_op_and_dtypes(name):
    with pytest.raises(TypeError) as info:
        getattr(tg, name)(tg.ones((2,)), tg.ones((2,), tg.float64))
    msg = str(info.value)
    assert name in msg and "float32" in msg and "float64" in msg, msg


# ---------------------------------------------------------------------------
# targeted cases: (label, call, exception, regex)

CASES = [
    ("matmul inner", lambda: tg.matmul(tg.ones((2, 3)), tg.ones((4, 5))), ValueError,
     r"^matmul: inner dimensions differ: \(2, 3\) @ \(4, 5\)"),
    ("matmul transposed inner", lambda: tg.matmul(tg.ones((2, 3)), tg.ones((4, 5)),
                                                  transpose_a=True), ValueError,
     r"matmul: inner dimensions differ: \(2, 3\)\.T @ \(4, 5\)"),
    ("matmul rank 0", lambda: tg.matmul(tg.constant(1.0), tg.ones((2, 2))), ValueError,
     r"matmul: .*rank"),
    ("matmul batch", lambda: tg.matmul(tg.ones((2, 2, 3)), tg.ones((3, 3, 2))), ValueError,
     r"matmul: batch dimensions .*\(2, 2, 3\) @ \(3, 3, 2\)"),
    ("matmul bool", lambda: tg.matmul(tg.ones((2, 2), tg.bool), tg.ones((2, 2), tg.bool)),
     TypeError, r"matmul: .*bool"),
    ("log int", lambda: tg.log(tg.constant([1, 2])), TypeError, r"log: .*floating.*int32"),
    ("sqrt bool", lambda: tg.sqrt(tg.constant([True])), TypeError, r"sqrt: .*bool"),
    ("add bool", lambda: tg.add(tg.constant([True]), tg.constant([False])), TypeError,
     r"add: .*bool"),
    ("exp string", lambda: tg.exp("x"), TypeError, r"exp: "),
    ("sigmoid complex", lambda: tg.sigmoid(np.array([1j])), TypeError, r"sigmoid: .*complex"),
    ("reshape size", lambda: tg.reshape(tg.ones((2, 3)), [4]), ValueError,
     r"reshape: .*6 elements.*\(4,\)"),
    ("transpose perm", lambda: tg.transpose(tg.ones((2, 3)), [0, 2]), ValueError,
     r"transpose: perm"),
    ("reduce axis", lambda: tg.reduce_sum(tg.ones((2, 3)), axis=2), ValueError,
     r"reduce_sum: axis 2 .*rank-2"),
    ("reduce_max empty", lambda: tg.reduce_max(tg.ones((0, 2))), ValueError,
     r"reduce_max: .*empty"),
    ("concat shapes", lambda: tg.concat([tg.ones((2, 3)), tg.ones((3, 4))], 0), ValueError,
     r"concat: .*\(2, 3\).*\(3, 4\)"),
    ("gather range", lambda: tg.gather(tg.ones((2, 3)), [2]), IndexError, r"gather: .*range"),
    ("where cond", lambda: tg.where(tg.ones((2,)), 1.0, 2.0), TypeError,
     r"where: condition must be bool"),
    ("where shapes", lambda: tg.where(tg.constant([True, False]), tg.ones((3,)), 0.0),
     ValueError, r"where: "),
    ("cast dtype", lambda: tg.cast(tg.ones((2,)), "nope"), TypeError, r"cast: "),
    ("cast None", lambda: tg.cast(None, tg.float32), TypeError, r"cast: "),
    ("one_hot float", lambda: tg.one_hot(tg.ones((2,)), 3), TypeError, r"one_hot: "),
    ("broadcast_to", lambda: tg.broadcast_to(tg.ones((2, 3)), (3, 3)), ValueError,
     r"broadcast_to: .*\(2, 3\).*\(3, 3\)"),
    ("tile", lambda: tg.tile(tg.ones((2, 3)), [2]), ValueError, r"tile: "),
    ("split", lambda: tg.split(tg.ones((5,)), 2), ValueError, r"split: "),
    ("squeeze", lambda: tg.squeeze(tg.ones((2, 1)), 0), ValueError, r"squeeze: "),
    ("expand_dims", lambda: tg.expand_dims(tg.ones((2,)), 3), ValueError, r"expand_dims: "),
    ("softmax axis", lambda: tg.nn.softmax(tg.ones((2, 3)), axis=3), ValueError, r"softmax: "),
    ("conv channels", lambda: tg.nn.conv2d(tg.ones((1, 3, 3, 2)), tg.ones((2, 2, 3, 1)), 1,
                                           "SAME"), ValueError, r"conv2d: .*channels"),
    ("conv rank", lambda: tg.nn.conv2d(tg.ones((3, 3, 1)), tg.ones((2, 2, 1, 1)), 1, "SAME"),
     ValueError, r"conv2d: .*rank 4"),
    ("pool rank", lambda: tg.nn.max_pool2d(tg.ones((3, 3)), 2, 2, "SAME"), ValueError,
     r"max_pool2d: .*rank 4"),
    ("xent labels", lambda: tg.nn.sparse_softmax_cross_entropy_with_logits(
        labels=tg.constant([5]), logits=tg.ones((1, 3))), ValueError,
     r"sparse_softmax_cross_entropy_with_logits: "),
    ("fill negative", lambda: tg.zeros((2, -1)), ValueError, r"fill: .*negative"),
    ("random dtype", lambda: tg.random.normal((2,), dtype=tg.int32), TypeError,
     r"random.normal: "),
    ("unstack num", lambda: tg.unstack(tg.ones((2, 3)), num=3), ValueError, r"unstack: "),
    ("pad mode", lambda: tg.pad(tg.ones((2,)), [[1, 1]], mode="WRAP"), ValueError,
     r"pad: "),
    ("variable assign", lambda: tg.Variable([1.0]).assign([1.0, 2.0]), ValueError,
     r"Variable.assign: .*shape"),
    ("getitem", lambda: tg.ones((2,))[3], IndexError, r"getitem: "),
    ("operator dtypes", lambda: tg.ones((2,)) + tg.ones((2,), tg.int32), TypeError,
     r"add: dtypes differ: float32 vs int32"),
    ("int overflow weak", lambda: tg.constant([1], tg.int32) * 2 ** 40, (ValueError,
                                                                           TypeError),
     r"multiply: "),
]


@pytest.mark.parametrize("call, exc, pattern", [pytest.param(c, e, p, id=label)
                                                for label, c, e, p in CASES])
def test_targeted_errors(call, exc, pattern):
    with pytest.raises(exc, match=pattern):
        call()


# ---------------------------------------------------------------------------
# no crash on odd inputs


@pytest.mark.parametrize("make", [
    lambda: tg.add(tg.ones((1,) * 32), tg.ones((1,) * 32)),
    lambda: tg.reduce_sum(tg.ones((1,) * 40), axis=-1),
    lambda: tg.matmul(tg.ones((1,) * 10 + (2, 3)), tg.ones((3, 2))),
    lambda: tg.transpose(tg.ones((1, 2) * 8)),
    lambda: tg.nn.softmax(tg.ones((1,) * 20 + (3,))),
    lambda: tg.exp(tg.constant([np.nan, np.inf, -np.inf])),
    lambda: tg.matmul(tg.constant([[np.nan]]), tg.constant([[np.inf]])),
    lambda: tg.nn.conv2d(tg.fill((1, 3, 3, 1), np.nan), tg.ones((2, 2, 1, 1)), 1, "SAME"),
    lambda: tg.nn.max_pool2d(tg.fill((1, 3, 3, 1), -np.inf), 2, 1, "SAME"),
    lambda: tg.zeros((0, 0, 0)) + tg.zeros((0, 1, 1)),
    lambda: tg.matmul(tg.zeros((0, 0)), tg.zeros((0, 0))),
    lambda: tg.reduce_mean(tg.zeros((2, 0)), axis=1),
    lambda: tg.gather(tg.zeros((0, 3)), tg.zeros((0,), tg.int32)),
    lambda: tg.concat([tg.zeros((0, 2)), tg.zeros((0, 2))], 0),
], ids=["rank32", "rank40-reduce", "batch-rank12", "transpose16", "softmax21", "exp-special",
        "matmul-special", "conv-nan", "pool-neg-inf", "zero-broadcast", "matmul-0x0",
        "mean-empty-axis", "gather-empty", "concat-empty"])
def test_odd_inputs_do_not_crash(make):
    out = make()
    assert isinstance(out, tg.Tensor)
    out.numpy()


def test_repeated_error_does_not_corrupt_state():
    for _ in range(3):
        with pytest.raises(ValueError):
            tg.matmul(tg.ones((2, 3)), tg.ones((4, 5)))
    np.testing.assert_array_equal(tg.matmul(tg.ones((2, 3)), tg.ones((3, 1))).numpy(),
                                  np.full((2, 1), 3.0))


def test_error_inside_tape_leaves_tape_usable():
    x = tg.constant([1.0, 2.0])
    with tg.GradientTape() as tape:
        tape.watch(x)
        with pytest.raises(ValueError):
            tg.add(x, tg.ones((3,)))
        y = tg.reduce_sum(x * x)
    np.testing.assert_array_equal(tape.gradient(y, x).numpy(), [2, 4])
