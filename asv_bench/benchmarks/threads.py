"""Issue 25: the kernels tapegrad's intra-op thread pool parallelizes, at 1 and 2 threads.

``threads`` sets ``tg.config.threading.set_intra_op_parallelism_threads`` in ``setup``
(``set_intra_op_threads``): on a tapegrad without the pool only ``threads=1`` runs, the
others are skipped.  Sizes are bench/compare.py's issue-25 rows: 10^7 float32 for the
elementwise kernels and the sum, softmax over 1000x10000, the MNIST CNN step (Adam, batch
64) and the MLP step (784-128-10, SGD, batch 32); the two steps also have ``peakmem_``.
"""

import numpy as np

import tapegrad as tg

from . import THREADS, restore_intra_op_threads, seed_all, set_intra_op_threads
from .layers import _batch, cnn, mlp, train_step

BIG = 10**7

KERNELS = {
    "exp": lambda a, b: tg.exp(a),
    "tanh": lambda a, b: tg.tanh(a),
    "add": lambda a, b: tg.add(a, b),
    "reduce_sum": lambda a, b: tg.reduce_sum(a),
}


class _Threaded:
    """Sets the thread count in ``setup`` (before ``_setup``), restores it in teardown."""

    def setup(self, *params):
        self._previous = set_intra_op_threads(params[-1])
        self._setup(*params)

    def teardown(self, *params):
        restore_intra_op_threads(self._previous)


class Kernel(_Threaded):
    """exp, tanh, add (two tensors), reduce_sum (to a scalar) on 10^7 float32, no tape."""

    params = [sorted(KERNELS), THREADS]
    param_names = ["op", "threads"]

    def _setup(self, op, threads):
        rng = seed_all()
        self.a = tg.constant(rng.uniform(-1, 1, BIG).astype(np.float32))
        self.b = tg.constant(rng.uniform(-1, 1, BIG).astype(np.float32))
        self.fn = KERNELS[op]
        self.fn(self.a, self.b)

    def time_kernel(self, op, threads):
        self.fn(self.a, self.b)


class Softmax(_Threaded):
    """``tg.nn.softmax`` over the last axis of 1000x10000 float32 and its gradient with a
    fixed upstream cotangent."""

    params = [THREADS]
    param_names = ["threads"]

    def _setup(self, threads):
        rng = seed_all()
        self.x = tg.constant(rng.standard_normal((1000, 10000), dtype=np.float32))
        self.w = tg.constant(rng.random((1000, 10000), dtype=np.float32))
        self.time_forward_backward(threads)

    def time_forward(self, threads):
        tg.nn.softmax(self.x)

    def time_forward_backward(self, threads):
        with tg.GradientTape() as tape:
            tape.watch(self.x)
            y = tg.nn.softmax(self.x)
        tape.gradient(y, self.x, output_gradients=self.w)


class CNNStep(_Threaded):
    """The guide's MNIST CNN, one Adam step on a batch of 64 (layers.CNNStep's "mnist")."""

    params = [THREADS]
    param_names = ["threads"]
    timeout = 300

    def _setup(self, threads):
        rng = seed_all()
        self.model = cnn("mnist")
        self.optimizer = tg.optimizers.Adam(1e-3)
        self.x, self.y = _batch(rng, (64, 28, 28, 1), np.float32)
        train_step(self.model, self.optimizer, self.x, self.y)

    def time_adam_step(self, threads):
        train_step(self.model, self.optimizer, self.x, self.y)

    def peakmem_adam_step(self, threads):
        train_step(self.model, self.optimizer, self.x, self.y)


class MLPStep(_Threaded):
    """MLP 784-128-10, one SGD step on a batch of 32 float32 (layers.MLPStep's smallest)."""

    params = [THREADS]
    param_names = ["threads"]

    def _setup(self, threads):
        rng = seed_all()
        self.model = mlp("float32")
        self.optimizer = tg.optimizers.SGD(0.01)
        self.x, self.y = _batch(rng, (32, 784), "float32")
        train_step(self.model, self.optimizer, self.x, self.y)

    def time_sgd_step(self, threads):
        train_step(self.model, self.optimizer, self.x, self.y)

    def peakmem_sgd_step(self, threads):
        train_step(self.model, self.optimizer, self.x, self.y)
