"""The internal protocol every pipeline stage implements.

A stage (a ``Node``) produces its elements in one of two shapes, whichever is natural:

* ``elements()``: flat tuples of arrays, one per element;
* ``chunks()``: flat tuples of arrays sharing a leading dimension ``k`` (``k`` elements
  stacked), so that slicing, batching, zipping and enumerating run as whole-array NumPy
  operations instead of per-element Python.

Each node overrides at least one of the two; the base class derives the other.

Stages whose elements are ``gather(i)`` of immutable arrays for a stream of indices ``i``
(slices of tensors, ranges, and shuffles / repeats / takes / skips / caches of those)
also expose an ``IndexPlan``: the index stream and the gather. Batching a planned stage
gathers a whole batch of indices with one ``np.take`` per component, and shuffling it
shuffles int64 indices, never rows of data.
"""

import numpy as np

from .structure import TensorSpec

INFINITE = -1
UNKNOWN = -2

_CHUNK_BYTES = 1 << 20
_MAX_CHUNK_ROWS = 8192


class IndexPlan:
    """``stream()`` starts one pass and yields int64 index blocks; ``gather(idx)`` returns
    the chunk of elements at those indices."""

    __slots__ = ("stream", "gather", "row_bytes")

    def __init__(self, stream, gather, row_bytes):
        self.stream = stream
        self.gather = gather
        self.row_bytes = row_bytes

    def with_stream(self, stream):
        return IndexPlan(stream, self.gather, self.row_bytes)


def chunk_rows(row_bytes):
    """Rows per chunk when a planned stage is read chunk by chunk: ~1 MiB per chunk."""
    return int(max(1, min(_MAX_CHUNK_ROWS, _CHUNK_BYTES // max(1, row_bytes))))


def reblock(blocks, size, drop_remainder=False):
    """Regroup a stream of 1-D index arrays into arrays of exactly ``size`` (the last one
    shorter unless ``drop_remainder``)."""
    pending = []
    have = 0
    for block in blocks:
        if len(block) == 0:
            continue
        pending.append(block)
        have += len(block)
        if have < size:
            continue
        joined = pending[0] if len(pending) == 1 else np.concatenate(pending)
        full = (have // size) * size
        for start in range(0, full, size):
            yield joined[start:start + size]
        rest = joined[full:]
        pending = [rest] if len(rest) else []
        have = len(rest)
    if have and not drop_remainder:
        yield pending[0] if len(pending) == 1 else np.concatenate(pending)


def chunk_len(chunk):
    return chunk[0].shape[0]


def rows(chunk):
    """The elements of a chunk, as views (``a[i, ...]`` keeps 0-d arrays as arrays)."""
    n = chunk_len(chunk)
    if len(chunk) == 1:
        a = chunk[0]
        for i in range(n):
            yield (a[i, ...],)
    else:
        for i in range(n):
            yield tuple(a[i, ...] for a in chunk)


def as_chunk(element):
    return tuple(a[None] for a in element)


def slice_chunk(chunk, start, stop=None):
    return tuple(a[start:stop] for a in chunk)


def specs_of(element):
    return [TensorSpec(a.shape, a.dtype) for a in element]


def relax_specs(specs, other):
    """The most specific specs both ``specs`` and ``other`` satisfy (unknown dims -> None)."""
    out = []
    for a, b in zip(specs, other):
        if a.dtype != b.dtype:
            raise TypeError(f"incompatible component dtypes {a.dtype} and {b.dtype}")
        if a.shape is None or b.shape is None or len(a.shape) != len(b.shape):
            shape = None
        else:
            shape = tuple(x if x == y else None for x, y in zip(a.shape, b.shape))
        out.append(TensorSpec(shape, a.dtype))
    return out


class Node:
    """Base of every pipeline stage. Subclasses set ``self.template`` (or override the
    property), override ``elements`` and/or ``chunks``, and may provide ``plan``."""

    template = None

    def elements(self):
        for chunk in self.chunks():
            yield from rows(chunk)

    def chunks(self):
        plan = self.plan()
        if plan is not None:
            step = chunk_rows(plan.row_bytes)
            for idx in reblock(plan.stream(), step):
                yield plan.gather(idx)
            return
        for element in self.elements():
            yield as_chunk(element)

    def plan(self):
        return None

    def cardinality(self):
        return UNKNOWN

    def specs(self):
        """Flat list of TensorSpec for the components. Stages that cannot know them
        statically (a map's function output) observe the first element of a fresh pass."""
        elements = self.elements()
        try:
            first = next(elements, None)
        finally:
            elements.close()
        if first is None:
            raise ValueError("element_spec: the dataset is empty, so the structure of its "
                             "elements cannot be observed")
        return specs_of(first)


class Unary(Node):
    """A stage with one input whose structure and specs it keeps."""

    def __init__(self, child):
        self.child = child

    @property
    def template(self):
        return self.child.template

    def specs(self):
        return self.child.specs()
