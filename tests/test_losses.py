"""tg.losses against NumPy, with TF 1.x weights and reductions."""

import numpy as np
import pytest

import tapegrad as tg
from tapegrad.losses import Reduction

RNG = np.random.default_rng(0)
LOGITS = RNG.normal(size=(4, 5)).astype(np.float32)
LABELS = np.array([0, 3, 4, 1], dtype=np.int32)
ONEHOT = np.eye(5, dtype=np.float32)[LABELS]
PRED = RNG.normal(size=(4, 3)).astype(np.float32)
TARGET = RNG.normal(size=(4, 3)).astype(np.float32)


def _log_softmax(x):
    x = x.astype(np.float64)
    m = x.max(axis=-1, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=-1, keepdims=True))


def _reduce(losses, weights, reduction):
    w = np.broadcast_to(np.asarray(weights, dtype=np.float64), losses.shape)
    weighted = losses * w
    if reduction == Reduction.NONE:
        return weighted
    total = weighted.sum()
    if reduction == Reduction.SUM:
        return total
    if reduction == Reduction.MEAN:
        return total / w.sum() if w.sum() else 0.0
    if reduction == Reduction.SUM_OVER_BATCH_SIZE:
        return total / losses.size
    nonzero = np.count_nonzero(w)
    return total / nonzero if nonzero else 0.0


def _np_sparse_ce(labels, logits):
    return -_log_softmax(logits)[np.arange(len(labels)), labels]


def _np_sigmoid_ce(z, x):
    x = x.astype(np.float64)
    return np.maximum(x, 0) - x * z + np.log1p(np.exp(-np.abs(x)))


def _np_huber(labels, pred, delta):
    err = np.abs(pred.astype(np.float64) - labels)
    q = np.minimum(err, delta)
    return 0.5 * q * q + delta * (err - q)


REDUCTIONS = Reduction.all()
WEIGHTS = [1.0, 2.5, np.array([1.0, 0.0, 2.0, 0.5], dtype=np.float32)]


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weights", WEIGHTS, ids=["w1", "w2.5", "wvec"])
def test_sparse_softmax_cross_entropy(reduction, weights):
    got = tg.losses.sparse_softmax_cross_entropy(LABELS, LOGITS, weights=weights,
                                                 reduction=reduction)
    want = _reduce(_np_sparse_ce(LABELS, LOGITS), weights, reduction)
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weights", WEIGHTS, ids=["w1", "w2.5", "wvec"])
def test_softmax_cross_entropy(reduction, weights):
    got = tg.losses.softmax_cross_entropy(ONEHOT, LOGITS, weights=weights, reduction=reduction)
    want = _reduce(_np_sparse_ce(LABELS, LOGITS), weights, reduction)
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-5, atol=1e-6)


def test_softmax_cross_entropy_label_smoothing():
    got = tg.losses.softmax_cross_entropy(ONEHOT, LOGITS, label_smoothing=0.2)
    smooth = ONEHOT * 0.8 + 0.2 / 5
    want = (-(smooth * _log_softmax(LOGITS)).sum(axis=-1)).mean()
    np.testing.assert_allclose(float(got), want, rtol=1e-5)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_regression_losses(reduction):
    w = np.array([[1.0], [0.0], [2.0], [3.0]], dtype=np.float32)  # broadcasts over columns
    err = PRED.astype(np.float64) - TARGET
    cases = [
        (tg.losses.mean_squared_error, err**2),
        (tg.losses.absolute_difference, np.abs(err)),
    ]
    for fn, elementwise in cases:
        got = fn(TARGET, PRED, weights=w, reduction=reduction)
        np.testing.assert_allclose(got.numpy(), _reduce(elementwise, w, reduction), rtol=1e-5,
                                   atol=1e-6, err_msg=fn.__name__)


@pytest.mark.parametrize("delta", [0.3, 1.0, 2.0])
def test_huber_loss(delta):
    got = tg.losses.huber_loss(TARGET, PRED, delta=delta, reduction=Reduction.NONE)
    np.testing.assert_allclose(got.numpy(), _np_huber(TARGET, PRED, delta), rtol=1e-5,
                               atol=1e-7)
    mean = tg.losses.huber_loss(TARGET, PRED, delta=delta)
    np.testing.assert_allclose(float(mean), _np_huber(TARGET, PRED, delta).mean(), rtol=1e-5)


def test_sigmoid_cross_entropy():
    z = (RNG.random((4, 3)) > 0.5).astype(np.float32)
    got = tg.losses.sigmoid_cross_entropy(z, PRED * 3, reduction=Reduction.NONE)
    np.testing.assert_allclose(got.numpy(), _np_sigmoid_ce(z, PRED * 3), rtol=1e-5, atol=1e-7)
    smoothed = tg.losses.sigmoid_cross_entropy(z, PRED, label_smoothing=0.1)
    np.testing.assert_allclose(float(smoothed), _np_sigmoid_ce(z * 0.9 + 0.05, PRED).mean(),
                               rtol=1e-5)


def test_log_and_hinge_loss():
    p = np.array([0.1, 0.8, 0.5], dtype=np.float32)
    z = np.array([0.0, 1.0, 1.0], dtype=np.float32)
    want = -(z * np.log(p + 1e-7) + (1 - z) * np.log(1 - p + 1e-7))
    np.testing.assert_allclose(float(tg.losses.log_loss(z, p)), want.mean(), rtol=1e-5)
    x = np.array([0.5, -2.0, 3.0], dtype=np.float32)
    hinge = np.maximum(0, 1 - (2 * z - 1) * x)
    np.testing.assert_allclose(float(tg.losses.hinge_loss(z, x)), hinge.mean(), rtol=1e-6)


def test_all_zero_weights_give_zero_not_nan():
    zeros = np.zeros(4, dtype=np.float32)
    for reduction in (Reduction.MEAN, Reduction.SUM_BY_NONZERO_WEIGHTS):
        got = tg.losses.sparse_softmax_cross_entropy(LABELS, LOGITS, weights=zeros,
                                                     reduction=reduction)
        assert float(got) == 0.0
    assert float(tg.losses.mean_squared_error(TARGET, PRED, weights=0.0)) == 0.0


def test_large_logits_are_stable():
    logits = np.array([[1000.0, -1000.0, 0.0], [-500.0, 500.0, 499.0]], dtype=np.float32)
    labels = np.array([1, 2], dtype=np.int32)
    got = tg.losses.sparse_softmax_cross_entropy(labels, logits, reduction=Reduction.NONE)
    np.testing.assert_allclose(got.numpy(), _np_sparse_ce(labels, logits), rtol=1e-6)
    onehot = np.eye(3, dtype=np.float32)[labels]
    got = tg.losses.softmax_cross_entropy(onehot, logits, reduction=Reduction.NONE)
    np.testing.assert_allclose(got.numpy(), _np_sparse_ce(labels, logits), rtol=1e-6)
    x = tg.constant([[1000.0, -1000.0]])
    with tg.GradientTape() as tape:
        tape.watch(x)
        loss = tg.losses.sigmoid_cross_entropy(tg.constant([[0.0, 1.0]]), x,
                                               reduction=Reduction.SUM)
    np.testing.assert_allclose(float(loss), 2000.0)
    np.testing.assert_allclose(tape.gradient(loss, x).numpy(), [[1.0, -1.0]])


def test_sparse_softmax_cross_entropy_gradient():
    logits = tg.constant(LOGITS)
    w = np.array([1.0, 0.0, 2.0, 0.5], dtype=np.float32)
    with tg.GradientTape() as tape:
        tape.watch(logits)
        loss = tg.losses.sparse_softmax_cross_entropy(LABELS, logits, weights=w)
    softmax = np.exp(_log_softmax(LOGITS))
    want = (softmax - ONEHOT) * w[:, None] / 3.0  # three nonzero weights
    np.testing.assert_allclose(tape.gradient(loss, logits).numpy(), want, rtol=1e-5,
                               atol=1e-7)


def test_mean_squared_error_gradient_second_order():
    x = tg.constant([1.0, 2.0, 4.0])
    with tg.GradientTape() as outer:
        outer.watch(x)
        with tg.GradientTape() as inner:
            inner.watch(x)
            loss = tg.losses.mean_squared_error(tg.zeros([3]), x)
        g = inner.gradient(loss, x)
        s = tg.reduce_sum(g)
    np.testing.assert_allclose(g.numpy(), [2 / 3, 4 / 3, 8 / 3], rtol=1e-6)
    np.testing.assert_allclose(outer.gradient(s, x).numpy(), [2 / 3] * 3, rtol=1e-6)


def test_integer_predictions_compute_in_float32():
    got = tg.losses.absolute_difference(np.array([1, 2]), np.array([3, 2]))
    assert got.dtype == np.float32
    assert float(got) == 1.0


def test_errors_name_the_function_and_shapes():
    with pytest.raises(ValueError, match=r"sparse_softmax_cross_entropy.*labels shape \(3,\)"):
        tg.losses.sparse_softmax_cross_entropy(LABELS[:3], LOGITS)
    with pytest.raises(ValueError, match=r"labels must be in \[0, 5\)"):
        tg.losses.sparse_softmax_cross_entropy(np.array([0, 1, 2, 5]), LOGITS)
    with pytest.raises(TypeError, match="labels must be integer"):
        tg.losses.sparse_softmax_cross_entropy(LABELS.astype(np.float32), LOGITS)
    with pytest.raises(ValueError, match=r"mean_squared_error: labels shape \(4, 2\)"):
        tg.losses.mean_squared_error(TARGET[:, :2], PRED)
    with pytest.raises(ValueError, match="weights of shape"):
        tg.losses.mean_squared_error(TARGET, PRED, weights=np.ones(4))
    with pytest.raises(ValueError, match="unknown reduction"):
        tg.losses.mean_squared_error(TARGET, PRED, reduction="avg")
    with pytest.raises(ValueError, match="delta"):
        tg.losses.huber_loss(TARGET, PRED, delta=0.0)
