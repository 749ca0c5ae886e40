"""Input pipelines (``tg.data``) in the style of tf.data, and datasets (``tg.datasets``).

``Dataset.from_tensor_slices((x, y)).shuffle(60000).batch(128)`` iterates tapegrad Tensors;
pipelines over in-memory arrays run as whole-array index gathers, not per-element Python.
"""

from . import experimental
from .dataset import (
    AUTOTUNE,
    INFINITE_CARDINALITY,
    UNKNOWN_CARDINALITY,
    Dataset,
    Iterator,
    OutOfRangeError,
    TensorSpec,
)

__all__ = ["AUTOTUNE", "Dataset", "INFINITE_CARDINALITY", "Iterator", "OutOfRangeError",
           "TensorSpec", "UNKNOWN_CARDINALITY", "experimental"]
