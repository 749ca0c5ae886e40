"""GPU forwards for the array ops (scans, sorting, segment products, scatter updates)
staged through the host: inputs are copied down, the registered CPU forward runs, and
the result is uploaded to the inputs' GPU.

Correct for every input the CPU forward accepts (its index checks included), but each
call pays two transfers; a CUDA kernel can replace any entry without changing callers.
"""

import numpy as np

from .array import CudaArray

STAGED = ("cumsum", "cumprod", "cumulative_logsumexp", "sort", "argsort", "searchsorted",
          "take_along_axis", "take_along_axis_grad", "tensor_scatter_update",
          "unsorted_segment_prod",
          # the array API's extra elementwise functions (ops/ufuncs.py)
          "sinh", "cosh", "tan", "asin", "acos", "atan", "asinh", "acosh", "atanh", "log2",
          "log10", "trunc", "atan2", "hypot", "logaddexp")


def _staged(name):
    def run(*args, **params):
        from tapegrad import _core

        dev = next((a.device_index for a in args if isinstance(a, CudaArray)), 0)
        host = [a.to_numpy() if isinstance(a, CudaArray) else a for a in args]
        out = _core.registry()[name].cpu(*host, **params)
        return CudaArray.from_numpy(np.asarray(out), dev)

    run.__name__ = name
    return run


def impls():
    return {name: _staged(name) for name in STAGED}
