"""Applying IndexedSlices gradients (row lookups) to the touched rows only.

The default rule, for every optimizer, gathers the touched rows of the variable and of
its slots, runs the optimizer's own dense CPU rule on those rows, and writes them back:
for SGD this is exactly the dense update; for optimizers with state (Momentum, Adam,
RMSProp, Adagrad, ...) it is the "lazy" variant (TF's LazyAdam): rows that no lookup
touched keep their slots unchanged instead of decaying, the usual choice for large
embeddings.  Repeated indices are summed first.
"""

import numpy as np

__all__ = ["apply_sparse_numpy"]


def apply_sparse_numpy(optimizer, grad, var, slots, hyper, where):
    if grad.dense_shape != tuple(var.shape):
        raise ValueError(f"{where}: sparse gradient of dense shape {grad.dense_shape} does not "
                         f"match variable {var.name!r} of shape {tuple(var.shape)}")
    indices, values = grad.deduplicated()
    if values.dtype != var.dtype:
        values = values.astype(var.dtype)
    var_arr = var._inplace_array()
    slot_arrs = [slot._inplace_array() for slot in slots]
    rows = np.ascontiguousarray(var_arr[indices])
    slot_rows = [np.ascontiguousarray(a[indices]) for a in slot_arrs]
    optimizer._apply_dense_numpy(values, rows, slot_rows, hyper)
    var_arr[indices] = rows
    for arr, updated in zip(slot_arrs, slot_rows):
        arr[indices] = updated
