"""Turning ``fit``/``evaluate``/``predict``'s inputs into batches.

Arrays (NumPy, tensors, nested lists/tuples/dicts of them) are sliced on the host:
one index array per epoch (shuffled when asked), one fancy-index per batch.  A
``tg.data.Dataset`` is iterated as it is: its elements are ``x``, ``(x, y)`` or
``(x, y, sample_weight)`` and it decides the batch size.
"""

import math

import numpy as np

import tapegrad as tg

__all__ = ["ArrayBatches", "DatasetBatches", "make_batches", "split_validation",
           "unpack"]


def _to_host(value, where):
    if value is None:
        return None
    if isinstance(value, (tg.Tensor, tg.Variable)):
        return np.asarray(value.numpy())
    if isinstance(value, (list, tuple)):
        if value and all(isinstance(v, (np.ndarray, tg.Tensor, tg.Variable)) for v in value):
            return type(value)(_to_host(v, where) for v in value)
        return np.asarray(value)
    if isinstance(value, dict):
        return {k: _to_host(v, where) for k, v in value.items()}
    arr = np.asarray(value)
    if arr.dtype == object:
        raise TypeError(f"{where}: cannot convert {type(value).__name__} to an array")
    return arr


def _flatten(value):
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return [a for v in value for a in _flatten(v)]
    if isinstance(value, dict):
        return [a for k in sorted(value) for a in _flatten(value[k])]
    return [value]


def _map(value, fn):
    if value is None:
        return None
    if isinstance(value, (list, tuple)):
        return type(value)(_map(v, fn) for v in value)
    if isinstance(value, dict):
        return {k: _map(v, fn) for k, v in value.items()}
    return fn(value)


def _num_samples(x, y, sample_weight, where):
    arrays = _flatten(x) + _flatten(y) + _flatten(sample_weight)
    if not arrays:
        raise ValueError(f"{where}: no data given (x is None)")
    sizes = {len(a) if a.ndim else None for a in arrays}
    if None in sizes:
        raise ValueError(f"{where}: inputs need a batch axis, got a scalar")
    if len(sizes) != 1:
        raise ValueError(
            f"{where}: x, y and sample_weight must have the same number of samples, got "
            f"{sorted(sizes)}"
        )
    return sizes.pop()


def unpack(data):
    """``(x, y, sample_weight)`` from a dataset element (``x``, ``(x,)``, ``(x, y)``, ...)."""
    if isinstance(data, tuple):
        if len(data) == 1:
            return data[0], None, None
        if len(data) == 2:
            return data[0], data[1], None
        if len(data) == 3:
            return data
        raise ValueError(
            f"a dataset element must be x, (x, y) or (x, y, sample_weight), got a tuple of "
            f"{len(data)}"
        )
    return data, None, None


def _class_weights(y, class_weight, where):
    if y is None or isinstance(y, (list, tuple, dict)):
        raise ValueError(f"{where}: class_weight needs a single array of targets")
    labels = np.asarray(y)
    if labels.ndim >= 2 and labels.shape[-1] > 1:
        labels = np.argmax(labels, axis=-1)
    elif labels.ndim >= 2:
        labels = labels[..., 0]
    labels = np.round(labels).astype(np.int64)
    table = np.ones(max(int(labels.max(initial=0)) + 1, max(class_weight, default=0) + 1),
                    dtype=np.float32)
    for cls, weight in class_weight.items():
        if isinstance(cls, bool) or not isinstance(cls, (int, np.integer)) or cls < 0:
            raise ValueError(f"{where}: class_weight keys must be class ids >= 0, got {cls!r}")
        table[int(cls)] = float(weight)
    weights = table[labels]
    return weights.reshape(len(weights), -1).mean(axis=1) if weights.ndim > 1 else weights


def with_class_weight(y, sample_weight, class_weight, where):
    if not class_weight:
        return sample_weight
    if not isinstance(class_weight, dict):
        raise TypeError(f"{where}: class_weight must be a dict {{class: weight}}")
    weights = _class_weights(y, class_weight, where)
    if sample_weight is None:
        return weights
    return np.asarray(sample_weight, dtype=np.float32) * weights


class ArrayBatches:
    """Batches of host arrays: ``for x, y, sw in batches.epoch(): ...``."""

    def __init__(self, x, y=None, sample_weight=None, batch_size=32, shuffle=False,
                 where="fit"):
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) \
                or batch_size <= 0:
            raise ValueError(f"{where}: batch_size must be a positive int, got {batch_size!r}")
        self.x = _to_host(x, where)
        self.y = _to_host(y, where)
        self.sample_weight = _to_host(sample_weight, where)
        self.num_samples = _num_samples(self.x, self.y, self.sample_weight, where)
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.steps = math.ceil(self.num_samples / self.batch_size)

    def epoch(self):
        n, size = self.num_samples, self.batch_size
        if self.shuffle:
            order = tg.random.numpy_rng().permutation(n)
            for start in range(0, n, size):
                idx = order[start:start + size]
                take = lambda a, idx=idx: a[idx]  # noqa: E731
                yield (_map(self.x, take), _map(self.y, take), _map(self.sample_weight, take))
        else:
            for start in range(0, n, size):
                cut = lambda a, s=start: a[s:s + size]  # noqa: E731
                yield (_map(self.x, cut), _map(self.y, cut), _map(self.sample_weight, cut))


class DatasetBatches:
    """The batches of a ``tg.data.Dataset`` (its elements: ``x``, ``(x, y)``, ``(x, y, sw)``)."""

    def __init__(self, dataset, where="fit"):
        self.dataset = dataset
        try:
            self.steps = len(dataset)
        except TypeError:
            self.steps = None
        self._iterator = None

    def epoch(self, steps=None):
        """One pass; with ``steps``, that many batches from an iterator kept across epochs."""
        if steps is None:
            for data in self.dataset:
                yield unpack(data)
            return
        produced = 0
        while produced < steps:
            if self._iterator is None:
                self._iterator = iter(self.dataset)
            try:
                data = next(self._iterator)
            except StopIteration:
                self._iterator = None
                if produced == 0:
                    return
                continue
            produced += 1
            yield unpack(data)


def make_batches(x, y, sample_weight, batch_size, shuffle, where):
    if isinstance(x, tg.data.Dataset):
        if y is not None:
            raise ValueError(f"{where}: y must not be given when x is a Dataset (the dataset "
                             "yields (x, y) pairs)")
        if sample_weight is not None:
            raise ValueError(f"{where}: sample_weight must not be given when x is a Dataset")
        return DatasetBatches(x, where)
    return ArrayBatches(x, y, sample_weight, batch_size=batch_size, shuffle=shuffle,
                        where=where)


def split_validation(x, y, sample_weight, validation_split, where="fit"):
    """Keras' split: the *last* ``validation_split`` fraction of the samples, unshuffled."""
    if isinstance(x, tg.data.Dataset):
        raise ValueError(f"{where}: validation_split is not supported for Dataset inputs; "
                         "pass validation_data instead")
    if not 0.0 < validation_split < 1.0:
        raise ValueError(f"{where}: validation_split must be in [0, 1), got {validation_split}")
    x, y, sample_weight = (_to_host(x, where), _to_host(y, where),
                           _to_host(sample_weight, where))
    n = _num_samples(x, y, sample_weight, where)
    cut = int(n * (1.0 - validation_split))
    if cut == 0 or cut == n:
        raise ValueError(f"{where}: validation_split={validation_split} leaves no samples for "
                         f"{'training' if cut == 0 else 'validation'} ({n} samples)")
    head = lambda a: a[:cut]  # noqa: E731
    tail = lambda a: a[cut:]  # noqa: E731
    return ((_map(x, head), _map(y, head), _map(sample_weight, head)),
            (_map(x, tail), _map(y, tail), _map(sample_weight, tail)))
