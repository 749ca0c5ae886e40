"""Conv2D, pooling and BatchNormalization against NumPy references."""

import numpy as np
import pytest

import tapegrad as tg

RNG = np.random.default_rng(0)


def _pad_same(x, kh, kw, sh, sw):
    n, h, w, c = x.shape
    out_h, out_w = -(-h // sh), -(-w // sw)
    ph = max((out_h - 1) * sh + kh - h, 0)
    pw = max((out_w - 1) * sw + kw - w, 0)
    return np.pad(x, ((0, 0), (ph // 2, ph - ph // 2), (pw // 2, pw - pw // 2), (0, 0)),
                  constant_values=np.nan)


def _np_conv(x, k, stride, padding):
    kh, kw, _, f = k.shape
    sh, sw = stride
    if padding == "same":
        x = np.nan_to_num(_pad_same(x, kh, kw, sh, sw), nan=0.0)
    n, h, w, _ = x.shape
    oh, ow = (h - kh) // sh + 1, (w - kw) // sw + 1
    out = np.zeros((n, oh, ow, f))
    for i in range(oh):
        for j in range(ow):
            patch = x[:, i * sh:i * sh + kh, j * sw:j * sw + kw, :]
            out[:, i, j, :] = np.tensordot(patch, k, axes=([1, 2, 3], [0, 1, 2]))
    return out


def _np_pool(x, size, stride, padding, reduce):
    (ph, pw), (sh, sw) = size, stride
    if padding == "same":
        x = _pad_same(x, ph, pw, sh, sw)
    n, h, w, c = x.shape
    oh, ow = (h - ph) // sh + 1, (w - pw) // sw + 1
    out = np.zeros((n, oh, ow, c))
    for i in range(oh):
        for j in range(ow):
            out[:, i, j, :] = reduce(x[:, i * sh:i * sh + ph, j * sw:j * sw + pw, :],
                                     axis=(1, 2))
    return out


@pytest.mark.parametrize("padding", ["valid", "same"])
@pytest.mark.parametrize("strides", [1, 2])
def test_conv2d_matches_numpy(padding, strides):
    x = RNG.normal(size=(2, 7, 6, 3)).astype(np.float32)
    conv = tg.layers.Conv2D(4, (3, 2), strides=strides, padding=padding,
                            bias_initializer=tg.initializers.Constant(0.5))
    y = conv(x)
    want = _np_conv(x, conv.kernel.numpy(), (strides, strides), padding) + 0.5
    assert tuple(y.shape) == want.shape
    assert conv.compute_output_shape((None, 7, 6, 3)) == (None,) + want.shape[1:]
    np.testing.assert_allclose(y.numpy(), want, rtol=1e-4, atol=1e-5)
    assert [tuple(v.shape) for v in conv.variables] == [(3, 2, 3, 4), (4,)]


def test_conv2d_activation_and_gradient_shapes():
    x = tg.constant(RNG.normal(size=(2, 5, 5, 2)).astype(np.float32))
    conv = tg.layers.Conv2D(3, 3, padding="same", activation="relu")
    with tg.GradientTape() as tape:
        tape.watch(x)
        y = conv(x)
        loss = tg.reduce_sum(y)
    assert (y.numpy() >= 0).all()
    gx, gk, gb = tape.gradient(loss, [x] + conv.variables)
    assert tuple(gx.shape) == (2, 5, 5, 2) and tuple(gk.shape) == (3, 3, 2, 3)
    np.testing.assert_allclose(gb.numpy(), (y.numpy() > 0).sum(axis=(0, 1, 2)))


def test_conv2d_rejects_channels_first_and_bad_inputs():
    with pytest.raises(ValueError, match="channels_last"):
        tg.layers.Conv2D(4, 3, data_format="channels_first")
    with pytest.raises(ValueError, match="padding"):
        tg.layers.Conv2D(4, 3, padding="full")
    with pytest.raises(ValueError, match="kernel_size"):
        tg.layers.Conv2D(4, (3, 0))
    with pytest.raises(ValueError, match="NHWC"):
        tg.layers.Conv2D(4, 3)(tg.ones([2, 5, 5]))


@pytest.mark.parametrize("padding", ["valid", "same"])
def test_pooling_matches_numpy(padding):
    x = RNG.normal(size=(2, 5, 7, 3)).astype(np.float32)
    mp = tg.layers.MaxPooling2D(pool_size=2, padding=padding)
    want = _np_pool(x, (2, 2), (2, 2), padding, np.nanmax)
    np.testing.assert_allclose(mp(x).numpy(), want, rtol=1e-6)
    assert mp.compute_output_shape((None, 5, 7, 3)) == (None,) + want.shape[1:]
    ap = tg.layers.AveragePooling2D(pool_size=(3, 2), strides=(1, 2), padding=padding)
    want = _np_pool(x, (3, 2), (1, 2), padding, np.nanmean)
    np.testing.assert_allclose(ap(x).numpy(), want, rtol=1e-5, atol=1e-6)


def test_global_pooling():
    x = RNG.normal(size=(2, 3, 4, 5)).astype(np.float32)
    np.testing.assert_allclose(tg.layers.GlobalAveragePooling2D()(x).numpy(),
                               x.mean(axis=(1, 2)), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(tg.layers.GlobalMaxPooling2D()(x).numpy(), x.max(axis=(1, 2)))


def test_batch_normalization_training_and_inference():
    x = RNG.normal(loc=3.0, scale=2.0, size=(64, 4)).astype(np.float32)
    bn = tg.layers.BatchNormalization(momentum=0.9)
    y = bn(x, training=True).numpy()
    want = (x - x.mean(0)) / np.sqrt(x.var(0) + 1e-3)
    np.testing.assert_allclose(y, want, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(bn.moving_mean.numpy(), 0.1 * x.mean(0), rtol=1e-5)
    np.testing.assert_allclose(bn.moving_variance.numpy(), 0.9 + 0.1 * x.var(0), rtol=1e-5)
    bn.gamma.assign(np.full(4, 2.0, np.float32))
    bn.beta.assign(np.full(4, 1.0, np.float32))
    y_inf = bn(x).numpy()  # inference: moving statistics, no update
    mm, mv = bn.moving_mean.numpy(), bn.moving_variance.numpy()
    np.testing.assert_allclose(y_inf, (x - mm) / np.sqrt(mv + 1e-3) * 2.0 + 1.0, rtol=1e-4,
                               atol=1e-4)
    np.testing.assert_array_equal(bn.moving_mean.numpy(), mm)


def test_batch_normalization_on_conv_features_and_gradient():
    x = tg.constant(RNG.normal(size=(4, 3, 3, 2)).astype(np.float32))
    bn = tg.layers.BatchNormalization(axis=-1)
    with tg.GradientTape() as tape:
        tape.watch(x)
        y = bn(x, training=True)
        loss = tg.reduce_sum(y)
    # Normalized outputs sum to zero per channel, so the loss does not depend on x.
    np.testing.assert_allclose(y.numpy().mean(axis=(0, 1, 2)), 0.0, atol=1e-5)
    gx, gg, gb = tape.gradient(loss, [x, bn.gamma, bn.beta])
    np.testing.assert_allclose(gx.numpy(), 0.0, atol=1e-4)
    np.testing.assert_allclose(gb.numpy(), [36.0, 36.0])
    bn1 = tg.layers.BatchNormalization(axis=1)
    y1 = bn1(x, training=True).numpy()
    xn = x.numpy()
    mean = xn.mean(axis=(0, 2, 3), keepdims=True)
    var = xn.var(axis=(0, 2, 3), keepdims=True)
    np.testing.assert_allclose(y1, (xn - mean) / np.sqrt(var + 1e-3), rtol=1e-4, atol=1e-4)
    assert tuple(bn1.gamma.shape) == (3,)
