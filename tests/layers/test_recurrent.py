"""SimpleRNN, LSTM, GRU, Bidirectional, masking: values (against NumPy and torch),
shapes, options, and numeric gradient checks in float64 (second order)."""

import numpy as np
import pytest

import tapegrad as tg
from tapegrad.layers import GRU, LSTM, Bidirectional, Embedding, Masking, SimpleRNN


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _np_lstm(x, k, rk, b, go_backwards=False):
    batch, steps, _ = x.shape
    u = rk.shape[0]
    h = np.zeros((batch, u))
    c = np.zeros((batch, u))
    outs = []
    order = range(steps - 1, -1, -1) if go_backwards else range(steps)
    for t in order:
        z = x[:, t] @ k + h @ rk + b
        i, f, g, o = (z[:, j * u:(j + 1) * u] for j in range(4))
        c = _sigmoid(f) * c + _sigmoid(i) * np.tanh(g)
        h = _sigmoid(o) * np.tanh(c)
        outs.append(h)
    return np.stack(outs, 1), h, c


def _np_gru(x, k, rk, b):
    batch, steps, _ = x.shape
    u = rk.shape[0]
    h = np.zeros((batch, u))
    outs = []
    for t in range(steps):
        xp = x[:, t] @ k + b[0]
        rp = h @ rk + b[1]
        z = _sigmoid(xp[:, :u] + rp[:, :u])
        r = _sigmoid(xp[:, u:2 * u] + rp[:, u:2 * u])
        cand = np.tanh(xp[:, 2 * u:] + r * rp[:, 2 * u:])
        h = z * h + (1 - z) * cand
        outs.append(h)
    return np.stack(outs, 1), h


def _x(shape=(3, 5, 4), seed=0):
    return np.random.default_rng(seed).normal(size=shape)


def test_lstm_matches_numpy_and_keras_layout():
    x = _x().astype(np.float32)
    layer = LSTM(6, return_sequences=True, return_state=True)
    seq, h, c = layer(x)
    cell = layer.cell
    assert tuple(cell.kernel.shape) == (4, 24) and tuple(cell.recurrent_kernel.shape) == (6, 24)
    assert tuple(cell.bias.shape) == (24,)
    np.testing.assert_array_equal(cell.bias.numpy()[6:12], 1.0)   # unit_forget_bias
    rk = cell.recurrent_kernel.numpy()
    np.testing.assert_allclose(rk @ rk.T, np.eye(6), atol=1e-5)  # orthogonal rows
    ref_seq, ref_h, ref_c = _np_lstm(x.astype(np.float64), cell.kernel.numpy(), rk,
                                     cell.bias.numpy())
    np.testing.assert_allclose(seq.numpy(), ref_seq, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(h.numpy(), ref_h, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(c.numpy(), ref_c, rtol=1e-5, atol=1e-5)
    last = LSTM(6)
    last(x)
    last.set_weights(layer.get_weights())
    np.testing.assert_allclose(last(x).numpy(), ref_h, rtol=1e-5, atol=1e-5)


def test_go_backwards_and_gru_and_simple_rnn_values():
    x = _x().astype(np.float32)
    back = LSTM(3, go_backwards=True, return_sequences=True)
    out = back(x)
    ref, _, _ = _np_lstm(x.astype(np.float64), *[w for w in back.get_weights()],
                         go_backwards=True)
    np.testing.assert_allclose(out.numpy(), ref, rtol=1e-5, atol=1e-5)
    gru = GRU(5, return_sequences=True)
    out = gru(x)
    k, rk, b = gru.get_weights()
    assert b.shape == (2, 15)
    np.testing.assert_allclose(out.numpy(), _np_gru(x.astype(np.float64), k, rk, b)[0],
                               rtol=1e-5, atol=1e-5)
    rnn = SimpleRNN(4, activation="relu")
    rnn(x)
    k, rk, b = [np.asarray(w, np.float64) for w in rnn.get_weights()]
    h = np.zeros((3, 4))
    for t in range(5):
        h = np.maximum(x[:, t] @ k + h @ rk + b, 0)
    np.testing.assert_allclose(rnn(x).numpy(), h, rtol=1e-5, atol=1e-5)


def test_gru_reset_before_matches_its_formula():
    x = _x().astype(np.float64)
    gru = GRU(3, reset_after=False, dtype="float64")
    out = gru(x).numpy()
    k, rk, b = gru.get_weights()
    assert b.shape == (9,)
    h = np.zeros((3, 3))
    for t in range(5):
        xp = x[:, t] @ k + b
        z = _sigmoid(xp[:, :3] + h @ rk[:, :3])
        r = _sigmoid(xp[:, 3:6] + h @ rk[:, 3:6])
        cand = np.tanh(xp[:, 6:] + (r * h) @ rk[:, 6:])
        h = z * h + (1 - z) * cand
    np.testing.assert_allclose(out, h, rtol=1e-10)


def test_same_outputs_as_torch_lstm_and_gru():
    torch = pytest.importorskip("torch")
    x = _x((4, 7, 5), seed=3).astype(np.float32)
    t_lstm = torch.nn.LSTM(5, 8, batch_first=True)
    layer = LSTM(8, return_sequences=True, return_state=True)
    layer(x)
    w_ih, w_hh, b_ih, b_hh = (p.detach().numpy() for p in t_lstm.parameters())
    # torch's gates i, f, g, o are Keras' i, f, c, o: transpose only
    layer.set_weights([w_ih.T, w_hh.T, b_ih + b_hh])
    seq, h, c = layer(x)
    t_seq, (t_h, t_c) = t_lstm(torch.from_numpy(x))
    np.testing.assert_allclose(seq.numpy(), t_seq.detach().numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(h.numpy(), t_h[0].detach().numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(c.numpy(), t_c[0].detach().numpy(), rtol=1e-5, atol=1e-5)

    t_gru = torch.nn.GRU(5, 8, batch_first=True)
    gru = GRU(8, return_sequences=True)
    gru(x)
    w_ih, w_hh, b_ih, b_hh = (p.detach().numpy() for p in t_gru.parameters())

    def reorder(w):   # torch r, z, n -> Keras z, r, h
        r, z, n = np.split(w, 3, axis=0)
        return np.concatenate([z, r, n], axis=0)

    gru.set_weights([reorder(w_ih).T, reorder(w_hh).T,
                     np.stack([reorder(b_ih), reorder(b_hh)])])
    t_out, _ = t_gru(torch.from_numpy(x))
    np.testing.assert_allclose(gru(x).numpy(), t_out.detach().numpy(), rtol=1e-5, atol=1e-5)

    # gradients too: d(sum of outputs)/d(input) against torch's
    xt = torch.from_numpy(x).requires_grad_(True)
    t_gru(xt)[0].sum().backward()
    xs = tg.constant(x)
    with tg.GradientTape() as tape:
        tape.watch(xs)
        total = tg.reduce_sum(gru(xs))
    np.testing.assert_allclose(tape.gradient(total, xs).numpy(), xt.grad.numpy(),
                               rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn"])
def test_fused_weight_gradients_equal_torchs(kind):
    """The fused kernels' weight gradients (and the input's) against torch.nn.LSTM /
    GRU / RNN given the same weights, float32, with a loss on the last output."""
    torch = pytest.importorskip("torch")
    from tapegrad.layers import _rnn_fused

    if not _rnn_fused.available("float32"):
        pytest.skip("no bound BLAS: the fused kernels do not run here")
    x = _x((6, 9, 5), seed=12).astype(np.float32)
    t_layer = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU, "rnn": torch.nn.RNN}[kind](
        5, 7, batch_first=True)
    w_ih, w_hh, b_ih, b_hh = (p.detach().numpy() for p in t_layer.parameters())
    if kind == "lstm":
        layer = LSTM(7)
        weights = [w_ih.T, w_hh.T, b_ih + b_hh]
    elif kind == "gru":
        layer = GRU(7)

        def reorder(w):   # torch r, z, n -> Keras z, r, h
            r, z, n = np.split(w, 3, axis=0)
            return np.concatenate([z, r, n], axis=0)

        weights = [reorder(w_ih).T, reorder(w_hh).T, np.stack([reorder(b_ih), reorder(b_hh)])]
    else:
        layer = SimpleRNN(7)
        weights = [w_ih.T, w_hh.T, b_ih + b_hh]
    layer(x)
    layer.set_weights([np.ascontiguousarray(w) for w in weights])
    assert layer._fused_kind(np.dtype("float32")) is not None
    xs = tg.constant(x)
    with tg.GradientTape() as tape:
        tape.watch(xs)
        loss = tg.reduce_sum(tg.sin(layer(xs)))
    grads = tape.gradient(loss, [xs] + layer.trainable_variables)
    xt = torch.from_numpy(x).requires_grad_(True)
    torch.sin(t_layer(xt)[0][:, -1]).sum().backward()
    # a float32 sum of terms of size ~1 that can cancel to ~0.03 (torch's random weights):
    # its rounding is absolute, not relative to the sum
    np.testing.assert_allclose(loss.numpy(), float(torch.sin(t_layer(xt)[0][:, -1]).sum()),
                               rtol=1e-5, atol=2e-6)
    np.testing.assert_allclose(grads[0].numpy(), xt.grad.numpy(), rtol=1e-4, atol=1e-5)
    t_w_ih, t_w_hh, t_b_ih, t_b_hh = (p.grad.numpy() for p in t_layer.parameters())
    if kind == "gru":
        expected = [reorder(t_w_ih).T, reorder(t_w_hh).T,
                    np.stack([reorder(t_b_ih), reorder(t_b_hh)])]
    else:
        # one Keras bias stands for torch's two, which get the same gradient
        np.testing.assert_allclose(t_b_ih, t_b_hh, rtol=1e-6)
        expected = [t_w_ih.T, t_w_hh.T, t_b_ih]
    for got, want in zip(grads[1:], expected):
        np.testing.assert_allclose(got.numpy(), want, rtol=1e-4, atol=1e-5)


def _functional(layer, x):
    """The layer's output as a function of (x, kernel, recurrent_kernel, bias)."""
    cell = layer.cell
    layer(x)   # build

    def f(xs, k, rk, b):
        saved = cell.kernel, cell.recurrent_kernel, cell.bias
        cell.__dict__.update(kernel=k, recurrent_kernel=rk, bias=b)
        try:
            out = layer.call(xs)
        finally:
            cell.__dict__.update(kernel=saved[0], recurrent_kernel=saved[1], bias=saved[2])
        return out

    return f, [x] + layer.get_weights()


@pytest.mark.parametrize("make", [
    lambda: LSTM(3, return_sequences=True, dtype="float64"),
    lambda: GRU(3, return_sequences=True, dtype="float64"),
    lambda: GRU(2, reset_after=False, dtype="float64"),
    lambda: SimpleRNN(3, go_backwards=True, return_sequences=True, dtype="float64"),
])
def test_numeric_gradients_second_order(make):
    x = _x((2, 3, 2), seed=5)
    f, args = _functional(make(), x)
    tg.check_grads(f, args, order=2, modes=("rev",))


def test_masking_keeps_state_at_padded_steps():
    ids = np.array([[3, 5, 0, 0], [2, 0, 0, 0], [1, 4, 6, 7]])
    emb = Embedding(10, 4, mask_zero=True)
    lstm = LSTM(3, return_sequences=True)
    seq = lstm(emb(ids)).numpy()
    # padded steps repeat the last real output
    np.testing.assert_array_equal(seq[0, 2], seq[0, 1])
    np.testing.assert_array_equal(seq[1, 3], seq[1, 0])
    # and the final output equals running the layer on the unpadded prefix
    last = LSTM(3)
    last(emb(ids[:1, :2]))
    last.set_weights(lstm.get_weights())
    model = tg.Sequential([emb, last])
    np.testing.assert_allclose(model(ids[:1]).numpy(), last(emb(ids[:1, :2])).numpy(),
                               rtol=1e-6)
    masked = Masking(0.0)
    x = _x((2, 4, 3)).astype(np.float32)
    x[0, 3] = 0
    out = masked(x)
    from tapegrad.layers.recurrent import get_mask

    np.testing.assert_array_equal(get_mask(out), [[True, True, True, False], [True] * 4])


def test_bidirectional_concat_and_states():
    x = _x().astype(np.float32)
    bi = Bidirectional(LSTM(4, return_sequences=True), merge_mode="concat")
    out = bi(x).numpy()
    assert out.shape == (3, 5, 8)
    fw = bi.forward_layer.get_weights()
    bw = bi.backward_layer.get_weights()
    ref_fw, _, _ = _np_lstm(x.astype(np.float64), *fw)
    ref_bw, _, _ = _np_lstm(x.astype(np.float64), *bw, go_backwards=True)
    np.testing.assert_allclose(out[..., :4], ref_fw, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(out[..., 4:], ref_bw[:, ::-1], rtol=1e-5, atol=1e-5)
    assert len(bi.trainable_variables) == 6
    summed = Bidirectional(GRU(2, return_state=True), merge_mode="sum")
    result = summed(x)
    assert len(result) == 3 and tuple(result[0].shape) == (3, 2)
    np.testing.assert_allclose(result[0].numpy(), (result[1] + result[2]).numpy(), rtol=1e-6)
    with pytest.raises(TypeError):
        Bidirectional(tg.layers.Dense(3))


def test_bad_inputs_raise_clearly():
    with pytest.raises(ValueError, match="units"):
        LSTM(0)
    with pytest.raises(ValueError, match="stateful"):
        LSTM(3, stateful=True)
    with pytest.raises(ValueError, match=r"\(batch, time, features\)"):
        LSTM(3)(np.zeros((2, 3), np.float32))
    layer = LSTM(3)
    with pytest.raises(ValueError, match="initial_state"):
        layer(np.zeros((2, 4, 3), np.float32), initial_state=[np.zeros((2, 3), np.float32)])


def test_lstm_trains_in_a_sequential_model_with_fit():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 6, 2)).astype(np.float32)
    y = (x[:, :, 0].sum(1) > 0).astype(np.int32)
    model = tg.Sequential([LSTM(8), tg.layers.Dense(2)])
    model.compile(tg.optimizers.Adam(0.02),
                  tg.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    hist = model.fit(x, y, epochs=15, batch_size=16, verbose=0)
    assert hist.history["loss"][-1] < 0.5 * hist.history["loss"][0]


_FUSED_CASES = [
    (LSTM, {}, {"return_sequences": True, "return_state": True}),
    (LSTM, {}, {"go_backwards": True}),
    (LSTM, {}, {"return_sequences": True, "go_backwards": True}),
    (GRU, {}, {"return_sequences": True, "return_state": True}),
    (GRU, {}, {"go_backwards": True}),
    (GRU, {"use_bias": False}, {"return_sequences": True}),
    (GRU, {"reset_after": False}, {"return_sequences": True, "return_state": True}),
    (GRU, {"reset_after": False}, {"go_backwards": True}),
    (SimpleRNN, {}, {"return_sequences": True, "return_state": True}),
    (SimpleRNN, {}, {"go_backwards": True}),
]


@pytest.mark.parametrize("layer_type, cell_options, options", _FUSED_CASES)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("given_states", [True, False])
def test_fused_recurrences_match_the_generic_loop_values_and_gradients(
        layer_type, cell_options, options, dtype, given_states, monkeypatch):
    from tapegrad.layers import _rnn_fused
    from tapegrad.layers.recurrent import RNN

    if not _rnn_fused.available(dtype):
        pytest.skip("no bound BLAS: the fused kernels do not run here")
    x = tg.constant(_x((3, 6, 4), seed=7).astype(dtype))
    layer = layer_type(5, dtype=dtype, **cell_options, **options)
    layer(x)
    rng = np.random.default_rng(3)
    # a nonzero recurrent bias, so that its gradient and its place in the gate are seen
    layer.set_weights([w + 0.3 * rng.standard_normal(w.shape).astype(dtype)
                       for w in layer.get_weights()])
    # given states, or the default zeros (the kernels skip the products of those)
    states = [tg.constant(_x((3, 5), seed=8 + k).astype(dtype))
              for k in range(len(layer.cell.state_size))] if given_states else []

    def run():
        with tg.GradientTape() as tape:
            tape.watch([x] + states)
            out = layer(x, initial_state=states or None)
            outs = out if isinstance(out, list) else [out]
            loss = tg.add_n([tg.reduce_sum(o * o * (1.0 + k)) for k, o in enumerate(outs)])
        # gradient taken outside the block: the fused backward pass runs
        grads = tape.gradient(loss, [x] + states + layer.trainable_variables)
        return [o.numpy() for o in outs], [g.numpy() for g in grads]

    assert layer._fused_kind(x.dtype) is not None
    fused_out, fused_grads = run()
    monkeypatch.setattr(RNN, "_fused_kind", lambda self, dtype: None)
    plain_out, plain_grads = run()
    tol = dict(rtol=1e-10, atol=1e-12) if dtype == "float64" else dict(rtol=2e-5, atol=2e-6)
    for a, b in zip(fused_out, plain_out):
        np.testing.assert_allclose(a, b, **tol)
    for a, b in zip(fused_grads, plain_grads):
        np.testing.assert_allclose(a, b, **tol)


@pytest.mark.parametrize("make", [
    lambda: LSTM(3, return_sequences=True, dtype="float64"),
    lambda: GRU(3, return_sequences=True, dtype="float64"),
    lambda: GRU(2, reset_after=False, dtype="float64"),
    lambda: SimpleRNN(3, dtype="float64"),
])
def test_fused_recurrences_forward_mode_and_second_order(make):
    """Forward mode (which transposes the custom gradient) and second order recompute
    through the differentiable recurrence; both are checked numerically."""
    x = _x((2, 3, 2), seed=11)
    f, args = _functional(make(), x)
    tg.check_grads(f, args, order=2, modes=("fwd", "rev"))


def test_fused_kernel_rejects_bad_buffers():
    from tapegrad import _kernels
    from tapegrad.layers import _rnn_fused

    if not _rnn_fused.available("float64"):
        pytest.skip("no bound BLAS")
    xp = np.zeros((2, 3, 8))
    u = np.zeros((2, 8))
    hs = np.zeros((3, 3, 2))
    with pytest.raises(ValueError, match="rnn_forward: u must be"):
        _kernels.rnn_forward(_rnn_fused.GRU, xp, u, None, np.zeros(8), hs, None, xp, hs[:2])
    with pytest.raises(TypeError, match="rnn_forward: acts must be a C-contiguous"):
        _kernels.rnn_forward(_rnn_fused.LSTM, xp, u, None, None, hs, hs.copy(),
                             xp.astype(np.float32), hs[:2].copy())
    with pytest.raises(ValueError, match="rnn_forward: hs must be"):
        _kernels.rnn_forward(_rnn_fused.LSTM, xp, u, None, None, hs[:2], hs.copy(), xp,
                             hs[:2].copy())
    with pytest.raises(ValueError, match="rnn_forward: bias must have shape"):
        _kernels.rnn_forward(_rnn_fused.LSTM, np.zeros((2, 3, 4)), np.zeros((1, 4)),
                             np.zeros(3), None, np.zeros((3, 3, 1)), np.zeros((3, 3, 1)),
                             np.zeros((2, 3, 4)), np.zeros((2, 3, 1)))
    with pytest.raises(ValueError, match="kind must be"):
        _kernels.rnn_forward(7, xp, u, None, None, hs, None, None, None)


@pytest.mark.parametrize("layer_type, cell_options", [
    (LSTM, {}), (GRU, {}), (GRU, {"reset_after": False}), (SimpleRNN, {})])
def test_fused_batch_split_over_threads_gives_the_same_results(layer_type, cell_options):
    """A batch large enough to be split over the pool (each part runs the time loop for
    its own rows): values and gradients equal at 1, 2 and 3 threads, and equal to the
    generic loop's."""
    from tapegrad import _kernels
    from tapegrad.layers import _rnn_fused
    from tapegrad.layers.recurrent import RNN

    if not _rnn_fused.available("float64"):
        pytest.skip("no bound BLAS")
    x = tg.constant(_x((72, 5, 3), seed=21))   # 72 rows: every kind splits
    layer = layer_type(64, return_sequences=True, dtype="float64", **cell_options)
    layer(x)

    def run():
        with tg.GradientTape() as tape:
            tape.watch(x)
            loss = tg.reduce_sum(tg.sin(layer(x)))
        grads = tape.gradient(loss, [x] + layer.trainable_variables)
        return [loss.numpy()] + [g.numpy() for g in grads]

    results = []
    try:
        for n in (1, 2, 3):
            _kernels.set_threads(n)
            results.append(run())
    finally:
        _kernels.set_threads(_kernels.default_threads())
    for other in results[1:]:
        for a, b in zip(results[0], other):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-13)
    saved = RNN._fused_kind
    RNN._fused_kind = lambda self, dtype: None
    try:
        plain = run()
    finally:
        RNN._fused_kind = saved
    for a, b in zip(results[0], plain):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-11)
