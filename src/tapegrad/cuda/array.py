"""`CudaArray`: the storage of a GPU tensor.

A C-contiguous device buffer plus shape and dtype.  Arrays are treated as
immutable by every op (outputs are always fresh arrays), which is what lets
`reshape` share the buffer and `from_scalar` hand out cached constants.  The
buffer is a `Block` of the device's caching allocator and goes back to it when
the last array using it is collected.
"""
import math
import operator
from collections import OrderedDict

import numpy as np

from . import launch, runtime

_SCALAR_CACHE_SIZE = 256
_scalar_cache = OrderedDict()


def _normalize_shape(shape, what):
    if isinstance(shape, (int, np.integer)):
        shape = (shape,)
    try:
        shape = tuple(operator.index(d) for d in shape)
    except TypeError:
        raise TypeError(f"{what}: shape must be a sequence of ints, got {shape!r}") from None
    if any(d < 0 for d in shape):
        raise ValueError(f"{what}: negative dimension in shape {shape}")
    return shape


class CudaArray:
    __slots__ = ("shape", "dtype", "device_index", "_block", "__weakref__")

    def __init__(self, block, shape, dtype, device_index):
        self._block = block
        self.shape = shape
        self.dtype = dtype
        self.device_index = device_index

    # ------------------------------------------------------------- construction
    @classmethod
    def empty(cls, shape, dtype, device_index=0):
        """Uninitialised array (the caller fills every element)."""
        shape = _normalize_shape(shape, "CudaArray.empty")
        dtype = np.dtype(dtype)
        launch.suffix(dtype, "CudaArray.empty")
        dev = runtime.get_device(device_index)
        nbytes = math.prod(shape) * dtype.itemsize
        return cls(dev.allocator.allocate(nbytes), shape, dtype, device_index)

    @classmethod
    def zeros(cls, shape, dtype, device_index=0):
        out = cls.empty(shape, dtype, device_index)
        runtime.get_device(device_index).memset(out.ptr, 0, out.nbytes)
        return out

    @classmethod
    def from_numpy(cls, arr, device_index=0):
        """Copy a NumPy array (any layout) to the device."""
        arr = np.asarray(arr)
        if not arr.dtype.isnative:
            arr = arr.astype(arr.dtype.newbyteorder("="))
        if arr.dtype not in launch.SUFFIX:
            raise TypeError(f"CudaArray.from_numpy: dtype {arr.dtype} is not supported on "
                            "the GPU (supported: float16, float32, float64, int32, int64, "
                            "bool)")
        if not arr.flags.c_contiguous:
            arr = arr.copy(order="C")  # (np.ascontiguousarray would turn 0-d into 1-d)
        out = cls.empty(arr.shape, arr.dtype, device_index)
        if out.nbytes:
            runtime.get_device(device_index).htod(out.ptr, arr.ctypes.data, out.nbytes)
        return out

    @classmethod
    def from_scalar(cls, value, dtype, device_index=0):
        """A 0-d array holding ``value`` as ``dtype``; small constants are cached, which
        is safe because arrays are never written after creation."""
        dtype = np.dtype(dtype)
        host = np.array(value, dtype=dtype)
        if host.ndim != 0:
            raise ValueError(f"CudaArray.from_scalar: expected a scalar, got shape {host.shape}")
        key = (device_index, dtype.str, host.tobytes())
        hit = _scalar_cache.get(key)
        if hit is not None:
            _scalar_cache.move_to_end(key)
            return hit
        out = cls.from_numpy(host, device_index)
        _scalar_cache[key] = out
        if len(_scalar_cache) > _SCALAR_CACHE_SIZE:
            _scalar_cache.popitem(last=False)
        return out

    # ------------------------------------------------------------- properties
    @property
    def ndim(self):
        return len(self.shape)

    @property
    def size(self):
        return math.prod(self.shape)

    @property
    def itemsize(self):
        return self.dtype.itemsize

    @property
    def nbytes(self):
        return self.size * self.dtype.itemsize

    @property
    def ptr(self):
        return self._block.ptr

    @property
    def device(self):
        return f"/gpu:{self.device_index}"

    @property
    def dev(self):
        """The `runtime.Device` holding this array."""
        return runtime.get_device(self.device_index)

    # ------------------------------------------------------------- copies / views
    def to_numpy(self):
        """A new host ndarray with this array's contents (waits for pending work)."""
        out = np.empty(self.shape, self.dtype)
        if out.nbytes:
            self.dev.dtoh(out.ctypes.data, self.ptr, out.nbytes)
        return out

    def copy(self):
        out = CudaArray.empty(self.shape, self.dtype, self.device_index)
        self.dev.dtod(out.ptr, self.ptr, self.nbytes)
        return out

    def reshape(self, *shape):
        """Same buffer, new shape (one dimension may be -1)."""
        if len(shape) == 1 and not isinstance(shape[0], (int, np.integer)):
            shape = shape[0]
        shape = tuple(operator.index(d) for d in shape)
        if shape.count(-1) > 1 or any(d < -1 for d in shape):
            raise ValueError(f"reshape: invalid target shape {shape}")
        if -1 in shape:
            known = math.prod(d for d in shape if d != -1)
            if known == 0 or self.size % known:
                raise ValueError(f"reshape: cannot reshape array of size {self.size} "
                                 f"into shape {shape}")
            shape = tuple(self.size // known if d == -1 else d for d in shape)
        if math.prod(shape) != self.size:
            raise ValueError(f"reshape: cannot reshape array of shape {self.shape} "
                             f"(size {self.size}) into shape {shape}")
        return CudaArray(self._block, shape, self.dtype, self.device_index)

    def to_device(self, device_index):
        """Copy to another GPU (through the host: works without peer access)."""
        if device_index == self.device_index:
            return self
        return CudaArray.from_numpy(self.to_numpy(), device_index)

    def __len__(self):
        if not self.shape:
            raise TypeError("len() of a 0-d CudaArray")
        return self.shape[0]

    def __repr__(self):
        return (f"CudaArray(shape={self.shape}, dtype={self.dtype.name}, "
                f"device={self.device!r})")
