"""Model.compile/fit/evaluate/predict/*_on_batch and save_weights/load_weights."""

import os
import signal

import numpy as np
import pytest

import tapegrad as tg


def _data(n=200, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4)).astype(np.float32)
    y = (x[:, 0] - x[:, 2] > 0).astype(np.int32)
    return x, y


def _model():
    return tg.Sequential([tg.layers.Dense(8, activation="tanh", input_shape=(4,)),
                          tg.layers.Dense(2)])


def _compiled(lr=0.05, metrics=("accuracy",)):
    model = _model()
    model.compile(tg.optimizers.SGD(lr),
                  tg.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=list(metrics))
    return model


def test_fit_matches_a_hand_written_loop_exactly():
    x, y = _data()
    model = _compiled()
    twin = _model()
    twin.set_weights(model.get_weights())
    opt = tg.optimizers.SGD(0.05)
    hist = model.fit(x, y, batch_size=50, epochs=2, shuffle=False, verbose=0)
    losses = []
    for _ in range(2):
        epoch = []
        for s in range(0, 200, 50):
            with tg.GradientTape() as tape:
                logits = twin(x[s:s + 50], training=True)
                loss = tg.reduce_mean(tg.nn.sparse_softmax_cross_entropy_with_logits(
                    labels=y[s:s + 50], logits=logits))
            grads = tape.gradient(loss, twin.trainable_variables)
            opt.apply_gradients(zip(grads, twin.trainable_variables))
            epoch.append(float(loss))
        losses.append(np.mean(epoch))
    for a, b in zip(model.get_weights(), twin.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(hist.history["loss"], losses, rtol=1e-6)


def test_history_contents_and_validation_split_takes_the_tail():
    x, y = _data()
    model = _compiled()
    hist = model.fit(x, y, batch_size=32, epochs=3, validation_split=0.25, verbose=0)
    assert hist.epoch == [0, 1, 2]
    assert set(hist.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert all(len(v) == 3 for v in hist.history.values())
    assert model.history is hist
    # val_* of the last epoch are evaluate() on the last 25% with the final weights
    loss, acc = model.evaluate(x[150:], y[150:], verbose=0)
    assert hist.history["val_loss"][-1] == pytest.approx(loss, rel=1e-6)
    assert hist.history["val_accuracy"][-1] == pytest.approx(acc)
    assert hist.history["loss"][-1] < hist.history["loss"][0]


def test_initial_epoch_validation_freq_and_validation_data():
    x, y = _data()
    model = _compiled()
    hist = model.fit(x, y, epochs=5, initial_epoch=2, validation_data=(x[:50], y[:50]),
                     validation_freq=2, verbose=0)
    assert hist.epoch == [2, 3, 4]
    assert len(hist.history["loss"]) == 3
    assert len(hist.history["val_loss"]) == 1   # only after epoch 4 (4 % 2 == 0)


def test_dataset_input_steps_per_epoch_and_sample_weight():
    x, y = _data()
    ds = tg.data.Dataset.from_tensor_slices((x, y)).batch(40)
    model = _compiled()
    hist = model.fit(ds, epochs=2, verbose=0)
    assert len(hist.history["loss"]) == 2
    seen = []
    cb = tg.callbacks.LambdaCallback(on_batch_end=lambda b, logs: seen.append(b))
    model.fit(ds, epochs=2, steps_per_epoch=3, verbose=0, callbacks=[cb])
    assert seen == [0, 1, 2, 0, 1, 2]
    # a zero sample weight removes an example from the loss
    w = np.ones(len(x), np.float32)
    w[1::2] = 0
    m1 = _compiled()
    ref = m1.evaluate(x, y, verbose=0, sample_weight=w, return_dict=True)["loss"]
    per = m1.compiled_loss.losses[0].per_example(y, m1(x)).numpy()
    assert ref == pytest.approx(float((per * w).sum() / len(x)), rel=1e-5)
    with pytest.raises(ValueError, match="validation_split"):
        model.fit(ds, validation_split=0.2, verbose=0)


def test_class_weight_scales_the_loss_per_class():
    x, y = _data()
    model = _compiled()
    before = model.get_weights()
    r1 = model.train_on_batch(x, y, class_weight={0: 0.0, 1: 2.0}, return_dict=True)
    model.set_weights(before)
    w = np.where(y == 1, 2.0, 0.0).astype(np.float32)
    r2 = model.train_on_batch(x, y, sample_weight=w, return_dict=True)
    assert r1["loss"] == pytest.approx(r2["loss"], rel=1e-6)


def test_string_names_in_compile():
    x, y = _data()
    model = _model()
    model.compile("adam", "mse", metrics=["mae"])
    target = np.stack([x[:, 0], x[:, 1]], axis=1)
    hist = model.fit(x, target, epochs=2, verbose=0)
    assert isinstance(model.optimizer, tg.optimizers.Adam)
    assert set(hist.history) == {"loss", "mae"}
    pred = model.predict(x)
    assert pred.shape == (200, 2) and isinstance(pred, np.ndarray)
    mse = float(np.mean((pred - target) ** 2))
    assert model.evaluate(x, target, verbose=0)[0] == pytest.approx(mse, rel=1e-4)
    with pytest.raises(ValueError, match="unknown optimizer"):
        model.compile("adamx", "mse")
    with pytest.raises(ValueError, match="unknown loss"):
        model.compile("sgd", "msx")


def test_accuracy_name_picks_the_right_metric():
    x, y = _data()
    sparse = _compiled()
    sparse.fit(x, y, epochs=1, verbose=0)
    assert isinstance(sparse.compiled_metrics.metrics[0][2],
                      tg.metrics.SparseCategoricalAccuracy)
    onehot = _model()
    onehot.compile("sgd", tg.losses.CategoricalCrossentropy(from_logits=True),
                   metrics=["accuracy"])
    onehot.fit(x, np.eye(2, dtype=np.float32)[y], epochs=1, verbose=0)
    assert isinstance(onehot.compiled_metrics.metrics[0][2], tg.metrics.CategoricalAccuracy)
    binary = tg.Sequential([tg.layers.Dense(1, activation="sigmoid", input_shape=(4,))])
    binary.compile("sgd", "binary_crossentropy", metrics=["accuracy"])
    binary.fit(x, y.astype(np.float32), epochs=1, verbose=0)
    from tapegrad.training.compile_utils import BinaryAccuracy

    assert isinstance(binary.compiled_metrics.metrics[0][2], BinaryAccuracy)
    acc = binary.evaluate(x, y.astype(np.float32), verbose=0)[1]
    expected = np.mean((binary.predict(x)[:, 0] > 0.5) == (y == 1))
    assert acc == pytest.approx(expected)


def test_evaluate_predict_and_on_batch_results():
    x, y = _data()
    model = _compiled()
    logits = model.predict(x, batch_size=7)
    np.testing.assert_allclose(logits, model(x).numpy(), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(model.predict_on_batch(x[:5]), logits[:5], rtol=1e-6)
    loss = tg.reduce_mean(tg.nn.sparse_softmax_cross_entropy_with_logits(
        labels=y, logits=tg.constant(logits))).numpy()
    acc = np.mean(np.argmax(logits, 1) == y)
    got = model.evaluate(x, y, batch_size=7, verbose=0, return_dict=True)
    assert got["loss"] == pytest.approx(float(loss), rel=1e-5)
    assert got["accuracy"] == pytest.approx(acc)
    assert model.test_on_batch(x, y) == pytest.approx([float(loss), acc], rel=1e-5)
    assert model.metrics_names == ["loss", "accuracy"]
    ds = tg.data.Dataset.from_tensor_slices(x).batch(64)
    np.testing.assert_allclose(model.predict(ds), logits, rtol=1e-6, atol=1e-6)


def test_uncompiled_and_bad_inputs_raise_clearly():
    x, y = _data()
    model = _model()
    with pytest.raises(RuntimeError, match="compile"):
        model.fit(x, y)
    model = _compiled()
    with pytest.raises(ValueError, match="same number of samples"):
        model.fit(x, y[:10], verbose=0)
    with pytest.raises(ValueError, match="batch_size"):
        model.fit(x, y, batch_size=0, verbose=0)
    with pytest.raises(ValueError, match="epochs"):
        model.fit(x, y, epochs=-1, verbose=0)


def test_progress_output_verbose_levels(capsys):
    x, y = _data()
    model = _compiled()
    model.fit(x, y, epochs=2, verbose=0)
    assert capsys.readouterr().out == ""
    model.fit(x, y, epochs=2, verbose=2)
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "Epoch 1/2" and out[2] == "Epoch 2/2"
    assert out[1].startswith("7/7 - ") and "loss: " in out[1] and "accuracy: " in out[1]
    model.fit(x, y, epochs=1, verbose=1)
    out = capsys.readouterr().out
    assert "7/7 [==============================]" in out


def test_tqdm_bar_when_interactive():
    import io

    x, y = _data()
    model = _compiled()
    stream = io.StringIO()
    bar = tg.callbacks.ProgbarLogger(stream=stream, use_tqdm=True)
    model.fit(x, y, epochs=1, verbose=1, callbacks=[bar])
    text = stream.getvalue()
    assert "7/7" in text and "loss=" not in text and "loss: " in text


def test_ctrl_c_stops_after_the_current_batch_and_returns_history():
    x, y = _data()
    model = _compiled()
    weights_at = {}

    class Interrupter(tg.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            if batch == 2 and 2 not in weights_at:
                os.kill(os.getpid(), signal.SIGINT)   # arrives during the step

        def on_train_batch_end(self, batch, logs=None):
            weights_at[batch] = self.model.get_weights()

    model.fit(x, y, epochs=1, batch_size=20, verbose=0)   # one complete epoch first
    hist = model.fit(x, y, epochs=3, batch_size=20, verbose=0, callbacks=[Interrupter()])
    assert hist.interrupted
    assert sorted(weights_at) == [0, 1, 2]     # batch 2 completed, nothing after it
    for a, b in zip(model.get_weights(), weights_at[2]):
        np.testing.assert_array_equal(a, b)
    assert hist.epoch == []
    # the handler is gone again
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_save_and_load_weights_round_trip(tmp_path):
    x, y = _data()
    model = _compiled()
    model.fit(x, y, epochs=2, verbose=0)
    path = model.save_weights(str(tmp_path / "sub" / "weights"))
    assert os.path.isfile(path + ".tgckpt")
    fresh = _model()   # built from input_shape, different random init
    fresh.load_weights(str(tmp_path / "sub" / "weights"))
    for a, b in zip(model.get_weights(), fresh.get_weights()):
        np.testing.assert_array_equal(a, b)
    # an unbuilt subclassed model gets the values when it builds (deferred restore)

    class Net(tg.Model):
        def __init__(self):
            super().__init__()
            self.hidden = tg.layers.Dense(8, activation="tanh")
            self.out = tg.layers.Dense(2)

        def call(self, inputs):
            return self.out(self.hidden(inputs))

    net = Net()
    net.compile("sgd", tg.losses.SparseCategoricalCrossentropy(from_logits=True))
    net.fit(x, y, epochs=1, verbose=0)
    net.save_weights(str(tmp_path / "net.tgckpt"))
    other = Net()
    other.load_weights(str(tmp_path / "net"))
    np.testing.assert_allclose(other.predict(x), net.predict(x), rtol=1e-6)


def test_load_weights_rejects_a_different_model(tmp_path):
    model = _compiled()
    model.save_weights(str(tmp_path / "w"))
    wider = tg.Sequential([tg.layers.Dense(9, activation="tanh", input_shape=(4,)),
                           tg.layers.Dense(2)])
    before = wider.get_weights()
    with pytest.raises(tg.train.CheckpointMismatchError, match="mismatched"):
        wider.load_weights(str(tmp_path / "w"))
    for a, b in zip(before, wider.get_weights()):
        np.testing.assert_array_equal(a, b)
    uncompiled = _model()
    uncompiled.load_weights(str(tmp_path / "w"))   # no optimizer state in the file
    for a, b in zip(model.get_weights(), uncompiled.get_weights()):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(tg.train.CheckpointNotFoundError, match="no checkpoint"):
        model.load_weights(str(tmp_path / "missing"))
    corrupt = tmp_path / "w.tgckpt"
    data = bytearray(corrupt.read_bytes())
    data[len(data) // 2] ^= 0xFF
    corrupt.write_bytes(bytes(data))
    with pytest.raises(tg.train.CheckpointCorruptError):
        model.load_weights(str(tmp_path / "w"))


def test_summary_prints_keras_table():
    model = _model()
    lines = []
    model.summary(print_fn=lines.append)
    text = "\n".join(lines)
    assert "Layer (type)" in text and "Output Shape" in text and "Param #" in text
    assert "(None, 8)" in text and "Total params: 58" in text


def test_compat_tf1_keras_names():
    from tapegrad.compat import tf1

    assert tf1.keras.callbacks.EarlyStopping is tg.callbacks.EarlyStopping
    assert tf1.keras.losses.SparseCategoricalCrossentropy is \
        tg.losses.SparseCategoricalCrossentropy
    assert tf1.keras.Input is tg.layers.Input
    assert tf1.keras.optimizers.AdamW is tg.optimizers.AdamW
    assert tf1.keras.regularizers.l2 is tg.regularizers.l2
    assert tf1.keras.layers.LSTM is tg.layers.LSTM
