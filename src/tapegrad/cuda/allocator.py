"""A caching device allocator.

cuMemAlloc/cuMemFree are slow (they synchronize and talk to the driver), and a
training loop frees and re-requests the same sizes every step.  So freed blocks
go to a per-size-class free list and are handed out again; device memory is
returned to the driver only by `empty_cache()` or when an allocation fails for
lack of memory (then the cache is emptied and the allocation retried once).

Reuse is safe without events because every array on a device is produced and
consumed on that device's one stream, in order: a block freed by the host can
only be overwritten by work queued after the work that last read it.

The allocator is independent of CUDA: it is given ``malloc(nbytes) -> ptr`` and
``free(ptr)`` callables, which lets the tests drive it with a fake device.
"""
import threading

from .errors import CudaError

MIN_BLOCK = 512          # smallest size class (bytes); also the alignment granule
SMALL_LIMIT = 1 << 20    # up to 1 MiB: classes are multiples of 512 bytes
CUDA_ERROR_OUT_OF_MEMORY = 2


def size_class(nbytes):
    """The rounded size a request of ``nbytes`` is served from.

    Up to 1 MiB, multiples of 512 bytes; above, four classes per power of two
    (at most 25% waste), so a reused block is never much larger than asked.
    """
    nbytes = int(nbytes)
    if nbytes < 0:
        raise ValueError(f"size_class: negative size {nbytes}")
    if nbytes <= MIN_BLOCK:
        return MIN_BLOCK
    if nbytes <= SMALL_LIMIT:
        return -(-nbytes // MIN_BLOCK) * MIN_BLOCK
    granule = 1 << ((nbytes - 1).bit_length() - 3)
    return -(-nbytes // granule) * granule


class Block:
    """One device allocation lent to an array; returns itself to the allocator when
    the last array using it is garbage-collected."""

    __slots__ = ("ptr", "size", "allocator", "__weakref__")

    def __init__(self, ptr, size, allocator):
        self.ptr = ptr
        self.size = size
        self.allocator = allocator

    def __del__(self):
        alloc = self.allocator
        if alloc is not None and self.ptr:
            try:
                alloc.release(self.ptr, self.size)
            except Exception:  # noqa: BLE001 - interpreter shutdown or a dead context
                pass


class CachingAllocator:
    def __init__(self, malloc, free, synchronize=None):
        self._malloc = malloc
        self._free = free
        self._synchronize = synchronize
        self._lock = threading.RLock()  # re-entrant: GC may free a Block inside malloc
        self._cache = {}                # size class -> [ptr, ...]
        self._live = {}                 # ptr -> size class
        self._live_bytes = 0
        self._cached_bytes = 0
        self.reset_stats()

    def reset_stats(self):
        with self._lock:
            self._peak = self.allocated_bytes()
            self._peak_reserved = self.reserved_bytes()
            self._num_allocs = 0
            self._num_frees = 0
            self._hits = 0
            self._misses = 0
            self._requested = 0

    def allocated_bytes(self):
        return self._live_bytes

    def cached_bytes(self):
        return self._cached_bytes

    def reserved_bytes(self):
        return self.allocated_bytes() + self.cached_bytes()

    def allocate(self, nbytes):
        """A `Block` of at least ``nbytes`` (``nbytes == 0`` gives a null block)."""
        if nbytes == 0:
            return Block(0, 0, None)
        size = size_class(nbytes)
        with self._lock:
            self._requested += 1
            free = self._cache.get(size)
            if free:
                ptr = free.pop()
                self._cached_bytes -= size
                self._hits += 1
            else:
                self._misses += 1
                ptr = self._device_malloc(size)
            self._live[ptr] = size
            self._live_bytes += size
            self._peak = max(self._peak, self._live_bytes)
            self._peak_reserved = max(self._peak_reserved, self._live_bytes + self._cached_bytes)
        return Block(ptr, size, self)

    def _device_malloc(self, size):
        try:
            ptr = self._malloc(size)
        except CudaError as e:
            if e.status != CUDA_ERROR_OUT_OF_MEMORY or not self._cache:
                raise
            self.empty_cache()
            try:
                ptr = self._malloc(size)
            except CudaError as e2:
                raise CudaError(
                    f"{e2} (requested {size} bytes; {self.allocated_bytes()} bytes in live "
                    "arrays after emptying the cache)", status=e2.status,
                    library=e2.library, name=e2.name) from None
        self._num_allocs += 1
        return ptr

    def release(self, ptr, size):
        """Return a block to the cache (called by `Block.__del__`)."""
        with self._lock:
            if self._live.pop(ptr, None) is None:
                raise ValueError(f"release: pointer {ptr:#x} is not a live block of this "
                                 "allocator (double free?)")
            self._live_bytes -= size
            self._cache.setdefault(size, []).append(ptr)
            self._cached_bytes += size

    def empty_cache(self):
        """Give every cached (unused) block back to the driver."""
        with self._lock:
            if self._synchronize is not None and self._cache:
                self._synchronize()  # pending kernels may still read a cached block
            for ptrs in self._cache.values():
                for ptr in ptrs:
                    self._free(ptr)
                    self._num_frees += 1
            self._cache.clear()
            self._cached_bytes = 0

    def stats(self):
        """Counters in bytes and calls (a new dict)."""
        with self._lock:
            return {
                "allocated_bytes": self.allocated_bytes(),
                "reserved_bytes": self.reserved_bytes(),
                "cached_bytes": self.cached_bytes(),
                "peak_allocated_bytes": self._peak,
                "peak_reserved_bytes": self._peak_reserved,
                "active_blocks": len(self._live),
                "cached_blocks": sum(len(p) for p in self._cache.values()),
                "num_allocs": self._num_allocs,
                "num_frees": self._num_frees,
                "num_requests": self._requested,
                "cache_hits": self._hits,
                "cache_misses": self._misses,
            }
