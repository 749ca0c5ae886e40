"""Tensor fusion: many gradients reduced in a few large non-blocking allreduces.

A training step's gradients are many small tensors; one MPI call each would pay the
per-message latency (alpha) many times.  Horovod's answer, used here: pack them into
buckets of up to ``threshold`` bytes (``TAPEGRAD_FUSION_THRESHOLD``, default 64 MiB,
Horovod's default) and reduce each bucket with one ``Iallreduce``.

Buckets follow the sources in reverse order, the order a backward pass finishes
them (last layer first), and a bucket is launched as soon as all of its gradients
are final, while the backward pass goes on (``GradientTape``'s ``on_ready`` hook);
buckets are launched in the same order on every rank, as MPI requires of
non-blocking collectives.  Each bucket carries one extra element per gradient, 1
where this rank has a gradient and 0 where it has None, so a source is None on
output only when it is None on every rank, and ranks that disagree about None-ness
still take the same number of collectives.
"""

import os
import zlib

import numpy as np

from tapegrad import _core
from tapegrad.distribute import _mpi
from tapegrad.distribute.collectives import check_same

DEFAULT_THRESHOLD = 64 * 1024 * 1024


def threshold():
    raw = os.environ.get("TAPEGRAD_FUSION_THRESHOLD")
    if raw is None:
        return DEFAULT_THRESHOLD
    try:
        value = int(raw)
    except ValueError:
        raise ValueError("TAPEGRAD_FUSION_THRESHOLD must be a number of bytes, got %r"
                         % raw) from None
    return max(value, 0)


def _wire_dtype(dtype):
    return np.dtype(np.float32) if dtype == np.float16 else np.dtype(dtype)


class Plan:
    """Which sources go in which bucket: fixed by the sources' shapes and dtypes."""

    def __init__(self, shapes, dtypes, limit):
        self.shapes = shapes
        self.dtypes = dtypes
        self.buckets = []           # lists of source indices, in launch order
        self.bucket_of = {}
        current, size, kind = [], 0, None
        for i in reversed(range(len(shapes))):
            if dtypes[i].kind not in "fc":
                continue            # integer sources have no gradient
            nbytes = int(np.prod(shapes[i], dtype=np.int64)) * _wire_dtype(dtypes[i]).itemsize
            wire = _wire_dtype(dtypes[i])
            if current and (wire != kind or size + nbytes > limit):
                self.buckets.append(current)
                current, size = [], 0
            current.append(i)
            size += nbytes
            kind = wire
        if current:
            self.buckets.append(current)
        for b, members in enumerate(self.buckets):
            for i in members:
                self.bucket_of[i] = b
        self.signature = zlib.crc32(repr((limit, [(d.name, s) for s, d in
                                              zip(shapes, dtypes)])).encode())


class Reducer:
    """One fused reduction of a list of gradients; feed it with ``ready(i, g)``."""

    def __init__(self, plan, average=True, what="gradient allreduce"):
        self.plan = plan
        self.average = average
        self.what = what
        self.grads = [None] * len(plan.shapes)
        self.have = [False] * len(plan.shapes)
        self.waiting = [len(m) for m in plan.buckets]
        self.launched = 0
        self.pending = []           # (bucket index, request, send buffer, receive buffer)
        self.comm = _mpi.comm()
        # the same plan on every rank, or a clear error on all of them (cheap: one
        # 2-integer allgather per call)
        check_same(what, np.array([len(plan.shapes), plan.signature], dtype=np.int64), 9)

    def ready(self, i, g):
        """Gradient ``g`` of source ``i`` is final; launch whatever buckets are full."""
        if self.have[i]:
            return
        self.have[i] = True
        self.grads[i] = g
        b = self.plan.bucket_of.get(i)
        if b is None:
            return
        self.waiting[b] -= 1
        self._launch_ready()
        if self.pending:
            # MPI progresses non-blocking collectives only inside MPI calls
            _mpi.mpi().Request.Testall([p[1] for p in self.pending])

    def _launch_ready(self):
        while self.launched < len(self.plan.buckets) and self.waiting[self.launched] == 0:
            self._launch(self.launched)
            self.launched += 1

    def _launch(self, b):
        members = self.plan.buckets[b]
        wire = _wire_dtype(self.plan.dtypes[members[0]])
        sizes = [int(np.prod(self.plan.shapes[i], dtype=np.int64)) for i in members]
        buf = np.zeros(sum(sizes) + len(members), dtype=wire)
        pos = 0
        for k, i in enumerate(members):
            g = self.grads[i]
            if g is not None:
                buf[pos:pos + sizes[k]] = _host(g).ravel()
                buf[sum(sizes) + k] = 1
            pos += sizes[k]
        out = np.empty_like(buf)
        req = self.comm.Iallreduce(buf, out, op=_mpi.mpi().SUM)
        self.pending.append((b, req, buf, out))

    def finish(self, final):
        """Give every source its final gradient (``final``: the tape's results), wait,
        and return the reduced gradients (None where no rank had one)."""
        for i, g in enumerate(final):
            if not self.have[i]:
                self.ready(i, g)
        self._launch_ready()
        _mpi.wait([p[1] for p in self.pending], self.what)
        n = self.comm.Get_size()
        out = [None] * len(final)
        for b, _, _, recv in self.pending:
            members = self.plan.buckets[b]
            sizes = [int(np.prod(self.plan.shapes[i], dtype=np.int64)) for i in members]
            total = sum(sizes)
            pos = 0
            for k, i in enumerate(members):
                if recv[total + k] > 0:
                    part = recv[pos:pos + sizes[k]]
                    if self.average:
                        part = part / n
                    arr = part.astype(self.plan.dtypes[i], copy=False).reshape(
                        self.plan.shapes[i])
                    out[i] = _like(final[i] if final[i] is not None else None, arr)
                pos += sizes[k]
        return out


def _host(g):
    if isinstance(g, _core.Tensor):
        return g._data if g.device == "/cpu:0" else np.asarray(g.numpy())
    return np.asarray(g)


def _like(g, arr):
    t = _core.wrap(np.require(arr, requirements="C"))  # 0-d stays 0-d
    if g is not None and isinstance(g, _core.Tensor) and g.device != "/cpu:0":
        return t.to(g.device)
    return t
