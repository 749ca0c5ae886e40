"""Shared helpers for the op value tests: shape groups and operand memory layouts.

``operand(arr, layout)`` returns a Tensor equal to ``arr`` whose buffer has the given
layout, built through tapegrad ops so the kernels see genuinely non-contiguous data:

- "C": C-contiguous,
- "F": Fortran-ordered (tg.constant keeps NumPy's K order),
- "T": a transposed view (tg.transpose of the reversed-axes array),
- "slice": a strided view (every other element along each axis of a bigger tensor),
- "neg": a negative-stride view (reversed along each axis).
"""

import numpy as np

import tapegrad as tg

SHAPES = [(), (3,), (3, 4), (3, 1), (1, 4), (2, 3, 4)]
ZERO_SIZE = [(0,), (3, 0), (0, 4), (2, 0, 4)]
BROADCAST_PAIRS = [((3, 1), (1, 4)), ((3, 4), (4,)), ((), (2, 3, 4)), ((2, 3, 4), (3, 1)),
                   ((1, 4), (2, 3, 4)), ((3, 4), ()), ((4,), (3, 1)), ((2, 1, 4), (3, 1))]
LAYOUTS = ["C", "F", "T", "slice", "neg"]
FLOATS = [np.float32, np.float64]


def operand(arr, layout):
    arr = np.asarray(arr)
    if layout == "C":
        t = tg.constant(np.array(order="C", object=arr))
    elif layout == "F":
        t = tg.constant(np.array(arr, order="F"))
    elif layout == "T":
        t = tg.transpose(tg.constant(np.array(order="C", object=arr.T)))
    elif layout == "slice":
        big = np.zeros(tuple(2 * d for d in arr.shape), arr.dtype)
        key = tuple(slice(None, None, 2) for _ in arr.shape)
        big[key] = arr
        t = tg.constant(big)[key] if arr.ndim else tg.constant(arr)
    elif layout == "neg":
        key = tuple(slice(None, None, -1) for _ in arr.shape)
        t = tg.constant(np.array(order="C", object=arr[key]))[key] if arr.ndim else tg.constant(arr)
    else:
        raise ValueError(layout)
    np.testing.assert_array_equal(t.numpy(), arr)
    assert t.dtype == arr.dtype and t.shape == arr.shape
    if layout == "slice" and arr.size > 1 and max(arr.shape) > 1:
        assert not t.numpy().flags.c_contiguous
    if layout == "T" and arr.ndim >= 2 and min(arr.shape) > 1:
        assert not t.numpy().flags.c_contiguous
    return t


def sample(shape, dtype, rng, kind="normal"):
    if np.dtype(dtype).kind == "f":
        if kind == "positive":
            v = rng.uniform(0.25, 3.0, shape)
        elif kind == "unit":
            v = rng.uniform(-0.95, 0.95, shape)
        else:
            v = rng.standard_normal(shape) * 2
        return np.asarray(v).astype(dtype)
    if np.dtype(dtype).kind == "b":
        return rng.random(shape) > 0.5
    low = 1 if kind == "positive" else -5
    return np.asarray(rng.integers(low, 6, shape)).astype(dtype)


def tol(dtype):
    return dict(rtol=2e-6, atol=1e-6) if np.dtype(dtype) == np.float32 else \
        dict(rtol=1e-12, atol=1e-12)


def assert_matches(result, expected, dtype=None, **kw):
    """Value, dtype and shape of a Tensor against a NumPy result."""
    assert isinstance(result, tg.Tensor), type(result)
    expected = np.asarray(expected)
    assert result.shape == expected.shape, (result.shape, expected.shape)
    assert result.dtype == expected.dtype, (result.dtype, expected.dtype)
    got = result.numpy()
    if expected.dtype.kind == "f":
        opts = tol(expected.dtype)
        opts.update(kw)
        np.testing.assert_allclose(got, expected, equal_nan=True, **opts)
    else:
        np.testing.assert_array_equal(got, expected)
