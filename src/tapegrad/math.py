"""``tg.math``: the one namespace of every elementwise and reduction op (TF 1.x's
``tf.math``).  A namespace only: each name is the function defined in ``tapegrad.ops``
(elementwise, reductions, special, complex, nn, cumulative, segment, sorting, and
math_misc's compositions), nothing is defined twice.

``abs`` here is the complex-aware one: the magnitude (a real tensor) of a complex
input, the usual abs otherwise.  Complex gradients follow PyTorch/TF: for a real loss L
of z = x + iy the gradient is dL/dx + i dL/dy (see ops/complex.py).
"""

from tapegrad.ops.complex import abs, angle, complex, conj, imag, real  # noqa: A004
from tapegrad.ops.cumulative import cumprod, cumsum, cumulative_logsumexp
from tapegrad.ops.elementwise import (
    add,
    add_n,
    cast,
    ceil,
    cos,
    divide,
    equal,
    exp,
    expm1,
    floor,
    floordiv,
    floormod,
    greater,
    greater_equal,
    is_finite,
    is_inf,
    is_nan,
    less,
    less_equal,
    log,
    log1p,
    logical_and,
    logical_not,
    logical_or,
    logical_xor,
    maximum,
    minimum,
    multiply,
    negative,
    not_equal,
    pow,
    reciprocal,
    round,
    rsqrt,
    sigmoid,
    sign,
    sin,
    sqrt,
    square,
    subtract,
    tanh,
)
from tapegrad.ops.linalg import norm
from tapegrad.ops.math_misc import (
    accumulate_n,
    bessel_i0,
    bessel_i1,
    bincount,
    confusion_matrix,
    invert_permutation,
    is_non_decreasing,
    is_strictly_increasing,
    polyval,
    reciprocal_no_nan,
    rint,
    scalar_mul,
    unsorted_segment_sqrt_n,
    zero_fraction,
)
from tapegrad.ops.nn import (
    in_top_k,
    l2_normalize,
    log_softmax,
    softmax,
    softplus,
    softsign,
)
from tapegrad.ops.reductions import (
    argmax,
    argmin,
    count_nonzero,
    reduce_all,
    reduce_any,
    reduce_logsumexp,
    reduce_max,
    reduce_mean,
    reduce_min,
    reduce_prod,
    reduce_std,
    reduce_sum,
    reduce_variance,
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
from tapegrad.ops.sorting import top_k
from tapegrad.ops.special import (
    acos,
    acosh,
    asin,
    asinh,
    atan,
    atan2,
    atanh,
    bessel_i0e,
    bessel_i1e,
    betainc,
    cosh,
    digamma,
    divide_no_nan,
    erf,
    erfc,
    erfinv,
    igamma,
    igammac,
    lbeta,
    lgamma,
    log_sigmoid,
    multiply_no_nan,
    ndtri,
    polygamma,
    sinh,
    squared_difference,
    tan,
    xdivy,
    xlog1py,
    xlogy,
    zeta,
)


def reduce_euclidean_norm(input_tensor, axis=None, keepdims=False, name=None):
    """sqrt(sum(x^2)) over ``axis``, computed without under/overflow (``tg.norm``)."""
    return norm(input_tensor, "euclidean", axis=axis, keepdims=keepdims)


# TF 1.x spellings
truediv = divide
mod = floormod
mul = multiply
div = divide
sub = subtract
neg = negative

__all__ = sorted(n for n in dir() if not n.startswith("_"))
