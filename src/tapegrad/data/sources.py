"""Pipeline sources: slices of tensors, whole tensors, integer ranges and Python generators."""

import numpy as np

from ._node import UNKNOWN, IndexPlan, Node, chunk_rows
from .structure import (
    LEAF,
    TensorSpec,
    flatten,
    flatten_as,
    leaf_paths,
    shape_compatible,
    template_of,
    to_array,
)

_STREAM_BLOCK = 1 << 16


def _arange_stream(n):
    for start in range(0, n, _STREAM_BLOCK):
        yield np.arange(start, min(n, start + _STREAM_BLOCK), dtype=np.int64)


def _row_bytes(arrays):
    return sum(a.itemsize * int(np.prod(a.shape[1:], dtype=np.int64)) for a in arrays)


class TensorSlices(Node):
    """``from_tensor_slices``: element ``i`` is ``a[i]`` of every component ``a``."""

    def __init__(self, value, owned=False):
        where = "from_tensor_slices"
        self.template = template_of(value)
        leaves = flatten(value)
        if not leaves:
            raise ValueError(f"{where}: the value has no components")
        paths = leaf_paths(self.template)
        arrays = [to_array(v, f"{where}: component {p}", copy=not owned)
                  for v, p in zip(leaves, paths)]
        for a, p in zip(arrays, paths):
            if a.ndim == 0:
                raise ValueError(f"{where}: component {p} is a scalar (shape ()); every "
                                 "component needs a first dimension to slice")
        sizes = {a.shape[0] for a in arrays}
        if len(sizes) > 1:
            listing = ", ".join(f"{p}: {a.shape}" for a, p in zip(arrays, paths))
            raise ValueError(f"{where}: all components must have the same first dimension, "
                             f"got {listing}")
        self.arrays = tuple(arrays)
        self.n = arrays[0].shape[0]

    def plan(self):
        arrays, n = self.arrays, self.n

        def stream():
            return _arange_stream(n)

        def gather(idx):
            return tuple(np.take(a, idx, axis=0) for a in arrays)

        return IndexPlan(stream, gather, _row_bytes(arrays))

    def chunks(self):
        # In order, a chunk is a plain slice: views of our private storage, no copy.
        step = chunk_rows(_row_bytes(self.arrays))
        for start in range(0, self.n, step):
            yield tuple(a[start:start + step] for a in self.arrays)

    def cardinality(self):
        return self.n

    def specs(self):
        return [TensorSpec(a.shape[1:], a.dtype) for a in self.arrays]


class FromTensors(Node):
    """``from_tensors``: the whole value is the single element."""

    def __init__(self, value):
        self.template = template_of(value)
        leaves = flatten(value)
        if not leaves:
            raise ValueError("from_tensors: the value has no components")
        paths = leaf_paths(self.template)
        self.arrays = tuple(to_array(v, f"from_tensors: component {p}")
                            for v, p in zip(leaves, paths))

    def plan(self):
        stacked = tuple(a[None] for a in self.arrays)

        def stream():
            yield np.zeros(1, dtype=np.int64)

        def gather(idx):
            return tuple(np.take(a, idx, axis=0) for a in stacked)

        return IndexPlan(stream, gather, _row_bytes(stacked))

    def elements(self):
        yield self.arrays

    def cardinality(self):
        return 1

    def specs(self):
        return [TensorSpec(a.shape, a.dtype) for a in self.arrays]


class Range(Node):
    """``range(start, stop, step)`` as a dataset of scalars."""

    template = LEAF

    def __init__(self, args, dtype):
        if not 1 <= len(args) <= 3:
            raise TypeError(f"range: expected 1 to 3 positional arguments, got {len(args)}")
        ints = []
        for a in args:
            value = a.numpy() if hasattr(a, "numpy") and not isinstance(a, np.ndarray) else a
            if isinstance(value, np.ndarray) and value.shape == () and value.dtype.kind in "iu":
                value = value.item()
            if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
                raise TypeError(f"range: arguments must be integers, got {a!r}")
            ints.append(int(value))
        self.range = range(*ints)   # validates step != 0 and gives the count
        self.dtype = np.dtype(dtype)
        if self.dtype.kind not in "iuf":
            raise TypeError(f"range: output_type must be an integer or float dtype, "
                            f"got {self.dtype}")

    def plan(self):
        r, dtype = self.range, self.dtype

        def stream():
            return _arange_stream(len(r))

        def gather(idx):
            return ((r.start + idx * r.step).astype(dtype),)

        return IndexPlan(stream, gather, self.dtype.itemsize)

    def cardinality(self):
        return len(self.range)

    def specs(self):
        return [TensorSpec((), self.dtype)]


class Generator(Node):
    """``from_generator``: calls ``generator(*args)`` at the start of every pass and checks
    each element against the declared dtypes and shapes."""

    def __init__(self, generator, output_types, output_shapes, args, output_signature):
        where = "from_generator"
        if not callable(generator):
            raise TypeError(f"{where}: generator must be a callable returning an iterator "
                            f"(pass the generator function, not a generator object), got "
                            f"{type(generator).__name__}")
        if output_signature is not None:
            if output_types is not None or output_shapes is not None:
                raise TypeError(f"{where}: give either output_signature or "
                                "output_types/output_shapes, not both")
            self.template = template_of(output_signature)
            specs = flatten(output_signature)
            for s in specs:
                if not isinstance(s, TensorSpec):
                    raise TypeError(f"{where}: output_signature must hold TensorSpec leaves, "
                                    f"got {type(s).__name__}")
            dtypes = [s.dtype for s in specs]
            shapes = [s.shape for s in specs]
        else:
            if output_types is None:
                raise TypeError(f"{where}: output_types (or output_signature) is required")
            self.template = template_of(output_types)
            dtypes = [np.dtype(t) for t in flatten(output_types)]
            if output_shapes is None:
                shapes = [None] * len(dtypes)
            else:
                shapes = [None if s is None else tuple(None if d is None else int(d) for d in s)
                          for s in flatten_as(self.template, output_shapes,
                                              f"{where}: output_shapes", leaf_any=True)]
        for d in dtypes:
            if d.kind not in "biuf":
                raise TypeError(f"{where}: unsupported output dtype {d}")
        self.generator = generator
        self.args = tuple(np.asarray(a) for a in (args or ()))
        self._specs = [TensorSpec(s, d) for s, d in zip(shapes, dtypes)]
        self._paths = leaf_paths(self.template)

    def _check(self, value, index):
        where = f"from_generator: element {index}"
        leaves = flatten_as(self.template, value, where)
        out = []
        for leaf, spec, path in zip(leaves, self._specs, self._paths):
            array = to_array(leaf, f"{where} component {path}")
            if array.dtype != spec.dtype:
                same_kind = np.can_cast(array.dtype, spec.dtype, casting="same_kind")
                int_to_float = array.dtype.kind in "biu" and spec.dtype.kind == "f"
                if not (same_kind or int_to_float):
                    raise TypeError(f"{where} component {path}: expected dtype "
                                    f"{spec.dtype.name}, got {array.dtype.name}")
                array = array.astype(spec.dtype)
                array.flags.writeable = False
            if not shape_compatible(spec.shape, array.shape):
                raise ValueError(f"{where} component {path}: expected shape "
                                 f"{spec.shape}, got {array.shape}")
            out.append(array)
        return tuple(out)

    def elements(self):
        iterator = iter(self.generator(*self.args))
        try:
            for index, value in enumerate(iterator):
                yield self._check(value, index)
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                close()

    def cardinality(self):
        return UNKNOWN

    def specs(self):
        return list(self._specs)
