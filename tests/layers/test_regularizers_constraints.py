"""Regularizers (l1, l2, l1_l2) and constraints (max_norm, non_neg, unit_norm) on Dense and
Conv layers: model.losses values, their gradients, fit adding them, projections after
each optimizer step."""

import numpy as np
import pytest

import tapegrad as tg


def test_regularizer_values_and_model_losses():
    w = np.array([[1.0, -2.0], [0.5, 3.0]], np.float32)
    assert float(tg.regularizers.l1(0.1)(w)) == pytest.approx(0.1 * np.abs(w).sum())
    assert float(tg.regularizers.l2(0.1)(w)) == pytest.approx(0.1 * (w ** 2).sum())
    assert float(tg.regularizers.l1_l2(0.1, 0.2)(w)) == pytest.approx(
        0.1 * np.abs(w).sum() + 0.2 * (w ** 2).sum())
    model = tg.Sequential([
        tg.layers.Dense(3, kernel_regularizer="l2", bias_regularizer=tg.regularizers.l1(0.5),
                        bias_initializer="ones", input_shape=(4,)),
        tg.layers.Dense(2, kernel_regularizer=tg.regularizers.l1(0.01)),
    ])
    losses = model.losses
    assert len(losses) == 3
    k0, b0, k1 = model.layers[0].kernel.numpy(), model.layers[0].bias.numpy(), \
        model.layers[1].kernel.numpy()
    np.testing.assert_allclose([float(v) for v in losses],
                               [0.01 * (k0 ** 2).sum(), 0.5 * np.abs(b0).sum(),
                                0.01 * np.abs(k1).sum()], rtol=1e-5)
    with tg.GradientTape() as tape:
        total = tg.add_n(model.losses)
    g = tape.gradient(total, model.layers[0].kernel)
    np.testing.assert_allclose(g.numpy(), 0.02 * k0, rtol=1e-5)
    with pytest.raises(ValueError):
        tg.regularizers.l2(-1.0)
    with pytest.raises(ValueError):
        tg.regularizers.get("l3")


def test_fit_adds_regularization_to_the_loss():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 4)).astype(np.float32)
    y = rng.normal(size=(32, 1)).astype(np.float32)
    model = tg.Sequential([tg.layers.Dense(1, kernel_regularizer=tg.regularizers.l2(0.3),
                                           input_shape=(4,))])
    model.compile("sgd", "mse")
    expected = float(np.mean((model.predict(x) - y) ** 2)) + 0.3 * float(
        (model.layers[0].kernel.numpy() ** 2).sum())
    assert model.test_on_batch(x, y) == pytest.approx(expected, rel=1e-5)


def test_activity_regularizer_is_per_example():
    x = np.ones((4, 2), np.float32)
    dense = tg.layers.Dense(3, kernel_initializer="ones",
                            activity_regularizer=tg.regularizers.l1(0.1))
    out = dense(x)
    (loss,) = dense.losses
    assert float(loss) == pytest.approx(0.1 * np.abs(out.numpy()).sum() / 4)


def test_constraints_project_after_each_step():
    w = np.array([[3.0, -4.0], [0.0, -1.0]], np.float32)
    np.testing.assert_allclose(tg.constraints.non_neg()(w).numpy(), np.maximum(w, 0))
    unit = tg.constraints.unit_norm(axis=0)(w).numpy()
    np.testing.assert_allclose(np.linalg.norm(unit, axis=0), [1.0, 1.0], rtol=1e-5)
    capped = tg.constraints.max_norm(2.0, axis=0)(w).numpy()
    np.testing.assert_allclose(capped[:, 0], [2.0, 0.0], rtol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(capped[:, 1]), 2.0, rtol=1e-5)
    small = np.array([[0.1], [0.2]], np.float32)
    np.testing.assert_allclose(tg.constraints.max_norm(2.0)(small).numpy(), small, rtol=1e-5)

    rng = np.random.default_rng(1)
    x = rng.normal(size=(16, 3)).astype(np.float32)
    y = rng.normal(size=(16, 2)).astype(np.float32) * 10
    model = tg.Sequential([tg.layers.Dense(2, kernel_constraint=tg.constraints.max_norm(0.5),
                                           bias_constraint="non_neg", input_shape=(3,))])
    model.compile(tg.optimizers.SGD(0.5), "mse")
    model.fit(x, y, epochs=3, verbose=0)
    kernel, bias = model.get_weights()
    assert np.all(np.linalg.norm(kernel, axis=0) <= 0.5 + 1e-5)
    assert np.all(bias >= 0)
    # a hand-written loop gets the projection from apply_gradients as well
    conv = tg.layers.Conv2D(2, 3, kernel_constraint="non_neg")
    img = rng.normal(size=(1, 5, 5, 1)).astype(np.float32)
    with tg.GradientTape() as tape:
        loss = -tg.reduce_sum(conv(img)) * 100.0
    tg.optimizers.SGD(1.0).apply_gradients(zip(tape.gradient(loss, conv.variables),
                                               conv.variables))
    assert conv.kernel.numpy().min() >= 0


def test_penalties_survive_get_config_round_trips():
    model = tg.Sequential([
        tg.layers.Dense(3, kernel_regularizer=tg.regularizers.l1_l2(0.1, 0.2),
                        bias_constraint=tg.constraints.non_neg(), input_shape=(2,)),
        tg.layers.Dense(1, kernel_constraint=tg.constraints.max_norm(1.5, axis=0)),
    ])
    copy = tg.Sequential.from_config(model.get_config())
    first, second = copy.layers
    assert first.kernel_regularizer.get_config() == {"l1": 0.1, "l2": 0.2}
    assert isinstance(first.bias_constraint, tg.constraints.NonNeg)
    assert second.kernel_constraint.get_config() == {"max_value": 1.5, "axis": 0}
    conv = tg.layers.Conv2D(2, 3, kernel_regularizer="l2")
    assert tg.layers.Conv2D.from_config(conv.get_config()).kernel_regularizer.l2 == 0.01
