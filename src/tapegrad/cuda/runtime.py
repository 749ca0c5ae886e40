"""Devices: driver initialisation, primary contexts, one stream each, the kernel
module, cuBLAS handles, memory copies and kernel launches.

Everything starts on first use: `device_count()` initialises the driver, and a
`Device` retains its primary context, creates its stream and allocator when
first asked for, and loads the kernel module (PTX from the build, else NVRTC)
when the first kernel is launched.
"""
import ctypes
import threading
from ctypes import byref, c_int, c_size_t, c_void_p

from . import bindings, compiler
from .allocator import CachingAllocator
from .bindings import check
from .errors import CudaError

_lock = threading.RLock()
_tls = threading.local()        # the context made current in this thread
_count = None                   # cached device count (driver init is sticky anyway)
_init_error = None
_devices = {}


def _init():
    """Initialise the driver once; returns the device count (0 without a usable driver)."""
    global _count, _init_error
    if _count is not None:
        return _count
    with _lock:
        if _count is not None:
            return _count
        try:
            drv = bindings.driver()
            check(drv.cuInit(0), "cuda", "cuInit")
            n = c_int()
            check(drv.cuDeviceGetCount(byref(n)), "cuda", "cuDeviceGetCount")
            _count = n.value
        except (OSError, CudaError) as e:
            _init_error = e
            _count = 0
        return _count


def device_count():
    """Number of CUDA devices; 0 when there is no driver or no device."""
    return _init()


def init_error():
    """Why `device_count()` is 0 (an exception), or None."""
    _init()
    return _init_error


def no_device_error(what="this operation"):
    reason = _init_error if _init_error is not None else "the driver reports 0 devices"
    return RuntimeError(f"no CUDA device is available for {what} ({reason})")


def get_device(index=0):
    """The `Device` for ordinal ``index`` (created and activated on first request)."""
    dev = _devices.get(index)
    if dev is not None:
        return dev
    n = device_count()
    if n == 0:
        raise no_device_error(f"/gpu:{index}")
    if not isinstance(index, int) or not 0 <= index < n:
        raise ValueError(f"no CUDA device /gpu:{index}: this machine has {n} "
                         f"(valid: /gpu:0 ... /gpu:{n - 1})")
    with _lock:
        dev = _devices.get(index)
        if dev is None:
            dev = Device(index)
            _devices[index] = dev
    return dev


def initialized_devices():
    return list(_devices.values())


class Device:
    """One GPU: primary context, a stream, a caching allocator, kernels, cuBLAS."""

    def __init__(self, index):
        drv = bindings.driver()
        self.index = index
        self.name = f"/gpu:{index}"
        self._drv = drv
        cu = c_int()
        check(drv.cuDeviceGet(byref(cu), index), "cuda", "cuDeviceGet")
        self.cu_device = cu.value
        ctx = c_void_p()
        check(drv.cuDevicePrimaryCtxRetain(byref(ctx), cu), "cuda", "cuDevicePrimaryCtxRetain")
        self.context = ctx
        self.activate()
        stream = c_void_p()
        check(drv.cuStreamCreate(byref(stream), 0), "cuda", "cuStreamCreate")
        self.stream = stream
        self.sm_count = self.attribute(bindings.CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT)
        self.arch = (10 * self.attribute(bindings.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR)
                     + self.attribute(bindings.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR))
        buf = ctypes.create_string_buffer(256)
        check(drv.cuDeviceGetName(buf, 256, cu), "cuda", "cuDeviceGetName")
        self.product = buf.value.decode(errors="replace")
        self.allocator = CachingAllocator(self._malloc, self._free, self.synchronize)
        self._module = None
        self.module_origin = None
        self._functions = {}
        self._cublas = None
        self._flag = None

    # ------------------------------------------------------------- context / memory
    def activate(self):
        if getattr(_tls, "ctx", None) != self.context.value:
            check(self._drv.cuCtxSetCurrent(self.context), "cuda", "cuCtxSetCurrent")
            _tls.ctx = self.context.value

    def attribute(self, attr):
        v = c_int()
        check(self._drv.cuDeviceGetAttribute(byref(v), attr, self.cu_device), "cuda",
              "cuDeviceGetAttribute")
        return v.value

    def mem_info(self):
        """(free, total) bytes on the device."""
        self.activate()
        free, total = c_size_t(), c_size_t()
        check(self._drv.cuMemGetInfo_v2(byref(free), byref(total)), "cuda", "cuMemGetInfo")
        return free.value, total.value

    def _malloc(self, nbytes):
        self.activate()
        ptr = bindings.CUdeviceptr()
        check(self._drv.cuMemAlloc_v2(byref(ptr), nbytes), "cuda", f"cuMemAlloc({nbytes})")
        return ptr.value

    def _free(self, ptr):
        self.activate()
        check(self._drv.cuMemFree_v2(ptr), "cuda", "cuMemFree")

    def synchronize(self):
        self.activate()
        check(self._drv.cuStreamSynchronize(self.stream), "cuda", "cuStreamSynchronize")

    def htod(self, dst, host, nbytes):
        """Copy ``nbytes`` from host address/array ``host`` to device pointer ``dst``.

        The source may be pageable: the async copy returns once the data is staged,
        so the host buffer can be reused right after."""
        if nbytes:
            self.activate()
            check(self._drv.cuMemcpyHtoDAsync_v2(dst, host, nbytes, self.stream), "cuda",
                  "cuMemcpyHtoDAsync")

    def dtoh(self, host, src, nbytes):
        """Copy device ``src`` into host memory and wait for it (synchronous)."""
        if nbytes:
            self.activate()
            check(self._drv.cuMemcpyDtoHAsync_v2(host, src, nbytes, self.stream), "cuda",
                  "cuMemcpyDtoHAsync")
            self.synchronize()

    def dtod(self, dst, src, nbytes):
        if nbytes:
            self.activate()
            check(self._drv.cuMemcpyDtoDAsync_v2(dst, src, nbytes, self.stream), "cuda",
                  "cuMemcpyDtoDAsync")

    def memset(self, dst, byte, nbytes):
        if nbytes:
            self.activate()
            check(self._drv.cuMemsetD8Async(dst, byte, nbytes, self.stream), "cuda",
                  "cuMemsetD8Async")

    def error_flag(self):
        """A 4-byte device int the gather kernels set on an out-of-range index."""
        if self._flag is None:
            self._flag = self.allocator.allocate(4)
            self.memset(self._flag.ptr, 0, 4)
        return self._flag.ptr

    def take_error_flag(self):
        """Read and clear the flag (synchronizes the stream)."""
        ptr = self.error_flag()
        out = c_int()
        self.dtoh(ctypes.addressof(out), ptr, 4)
        if out.value:
            self.memset(ptr, 0, 4)
        return out.value

    # ------------------------------------------------------------- kernels
    def _load_module(self):
        errors = []
        candidates = compiler.ptx_candidates(self.arch)
        while True:
            try:
                origin, ptx = next(candidates)
            except StopIteration:
                break
            except (OSError, CudaError) as e:  # NVRTC missing or failing
                errors.append(f"nvrtc: {e}")
                break
            mod = c_void_p()
            image = ptx if origin.endswith("cubin") else ptx + b"\0"
            status = self._drv.cuModuleLoadData(byref(mod), image)
            if status == 0:
                self._module = mod
                self.module_origin = origin
                return
            errors.append(f"{origin}: {bindings.error_string(status, 'cuda')[1]}")
        raise CudaError("could not load tapegrad's CUDA kernels: " + "; ".join(errors)
                        + ". If the driver is older than the compiler that produced the PTX, "
                        "update the driver, or install an NVRTC matching it (e.g. "
                        "nvidia-cuda-nvrtc-cu12) and delete kernels.ptx", library="cuda")

    def function(self, name):
        fn = self._functions.get(name)
        if fn is None:
            with _lock:
                self.activate()
                if self._module is None:
                    self._load_module()
                fn = c_void_p()
                check(self._drv.cuModuleGetFunction(byref(fn), self._module, name.encode()),
                      "cuda", f"cuModuleGetFunction({name})")
                self._functions[name] = fn
        return fn

    def launch(self, name, grid, block, args, shared=0):
        """Launch kernel ``name`` with ctypes-valued ``args`` (kept alive by the caller's
        list while cuLaunchKernel copies them)."""
        if grid[0] == 0:
            return
        fn = self.function(name)
        self.activate()
        params = (c_void_p * len(args))(*[ctypes.addressof(a) for a in args])
        check(self._drv.cuLaunchKernel(fn, grid[0], grid[1], grid[2], block[0], block[1],
                                       block[2], shared, self.stream, params, None),
              "cuda", f"cuLaunchKernel({name})")

    # ------------------------------------------------------------- cuBLAS
    def cublas(self):
        """(library, handle) of this device's cuBLAS handle bound to its stream."""
        if self._cublas is None:
            with _lock:
                if self._cublas is None:
                    lib = bindings.cublas()
                    self.activate()
                    handle = c_void_p()
                    check(lib.cublasCreate_v2(byref(handle)), "cublas", "cublasCreate")
                    check(lib.cublasSetStream_v2(handle, self.stream), "cublas",
                          "cublasSetStream")
                    self._cublas = (lib, handle)
        self.activate()
        return self._cublas


def synchronize(index=None):
    """Wait for all queued work on one device (or every initialised one)."""
    devs = [get_device(index)] if index is not None else initialized_devices()
    for d in devs:
        d.synchronize()
