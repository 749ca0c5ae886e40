"""The array-op and control-flow names, gathered for ``tg``, ``compat.tf1`` and ``tg.math``.

``MATH_NAMES`` are the ones TF files under ``tf.math`` (tg.math re-exports them).
"""

from tapegrad.ops.control import case, cond, switch_case, while_loop
from tapegrad.ops.cumulative import cumprod, cumsum, cumulative_logsumexp
from tapegrad.ops.manip import boolean_mask, meshgrid, repeat, reverse, roll
from tapegrad.ops.scatter import (
    gather,
    gather_nd,
    scatter_nd,
    tensor_scatter_nd_add,
    tensor_scatter_nd_max,
    tensor_scatter_nd_min,
    tensor_scatter_nd_sub,
    tensor_scatter_nd_update,
)
from tapegrad.ops.segment import (
    segment_max,
    segment_mean,
    segment_min,
    segment_prod,
    segment_sum,
    unsorted_segment_max,
    unsorted_segment_mean,
    unsorted_segment_min,
    unsorted_segment_prod,
    unsorted_segment_sum,
)
from tapegrad.ops.sorting import (
    argsort,
    searchsorted,
    sort,
    take_along_axis,
    top_k,
    unique,
    unique_with_counts,
)

__all__ = [
    "argsort", "boolean_mask", "case", "cond", "cumprod", "cumsum", "cumulative_logsumexp",
    "gather", "gather_nd", "meshgrid", "repeat", "reverse", "roll", "scatter_nd",
    "searchsorted", "segment_max", "segment_mean", "segment_min", "segment_prod",
    "segment_sum", "sort", "switch_case", "take_along_axis", "tensor_scatter_nd_add",
    "tensor_scatter_nd_max", "tensor_scatter_nd_min", "tensor_scatter_nd_sub",
    "tensor_scatter_nd_update", "top_k", "unique", "unique_with_counts",
    "unsorted_segment_max", "unsorted_segment_mean", "unsorted_segment_min",
    "unsorted_segment_prod", "unsorted_segment_sum", "while_loop",
]

MATH_NAMES = (
    "cumsum", "cumprod", "cumulative_logsumexp", "top_k", "segment_sum", "segment_mean",
    "segment_max", "segment_min", "segment_prod", "unsorted_segment_sum",
    "unsorted_segment_mean", "unsorted_segment_max", "unsorted_segment_min",
    "unsorted_segment_prod", "argsort", "sort", "reverse", "searchsorted",
)
