"""Each callback's semantics, driven through fit (or directly, for exact sequences)."""

import csv
import math
import os

import numpy as np
import pytest

import tapegrad as tg
from tapegrad.callbacks import (
    Callback,
    CSVLogger,
    EarlyStopping,
    LambdaCallback,
    LearningRateScheduler,
    ModelCheckpoint,
    ReduceLROnPlateau,
    TensorBoard,
    TerminateOnNaN,
    get_learning_rate,
    set_learning_rate,
)


def _data(n=120):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(n, 3)).astype(np.float32)
    y = (x @ np.array([1.0, -2.0, 0.5], np.float32))[:, None]
    return x, y


def _model(lr=0.05):
    model = tg.Sequential([tg.layers.Dense(1, input_shape=(3,))])
    model.compile(tg.optimizers.SGD(lr), "mse")
    return model


class _Scripted(Callback):
    """Feeds a scripted sequence of ``val_loss`` values into the logs (runs first)."""

    def __init__(self, values):
        super().__init__()
        self.values = list(values)

    def on_epoch_end(self, epoch, logs=None):
        logs["val_loss"] = self.values[epoch]


def test_hook_order_and_counts():
    x, y = _data()
    events = []

    class Recorder(Callback):
        def on_train_begin(self, logs=None):
            events.append("train_begin")

        def on_epoch_begin(self, epoch, logs=None):
            events.append(f"epoch_begin{epoch}")

        def on_train_batch_end(self, batch, logs=None):
            events.append(f"batch{batch}")
            assert set(logs) == {"loss"}

        def on_test_begin(self, logs=None):
            events.append("test_begin")

        def on_epoch_end(self, epoch, logs=None):
            events.append(f"epoch_end{epoch}")
            assert set(logs) == {"loss", "val_loss"}

        def on_train_end(self, logs=None):
            events.append("train_end")

    rec = Recorder()
    _model().fit(x, y, batch_size=60, epochs=2, validation_data=(x, y), verbose=0,
                 callbacks=[rec])
    assert events == ["train_begin", "epoch_begin0", "batch0", "batch1", "test_begin",
                      "epoch_end0", "epoch_begin1", "batch0", "batch1", "test_begin",
                      "epoch_end1", "train_end"]
    assert rec.params == {"verbose": 0, "epochs": 2, "steps": 2}
    assert rec.model is not None


def test_lambda_callback_and_batch_logs_are_running_means():
    x, y = _data()
    model = _model()
    batch_losses = []
    per_batch = []

    class PerBatch(Callback):
        def on_train_batch_begin(self, batch, logs=None):
            xb, yb = x[batch * 40:(batch + 1) * 40], y[batch * 40:(batch + 1) * 40]
            per_batch.append(float(np.mean((self.model.predict(xb) - yb) ** 2)))

    cb = LambdaCallback(on_batch_end=lambda b, logs: batch_losses.append(logs["loss"]))
    model.fit(x, y, batch_size=40, epochs=1, shuffle=False, verbose=0,
              callbacks=[PerBatch(), cb])
    running = np.cumsum(per_batch) / np.arange(1, 4)
    np.testing.assert_allclose(batch_losses, running, rtol=1e-5)
    with pytest.raises(TypeError):
        LambdaCallback(on_epoch_end=3)


def test_early_stopping_patience_min_delta_and_restore():
    x, y = _data()
    model = _model(lr=0.0)   # weights never change: the scripted values decide
    snapshots = []
    snap = LambdaCallback(on_epoch_end=lambda e, logs: snapshots.append(e))
    es = EarlyStopping(monitor="val_loss", patience=2, min_delta=0.1)
    hist = model.fit(x, y, epochs=10, verbose=0,
                     callbacks=[_Scripted([1.0, 0.95, 0.5, 0.45, 0.42, 0.1, 0.0, 0, 0, 0]),
                                es, snap])
    # 0.95 and 0.45/0.42 do not beat the best by > 0.1: stops at epoch 4
    assert es.stopped_epoch == 4 and hist.epoch == [0, 1, 2, 3, 4]
    assert es.best == 0.5 and es.best_epoch == 2


def test_early_stopping_restores_the_best_weights():
    x, y = _data()
    model = _model(lr=0.05)
    weights = {}

    class Keep(Callback):
        def on_epoch_end(self, epoch, logs=None):
            weights[epoch] = self.model.get_weights()

    es = EarlyStopping(monitor="val_loss", patience=1, restore_best_weights=True)
    model.fit(x, y, epochs=10, verbose=0,
              callbacks=[_Scripted([3.0, 1.0, 2.0, 2.5, 0, 0, 0, 0, 0, 0]), Keep(), es])
    assert es.stopped_epoch == 2
    for a, b in zip(model.get_weights(), weights[1]):
        np.testing.assert_array_equal(a, b)


def test_early_stopping_mode_max_for_accuracy_and_baseline():
    es = EarlyStopping(monitor="val_accuracy", patience=0)
    assert es._monitor.mode == "max"
    x, y = _data()
    model = _model(lr=0.0)
    es = EarlyStopping(monitor="val_loss", patience=2, baseline=0.2)
    hist = model.fit(x, y, epochs=10, verbose=0,
                     callbacks=[_Scripted([0.9, 0.8, 0.7, 0.6] + [0] * 6), es])
    assert hist.epoch == [0, 1]   # never beat the baseline within patience


def test_model_checkpoint_every_epoch_best_only_and_weights_only(tmp_path):
    x, y = _data()
    model = _model()
    every = ModelCheckpoint(str(tmp_path / "all" / "w-{epoch:02d}"), save_weights_only=True,
                            monitor="loss")
    best = ModelCheckpoint(str(tmp_path / "best"), monitor="val_loss", save_best_only=True,
                           save_weights_only=True)
    kept = {}
    keep = LambdaCallback(on_epoch_end=lambda e, logs: kept.__setitem__(e,
                                                                       model.get_weights()))
    model.fit(x, y, epochs=4, verbose=0,
              callbacks=[_Scripted([2.0, 1.0, 1.5, 1.2]), every, best, keep])
    assert sorted(os.listdir(tmp_path / "all")) == [f"w-{i:02d}.tgckpt" for i in (1, 2, 3, 4)]
    assert best.saved == [str(tmp_path / "best")] * 2 and best.best == 1.0
    fresh = tg.Sequential([tg.layers.Dense(1, input_shape=(3,))])
    fresh.load_weights(str(tmp_path / "best"))
    for a, b in zip(fresh.get_weights(), kept[1]):
        np.testing.assert_array_equal(a, b)
    fresh.load_weights(str(tmp_path / "all" / "w-03"))
    for a, b in zip(fresh.get_weights(), kept[2]):
        np.testing.assert_array_equal(a, b)


def test_model_checkpoint_full_state_and_save_freq(tmp_path):
    x, y = _data()
    model = tg.Sequential([tg.layers.Dense(1, input_shape=(3,))])
    model.compile(tg.optimizers.Adam(0.01), "mse")
    cb = ModelCheckpoint(str(tmp_path / "s-{epoch}-{batch}"), save_freq=3)
    model.fit(x, y, batch_size=40, epochs=2, verbose=0, callbacks=[cb])
    # 6 batches in all: saved after the 3rd and 6th
    assert [os.path.basename(p) for p in cb.saved] == ["s-1-2", "s-2-2"]
    opt = tg.optimizers.Adam(0.01)
    twin = tg.Sequential([tg.layers.Dense(1, input_shape=(3,))])
    status = tg.train.Checkpoint(model=twin, optimizer=opt).restore(cb.saved[-1])
    status.assert_existing_objects_matched()
    assert int(opt.iterations.numpy()) == 6
    for a, b in zip(twin.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError):
        ModelCheckpoint("x", save_freq=0)


def test_learning_rate_scheduler_sets_and_logs_rate():
    x, y = _data()
    model = _model(lr=0.1)
    seen = []
    rate = LambdaCallback(on_epoch_begin=lambda e, logs: seen.append(
        get_learning_rate(model.optimizer)))
    sched = LearningRateScheduler(lambda epoch, lr: lr * 0.5)
    hist = model.fit(x, y, epochs=3, verbose=0, callbacks=[sched, rate])
    assert seen == pytest.approx([0.05, 0.025, 0.0125])
    assert hist.history["lr"] == pytest.approx([0.05, 0.025, 0.0125])
    one_arg = LearningRateScheduler(lambda epoch: 0.01 * (epoch + 1))
    hist = model.fit(x, y, epochs=2, verbose=0, callbacks=[one_arg])
    assert hist.history["lr"] == pytest.approx([0.01, 0.02])


def test_learning_rate_helpers_work_with_a_variable_rate():
    class Holder:
        def __init__(self, value):
            self.learning_rate = value

    holder = Holder(tg.Variable(0.1, dtype=tg.float32))
    variable = holder.learning_rate
    set_learning_rate(holder, 0.02)
    assert holder.learning_rate is variable   # assigned in place
    assert get_learning_rate(holder) == pytest.approx(0.02)
    holder = Holder(lambda: 0.3)
    assert get_learning_rate(holder) == pytest.approx(0.3)
    with pytest.raises(ValueError):
        set_learning_rate(holder, -1.0)


def test_reduce_lr_on_plateau_factor_patience_cooldown_min_lr():
    x, y = _data()
    model = _model(lr=0.0)
    model.optimizer.learning_rate = 1.0
    rates = []
    cb = ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=2, cooldown=1,
                           min_lr=0.2, min_delta=0.0)
    log = LambdaCallback(on_epoch_end=lambda e, logs: rates.append(logs["lr"]))
    vals = [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]
    x0 = x * 0   # zero inputs: the SGD step only touches the bias, and the loss is scripted
    model.fit(x0, y * 0, epochs=8, verbose=0, callbacks=[_Scripted(vals), cb, log])
    # logged before that epoch's reduction; after a reduction the cooldown epoch resets
    # the wait, and the next epoch counts again (Keras' order)
    assert rates == pytest.approx([1.0, 1.0, 1.0, 0.5, 0.5, 0.25, 0.25, 0.2])
    assert get_learning_rate(model.optimizer) == pytest.approx(0.2)


def test_csv_logger_rows_and_append(tmp_path):
    x, y = _data()
    path = tmp_path / "log.csv"
    model = _model()
    hist = model.fit(x, y, epochs=2, validation_data=(x, y), verbose=0,
                     callbacks=[CSVLogger(str(path))])
    rows = list(csv.DictReader(open(path)))
    assert [r["epoch"] for r in rows] == ["0", "1"]
    assert float(rows[1]["val_loss"]) == pytest.approx(hist.history["val_loss"][1])
    model.fit(x, y, epochs=3, initial_epoch=2, validation_data=(x, y), verbose=0,
              callbacks=[CSVLogger(str(path), append=True)])
    rows = list(csv.DictReader(open(path)))
    assert [r["epoch"] for r in rows] == ["0", "1", "2"]
    assert not [f for f in os.listdir(tmp_path) if f.endswith(".tmp")]


def test_terminate_on_nan_stops_within_the_epoch():
    x, y = _data()
    y = y.copy()
    y[45] = np.nan
    model = _model()
    seen = []
    hist = model.fit(x, y, batch_size=20, epochs=3, verbose=0, shuffle=False,
                     callbacks=[TerminateOnNaN(), LambdaCallback(
                         on_batch_end=lambda b, logs: seen.append(b))])
    assert seen == [0, 1, 2]   # the batch holding row 45 is batch 2
    # as in Keras, the stopped epoch still ends (with its NaN loss) and then fit returns
    assert hist.epoch == [0] and math.isnan(hist.history["loss"][0])
    assert math.isnan(model.train_on_batch(x[40:60], y[40:60]))


def test_tensorboard_writes_epoch_batch_and_histograms(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    x, y = _data()
    model = _model()
    cb = TensorBoard(str(tmp_path), update_freq=2, histogram_freq=1)
    hist = model.fit(x, y, batch_size=40, epochs=2, validation_data=(x, y), verbose=0,
                     callbacks=[cb])
    train = EventAccumulator(str(tmp_path / "train"))
    train.Reload()
    val = EventAccumulator(str(tmp_path / "validation"))
    val.Reload()
    losses = [e.value for e in train.Scalars("epoch_loss")]
    assert [e.step for e in train.Scalars("epoch_loss")] == [0, 1]
    np.testing.assert_allclose(losses, hist.history["loss"], rtol=1e-6)
    np.testing.assert_allclose([e.value for e in val.Scalars("epoch_loss")],
                               hist.history["val_loss"], rtol=1e-6)
    assert [e.step for e in train.Scalars("batch_loss")] == [2, 4, 6]
    assert len(train.Tags()["histograms"]) == 2
    with pytest.raises(ValueError):
        TensorBoard(str(tmp_path), update_freq="sometimes")


def test_callbacks_must_be_callback_instances():
    x, y = _data()
    with pytest.raises(TypeError, match="Callback"):
        _model().fit(x, y, verbose=0, callbacks=[lambda: None])
