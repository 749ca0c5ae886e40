"""Conv2DTranspose (adjoint identity, NumPy scatter reference), DepthwiseConv2D (per-channel
NumPy reference), SeparableConv2D; second-order gradient checks."""

import numpy as np
import pytest

import tapegrad as tg
from tapegrad.layers import Conv2DTranspose, DepthwiseConv2D, SeparableConv2D

RNG = np.random.default_rng(0)


def _np_conv_valid(x, w, stride=1):
    kh, kw, _, o = w.shape
    n, h, wd, _ = x.shape
    oh, ow = (h - kh) // stride + 1, (wd - kw) // stride + 1
    out = np.zeros((n, oh, ow, o))
    for i in range(oh):
        for j in range(ow):
            patch = x[:, i * stride:i * stride + kh, j * stride:j * stride + kw, :]
            out[:, i, j] = np.tensordot(patch, w, axes=([1, 2, 3], [0, 1, 2]))
    return out


@pytest.mark.parametrize("padding, stride", [("valid", 1), ("valid", 2), ("same", 2),
                                             ("same", 1)])
def test_conv2d_transpose_is_the_adjoint_of_conv2d(padding, stride):
    x = RNG.normal(size=(2, 4, 4, 3))
    layer = Conv2DTranspose(5, 3, strides=stride, padding=padding, use_bias=False,
                            dtype="float64")
    y = layer(x).numpy()
    w = layer.kernel.numpy()            # (kh, kw, filters=5, in=3)
    probe = RNG.normal(size=y.shape)
    conv = tg.nn.conv2d(probe, w, strides=stride, padding=padding.upper()).numpy()
    assert conv.shape == x.shape
    # <conv(probe), x> == <probe, conv_transpose(x)>
    np.testing.assert_allclose((conv * x).sum(), (probe * y).sum(), rtol=1e-10)
    assert layer.compute_output_shape((None, 4, 4, 3)) == (None,) + y.shape[1:]


def test_conv2d_transpose_valid_matches_scatter():
    x = RNG.normal(size=(1, 2, 3, 2))
    layer = Conv2DTranspose(2, (2, 3), strides=2, dtype="float64")
    out = layer(x).numpy()
    w = layer.kernel.numpy()
    ref = np.zeros((1, 4, 7, 2))
    for i in range(2):
        for j in range(3):
            ref[0, 2 * i:2 * i + 2, 2 * j:2 * j + 3] += np.einsum("c,hwfc->hwf", x[0, i, j], w)
    np.testing.assert_allclose(out, ref + layer.bias.numpy(), rtol=1e-10)


def test_depthwise_and_separable_match_numpy():
    x = RNG.normal(size=(2, 5, 5, 3))
    dw = DepthwiseConv2D(3, depth_multiplier=2, dtype="float64")
    out = dw(x).numpy()
    k = dw.depthwise_kernel.numpy()
    assert k.shape == (3, 3, 3, 2) and out.shape == (2, 3, 3, 6)
    for c in range(3):
        for m in range(2):
            ref = _np_conv_valid(x[..., c:c + 1], k[:, :, c:c + 1, m:m + 1])[..., 0]
            np.testing.assert_allclose(out[..., c * 2 + m], ref + dw.bias.numpy()[c * 2 + m],
                                       rtol=1e-10)
    sep = SeparableConv2D(4, 3, depth_multiplier=2, dtype="float64")
    out = sep(x).numpy()
    k, p, b = sep.depthwise_kernel.numpy(), sep.pointwise_kernel.numpy(), sep.bias.numpy()
    depth = np.stack([_np_conv_valid(x[..., c:c + 1], k[:, :, c:c + 1, m:m + 1])[..., 0]
                      for c in range(3) for m in range(2)], axis=-1)
    np.testing.assert_allclose(out, depth @ p[0, 0] + b, rtol=1e-10)
    assert [tuple(v.shape) for v in sep.variables] == [(3, 3, 3, 2), (1, 1, 6, 4), (4,)]


@pytest.mark.parametrize("make", [
    lambda: Conv2DTranspose(2, 2, strides=2, dtype="float64"),
    lambda: DepthwiseConv2D(2, depth_multiplier=2, dtype="float64"),
    lambda: SeparableConv2D(2, 2, dtype="float64"),
])
def test_gradients_second_order(make):
    layer = make()
    x = RNG.normal(size=(1, 3, 3, 2))
    layer(x)
    names = [n for n in ("kernel", "depthwise_kernel", "pointwise_kernel", "bias")
             if isinstance(getattr(layer, n, None), tg.Variable)]
    saved = [getattr(layer, n) for n in names]

    def f(xs, *weights):
        for n, w in zip(names, weights):
            layer.__dict__[n] = w
        try:
            return layer.call(xs)
        finally:
            for n, v in zip(names, saved):
                layer.__dict__[n] = v

    tg.check_grads(f, [x] + [np.array(v.numpy()) for v in saved], order=2)


def test_bad_arguments():
    with pytest.raises(ValueError, match="output_padding"):
        Conv2DTranspose(2, 3, output_padding=1)
    with pytest.raises(ValueError, match="channels"):
        layer = DepthwiseConv2D(3)
        layer(np.zeros((1, 5, 5, 2), np.float32))
        layer(np.zeros((1, 5, 5, 3), np.float32))
