"""Stages that call user functions: map, filter, flat_map and interleave.

User functions receive tapegrad Tensors with the element's structure (a tuple element
is passed as positional arguments, anything else as one argument, as in tf.data) and may
return Tensors, arrays, Python numbers, or tuples/dicts of them. An exception inside a
user function is re-raised (same type when possible) naming the stage and the element
index, chained to the original.
"""

import collections
import itertools
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ._node import UNKNOWN, Node, Unary, chunk_len
from .structure import (
    UNSET,
    flatten,
    flatten_as,
    leaf_paths,
    pack,
    template_known,
    template_of,
    tensors_of,
    to_array,
)

AUTOTUNE = -1
_TASK_ELEMENTS = 16


def _name(fn):
    return getattr(fn, "__qualname__", None) or type(fn).__name__


def _annotate(error, stage, fn, index):
    message = (f"{stage}: the function {_name(fn)} raised {type(error).__name__} on "
               f"element {index}: {error}")
    try:
        annotated = type(error)(message)
    except Exception:
        annotated = RuntimeError(message)
    return annotated


def call_on_element(fn, template, flat, stage, index):
    args = pack(template, tensors_of(flat))
    try:
        if type(args) is tuple:
            return fn(*args)
        return fn(args)
    except Exception as e:
        raise _annotate(e, stage, fn, index) from e


def resolve_parallelism(num_parallel_calls, where):
    if num_parallel_calls is None:
        return 1
    if isinstance(num_parallel_calls, bool) or not isinstance(num_parallel_calls,
                                                              (int, np.integer)):
        raise TypeError(f"{where}: num_parallel_calls must be an int or AUTOTUNE, got "
                        f"{num_parallel_calls!r}")
    if num_parallel_calls == AUTOTUNE:
        return max(1, os.cpu_count() or 1)
    if num_parallel_calls < 1:
        raise ValueError(f"{where}: num_parallel_calls must be positive or AUTOTUNE, got "
                         f"{num_parallel_calls}")
    return int(num_parallel_calls)


class Map(Unary):
    """``map(fn, num_parallel_calls)``. With parallel calls the function runs on a thread
    pool (NumPy releases the GIL in its kernels) while results keep the input order."""

    def __init__(self, child, fn, num_parallel_calls):
        super().__init__(child)
        if not callable(fn):
            raise TypeError(f"map: map_func must be callable, got {type(fn).__name__}")
        self.fn = fn
        self.parallel = resolve_parallelism(num_parallel_calls, "map")
        self._template = UNSET
        self._dtypes = None
        self._paths = None

    @property
    def template(self):
        return self._template

    def _call(self, flat, index):
        return call_on_element(self.fn, self.child.template, flat, "map", index)

    def _convert(self, result, index):
        where = f"map: element {index}"
        if self._template is UNSET:
            template = template_of(result)
            leaves = flatten(result)
            if not leaves:
                raise ValueError(f"{where}: the function {_name(self.fn)} returned no "
                                 "components")
            paths = leaf_paths(template)
            arrays = tuple(to_array(v, f"{where}: component {p}")
                           for v, p in zip(leaves, paths))
            self._dtypes = [a.dtype for a in arrays]
            self._paths = paths
            self._template = template
            return arrays
        leaves = flatten_as(self._template, result, f"{where}: the function's result")
        arrays = tuple(to_array(v, f"{where}: component {p}")
                       for v, p in zip(leaves, self._paths))
        for a, d, p in zip(arrays, self._dtypes, self._paths):
            if a.dtype != d:
                raise TypeError(f"{where}: component {p} has dtype {a.dtype.name}, but "
                                f"the first element's was {d.name}")
        return arrays

    def elements(self):
        if self.parallel == 1:
            for index, flat in enumerate(self.child.elements()):
                yield self._convert(self._call(flat, index), index)
            return
        # Tasks of several elements each: one future per element costs more in executor
        # overhead than a cheap map function itself.
        source = enumerate(self.child.elements())
        pool = ThreadPoolExecutor(self.parallel, thread_name_prefix="tapegrad-map")
        window = collections.deque()
        try:
            for group in iter(lambda: list(itertools.islice(source, _TASK_ELEMENTS)), []):
                window.append((group[0][0], pool.submit(self._call_group, group)))
                if len(window) >= 2 * self.parallel:
                    yield from self._converted(*window.popleft())
            while window:
                yield from self._converted(*window.popleft())
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    def _call_group(self, group):
        # An exception on element k must not swallow the group's elements before k:
        # they are returned with it and yielded first, as the sequential map does.
        results = []
        for index, flat in group:
            try:
                results.append(self._call(flat, index))
            except BaseException as error:
                return results, error
        return results, None

    def _converted(self, first_index, future):
        results, error = future.result()
        for offset, result in enumerate(results):
            yield self._convert(result, first_index + offset)
        if error is not None:
            raise error

    def specs(self):
        return Node.specs(self)

    def cardinality(self):
        return self.child.cardinality()


def _as_bool(value, fn, index):
    array = value.numpy() if hasattr(value, "numpy") else np.asarray(value)
    if array.shape != () or array.dtype != np.bool_:
        raise TypeError(f"filter: the predicate {_name(fn)} must return a scalar bool, got "
                        f"dtype {array.dtype} and shape {array.shape} on element {index}")
    return bool(array)


class Filter(Unary):
    """``filter(predicate)``; over chunks the kept rows are selected with one mask."""

    def __init__(self, child, predicate):
        super().__init__(child)
        if not callable(predicate):
            raise TypeError(f"filter: predicate must be callable, got "
                            f"{type(predicate).__name__}")
        self.predicate = predicate

    def _keep(self, flat, index):
        result = call_on_element(self.predicate, self.child.template, flat, "filter", index)
        return _as_bool(result, self.predicate, index)

    def elements(self):
        for index, flat in enumerate(self.child.elements()):
            if self._keep(flat, index):
                yield flat

    def chunks(self):
        index = 0
        for chunk in self.child.chunks():
            n = chunk_len(chunk)
            mask = np.fromiter((self._keep(tuple(a[i, ...] for a in chunk), index + i)
                                for i in range(n)), dtype=bool, count=n)
            index += n
            if mask.all():
                yield chunk
            elif mask.any():
                yield tuple(a[mask] for a in chunk)

    def cardinality(self):
        return UNKNOWN


class _Nested(Node):
    """Common part of flat_map and interleave: a function maps each input element to a
    Dataset, whose structure all the others must share."""

    def __init__(self, child, fn, stage):
        if not callable(fn):
            raise TypeError(f"{stage}: map_func must be callable, got {type(fn).__name__}")
        self.child = child
        self.fn = fn
        self.stage = stage
        self._template = UNSET

    @property
    def template(self):
        return self._template

    def _open(self, flat, index, chunked):
        dataset = call_on_element(self.fn, self.child.template, flat, self.stage, index)
        node = getattr(dataset, "_node", None)
        if node is None:
            raise TypeError(f"{self.stage}: the function {_name(self.fn)} must return a "
                            f"Dataset, got {type(dataset).__name__} on element {index}")
        return self._checked(node, index, node.chunks() if chunked else node.elements())

    def _checked(self, node, index, items):
        for item in items:
            template = node.template
            if self._template is UNSET:
                self._template = template
            elif template_known(template) and template != self._template:
                raise TypeError(f"{self.stage}: the dataset for element {index} has "
                                f"structure {template}, the first one had {self._template}")
            yield item

    def cardinality(self):
        return UNKNOWN


class FlatMap(_Nested):
    def __init__(self, child, fn):
        super().__init__(child, fn, "flat_map")

    def elements(self):
        for index, flat in enumerate(self.child.elements()):
            yield from self._open(flat, index, False)

    def chunks(self):
        for index, flat in enumerate(self.child.elements()):
            yield from self._open(flat, index, True)


class Interleave(_Nested):
    """``interleave``: ``cycle_length`` nested datasets open at once, ``block_length``
    elements from each in turn; an exhausted one is replaced by the next input's."""

    def __init__(self, child, fn, cycle_length, block_length):
        super().__init__(child, fn, "interleave")
        self.cycle_length = cycle_length
        self.block_length = block_length

    def elements(self):
        source = enumerate(self.child.elements())
        slots = [None] * self.cycle_length
        open_count, end_of_input, current, in_block = 0, False, 0, 0
        done = object()
        try:
            while not end_of_input or open_count:
                it = slots[current]
                if it is not None:
                    element = next(it, done)
                    if element is not done:
                        in_block += 1
                        if in_block == self.block_length:
                            in_block, current = 0, (current + 1) % self.cycle_length
                        yield element
                        continue
                    slots[current] = None
                    open_count -= 1
                    in_block, current = 0, (current + 1) % self.cycle_length
                elif not end_of_input:
                    nxt = next(source, done)
                    if nxt is done:
                        end_of_input = True
                        continue
                    slots[current] = self._open(nxt[1], nxt[0], False)
                    open_count += 1
                else:
                    in_block, current = 0, (current + 1) % self.cycle_length
        finally:
            for it in slots:
                if it is not None:
                    it.close()
