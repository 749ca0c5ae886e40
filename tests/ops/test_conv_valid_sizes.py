"""VALID padding with an input smaller than the window: TensorFlow's output size,
(in - window + stride) / stride in C's truncating division -- 0 gives an empty result,
a negative size raises naming the op (it used to come back as an empty tensor)."""

import numpy as np
import pytest

import tapegrad as tg


def _size(n, k, s):
    num = n - k + s
    return num // s if num >= 0 else -(-num // s)


CASES = [(3, 4, 1), (3, 5, 1), (3, 4, 2), (3, 6, 2), (3, 7, 2), (3, 8, 2), (5, 5, 1)]


@pytest.mark.parametrize("n, k, s", CASES)
def test_conv2d_valid_sizes(n, k, s):
    x = tg.ones([1, n, n, 1])
    w = tg.ones([k, k, 1, 2])
    want = _size(n, k, s)
    if want < 0:
        with pytest.raises(ValueError, match=r"conv2d: VALID padding .* negative output"):
            tg.nn.conv2d(x, w, s, "VALID")
    else:
        y = tg.nn.conv2d(x, w, s, "VALID")
        assert y.shape == (1, want, want, 2)
        if want:
            np.testing.assert_array_equal(y.numpy(), float(k * k))


@pytest.mark.parametrize("op", ["max_pool2d", "avg_pool2d"])
@pytest.mark.parametrize("n, k, s", CASES)
def test_pool_valid_sizes(op, n, k, s):
    x = tg.ones([1, n, n, 1])
    want = _size(n, k, s)
    if want < 0:
        with pytest.raises(ValueError, match=r"%s: VALID padding .* negative output" % op):
            getattr(tg.nn, op)(x, k, s, "VALID")
    else:
        assert getattr(tg.nn, op)(x, k, s, "VALID").shape == (1, want, want, 1)


def test_layer_names_the_op():
    with pytest.raises(ValueError, match="conv2d: VALID padding"):
        tg.layers.Conv2D(2, 5)(tg.ones([1, 3, 3, 1]))
