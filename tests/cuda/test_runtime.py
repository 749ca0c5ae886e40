"""runtime.Device against a fake driver: init, context activation, kernel launches
(parameter packing), module-load fallback, device-count failure modes."""
import ctypes

import pytest

from tapegrad.cuda import bindings, compiler, runtime
from tapegrad.cuda.errors import CudaError


class FakeDriver:
    """Implements the few driver calls Device uses, writing through ctypes byref()s."""

    def __init__(self, count=1, reject=()):
        self.count = count
        self.reject = set(reject)
        self.calls = []
        self.loaded = []
        self.launched = []

    def _set(self, ref, value):
        ctypes.cast(ref, ctypes.POINTER(type(ref._obj)))[0] = type(ref._obj)(value)

    def cuInit(self, flags):
        return 0

    def cuDeviceGetCount(self, ref):
        self._set(ref, self.count)
        return 0

    def cuDeviceGet(self, ref, i):
        self._set(ref, 100 + i)
        return 0

    def cuDevicePrimaryCtxRetain(self, ref, dev):
        self._set(ref, 0xC0 + dev.value)
        return 0

    def cuCtxSetCurrent(self, ctx):
        self.calls.append(("ctx", ctx.value))
        return 0

    def cuStreamCreate(self, ref, flags):
        self._set(ref, 0x5)
        return 0

    def cuDeviceGetAttribute(self, ref, attr, dev):
        self._set(ref, {16: 114, 75: 9, 76: 0}[attr])
        return 0

    def cuDeviceGetName(self, buf, n, dev):
        buf.value = b"Fake GPU"
        return 0

    def cuModuleLoadData(self, ref, image):
        origin = "cubin" if image[:4] == b"\x7fELF" else "ptx"
        self.loaded.append(origin)
        if origin in self.reject:
            return 222  # CUDA_ERROR_UNSUPPORTED_PTX_VERSION
        self._set(ref, 0x77)
        return 0

    def cuModuleGetFunction(self, ref, mod, name):
        self._set(ref, 0x1000 + len(name))
        return 0

    def cuLaunchKernel(self, fn, gx, gy, gz, bx, by, bz, shared, stream, params, extra):
        # read back every argument through the pointer array, as the driver does
        ints = [ctypes.cast(params[i], ctypes.POINTER(ctypes.c_int64))[0] for i in range(2)]
        self.launched.append((fn.value, (gx, gy, gz), (bx, by, bz), stream.value, ints))
        return 0

    def cuGetErrorName(self, status, ref):
        return 1

    def cuGetErrorString(self, status, ref):
        return 1


@pytest.fixture
def fake_driver(monkeypatch):
    drv = FakeDriver()
    monkeypatch.setattr(bindings, "driver", lambda: drv)
    monkeypatch.setattr(runtime, "_count", None)
    monkeypatch.setattr(runtime, "_init_error", None)
    monkeypatch.setattr(runtime, "_devices", {})
    monkeypatch.setattr(runtime._tls, "ctx", None, raising=False)
    return drv


def test_device_init_reads_attributes_and_activates(fake_driver):
    assert runtime.device_count() == 1
    dev = runtime.get_device(0)
    assert (dev.sm_count, dev.arch, dev.product) == (114, 90, "Fake GPU")
    assert dev.context.value == 0xC0 + 100 and dev.stream.value == 5
    n = len(fake_driver.calls)
    dev.activate()
    assert len(fake_driver.calls) == n  # already current in this thread: no driver call
    assert runtime.get_device(0) is dev
    with pytest.raises(ValueError, match=r"no CUDA device /gpu:3: this machine has 1"):
        runtime.get_device(3)


def test_launch_packs_argument_addresses(fake_driver, monkeypatch):
    monkeypatch.setattr(compiler, "ptx_candidates", lambda arch: iter([("nvcc", b".entry k()")]))
    dev = runtime.get_device(0)
    dev.launch("k", (3, 1, 1), (256, 1, 1), [ctypes.c_int64(7), ctypes.c_int64(-9)])
    fn, grid, block, stream, ints = fake_driver.launched[-1]
    assert (grid, block, stream, ints) == ((3, 1, 1), (256, 1, 1), 5, [7, -9])
    dev.launch("k", (0, 1, 1), (256, 1, 1), [])  # empty grids launch nothing
    assert len(fake_driver.launched) == 1
    assert dev.module_origin == "nvcc"


def test_rejected_ptx_falls_back_to_the_next_image(fake_driver, monkeypatch):
    fake_driver.reject = {"ptx"}
    images = [("nvcc", b".entry k()"), ("nvrtc-cubin", b"\x7fELF...")]
    monkeypatch.setattr(compiler, "ptx_candidates", lambda arch: iter(images))
    dev = runtime.get_device(0)
    dev.function("k")
    assert fake_driver.loaded == ["ptx", "cubin"] and dev.module_origin == "nvrtc-cubin"


def test_all_images_rejected_raises_with_each_reason(fake_driver, monkeypatch):
    fake_driver.reject = {"ptx", "cubin"}

    def candidates(arch):
        yield "nvcc", b".entry k()"
        raise OSError("libnvrtc not found")

    monkeypatch.setattr(compiler, "ptx_candidates", candidates)
    dev = runtime.get_device(0)
    with pytest.raises(CudaError, match=r"nvcc: .*nvrtc: libnvrtc not found"):
        dev.function("k")


def test_missing_driver_means_zero_devices(monkeypatch):
    def no_driver():
        raise OSError("libcuda.so.1: cannot open shared object file")

    monkeypatch.setattr(bindings, "driver", no_driver)
    monkeypatch.setattr(runtime, "_count", None)
    monkeypatch.setattr(runtime, "_devices", {})
    assert runtime.device_count() == 0
    assert "libcuda" in str(runtime.init_error())
    with pytest.raises(RuntimeError, match="no CUDA device is available for /gpu:0"):
        runtime.get_device(0)


def test_failing_cu_init_means_zero_devices(monkeypatch, fake_driver):
    fake_driver.cuInit = lambda flags: 100  # CUDA_ERROR_NO_DEVICE
    assert runtime.device_count() == 0
    assert isinstance(runtime.init_error(), CudaError)
    assert runtime.init_error().status == 100
