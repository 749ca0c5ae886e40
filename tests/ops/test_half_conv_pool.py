"""float16 conv2d and pooling: computed in float32, stored in float16 (issue 16).

Each result (forward, first and second derivatives) must have dtype float16 and match
the float32 computation on the same (float16-representable) values within float16
rounding of the float32 result.
"""

import numpy as np
import pytest

import tapegrad as tg


def _ops():
    return {
        "conv2d_same": lambda x, w: tg.nn.conv2d(x, w, strides=1, padding="SAME"),
        "conv2d_valid_s2": lambda x, w: tg.nn.conv2d(x, w, strides=2, padding="VALID"),
        "max_pool": lambda x, w: tg.nn.max_pool2d(x, 2, 2, "SAME") * 1.5,
        "avg_pool": lambda x, w: tg.nn.avg_pool2d(x, 3, 2, "SAME") * 1.5,
    }


def _values(dtype):
    rng = np.random.RandomState(0)
    # Values exactly representable in float16, so both runs see the same inputs.
    x = rng.uniform(-1, 1, (2, 6, 5, 3)).astype(np.float16)
    w = rng.uniform(-1, 1, (3, 2, 3, 4)).astype(np.float16)
    return tg.constant(x.astype(dtype)), tg.Variable(w.astype(dtype))


def _run(name, dtype):
    f = _ops()[name]
    x, w = _values(dtype)
    with tg.GradientTape(persistent=True) as outer:
        outer.watch(x)
        with tg.GradientTape(persistent=True) as inner:
            inner.watch(x)
            y = f(x, w)
            loss = tg.reduce_sum(y * y)
        gx, gw = inner.gradient(loss, [x, w])
        s = tg.reduce_sum(gx * gx)
    ggx = outer.gradient(s, x)
    return y, gx, gw, ggx


def _close(half, single, what):
    assert half.dtype == np.float16, what
    ref = single.numpy()
    got = half.numpy().astype(np.float32)
    scale = max(1.0, float(np.abs(ref).max()))
    # float16 has an 11-bit significand: a few ulps of the largest magnitude.
    np.testing.assert_allclose(got, ref, rtol=4e-3, atol=4e-3 * scale, err_msg=what)


@pytest.mark.parametrize("name", sorted(_ops()))
def test_float16_matches_float32(name):
    half = _run(name, np.float16)
    single = _run(name, np.float32)
    for what, h, s in zip(["value", "d/dx", "d/dw", "d2/dx2"], half, single):
        if s is None:
            assert h is None, what
            continue
        _close(h, s, "%s %s" % (name, what))


def test_float16_layers_train_step():
    # The Keras-style layers reach the same primitives.
    model = tg.Sequential([tg.layers.Conv2D(2, 3, padding="same", dtype="float16"),
                           tg.layers.MaxPooling2D(2, dtype="float16"),
                           tg.layers.AveragePooling2D(1, dtype="float16")])
    x = tg.constant(np.random.RandomState(1).rand(1, 4, 4, 1).astype(np.float16))
    with tg.GradientTape() as tape:
        loss = tg.reduce_sum(model(x))
    grads = tape.gradient(loss, model.trainable_variables)
    assert loss.dtype == np.float16
    assert all(g is not None and g.dtype == np.float16 for g in grads)
    assert all(np.isfinite(g.numpy()).all() for g in grads)
