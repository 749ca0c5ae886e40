"""compile(loss=fn) with a plain function: Keras wraps it so that per-example losses
are weighted by sample_weight and averaged; fit then minimizes their mean."""

import numpy as np
import pytest

import tapegrad as tg


def _per_example(y_true, y_pred):
    return tg.reduce_mean(tg.square(y_true - y_pred), axis=-1)


def _data():
    # float32-representable values: fit hands the targets over as float32
    rng = np.random.default_rng(4)
    return (rng.standard_normal((12, 4)).astype(np.float32).astype(np.float64),
            rng.standard_normal((12, 3)).astype(np.float32).astype(np.float64))


def _model(seed=0):
    tg.random.set_seed(seed)
    m = tg.Sequential([tg.layers.Dense(3, input_shape=(4,), dtype="float64")])
    return m


def _manual_step(m, x, y, w, lr):
    with tg.GradientTape() as tape:
        losses = _per_example(tg.constant(y), m(x))
        loss = tg.reduce_mean(losses * w)
    grads = tape.gradient(loss, m.trainable_variables)
    for v, g in zip(m.trainable_variables, grads):
        v.assign_sub(lr * g)
    return float(loss.numpy())


@pytest.mark.parametrize("weighted", [False, True])
def test_per_example_function_is_weighted_and_averaged(weighted):
    x, y = _data()
    w = np.arange(len(x)) * 0.25 if weighted else np.ones(len(x))   # float32-exact
    fitted, manual = _model(), _model()
    manual.set_weights(fitted.get_weights())
    fitted.compile(optimizer=tg.optimizers.SGD(0.1), loss=_per_example)
    hist = fitted.fit(x, y, batch_size=len(x), epochs=3, shuffle=False, verbose=0,
                      sample_weight=w if weighted else None)
    losses = [_manual_step(manual, x, y, w, 0.1) for _ in range(3)]
    np.testing.assert_allclose(hist.history["loss"], losses, rtol=1e-12)
    for a, b in zip(fitted.get_weights(), manual.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-12)
    ev = fitted.evaluate(x, y, verbose=0)
    ref = float(tg.reduce_mean(_per_example(tg.constant(y), fitted(x))).numpy())
    assert ev == pytest.approx(ref, rel=1e-12)


def test_scalar_function_is_unchanged():
    x, y = _data()
    m = _model()
    m.compile(optimizer="sgd", loss=lambda t, p: tg.reduce_sum(tg.square(t - p)))
    loss = m.train_on_batch(x, y)
    assert np.ndim(loss) == 0 and np.isfinite(loss)


def test_sample_weight_of_the_wrong_shape_names_the_loss():
    x, y = _data()
    m = _model()
    m.compile(optimizer="sgd", loss=_per_example)
    with pytest.raises(ValueError, match="_per_example: sample_weight of shape"):
        m.train_on_batch(x, y, sample_weight=np.ones((5, 2)))
