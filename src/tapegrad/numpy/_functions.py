"""The array API standard's functions outside the elementwise family and the
extensions, gathered from their modules by family (creation, data types,
manipulation and indexing, products, statistics, searching / sorting / sets) plus the
NumPy spellings autograd/JAX code writes.  ``tapegrad.numpy`` re-exports ``__all__``.
"""

from tapegrad.numpy import (
    _creation,
    _dtype_functions,
    _manipulation,
    _numpy_compat,
    _products,
    _searching,
    _statistics,
)
from tapegrad.numpy._creation import *  # noqa: F403
from tapegrad.numpy._creation import CPU, _check_device  # noqa: F401
from tapegrad.numpy._dtype_functions import *  # noqa: F403
from tapegrad.numpy._manipulation import *  # noqa: F403
from tapegrad.numpy._manipulation import _norm_axis  # noqa: F401
from tapegrad.numpy._numpy_compat import *  # noqa: F403
from tapegrad.numpy._products import *  # noqa: F403
from tapegrad.numpy._searching import *  # noqa: F403
from tapegrad.numpy._statistics import *  # noqa: F403

__all__ = (list(_creation.__all__) + list(_dtype_functions.__all__)
           + list(_manipulation.__all__) + list(_products.__all__)
           + list(_statistics.__all__) + list(_searching.__all__)
           + list(_numpy_compat.__all__))
