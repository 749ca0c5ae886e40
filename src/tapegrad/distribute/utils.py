"""Rank-aware helpers: data sharding, rank-0-only checkpoints and summaries."""

import functools

from tapegrad.distribute import _mpi
from tapegrad.distribute.collectives import barrier, broadcast_object


def is_chief():
    """True on rank 0, the rank that writes checkpoints and summaries."""
    return _mpi.rank() == 0


def rank_zero_only(fn):
    """Decorator: run ``fn`` on rank 0 only (returns None elsewhere)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        if _mpi.rank() == 0:
            return fn(*args, **kwargs)
        return None

    return wrapper


def shard(dataset):
    """``dataset.shard(size(), rank())``: each rank reads every size()-th element.

    Shard before shuffling and batching, with the same shuffle seed on every rank,
    so the ranks see disjoint data in a reproducible order (TF's advice for shard).
    """
    return dataset.shard(_mpi.size(), _mpi.rank())


def save_checkpoint(checkpoint, file_prefix):
    """Save ``checkpoint`` on rank 0 only; every rank returns the saved path.

    The replicas are identical, so one copy is enough, and several processes writing
    the same files would race.  Ends with a barrier, so a restore on any rank after
    this call sees the file.
    """
    path = checkpoint.save(file_prefix) if _mpi.rank() == 0 else None
    path = broadcast_object(path, 0)
    barrier()
    return path


def manager_save(manager, checkpoint_number=None):
    """``CheckpointManager.save`` on rank 0 only; every rank returns the path."""
    path = manager.save(checkpoint_number) if _mpi.rank() == 0 else None
    path = broadcast_object(path, 0)
    barrier()
    return path


def create_file_writer(logdir, **kwargs):
    """A summary writer on rank 0, and one that writes nothing on the other ranks."""
    from tapegrad import summary

    if _mpi.rank() == 0:
        return summary.create_file_writer(logdir, **kwargs)
    return _NullWriter(logdir)


class _NullWriter:
    """The non-chief ranks' writer: same context API, records nothing."""

    def __init__(self, logdir):
        self.logdir = logdir
        self.closed = False

    def as_default(self):
        from tapegrad import summary

        return summary.record_if(False)

    def set_as_default(self):
        pass

    def init(self):
        pass

    def flush(self):
        pass

    def close(self):
        self.closed = True

    def __repr__(self):
        return "<NullWriter %r (rank %d does not write summaries)>" % (self.logdir, _mpi.rank())
