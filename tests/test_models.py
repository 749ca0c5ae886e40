"""Model subclassing, Sequential, summary, and training a small model end to end."""

import numpy as np
import pytest

import tapegrad as tg
from tapegrad.layers.base import _reset_name_counters


class MNISTModel(tg.Model):
    """The guide's model: dense2 is applied twice and must be counted once."""

    def __init__(self):
        super().__init__()
        self.dense1 = tg.layers.Dense(units=10)
        self.dense2 = tg.layers.Dense(units=10)

    def call(self, input):
        result = self.dense1(input)
        result = self.dense2(result)
        result = self.dense2(result)  # reuse variables from dense2 layer
        return result


def test_guide_mnist_model_tracks_four_variables_in_stable_order():
    model = MNISTModel()
    assert model.variables == []
    result = model(tg.zeros([1, 1, 784]))
    assert tuple(result.shape) == (1, 1, 10)
    np.testing.assert_array_equal(result.numpy(), np.zeros((1, 1, 10), np.float32))
    first = model.variables
    assert len(first) == 4
    assert first == [model.dense1.kernel, model.dense1.bias, model.dense2.kernel,
                     model.dense2.bias]
    for _ in range(3):
        model(tg.ones([2, 784]))
    assert model.variables == first
    assert model.trainable_variables == first
    assert model.layers == [model.dense1, model.dense2]


def test_guide_linear_model_with_direct_variables():
    class Model(tg.Model):
        def __init__(self):
            super().__init__()
            self.W = tg.Variable(5.0, name="weight")
            self.B = tg.Variable(10.0, name="bias")

        def call(self, inputs):
            return inputs * self.W + self.B

    model = Model()
    assert model.variables == [model.W, model.B]
    inputs = tg.random.normal([500])
    targets = inputs * 3 + 2
    opt = tg.optimizers.SGD(0.1)
    for _ in range(100):
        with tg.GradientTape() as tape:
            loss = tg.reduce_mean(tg.square(model(inputs) - targets))
        grads = tape.gradient(loss, [model.W, model.B])
        opt.apply_gradients(zip(grads, [model.W, model.B]))
    np.testing.assert_allclose([float(model.W.numpy()), float(model.B.numpy())], [3.0, 2.0],
                               atol=1e-3)


def test_layers_in_lists_and_dicts_are_tracked():
    class Net(tg.Model):
        def __init__(self):
            super().__init__()
            self.blocks = [tg.layers.Dense(4), tg.layers.Dense(4)]
            self.heads = {"a": tg.layers.Dense(1), "b": tg.layers.Dense(2)}
            self.scale = tg.Variable(1.0)
            self.frozen = tg.Variable(2.0, trainable=False)

        def call(self, x):
            for block in self.blocks:
                x = block(x)
            return self.heads["a"](x) * self.scale + tg.reduce_sum(self.heads["b"](x))

    net = Net()
    net.blocks.append(tg.layers.Dense(4))  # mutated after assignment: still seen
    net(tg.ones([3, 4]))
    assert len(net.layers) == 5
    assert len(net.variables) == 5 * 2 + 2
    # Attribute order: blocks (in list order), heads (in dict order), then the variables.
    assert net.variables[0] is net.blocks[0].kernel
    assert net.variables[6] is net.heads["a"].kernel
    assert net.variables[10:] == [net.scale, net.frozen]
    assert net.non_trainable_variables == [net.frozen]
    assert len(net.trainable_variables) == 11
    children = net._checkpoint_children()
    assert children["blocks/0"] is net.blocks[0] and children["heads/b"] is net.heads["b"]
    del net.heads
    assert len(net.layers) == 3


def test_nested_models_share_variables_once():
    shared = tg.layers.Dense(3)

    class Inner(tg.Model):
        def __init__(self):
            super().__init__()
            self.shared = shared

        def call(self, x):
            return self.shared(x)

    class Outer(tg.Model):
        def __init__(self):
            super().__init__()
            self.inner = Inner()
            self.again = shared

        def call(self, x):
            return self.again(self.inner(x))

    outer = Outer()
    outer(tg.ones([1, 3]))
    assert outer.variables == [shared.kernel, shared.bias]


def test_sequential_with_input_shape_builds_eagerly():
    model = tg.Sequential([
        tg.layers.Dense(10, input_shape=(784,)),  # must declare input shape
        tg.layers.Dense(10),
    ])
    assert model.built
    assert [tuple(v.shape) for v in model.variables] == [(784, 10), (10,), (10, 10), (10,)]
    assert model.count_params() == 7960
    out = model(np.zeros((2, 784), np.float32))
    assert tuple(out.shape) == (2, 10)
    assert len(model) == 2 and model[1] is model.layers[1] and model[-1] is model.layers[-1]


def test_sequential_builds_lazily_add_and_pop():
    model = tg.Sequential()
    model.add(tg.layers.Dense(5, activation="relu"))
    model.add(tg.layers.Dense(2))
    assert not model.built and model.variables == []
    with pytest.raises(ValueError, match="not been built"):
        model.summary()
    y = model(tg.ones([3, 4]))
    assert tuple(y.shape) == (3, 2) and model.built
    model.add(tg.layers.Dense(7))  # built at once from the known output shape
    assert tuple(model.layers[-1].kernel.shape) == (2, 7)
    assert tuple(model(tg.ones([1, 4])).shape) == (1, 7)
    popped = model.pop()
    assert popped.units == 7 and len(model) == 2
    with pytest.raises(TypeError, match="Layer"):
        model.add("dense")


def test_sequential_summary_table():
    _reset_name_counters()
    model = tg.Sequential([
        tg.layers.Reshape((28, 28, 1), input_shape=(784,)),
        tg.layers.Conv2D(8, 3, padding="same", activation="relu"),
        tg.layers.MaxPooling2D(),
        tg.layers.Flatten(),
        tg.layers.BatchNormalization(),
        tg.layers.Dense(10),
    ])
    lines = []
    model.summary(print_fn=lines.append)
    text = "\n".join(lines)
    assert lines[0] == 'Model: "sequential"'
    names = {"reshape", "conv2d", "max_pooling2d", "flatten", "batch_normalization", "dense"}
    rows = {line.split()[0]: line for line in lines if line and line.split()[0] in names}
    assert set(rows) == names
    assert "(None, 28, 28, 1)" in rows["reshape"] and rows["reshape"].rstrip().endswith(" 0")
    assert "(None, 28, 28, 8)" in rows["conv2d"] and rows["conv2d"].rstrip().endswith(" 80")
    assert "(None, 14, 14, 8)" in rows["max_pooling2d"]
    assert "(None, 1568)" in rows["flatten"]
    assert rows["batch_normalization"].rstrip().endswith("6,272")
    assert "(None, 10)" in rows["dense"] and rows["dense"].rstrip().endswith("15,690")
    total = 80 + 4 * 1568 + 15690
    assert f"Total params: {total:,}" in text
    assert f"Trainable params: {total - 2 * 1568:,}" in text
    assert f"Non-trainable params: {2 * 1568:,}" in text
    assert "Layer (type)" in text and "Output Shape" in text and "Param #" in text


def test_subclassed_model_summary_after_a_call():
    model = MNISTModel()
    model(tg.zeros([2, 784]))
    lines = []
    model.summary(print_fn=lines.append)
    text = "\n".join(lines)
    assert f"{model.dense1.name} (Dense)" in text and "(None, 10)" in text
    assert "Total params: 7,960" in text


def test_model_build_from_shape():
    model = MNISTModel()
    model.build((None, 784))
    assert len(model.variables) == 4 and tuple(model.dense1.kernel.shape) == (784, 10)


def test_sequential_get_config_round_trip():
    model = tg.Sequential([tg.layers.Dense(4, activation="relu", input_shape=(3,)),
                           tg.layers.Dropout(0.5), tg.layers.Dense(1)])
    clone = tg.Sequential.from_config(model.get_config())
    assert [type(layer).__name__ for layer in clone.layers] == ["Dense", "Dropout", "Dense"]
    assert clone.built and clone.count_params() == model.count_params()


def test_small_model_overfits_a_tiny_batch():
    tg.random.set_seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 8)).astype(np.float32)
    y = rng.integers(0, 4, size=16).astype(np.int32)
    model = tg.Sequential([tg.layers.Dense(32, activation="relu"), tg.layers.Dense(4)])
    opt = tg.optimizers.Adam(0.01)
    step = tg.Variable(0, dtype=tg.int64, trainable=False)
    first = None
    for _ in range(200):
        with tg.GradientTape() as tape:
            loss = tg.losses.sparse_softmax_cross_entropy(labels=y, logits=model(x))
        first = float(loss) if first is None else first
        grads = tape.gradient(loss, model.variables)
        opt.apply_gradients(zip(grads, model.variables), global_step=step)
    assert first > 1.0
    assert float(loss) < 0.01
    acc = tg.metrics.SparseCategoricalAccuracy()
    acc(y, model(x))
    assert float(acc.result()) == 1.0
    assert int(step.numpy()) == 200


def test_small_cnn_trains_with_dropout_and_minimize():
    tg.random.set_seed(1)
    rng = np.random.default_rng(1)
    x = rng.normal(size=(8, 6, 6, 1)).astype(np.float32)
    y = (x.mean(axis=(1, 2, 3)) > 0).astype(np.int32)
    model = tg.Sequential([
        tg.layers.Conv2D(4, 3, padding="same", activation="relu"),
        tg.layers.MaxPooling2D(),
        tg.layers.Flatten(),
        tg.layers.Dense(16, activation="relu"),
        tg.layers.Dropout(0.2),
        tg.layers.Dense(2),
    ])
    opt = tg.optimizers.Adam(0.01)
    losses = [float(opt.minimize(lambda: tg.losses.sparse_softmax_cross_entropy(
        y, model(x, training=True)))) for _ in range(60)]
    assert losses[-1] < 0.5 * losses[0]
    assert len(model.variables) == 6


def test_guide_linear_regression_example(capsys):
    import importlib.util
    import os

    path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                        "examples", "linear_regression.py")
    spec = importlib.util.spec_from_file_location("tapegrad_example_linreg", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    final, w, b = module.main(["--seed", "0"])
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("Initial loss: ")
    assert [line.split(":")[0] for line in out[1:11]] == [
        f"Loss at step {i:03d}" for i in range(0, 200, 20)]
    losses = [float(line.split(": ")[1]) for line in out[:12]]
    assert losses[0] > 50 and all(a > b for a, b in zip(losses[1:], losses[2:]))
    # The noise has unit variance, so the fit ends near loss 1 with W ~ 3 and B ~ 2.
    assert 0.8 < final < 1.3 and abs(w - 3) < 0.2 and abs(b - 2) < 0.3


@pytest.mark.cuda
def test_model_trains_on_gpu_like_on_cpu():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 8)).astype(np.float32)
    y = rng.integers(0, 4, size=16).astype(np.int32)
    cpu = tg.Sequential([tg.layers.Dense(16, activation="relu", input_shape=(8,)),
                         tg.layers.BatchNormalization(), tg.layers.Dense(4)])
    with tg.device("/gpu:0"):
        gpu = tg.Sequential([tg.layers.Dense(16, activation="relu", input_shape=(8,)),
                             tg.layers.BatchNormalization(), tg.layers.Dense(4)])
    gpu.set_weights(cpu.get_weights())
    assert all(v.device.startswith("/gpu") for v in gpu.variables)
    for model in (cpu, gpu):
        opt = tg.optimizers.Adam(0.01)
        device = "/gpu:0" if model is gpu else "/cpu:0"
        with tg.device(device):
            for _ in range(5):
                opt.minimize(lambda m=model: tg.losses.sparse_softmax_cross_entropy(
                    y, m(x, training=True)))
    for a, b in zip(cpu.variables, gpu.variables):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-4, atol=1e-5)
