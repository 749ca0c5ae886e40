"""The traced (``tg.function``) side of ``bench/compare.py``: the same workloads, each
step traced once and replayed.  Called from compare.py's tapegrad worker; the keys it
returns (``*_traced``, ``cnn_trace``) are compared in compare.py's table with the NumPy
and PyTorch timings of the eager keys (the same arithmetic)."""

import time

import numpy as np


def traced_workloads(tg, timer, eager):
    """``eager`` is the compare module: its data, MLP model, MLP step and CNN step are the
    ones its eager rows time."""
    out = {}
    lr = eager.LEARNING_RATE

    w = tg.Variable(3.0)

    @tg.function
    def scalar_step():
        with tg.GradientTape() as tape:
            y = w * w
        return tape.gradient(y, w)
    out["scalar_step_traced"] = timer(scalar_step)

    xs, ys = (tg.constant(v) for v in eager.linreg_data())

    def linreg():
        W, B = tg.Variable(5.0), tg.Variable(10.0)

        @tg.function
        def step():
            with tg.GradientTape() as tape:
                loss = tg.reduce_mean(tg.square(xs * W + B - ys))
            dW, dB = tape.gradient(loss, [W, B])
            W.assign_sub(dW * lr)
            B.assign_sub(dB * lr)

        for _ in range(eager.LINREG_STEPS):
            step()
    out["linreg_traced"] = timer(linreg)

    def make_step(model, optimizer):
        return tg.function(lambda x, y: eager.tapegrad_train_step(tg, model, optimizer, x, y))

    for batch in (32, 256):
        xn, yn, weights = eager.mlp_data(batch)
        x, y = tg.constant(xn), tg.constant(yn.astype(np.int32))
        step = make_step(eager.tapegrad_mlp_model(tg, weights), tg.optimizers.SGD(lr))
        out["mlp%d_traced" % batch] = timer(lambda s=step, x=x, y=y: s(x, y))

    cnn_step_fn = eager.tapegrad_cnn_step(tg)

    # trace time: a fresh tg.function's first call (Adam's slots already exist), minus
    # the eager step it runs while tracing
    cnn_step_fn()
    traces, eagers = [], []
    for _ in range(5):
        t0 = time.perf_counter()
        cnn_step_fn()
        eagers.append(time.perf_counter() - t0)
        f = tg.function(cnn_step_fn)
        t0 = time.perf_counter()
        f()
        traces.append(time.perf_counter() - t0)
    out["cnn_trace"] = {"median": float(np.median(traces)), "min": min(traces),
                        "repeats": 5, "number": 1,
                        "eager_step_median": float(np.median(eagers))}
    out["cnn64_traced"] = timer(tg.function(cnn_step_fn))
    return out
