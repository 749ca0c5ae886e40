"""tg.onnx.export, checked in ONNX Runtime: every mapped primitive, the guide's models.

Each graph is exported once (dynamic batch) and run at batch sizes 1 and 7; outputs
must equal tapegrad's within 1e-5 (float32) and the checker must pass.  Skipped
cleanly without the onnx extra (CI installs it through the test extra).
"""

import os

import numpy as np
import pytest

import tapegrad as tg
from tapegrad import _core
from tapegrad.ops._registry import NotSupported

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

RNG = np.random.default_rng(0)


def tnp_fn(name):
    import tapegrad.numpy as tnp

    return getattr(tnp, name)


def _run(path, feeds):
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    names = [i.name for i in sess.get_inputs()]
    return sess.run(None, dict(zip(names, feeds)))


def _check(fn, args, tmp_path, tol=1e-5, batches=(1, 7), name="f"):
    """Export fn at batch 1 of ``args`` (arrays with a leading batch axis of 7), run the
    one file at every batch size, compare with tapegrad."""
    path = str(tmp_path / ("%s.onnx" % name))
    model = tg.onnx.export(fn, [a[:1] for a in args], path)
    onnx.checker.check_model(onnx.load(path), full_check=True)
    assert model.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    for b in batches:
        feeds = [a[:b] for a in args]
        want = fn(*[tg.constant(a) for a in feeds])
        want = [np.asarray(w.numpy()) for w in (want if isinstance(want, (list, tuple))
                                                 else [want])]
        got = _run(path, feeds)
        assert len(got) == len(want)
        for g, w in zip(got, want):
            assert g.shape == w.shape, (name, b, g.shape, w.shape)
            assert g.dtype == w.dtype, (name, g.dtype, w.dtype)
            if w.dtype.kind in "fc":
                np.testing.assert_allclose(g, w, rtol=tol, atol=tol, err_msg=name)
            else:
                np.testing.assert_array_equal(g, w, err_msg=name)


def f32(*shape, low=-2.0, high=2.0):
    return RNG.uniform(low, high, (7,) + shape).astype(np.float32)


X = f32(3, 4)
Y = f32(3, 4)
P = f32(3, 4, low=0.5, high=2.0)
I = RNG.integers(-5, 5, (7, 3, 4)).astype(np.int32)
J = RNG.integers(1, 4, (7, 3, 4)).astype(np.int32)
B = RNG.random((7, 3, 4)) > 0.5
B2 = RNG.random((7, 3, 4)) > 0.5
IMG = f32(8, 8, 3)
W1 = RNG.standard_normal((3, 3, 3, 5)).astype(np.float32)
W2 = RNG.standard_normal((2, 3, 3, 4)).astype(np.float32)

# (primitive, label, fn, args): one single-op (or nearly) graph per mapped primitive
CASES = [
    ("add", "add", lambda x, y: x + y, [X, Y]),
    ("add", "add_scalar", lambda x: x + 2.5, [X]),
    ("subtract", "subtract", lambda x, y: x - y, [X, Y]),
    ("multiply", "multiply", lambda x, y: x * y, [X, Y]),
    ("divide", "divide", lambda x, y: x / y, [X, P]),
    ("pow", "pow", lambda x, y: tg.pow(x, y), [P, Y]),
    ("maximum", "maximum", tg.maximum, [X, Y]),
    ("minimum", "minimum", tg.minimum, [X, Y]),
    ("negative", "negative", lambda x: -x, [X]),
    ("abs", "abs", tg.abs, [X]),
    ("sign", "sign", tg.sign, [X]),
    ("floor", "floor", tg.floor, [X]),
    ("ceil", "ceil", tg.ceil, [X]),
    ("round", "round", tg.round, [X * 2.0]),
    ("exp", "exp", tg.exp, [X]),
    ("log", "log", tg.log, [P]),
    ("log1p", "log1p", tg.log1p, [P]),
    ("expm1", "expm1", tg.expm1, [X]),
    ("sqrt", "sqrt", tg.sqrt, [P]),
    ("rsqrt", "rsqrt", tg.rsqrt, [P]),
    ("reciprocal", "reciprocal", tg.reciprocal, [P]),
    ("square", "square", tg.square, [X]),
    ("tanh", "tanh", tg.tanh, [X]),
    ("sigmoid", "sigmoid", tg.sigmoid, [X]),
    ("sin", "sin", tg.sin, [X]),
    ("cos", "cos", tg.cos, [X]),
    ("floormod", "floormod_float", tg.floormod, [X, P]),
    ("floormod", "floormod_int", tg.floormod, [I, J]),
    ("floordiv", "floordiv_float", tg.floordiv, [X, P]),
    ("floordiv", "floordiv_int", tg.floordiv, [I, J]),
    ("equal", "equal", tg.equal, [I, J]),
    ("not_equal", "not_equal", tg.not_equal, [I, J]),
    ("less", "less", tg.less, [X, Y]),
    ("less_equal", "less_equal", tg.less_equal, [I, J]),
    ("greater", "greater", tg.greater, [X, Y]),
    ("greater_equal", "greater_equal", tg.greater_equal, [I, J]),
    ("logical_and", "logical_and", tg.logical_and, [B, B2]),
    ("logical_or", "logical_or", tg.logical_or, [B, B2]),
    ("logical_xor", "logical_xor", tg.logical_xor, [B, B2]),
    ("logical_not", "logical_not", tg.logical_not, [B]),
    ("is_nan", "is_nan", tg.is_nan, [np.where(B, X, np.nan).astype(np.float32)]),
    ("is_inf", "is_inf", tg.is_inf, [np.where(B, X, np.inf).astype(np.float32)]),
    ("is_finite", "is_finite", tg.is_finite, [np.where(B, X, -np.inf).astype(np.float32)]),
    ("where", "where", tg.where, [B, X, Y]),
    ("cast", "cast_int", lambda x: tg.cast(x, tg.int32), [X * 3.0]),
    ("cast", "cast_float64", lambda x: tg.cast(x, tg.float64), [X]),
    ("identity", "identity", lambda x: tg.identity(x) * 1.5, [X]),
    ("stop_gradient", "stop_gradient", lambda x: tg.stop_gradient(x) * 1.5, [X]),
    ("add_n", "add_n", lambda x, y: tg.add_n([x, y, x]), [X, Y]),
    ("zeros_like", "zeros_like", lambda x: tg.zeros_like(x) + x, [X]),
    ("ones_like", "ones_like", lambda x: tg.ones_like(x) * x, [X]),
    ("safe_mul", "safe_mul", tg.safe_mul, [np.where(B, X, 0).astype(np.float32),
                                           np.where(B2, P, np.inf).astype(np.float32)]),
    ("reduce_sum", "reduce_sum", lambda x: tg.reduce_sum(x, axis=[1, 2]), [X]),
    ("reduce_sum", "reduce_sum_keep", lambda x: tg.reduce_sum(x, axis=-1, keepdims=True),
     [X]),
    ("reduce_max", "reduce_max", lambda x: tg.reduce_max(x, axis=1), [X]),
    ("reduce_min", "reduce_min", lambda x: tg.reduce_min(x, axis=2, keepdims=True), [X]),
    ("reduce_prod", "reduce_prod", lambda x: tg.reduce_prod(x, axis=1), [P]),
    ("reduce_any", "reduce_any", lambda b: tg.reduce_any(b, axis=1), [B]),
    ("reduce_all", "reduce_all", lambda b: tg.reduce_all(b, axis=2), [B]),
    ("argmax", "argmax", lambda x: tg.argmax(x, axis=2), [X]),
    ("argmin", "argmin", lambda x: tg.argmin(x, axis=1, output_type=tg.int32), [X]),
    ("reshape", "reshape_batch", lambda x: tg.reshape(x, (-1, 12)), [X]),
    ("reshape", "reshape_inner", lambda x: tg.reshape(x, (-1, 2, 6)), [X]),
    ("transpose", "transpose", lambda x: tg.transpose(x, [0, 2, 1]), [X]),
    ("broadcast_to", "broadcast_to",
     lambda x: tg.broadcast_to(x[:, :1, :], (x.shape[0], 3, 4)) * 1.0, [X]),
    ("concat", "concat", lambda x, y: tg.concat([x, y], axis=1), [X, Y]),
    ("tile", "tile", lambda x: tg.tile(x, [1, 2, 3]), [X]),
    ("gather", "gather", lambda x: tg.gather(x, [2, 0, 1, 1], axis=1), [X]),
    ("pad", "pad", lambda x: tg.pad(x, [[0, 0], [1, 2], [0, 1]], constant_values=0.5), [X]),
    ("one_hot", "one_hot", lambda i: tg.one_hot(i, 4), [J]),
    ("getitem", "getitem_slices", lambda x: x[:, 1:, ::-2], [X]),
    ("getitem", "getitem_int_none", lambda x: x[:, -1, None, 1:3], [X]),
    ("getitem", "getitem_ellipsis", lambda x: x[..., 0], [X]),
    ("getitem", "getitem_array", lambda x: x[:, [2, 0, 2]], [X]),
    ("matmul", "matmul", lambda x, y: tg.matmul(x, y, transpose_b=True), [X, Y]),
    ("matmul", "matmul_t_a", lambda x, y: tg.matmul(x, y, transpose_a=True), [X, Y]),
    ("einsum", "einsum", lambda x, y: tg.einsum("bij,bkj->bik", x, y), [X, Y]),
    ("relu", "relu", tg.nn.relu, [X]),
    ("softmax", "softmax", lambda x: tg.nn.softmax(x, axis=1), [X]),
    ("log_softmax", "log_softmax", tg.nn.log_softmax, [X]),
    ("conv2d", "conv2d_same", lambda x: tg.nn.conv2d(x, W1, 1, "SAME"), [IMG]),
    ("conv2d", "conv2d_valid_strided", lambda x: tg.nn.conv2d(x, W2, (2, 1), "VALID"),
     [IMG]),
    ("max_pool2d", "max_pool_same", lambda x: tg.nn.max_pool2d(x, 3, 2, "SAME"), [IMG]),
    ("avg_pool2d", "avg_pool_same", lambda x: tg.nn.avg_pool2d(x, 3, 2, "SAME"), [IMG]),
    ("avg_pool2d", "avg_pool_valid", lambda x: tg.nn.avg_pool2d(x, 2, 2, "VALID"), [IMG]),
    ("sparse_softmax_xent", "sparse_xent",
     lambda x, i: tg.nn.sparse_softmax_cross_entropy_with_logits(labels=i, logits=x),
     [X[:, 0, :], J[:, 0, 0]]),
    ("tan", "tan", tg.math.tan, [X * 0.5]),
    ("asin", "asin", tg.math.asin, [X * 0.4]),
    ("acos", "acos", tg.math.acos, [X * 0.4]),
    ("atan", "atan", tg.math.atan, [X]),
    ("sinh", "sinh", tg.math.sinh, [X]),
    ("cosh", "cosh", tg.math.cosh, [X]),
    ("asinh", "asinh", tg.math.asinh, [X]),
    ("acosh", "acosh", tg.math.acosh, [P + 1.0]),
    ("atanh", "atanh", tg.math.atanh, [X * 0.4]),
    ("erf", "erf", tg.math.erf, [X]),
    ("cumsum", "cumsum", lambda x: tg.cumsum(x, axis=1, exclusive=True), [X]),
    ("cumsum", "cumsum_reverse", lambda x: tg.cumsum(x, axis=2, reverse=True), [X]),
    ("log2", "log2", tnp_fn("log2"), [P]),
    ("log10", "log10", tnp_fn("log10"), [P]),
    ("trunc", "trunc", tnp_fn("trunc"), [X * 3.0]),
    ("hypot", "hypot", tnp_fn("hypot"), [X, Y]),
    ("logaddexp", "logaddexp", tnp_fn("logaddexp"), [X, Y]),
    ("fill", "fill", lambda x: x + tg.fill([4], 2.0), [X]),
    ("eye", "eye", lambda x: tg.matmul(x, tg.eye(4) * 3.0), [X]),
    ("range", "range", lambda x: x * tg.cast(tg.range(4), tg.float32), [X]),
]


@pytest.mark.parametrize("prim,label,fn,args", CASES, ids=[c[1] for c in CASES])
def test_single_op_graphs(prim, label, fn, args, tmp_path):
    _check(fn, args, tmp_path, name=label)


def test_every_primitive_has_an_onnx_rule_or_a_reason():
    reg = _core.registry()
    missing = sorted(n for n, p in reg.items() if p.rule("onnx") is None)
    assert not missing, "primitives without an 'onnx' rule or NotSupported: %s" % missing
    exported = {c[0] for c in CASES}
    mapped = {n for n, p in reg.items() if not isinstance(p.rule("onnx"), NotSupported)}
    untested = sorted(mapped - exported)
    assert not untested, "mapped primitives without a single-op export test: %s" % untested


def _guide_cnn():
    L = tg.layers
    return tg.Sequential([
        L.Conv2D(32, 5, padding="same", activation="relu", input_shape=(28, 28, 1)),
        L.MaxPooling2D((2, 2), (2, 2), padding="same"),
        L.Conv2D(64, 5, padding="same", activation="relu"),
        L.MaxPooling2D((2, 2), (2, 2), padding="same"),
        L.Flatten(), L.Dense(1024, activation="relu"), L.Dropout(0.4), L.Dense(10)])


def test_guide_mnist_cnn(tmp_path):
    model = _guide_cnn()
    _check(model, [f32(28, 28, 1, low=0, high=1)], tmp_path, name="cnn")


def test_mlp_with_softmax_output(tmp_path):
    L = tg.layers
    model = tg.Sequential([L.Dense(64, activation="tanh", input_shape=(12,)),
                           L.Dense(32, activation="relu"), L.Dense(5, activation="softmax")])
    _check(model, [f32(12)], tmp_path, name="mlp")


def test_batch_norm_and_dropout_in_inference_mode(tmp_path):
    L = tg.layers
    model = tg.Sequential([L.Dense(16, input_shape=(6,)), L.BatchNormalization(),
                           L.Activation("relu") if hasattr(L, "Activation") else L.Dropout(0.0),
                           L.Dropout(0.5), L.Dense(3)])
    x = f32(6)
    with tg.GradientTape() as tape:      # one training step moves the moving statistics
        loss = tg.reduce_mean(tg.square(model(x, training=True)))
    opt = tg.optimizers.SGD(0.1)
    opt.apply_gradients(zip(tape.gradient(loss, model.trainable_variables),
                            model.trainable_variables))
    _check(model, [x], tmp_path, name="bn")


class _Branchy(tg.layers.Layer if hasattr(tg.layers, "Layer") else object):
    """A subclassed model whose Python control flow is resolved at trace time."""

    def __init__(self, deep):
        super().__init__()
        self.deep = deep
        self.d1 = tg.layers.Dense(8)
        self.d2 = tg.layers.Dense(8)
        self.out = tg.layers.Dense(2)

    def call(self, x, training=False):
        h = tg.nn.relu(self.d1(x))
        for _ in range(3 if self.deep else 1):   # Python loop: unrolled in the trace
            h = h + tg.tanh(self.d2(h))
        if self.deep:
            h = h * 0.5
        return self.out(h)


@pytest.mark.parametrize("deep", [True, False])
def test_subclassed_model_with_python_control_flow(deep, tmp_path):
    model = _Branchy(deep)
    _check(model, [f32(5)], tmp_path, name="branchy%d" % deep)


def test_two_inputs_two_outputs_and_names(tmp_path):
    def fn(a, b):
        return tg.reduce_sum(a * b, axis=1), tg.nn.softmax(a - b)

    path = str(tmp_path / "two.onnx")
    tg.onnx.export(fn, [X[:2, 0], Y[:2, 0]], path, input_names=["a", "b"],
                   output_names=["dot", "probs"])
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    assert [i.name for i in sess.get_inputs()] == ["a", "b"]
    assert [o.name for o in sess.get_outputs()] == ["dot", "probs"]
    dot, probs = sess.run(None, {"a": X[:, 0], "b": Y[:, 0]})
    want = fn(tg.constant(X[:, 0]), tg.constant(Y[:, 0]))
    np.testing.assert_allclose(dot, want[0].numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(probs, want[1].numpy(), rtol=1e-5, atol=1e-6)


def test_static_batch(tmp_path):
    path = str(tmp_path / "static.onnx")
    model = tg.onnx.export(lambda x: tg.reshape(x, (3, 12)), [X[:3]], path,
                           dynamic_batch=False)
    assert model.graph.input[0].type.tensor_type.shape.dim[0].dim_value == 3
    np.testing.assert_array_equal(_run(path, [X[:3]])[0], X[:3].reshape(3, 12))


def test_unmapped_primitive_raises_naming_it_and_writes_nothing(tmp_path):
    prim = _core.registry()["tanh"]
    rule = prim.rules.pop("onnx")
    path = tmp_path / "none.onnx"
    try:
        with pytest.raises(tg.onnx.ExportError, match="primitive 'tanh' has no ONNX mapping"):
            tg.onnx.export(lambda x: tg.tanh(x) + 1.0, [X], str(path))
    finally:
        prim.defrule("onnx", rule)
    assert not path.exists() and os.listdir(tmp_path) == []


def test_training_only_graphs_are_refused(tmp_path):
    v = tg.Variable(np.ones(4, np.float32))
    model = _guide_cnn()
    cases = [
        (lambda x: model(x, training=True), [f32(28, 28, 1)], "draws random numbers"),
        (lambda x: v.assign_add(tg.reduce_sum(x, axis=[0, 1])), [X], "assigns variable"),
    ]
    for fn, args, msg in cases:
        with pytest.raises(tg.onnx.ExportError, match=msg):
            tg.onnx.export(fn, [a[:1] for a in args], str(tmp_path / "x.onnx"))
    assert os.listdir(tmp_path) == []


def test_import_tapegrad_does_not_import_onnx():
    import subprocess
    import sys

    code = "import sys, tapegrad; assert 'onnx' not in sys.modules and " \
           "'onnxruntime' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_mnist_example_gives_the_same_accuracy_in_onnx_runtime(tmp_path):
    import importlib.util

    path = os.path.join(os.path.dirname(__file__), "..", "..", "examples", "mnist_onnx.py")
    spec = importlib.util.spec_from_file_location("mnist_onnx_example", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    accuracy, runtime = module.main(["--epochs", "1", "--train-size", "512", "--test-size",
                                     "200", "--output", str(tmp_path / "m.onnx")])
    assert accuracy > 0.3            # it learned something
    assert runtime == accuracy       # ONNX Runtime alone classifies the same digits
