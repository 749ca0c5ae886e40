"""Keras-style callbacks for ``Model.fit`` under MPI (Horovod's two essentials)."""

import numpy as np

from tapegrad.callbacks import Callback as _Base
from tapegrad.distribute import _mpi
from tapegrad.distribute.collectives import Average, allreduce_array, broadcast_variables


class BroadcastGlobalVariablesCallback(_Base):
    """Make every rank start from rank ``root_rank``'s weights.

    Broadcasts the model's variables when training begins and the optimizer's
    variables (its slots exist only after the first update) after the first batch.
    """

    def __init__(self, root_rank=0):
        super().__init__()
        self.root_rank = root_rank
        self._done_optimizer = False

    def on_train_begin(self, logs=None):
        broadcast_variables(self.model.variables, self.root_rank)

    def on_train_batch_end(self, batch, logs=None):
        if self._done_optimizer:
            return
        self._done_optimizer = True
        optimizer = getattr(self.model, "optimizer", None)
        if optimizer is not None and hasattr(optimizer, "variables"):
            variables = optimizer.variables
            variables = variables() if callable(variables) else variables
            broadcast_variables(list(variables), self.root_rank)

    on_batch_end = on_train_batch_end


class MetricAverageCallback(_Base):
    """Average the epoch's logged metrics over all ranks (each rank saw its shard)."""

    def on_epoch_end(self, epoch, logs=None):
        if not logs:
            return
        names = sorted(k for k, v in logs.items() if np.ndim(v) == 0 and np.isreal(v))
        values = np.array([float(logs[k]) for k in names], dtype=np.float64)
        averaged = allreduce_array(values, Average, "MetricAverageCallback")
        for k, v in zip(names, averaged):
            logs[k] = float(v)

    def __repr__(self):
        return "<MetricAverageCallback over %d ranks>" % _mpi.size()
