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


# Issue 23's vmap rows (bench/higher_order.py has the paired comparison with torch.func)

def _mlp_loss(w1, b1, w2, b2, x, y):
    """Softmax cross entropy of a tanh MLP on one example (x: (d_in,)) or a batch."""
    z = tg.matmul(tg.tanh(tg.matmul(x, w1) + b1), w2) + b2
    return tg.reduce_sum(tg.nn.softmax_cross_entropy_with_logits(labels=y, logits=z))


class PerExampleGradients:
    """vmap(grad(loss), in_axes=(None,)*4 + (0, 0)) against one batched gradient."""
    params = [[(32, 32, 10), (784, 128, 10)]]
    param_names = ["sizes"]

    def setup(self, sizes):
        d_in, d_h, d_out = sizes
        rng = np.random.default_rng(0)
        self.params_ = [tg.constant(rng.standard_normal((d_in, d_h)) / np.sqrt(d_in)),
                        tg.constant(np.zeros(d_h)),
                        tg.constant(rng.standard_normal((d_h, d_out)) / np.sqrt(d_h)),
                        tg.constant(np.zeros(d_out))]
        self.x = tg.constant(rng.standard_normal((256, d_in)))
        self.y = tg.constant(np.eye(d_out)[rng.integers(0, d_out, 256)])
        self.per_example = tg.vmap(tg.grad(_mlp_loss, argnums=(0, 1, 2, 3)),
                                   in_axes=(None,) * 4 + (0, 0))
        self.batched = tg.grad(_mlp_loss, argnums=(0, 1, 2, 3))
        self.per_example(*self.params_, self.x, self.y)      # trace once

    def time_vmap_per_example(self, sizes):
        self.per_example(*self.params_, self.x, self.y)

    def time_one_batched_gradient(self, sizes):
        self.batched(*self.params_, self.x, self.y)


class Hessians:
    """tg.hessian of the issue's 100-dimensional sin/matvec function and of the
    300-dimensional Rosenbrock function; tg.jacobian of tanh(W x), 64 -> 64."""

    def setup(self):
        rng = np.random.default_rng(0)
        self.A = tg.constant(rng.standard_normal((100, 100)) / 10)
        self.x100 = tg.constant(rng.standard_normal(100))
        self.x300 = tg.constant(rng.standard_normal(300))
        self.W = tg.constant(rng.standard_normal((64, 64)) / 8)
        self.x64 = tg.constant(rng.standard_normal(64))
        self.h100 = tg.hessian(self.f100)
        self.h300 = tg.hessian(self.rosenbrock)
        self.jac = tg.jacobian(self.tanh_layer)
        for _ in range(2):                                  # trace (jacobian: 2nd call)
            self.h100(self.x100), self.h300(self.x300), self.jac(self.x64)

    def f100(self, v):
        return tg.reduce_sum(tg.sin(v) * (self.A @ v)) + tg.reduce_sum(v ** 4)

    @staticmethod
    def rosenbrock(v):
        a, b = v[:-1], v[1:]
        return tg.reduce_sum(100.0 * (b - a ** 2) ** 2 + (1.0 - a) ** 2)

    def tanh_layer(self, v):
        return tg.tanh(self.W @ v)

    def time_hessian_100(self):
        self.h100(self.x100)

    def time_hessian_rosenbrock_300(self):
        self.h300(self.x300)

    def time_jacobian_64(self):
        self.jac(self.x64)
