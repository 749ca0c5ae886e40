"""tg.data input pipelines: one epoch over an MNIST-sized array (60000 x 784 float32)."""

import numpy as np

import tapegrad as tg

from . import seed_all

N_EXAMPLES = 60_000
FEATURES = 784


class Epoch:
    """Iterate a whole epoch of ``from_tensor_slices(...)[.shuffle(60000)].batch(b)``."""

    params = [[32, 256]]
    param_names = ["batch"]
    timeout = 300

    def setup(self, batch):
        rng = seed_all()
        images = rng.random((N_EXAMPLES, FEATURES), dtype=np.float32)
        labels = rng.integers(0, 10, N_EXAMPLES).astype(np.int32)
        self.slices = tg.data.Dataset.from_tensor_slices((images, labels))
        self.shuffled = self.slices.shuffle(N_EXAMPLES, seed=0).batch(batch)
        self.ordered = self.slices.batch(batch)

    def time_shuffle_batch_epoch(self, batch):
        for _ in self.shuffled:
            pass

    def time_batch_epoch(self, batch):
        for _ in self.ordered:
            pass

    def time_shuffle_batch_prefetch_epoch(self, batch):
        for _ in self.shuffled.prefetch(2):
            pass

    def peakmem_shuffle_batch_epoch(self, batch):
        for _ in self.shuffled:
            pass
