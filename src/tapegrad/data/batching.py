"""batch, padded_batch and unbatch."""

import itertools

import numpy as np

from ._node import INFINITE, UNKNOWN, Unary, chunk_len, reblock
from .structure import TensorSpec, flatten_as, is_structure, leaf_paths, to_array


def _batch_cardinality(c, n, drop_remainder):
    if c < 0:
        return c
    return c // n if drop_remainder else -(-c // n)


def _concat(chunks, paths):
    if len(chunks) == 1:
        return chunks[0]
    out = []
    for j, path in enumerate(paths):
        parts = [c[j] for c in chunks]
        first = parts[0]
        for p in parts[1:]:
            if p.shape[1:] != first.shape[1:]:
                raise ValueError(
                    f"batch: cannot batch elements of different shapes: component {path} "
                    f"has shapes {first.shape[1:]} and {p.shape[1:]}; use padded_batch")
            if p.dtype != first.dtype:
                raise TypeError(f"batch: component {path} has dtypes {first.dtype} and "
                                f"{p.dtype} in different elements")
        out.append(np.concatenate(parts))
    return tuple(out)


class Batch(Unary):
    """``batch(n)``: ``n`` consecutive elements stacked along a new first axis.

    Over an index plan each batch is one ``np.take`` per component; otherwise incoming
    chunks are concatenated and cut, so chunked inputs never go through Python per row.
    """

    def __init__(self, child, batch_size, drop_remainder):
        super().__init__(child)
        self.batch_size = batch_size
        self.drop_remainder = bool(drop_remainder)

    def elements(self):
        n, drop = self.batch_size, self.drop_remainder
        plan = self.child.plan()
        if plan is not None:
            for idx in reblock(plan.stream(), n, drop):
                yield plan.gather(idx)
            return
        pending, have, paths = [], 0, None
        for chunk in self.child.chunks():
            k = chunk_len(chunk)
            if k == 0:
                continue
            pending.append(chunk)
            have += k
            if have < n:
                continue
            if paths is None:
                paths = leaf_paths(self.child.template)
            joined = _concat(pending, paths)
            full = (have // n) * n
            for start in range(0, full, n):
                yield tuple(a[start:start + n] for a in joined)
            pending = [tuple(a[full:] for a in joined)] if have > full else []
            have -= full
        if have and not drop:
            yield _concat(pending, paths or leaf_paths(self.child.template))

    def specs(self):
        first = self.batch_size if self.drop_remainder else None
        return [TensorSpec(None if s.shape is None else (first,) + s.shape, s.dtype)
                for s in self.child.specs()]

    def cardinality(self):
        return _batch_cardinality(self.child.cardinality(), self.batch_size,
                                  self.drop_remainder)


class Unbatch(Unary):
    """``unbatch``: splits every element along its first axis (one reshape per chunk)."""

    def chunks(self):
        paths = None
        for chunk in self.child.chunks():
            if paths is None:
                paths = leaf_paths(self.child.template)
            k = chunk_len(chunk)
            sizes = set()
            for a, path in zip(chunk, paths):
                if a.ndim < 2:
                    raise ValueError(f"unbatch: component {path} is a scalar; every "
                                     "component needs a first dimension to split")
                sizes.add(a.shape[1])
            if len(sizes) > 1:
                shapes = ", ".join(f"{p}: {a.shape[1:]}" for a, p in zip(chunk, paths))
                raise ValueError(f"unbatch: components have different first dimensions: "
                                 f"{shapes}")
            b = sizes.pop()
            yield tuple(a.reshape((k * b,) + a.shape[2:]) for a in chunk)

    def specs(self):
        out = []
        for s in self.child.specs():
            if s.shape is not None and len(s.shape) == 0:
                raise ValueError("unbatch: the elements are scalars; nothing to split")
            out.append(TensorSpec(None if s.shape is None else s.shape[1:], s.dtype))
        return out

    def cardinality(self):
        c = self.child.cardinality()
        if c < 0:
            return c if c == INFINITE else UNKNOWN
        # a scalar component (unbatch of scalars raises when iterated) has no first
        # dimension: unknown here, so that repr() and cardinality() do not IndexError
        sizes = {None if not s.shape else s.shape[0] for s in self.child.specs()}
        if len(sizes) == 1 and None not in sizes:
            return c * sizes.pop()
        return UNKNOWN


class PaddedBatch(Unary):
    """``padded_batch``: like batch, padding every component to the largest element of
    the batch (or to ``padded_shapes``, whose ``None``/-1 entries mean "largest")."""

    def __init__(self, child, batch_size, padded_shapes, padding_values, drop_remainder):
        super().__init__(child)
        self.batch_size = batch_size
        self.drop_remainder = bool(drop_remainder)
        self.padded_shapes = padded_shapes
        self.padding_values = padding_values

    def _flat_options(self):
        template = self.child.template
        n = len(leaf_paths(template))
        if self.padded_shapes is None:
            shapes = [None] * n
        else:
            shapes = [None if s is None else tuple(None if d is None or d == -1 else int(d)
                                                   for d in s)
                      for s in flatten_as(template, self.padded_shapes,
                                          "padded_batch: padded_shapes", leaf_any=True)]
        if self.padding_values is None:
            values = [None] * n
        elif is_structure(self.padding_values):
            values = flatten_as(template, self.padding_values, "padded_batch: padding_values")
        else:
            values = [self.padding_values] * n
        return shapes, values

    def _pad(self, group, shapes, values, paths):
        out = []
        for j, (shape, value, path) in enumerate(zip(shapes, values, paths)):
            parts = [e[j] for e in group]
            dtype = parts[0].dtype
            ranks = {p.ndim for p in parts}
            if len(ranks) > 1:
                raise ValueError(f"padded_batch: component {path} has elements of "
                                 f"different ranks {sorted(ranks)}")
            biggest = np.max([p.shape for p in parts], axis=0) if parts[0].ndim else ()
            if shape is None:
                target = tuple(int(d) for d in biggest)
            else:
                if len(shape) != parts[0].ndim:
                    raise ValueError(f"padded_batch: padded shape {shape} for component "
                                     f"{path} has rank {len(shape)}, elements have rank "
                                     f"{parts[0].ndim}")
                target = tuple(int(b) if s is None else s for s, b in zip(shape, biggest))
                for p in parts:
                    if any(d > t for d, t in zip(p.shape, target)):
                        raise ValueError(f"padded_batch: component {path} has an element "
                                         f"of shape {p.shape}, larger than the padded "
                                         f"shape {target}")
            fill = 0 if value is None else to_array(value, f"padded_batch: padding value "
                                                           f"for {path}", dtype=dtype)
            batch = np.full((len(parts),) + target, fill, dtype=dtype)
            for i, p in enumerate(parts):
                batch[(i,) + tuple(slice(0, d) for d in p.shape)] = p
            out.append(batch)
        return tuple(out)

    def elements(self):
        source = self.child.elements()
        options = None
        try:
            while True:
                group = list(itertools.islice(source, self.batch_size))
                if not group or (self.drop_remainder and len(group) < self.batch_size):
                    return
                if options is None:
                    paths = leaf_paths(self.child.template)
                    options = self._flat_options()
                yield self._pad(group, *options, paths)
        finally:
            source.close()

    def specs(self):
        shapes, _ = self._flat_options()
        first = self.batch_size if self.drop_remainder else None
        out = []
        for s, padded in zip(self.child.specs(), shapes):
            if padded is not None:
                shape = (first,) + padded
            elif s.shape is None:
                shape = None
            else:
                shape = (first,) + tuple(None for _ in s.shape)
            out.append(TensorSpec(shape, s.dtype))
        return out

    def cardinality(self):
        return _batch_cardinality(self.child.cardinality(), self.batch_size,
                                  self.drop_remainder)
