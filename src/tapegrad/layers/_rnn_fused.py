"""Fused recurrences for the standard cells (sigmoid gates, tanh): LSTM, GRU in both of
its forms, and SimpleRNN with tanh, each one custom-gradient call.

The input projection of all steps is one matmul outside (recorded as usual: its
gradient gives the kernel's); the input bias is added inside, as the step's input is
loaded, and its gradient is the sum of the pre-activation gradients.  States that
start at zero are passed as None: the first step's product and the last product of the
backward pass (the initial state's gradient) are skipped.  The recurrence and its backward
pass through time are one nogil loop each in C (``_kernels_rnn.pxi``): per step a GEMM
on the thread pool and one pass over the batch rows.  The recurrent kernel's gradient
is then one GEMM over all steps.  Every buffer is allocated once per call, here.

Higher orders stay exact: when a tape is recording the backward pass (a gradient of a
gradient, or forward mode, which transposes the backward pass), the gradient is
recomputed from the inputs with the same recurrence written in differentiable tapegrad
ops instead.
"""

import numpy as np

import tapegrad as tg
from tapegrad import _core, _kernels

__all__ = ["lstm_sequence", "gru_sequence", "gru_before_sequence", "simple_sequence",
           "available"]

# rnn_forward / rnn_backward kinds (_kernels_rnn.pxi)
SIMPLE, LSTM, GRU, GRU_BEFORE = 0, 1, 2, 3


def available(dtype):
    """Whether the fused kernels run for inputs of ``dtype`` (float32/float64, and a
    bound BLAS for their products)."""
    return np.dtype(dtype) in (np.float32, np.float64) and _kernels.rnn_ready()


def _recording():
    active = getattr(_core, "_active_tapes", None)
    return active is None or bool(active())


def _array(t):
    return None if t is None else np.ascontiguousarray(t.numpy())


def _gemm_tn(a, b):
    """a^T @ b for 2-D arrays, on the pool where it can run there."""
    out = _kernels.gemm(a.T, b)
    return np.matmul(a.T, b) if out is None else out


def _present(values, inputs):
    """The gradients of the inputs that were given (custom_gradient drops None inputs)."""
    return tuple(_core.wrap(np.ascontiguousarray(v)) for v, i in zip(values, inputs)
                 if i is not None)


def _regrad(plain, inputs, dout):
    """The gradient through the differentiable recurrence ``plain`` (recorded)."""
    given = [i for i in inputs if i is not None]
    with tg.GradientTape() as tape:
        tape.watch(given)
        again = plain(*inputs)
    return tuple(tape.gradient(again, given, output_gradients=dout))


def _start(h0, shape, dtype):
    """The initial state: zeros, or h0's values (the kernels overwrite the rest)."""
    out = np.empty(shape, dtype)
    if h0 is None:
        out[0] = 0
    else:
        out[0] = h0.numpy()
    return out


def _plain_start(h, xp, u):
    return tg.zeros((xp.shape[1], u.shape[0]), dtype=xp.dtype) if h is None else h


def _plain_input(xp, b, t):
    return xp[t] if b is None else xp[t] + b


# ---------------------------------------------------------------------- LSTM


def _plain_lstm(xp, u, b, h, c):
    units = u.shape[0]
    h, c = _plain_start(h, xp, u), _plain_start(c, xp, u)
    outputs = []
    for t in range(xp.shape[0]):
        z = _plain_input(xp, b, t) + tg.matmul(h, u)
        gates = tg.nn.sigmoid(z[:, :2 * units])
        i, f = gates[:, :units], gates[:, units:]
        g = tg.tanh(z[:, 2 * units:3 * units])
        o = tg.nn.sigmoid(z[:, 3 * units:])
        c = f * c + i * g
        h = o * tg.tanh(c)
        outputs.append(h)
    return tg.concat([tg.stack(outputs), tg.expand_dims(c, 0)], axis=0)


@tg.custom_gradient
def lstm_sequence(xp, u, b, h0, c0):
    """``xp`` ``(T, B, 4H)`` projected inputs, ``u`` ``(H, 4H)``, ``b`` ``(4H,)`` the
    bias or None, ``h0``/``c0`` ``(B, H)`` or both None (zeros); returns ``(T + 1, B, H)``:
    the T hidden states, then the final cell state."""
    xp_a, u_a, b_a = _array(xp), _array(u), _array(b)
    steps, batch, width = xp_a.shape
    units = width // 4
    dtype = xp_a.dtype
    zero = h0 is None
    # hs: h_{-1} .. h_{T-1}, then the final c, so that the output is a view of it
    hs = _start(h0, (steps + 2, batch, units), dtype)
    cs = _start(c0, (steps + 1, batch, units), dtype)       # c_{-1} .. c_{T-1}
    acts = np.empty((steps, batch, width), dtype)            # i, f, g, o activated
    tanh_c = np.empty((steps, batch, units), dtype)
    _kernels.rnn_forward(LSTM, xp_a, u_a, b_a, None, hs, cs, acts, tanh_c, zero)
    hs[steps + 1] = cs[steps]

    def grad_fn(dout):
        if _recording():
            return _regrad(_plain_lstm, (xp, u, b, h0, c0), dout)
        d = dout.numpy()
        dz = np.empty((steps, batch, width), dtype)
        dh = np.zeros((batch, units), dtype)
        dc = np.array(d[steps], dtype=dtype)
        _kernels.rnn_backward(LSTM, np.ascontiguousarray(d[:steps], dtype=dtype), dz, u_a,
                              hs, cs, acts, tanh_c, dz, None, dh, dc, not zero)
        flat = dz.reshape(-1, width)
        du = _gemm_tn(hs[:steps].reshape(-1, units), flat)
        db = flat.sum(axis=0) if b is not None else None
        return _present((dz, du, db, dh, dc), (xp, u, b, h0, c0))

    return _core.wrap(hs[1:]), grad_fn


# ---------------------------------------------------------------------- GRU


def _plain_gru(xp, u, b, brec, h):
    units = u.shape[0]
    h = _plain_start(h, xp, u)
    outputs = []
    for t in range(xp.shape[0]):
        x = _plain_input(xp, b, t)
        rec = tg.matmul(h, u)
        if brec is not None:
            rec = rec + brec
        zr = tg.nn.sigmoid(x[:, :2 * units] + rec[:, :2 * units])
        z, r = zr[:, :units], zr[:, units:]
        hh = tg.tanh(x[:, 2 * units:] + r * rec[:, 2 * units:])
        h = z * h + (1.0 - z) * hh
        outputs.append(h)
    return tg.stack(outputs)


@tg.custom_gradient
def gru_sequence(xp, u, b, brec, h0):
    """GRU with ``reset_after=True``: ``xp`` ``(T, B, 3H)`` projected inputs, ``u``
    ``(H, 3H)``, ``b`` the input bias and ``brec`` the recurrent bias (``(3H,)`` or
    None), ``h0`` ``(B, H)`` or None (zeros); returns the T hidden states ``(T, B, H)``."""
    xp_a, u_a, b_a = _array(xp), _array(u), _array(b)
    steps, batch, width = xp_a.shape
    units = width // 3
    dtype = xp_a.dtype
    brec_a = np.zeros(width, dtype) if brec is None else _array(brec)
    zero = h0 is None
    hs = _start(h0, (steps + 1, batch, units), dtype)
    acts = np.empty((steps, batch, width), dtype)            # z, r, candidate
    keep = np.empty((steps, batch, units), dtype)            # h U_h + b_h per step
    _kernels.rnn_forward(GRU, xp_a, u_a, b_a, brec_a, hs, None, acts, keep, zero)

    def grad_fn(dout):
        if _recording():
            return _regrad(_plain_gru, (xp, u, b, brec, h0), dout)
        d = np.ascontiguousarray(dout.numpy(), dtype=dtype)
        dz = np.empty((steps, batch, width), dtype)
        drec = np.empty((steps, batch, width), dtype)
        dh = np.zeros((batch, units), dtype)
        _kernels.rnn_backward(GRU, d, dz, u_a, hs, None, acts, keep, dz, drec, dh, None,
                              not zero)
        flat = drec.reshape(-1, width)
        du = _gemm_tn(hs[:steps].reshape(-1, units), flat)
        db = dz.reshape(-1, width).sum(axis=0) if b is not None else None
        dbrec = flat.sum(axis=0) if brec is not None else None
        return _present((dz, du, db, dbrec, dh), (xp, u, b, brec, h0))

    return _core.wrap(hs[1:]), grad_fn


def _plain_gru_before(xp, u, b, h):
    units = u.shape[0]
    h = _plain_start(h, xp, u)
    outputs = []
    for t in range(xp.shape[0]):
        x = _plain_input(xp, b, t)
        zr = tg.nn.sigmoid(x[:, :2 * units] + tg.matmul(h, u[:, :2 * units]))
        z, r = zr[:, :units], zr[:, units:]
        hh = tg.tanh(x[:, 2 * units:] + tg.matmul(r * h, u[:, 2 * units:]))
        h = z * h + (1.0 - z) * hh
        outputs.append(h)
    return tg.stack(outputs)


@tg.custom_gradient
def gru_before_sequence(xp, u, b, h0):
    """GRU with ``reset_after=False`` (the reset gate scales h before ``U_h``): ``xp``
    ``(T, B, 3H)``, ``u`` ``(H, 3H)``, ``b`` ``(3H,)`` or None, ``h0`` ``(B, H)`` or None;
    returns ``(T, B, H)``."""
    xp_a, u_a, b_a = _array(xp), _array(u), _array(b)
    steps, batch, width = xp_a.shape
    units = width // 3
    dtype = xp_a.dtype
    zero = h0 is None
    hs = _start(h0, (steps + 1, batch, units), dtype)
    acts = np.empty((steps, batch, width), dtype)
    keep = np.empty((steps, batch, units), dtype)            # r * h per step
    _kernels.rnn_forward(GRU_BEFORE, xp_a, u_a, b_a, None, hs, None, acts, keep, zero)

    def grad_fn(dout):
        if _recording():
            return _regrad(_plain_gru_before, (xp, u, b, h0), dout)
        d = np.ascontiguousarray(dout.numpy(), dtype=dtype)
        dz = np.empty((steps, batch, width), dtype)
        dh = np.zeros((batch, units), dtype)
        _kernels.rnn_backward(GRU_BEFORE, d, dz, u_a, hs, None, acts, keep, dz, None, dh,
                              None, not zero)
        flat = dz.reshape(-1, width)
        du = np.empty_like(u_a)
        du[:, :2 * units] = _gemm_tn(hs[:steps].reshape(-1, units), flat[:, :2 * units])
        du[:, 2 * units:] = _gemm_tn(keep.reshape(-1, units), flat[:, 2 * units:])
        db = flat.sum(axis=0) if b is not None else None
        return _present((dz, du, db, dh), (xp, u, b, h0))

    return _core.wrap(hs[1:]), grad_fn


# ---------------------------------------------------------------------- SimpleRNN


def _plain_simple(xp, u, b, h):
    h = _plain_start(h, xp, u)
    outputs = []
    for t in range(xp.shape[0]):
        h = tg.tanh(_plain_input(xp, b, t) + tg.matmul(h, u))
        outputs.append(h)
    return tg.stack(outputs)


@tg.custom_gradient
def simple_sequence(xp, u, b, h0):
    """SimpleRNN with tanh: ``xp`` ``(T, B, H)``, ``u`` ``(H, H)``, ``b`` ``(H,)`` or
    None, ``h0`` ``(B, H)`` or None; returns ``(T, B, H)``."""
    xp_a, u_a, b_a = _array(xp), _array(u), _array(b)
    steps, batch, units = xp_a.shape
    dtype = xp_a.dtype
    zero = h0 is None
    hs = _start(h0, (steps + 1, batch, units), dtype)
    _kernels.rnn_forward(SIMPLE, xp_a, u_a, b_a, None, hs, None, None, None, zero)

    def grad_fn(dout):
        if _recording():
            return _regrad(_plain_simple, (xp, u, b, h0), dout)
        d = np.ascontiguousarray(dout.numpy(), dtype=dtype)
        dz = np.empty((steps, batch, units), dtype)
        dh = np.zeros((batch, units), dtype)
        _kernels.rnn_backward(SIMPLE, d, dz, u_a, hs, None, None, None, dz, None, dh, None,
                              not zero)
        flat = dz.reshape(-1, units)
        du = _gemm_tn(hs[:steps].reshape(-1, units), flat)
        db = flat.sum(axis=0) if b is not None else None
        return _present((dz, du, db, dh), (xp, u, b, h0))

    return _core.wrap(hs[1:]), grad_fn
