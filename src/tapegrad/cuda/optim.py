"""Fused in-place optimizer updates for GPU variables (one kernel per step and variable).

These write into the variable's device buffer, so the caller (an optimizer) must
own that buffer exclusively — the same contract as ``Variable._inplace_array()`` on
the CPU.  All arrays must be contiguous, same shape, same float dtype, one device.
"""
import math
from ctypes import c_int, c_int64

from . import launch
from .elementwise import ptr, run_ew


def _check(what, w, *others):
    if w.dtype.kind != "f":
        raise TypeError(f"{what}: expected floating-point variables, got {w.dtype}")
    for o in others:
        if o.shape != w.shape or o.dtype != w.dtype or o.device_index != w.device_index:
            raise ValueError(f"{what}: shape/dtype/device mismatch: {w.shape} {w.dtype} "
                             f"{w.device} vs {o.shape} {o.dtype} {o.device}")
    return launch.suffix(w.dtype, what)


def sgd_update(w, g, lr):
    """w -= lr * g."""
    s = _check("sgd_update", w, g)
    run_ew(w.dev, f"sgd_{s}", w.size, [c_int64(w.size), launch.scalar_arg(lr, w.dtype),
                                       ptr(w), ptr(g)])


def momentum_update(w, accum, g, lr, momentum, nesterov=False):
    """accum = momentum * accum + g; w -= lr * accum (nesterov: lr * (g + momentum * accum))."""
    s = _check("momentum_update", w, accum, g)
    run_ew(w.dev, f"momentum_{s}", w.size,
           [c_int64(w.size), launch.scalar_arg(lr, w.dtype), launch.scalar_arg(momentum, w.dtype),
            c_int(1 if nesterov else 0), ptr(w), ptr(accum), ptr(g)])


def adam_update(w, m, v, g, lr, beta1, beta2, epsilon, step):
    """TF's Adam step ``step`` (1-based): bias correction folded into the learning rate."""
    s = _check("adam_update", w, m, v, g)
    if step < 1:
        raise ValueError(f"adam_update: step must be >= 1, got {step}")
    lr_t = lr * math.sqrt(1.0 - beta2 ** step) / (1.0 - beta1 ** step)
    d = w.dtype
    run_ew(w.dev, f"adam_{s}", w.size,
           [c_int64(w.size), launch.scalar_arg(lr_t, d), launch.scalar_arg(beta1, d),
            launch.scalar_arg(beta2, d), launch.scalar_arg(epsilon, d), ptr(w), ptr(m), ptr(v),
            ptr(g)])
