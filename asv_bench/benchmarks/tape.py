"""The tape's fixed costs: recording, backward walk, nesting, variable reads, memory."""

import gc
import resource

import numpy as np

import tapegrad as tg

from . import DTYPES, seed_all


class ScalarStep:
    """``with tape: y = w * w``; ``tape.gradient(y, w)`` with ``w`` a Variable."""

    params = [DTYPES]
    param_names = ["dtype"]

    def setup(self, dtype):
        seed_all()
        self.w = tg.Variable(np.asarray(3.0, dtype=dtype))
        self.x = tg.constant(np.asarray(3.0, dtype=dtype))

    def time_variable_step(self, dtype):
        w = self.w
        with tg.GradientTape() as tape:
            y = w * w
        tape.gradient(y, w)

    def time_watched_tensor_step(self, dtype):
        x = self.x
        with tg.GradientTape() as tape:
            tape.watch(x)
            y = x * x
        tape.gradient(y, x)


class NestedDerivative:
    """The n-th derivative of tanh at a scalar by n nested tapes."""

    params = [[1, 2, 3, 4], DTYPES]
    param_names = ["order", "dtype"]

    def setup(self, order, dtype):
        seed_all()
        self.x = tg.constant(np.asarray(0.5, dtype=dtype))

    def time_nth_derivative(self, order, dtype):
        nth_derivative(tg.tanh, self.x, order)


def nth_derivative(f, x, order):
    """d^order f / dx^order at ``x``: each tape records the derivative computed inside it."""
    if order == 0:
        return f(x)
    with tg.GradientTape() as tape:
        tape.watch(x)
        y = nth_derivative(f, x, order - 1)
    return tape.gradient(y, x)


class Chain:
    """Backward through a chain of 100 elementwise ops (50 tanh, 50 multiply)."""

    params = [[1, 1000], DTYPES]
    param_names = ["size", "dtype"]

    def setup(self, size, dtype):
        rng = seed_all()
        self.x = tg.constant(rng.uniform(-1, 1, size).astype(dtype))
        self.scale = tg.constant(np.asarray(1.01, dtype=dtype))

    def _chain(self):
        y = self.x
        for _ in range(50):
            y = tg.tanh(y) * self.scale
        return y

    def time_forward(self, size, dtype):
        self._chain()

    def time_forward_backward(self, size, dtype):
        with tg.GradientTape() as tape:
            tape.watch(self.x)
            y = self._chain()
        tape.gradient(y, self.x)


class VariableReads:
    """Reading a trainable variable 100 times, without and within a recording tape."""

    params = [[1, 1000], DTYPES]
    param_names = ["size", "dtype"]

    def setup(self, size, dtype):
        rng = seed_all()
        self.v = tg.Variable(rng.random(size).astype(dtype))

    def time_read_value(self, size, dtype):
        v = self.v
        for _ in range(100):
            v.read_value()

    def time_read_value_in_tape(self, size, dtype):
        v = self.v
        with tg.GradientTape():
            for _ in range(100):
                v.read_value()

    def time_assign_sub(self, size, dtype):
        v = self.v
        for _ in range(100):
            v.assign_sub(v)


def rss_kib():
    """Resident set size now, in KiB (Linux /proc; the peak on other systems)."""
    try:
        with open("/proc/self/statm") as f:
            pages = int(f.read().split()[1])
        return pages * resource.getpagesize() // 1024
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


class TapeMemory:
    """RSS growth over many tape steps after a warm-up: flat means nothing leaks."""

    params = [[20_000]]
    param_names = ["steps"]
    unit = "KiB"

    def setup(self, steps):
        seed_all()
        self.w = tg.Variable(np.ones((4, 4), dtype=np.float32))
        self.x = tg.constant(np.ones((4, 4), dtype=np.float32))

    def _step(self):
        with tg.GradientTape() as tape:
            y = tg.reduce_sum(tg.tanh(tg.matmul(self.x, self.w)))
        self.w.assign_sub(tape.gradient(y, self.w) * 0.001)

    def track_rss_growth(self, steps):
        for _ in range(min(steps, 2000)):
            self._step()
        gc.collect()
        before = rss_kib()
        for _ in range(steps):
            self._step()
        gc.collect()
        return rss_kib() - before
