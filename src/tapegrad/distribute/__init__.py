"""Data-parallel training on MPI (Horovod's API where it has one).

``pip install 'tapegrad[mpi]'`` brings mpi4py and an MPI library (the mpich wheel,
``mpiexec`` included); on a cluster, mpi4py built against the system's MPI.  Nothing
here imports mpi4py until ``init()``.

    import tapegrad as tg
    import tapegrad.distribute as dist

    dist.init()
    dataset = dist.shard(dataset)                    # each rank reads its part
    dist.broadcast_variables(model.variables, 0)     # same starting point
    with tg.GradientTape() as tape:
        loss = loss_fn(model(x), y)
    tape = dist.DistributedGradientTape(tape)        # averaged, fused, overlapped
    grads = tape.gradient(loss, model.variables)
    optimizer.apply_gradients(zip(grads, model.variables))

Run with ``mpiexec -n 4 python train.py`` or ``python -m tapegrad.distribute.run -n 4
train.py``.  docs/distributed.md has the design and a scaling model.
"""

from tapegrad.distribute._mpi import (
    DistributedError,
    DistributedTimeoutError,
    init,
    is_initialized,
    local_rank,
    local_size,
    rank,
    shutdown,
    size,
)
from tapegrad.distribute.collectives import (
    Average,
    Max,
    Min,
    ReduceOp,
    Sum,
    allgather,
    allgather_object,
    allreduce,
    barrier,
    broadcast,
    broadcast_object,
    broadcast_variables,
)
from tapegrad.distribute.training import DistributedGradientTape, DistributedOptimizer
from tapegrad.distribute.utils import (
    create_file_writer,
    is_chief,
    manager_save,
    rank_zero_only,
    save_checkpoint,
    shard,
)


def __getattr__(name):
    # the callbacks subclass the Keras loop's Callback: import them on first use
    if name in ("BroadcastGlobalVariablesCallback", "MetricAverageCallback"):
        from tapegrad.distribute import callbacks

        return getattr(callbacks, name)
    raise AttributeError("module 'tapegrad.distribute' has no attribute %r" % name)
