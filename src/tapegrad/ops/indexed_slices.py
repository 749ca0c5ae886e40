"""Sparse gradients of row lookups: ``IndexedSlices`` (rows + indices), as in TensorFlow.

The gradient of ``gather(params, ids)`` (axis 0) with respect to ``params`` touches only
the looked-up rows.  Inside ``with sparse_gradients():`` it is returned as an
:class:`IndexedSlices` instead of a dense zeros-with-rows tensor, and every optimizer's
``apply_gradients`` then updates only those rows (``Model.fit`` turns this on for its
steps).  Several lookups of one variable concatenate their slices; a slice meeting a dense
gradient, or flowing into an op that needs a dense gradient, is densified
(:meth:`IndexedSlices.to_dense`, itself differentiable).

Sparse values are produced only when no tape is recording at the time of the backward
pass (a first-order gradient for an optimizer step): a gradient that an outer tape
differentiates again stays dense, so higher-order results never depend on this.
"""

import contextlib
import threading

import numpy as np

__all__ = ["IndexedSlices", "sparse_gradients", "sparse_requested"]

_state = threading.local()


@contextlib.contextmanager
def sparse_gradients(enabled=True):
    """Within the block, gradients of row lookups (gather on axis 0) are IndexedSlices."""
    previous = getattr(_state, "on", False)
    _state.on = bool(enabled)
    try:
        yield
    finally:
        _state.on = previous


def sparse_requested():
    if not getattr(_state, "on", False):
        return False
    from tapegrad import _core

    active = getattr(_core, "_active_tapes", None)
    # unknown recording state: stay dense (always correct)
    return active is not None and not active()


class IndexedSlices:
    """A gradient that is zero except at rows ``indices`` of a ``dense_shape`` tensor.

    ``values`` is a Tensor ``(len(indices),) + dense_shape[1:]``; ``indices`` an int64
    NumPy vector (repeats allowed: they add up).  ``to_dense()``/``numpy()`` give the
    dense gradient.
    """

    __slots__ = ("values", "indices", "dense_shape")

    def __init__(self, values, indices, dense_shape):
        self.values = values
        self.indices = np.asarray(indices, dtype=np.int64).reshape(-1)
        self.dense_shape = tuple(int(d) for d in dense_shape)
        if tuple(values.shape) != (len(self.indices),) + self.dense_shape[1:]:
            raise ValueError(f"IndexedSlices: values of shape {tuple(values.shape)} do not "
                             f"match {len(self.indices)} indices into {self.dense_shape}")

    @property
    def dtype(self):
        return self.values.dtype

    @property
    def shape(self):
        return self.dense_shape

    @property
    def device(self):
        return self.values.device

    def to_dense(self):
        from tapegrad import _core

        # the primitive by name: shape.py (gather's VJP) builds on this module
        gather_grad = _core.registered()["gather_grad"]
        return gather_grad(self.values, _core.convert(self.indices, None, "IndexedSlices"),
                           shape=self.dense_shape, axis=0)

    def numpy(self):
        return self.to_dense().numpy()

    def __array__(self, dtype=None, copy=None):
        arr = np.array(self.numpy())
        return arr if dtype is None else arr.astype(dtype)

    def deduplicated(self):
        """``(unique indices, summed host values)`` (for optimizers)."""
        values = np.asarray(self.values.numpy())
        unique, inverse = np.unique(self.indices, return_inverse=True)
        if len(unique) == len(self.indices):
            order = np.argsort(self.indices, kind="stable")
            return unique, values[order]
        summed = np.zeros((len(unique),) + values.shape[1:], dtype=values.dtype)
        np.add.at(summed, inverse, values)
        return unique, summed

    def __repr__(self):
        return (f"IndexedSlices(indices={len(self.indices)} rows, dense_shape="
                f"{self.dense_shape}, dtype={self.dtype})")


def gather_gradient(g, indices, params_shape):
    """The sparse gradient of ``gather(params, indices, axis=0)``."""
    from tapegrad import _core

    _reshape = _core.registered()["reshape"]
    ids = np.asarray(indices.numpy() if hasattr(indices, "numpy") else indices).reshape(-1)
    n = params_shape[0]
    ids = np.where(ids < 0, ids + n, ids)
    rows = tuple(params_shape[1:])
    values = _reshape(g, shape=(len(ids),) + rows)
    return IndexedSlices(values, ids, params_shape)


def aggregate(grads):
    """The sum of several gradients, at least one of them an IndexedSlices."""
    import tapegrad as tg

    if all(type(g) is IndexedSlices for g in grads):
        shape = grads[0].dense_shape
        if all(g.dense_shape == shape for g in grads):
            return IndexedSlices(tg.concat([g.values for g in grads], axis=0),
                                 np.concatenate([g.indices for g in grads]), shape)
    dense = [g.to_dense() if type(g) is IndexedSlices else g for g in grads]
    return tg.add_n(dense)


def densify(g):
    return g.to_dense()
