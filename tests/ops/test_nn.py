"""tg.nn against NumPy references: conv2d (strides, SAME/VALID, dilations), max/avg
pooling, softmax/log_softmax stability, cross-entropies, relu family, dropout."""

import itertools

import numpy as np
import pytest
from _tg_layouts import FLOATS, SHAPES, assert_matches, operand

import tapegrad as tg


def _same_pads(size, k, stride, dilation):
    eff = (k - 1) * dilation + 1
    out = -(-size // stride)
    total = max((out - 1) * stride + eff - size, 0)
    return out, total // 2


def _valid_out(size, k, stride, dilation):
    eff = (k - 1) * dilation + 1
    return max((size - eff) // stride + 1, 0) if size >= eff else 0


def conv2d_ref(x, w, strides, padding, dilations):
    """Direct loops over the TF definition (cross-correlation, NHWC x HWIO)."""
    n, h, wd, c = x.shape
    kh, kw, _, o = w.shape
    (sh, sw), (dh, dw) = strides, dilations
    if padding == "SAME":
        oh, pt = _same_pads(h, kh, sh, dh)
        ow, pl = _same_pads(wd, kw, sw, dw)
    else:
        oh, pt = _valid_out(h, kh, sh, dh), 0
        ow, pl = _valid_out(wd, kw, sw, dw), 0
    out = np.zeros((n, oh, ow, o), np.float64)
    for i in range(oh):
        for j in range(ow):
            for p in range(kh):
                for q in range(kw):
                    hi, wi = i * sh - pt + p * dh, j * sw - pl + q * dw
                    if 0 <= hi < h and 0 <= wi < wd:
                        out[:, i, j, :] += x[:, hi, wi, :].astype(np.float64) @ w[p, q]
    return out.astype(x.dtype)


def pool_ref(x, ksize, strides, padding, mode):
    n, h, wd, c = x.shape
    (kh, kw), (sh, sw) = ksize, strides
    if padding == "SAME":
        oh, pt = _same_pads(h, kh, sh, 1)
        ow, pl = _same_pads(wd, kw, sw, 1)
    else:
        oh, pt = _valid_out(h, kh, sh, 1), 0
        ow, pl = _valid_out(wd, kw, sw, 1), 0
    out = np.zeros((n, oh, ow, c), x.dtype)
    for i in range(oh):
        for j in range(ow):
            h0, w0 = i * sh - pt, j * sw - pl
            win = x[:, max(h0, 0):min(h0 + kh, h), max(w0, 0):min(w0 + kw, wd), :]
            if mode == "max":
                out[:, i, j, :] = win.max(axis=(1, 2))
            else:
                out[:, i, j, :] = win.astype(np.float64).mean(axis=(1, 2))
    return out


def _pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


CONV_CASES = [
    # (input shape, filter shape, strides, padding, dilations)
    ((1, 5, 5, 1), (3, 3, 1, 1), 1, "VALID", 1),
    ((2, 5, 5, 3), (3, 3, 3, 4), 1, "SAME", 1),
    ((2, 6, 7, 2), (2, 3, 2, 3), 2, "SAME", 1),
    ((1, 7, 6, 2), (3, 2, 2, 2), (2, 3), "VALID", 1),
    ((1, 7, 7, 1), (3, 3, 1, 2), 1, "SAME", 2),
    ((1, 8, 7, 2), (2, 3, 2, 1), 1, "VALID", (2, 3)),
    ((3, 4, 4, 2), (1, 1, 2, 5), 1, "VALID", 1),
    ((1, 3, 3, 1), (4, 4, 1, 1), 1, "SAME", 1),
    ((1, 3, 3, 1), (4, 4, 1, 1), 1, "VALID", 1),
    ((1, 9, 9, 1), (3, 3, 1, 1), 4, "SAME", 1),
    ((0, 5, 5, 1), (3, 3, 1, 2), 1, "SAME", 1),
    ((1, 5, 5, 0), (3, 3, 0, 2), 1, "SAME", 1),
    ((2, 6, 6, 3), (3, 3, 3, 2), [1, 2, 2, 1], "SAME", [1, 1, 1, 1]),
]


def test_conv2d_zero_output_channels():
    r = tg.nn.conv2d(tg.zeros((1, 5, 5, 2)), tg.zeros((3, 3, 2, 0)), 1, "VALID")
    assert r.shape == (1, 3, 3, 0)


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("xs, ws, strides, padding, dil", CONV_CASES,
                         ids=["%s*%s-s%s-%s-d%s" % c for c in CONV_CASES])
def test_conv2d_matches_reference(xs, ws, strides, padding, dil, dtype):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(xs).astype(dtype)
    w = rng.standard_normal(ws).astype(dtype)
    s = _pair(strides) if not isinstance(strides, list) else tuple(strides[1:3])
    d = _pair(dil) if not isinstance(dil, list) else tuple(dil[1:3])
    expected = conv2d_ref(x, w, s, padding, d)
    tol = dict(rtol=1e-4, atol=1e-4) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-10)
    for lx, lw in (("C", "C"), ("F", "T"), ("slice", "neg")):
        got = tg.nn.conv2d(operand(x, lx), operand(w, lw), strides, padding, dilations=dil)
        assert_matches(got, expected, **tol)


def test_conv2d_lowercase_padding_and_default_strides():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((1, 4, 4, 1)).astype(np.float32)
    w = rng.standard_normal((2, 2, 1, 1)).astype(np.float32)
    assert_matches(tg.nn.conv2d(x, w, 1, "same"), conv2d_ref(x, w, (1, 1), "SAME", (1, 1)),
                   rtol=1e-5, atol=1e-5)
    assert_matches(tg.nn.conv2d(x, w, strides=1, padding="VALID"),
                   conv2d_ref(x, w, (1, 1), "VALID", (1, 1)), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("xs, ws, strides, padding, dil", CONV_CASES[:6])
def test_conv2d_gradients_match_numeric(xs, ws, strides, padding, dil):
    rng = np.random.default_rng(2)
    x = rng.standard_normal(xs)
    w = rng.standard_normal(ws)
    tg.check_grads(lambda a, b: tg.nn.conv2d(a, b, strides, padding, dilations=dil), [x, w],
                   order=1)


POOL_CASES = [((1, 4, 4, 1), 2, 2, "VALID"), ((2, 5, 5, 3), 3, 2, "SAME"),
              ((1, 5, 6, 2), (2, 3), (1, 2), "SAME"), ((1, 3, 3, 1), 3, 1, "SAME"),
              ((1, 7, 5, 2), 3, 3, "VALID"), ((1, 2, 2, 1), 3, 1, "VALID"),
              ((0, 4, 4, 1), 2, 2, "SAME"), ((1, 4, 4, 1), [1, 2, 2, 1], [1, 1, 1, 1], "VALID"),
              ((1, 6, 6, 1), 1, 3, "SAME")]


@pytest.mark.parametrize("mode", ["max", "avg"])
@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("xs, k, s, p", POOL_CASES, ids=["%s-k%s-s%s-%s" % c for c in POOL_CASES])
def test_pooling_matches_reference(xs, k, s, p, dtype, mode):
    rng = np.random.default_rng(3)
    x = rng.standard_normal(xs).astype(dtype)
    op = tg.nn.max_pool2d if mode == "max" else tg.nn.avg_pool2d
    kk = _pair(k) if not isinstance(k, list) else tuple(k[1:3])
    ss = _pair(s) if not isinstance(s, list) else tuple(s[1:3])
    expected = pool_ref(x, kk, ss, p, mode)
    for layout in ("C", "F", "slice"):
        assert_matches(op(operand(x, layout), k, s, p), expected, rtol=1e-6, atol=1e-6)


def test_max_pool_never_picks_padding():
    x = np.full((1, 3, 3, 1), -5.0, np.float32)
    r = tg.nn.max_pool2d(x, 2, 2, "SAME").numpy()
    np.testing.assert_array_equal(r, np.full((1, 2, 2, 1), -5.0))
    a = tg.nn.avg_pool2d(x, 2, 2, "SAME").numpy()
    np.testing.assert_array_equal(a, np.full((1, 2, 2, 1), -5.0))


def test_max_pool_nan_propagates():
    x = np.zeros((1, 2, 2, 1), np.float32)
    x[0, 1, 1, 0] = np.nan
    assert np.isnan(float(tg.nn.max_pool2d(x, 2, 2, "VALID")))


@pytest.mark.parametrize("xs, k, s, p", POOL_CASES[:6])
def test_pool_gradients_match_numeric(xs, k, s, p):
    x = np.random.default_rng(4).permutation(int(np.prod(xs))).reshape(xs) * 0.1
    for op in (tg.nn.max_pool2d, tg.nn.avg_pool2d):
        tg.check_grads(lambda a, op=op: op(a, k, s, p), [x], order=1)


def test_avg_pool_gradient_matches_tf_convention():
    x = tg.constant(np.ones((1, 3, 3, 1)))
    with tg.GradientTape() as tape:
        tape.watch(x)
        y = tg.reduce_sum(tg.nn.avg_pool2d(x, 2, 2, "SAME"))
    g = tape.gradient(y, x).numpy()[0, :, :, 0]
    np.testing.assert_allclose(g, [[0.25, 0.25, 0.5], [0.25, 0.25, 0.5], [0.5, 0.5, 1.0]])


def test_pool_aliases():
    x = np.arange(16.0, dtype=np.float32).reshape(1, 4, 4, 1)
    assert_matches(tg.nn.max_pool(x, 2, 2, "VALID"), tg.nn.max_pool2d(x, 2, 2, "VALID").numpy())
    assert_matches(tg.nn.avg_pool(x, 2, 2, "VALID"), tg.nn.avg_pool2d(x, 2, 2, "VALID").numpy())


# ---------------------------------------------------------------------------
# softmax family


def _softmax_ref(x, axis):
    x64 = x.astype(np.float64)
    e = np.exp(x64 - x64.max(axis=axis, keepdims=True))
    return (e / e.sum(axis=axis, keepdims=True)).astype(x.dtype)


def _log_softmax_ref(x, axis):
    x64 = x.astype(np.float64)
    s = x64 - x64.max(axis=axis, keepdims=True)
    return (s - np.log(np.exp(s).sum(axis=axis, keepdims=True))).astype(x.dtype)


@pytest.mark.parametrize("dtype", FLOATS)
def test_softmax_and_log_softmax_match_numpy(dtype):
    rng = np.random.default_rng(5)
    for shape in SHAPES[1:] + [(0, 3)]:
        x = (rng.standard_normal(shape) * 3).astype(dtype)
        for axis in range(-len(shape), len(shape)):
            if shape[axis] == 0:
                continue  # see test_softmax_over_an_empty_axis
            for layout in ("C", "T", "slice"):
                assert_matches(tg.nn.softmax(operand(x, layout), axis=axis),
                               _softmax_ref(x, axis), rtol=1e-5, atol=1e-7)
                assert_matches(tg.nn.log_softmax(operand(x, layout), axis=axis),
                               _log_softmax_ref(x, axis), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("op", [tg.nn.softmax, tg.nn.log_softmax])
def test_softmax_over_an_empty_axis(op):
    assert op(tg.zeros((0, 3)), axis=0).shape == (0, 3)
    assert op(tg.zeros((3, 0))).shape == (3, 0)


@pytest.mark.parametrize("dtype", FLOATS)
def test_softmax_stable_for_huge_logits(dtype):
    x = np.array([[1e4, 0.0, -1e4], [1000.0, 1000.0, 999.0], [-1e4, -1e4, -1e4],
                  [3e38, 3e38, 0.0]], dtype)
    sm = tg.nn.softmax(x).numpy()
    lsm = tg.nn.log_softmax(x).numpy()
    assert np.all(np.isfinite(sm)) and np.all(np.isfinite(lsm))
    np.testing.assert_allclose(sm.sum(axis=-1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(sm[0], [1, 0, 0], atol=1e-30)
    np.testing.assert_allclose(lsm[0], [0, -1e4, -2e4], rtol=1e-6)
    e = np.exp(-1.0)
    np.testing.assert_allclose(sm[1], [1 / (2 + e), 1 / (2 + e), e / (2 + e)], rtol=1e-6)
    np.testing.assert_allclose(sm[2], [1 / 3] * 3, rtol=1e-6)
    np.testing.assert_allclose(sm[3], [0.5, 0.5, 0], atol=1e-30)
    xt = tg.constant(x[:3])
    with tg.GradientTape() as tape:
        tape.watch(xt)
        y = tg.reduce_sum(tg.nn.log_softmax(xt)[:, 0])
    assert np.all(np.isfinite(tape.gradient(y, xt).numpy()))


def test_softmax_with_minus_inf_masks():
    x = np.array([[0.0, -np.inf, 1.0]], np.float32)
    np.testing.assert_allclose(tg.nn.softmax(x).numpy(), _softmax_ref(x, -1), rtol=1e-6)
    lsm = tg.nn.log_softmax(x).numpy()
    assert lsm[0, 1] == -np.inf and np.isfinite(lsm[0, [0, 2]]).all()


def test_softmax_errors():
    with pytest.raises(ValueError, match="softmax"):
        tg.nn.softmax(tg.constant(1.0))
    with pytest.raises(ValueError, match="softmax"):
        tg.nn.softmax(tg.zeros((2, 3)), axis=2)
    with pytest.raises(TypeError, match="softmax"):
        tg.nn.softmax(tg.constant([1, 2]))
    with pytest.raises(ValueError, match="log_softmax"):
        tg.nn.log_softmax(tg.zeros((2, 3)), axis=-3)


# ---------------------------------------------------------------------------
# cross-entropies


@pytest.mark.parametrize("dtype", FLOATS)
def test_sparse_softmax_cross_entropy(dtype):
    rng = np.random.default_rng(6)
    logits = (rng.standard_normal((5, 4)) * 3).astype(dtype)
    labels = np.array([0, 3, 1, 1, 2])
    expected = -_log_softmax_ref(logits, -1)[np.arange(5), labels]
    for ldt in (np.int32, np.int64):
        r = tg.nn.sparse_softmax_cross_entropy_with_logits(labels=labels.astype(ldt),
                                                           logits=logits)
        assert_matches(r, expected, rtol=1e-5, atol=1e-6)
    big = np.array([[1e4, -1e4], [-1e4, 1e4]], dtype)
    r = tg.nn.sparse_softmax_cross_entropy_with_logits(labels=np.array([1, 1]), logits=big)
    np.testing.assert_allclose(r.numpy(), [2e4, 0], rtol=1e-6)
    batched = tg.nn.sparse_softmax_cross_entropy_with_logits(
        labels=np.zeros((2, 3), np.int32), logits=np.zeros((2, 3, 4), dtype))
    assert_matches(batched, np.full((2, 3), np.log(4), dtype), rtol=1e-6)


def test_sparse_softmax_cross_entropy_errors():
    f = tg.nn.sparse_softmax_cross_entropy_with_logits
    name = "sparse_softmax_cross_entropy_with_logits"
    with pytest.raises(ValueError, match=name):
        f(labels=np.array([4]), logits=np.zeros((1, 4), np.float32))
    with pytest.raises(ValueError, match=name):
        f(labels=np.array([-1]), logits=np.zeros((1, 4), np.float32))
    with pytest.raises(ValueError, match=name):
        f(labels=np.array([0, 1]), logits=np.zeros((1, 4), np.float32))
    with pytest.raises(TypeError, match=name):
        f(labels=np.array([0.0]), logits=np.zeros((1, 4), np.float32))
    with pytest.raises(ValueError, match=name):
        f(logits=np.zeros((1, 4), np.float32))


@pytest.mark.parametrize("dtype", FLOATS)
def test_softmax_cross_entropy(dtype):
    rng = np.random.default_rng(7)
    logits = (rng.standard_normal((3, 5)) * 2).astype(dtype)
    labels = rng.dirichlet(np.ones(5), size=3).astype(dtype)
    expected = -(labels * _log_softmax_ref(logits, -1)).sum(-1)
    assert_matches(tg.nn.softmax_cross_entropy_with_logits(labels=labels, logits=logits),
                   expected, rtol=1e-5, atol=1e-6)
    exp0 = -(labels.T * _log_softmax_ref(logits.T, 0)).sum(0)
    assert_matches(tg.nn.softmax_cross_entropy_with_logits(labels=labels.T, logits=logits.T,
                                                           axis=0), exp0, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="softmax_cross_entropy_with_logits"):
        tg.nn.softmax_cross_entropy_with_logits(labels=labels[:2], logits=logits)


def test_sigmoid_cross_entropy():
    x = np.array([-1e4, -2.0, 0.0, 3.0, 1e4], np.float32)
    z = np.array([0.0, 1.0, 0.5, 0.0, 1.0], np.float32)
    x64 = x.astype(np.float64)
    expected = (np.maximum(x64, 0) - x64 * z + np.log1p(np.exp(-np.abs(x64)))).astype(np.float32)
    assert_matches(tg.nn.sigmoid_cross_entropy_with_logits(labels=z, logits=x), expected,
                   rtol=1e-6)


# ---------------------------------------------------------------------------
# relu family, bias_add, l2_loss, moments


@pytest.mark.parametrize("dtype", FLOATS)
def test_relu_family(dtype):
    x = np.array([[-3.0, -0.5, 0.0], [0.5, 6.5, 10.0]], dtype)
    assert_matches(tg.nn.relu(operand(x, "T")), np.maximum(x, 0))
    assert_matches(tg.nn.relu6(x), np.clip(x, 0, 6))
    assert_matches(tg.nn.leaky_relu(x, 0.1), np.where(x > 0, x, x * dtype(0.1)))
    assert_matches(tg.nn.elu(x), np.where(x > 0, x, np.expm1(x)), rtol=1e-6)
    assert_matches(tg.nn.relu(np.array([-2, 3], np.int32)), np.array([0, 3], np.int32))


def test_bias_add_l2_loss_moments():
    rng = np.random.default_rng(8)
    x = rng.standard_normal((4, 3)).astype(np.float32)
    b = rng.standard_normal(3).astype(np.float32)
    assert_matches(tg.nn.bias_add(x, b), x + b)
    assert_matches(tg.nn.l2_loss(x), np.float32(np.sum(x.astype(np.float64) ** 2) / 2),
                   rtol=1e-5)
    mean, var = tg.nn.moments(x, [0])
    assert_matches(mean, x.mean(0), rtol=1e-5, atol=1e-6)
    assert_matches(var, x.var(0), rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------------------
# dropout


def test_dropout_statistics_and_scaling():
    x = np.ones((200, 50), np.float32)
    r = tg.nn.dropout(x, 0.3).numpy()
    kept = r != 0
    assert 0.65 < kept.mean() < 0.75
    np.testing.assert_allclose(r[kept], 1 / 0.7, rtol=1e-6)
    assert r.dtype == np.float32


def test_dropout_reproducible_under_seed():
    x = np.ones((10, 10), np.float32)
    tg.random.set_seed(5)
    a = tg.nn.dropout(x, 0.5).numpy()
    b = tg.nn.dropout(x, 0.5).numpy()
    tg.random.set_seed(5)
    c = tg.nn.dropout(x, 0.5).numpy()
    np.testing.assert_array_equal(a, c)
    assert not np.array_equal(a, b)
    d = tg.nn.dropout(x, 0.5, seed=3).numpy()
    e = tg.nn.dropout(x, 0.5, seed=3).numpy()
    tg.random.set_seed(5)
    f = tg.nn.dropout(x, 0.5, seed=3).numpy()
    assert np.array_equal(d, f) and d.shape == e.shape


def test_dropout_rate_zero_and_noise_shape_and_errors():
    x = tg.constant(np.arange(12.0, dtype=np.float32).reshape(3, 4))
    assert tg.nn.dropout(x, 0.0) is x
    r = tg.nn.dropout(x, 0.5, noise_shape=(3, 1)).numpy()
    for row, src in zip(r, x.numpy()):
        assert np.all(row == 0) or np.allclose(row, src * 2)
    with pytest.raises(ValueError, match="dropout"):
        tg.nn.dropout(x, 1.0)
    with pytest.raises(ValueError, match="dropout"):
        tg.nn.dropout(x, -0.1)
    with pytest.raises(TypeError, match="dropout"):
        tg.nn.dropout(tg.constant([1, 2]), 0.5)


def test_dropout_gradient_is_the_mask():
    x = tg.constant(np.ones((20, 20), np.float32))
    with tg.GradientTape() as tape:
        tape.watch(x)
        y = tg.nn.dropout(x, 0.25)
    g = tape.gradient(y, x).numpy()
    np.testing.assert_array_equal(g, y.numpy())


# ---------------------------------------------------------------------------
# conv/pool argument errors


@pytest.mark.parametrize("call, exc", [
    (lambda: tg.nn.conv2d(tg.zeros((1, 3, 3)), tg.zeros((2, 2, 1, 1)), 1, "VALID"), ValueError),
    (lambda: tg.nn.conv2d(tg.zeros((1, 3, 3, 2)), tg.zeros((2, 2, 1, 1)), 1, "VALID"), ValueError),
    (lambda: tg.nn.conv2d(tg.zeros((1, 3, 3, 1)), tg.zeros((2, 2, 1, 1)), 1, "FULL"), ValueError),
    (lambda: tg.nn.conv2d(tg.zeros((1, 3, 3, 1)), tg.zeros((2, 2, 1, 1)), 0, "VALID"), ValueError),
    (lambda: tg.nn.conv2d(tg.zeros((1, 3, 3, 1)), tg.zeros((2, 2, 1, 1)), [2, 2, 2, 2], "SAME"),
     ValueError),
    (lambda: tg.nn.conv2d(tg.zeros((1, 3, 3, 1)), tg.zeros((2, 2, 1, 1)), [1, 2, 3], "SAME"),
     ValueError),
    (lambda: tg.nn.conv2d(tg.zeros((1, 3, 3, 1)), tg.zeros((2, 2, 1, 1), tg.float64), 1,
                          "SAME"), TypeError),
    (lambda: tg.nn.conv2d(tg.zeros((1, 3, 3, 1), tg.int32), tg.zeros((2, 2, 1, 1), tg.int32), 1,
                          "SAME"), TypeError),
    (lambda: tg.nn.conv2d(tg.zeros((1, 3, 3, 1)), tg.zeros((2, 2, 1, 1)), 1, "SAME",
                          data_format="NCHW"), ValueError),
    (lambda: tg.nn.conv2d(tg.zeros((1, 3, 3, 1)), tg.zeros((0, 2, 1, 1)), 1, "SAME"), ValueError),
    (lambda: tg.nn.conv2d(None, tg.zeros((2, 2, 1, 1)), 1, "SAME"), TypeError),
    (lambda: tg.nn.max_pool2d(tg.zeros((3, 3)), 2, 2, "VALID"), ValueError),
    (lambda: tg.nn.max_pool2d(tg.zeros((1, 3, 3, 1)), 0, 2, "VALID"), ValueError),
    (lambda: tg.nn.avg_pool2d(tg.zeros((1, 3, 3, 1)), 2, 2, "BAD"), ValueError),
    (lambda: tg.nn.avg_pool2d(tg.zeros((1, 3, 3, 1), tg.int32), 2, 2, "SAME"), TypeError),
    (lambda: tg.nn.max_pool2d(tg.zeros((1, 3, 3, 1)), [2, 2, 2, 2], 1, "SAME"), ValueError),
])
def test_conv_pool_errors_name_the_op(call, exc):
    with pytest.raises(exc) as info:
        call()
    msg = str(info.value)
    assert any(n in msg for n in ("conv2d", "max_pool2d", "avg_pool2d")), msg


@pytest.mark.parametrize("call", [
    pytest.param(lambda: tg.nn.conv2d(tg.zeros((1, 4, 4, 1)), tg.zeros((2, 2, 1, 1)), None,
                                      "VALID"), id="conv-strides-None"),
    pytest.param(lambda: tg.nn.max_pool2d(tg.zeros((1, 4, 4, 1)), None, 1, "VALID"),
                 id="pool-ksize-None"),
    pytest.param(lambda: tg.nn.max_pool2d(tg.zeros((1, 4, 4, 1)), "ab", 1, "VALID"),
                 id="pool-ksize-str"),
    pytest.param(lambda: tg.nn.avg_pool2d(tg.zeros((1, 4, 4, 1)), 2, [1.5, 2], "VALID"),
                 id="pool-strides-float"),
])
def test_conv_pool_bad_argument_types_name_the_op(call):
    with pytest.raises((TypeError, ValueError), match="conv2d|max_pool2d|avg_pool2d"):
        call()


@pytest.mark.parametrize("op", ["conv2d", "max_pool2d", "avg_pool2d"])
def test_float16_conv_pool_work_or_raise_cleanly(op):
    x = tg.zeros((1, 4, 4, 1), tg.float16)
    try:
        if op == "conv2d":
            r = tg.nn.conv2d(x, tg.zeros((2, 2, 1, 1), tg.float16), 1, "VALID")
        else:
            r = getattr(tg.nn, op)(x, 2, 2, "VALID")
    except TypeError as e:
        assert op in str(e) and "float16" in str(e)
    else:
        assert r.dtype == np.float16


def test_all_conv_geometries_small_exhaustive():
    """Every small geometry: kernel 1..3, stride 1..3, dilation 1..2, both paddings."""
    rng = np.random.default_rng(9)
    x = rng.standard_normal((1, 5, 4, 2))
    for kh, kw, s, d, p in itertools.product((1, 2, 3), (1, 3), (1, 2, 3), (1, 2),
                                             ("SAME", "VALID")):
        if s > 1 and d > 1:
            continue
        w = rng.standard_normal((kh, kw, 2, 1))
        assert_matches(tg.nn.conv2d(x, w, s, p, dilations=d),
                       conv2d_ref(x, w, (s, s), p, (d, d)), rtol=1e-10, atol=1e-10)


def test_conv2d_filter_gradient_on_tall_inputs_matches_direct_product():
    # N*oh*ow > 2048 rows and a tiny filter take the blocked cols.T @ dy path
    rng = np.random.default_rng(7)
    x = rng.standard_normal((6, 20, 20, 1))
    w = rng.standard_normal((3, 3, 1, 4))
    xt, wt = tg.constant(x), tg.constant(w)
    with tg.GradientTape() as tape:
        tape.watch(wt)
        y = tg.nn.conv2d(xt, wt, 1, "SAME")
        loss = tg.reduce_sum(y * y)
    gw = tape.gradient(loss, wt).numpy()
    # direct: dL/dw[p, q, 0, o] = sum 2*y * x_shifted
    yv = y.numpy()
    xp = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    ref = np.zeros_like(w)
    for p in range(3):
        for q in range(3):
            patch = xp[:, p:p + 20, q:q + 20, 0]
            ref[p, q, 0, :] = np.einsum("nhw,nhwo->o", patch, 2 * yv)
    np.testing.assert_allclose(gw, ref, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sparse_softmax_cross_entropy_gradient_matches_softmax_minus_onehot(dtype):
    # the fused adjoint: (softmax - onehot) * g, batched, stable for huge logits
    rng = np.random.default_rng(8)
    logits = (rng.standard_normal((2, 3, 5)) * 4).astype(dtype)
    logits[0, 0] = [1e4, -1e4, 0, 3e3, -2]
    labels = rng.integers(0, 5, (2, 3)).astype(np.int32)
    weights = rng.uniform(0.5, 2.0, (2, 3)).astype(dtype)
    z = tg.Variable(logits)
    with tg.GradientTape() as tape:
        loss = tg.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=z)
    grad = tape.gradient(loss, z, output_gradients=tg.constant(weights)).numpy()
    e = np.exp(logits.astype(np.float64) - logits.max(-1, keepdims=True))
    want = e / e.sum(-1, keepdims=True) - np.eye(5)[labels]
    want *= weights[..., None]
    assert grad.dtype == dtype and np.isfinite(grad).all()
    np.testing.assert_allclose(grad, want, rtol=1e-5 if dtype == np.float32 else 1e-12,
                               atol=1e-6 if dtype == np.float32 else 1e-14)


@pytest.mark.parametrize("contiguous", [True, False])
def test_relu_gradient_is_a_select(contiguous):
    # an infinite cotangent where the unit is off contributes 0, not inf * 0 = NaN,
    # on the fused kernel and on the NumPy fallback (non-contiguous) alike
    x = tg.Variable(np.array([[-1.0, 2.0, 0.0, 3.0], [4.0, -5.0, 6.0, -7.0]], np.float32))
    ct = np.array([[np.inf, 1.0, np.nan, 2.0], [3.0, np.inf, -np.inf, np.nan]], np.float32)
    if not contiguous:
        ct = np.asfortranarray(ct)
    with tg.GradientTape() as tape:
        y = tg.nn.relu(x)
    g = tape.gradient(y, x, output_gradients=tg.constant(ct)).numpy()
    np.testing.assert_array_equal(g, [[0, 1, 0, 2], [3, 0, -np.inf, 0]])


@pytest.mark.parametrize("ksize,strides,padding,hw", [
    (2, 2, "VALID", (4, 6)),    # windows tile the input: the gradient is written, not added
    (2, 2, "SAME", (5, 5)),     # padded edge windows
    (3, 2, "VALID", (7, 7)),    # overlapping windows accumulate
    (2, 3, "VALID", (7, 7)),    # gaps: inputs in no window get 0
])
def test_max_pool_gradient_routes_to_the_first_maximum(ksize, strides, padding, hw):
    rng = np.random.default_rng(9)
    # few distinct values, so windows have ties; one NaN wins its window
    x = rng.integers(0, 3, (2,) + hw + (19,)).astype(np.float32)
    x[1, 0, 0, 3] = np.nan
    xv = tg.Variable(x)
    with tg.GradientTape() as tape:
        y = tg.nn.max_pool2d(xv, ksize, strides, padding)
    g = rng.standard_normal(y.shape).astype(np.float32)
    got = tape.gradient(y, xv, output_gradients=tg.constant(g)).numpy()
    want = np.zeros_like(x)
    oh, ow = y.shape[1:3]
    pt = max((oh - 1) * strides + ksize - hw[0], 0) // 2 if padding == "SAME" else 0
    pl = max((ow - 1) * strides + ksize - hw[1], 0) // 2 if padding == "SAME" else 0
    for n, i, j, c in itertools.product(range(2), range(oh), range(ow), range(19)):
        best, where = None, None
        for p, q in itertools.product(range(ksize), range(ksize)):
            hi, wi = i * strides - pt + p, j * strides - pl + q
            if 0 <= hi < hw[0] and 0 <= wi < hw[1]:
                v = x[n, hi, wi, c]
                if best is None or v > best or (np.isnan(v) and not np.isnan(best)):
                    best, where = v, (hi, wi)
        want[n, where[0], where[1], c] += g[n, i, j, c]
    np.testing.assert_allclose(got, want, rtol=1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("label_dtype", [np.int32, np.int64, np.uint8])
@pytest.mark.parametrize("contiguous", [True, False])
def test_sparse_xent_kernel_and_numpy_paths_agree(dtype, label_dtype, contiguous):
    # C-contiguous float logits with int32/int64 labels take the fused row kernel; other
    # layouts and label dtypes take NumPy: same values, gradients and errors either way
    rng = np.random.default_rng(10)
    logits = (rng.standard_normal((4, 3, 7)) * 3).astype(dtype)
    logits[0, 0] = [2e3, -2e3, 0, 5, 1, 2e3, -1]
    if not contiguous:
        logits = np.asfortranarray(logits)
    labels = rng.integers(0, 7, (4, 3)).astype(label_dtype)
    z64 = logits.astype(np.float64)
    shifted = z64 - z64.max(-1, keepdims=True)
    want = np.log(np.exp(shifted).sum(-1)) - np.take_along_axis(
        shifted, labels[..., None].astype(np.intp), -1)[..., 0]
    z = tg.Variable(logits)
    ct = rng.uniform(0.5, 2.0, (4, 3)).astype(dtype)
    with tg.GradientTape() as tape:
        loss = tg.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=z)
    grad = tape.gradient(loss, z, output_gradients=tg.constant(ct)).numpy()
    p = np.exp(shifted) / np.exp(shifted).sum(-1, keepdims=True)
    want_grad = (p - np.eye(7)[labels]) * ct[..., None]
    tol = dict(rtol=2e-6, atol=1e-4) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-11)
    assert loss.dtype == dtype and grad.dtype == dtype
    np.testing.assert_allclose(loss.numpy(), want, **tol)
    np.testing.assert_allclose(grad, want_grad, **tol)
    bad = labels.copy()
    bad[2, 1] = 7
    with pytest.raises(ValueError, match=r"labels must be in \[0, 7\)"):
        tg.nn.sparse_softmax_cross_entropy_with_logits(labels=bad, logits=logits)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_relu_kernel_is_np_maximum_bitwise(dtype):
    x = np.array([[-1.0, -0.0, 0.0, 2.0], [np.nan, -np.inf, np.inf, 1e-300]]).astype(dtype)
    for arr in (x, np.asfortranarray(x)):   # the kernel and the NumPy fallback
        got = tg.nn.relu(arr).numpy()
        want = np.maximum(arr, 0, dtype=dtype)
        np.testing.assert_array_equal(got, want)
        assert np.signbit(got).tolist() == np.signbit(want).tolist()


@pytest.mark.parametrize("label_dtype", [np.int32, np.uint8])
def test_sparse_xent_adjoint_checks_labels_itself(label_dtype):
    # the adjoint primitive must not trust its forward to have checked the labels: a
    # direct call with one out of range raises instead of writing outside its rows
    from tapegrad.ops.nn import _sparse_xent_grad

    logits = tg.constant(np.zeros((3, 4), np.float32))
    g = tg.constant(np.ones(3, np.float32))
    for bad in (4, 200):
        labels = tg.constant(np.array([0, bad, 1], label_dtype))
        with pytest.raises(ValueError, match=r"labels must be in \[0, 4\)"):
            _sparse_xent_grad(logits, labels, g)
