"""``Dataset``: the public, immutable description of an input pipeline, and ``Iterator``.

Every transformation returns a new Dataset wrapping one more stage (see ``_node.py``).
Iterating yields tapegrad Tensors with the structure of the source; arrays are turned
into Tensors only there, at the end of the pipeline.
"""

import numpy as np

from tapegrad.errors import OutOfRangeError

from . import batching, mapping, prefetch, shuffle, sources, transforms
from ._node import INFINITE, UNKNOWN
from .structure import TensorSpec, flatten, is_structure, pack, template_of, tensors_of

AUTOTUNE = mapping.AUTOTUNE
INFINITE_CARDINALITY = INFINITE
UNKNOWN_CARDINALITY = UNKNOWN


def _count(value, where, minimum, allow_minus_one=False, allow_none=False):
    if value is None and allow_none:
        return -1
    if hasattr(value, "numpy") and not isinstance(value, np.ndarray):
        value = value.numpy()
    if isinstance(value, np.ndarray) and value.shape == () and value.dtype.kind in "iu":
        value = value.item()
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{where} must be an integer, got {value!r}")
    value = int(value)
    if allow_minus_one and value == -1:
        return -1
    if value < minimum:
        extra = " or -1" if allow_minus_one else ""
        raise ValueError(f"{where} must be >= {minimum}{extra}, got {value}")
    return value


class Dataset:
    """A sequence of elements, each a Tensor or a tuple/dict structure of Tensors."""

    def __init__(self, node):
        self._node = node

    # ------------------------------------------------------------------ sources

    @staticmethod
    def from_tensor_slices(tensors):
        """One element per row of ``tensors`` (Tensors, arrays, lists, or tuples/dicts of
        them, all with the same first dimension). The data is copied once unless it is
        already immutable (a Tensor), so later changes to the input do not leak in."""
        return Dataset(sources.TensorSlices(tensors))

    @staticmethod
    def from_tensors(tensors):
        """A dataset with the single element ``tensors``."""
        return Dataset(sources.FromTensors(tensors))

    @staticmethod
    def range(*args, output_type=np.int64):
        """``range(stop)``, ``range(start, stop[, step])`` as scalars of ``output_type``."""
        return Dataset(sources.Range(args, output_type))

    @staticmethod
    def from_generator(generator, output_types=None, output_shapes=None, args=None,
                       output_signature=None):
        """Elements produced by ``generator(*args)`` (a callable, called once per pass),
        checked against ``output_types`` / ``output_shapes`` (``None`` dims are free)
        or ``output_signature`` (a structure of ``TensorSpec``)."""
        return Dataset(sources.Generator(generator, output_types, output_shapes, args,
                                         output_signature))

    @staticmethod
    def zip(*datasets):
        """Zip a tuple/dict of datasets (or several datasets given as arguments); a
        single dataset zips to itself, as in tf.data."""
        structure = datasets[0] if len(datasets) == 1 else datasets
        if not is_structure(structure) and not isinstance(structure, Dataset):
            raise TypeError(f"zip: expected datasets or a tuple/dict of datasets, got "
                            f"{type(structure).__name__}")
        members = flatten(structure)
        if not members:
            raise ValueError("zip: needs at least one dataset")
        for m in members:
            if not isinstance(m, Dataset):
                raise TypeError(f"zip: every member must be a Dataset, got "
                                f"{type(m).__name__}")
        return Dataset(transforms.Zip(template_of(structure), [m._node for m in members]))

    # ------------------------------------------------------------------ transformations

    def map(self, map_func, num_parallel_calls=None, deterministic=None):
        """Apply ``map_func`` to every element (``deterministic`` is accepted for tf.data
        compatibility; results always keep the input order)."""
        return Dataset(mapping.Map(self._node, map_func, num_parallel_calls))

    def filter(self, predicate):
        return Dataset(mapping.Filter(self._node, predicate))

    def flat_map(self, map_func):
        return Dataset(mapping.FlatMap(self._node, map_func))

    def interleave(self, map_func, cycle_length=None, block_length=None,
                   num_parallel_calls=None, deterministic=None):
        """Interleave the datasets ``map_func`` returns (computed on the calling thread;
        ``num_parallel_calls`` is validated but elements are produced sequentially)."""
        mapping.resolve_parallelism(num_parallel_calls, "interleave")
        cycle = mapping.resolve_parallelism(cycle_length if cycle_length is not None
                                            else AUTOTUNE, "interleave: cycle_length")
        block = _count(1 if block_length is None else block_length,
                       "interleave: block_length", 1)
        return Dataset(mapping.Interleave(self._node, map_func, cycle, block))

    def shuffle(self, buffer_size, seed=None, reshuffle_each_iteration=True):
        """Buffered shuffle: a buffer of ``buffer_size`` elements is filled, and each
        output is drawn uniformly from it and replaced by the next input. A buffer at
        least as large as the dataset gives a uniform permutation. Without a seed the
        order follows ``tg.random.set_seed``."""
        size = _count(buffer_size, "shuffle: buffer_size", 1)
        return Dataset(shuffle.Shuffle(self._node, size, seed, reshuffle_each_iteration))

    def repeat(self, count=None):
        """Repeat ``count`` times (``None`` or -1: forever)."""
        n = _count(count, "repeat: count", 0, allow_minus_one=True, allow_none=True)
        return Dataset(transforms.Repeat(self._node, n))

    def batch(self, batch_size, drop_remainder=False, num_parallel_calls=None,
              deterministic=None):
        """Stack ``batch_size`` consecutive elements; the last batch may be smaller
        unless ``drop_remainder``."""
        n = _count(batch_size, "batch: batch_size", 1)
        return Dataset(batching.Batch(self._node, n, drop_remainder))

    def padded_batch(self, batch_size, padded_shapes=None, padding_values=None,
                     drop_remainder=False):
        n = _count(batch_size, "padded_batch: batch_size", 1)
        return Dataset(batching.PaddedBatch(self._node, n, padded_shapes, padding_values,
                                            drop_remainder))

    def unbatch(self):
        return Dataset(batching.Unbatch(self._node))

    def take(self, count):
        """The first ``count`` elements (-1: all)."""
        n = _count(count, "take: count", 0, allow_minus_one=True)
        return Dataset(transforms.Take(self._node, n))

    def skip(self, count):
        """All but the first ``count`` elements (-1: skip everything)."""
        n = _count(count, "skip: count", 0, allow_minus_one=True)
        return Dataset(transforms.Skip(self._node, n))

    def shard(self, num_shards, index):
        n = _count(num_shards, "shard: num_shards", 1)
        i = _count(index, "shard: index", 0)
        if i >= n:
            raise ValueError(f"shard: index must be < num_shards, got index={i}, "
                             f"num_shards={n}")
        return Dataset(transforms.Shard(self._node, n, i))

    def prefetch(self, buffer_size):
        """Produce up to ``buffer_size`` elements ahead on a background thread
        (AUTOTUNE: 2; 0: no background thread)."""
        n = 2 if buffer_size == AUTOTUNE else _count(buffer_size, "prefetch: buffer_size", 0)
        if n == 0:
            return self
        return Dataset(prefetch.Prefetch(self._node, n))

    def cache(self):
        """Keep the elements of the first complete pass in memory and replay them."""
        return Dataset(transforms.Cache(self._node))

    def concatenate(self, dataset):
        if not isinstance(dataset, Dataset):
            raise TypeError(f"concatenate: expected a Dataset, got {type(dataset).__name__}")
        return Dataset(transforms.Concatenate(self._node, dataset._node))

    def enumerate(self, start=0):
        """Elements become ``(index, element)`` with an int64 index from ``start``."""
        return Dataset(transforms.Enumerate(self._node, _count(start, "enumerate: start",
                                                               -2**62)))

    def apply(self, transformation_func):
        result = transformation_func(self)
        if not isinstance(result, Dataset):
            raise TypeError(f"apply: the transformation must return a Dataset, got "
                            f"{type(result).__name__}")
        return result

    def reduce(self, initial_state, reduce_func):
        """Fold ``state = reduce_func(state, element)`` over the dataset (a tuple element
        is passed as one argument, as in tf.data) and return the final state."""
        if not callable(reduce_func):
            raise TypeError("reduce: reduce_func must be callable, got %s"
                            % type(reduce_func).__name__)
        state = initial_state
        for element in self:
            state = reduce_func(state, element)
        return state

    # ------------------------------------------------------------------ inspection

    @property
    def element_spec(self):
        """The structure of the elements with a ``TensorSpec`` per component. For stages
        after a ``map`` this observes the first element of a fresh pass."""
        specs = self._node.specs()
        return pack(self._node.template, specs)

    @property
    def output_types(self):
        return pack(self._node.template, [s.dtype for s in self._node.specs()])

    @property
    def output_shapes(self):
        return pack(self._node.template, [s.shape for s in self._node.specs()])

    def cardinality(self):
        """The number of elements, ``INFINITE_CARDINALITY`` (-1) or
        ``UNKNOWN_CARDINALITY`` (-2)."""
        return self._node.cardinality()

    def __len__(self):
        c = self._node.cardinality()
        if c == INFINITE:
            raise TypeError("The dataset is infinite.")
        if c == UNKNOWN:
            raise TypeError("The dataset length is unknown.")
        return c

    def __bool__(self):
        return True

    def __iter__(self):
        return Iterator(self)

    def as_numpy_iterator(self):
        """Iterate the elements as NumPy arrays (scalars as NumPy scalars), read-only."""
        node = self._node
        for flat in node.elements():
            yield pack(node.template, [a[()] if a.ndim == 0 else a for a in flat])

    def __repr__(self):
        c = self._node.cardinality()
        size = {INFINITE: "infinite", UNKNOWN: "unknown"}.get(c, str(c))
        return f"<Dataset {type(self._node).__name__.lower()}, cardinality={size}>"


class Iterator:
    """An iterator over a Dataset: ``next(it)``, ``it.next()`` and ``it.get_next()``.

    ``iter(dataset)`` returns one; ``Iterator(dataset)`` makes one directly (the guide's
    ``tfe.Iterator``). Dropping or closing it stops any prefetch threads it started.
    """

    def __init__(self, dataset):
        if not isinstance(dataset, Dataset):
            raise TypeError(f"Iterator: expected a Dataset, got {type(dataset).__name__}")
        self._node = dataset._node
        self._elements = self._node.elements()

    def __iter__(self):
        return self

    def __next__(self):
        flat = next(self._elements)
        return pack(self._node.template, tensors_of(flat))

    def next(self):
        return self.__next__()

    def get_next(self):
        """The next element; raises ``OutOfRangeError`` at the end of the dataset."""
        try:
            return self.__next__()
        except StopIteration:
            raise OutOfRangeError("End of sequence") from None

    @property
    def element_spec(self):
        return pack(self._node.template, self._node.specs())

    def close(self):
        self._elements.close()


__all__ = ["AUTOTUNE", "Dataset", "INFINITE_CARDINALITY", "Iterator", "OutOfRangeError",
           "TensorSpec", "UNKNOWN_CARDINALITY"]
