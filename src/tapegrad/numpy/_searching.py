"""Searching, sorting and set functions of the array API standard (argmax, nonzero,
searchsorted, where, sort, argsort, unique_*).

Floating inputs run tapegrad ops, so results are differentiable; integer / bool ones
(no derivative) may run NumPy directly.
"""

from collections import namedtuple

import numpy as np

from tapegrad.numpy import _base as B
from tapegrad.numpy._manipulation import _norm_axis
from tapegrad.numpy._statistics import _axes
from tapegrad.ops import elementwise as E
from tapegrad.ops import shape as S
from tapegrad.ops import sorting as SO

__all__, _export = B.exporter()


def _arg(x, axis, keepdims, is_max):
    x = B.as_tensor(x, op="argmax" if is_max else "argmin")
    if x.size == 0:
        raise ValueError("argmax/argmin of an empty array")
    fn = np.argmax if is_max else np.argmin
    return B.wrap(np.asarray(fn(B.values(x), axis=axis, keepdims=keepdims), B.DEFAULT_INDEX))


@_export
def argmax(x, /, *, axis=None, keepdims=False):
    return _arg(x, axis, keepdims, True)


@_export
def argmin(x, /, *, axis=None, keepdims=False):
    return _arg(x, axis, keepdims, False)


@_export
def count_nonzero(x, /, *, axis=None, keepdims=False):
    x = B.as_tensor(x, op="count_nonzero")
    out = np.count_nonzero(B.values(x), axis=_axes(axis, x.ndim), keepdims=keepdims)
    return B.wrap(np.asarray(out, B.DEFAULT_INDEX))


@_export
def nonzero(x, /):
    x = B.as_tensor(x, op="nonzero")
    if x.ndim == 0:
        raise ValueError("nonzero: 0-d arrays are not supported (the standard forbids them)")
    return tuple(B.wrap(i.astype(B.DEFAULT_INDEX)) for i in np.nonzero(B.values(x)))


@_export
def searchsorted(x1, x2, /, *, side="left", sorter=None):
    a = B.as_tensor(x1, op="searchsorted")
    v = B.as_tensor(x2, op="searchsorted") if not isinstance(x2, (int, float)) else x2
    sv = None if sorter is None else B.values(B.as_tensor(sorter, op="searchsorted"))
    out = np.searchsorted(B.values(a), v if isinstance(v, (int, float)) else B.values(v),
                          side=side, sorter=sv)
    return B.wrap(np.asarray(out, B.DEFAULT_INDEX))


@_export
def where(condition, x1=None, x2=None, /):
    if x1 is None and x2 is None:
        return nonzero(condition)
    c = B.as_tensor(condition, op="where")
    if c.dtype.kind != "b":
        raise TypeError("where: condition must be bool, got %s" % c.dtype)
    a, b = B.promote(x1, x2, op="where")
    shape = np.broadcast_shapes(c.shape, a.shape, b.shape)
    if a.dtype.kind in "fc":
        c, a, b = (t if t.shape == shape else S.broadcast_to(t, shape) for t in (c, a, b))
        return E.where(c, a, b)
    return B.wrap(np.where(B.values(c), B.values(a), B.values(b)))


# ---------------------------------------------------------------------------
# sorting and sets

@_export
def sort(x, /, *, axis=-1, descending=False, stable=True):
    x = B.as_tensor(x, op="sort")
    if x.ndim == 0:
        raise ValueError("sort: needs rank >= 1")
    if x.dtype.kind == "b":
        v = np.sort(B.values(x), axis=axis)
        return B.wrap(np.flip(v, axis) if descending else v)
    return SO.sort(x, axis, "DESCENDING" if descending else "ASCENDING")


@_export
def argsort(x, /, *, axis=-1, descending=False, stable=True):
    x = B.as_tensor(x, op="argsort")
    if x.ndim == 0:
        raise ValueError("argsort: needs rank >= 1")
    v = B.values(x)
    axis = _norm_axis(axis, x.ndim, "argsort")
    return B.wrap(SO._argsort_np(v, axis, descending).astype(B.DEFAULT_INDEX))


UniqueAllResult = namedtuple("UniqueAllResult", ["values", "indices", "inverse_indices",
                                                 "counts"])
UniqueCountsResult = namedtuple("UniqueCountsResult", ["values", "counts"])
UniqueInverseResult = namedtuple("UniqueInverseResult", ["values", "inverse_indices"])


def _unique(x):
    x = B.as_tensor(x, op="unique")
    v = B.values(x)
    flat = v.reshape(-1)
    vals, idx, inv, counts = np.unique(flat, return_index=True, return_inverse=True,
                                       return_counts=True, equal_nan=False)
    return x, vals, idx, inv.reshape(v.shape), counts


@_export
def unique_all(x, /):
    x, vals, idx, inv, counts = _unique(x)
    ix = B.DEFAULT_INDEX
    return UniqueAllResult(B.wrap(vals), B.wrap(idx.astype(ix)), B.wrap(inv.astype(ix)),
                           B.wrap(counts.astype(ix)))


@_export
def unique_counts(x, /):
    x, vals, idx, inv, counts = _unique(x)
    return UniqueCountsResult(B.wrap(vals), B.wrap(counts.astype(B.DEFAULT_INDEX)))


@_export
def unique_inverse(x, /):
    x, vals, idx, inv, counts = _unique(x)
    return UniqueInverseResult(B.wrap(vals), B.wrap(inv.astype(B.DEFAULT_INDEX)))


@_export
def unique_values(x, /):
    return B.wrap(_unique(x)[1])
