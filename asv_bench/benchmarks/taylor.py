"""Taylor mode (tg.jet): all derivatives up to order n of tanh at a scalar in one pass,
against n nested tapes for the n-th alone; and a jet through a small MLP."""

import numpy as np

import tapegrad as tg


class TanhDerivatives:
    params = [[2, 4, 8], ["float32", "float64"]]
    param_names = ["order", "dtype"]

    def setup(self, order, dtype):
        self.x = tg.constant(0.5, dtype=dtype)
        tg.derivatives(tg.tanh, self.x, order)      # trace once

    def time_jet_all_orders(self, order, dtype):
        tg.derivatives(tg.tanh, self.x, order)

    def time_nested_tapes_last_order(self, order, dtype):
        x = self.x

        def nth(k):
            if k == 0:
                return tg.tanh(x)
            with tg.GradientTape() as tape:
                tape.watch(x)
                y = nth(k - 1)
            return tape.gradient(y, x)

        nth(order)


class MLPJet:
    params = [[2, 4, 8]]
    param_names = ["order"]

    def setup(self, order):
        rng = np.random.default_rng(0)
        self.w1 = tg.constant(rng.standard_normal((32, 64)))
        self.w2 = tg.constant(rng.standard_normal((64, 10)))
        self.x = tg.constant(rng.standard_normal((16, 32)))
        self.v = rng.standard_normal((16, 32))
        tg.derivatives(self.f, self.x, order, direction=self.v)

    def f(self, x):
        return tg.reduce_sum(tg.nn.softmax(tg.matmul(tg.tanh(tg.matmul(x, self.w1)), self.w2)))

    def time_derivatives_along_direction(self, order):
        tg.derivatives(self.f, self.x, order, direction=self.v)
