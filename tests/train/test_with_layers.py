"""Checkpoints of real tg.layers models, tg.optimizers (with slots) and tg.metrics."""

import numpy as np
import pytest
from ckpt_helpers import assert_bitwise_equal, make_batch, snapshot

import tapegrad as tg
from tapegrad.train import Checkpoint, CheckpointManager, CheckpointMismatchError


def _require(*names):
    for dotted in names:
        obj = tg
        for part in dotted.split("."):
            try:
                obj = getattr(obj, part)
            except (AttributeError, ImportError):
                pytest.skip("tapegrad.%s is not available" % dotted)


def _model(seed):
    tg.random.set_seed(seed)
    return tg.Sequential([tg.layers.Dense(8, activation=tg.nn.relu), tg.layers.Dense(3)])


def _train(model, optimizer, steps, first_step, step_var):
    losses = []
    for step in range(first_step, first_step + steps):
        x, y = make_batch(step)
        with tg.GradientTape() as tape:
            logits = model(x)
            loss = tg.reduce_mean(
                tg.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits)
            )
        grads = tape.gradient(loss, model.variables)
        optimizer.apply_gradients(zip(grads, model.variables), global_step=step_var)
        losses.append(float(loss.numpy()))
    return losses


def _slots(optimizer, variables):
    return [optimizer.get_slot(v, name) for v in variables for name in optimizer.get_slot_names()]


def test_adam_model_round_trip_and_deferred_continuation(tmp_path):
    _require("Sequential", "layers.Dense", "optimizers.Adam")
    step = tg.train.get_or_create_global_step()
    model, optimizer = _model(1), tg.optimizers.Adam(learning_rate=0.01)
    _train(model, optimizer, 3, 0, step)
    manager = CheckpointManager(
        Checkpoint(model=model, optimizer=optimizer, step=step), tmp_path, max_to_keep=2
    )
    path = manager.save()
    saved_vars = snapshot(model.variables)
    saved_slots = snapshot(_slots(optimizer, model.variables))
    saved_iterations = int(optimizer.iterations.numpy())
    reference = _train(model, optimizer, 4, 3, step)

    # perturb everything, restore in place: bit-identical, then identical continuation
    for var in model.variables + _slots(optimizer, model.variables):
        var.assign(var.numpy() + np.float32(0.5))
    optimizer.iterations.assign(99)
    step.assign(99)
    manager.checkpoint.restore(path).assert_consumed()
    assert_bitwise_equal(saved_vars, model.variables)
    assert_bitwise_equal(saved_slots, _slots(optimizer, model.variables))
    assert int(optimizer.iterations.numpy()) == saved_iterations == 3
    assert int(step.numpy()) == 3
    assert _train(model, optimizer, 4, 3, step) == reference

    # a fresh, unbuilt model and a fresh optimizer, restored from latest_checkpoint
    tg.train.global_step._reset_for_tests()
    step2 = tg.train.get_or_create_global_step()
    model2, optimizer2 = _model(2), tg.optimizers.Adam(learning_rate=0.01)
    checkpoint2 = Checkpoint(model=model2, optimizer=optimizer2, step=step2)
    status = checkpoint2.restore(tg.train.latest_checkpoint(tmp_path))
    assert status.pending()  # kernels, biases and slots do not exist yet
    assert _train(model2, optimizer2, 4, 3, step2) == reference
    status.assert_consumed()


def test_restoring_into_a_different_architecture_reports_paths(tmp_path):
    _require("Sequential", "layers.Dense")
    model = _model(0)
    model(tg.ones((2, 5)))
    for var in model.variables:  # no zeros: an assignment must show in the values
        var.assign(var.numpy() + np.float32(0.25))
    path = Checkpoint(model=model).write(tmp_path / "m")
    other = tg.Sequential([tg.layers.Dense(4), tg.layers.Dense(3)])
    other(tg.ones((2, 5)))
    before = snapshot(other.variables)
    with pytest.raises(CheckpointMismatchError) as info:
        Checkpoint(model=other).restore(path)
    assert_bitwise_equal(before, other.variables)
    mismatched = [path for path, _, _ in info.value.report.mismatched]
    assert any(p.endswith("0/kernel") for p in mismatched)
    assert any(p.endswith("1/kernel") for p in mismatched)


def test_metric_state_round_trips(tmp_path):
    _require("metrics.Mean")
    metric = tg.metrics.Mean("loss")
    metric(0.0)
    metric(5.0)
    path = Checkpoint(metric=metric).write(tmp_path / "metric")
    metric(100.0)
    Checkpoint(metric=metric).restore(path).assert_consumed()
    assert float(metric.result().numpy()) == 2.5
    fresh = tg.metrics.Mean("loss")
    Checkpoint(metric=fresh).restore(path).assert_consumed()
    assert float(fresh.result().numpy()) == 2.5
