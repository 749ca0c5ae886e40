"""Collectives on tensors: allreduce, allgather, broadcast, and object variants.

Each tensor collective runs on the host arrays with mpi4py's buffer interface (no
pickling) and, when a tape records its input, is differentiable through
``custom_gradient`` whose gradient functions are themselves collectives, so second
and higher orders work across ranks:

- allreduce-sum/average: the VJP is the same allreduce of the cotangent (every rank's
  input reaches every rank's output);
- allreduce-min/max: the summed cotangent goes to the ranks that hold the extremum,
  split equally among ties (as tapegrad's reduce_max does within a tensor);
- allgather: the summed cotangent, sliced back to this rank's rows;
- broadcast: the summed cotangent on the root, zero elsewhere.

Every backward pass therefore runs the same collectives on all ranks, in the same
order, as MPI requires.

Before each collective the ranks exchange a fixed-size description of their operand
(dtype, rank, shape, operation) in one small allgather, so a mismatch raises the same
clear ``DistributedError`` on every rank, naming the ranks, instead of corrupting
memory or hanging.
"""

import zlib

import numpy as np

from tapegrad import _core
from tapegrad.autodiff.custom import custom_gradient
from tapegrad.distribute import _mpi
from tapegrad.distribute._mpi import DistributedError


class ReduceOp:
    """How ``allreduce`` combines the ranks' tensors (Horovod's names)."""

    __slots__ = ("name", "code")

    def __init__(self, name, code):
        self.name = name
        self.code = code

    def __repr__(self):
        return "tapegrad.distribute.%s" % self.name


Average = ReduceOp("Average", 1)
Sum = ReduceOp("Sum", 2)
Min = ReduceOp("Min", 3)
Max = ReduceOp("Max", 4)
_OPS = {op.name.lower(): op for op in (Average, Sum, Min, Max)}

_META = 12          # dtype, ndim, op, dim0, shape[1:8], hash of any further dims


def _op(op, where):
    if isinstance(op, ReduceOp):
        return op
    if isinstance(op, str) and op.lower() in _OPS:
        return _OPS[op.lower()]
    raise ValueError("%s: op must be tapegrad.distribute.Average, Sum, Min or Max, got %r"
                     % (where, op))


_TYPENAMES = {np.dtype(t).num: np.dtype(t).name for t in (
    np.float16, np.float32, np.float64, np.complex64, np.complex128, np.int8, np.int16,
    np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64, np.bool_)}


def _describe(row):
    nd = int(row[1])
    dims = ([int(row[3])] + [int(d) for d in row[4:4 + min(nd - 1, 7)]]) if nd else []
    shape = tuple(dims) if nd <= 8 else "rank-%d" % nd
    return "%s %s" % (_TYPENAMES.get(int(row[0]), "dtype#%d" % row[0]), shape)


def _crc(value):
    # crc32 of the repr, not hash(): str hashes are salted per process
    return zlib.crc32(repr(value).encode())


def check_same(what, arr, op_code=0, vary_dim0=False):
    """Allgather a description of ``arr``; raise on every rank if the ranks disagree.

    Returns the per-rank first dimensions (allgather sizes its output from them).
    One 96-byte allgather: the price of a clear error instead of a hang or a
    corrupted buffer when ranks diverge.
    """
    comm = _mpi.comm()
    shape = arr.shape
    nd = len(shape)
    meta = [arr.dtype.num, nd, op_code, shape[0] if nd else -1]
    meta += list(shape[1:8]) + [-1] * (7 - len(shape[1:8]))
    meta.append(_crc(tuple(shape[8:])) if nd > 8 else -1)
    meta = np.array(meta, dtype=np.int64)
    table = np.empty((comm.Get_size(), _META), dtype=np.int64)
    # non-blocking with the collective timeout: a rank that never arrives is noticed
    # here, and once every rank has arrived the data collective itself can block
    _mpi.wait([comm.Iallgather(meta, table)], what)
    if vary_dim0:
        same = (table[:, :3] == meta[:3]).all() and (table[:, 4:] == meta[4:]).all()
    else:
        same = (table == meta).all()
    if not same:
        _mismatch(what, table, vary_dim0)
    return table[:, 3].tolist() if nd else [1] * table.shape[0]


def _mismatch(what, table, vary_dim0):
    cols = [c for c in range(_META) if not (vary_dim0 and c == 3)]
    groups = {}
    for r in range(table.shape[0]):
        groups.setdefault(tuple(table[r, cols]), []).append(r)
    parts = ["ranks %s have %s" % (ranks, _describe(table[ranks[0]]))
             for ranks in groups.values()]
    extra = " (different operations)" if np.any(table[:, 2] != table[0, 2]) else ""
    raise DistributedError("%s: the ranks called it with different tensors%s: %s"
                           % (what, extra, "; ".join(parts)))


def _host(x, what):
    """A C-contiguous, native-byte-order host array of a tensor/variable/array."""
    if isinstance(x, _core.BaseVariable):
        x = x.read_value()
    if not isinstance(x, _core.Tensor):
        x = _core.convert(x, None, what)
    arr = np.asarray(x.numpy()) if x.device != "/cpu:0" else x._data
    if arr.dtype.kind not in "fciub":
        raise TypeError("%s: unsupported dtype %s" % (what, arr.dtype))
    if not arr.dtype.isnative:
        arr = arr.astype(arr.dtype.newbyteorder("="))
    # np.require keeps a 0-d array 0-d (ascontiguousarray would make it 1-d)
    return x, np.require(arr, requirements="C")


def _mpi_op(op):
    MPI = _mpi.mpi()
    return {1: MPI.SUM, 2: MPI.SUM, 3: MPI.MIN, 4: MPI.MAX}[op.code]


def _wire(arr):
    # MPI has no half-precision type in the standard: reduce float16 in float32
    return arr.astype(np.float32) if arr.dtype == np.float16 else arr


def allreduce_array(arr, op, what="allreduce", check=True):
    """The collective on a host array (no tape); returns a new array."""
    if check:
        check_same(what, arr, op.code)
    if arr.dtype == np.bool_ and op.code in (1, 2):
        raise TypeError("%s: cannot %s a bool tensor" % (what, op.name.lower()))
    if arr.dtype.kind == "c" and op.code in (3, 4):
        raise TypeError("%s: %s is not defined for complex tensors" % (what, op.name))
    if op is Average and arr.dtype.kind not in "fc":
        raise TypeError("%s: Average needs a floating-point tensor, got %s; use Sum"
                        % (what, arr.dtype))
    src = _wire(arr)
    out = np.empty_like(src)
    if check:
        # every rank is here (the description exchange above): MPI's blocking
        # allreduce, whose algorithms beat the non-blocking ones on mid-size buffers
        _mpi.comm().Allreduce(src, out, op=_mpi_op(op))
    else:
        _mpi.wait([_mpi.comm().Iallreduce(src, out, op=_mpi_op(op))], what)
    if op is Average:
        out /= _mpi.comm().Get_size()
    return out.astype(arr.dtype, copy=False)


def _recording():
    return bool(_core._active_tapes())


def _wrap_like(x, arr):
    t = _core.wrap(arr)
    return t if x.device == "/cpu:0" else t.to(x.device)


def allreduce(tensor, op=Average, name=None):
    """Combine ``tensor`` over all ranks (``op``: Average, Sum, Min or Max).

    Every rank must call it with the same shape and dtype; the result is the same on
    every rank.  Differentiable (see the module docstring).
    """
    what = "allreduce" if name is None else "allreduce(%s)" % name
    op = _op(op, what)
    x, arr = _host(tensor, what)
    if not (_recording() and arr.dtype.kind in "fc"):
        return _wrap_like(x, allreduce_array(arr, op, what))
    return _allreduce_diff(x, op, what)


def _allreduce_diff(x, op, what):
    @custom_gradient
    def _allreduce(x):
        y = _wrap_like(x, allreduce_array(_host(x, what)[1], op, what))

        def grad(dy):
            total = allreduce(dy, Average if op is Average else Sum, name="gradient")
            if op in (Average, Sum):
                return total
            from tapegrad import ops

            hit = ops.elementwise.cast(ops.elementwise.equal(x, y), total.dtype)
            ties = allreduce(hit, Sum, name="gradient ties")
            return ops.elementwise.multiply(total, ops.elementwise.divide(hit, ties))

        return y, grad

    return _allreduce(x)


def allgather(tensor, name=None):
    """Concatenate every rank's ``tensor`` along the first axis (rank order).

    The first dimension may differ between ranks; the others and the dtype must not.
    Differentiable: each rank gets back the summed cotangent of its own rows.
    """
    what = "allgather" if name is None else "allgather(%s)" % name
    x, arr = _host(tensor, what)
    if arr.ndim == 0:
        raise ValueError("%s: needs a tensor of rank >= 1 to concatenate, got a scalar" % what)
    counts = check_same(what, arr, 5, vary_dim0=True)
    out = _allgather_array(arr, counts, what)
    if not (_recording() and arr.dtype.kind in "fc"):
        return _wrap_like(x, out)
    me = _mpi.comm().Get_rank()
    start = sum(counts[:me])
    stop = start + counts[me]

    @custom_gradient
    def _allgather(x):
        def grad(dy):
            total = allreduce(dy, Sum, name="gradient")
            return total[start:stop]

        return _wrap_like(x, out), grad

    return _allgather(x)


def _allgather_array(arr, counts, what):
    comm = _mpi.comm()
    src = _wire(arr)
    row = int(np.prod(src.shape[1:], dtype=np.int64))
    out = np.empty((sum(counts),) + src.shape[1:], dtype=src.dtype)
    sizes = [c * row for c in counts]
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64).tolist()
    req = comm.Iallgatherv(src, [out, sizes, offsets, _mpi.mpi()._typedict[src.dtype.char]])
    _mpi.wait([req], what)
    return out.astype(arr.dtype, copy=False)


def _check_root(root_rank, what):
    n = _mpi.comm().Get_size()
    if isinstance(root_rank, bool) or not isinstance(root_rank, (int, np.integer)) or not (
            0 <= root_rank < n):
        raise ValueError("%s: root_rank must be an int in [0, %d), got %r"
                         % (what, n, root_rank))
    return int(root_rank)


def broadcast_array(arr, root_rank, what="broadcast", check=True):
    if check:
        check_same(what, arr, 6)
    buf = _wire(arr).copy()
    req = _mpi.comm().Ibcast(buf, root=root_rank)
    _mpi.wait([req], what)
    return buf.astype(arr.dtype, copy=False)


def broadcast(tensor, root_rank=0, name=None):
    """``tensor`` of rank ``root_rank``, on every rank.  Differentiable: the root gets
    the cotangents of all ranks summed, the other ranks zero."""
    what = "broadcast" if name is None else "broadcast(%s)" % name
    root = _check_root(root_rank, what)
    x, arr = _host(tensor, what)
    out = broadcast_array(arr, root, what)
    if not (_recording() and arr.dtype.kind in "fc"):
        return _wrap_like(x, out)
    on_root = _mpi.comm().Get_rank() == root

    @custom_gradient
    def _broadcast(x):
        def grad(dy):
            total = allreduce(dy, Sum, name="gradient")
            if on_root:
                return total
            from tapegrad.ops.elementwise import zeros_like

            return zeros_like(x)

        return _wrap_like(x, out), grad

    return _broadcast(x)


def broadcast_variables(variables, root_rank=0):
    """Assign rank ``root_rank``'s values to ``variables`` on every rank.

    Call it once after the model's variables exist (and again after an optimizer
    creates its slots, with ``optimizer.variables()``), so every rank starts from the
    same point.  Variables are packed into one buffer per dtype: one broadcast each.
    """
    what = "broadcast_variables"
    root = _check_root(root_rank, what)
    variables = list(variables)
    for v in variables:
        if not isinstance(v, _core.BaseVariable):
            raise TypeError("%s: expected variables, got %s" % (what, type(v).__name__))
    arrays = [_host(v, what)[1] for v in variables]
    # one description of the whole list first, so every rank takes the same path below
    sig = np.array([len(arrays), _crc([(a.dtype.name, a.shape) for a in arrays])],
                   dtype=np.int64)
    check_same("%s (%d variables)" % (what, len(arrays)), sig, 7)
    by_dtype = {}
    for v, a in zip(variables, arrays):
        by_dtype.setdefault(a.dtype.name, []).append((v, a))
    for key in sorted(by_dtype):
        group = by_dtype[key]
        flat = np.concatenate([a.ravel() for _, a in group])
        flat = broadcast_array(flat, root, what, check=False)
        pos = 0
        for v, a in group:
            v.assign(flat[pos:pos + a.size].reshape(a.shape))
            pos += a.size


def broadcast_object(obj, root_rank=0):
    """A picklable Python object of rank ``root_rank``, on every rank."""
    root = _check_root(root_rank, "broadcast_object")
    return _mpi.comm().bcast(obj, root=root)


def allgather_object(obj):
    """The list of every rank's picklable ``obj``, in rank order."""
    return _mpi.comm().allgather(obj)


def barrier():
    """Wait until every rank gets here (with the collective timeout)."""
    req = _mpi.comm().Ibarrier()
    _mpi.wait([req], "barrier")
