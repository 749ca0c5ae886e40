"""Softmax/ReLU/LeakyReLU/PReLU/ELU, LayerNormalization, Conv1D and 1-D pooling,
RepeatVector/Permute/ZeroPadding2D/Cropping2D/UpSampling2D, TimeDistributed: values
against NumPy and numeric gradient checks (float64, second order)."""

import numpy as np
import pytest

import tapegrad as tg
from tapegrad.layers import (
    ELU,
    AveragePooling1D,
    Conv1D,
    Cropping2D,
    Dense,
    GlobalAveragePooling1D,
    GlobalMaxPooling1D,
    LayerNormalization,
    LeakyReLU,
    MaxPooling1D,
    Permute,
    PReLU,
    ReLU,
    RepeatVector,
    Softmax,
    TimeDistributed,
    UpSampling2D,
    ZeroPadding2D,
)

RNG = np.random.default_rng(0)


def _x(*shape):
    return RNG.normal(size=shape)


def test_activation_layers_values():
    x = _x(3, 4)
    e = np.exp(x - x.max(1, keepdims=True))
    np.testing.assert_allclose(Softmax(dtype="float64")(x).numpy(), e / e.sum(1, keepdims=True))
    np.testing.assert_allclose(ReLU(dtype="float64")(x).numpy(), np.maximum(x, 0))
    np.testing.assert_allclose(ReLU(max_value=0.5, dtype="float64")(x).numpy(),
                               np.clip(x, 0, 0.5))
    np.testing.assert_allclose(
        ReLU(negative_slope=0.1, threshold=0.2, dtype="float64")(x).numpy(),
        np.where(x >= 0.2, x, 0.1 * (x - 0.2)))
    np.testing.assert_allclose(LeakyReLU(0.3, dtype="float64")(x).numpy(),
                               np.where(x > 0, x, 0.3 * x))
    np.testing.assert_allclose(ELU(2.0, dtype="float64")(x).numpy(),
                               np.where(x > 0, x, 2.0 * np.expm1(x)))
    p = PReLU(alpha_initializer="ones", shared_axes=[1], dtype="float64")
    y = _x(2, 3, 4)
    out = p(y).numpy()
    assert tuple(p.alpha.shape) == (1, 4)
    np.testing.assert_allclose(out, y)     # slope 1 everywhere


def test_layer_normalization_values():
    x = _x(4, 5) * 3 + 1
    ln = LayerNormalization(epsilon=1e-3, dtype="float64")
    out = ln(x).numpy()
    ref = (x - x.mean(1, keepdims=True)) / np.sqrt(x.var(1, keepdims=True) + 1e-3)
    np.testing.assert_allclose(out, ref, rtol=1e-10)
    ln.gamma.assign(np.arange(5.0))
    ln.beta.assign(np.ones(5))
    np.testing.assert_allclose(ln(x).numpy(), ref * np.arange(5.0) + 1, rtol=1e-10)
    ln2 = LayerNormalization(axis=[1, 2], dtype="float64")
    y = _x(2, 3, 4)
    ref2 = (y - y.mean((1, 2), keepdims=True)) / np.sqrt(y.var((1, 2), keepdims=True) + 1e-3)
    np.testing.assert_allclose(ln2(y).numpy(), ref2, rtol=1e-10)
    assert tuple(ln2.gamma.shape) == (3, 4)


def _np_conv1d(x, k, stride=1, dilation=1):
    ksize = k.shape[0]
    span = (ksize - 1) * dilation + 1
    steps = (x.shape[1] - span) // stride + 1
    out = np.zeros((x.shape[0], steps, k.shape[2]))
    for t in range(steps):
        for j in range(ksize):
            out[:, t] += x[:, t * stride + j * dilation] @ k[j]
    return out


def test_conv1d_valid_same_causal_and_dilation():
    x = _x(2, 9, 3)
    conv = Conv1D(4, 3, dtype="float64")
    out = conv(x).numpy()
    assert tuple(conv.kernel.shape) == (3, 3, 4)
    np.testing.assert_allclose(out, _np_conv1d(x, conv.kernel.numpy()) + conv.bias.numpy(),
                               rtol=1e-10)
    strided = Conv1D(2, 2, strides=2, use_bias=False, dtype="float64")
    np.testing.assert_allclose(strided(x).numpy(),
                               _np_conv1d(x, strided(x) is not None and strided.kernel.numpy(),
                                          stride=2), rtol=1e-10)
    causal = Conv1D(2, 3, padding="causal", dilation_rate=2, use_bias=False, dtype="float64")
    out = causal(x).numpy()
    padded = np.concatenate([np.zeros((2, 4, 3)), x], axis=1)
    np.testing.assert_allclose(out, _np_conv1d(padded, causal.kernel.numpy(), dilation=2),
                               rtol=1e-10)
    assert out.shape == (2, 9, 2)
    assert causal.compute_output_shape((None, 9, 3)) == (None, 9, 2)
    same = Conv1D(2, 3, padding="same", dtype="float64")
    assert same(x).shape == (2, 9, 2)


def test_pooling_1d():
    x = _x(2, 7, 3)
    np.testing.assert_allclose(MaxPooling1D(2, dtype="float64")(x).numpy(),
                               x[:, :6].reshape(2, 3, 2, 3).max(2))
    np.testing.assert_allclose(AveragePooling1D(3, strides=2, dtype="float64")(x).numpy(),
                               np.stack([x[:, i:i + 3].mean(1) for i in (0, 2, 4)], 1))
    np.testing.assert_allclose(GlobalAveragePooling1D(dtype="float64")(x).numpy(), x.mean(1))
    np.testing.assert_allclose(GlobalMaxPooling1D(dtype="float64")(x).numpy(), x.max(1))


def test_reshaping_layers():
    v = _x(2, 3)
    np.testing.assert_allclose(RepeatVector(4, dtype="float64")(v).numpy(),
                               np.repeat(v[:, None], 4, 1))
    y = _x(2, 3, 4)
    np.testing.assert_allclose(Permute((2, 1), dtype="float64")(y).numpy(),
                               y.transpose(0, 2, 1))
    img = _x(2, 4, 5, 3)
    np.testing.assert_allclose(ZeroPadding2D(((1, 2), (0, 1)), dtype="float64")(img).numpy(),
                               np.pad(img, ((0, 0), (1, 2), (0, 1), (0, 0))))
    np.testing.assert_allclose(Cropping2D(((1, 0), (1, 2)), dtype="float64")(img).numpy(),
                               img[:, 1:, 1:3])
    np.testing.assert_allclose(UpSampling2D((2, 3), dtype="float64")(img).numpy(),
                               img.repeat(2, 1).repeat(3, 2))
    with pytest.raises(ValueError, match="Permute"):
        Permute((1, 1))
    with pytest.raises(ValueError, match="leaves nothing"):
        Cropping2D(((2, 2), (0, 0)))(img)


def test_time_distributed_dense():
    x = _x(2, 5, 3)
    td = TimeDistributed(Dense(4, dtype="float64"), dtype="float64")
    out = td(x).numpy()
    k, b = td.layer.kernel.numpy(), td.layer.bias.numpy()
    np.testing.assert_allclose(out, x @ k + b, rtol=1e-10)
    assert len(td.trainable_variables) == 2
    assert td.compute_output_shape((None, 5, 3)) == (None, 5, 4)


def _check_layer(layer, x, order=2):
    """Second-order numeric check in the input and in every variable."""
    layer(x)   # build
    names = _names(layer)
    owners = [_owner(layer, name) for name in names]
    attrs = [name.split(".")[-1] for name in names]
    variables = [owner.__dict__[attr] for owner, attr in zip(owners, attrs)]

    def f(xs, *weights):
        # the layer reads its variables as attributes: point them at the inputs
        for owner, attr, value in zip(owners, attrs, weights):
            owner.__dict__[attr] = value
        try:
            return layer.call(xs)
        finally:
            for owner, attr, var in zip(owners, attrs, variables):
                owner.__dict__[attr] = var

    tg.check_grads(f, [x] + [np.array(v.numpy()) for v in variables], order=order)


def _names(layer):
    inner = getattr(layer, "layer", None)
    if inner is not None:
        return [f"layer.{n}" for n in _names(inner)]
    out = []
    for attr in ("kernel", "bias", "gamma", "beta", "alpha"):
        if getattr(layer, attr, None) is not None and isinstance(getattr(layer, attr),
                                                                  tg.Variable):
            out.append(attr)
    return out


def _owner(layer, name):
    for part in name.split(".")[:-1]:
        layer = getattr(layer, part)
    return layer


@pytest.mark.parametrize("make, shape", [
    (lambda: Softmax(dtype="float64"), (2, 3)),
    (lambda: ReLU(negative_slope=0.1, threshold=0.2, max_value=1.0, dtype="float64"), (2, 3)),
    (lambda: LeakyReLU(0.2, dtype="float64"), (2, 3)),
    (lambda: ELU(1.5, dtype="float64"), (2, 3)),
    (lambda: PReLU(alpha_initializer="random_uniform", dtype="float64"), (2, 3)),
    (lambda: LayerNormalization(dtype="float64"), (2, 4)),
    (lambda: Conv1D(2, 2, dtype="float64"), (2, 4, 3)),
    (lambda: Conv1D(2, 2, padding="causal", dtype="float64"), (2, 4, 3)),
    (lambda: MaxPooling1D(2, dtype="float64"), (2, 4, 3)),
    (lambda: AveragePooling1D(2, dtype="float64"), (2, 4, 3)),
    (lambda: GlobalAveragePooling1D(dtype="float64"), (2, 4, 3)),
    (lambda: GlobalMaxPooling1D(dtype="float64"), (2, 4, 3)),
    (lambda: RepeatVector(3, dtype="float64"), (2, 3)),
    (lambda: Permute((2, 1), dtype="float64"), (2, 3, 4)),
    (lambda: ZeroPadding2D(1, dtype="float64"), (1, 2, 3, 2)),
    (lambda: Cropping2D(((1, 0), (0, 1)), dtype="float64"), (1, 3, 3, 2)),
    (lambda: UpSampling2D(2, dtype="float64"), (1, 2, 2, 2)),
    (lambda: TimeDistributed(Dense(2, dtype="float64"), dtype="float64"), (2, 3, 2)),
])
def test_numeric_gradients_second_order(make, shape):
    # values away from kinks (relu/leaky/max) so central differences are valid
    x = RNG.uniform(0.3, 1.0, size=shape) * RNG.choice([-1.0, 1.0], size=shape)
    _check_layer(make(), x)
