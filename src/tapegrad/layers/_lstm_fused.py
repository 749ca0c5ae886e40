"""A fused LSTM recurrence for the standard cell (sigmoid gates, tanh), as one custom-gradient
call: the input projection is one matmul outside (recorded as usual), the recurrence runs
in NumPy, and the backward pass through time is hand-written (one matmul per step; the
recurrent kernel's gradient is one matmul over all steps).

Higher orders stay exact: when a tape is recording the backward pass (a gradient of a
gradient), the gradient is recomputed from the inputs with the generic, differentiable
tapegrad-op recurrence instead of the NumPy one.
"""

import numpy as np

import tapegrad as tg
from tapegrad import _core

__all__ = ["lstm_sequence"]


def _recording():
    from tapegrad import _core

    active = getattr(_core, "_active_tapes", None)
    return active is None or bool(active())


def _plain(xp, u, h, c):
    """The same recurrence in tapegrad ops (differentiable to any order)."""
    units = u.shape[0]
    outputs = []
    for t in range(xp.shape[0]):
        z = xp[t] + tg.matmul(h, u)
        gates = tg.nn.sigmoid(z[:, :2 * units])
        i, f = gates[:, :units], gates[:, units:]
        g = tg.tanh(z[:, 2 * units:3 * units])
        o = tg.nn.sigmoid(z[:, 3 * units:])
        c = f * c + i * g
        h = o * tg.tanh(c)
        outputs.append(h)
    return tg.concat([tg.stack(outputs), tg.expand_dims(c, 0)], axis=0)


@tg.custom_gradient
def lstm_sequence(xp, u, h0, c0):
    """``xp`` ``(T, B, 4H)`` projected inputs (bias included), ``u`` ``(H, 4H)``; returns
    ``(T + 1, B, H)``: the T hidden states, then the final cell state."""
    xp_a, u_a = xp.numpy(), u.numpy()
    h, c = np.array(h0.numpy()), np.array(c0.numpy())
    steps, batch, width = xp_a.shape
    units = width // 4
    dtype = xp_a.dtype
    hs = np.empty((steps + 1, batch, units), dtype)      # h_{-1} .. h_{T-1}
    cs = np.empty((steps + 1, batch, units), dtype)      # c_{-1} .. c_{T-1}
    acts = np.empty((steps, batch, width), dtype)        # i, f, g, o after activation
    tanh_c = np.empty((steps, batch, units), dtype)
    hs[0], cs[0] = h, c
    ig = np.empty((batch, units), dtype)
    for t in range(steps):
        a = acts[t]
        np.matmul(hs[t], u_a, out=a)
        a += xp_a[t]
        cand = np.tanh(a[:, 2 * units:3 * units])
        # logistic of every gate in place (0.5 tanh(x/2) + 0.5 cannot overflow), then
        # the candidate's tanh over its slot
        a *= 0.5
        np.tanh(a, out=a)
        a *= 0.5
        a += 0.5
        a[:, 2 * units:3 * units] = cand
        i, f, g, o = (a[:, k * units:(k + 1) * units] for k in range(4))
        np.multiply(f, cs[t], out=cs[t + 1])
        np.multiply(i, g, out=ig)
        cs[t + 1] += ig
        np.tanh(cs[t + 1], out=tanh_c[t])
        np.multiply(o, tanh_c[t], out=hs[t + 1])
    out = np.concatenate([hs[1:], cs[-1:]], axis=0)

    def grad_fn(dout):
        if _recording():
            with tg.GradientTape() as tape:
                tape.watch([xp, u, h0, c0])
                again = _plain(xp, u, h0, c0)
            return tuple(tape.gradient(again, [xp, u, h0, c0], output_gradients=dout))
        d = dout.numpy()
        gates = acts.reshape(steps, batch, 4, units)
        i, f, g, o = gates[:, :, 0], gates[:, :, 1], gates[:, :, 2], gates[:, :, 3]
        # everything that does not depend on the recurrence, for all steps at once:
        # dz_{i,f,g} = dc * p[:, :, 0:3], dz_o = dh * q, dc = dh * r + dc_next
        # (written into preallocated buffers: each temporary of a (T, B, H) expression
        # is a fresh ~1 MB mapping whose pages fault in again, once per step)
        p = np.empty((steps, batch, 3, units), dtype)
        tmp = np.empty((steps, batch, units), dtype)
        np.subtract(1.0, i, out=tmp)
        tmp *= i
        np.multiply(tmp, g, out=p[:, :, 0])
        np.subtract(1.0, f, out=tmp)
        tmp *= f
        np.multiply(tmp, cs[:-1], out=p[:, :, 1])
        np.multiply(g, g, out=tmp)
        np.subtract(1.0, tmp, out=tmp)
        np.multiply(tmp, i, out=p[:, :, 2])
        q = np.subtract(1.0, o)
        q *= o
        q *= tanh_c
        r = np.multiply(tanh_c, tanh_c)
        np.subtract(1.0, r, out=r)
        r *= o
        dz = np.empty((steps, batch, 4, units), dtype)
        dh = np.empty((batch, units), dtype)
        dc = np.empty((batch, units), dtype)
        dh_next = np.zeros((batch, units), dtype)
        dc_next = np.array(d[steps])
        u_t = u_a.T
        for t in range(steps - 1, -1, -1):
            np.add(d[t], dh_next, out=dh)
            np.multiply(dh, r[t], out=dc)
            dc += dc_next
            np.multiply(dc[:, None, :], p[t], out=dz[t, :, :3])
            np.multiply(dh, q[t], out=dz[t, :, 3])
            np.multiply(dc, f[t], out=dc_next)
            np.matmul(dz[t].reshape(batch, width), u_t, out=dh_next)
        dz = dz.reshape(steps, batch, width)
        du = hs[:-1].reshape(-1, units).T @ dz.reshape(-1, width)
        # fresh arrays nothing else holds: wrapped, not copied
        return (_core.wrap(dz), _core.wrap(du), _core.wrap(dh_next), _core.wrap(dc_next))

    return _core.wrap(out), grad_fn
