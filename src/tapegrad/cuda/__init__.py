"""tapegrad's CUDA backend (ctypes: driver API, cuBLAS, NVRTC; kernels in kernels.cu).

Importing this package loads no CUDA library: the driver is opened by the first
call that needs it (`device_count()`, a `.gpu()` copy, an op inside
``tg.device("/gpu:0")``).  See README.md here for how the kernels are built.
"""
from .errors import CudaError

__all__ = ["CudaError", "device_count", "empty_cache", "is_available", "memory_stats",
           "synchronize", "reset_peak_stats"]


def device_count():
    """Number of usable CUDA devices (0 without a driver or a GPU)."""
    from . import runtime
    return runtime.device_count()


def is_available():
    """True when at least one CUDA device can be used."""
    return device_count() > 0


def _device(device):
    from . import runtime
    if isinstance(device, str):
        name = device.strip().lower()
        for prefix in ("/gpu:", "gpu:", "/device:gpu:", "cuda:"):
            if name.startswith(prefix):
                device = int(name[len(prefix):])
                break
        else:
            raise ValueError(f"expected a GPU device like '/gpu:0', got {device!r}")
    return runtime.get_device(int(device))


def memory_stats(device=0):
    """The caching allocator's counters for one GPU (bytes and call counts):
    allocated_bytes, reserved_bytes, cached_bytes, peak_allocated_bytes,
    peak_reserved_bytes, active_blocks, cached_blocks, num_allocs, num_frees,
    num_requests, cache_hits, cache_misses."""
    return _device(device).allocator.stats()


def reset_peak_stats(device=0):
    _device(device).allocator.reset_stats()


def empty_cache(device=None):
    """Return cached, unused device memory to the driver (all initialised GPUs by default)."""
    from . import runtime
    devs = [_device(device)] if device is not None else runtime.initialized_devices()
    for d in devs:
        d.allocator.empty_cache()


def synchronize(device=None):
    """Wait until queued GPU work has finished (one device, or every initialised one)."""
    from . import runtime
    if device is None:
        runtime.synchronize()
    else:
        _device(device).synchronize()
