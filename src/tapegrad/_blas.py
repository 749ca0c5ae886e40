"""Find NumPy's OpenBLAS for the kernels' own GEMM calls.

tapegrad's matrix products run on its own thread pool, each part a single-threaded call
into NumPy's OpenBLAS (docs/architecture.md §5.4).  On the first product, threadpoolctl
(which knows where every loaded BLAS lives) gives the library's path, and the kernels
look its entry points up there, in the copy already loaded.  When NumPy's BLAS is not an
OpenBLAS (MKL, Accelerate) or lacks the symbols, nothing is bound and the products go
through ``np.matmul`` as before, threaded by that BLAS.  ``TAPEGRAD_POOL_GEMM=0`` asks
for that arrangement on purpose (docs/architecture.md §5.4 measures both).
"""

import os

import numpy as np

from tapegrad import _kernels

_bound = None


def _numpy_uses_openblas():
    try:
        config = np.show_config(mode="dicts")
        name = config["Build Dependencies"]["blas"]["name"]
    except Exception:      # an older NumPy without dict output, or a changed layout
        return False
    return "openblas" in str(name).lower()


def _candidates():
    import threadpoolctl
    libs = [i for i in threadpoolctl.threadpool_info()
            if i.get("internal_api") == "openblas" and i.get("filepath")]
    # NumPy's own copy first: SciPy's wheels carry a second OpenBLAS with its own pool
    libs.sort(key=lambda i: "numpy" not in i["filepath"])
    return [i["filepath"] for i in libs]


def bind():
    """Bind the kernels to NumPy's OpenBLAS once; True when bound."""
    global _bound
    if _bound is not None:
        return _bound
    _bound = False
    if os.environ.get("TAPEGRAD_POOL_GEMM", "1") == "0":
        return False        # products through np.matmul, threaded by OpenBLAS's own pool
    try:
        if not _numpy_uses_openblas():
            return False
        paths = _candidates()
    except ImportError:     # threadpoolctl missing: products stay on np.matmul
        return False
    _bound = any(_kernels.bind_blas(path) for path in paths)
    return _bound
