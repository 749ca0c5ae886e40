"""Junk arguments found by fuzzing the public API: each raises an exception of the
expected type whose message names the op, instead of a silently truncated or wrapped
value, a float64 surprise, or an error that does not say which op failed.
"""

import numpy as np
import pytest

import tapegrad as tg
import tapegrad.numpy as tnp

X = tg.ones((2, 3))

# (label, call, exception type, text the message must contain)
CASES = [
    # sizes and counts: a float is not truncated (2.5 -> 2), a bool is not 1
    ("eye float rows", lambda: tg.eye(2.5), TypeError, "eye"),
    ("eye float columns", lambda: tg.eye(2, 2.5), TypeError, "eye"),
    ("linspace float num", lambda: tg.linspace(0., 1., 2.5), TypeError, "linspace"),
    ("one_hot float depth", lambda: tg.one_hot([0, 1], 2.5), TypeError, "one_hot"),
    ("one_hot str depth", lambda: tg.one_hot([0, 1], "a"), TypeError, "one_hot"),
    ("one_hot float tensor depth", lambda: tg.one_hot([0, 1], tg.constant(3.0)), TypeError,
     "one_hot"),
    ("top_k float k", lambda: tg.top_k(X, 1.5), TypeError, "top_k"),
    ("in_top_k float k", lambda: tg.math.in_top_k(predictions=X, targets=[0, 1], k=1.5),
     TypeError, "in_top_k"),
    ("unsorted_segment_sum float num_segments",
     lambda: tg.unsorted_segment_sum(tg.ones((3, 2)), [0, 0, 0], 2.5), TypeError,
     "unsorted_segment_sum"),
    ("unsorted_segment_max None num_segments",
     lambda: tg.unsorted_segment_max(tg.ones((3, 2)), [0, 0, 0], None), TypeError,
     "unsorted_segment_max"),
    ("unsorted_segment_sum negative num_segments",
     lambda: tg.unsorted_segment_sum(tg.ones((3, 2)), [0, 0, 0], -1), ValueError,
     "unsorted_segment_sum"),
    ("bincount negative minlength", lambda: tg.math.bincount([1, 2], minlength=-4),
     ValueError, "bincount"),
    ("bincount float maxlength", lambda: tg.math.bincount([1, 2], maxlength=1.5),
     TypeError, "bincount"),
    # axes: a float tensor is not truncated to an int axis
    ("reduce_sum float tensor axis", lambda: tg.reduce_sum(X, axis=tg.constant(1.0)),
     TypeError, "reduce_sum"),
    ("argmax float tensor axis", lambda: tg.argmax(X, axis=tg.constant(1.0)), TypeError,
     "argmax"),
    ("softmax float tensor axis", lambda: tg.nn.softmax(X, axis=tg.constant(1.0)),
     TypeError, "softmax"),
    ("concat float tensor axis", lambda: tg.concat([X, X], axis=tg.constant(1.0)),
     TypeError, "concat"),
    ("reduce_sum vector tensor axis", lambda: tg.reduce_sum(X, axis=tg.constant([0, 1])),
     TypeError, "reduce_sum"),
    ("reshape float tensor dim", lambda: tg.reshape(X, [tg.constant(6.0)]), TypeError,
     "reshape"),
    # ragged index-like arguments and object arrays: no bare NumPy conversion error
    ("boolean_mask ragged mask", lambda: tg.boolean_mask(X, [[True], [True, False]]),
     ValueError, "boolean_mask"),
    ("segment_max ragged ids", lambda: tg.segment_max(tg.ones((3, 2)), [[0, 0], [1]]),
     ValueError, "segment_max"),
    ("pad ragged paddings", lambda: tg.pad(X, [[1, 2], [3]]), ValueError, "pad"),
    ("repeat ragged repeats", lambda: tg.repeat(X, [[1, 2], [3]], axis=0), ValueError,
     "repeat"),
    ("divide_no_nan object array",
     lambda: tg.math.divide_no_nan(X, np.array([object()] * 3, dtype=object)), TypeError,
     "divide_no_nan"),
    ("constant object array as float32",
     lambda: tg.constant(np.array([object()], dtype=object), tg.float32), TypeError,
     "constant"),
    # nested axis lists are not flattened into a list of axes
    ("reverse nested axis", lambda: tg.reverse(X, [[0]]), ValueError, "reverse"),
    ("roll nested axis", lambda: tg.roll(X, 1, axis=[[0]]), ValueError, "roll"),
    ("norm nested axis", lambda: tg.norm(X, axis=[[0]]), TypeError, "norm"),
    ("unstack float num", lambda: tg.unstack(X, num=2.5), TypeError, "unstack"),
    # tensordot: axes out of range are errors, not wrapped modulo the rank
    ("tensordot negative int axes",
     lambda: tg.tensordot(tg.ones((2, 3)), tg.ones((3, 5)), -1), ValueError, "tensordot"),
    ("tensordot int axes above rank",
     lambda: tg.tensordot(tg.ones((2, 3)), tg.ones((3, 5)), 5), ValueError, "tensordot"),
    ("tensordot axis wraps", lambda: tg.tensordot(tg.ones((2, 3)), tg.ones((3, 5)),
                                                  [[1], [6]]), ValueError, "tensordot"),
    ("tensordot unequal axis lists",
     lambda: tg.tensordot(tg.ones((2, 3)), tg.ones((3, 5)), [[1], [0, 1]]), ValueError,
     "tensordot"),
    ("tensordot repeated axis",
     lambda: tg.tensordot(tg.ones((3, 3)), tg.ones((3, 3)), [[0, 0], [0, 1]]), ValueError,
     "tensordot"),
    ("tensordot junk axes", lambda: tg.tensordot(X, X, "ab"), TypeError, "tensordot"),
    # dtypes: None is not float64; complex does not drop its imaginary part
    ("cast to None", lambda: tg.cast(X, None), TypeError, "cast"),
    ("constant complex as float32", lambda: tg.constant(1 + 2j, dtype=tg.float32),
     TypeError, "constant"),
    ("constant complex array as int", lambda: tg.constant(np.array([1 + 1j]), tg.int32),
     TypeError, "constant"),
    ("Variable junk dtype", lambda: tg.Variable(tg.ones((2,)), dtype="junk"), TypeError,
     "Variable"),
    ("Variable shape mismatch", lambda: tg.Variable(tg.ones((2,)), shape=[3]), ValueError,
     "Variable"),
    ("Variable rank mismatch", lambda: tg.Variable(tg.ones((2,)), shape=[2, 1]),
     ValueError, "Variable"),
    ("TensorSpec float dim", lambda: tg.TensorSpec([2.5]), TypeError, "TensorSpec"),
    ("TensorSpec negative dim", lambda: tg.TensorSpec([-5]), ValueError, "TensorSpec"),
    ("TensorSpec junk dtype", lambda: tg.TensorSpec([2], "junk"), TypeError, "TensorSpec"),
    ("TensorSpec junk shape", lambda: tg.TensorSpec(object()), TypeError, "TensorSpec"),
    ("range None", lambda: tg.range(None), TypeError, "range"),
    ("range str", lambda: tg.range("a"), TypeError, "range"),
    ("range infinite", lambda: tg.range(0, float("inf")), ValueError, "range"),
    ("range nan", lambda: tg.range(0, float("nan")), ValueError, "range"),
    # the dispatch's wrapping: NumPy exception types with extra constructor arguments
    ("range str array", lambda: tg.range(np.array(["a", "b"])), TypeError, "range"),
    # outputs too large to allocate: a MemoryError that names the op and its inputs
    ("tile huge", lambda: tg.tile(X, [2 ** 40, 1]), MemoryError, "tile"),
    ("repeat huge", lambda: tg.repeat(X, 2 ** 40, axis=0), MemoryError, "repeat"),
    ("one_hot huge depth", lambda: tg.one_hot([0, 1], 2 ** 40), MemoryError, "one_hot"),
    ("pad huge", lambda: tg.pad(X, [[0, 2 ** 40], [0, 0]]), MemoryError, "pad"),
    ("pool huge window", lambda: tg.nn.max_pool2d(tg.ones((1, 5, 5, 2)), 2 ** 40, 1,
                                                  "VALID"), ValueError, "max_pool2d"),
    ("avg_pool huge stride", lambda: tg.nn.avg_pool2d(tg.ones((1, 5, 5, 2)), 2, 2 ** 40,
                                                      "VALID"), ValueError, "avg_pool2d"),
    ("conv2d huge stride", lambda: tg.nn.conv2d(tg.ones((1, 5, 5, 2)), tg.ones((3, 3, 2, 4)),
                                                2 ** 40, "SAME"), ValueError, "conv2d"),
    ("conv2d huge dilation", lambda: tg.nn.conv2d(tg.ones((1, 5, 5, 2)),
                                                  tg.ones((3, 3, 2, 4)), 1, "SAME",
                                                  dilations=[1, 2 ** 31, 1, 1]), ValueError,
     "conv2d"),
]


@pytest.mark.parametrize("label, call, exc, name", CASES, ids=[c[0] for c in CASES])
def test_junk_argument_raises_naming_the_op(label, call, exc, name):
    with pytest.raises(exc) as info:
        call()
    assert name in str(info.value), str(info.value)


def test_valid_forms_are_unchanged():
    # the integer forms of the arguments tightened above keep working
    assert tg.eye(np.int64(2)).shape == (2, 2)
    assert tg.one_hot([0, 1], tg.constant(3)).shape == (2, 3)
    assert tg.top_k(X, np.int32(2))[0].shape == (2, 2)
    assert tg.reduce_sum(X, axis=tg.constant(1)).shape == (2,)
    assert tg.unsorted_segment_sum(tg.ones((3, 2)), [0, 0, 1], tg.constant(2)).shape == \
        (2, 2)
    a = np.arange(6.0).reshape(2, 3)
    b = np.arange(15.0).reshape(3, 5)
    for axes in (1, [[1], [0]], [[-1], [-2]], ([1], [0]), tg.constant(1)):
        np.testing.assert_allclose(tg.tensordot(a, b, axes).numpy(), np.tensordot(a, b, 1))
    assert tg.tensordot(a, a, 0).shape == (2, 3, 2, 3)
    assert tg.tensordot(a, a, [[0, 1], [0, 1]]).numpy() == 55.0
    assert tg.constant(1 + 0j, dtype=tg.float32).numpy() == 1.0
    assert tg.cast(X, tg.float64).dtype == tg.float64
    assert tg.Variable(tg.ones((2, 3)), shape=[None, 3]).shape == (2, 3)
    assert tg.Variable(tg.ones((2,)), shape=tg.TensorShape([2])).shape == (2,)
    assert tg.TensorSpec([None, 3]).shape == (None, 3)
    assert tg.TensorSpec(tg.TensorShape([None, 2])).shape == (None, 2)
    assert tg.range(tg.constant(3)).numpy().tolist() == [0, 1, 2]
    assert tg.range(0.0, 1.0, 0.5).numpy().tolist() == [0.0, 0.5]


# tapegrad.numpy: errors from its conversion/promotion helpers and from NumPy name the
# public function that was called
TNP_CASES = [
    ("abs ragged", lambda: tnp.abs([[1.0, 2.0], [3.0]]), ValueError, "tapegrad.numpy.abs"),
    ("add dict", lambda: tnp.add({"a": 1}, tnp.ones(2)), TypeError, "tapegrad.numpy.add"),
    ("sum None", lambda: tnp.sum(None), TypeError, "tapegrad.numpy.sum"),
    ("sum axis out of range", lambda: tnp.sum(tnp.ones(3), axis=5), IndexError,
     "tapegrad.numpy.sum"),
    ("concatenate None", lambda: tnp.concatenate(None), TypeError,
     "tapegrad.numpy.concatenate"),
    ("allclose str", lambda: tnp.allclose("abc", tnp.ones(3)), TypeError,
     "tapegrad.numpy.allclose"),
    ("zeros float dim", lambda: tnp.zeros([2.5]), TypeError, "tapegrad.numpy.zeros"),
    ("ones negative dim", lambda: tnp.ones([-1, 3]), ValueError, "tapegrad.numpy.ones"),
    ("empty str shape", lambda: tnp.empty("abc"), TypeError, "tapegrad.numpy.empty"),
    ("full huge", lambda: tnp.full((2 ** 40,), 1.0), MemoryError, "tapegrad.numpy.full"),
    ("eye None", lambda: tnp.eye(None), TypeError, "tapegrad.numpy.eye"),
]


@pytest.mark.parametrize("label, call, exc, name", TNP_CASES, ids=[c[0] for c in TNP_CASES])
def test_tnp_errors_name_the_function(label, call, exc, name):
    with pytest.raises(exc) as info:
        call()
    assert str(info.value).startswith(name + ":"), str(info.value)


def test_tnp_wrapping_keeps_names_and_results():
    assert tnp.sum.__name__ == "sum"
    assert tnp.zeros((2, np.int64(3))).shape == (2, 3)
    np.testing.assert_allclose(tnp.sum(tnp.ones((2, 3)), axis=1).numpy(), [3.0, 3.0])
    # an error already naming the function is not prefixed twice
    with pytest.raises(TypeError) as info:
        tnp.unique_values(np.array(["a"]))
    assert str(info.value).count("tapegrad.numpy.") == 1, str(info.value)
