"""tensor.shape / get_shape() are TensorShapes: tuples with TF's methods (issue 16)."""

import pickle

import numpy as np
import pytest

import tapegrad as tg
from tapegrad.tensor_shape import Dimension, TensorShape


def test_tensor_and_variable_shapes_have_tf_methods():
    x = tg.constant(np.zeros((2, 3), np.float32))
    v = tg.Variable(np.zeros((4,), np.float32))
    for s, dims in [(x.shape, [2, 3]), (x.get_shape(), [2, 3]), (v.shape, [4]),
                    (v.get_shape(), [4])]:
        assert isinstance(s, TensorShape)
        assert s.as_list() == dims
        assert s == tuple(dims)
        assert s.ndims == s.rank == len(dims)
        assert s.num_elements() == int(np.prod(dims))
        assert s[0].value == dims[0] and s[0] == dims[0]
        assert isinstance(s[0], Dimension)
    assert x.shape[1:].as_list() == [3]
    assert np.zeros(x.shape).shape == (2, 3)
    n, m = x.shape
    assert (n, m) == (2, 3) and type(n) is int


def test_tuple_behaviour_is_kept():
    s = tg.constant(np.zeros((2, 3))).shape
    assert s + (1,) == (2, 3, 1) and type(s + (1,)) is tuple
    assert str(s) == "(2, 3)" and repr(s) == "(2, 3)"
    assert hash(s) == hash((2, 3))
    assert {(2, 3): "a"}[s] == "a"
    assert pickle.loads(pickle.dumps(s)) == s


def test_unknown_dimensions_and_merging():
    s = TensorShape([None, 3])
    assert s[0] is None and s.as_list() == [None, 3]
    assert not s.is_fully_defined() and s.num_elements() is None
    assert s.is_compatible_with([2, 3]) and s.is_compatible_with(TensorShape([2, None]))
    assert not s.is_compatible_with([2, 4]) and not s.is_compatible_with([3])
    assert s.merge_with([2, None]).as_list() == [2, 3]
    with pytest.raises(ValueError, match="incompatible"):
        s.merge_with([2, 4])
    assert s.concatenate([5]).as_list() == [None, 3, 5]
    assert (TensorShape([1]) + TensorShape([2])).as_list() == [1, 2]
    assert TensorShape([Dimension(4), 5]) == (4, 5)
    with pytest.raises(ValueError):
        TensorShape([-1])
    with pytest.raises(TypeError):
        TensorShape(["a"])


def test_error_messages_still_format_shapes():
    with pytest.raises(TypeError, match=r"logical_and"):
        tg.logical_and(tg.constant([1.0]), tg.constant([True]))
