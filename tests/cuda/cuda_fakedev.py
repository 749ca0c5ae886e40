"""A stand-in for `runtime.Device` that records launches instead of running them.

With it every GPU forward runs its real Python logic (shapes, strides, launch
configs, argument marshalling, cuBLAS calls) on a machine without a GPU.  Recorded
launches are checked against the PTX signatures, and cuBLAS calls go through the
real ctypes argtypes (`from_param`), so a wrongly typed argument fails here too.
"""
import ctypes
import itertools

from tapegrad.cuda import bindings, runtime
from tapegrad.cuda.allocator import CachingAllocator


class FakeCublas:
    def __init__(self, calls):
        self._calls = calls

    def __getattr__(self, name):
        restype, argtypes = bindings.CUBLAS[name]

        def call(*args):
            assert len(args) == len(argtypes), f"{name}: {len(args)} args, {len(argtypes)} bound"
            for i, (a, t) in enumerate(zip(args, argtypes)):
                try:
                    t.from_param(a)
                except TypeError as e:
                    raise AssertionError(f"{name} argument {i}: {a!r} is not a {t}: {e}") from None
            self._calls.append((name, args))
            return 0

        return call


class FakeDevice:
    def __init__(self, index=0):
        self.index = index
        self.name = f"/gpu:{index}"
        self.sm_count = 132
        self.arch = 90
        self.launches = []
        self.blas_calls = []
        self._next = itertools.count(1 << 32, 1 << 12)
        self.allocator = CachingAllocator(lambda n: next(self._next), lambda p: None)

    def launch(self, name, grid, block, args, shared=0):
        assert all(isinstance(a, ctypes._SimpleCData) or isinstance(a, ctypes.Structure)
                   for a in args), f"{name}: non-ctypes argument in {args!r}"
        assert block[0] * block[1] * block[2] <= 1024, f"{name}: block {block} too large"
        assert grid[1] <= 65535 and grid[2] <= 65535, f"{name}: grid {grid} too large"
        self.launches.append((name, grid, block, [ctypes.sizeof(a) for a in args]))

    def memset(self, dst, byte, nbytes):
        pass

    def htod(self, dst, host, nbytes):
        pass

    def dtod(self, dst, src, nbytes):
        pass

    def dtoh(self, host, src, nbytes):
        ctypes.memset(host, 0, nbytes)

    def synchronize(self):
        pass

    def error_flag(self):
        return 1 << 40

    def take_error_flag(self):
        return 0

    def cublas(self):
        return FakeCublas(self.blas_calls), ctypes.c_void_p(1)


def install(monkeypatch):
    """Route every device lookup to one `FakeDevice`; returns it."""
    dev = FakeDevice()
    monkeypatch.setattr(runtime, "get_device", lambda index=0: dev)
    monkeypatch.setattr(runtime, "device_count", lambda: 1)
    return dev
