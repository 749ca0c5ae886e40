"""Layer base class: lazy build, naming, variables, training flag, config."""

import numpy as np
import pytest

import tapegrad as tg
from tapegrad import tracking
from tapegrad.layers.base import _reset_name_counters


class MySimpleLayer(tg.layers.Layer):
    """The guide's custom layer."""

    def __init__(self, output_units):
        super().__init__()
        self.output_units = output_units
        self.build_calls = []

    def build(self, input_shape):
        self.build_calls.append(input_shape)
        self.kernel = self.add_variable("kernel", [input_shape[-1], self.output_units])

    def call(self, input):
        return tg.matmul(input, self.kernel)


def test_guide_custom_layer_builds_once_from_first_input():
    layer = MySimpleLayer(3)
    assert not layer.built and layer.variables == []
    x = np.ones((2, 5), dtype=np.float32)
    y = layer(x)
    assert layer.built
    assert tuple(y.shape) == (2, 3)
    np.testing.assert_allclose(y.numpy(), x @ layer.kernel.numpy(), rtol=1e-6)
    layer(np.ones((7, 5), dtype=np.float32))
    assert layer.build_calls == [(2, 5)]
    assert layer.variables == [layer.kernel]
    assert layer.kernel.name == f"{layer.name}/kernel:0"
    assert tracking.named_variables(layer) == {"kernel": layer.kernel}


def test_unique_names_per_class():
    _reset_name_counters()
    names = [tg.layers.Dense(1).name, tg.layers.Dense(1).name, tg.layers.Conv2D(1, 1).name,
             tg.layers.MaxPooling2D().name, tg.layers.BatchNormalization().name,
             tg.layers.Dense(1, name="head").name, tg.layers.Dense(1).name]
    assert names == ["dense", "dense_1", "conv2d", "max_pooling2d", "batch_normalization",
                     "head", "dense_2"]
    assert MySimpleLayer(1).name == "my_simple_layer"


def test_training_flag_reaches_call_only_when_accepted_and_is_inherited():
    seen = []

    class Probe(tg.layers.Layer):
        def call(self, inputs, training=None):
            seen.append(training)
            return inputs

    class NoFlag(tg.layers.Layer):
        def call(self, inputs):
            return inputs * 2.0

    class Outer(tg.Model):
        def __init__(self):
            super().__init__()
            self.probe = Probe()
            self.plain = NoFlag()

        def call(self, inputs):
            # Does not pass training on: the inner layer inherits it.
            return self.plain(self.probe(inputs))

    x = tg.ones([1, 2])
    model = Outer()
    model(x, training=True)
    model(x, training=False)
    model(x)
    Probe()(x)
    assert seen == [True, False, None, None]


def test_call_default_for_training_is_kept_when_not_given():
    class Defaulted(tg.layers.Layer):
        def call(self, inputs, training=True):
            return inputs * (2.0 if training else 1.0)

    layer = Defaulted()
    assert float(layer(tg.ones([1]))[0]) == 2.0
    assert float(layer(tg.ones([1]), training=False)[0]) == 1.0


def test_float64_inputs_are_cast_to_layer_dtype():
    dense = tg.layers.Dense(2)
    y = dense(np.ones((3, 4)))
    assert y.dtype == np.float32
    dense64 = tg.layers.Dense(2, dtype="float64")
    y = dense64(tg.ones([3, 4]))
    assert y.dtype == np.float64 and dense64.kernel.dtype == np.float64


def test_trainable_false_and_non_trainable_weights():
    dense = tg.layers.Dense(2)
    dense(tg.ones([1, 3]))
    assert len(dense.trainable_variables) == 2
    dense.trainable = False
    assert dense.trainable_variables == [] and len(dense.non_trainable_variables) == 2
    bn = tg.layers.BatchNormalization()
    bn(tg.ones([2, 3]))
    assert bn.trainable_variables == [bn.gamma, bn.beta]
    assert bn.non_trainable_variables == [bn.moving_mean, bn.moving_variance]


def test_add_weight_initializers_and_errors():
    layer = tg.layers.Layer()
    ones = layer.add_weight("a", (2, 3), initializer="ones")
    np.testing.assert_array_equal(ones.numpy(), np.ones((2, 3), np.float32))
    const = layer.add_weight("b", [2], initializer=tg.initializers.Constant(7.0))
    np.testing.assert_array_equal(const.numpy(), [7.0, 7.0])
    ints = layer.add_weight("c", [2], dtype=tg.int32)
    assert ints.dtype == np.int32 and ints.numpy().tolist() == [0, 0]
    assert layer.variables == [ones, const, ints]
    with pytest.raises(ValueError, match="unknown initializer"):
        layer.add_weight("d", [1], initializer="nope")
    with pytest.raises(ValueError, match="every dimension"):
        layer.add_weight("e", [None, 2])
    with pytest.raises(TypeError, match="unexpected keyword"):
        tg.layers.Dense(3, bogus=1)


def test_count_params_and_get_set_weights():
    dense = tg.layers.Dense(4)
    with pytest.raises(ValueError, match="not been built"):
        dense.count_params()
    dense(tg.ones([1, 3]))
    assert dense.count_params() == 3 * 4 + 4
    weights = [np.full((3, 4), 0.5, np.float32), np.arange(4, dtype=np.float32)]
    dense.set_weights(weights)
    got = dense.get_weights()
    np.testing.assert_array_equal(got[0], weights[0])
    np.testing.assert_array_equal(got[1], weights[1])
    with pytest.raises(ValueError, match="shape"):
        dense.set_weights([np.zeros((4, 4)), np.zeros(4)])


def test_get_config_round_trip():
    dense = tg.layers.Dense(5, activation="relu", use_bias=False,
                            kernel_initializer="he_normal", name="fc")
    config = dense.get_config()
    assert config["units"] == 5 and config["activation"] == "relu"
    assert config["kernel_initializer"]["class_name"] == "he_normal"
    clone = tg.layers.Dense.from_config(config)
    assert clone.units == 5 and clone.use_bias is False and clone.name == "fc"
    assert isinstance(clone.kernel_initializer, tg.initializers.HeNormal)
    conv = tg.layers.Conv2D(8, 3, strides=2, padding="same")
    cfg = conv.get_config()
    assert cfg["kernel_size"] == (3, 3) and cfg["strides"] == (2, 2) and cfg["padding"] == "same"


def test_activation_argument_forms():
    x = tg.constant([[-1.0, 2.0]])
    kernel = tg.initializers.Constant(np.eye(2))
    for activation, want in [(None, [[-1.0, 2.0]]), ("linear", [[-1.0, 2.0]]),
                             ("relu", [[0.0, 2.0]]), (tg.nn.relu, [[0.0, 2.0]]),
                             (lambda t: t * 3.0, [[-3.0, 6.0]])]:
        dense = tg.layers.Dense(2, activation=activation, kernel_initializer=kernel)
        np.testing.assert_allclose(dense(x).numpy(), want, rtol=1e-6)
    sig = tg.layers.Dense(2, activation="sigmoid", kernel_initializer=kernel)(x).numpy()
    np.testing.assert_allclose(sig, 1 / (1 + np.exp([[1.0, -2.0]])), rtol=1e-6)
    with pytest.raises(ValueError, match="unknown activation"):
        tg.layers.Dense(2, activation="nope")


def test_initializers_follow_the_global_seed_and_scale():
    tg.random.set_seed(3)
    a = tg.initializers.GlorotUniform()((50, 40)).numpy()
    tg.random.set_seed(3)
    b = tg.initializers.GlorotUniform()((50, 40)).numpy()
    np.testing.assert_array_equal(a, b)
    limit = np.sqrt(6.0 / 90)
    assert np.abs(a).max() <= limit and np.abs(a).max() > 0.9 * limit
    he = tg.initializers.get("he_normal")((3, 3, 64, 64)).numpy()
    np.testing.assert_allclose(he.std(), np.sqrt(2.0 / (9 * 64)), rtol=0.05)
    normal = tg.initializers.RandomNormal(1.0, 0.5)((20000,)).numpy()
    np.testing.assert_allclose([normal.mean(), normal.std()], [1.0, 0.5], atol=0.02)
    trunc = tg.initializers.TruncatedNormal(0.0, 1.0)((20000,)).numpy()
    assert np.abs(trunc).max() <= 2.0
    with pytest.raises(TypeError, match="floating"):
        tg.initializers.RandomUniform()((2,), dtype=tg.int32)
