"""Pass-through and restructuring stages: take, skip, repeat, cache, shard, enumerate,
zip and concatenate. Each works on whole chunks (and on index blocks when its input has
an index plan), so none of them costs per-element Python on array sources."""

import itertools

import numpy as np

from ._node import (
    INFINITE,
    UNKNOWN,
    Node,
    Unary,
    chunk_len,
    relax_specs,
    slice_chunk,
)
from .structure import LEAF, TensorSpec, freeze, pack, template_known


def _truncate(items, count, length, cut):
    """The first ``count`` elements of a stream of blocks (index arrays or chunks)."""
    if count <= 0:
        return
    for item in items:
        n = length(item)
        if n >= count:
            yield cut(item, 0, count)
            return
        count -= n
        yield item


def _drop(items, count, length, cut):
    for item in items:
        if count <= 0:
            yield item
            continue
        n = length(item)
        if n > count:
            yield cut(item, count, None)
        count -= n


def _cut_index(block, start, stop):
    return block[start:stop]


def _take_elements(source, count):
    # Close the input as soon as enough was taken, so upstream prefetch threads stop now.
    try:
        for _, element in zip(range(count), source):
            yield element
    finally:
        source.close()


class Take(Unary):
    def __init__(self, child, count):
        super().__init__(child)
        self.count = count

    def plan(self):
        plan = self.child.plan()
        if plan is None or self.count < 0:
            return plan
        return plan.with_stream(lambda: _truncate(plan.stream(), self.count, len, _cut_index))

    def elements(self):
        if self.count < 0:
            return self.child.elements()
        if self.child.plan() is not None:
            return super().elements()
        return _take_elements(self.child.elements(), self.count)

    def chunks(self):
        if self.count < 0:
            return self.child.chunks()
        if self.child.plan() is not None:
            return super().chunks()
        return _truncate(self.child.chunks(), self.count, chunk_len, slice_chunk)

    def cardinality(self):
        c = self.child.cardinality()
        if self.count < 0:
            return c
        if c == INFINITE:
            return self.count
        if c == UNKNOWN:
            return UNKNOWN
        return min(c, self.count)


class Skip(Unary):
    def __init__(self, child, count):
        super().__init__(child)
        self.count = count

    def _all(self):
        return self.count < 0

    def plan(self):
        plan = self.child.plan()
        if plan is None:
            return None
        if self._all():
            return plan.with_stream(lambda: _exhaust(iter(())))
        return plan.with_stream(lambda: _drop(plan.stream(), self.count, len, _cut_index))

    def elements(self):
        if self.child.plan() is not None:
            return super().elements()
        if self._all():
            return _exhaust(self.child.elements())
        return _skip_elements(self.child.elements(), self.count)

    def chunks(self):
        if self.child.plan() is not None:
            return super().chunks()
        if self._all():
            return _exhaust(self.child.chunks())
        return _drop(self.child.chunks(), self.count, chunk_len, slice_chunk)

    def cardinality(self):
        c = self.child.cardinality()
        if self._all():
            return 0
        if c < 0:
            return c
        return max(0, c - self.count)


def _skip_elements(source, count):
    for i, element in enumerate(source):
        if i >= count:
            yield element


def _exhaust(iterator):
    # skip(-1) consumes the whole input (so its side effects happen) and yields nothing.
    for _ in iterator:
        pass
    return
    yield


class Repeat(Unary):
    """``repeat(count)``; ``count`` < 0 repeats forever, but a pass that yields nothing
    ends the repetition rather than spinning."""

    def __init__(self, child, count):
        super().__init__(child)
        self.count = count

    def _passes(self, start_pass):
        passes = itertools.count() if self.count < 0 else range(self.count)
        for _ in passes:
            produced = False
            for item in start_pass():
                produced = True
                yield item
            if not produced:
                return

    def plan(self):
        plan = self.child.plan()
        if plan is None:
            return None
        return plan.with_stream(lambda: self._passes(plan.stream))

    def elements(self):
        if self.child.plan() is not None:
            return super().elements()
        return self._passes(self.child.elements)

    def chunks(self):
        if self.child.plan() is not None:
            return super().chunks()
        return self._passes(self.child.chunks)

    def cardinality(self):
        c = self.child.cardinality()
        if c == 0:
            return 0
        if self.count < 0:
            return INFINITE
        if c < 0:
            return c
        return c * self.count


class Cache(Unary):
    """``cache()``: the first complete pass is kept in memory and replayed. Over an index
    plan only the index stream is kept (the gathered arrays are immutable)."""

    def __init__(self, child):
        super().__init__(child)
        self._cached = None

    def _recorded(self, start_pass, freeze_items):
        if self._cached is not None:
            yield from self._cached
            return
        record = []
        for item in start_pass():
            if freeze_items:
                item = tuple(freeze(a) for a in item)
            record.append(item)
            yield item
        self._cached = record

    def plan(self):
        plan = self.child.plan()
        if plan is None:
            return None
        return plan.with_stream(lambda: self._recorded(plan.stream, False))

    def chunks(self):
        if self.child.plan() is not None:
            return super().chunks()
        return self._recorded(self.child.chunks, True)

    def cardinality(self):
        return self.child.cardinality()


class Shard(Unary):
    """``shard(n, i)``: the elements at positions ``i, i + n, i + 2n, ...``."""

    def __init__(self, child, num_shards, index):
        super().__init__(child)
        self.num_shards = num_shards
        self.index = index

    def _select(self, items, length, pick):
        position = 0
        for item in items:
            n = length(item)
            first = (self.index - position) % self.num_shards
            if first < n:
                yield pick(item, np.arange(first, n, self.num_shards))
            position += n

    def plan(self):
        plan = self.child.plan()
        if plan is None:
            return None
        return plan.with_stream(lambda: self._select(plan.stream(), len, lambda b, k: b[k]))

    def chunks(self):
        if self.child.plan() is not None:
            return super().chunks()
        return self._select(self.child.chunks(), chunk_len,
                            lambda c, k: tuple(np.take(a, k, axis=0) for a in c))

    def cardinality(self):
        c = self.child.cardinality()
        if c < 0:
            return c
        return max(0, (c - self.index + self.num_shards - 1) // self.num_shards)


class Enumerate(Unary):
    """``enumerate(start)``: elements become ``(int64 position, element)``."""

    def __init__(self, child, start):
        super().__init__(child)
        self.start = start

    @property
    def template(self):
        return (LEAF, self.child.template)

    def chunks(self):
        position = self.start
        for chunk in self.child.chunks():
            n = chunk_len(chunk)
            yield (np.arange(position, position + n, dtype=np.int64),) + chunk
            position += n

    def elements(self):
        for position, element in enumerate(self.child.elements(), self.start):
            yield (np.array(position, dtype=np.int64),) + element

    def specs(self):
        return [TensorSpec((), np.int64)] + self.child.specs()

    def cardinality(self):
        return self.child.cardinality()


class Zip(Node):
    """``zip``: the i-th elements of every input together; ends with the shortest."""

    def __init__(self, structure, children):
        self.structure = structure
        self.children = children

    @property
    def template(self):
        return pack(self.structure, [c.template for c in self.children])

    def chunks(self):
        streams = [c.chunks() for c in self.children]
        current = [None] * len(streams)
        try:
            while True:
                for j, stream in enumerate(streams):
                    while current[j] is None or chunk_len(current[j]) == 0:
                        current[j] = next(stream, None)
                        if current[j] is None:
                            return
                n = min(chunk_len(c) for c in current)
                out = ()
                for j, c in enumerate(current):
                    out += slice_chunk(c, 0, n)
                    current[j] = slice_chunk(c, n)
                yield out
        finally:
            for stream in streams:
                stream.close()

    def elements(self):
        streams = [c.elements() for c in self.children]
        try:
            for parts in zip(*streams):
                yield sum(parts, ())
        finally:
            for stream in streams:
                stream.close()

    def specs(self):
        return [s for c in self.children for s in c.specs()]

    def cardinality(self):
        cards = [c.cardinality() for c in self.children]
        if UNKNOWN in cards:
            return UNKNOWN
        finite = [c for c in cards if c >= 0]
        return min(finite) if finite else INFINITE


class Concatenate(Node):
    """``concatenate``: the elements of ``first`` then those of ``second``. Structures are
    compared here when both are known, else when ``second`` starts producing."""

    def __init__(self, first, second):
        self.first, self.second = first, second
        if template_known(first.template) and template_known(second.template):
            self._check(None, None)

    def _check(self, first_item, second_item):
        if self.first.template != self.second.template:
            raise TypeError(f"concatenate: the datasets have different structures: "
                            f"{self.first.template} and {self.second.template}")
        if first_item is not None:
            a = [x.dtype.name for x in first_item]
            b = [x.dtype.name for x in second_item]
            if a != b:
                raise TypeError(f"concatenate: the datasets have different component "
                                f"dtypes: {a} and {b}")

    @property
    def template(self):
        return self.first.template

    def _chain(self, first, second):
        head = None
        for item in first:
            if head is None:
                head = item
            yield item
        for i, item in enumerate(second):
            if i == 0:
                self._check(head, item)
            yield item

    def elements(self):
        return self._chain(self.first.elements(), self.second.elements())

    def chunks(self):
        return self._chain(self.first.chunks(), self.second.chunks())

    def specs(self):
        try:
            return relax_specs(self.first.specs(), self.second.specs())
        except TypeError as e:
            raise TypeError(f"concatenate: {e}") from None

    def cardinality(self):
        a, b = self.first.cardinality(), self.second.cardinality()
        if INFINITE in (a, b):
            return INFINITE
        if UNKNOWN in (a, b):
            return UNKNOWN
        return a + b
