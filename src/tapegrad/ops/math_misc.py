"""The rest of TF 1.x's ``tf.math``, as compositions of existing primitives.

Each function's gradients, of every order and in both modes, come from the primitives it
is built of; the integer-valued ones (``bincount`` without weights, ``confusion_matrix``,
``invert_permutation``, the ``is_*`` tests, ``zero_fraction``) have none, as in TF.
Re-exported by ``tapegrad.math``.
"""

import numpy as np

from tapegrad.errors import InvalidArgumentError
from tapegrad.ops._registry import as_dtype, int_arg, tensor
from tapegrad.ops.elementwise import (
    abs,  # noqa: A004
    add,
    add_n,
    cast,
    divide,
    equal,
    exp,
    greater,
    greater_equal,
    maximum,
    multiply,
    round,  # noqa: A004
    sqrt,
    where,
)
from tapegrad.ops.reductions import reduce_all, reduce_mean
from tapegrad.ops.shape import _fmt, reshape

__all__ = ["reciprocal_no_nan", "rint", "scalar_mul", "accumulate_n",
           "polyval", "bessel_i0", "bessel_i1", "zero_fraction", "is_non_decreasing",
           "is_strictly_increasing", "invert_permutation", "bincount", "confusion_matrix",
           "unsorted_segment_sqrt_n"]


def _floating(x, op):
    t = tensor(x, op=op)
    if t.dtype.kind not in "fc":
        raise TypeError("%s: expected a floating tensor, got %s" % (op, t.dtype.name))
    return t


def reciprocal_no_nan(x, name=None):
    """1 / x, and 0 where x is 0 (TF's ``reciprocal_no_nan``)."""
    x = _floating(x, "reciprocal_no_nan")
    zero = equal(x, 0)
    # the divisor is 1 where x is 0, so neither branch's gradient meets a division by 0
    return where(zero, 0, divide(1.0, where(zero, 1, x)))


def rint(x, name=None):
    """The nearest integer value, halves to even (the same as ``tg.round``)."""
    return round(_floating(x, "rint"))


def scalar_mul(scalar, x, name=None):
    """``scalar * x`` for a 0-d ``scalar``."""
    s = tensor(scalar, op="scalar_mul")
    if s.ndim != 0:
        raise ValueError("scalar_mul: scalar must be 0-d, got shape %s" % _fmt(s.shape))
    return multiply(s, x)


def accumulate_n(inputs, shape=None, tensor_dtype=None, name=None):
    """The sum of the tensors in ``inputs`` (TF's ``accumulate_n``: ``add_n`` here)."""
    out = add_n(inputs)
    if shape is not None and tuple(out.shape) != tuple(shape):
        raise ValueError("accumulate_n: the inputs have shape %s, not the given %s"
                         % (_fmt(out.shape), _fmt(tuple(shape))))
    if tensor_dtype is not None:
        want = as_dtype(tensor_dtype, "accumulate_n")
        if want != out.dtype:
            raise TypeError("accumulate_n: the inputs are %s, not the given %s"
                            % (out.dtype.name, want.name))
    return out


def polyval(coeffs, x, name=None):
    """coeffs[0] x^(n-1) + ... + coeffs[n-1], by Horner's rule (TF's argument order)."""
    if not isinstance(coeffs, (list, tuple)):
        raise TypeError("polyval: coeffs must be a list of tensors, got %s"
                        % type(coeffs).__name__)
    x = tensor(x, op="polyval")
    if not coeffs:
        return multiply(x, 0)
    p = tensor(coeffs[0], op="polyval", dtype=x.dtype)
    for c in coeffs[1:]:
        p = add(multiply(p, x), tensor(c, op="polyval", dtype=x.dtype))
    return p


def bessel_i0(x, name=None):
    """The modified Bessel function I0, as ``bessel_i0e(x) * exp(|x|)``."""
    from tapegrad.ops.special import bessel_i0e

    x = _floating(x, "bessel_i0")
    return multiply(bessel_i0e(x), exp(abs(x)))


def bessel_i1(x, name=None):
    """The modified Bessel function I1, as ``bessel_i1e(x) * exp(|x|)``."""
    from tapegrad.ops.special import bessel_i1e

    x = _floating(x, "bessel_i1")
    return multiply(bessel_i1e(x), exp(abs(x)))


def zero_fraction(value, name=None):
    """The fraction of zeros in ``value``, a float32 scalar."""
    return reduce_mean(cast(equal(tensor(value, op="zero_fraction"), 0), np.float32))


def _consecutive(x, op):
    x = tensor(x, op=op)
    if x.dtype.kind not in "iuf":
        raise TypeError("%s: expected a real tensor, got %s" % (op, x.dtype.name))
    flat = reshape(x, [-1])
    return flat[1:], flat[:-1]


def is_non_decreasing(x, name=None):
    """Whether each element of ``x`` (in row-major order) is >= the one before it."""
    later, earlier = _consecutive(x, "is_non_decreasing")
    return reduce_all(greater_equal(later, earlier))


def is_strictly_increasing(x, name=None):
    """Whether each element of ``x`` (in row-major order) is > the one before it."""
    later, earlier = _consecutive(x, "is_strictly_increasing")
    return reduce_all(greater(later, earlier))


def _int_values(x, op, what):
    t = tensor(x, op=op)
    if t.dtype.kind not in "iu":
        raise TypeError("%s: %s must be integers, got %s" % (op, what, t.dtype.name))
    return t


def invert_permutation(x, name=None):
    """The inverse of the permutation ``x`` (1-D, each of 0..n-1 once): y[x[i]] = i."""
    t = _int_values(x, "invert_permutation", "x")
    if t.ndim != 1:
        raise ValueError("invert_permutation: x must be 1-D, got shape %s" % _fmt(t.shape))
    v = t.numpy()
    n = v.shape[0]
    inv = np.full(n, -1, np.int64)
    ok = bool(((v >= 0) & (v < n)).all())
    if ok:
        inv[v] = np.arange(n)
        ok = bool((inv >= 0).all())
    if not ok:
        raise InvalidArgumentError("invert_permutation: x is not a permutation of 0..%d: %s"
                                   % (n - 1, v[:10].tolist()))
    return tensor(inv.astype(v.dtype), op="invert_permutation")


def bincount(arr, weights=None, minlength=None, maxlength=None, dtype=np.int32, name=None):
    """How often each value 0, 1, ... occurs in ``arr`` (or the sum of ``weights`` there).

    The length is ``max(arr) + 1``, at least ``minlength`` and at most ``maxlength``
    (values at or past ``maxlength`` are not counted), as in TF.  With ``weights`` the
    result is an ``unsorted_segment_sum`` of them, differentiable with respect to the
    weights; counts have no gradient.
    """
    from tapegrad.ops.segment import unsorted_segment_sum

    a = _int_values(arr, "bincount", "arr")
    v = a.numpy().ravel()
    if v.size and v.min() < 0:
        raise InvalidArgumentError("bincount: arr must be non-negative, got %d" % v.min())
    length = int(v.max()) + 1 if v.size else 0
    if minlength is not None:
        length = max(length, int_arg(minlength, "minlength", "bincount", minimum=0))
    if maxlength is not None:
        length = min(length, int_arg(maxlength, "maxlength", "bincount", minimum=0))
    ids = np.where(v < length, v, -1)           # dropped rows: id -1
    if weights is None:
        try:
            counts = np.bincount(ids[ids >= 0], minlength=length)[:length]
        except MemoryError:
            raise MemoryError("bincount: cannot allocate %d counts (max(arr) + 1 or "
                              "minlength)" % length) from None
        return tensor(counts.astype(as_dtype(dtype, "bincount")), op="bincount")
    w = tensor(weights, op="bincount")
    if tuple(w.shape) != tuple(a.shape):
        raise ValueError("bincount: weights must have arr's shape %s, got %s"
                         % (_fmt(a.shape), _fmt(w.shape)))
    return unsorted_segment_sum(reshape(w, [-1]), ids.astype(np.int64), length)


def confusion_matrix(labels, predictions, num_classes=None, weights=None, dtype=np.int32,
                     name=None):
    """``[num_classes, num_classes]`` counts (or summed ``weights``) of (label, prediction)
    pairs: rows are labels, columns predictions (TF's ``confusion_matrix``)."""
    lab = _int_values(labels, "confusion_matrix", "labels").numpy().ravel()
    pred = _int_values(predictions, "confusion_matrix", "predictions").numpy().ravel()
    if lab.shape != pred.shape:
        raise ValueError("confusion_matrix: labels and predictions differ in size: %d and %d"
                         % (lab.size, pred.size))
    if lab.size and min(lab.min(), pred.min()) < 0:
        raise InvalidArgumentError("confusion_matrix: labels and predictions must be "
                                   "non-negative")
    n = int(num_classes) if num_classes is not None else (
        int(max(lab.max(), pred.max())) + 1 if lab.size else 0)
    if lab.size and max(lab.max(), pred.max()) >= n:
        raise InvalidArgumentError("confusion_matrix: a label or prediction is >= "
                                   "num_classes (%d)" % n)
    flat = lab.astype(np.int64) * n + pred
    out_dtype = as_dtype(dtype, "confusion_matrix")
    if weights is None:
        counts = np.bincount(flat, minlength=n * n).astype(out_dtype)
        return tensor(counts.reshape(n, n), op="confusion_matrix")
    w = cast(reshape(tensor(weights, op="confusion_matrix"), [-1]), out_dtype)
    if w.shape[0] != flat.size:
        raise ValueError("confusion_matrix: weights must have %d elements, got %d"
                         % (flat.size, w.shape[0]))
    from tapegrad.ops.segment import unsorted_segment_sum

    return reshape(unsorted_segment_sum(w, flat, n * n), [n, n])


def unsorted_segment_sqrt_n(data, segment_ids, num_segments, name=None):
    """Each segment's sum divided by the square root of its row count (0 when empty)."""
    from tapegrad.ops.segment import unsorted_segment_sum

    x = _floating(data, "unsorted_segment_sqrt_n")
    ids = tensor(segment_ids, op="unsorted_segment_sqrt_n")
    total = unsorted_segment_sum(x, ids, num_segments)
    ones = tensor(np.ones(ids.shape, x.dtype))
    count = unsorted_segment_sum(ones, ids, num_segments)
    count = reshape(count, tuple(count.shape) + (1,) * (total.ndim - count.ndim))
    return divide(total, sqrt(maximum(count, 1)))
