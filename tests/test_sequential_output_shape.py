"""Sequential.output_shape is the last layer's output shape, current after add/pop."""

import numpy as np
import pytest

import tapegrad as tg
from tapegrad.models import Model, Sequential

L = tg.layers


def test_built_from_input_shape_reports_last_layer():
    m = Sequential([L.Dense(4, input_shape=(3,)), L.Dense(2)])
    assert m.output_shape == (None, 2)
    m.add(L.Dense(7))
    assert m.output_shape == (None, 7)
    m.pop()
    assert m.output_shape == (None, 2)
    m.pop()
    assert m.output_shape == (None, 4)
    m.pop()
    with pytest.raises(AttributeError, match="no layers"):
        _ = m.output_shape
    m.add(L.Dense(5))
    assert m.output_shape == (None, 5)


def test_built_by_a_call_then_extended():
    m = Sequential([L.Dense(4), L.Dense(2)])
    with pytest.raises(AttributeError):
        _ = m.output_shape
    m(np.zeros((5, 3), np.float32))
    assert m.output_shape == (None, 2)
    m.add(L.Dense(9))
    assert m.output_shape == (None, 9)
    assert m(np.zeros((5, 3), np.float32)).shape == (5, 9)


def test_add_one_at_a_time_and_enclosing_summary():
    m = Sequential()
    m.add(L.Dense(4, input_shape=(3,)))
    m.add(L.Dense(5))
    assert m.output_shape == (None, 5)

    class Outer(Model):
        def __init__(self):
            super().__init__()
            self.body = m

        def call(self, x):
            return self.body(x)

    outer = Outer()
    outer(np.zeros((2, 3), np.float32))
    lines = []
    outer.summary(print_fn=lines.append)
    assert any("(None, 5)" in line for line in lines)
