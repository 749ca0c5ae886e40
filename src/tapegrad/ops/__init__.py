"""All ops, one module per family; importing this package registers every primitive."""

from tapegrad import _tape
from tapegrad.ops import (  # noqa: F401
    complex,
    control,
    creation,
    cumulative,
    elementwise,
    fft,
    linalg,
    linalg_decomp,
    linalg_matrix,
    manip,
    nn,
    random,
    reductions,
    scatter,
    segment,
    shape,
    sorting,
    special,
    ufuncs,
)
from tapegrad.ops.elementwise import _add_n, add
from tapegrad.ops.shape import sum_to

_tape._set_helpers(sum_to, add, _add_n)

from tapegrad.ops import indexed_slices as _sparse  # noqa: E402

_tape._set_sparse_helpers(_sparse.IndexedSlices, _sparse.aggregate, _sparse.densify)
