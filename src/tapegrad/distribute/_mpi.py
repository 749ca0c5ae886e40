"""The MPI session: lazy mpi4py import, init, rank/size, the abort-on-error hook, waits.

mpi4py is an optional extra (``pip install tapegrad[mpi]``): nothing here imports it
before ``init()``, so ``import tapegrad`` (and even ``import tapegrad.distribute``)
never loads MPI.

Failure model (issue: a hang is the worst outcome of a distributed job):
- an uncaught exception on any rank prints that rank's traceback and aborts the
  whole job (``MPI_Abort``), so the other ranks do not wait forever in a collective;
- every wait on a collective polls with a deadline (``TAPEGRAD_MPI_TIMEOUT`` seconds,
  default 600; 0 disables it): a rank that died or never reached the collective is
  noticed by the others, which raise ``DistributedTimeoutError`` and so abort.
"""

import os
import sys
import time
import traceback

_state = {"comm": None, "local": None, "MPI": None, "hook": None}


class DistributedError(RuntimeError):
    """A collective could not run as called (mismatched shapes/dtypes across ranks...)."""


class DistributedTimeoutError(DistributedError):
    """A collective did not complete within the timeout: a rank died or diverged."""


def _import_mpi():
    try:
        from mpi4py import MPI
    except ImportError as e:
        raise ImportError(
            "tapegrad.distribute needs mpi4py and an MPI library: "
            "pip install 'tapegrad[mpi]' (mpi4py and the mpich wheel), or mpi4py built "
            "against your cluster's MPI (%s)" % e) from None
    return MPI


def init(comm=None):
    """Start (or join) the MPI job; safe to call more than once.

    ``comm``: an ``mpi4py`` communicator to use instead of ``COMM_WORLD`` (a subset
    of the processes).  Installs the abort-on-exception hook.
    """
    MPI = _import_mpi()
    if _state["comm"] is not None and comm is None:
        return
    _state["MPI"] = MPI
    comm = MPI.COMM_WORLD if comm is None else comm
    # a private duplicate, so tapegrad's collectives never match a user's own messages
    _state["comm"] = comm.Dup()
    _state["local"] = _state["comm"].Split_type(MPI.COMM_TYPE_SHARED, key=comm.Get_rank())
    if _state["hook"] is None:
        _state["hook"] = sys.excepthook
        sys.excepthook = _abort_on_exception


def shutdown():
    """Release tapegrad's communicators (MPI itself is finalized by mpi4py at exit)."""
    for key in ("local", "comm"):
        c = _state[key]
        if c is not None:
            c.Free()
            _state[key] = None
    if _state["hook"] is not None:
        sys.excepthook = _state["hook"]
        _state["hook"] = None


def is_initialized():
    return _state["comm"] is not None


def comm():
    c = _state["comm"]
    if c is None:
        raise ValueError("tapegrad.distribute has not been initialized; call "
                         "tapegrad.distribute.init() first")
    return c


def mpi():
    comm()
    return _state["MPI"]


def rank():
    """This process's index in the job, 0..size()-1."""
    return comm().Get_rank()


def size():
    """The number of processes in the job."""
    return comm().Get_size()


def local_rank():
    """This process's index among the processes on its machine."""
    comm()
    return _state["local"].Get_rank()


def local_size():
    """The number of processes on this machine."""
    comm()
    return _state["local"].Get_size()


_ABORT_GRACE = 0.5        # seconds between the traceback and MPI_Abort


def _abort_on_exception(etype, value, tb):
    # Print this rank's traceback, then take the whole job down: the other ranks are
    # probably blocked in a collective this rank will never join.
    r = _state["comm"].Get_rank() if _state["comm"] is not None else "?"
    text = "".join(traceback.format_exception(etype, value, tb))
    sys.stderr.write("".join("[rank %s] %s\n" % (r, line) for line in text.splitlines()))
    sys.stderr.write("[rank %s] tapegrad.distribute: aborting the MPI job after an uncaught "
                     "%s on this rank\n" % (r, etype.__name__))
    sys.stderr.flush()
    if etype is KeyboardInterrupt or _state["MPI"] is None:
        (_state["hook"] or sys.__excepthook__)(etype, value, tb)
    # The launcher forwards this rank's stderr through a pipe; Abort tears the job down
    # at once, and the traceback just written was sometimes lost with it (mpiexec
    # returned 1 with empty output).  A moment for the forwarding costs nothing here.
    time.sleep(_ABORT_GRACE)
    _state["MPI"].COMM_WORLD.Abort(1)


def timeout():
    try:
        return float(os.environ.get("TAPEGRAD_MPI_TIMEOUT", "600"))
    except ValueError:
        return 600.0


def wait(requests, what):
    """Wait for non-blocking requests, raising after the timeout instead of hanging."""
    MPI = _state["MPI"]
    limit = timeout()
    if limit <= 0:
        MPI.Request.Waitall(requests)
        return
    start = time.monotonic()
    deadline = start + limit
    spin_until = start + 0.05
    test = MPI.Request.Testall
    # Spin first: a collective on a few MiB ends within milliseconds, and a sleep
    # (tens of microseconds at best) would dominate it.  Past 50 ms, back off to 1 ms
    # naps so a long wait does not burn the core the other ranks need.
    while not test(requests):
        now = time.monotonic()
        if now > deadline:
            raise DistributedTimeoutError(
                "%s: not all %d ranks joined within %g s (TAPEGRAD_MPI_TIMEOUT); a rank "
                "died, raised, or took a different code path" % (what, size(), limit))
        if now > spin_until:
            time.sleep(0.001)
