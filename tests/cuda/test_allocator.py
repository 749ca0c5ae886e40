"""The caching allocator, driven by a fake device malloc/free."""
import gc

import pytest

from tapegrad.cuda.allocator import MIN_BLOCK, CachingAllocator, size_class
from tapegrad.cuda.errors import CudaError


class FakeMemory:
    def __init__(self, capacity=1 << 30):
        self.capacity = capacity
        self.used = 0
        self.blocks = {}
        self.next = 1 << 20
        self.mallocs = 0
        self.frees = 0

    def malloc(self, n):
        if self.used + n > self.capacity:
            raise CudaError("cuda error 2 (CUDA_ERROR_OUT_OF_MEMORY)", status=2, library="cuda")
        ptr = self.next
        self.next += n + 4096
        self.blocks[ptr] = n
        self.used += n
        self.mallocs += 1
        return ptr

    def free(self, ptr):
        self.used -= self.blocks.pop(ptr)
        self.frees += 1


def make(capacity=1 << 30):
    mem = FakeMemory(capacity)
    syncs = []
    return CachingAllocator(mem.malloc, mem.free, lambda: syncs.append(1)), mem, syncs


@pytest.mark.parametrize("n,expected", [(0, 512), (1, 512), (512, 512), (513, 1024),
                                        (1 << 20, 1 << 20), ((1 << 20) + 1, 1310720),
                                        (3 << 20, 3 << 20), ((3 << 20) + 5, 3670016)])
def test_size_classes(n, expected):
    assert size_class(n) == expected


def test_size_class_waste_is_bounded():
    for n in list(range(1, 5000, 97)) + [10**6 + k for k in range(0, 10**7, 999_983)]:
        c = size_class(n)
        assert c >= n and c % MIN_BLOCK == 0
        assert c <= max(MIN_BLOCK, n * 1.25 + MIN_BLOCK)


def test_size_class_rejects_negative():
    with pytest.raises(ValueError, match="negative size"):
        size_class(-1)


def test_freed_blocks_are_reused_by_size_class():
    alloc, mem, _ = make()
    b = alloc.allocate(1000)
    ptr = b.ptr
    del b
    gc.collect()
    assert alloc.stats()["cached_blocks"] == 1
    b2 = alloc.allocate(700)  # same 1024-byte class
    assert b2.ptr == ptr and mem.mallocs == 1
    b3 = alloc.allocate(5000)  # another class: a new device allocation
    assert b3.ptr != ptr and mem.mallocs == 2
    s = alloc.stats()
    assert s["cache_hits"] == 1 and s["cache_misses"] == 2 and s["num_allocs"] == 2
    assert s["allocated_bytes"] == 1024 + size_class(5000)


def test_stats_track_peak_and_reserved():
    alloc, mem, _ = make()
    blocks = [alloc.allocate(4096) for _ in range(4)]
    assert alloc.stats()["peak_allocated_bytes"] == 4 * 4096
    del blocks
    gc.collect()
    s = alloc.stats()
    assert s["allocated_bytes"] == 0
    assert s["reserved_bytes"] == s["cached_bytes"] == 4 * 4096
    assert s["peak_allocated_bytes"] == 4 * 4096 and mem.used == 4 * 4096


def test_empty_cache_returns_memory_after_synchronizing():
    alloc, mem, syncs = make()
    b = alloc.allocate(10_000)
    del b
    gc.collect()
    alloc.empty_cache()
    assert mem.used == 0 and mem.frees == 1 and syncs == [1]
    assert alloc.stats()["reserved_bytes"] == 0


def test_out_of_memory_empties_cache_and_retries():
    alloc, mem, syncs = make(capacity=3 * 4096)
    a, b = alloc.allocate(4096), alloc.allocate(4096)
    del a
    gc.collect()
    c = alloc.allocate(8192)  # needs the cached block's memory back
    assert c.ptr and mem.frees == 1 and syncs == [1]
    del b


def test_out_of_memory_without_cache_raises_cuda_error():
    alloc, _, _ = make(capacity=4096)
    keep = alloc.allocate(4096)
    with pytest.raises(CudaError) as ei:
        alloc.allocate(4096)
    assert ei.value.status == 2
    del keep


def test_other_errors_propagate_untouched():
    def bad_malloc(n):
        raise CudaError("cuda error 700", status=700, library="cuda")
    alloc = CachingAllocator(bad_malloc, lambda p: None)
    with pytest.raises(CudaError, match="700"):
        alloc.allocate(10)


def test_zero_size_needs_no_device_memory():
    alloc, mem, _ = make()
    b = alloc.allocate(0)
    assert b.ptr == 0 and mem.mallocs == 0
    del b
    assert alloc.stats()["active_blocks"] == 0


def test_double_release_is_detected():
    alloc, _, _ = make()
    b = alloc.allocate(100)
    alloc.release(b.ptr, b.size)
    with pytest.raises(ValueError, match="double free"):
        alloc.release(b.ptr, b.size)
    b.allocator = None  # already released by hand


def test_reset_stats_keeps_live_peak():
    alloc, _, _ = make()
    keep = alloc.allocate(2048)
    tmp = alloc.allocate(8192)
    del tmp
    gc.collect()
    alloc.reset_stats()
    s = alloc.stats()
    assert s["peak_allocated_bytes"] == 2048 and s["num_allocs"] == 0
    del keep
