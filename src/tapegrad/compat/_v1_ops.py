"""Top-level TF 1.x ops whose signatures differ from tapegrad's (TF 2) ones.

* ``reduce_*(input_tensor, axis=None, keepdims=None, name=None, reduction_indices=None,
  keep_dims=None)`` and ``count_nonzero``: the deprecated names of ``axis``/``keepdims``.
* ``argmax``/``argmin(input, axis=None, name=None, dimension=None, output_type=int64)``:
  the third positional argument is ``name``, not ``output_type``.
* ``squeeze(input, axis=None, name=None, squeeze_dims=None)``,
  ``expand_dims(input, axis=None, name=None, dim=None)``.
* ``to_float``/``to_double``/``to_int32``/``to_int64``/``to_bfloat16``-style casts.
* ``assign``/``assign_add``/``assign_sub(ref, value, use_locking=None, name=None)``.

``concat(values, axis)`` and ``split(value, num_or_size_splits, axis=0, num=None)`` have
the same signature in both versions and are tapegrad's own.
"""

import numpy as np

from tapegrad.compat._v1_args import alias
from tapegrad.ops import indexing as _ix
from tapegrad.ops import reductions as _r
from tapegrad.ops import shape as _s
from tapegrad.ops.elementwise import cast

__all__ = ["reduce_sum", "reduce_mean", "reduce_max", "reduce_min", "reduce_prod",
           "reduce_all", "reduce_any", "reduce_logsumexp", "count_nonzero", "argmax",
           "argmin", "squeeze", "expand_dims", "to_float", "to_double", "to_int32",
           "to_int64", "assign", "assign_add", "assign_sub"]


def _v1_reduction(native):
    op = native.__name__

    def reduction(input_tensor, axis=None, keepdims=None, name=None, reduction_indices=None,
                  keep_dims=None):
        axis = alias(op, "axis", axis, "reduction_indices", reduction_indices)
        keepdims = alias(op, "keepdims", keepdims, "keep_dims", keep_dims, False)
        return native(input_tensor, axis=axis, keepdims=bool(keepdims))

    reduction.__name__ = reduction.__qualname__ = op
    reduction.__doc__ = ("TF 1.x ``tf.%s``: also accepts ``reduction_indices=`` (for "
                         "``axis``) and ``keep_dims=`` (for ``keepdims``)." % op)
    return reduction


reduce_sum = _v1_reduction(_r.reduce_sum)
reduce_mean = _v1_reduction(_r.reduce_mean)
reduce_max = _v1_reduction(_r.reduce_max)
reduce_min = _v1_reduction(_r.reduce_min)
reduce_prod = _v1_reduction(_r.reduce_prod)
reduce_all = _v1_reduction(_r.reduce_all)
reduce_any = _v1_reduction(_r.reduce_any)
reduce_logsumexp = _v1_reduction(_r.reduce_logsumexp)


def count_nonzero(input_tensor, axis=None, keepdims=None, dtype=np.int64, name=None,
                  reduction_indices=None, keep_dims=None):
    op = "count_nonzero"
    axis = alias(op, "axis", axis, "reduction_indices", reduction_indices)
    keepdims = alias(op, "keepdims", keepdims, "keep_dims", keep_dims, False)
    return _r.count_nonzero(input_tensor, axis=axis, keepdims=bool(keepdims), dtype=dtype)


def argmax(input, axis=None, name=None, dimension=None, output_type=np.int64):
    """TF 1.x ``tf.argmax``: ``dimension=`` is ``axis``; the axis defaults to 0."""
    axis = alias("argmax", "axis", axis, "dimension", dimension, 0)
    return _r.argmax(input, axis=axis, output_type=output_type)


def argmin(input, axis=None, name=None, dimension=None, output_type=np.int64):
    """TF 1.x ``tf.argmin``: ``dimension=`` is ``axis``; the axis defaults to 0."""
    axis = alias("argmin", "axis", axis, "dimension", dimension, 0)
    return _r.argmin(input, axis=axis, output_type=output_type)


def squeeze(input, axis=None, name=None, squeeze_dims=None):
    return _s.squeeze(input, axis=alias("squeeze", "axis", axis, "squeeze_dims", squeeze_dims))


def expand_dims(input, axis=None, name=None, dim=None):
    axis = alias("expand_dims", "axis", axis, "dim", dim)
    if axis is None:
        raise ValueError("expand_dims: give axis (or its TF 1.x name dim)")
    return _s.expand_dims(input, axis)


def to_float(x, name="ToFloat"):
    return cast(x, np.float32)


def to_double(x, name="ToDouble"):
    return cast(x, np.float64)


def to_int32(x, name="ToInt32"):
    return cast(x, np.int32)


def to_int64(x, name="ToInt64"):
    return cast(x, np.int64)


def _variable(ref, op):
    from tapegrad import _core

    if not isinstance(ref, _core.BaseVariable):
        raise TypeError("%s: ref must be a Variable, got %s (tensors are immutable)"
                        % (op, type(ref).__name__))
    return ref


def assign(ref, value, validate_shape=None, use_locking=None, name=None):
    """``ref.assign(value)``; returns ``ref``.  ``use_locking`` has no effect: an
    assignment is atomic as seen from Python."""
    return _variable(ref, "assign").assign(value)


def assign_add(ref, value, use_locking=None, name=None):
    return _variable(ref, "assign_add").assign_add(value)


def assign_sub(ref, value, use_locking=None, name=None):
    return _variable(ref, "assign_sub").assign_sub(value)


# ---------------------------------------------------------------------------------------
# Ops whose TF 1.x third (or later) positional argument is ``name`` or another v1-only
# parameter, where tapegrad (TF 2) has a different one: a positional call written for
# TF 1.x would otherwise land on the wrong parameter.

def transpose(a, perm=None, name="transpose", conjugate=False):
    """TF 1.x order: ``name`` before ``conjugate``."""
    return _s.transpose(a, perm, conjugate=conjugate)


def gather(params, indices, validate_indices=None, name=None, axis=0):
    """TF 1.x order: ``validate_indices`` (ignored: indices are always checked) third."""
    return _ix.gather(params, indices, axis=axis)


def pad(tensor, paddings, mode="CONSTANT", name=None, constant_values=0):
    """TF 1.x order: ``name`` before ``constant_values``."""
    return _ix.pad(tensor, paddings, mode=mode, constant_values=constant_values)


def shape(input, name=None, out_type=np.int32):
    """TF 1.x order: ``name`` before ``out_type``."""
    return _s.shape(input, out_type=out_type)


def size(input, name=None, out_type=np.int32):
    """TF 1.x order: ``name`` before ``out_type``."""
    return _s.size(input, out_type=out_type)


def norm(tensor, ord="euclidean", axis=None, keepdims=None, name=None, keep_dims=None):
    from tapegrad.ops.linalg import norm as _norm

    keepdims = alias("norm", "keepdims", keepdims, "keep_dims", keep_dims, False)
    return _norm(tensor, ord=ord, axis=axis, keepdims=bool(keepdims))


__all__ += ["transpose", "gather", "pad", "shape", "size", "norm"]
