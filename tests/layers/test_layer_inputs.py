"""Layers take what TF's take: lists of numbers and NumPy arrays are converted; None,
strings and other objects raise a TypeError naming the layer (not an AttributeError)."""

import numpy as np
import pytest

import tapegrad as tg
from tapegrad.models import Model, Sequential

L = tg.layers


def _layers():
    return [
        (L.Dense(2), [[1.0, 2.0, 3.0]]),
        (L.Dense(2), [[1, 2, 3]]),
        (L.Dense(2), ((1.0, 2.0, 3.0),)),
        (L.Activation("relu"), [1.0, -2.0]),
        (L.Flatten(), [[[1.0, 2.0], [3.0, 4.0]]]),
        (L.Dropout(0.5), [[1.0, 2.0]]),
        (L.Embedding(5, 3), [[0, 4, 2]]),
        (L.Conv2D(2, 1), np.ones((1, 2, 2, 1), np.uint8).tolist()),
        (L.MaxPooling2D(2), np.ones((1, 2, 2, 1)).tolist()),
        (L.BatchNormalization(), [[1.0, 2.0], [3.0, 5.0]]),
    ]


@pytest.mark.parametrize("index", range(len(_layers())))
def test_lists_of_numbers_give_the_same_result_as_arrays(index):
    layer, data = _layers()[index]
    from_list = layer(data, training=False)
    from_array = layer(np.asarray(data), training=False)
    assert isinstance(from_list, tg.Tensor)
    np.testing.assert_array_equal(from_list.numpy(), from_array.numpy())


@pytest.mark.parametrize("bad", [None, "abc", b"xy", object(), {1, 2}, [[1.0, 2.0], [3.0]],
                                 ["a", "b"], [None, 1.0]])
@pytest.mark.parametrize("make", [lambda: L.Dense(2), lambda: L.Conv2D(1, 1),
                                  lambda: L.Flatten(), lambda: L.Embedding(3, 2),
                                  lambda: Sequential([L.Dense(2)])])
def test_junk_raises_a_type_error_naming_the_layer(make, bad):
    layer = make()
    with pytest.raises(TypeError, match=rf"{layer.name} \({type(layer).__name__}\)"):
        layer(bad)
    assert not layer.built


@pytest.mark.parametrize("index", range(len(_layers())))
@pytest.mark.parametrize("structure", [
    lambda: [tg.ones((1, 3))],
    lambda: (tg.ones((1, 3)), tg.ones((1, 3))),
    lambda: {"a": tg.ones((1, 3))},
    lambda: [np.ones((1, 3)), np.ones((1, 3))],
])
def test_single_input_layers_refuse_several_tensors_clearly(index, structure):
    layer, _ = _layers()[index]
    with pytest.raises(TypeError, match=rf"{layer.name} \({type(layer).__name__}\): takes one "
                                        "tensor"):
        layer(structure())


def test_a_model_passes_other_objects_to_its_call():
    class Scaled(Model):
        def __init__(self):
            super().__init__()
            self.dense = L.Dense(1, kernel_initializer="ones")

        def call(self, inputs):
            x, scale = inputs
            return self.dense(x) * (2.0 if scale is None else scale)

    model = Scaled()
    out = model([np.ones((1, 3), np.float32), None])
    np.testing.assert_array_equal(out.numpy(), [[6.0]])
    with pytest.raises(TypeError, match=r"dense.*\(Dense\).*NoneType"):
        model([None, 1.0])
