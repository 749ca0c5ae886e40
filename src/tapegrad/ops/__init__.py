"""All ops, one module per family.

Importing this package registers the primitives that ``import tapegrad`` needs (the
operators, the top-level functions, the tape's helpers).  The other families (``_DEFERRED``)
load on first use, to keep ``import tapegrad`` within NumPy's import time + 50 ms (issue
25): as an attribute of this package (``tapegrad.ops.nn``), through ``tg.nn``/``tg.linalg``/
``tg.math``..., or all at once when the whole registry is asked for
(``_core.registry()``, unpickling a primitive), so enumerating it still sees every one.
"""

from importlib import import_module as _import_module

from tapegrad import _core, _tape
from tapegrad.ops import (  # noqa: F401
    complex,
    creation,
    elementwise,
    indexing,
    linalg,
    reductions,
    shape,
)
from tapegrad.ops.elementwise import _add_n, add
from tapegrad.ops.shape import sum_to

_tape._set_helpers(sum_to, add, _add_n)

from tapegrad.ops import indexed_slices as _sparse  # noqa: E402

_tape._set_sparse_helpers(_sparse.IndexedSlices, _sparse.aggregate, _sparse.densify)

# Op families imported on first use rather than by `import tapegrad`: their source is
# most of what the import compiles when no bytecode cache is written (the linalg_*
# decompositions and nn are the largest families here; random pulls in numpy.random,
# ~10 ms on its own).
_DEFERRED = ("control", "conv", "cumulative", "fft", "linalg_base", "linalg_decomp",
             "linalg_expm", "linalg_matrix", "linalg_qr", "linalg_solve", "linalg_spectral",
             "manip", "nn", "random", "scatter", "segment", "sorting", "special", "ufuncs")


def _load_deferred():
    for name in _DEFERRED:
        _import_module("tapegrad.ops." + name)
    _core._set_registry_loader(None)


_core._set_registry_loader(_load_deferred)


# modules reachable as tapegrad.ops.<name> without an import, as when every family loaded
# eagerly: the deferred ones, nn's nn_extra and array (tg's array-op names, tapegrad/__init__)
_SUBMODULES = _DEFERRED + ("array", "nn_extra")


def __getattr__(name):
    if name in _SUBMODULES:
        return _import_module("tapegrad.ops." + name)
    raise AttributeError("module 'tapegrad.ops' has no attribute %r" % name)


def __dir__():
    return sorted(set(globals()) | set(_SUBMODULES))
