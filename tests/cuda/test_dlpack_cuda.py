"""DLPack export of GPU tensors, checked on the fake device (cuda_fakedev.py): the
capsule's DLManagedTensor(Versioned) holds the device pointer, kDLCUDA and the device
index, shape, strides, dtype and the read-only flag, and the buffer stays alive until
the deleter runs (called by a consumer, or by the capsule when nobody consumed it)."""

import ctypes
import gc

import numpy as np
import pytest

from tapegrad import _core


def _capi(name, restype, *argtypes):
    return ctypes.PYFUNCTYPE(restype, *argtypes)((name, ctypes.pythonapi))


_get_pointer = _capi("PyCapsule_GetPointer", ctypes.c_void_p, ctypes.py_object,
                     ctypes.c_char_p)
_get_name = _capi("PyCapsule_GetName", ctypes.c_char_p, ctypes.py_object)
_set_name = _capi("PyCapsule_SetName", ctypes.c_int, ctypes.py_object, ctypes.c_char_p)


@pytest.fixture
def fake(monkeypatch):
    import cuda_fakedev as fakedev

    return fakedev.install(monkeypatch)


def _gpu_tensor(values):
    from tapegrad.cuda.array import CudaArray

    return _core._wrap_device(CudaArray.from_numpy(np.asarray(values)))


def _managed(capsule, versioned=True):
    from tapegrad.cuda import dlpack as D

    name = b"dltensor_versioned" if versioned else b"dltensor"
    assert _get_name(capsule) == name
    ptr = _get_pointer(capsule, name)
    cls = D.DLManagedTensorVersioned if versioned else D.DLManagedTensor
    return ctypes.cast(ptr, ctypes.POINTER(cls)).contents


def test_export_carries_the_device_pointer_and_layout(fake):
    from tapegrad.cuda import dlpack as D

    t = _gpu_tensor(np.zeros((2, 3), np.float32))
    assert t.__dlpack_device__() == (2, 0)
    before = D.live_count()
    cap = t.__dlpack__(max_version=(1, 0))
    m = _managed(cap)
    dl = m.dl_tensor
    assert (m.version.major, m.version.minor) == (1, 0)
    assert m.flags & D.FLAG_READ_ONLY and not m.flags & D.FLAG_IS_COPIED
    assert dl.data == t._data.ptr                      # zero copy: tapegrad's buffer
    assert (dl.device.device_type, dl.device.device_id) == (2, 0)
    assert dl.ndim == 2 and [dl.shape[i] for i in range(2)] == [2, 3]
    assert [dl.strides[i] for i in range(2)] == [3, 1]  # elements, C order
    assert (dl.dtype.code, dl.dtype.bits, dl.dtype.lanes) == (2, 32, 1)
    assert dl.byte_offset == 0
    assert D.live_count() == before + 1
    # an unconsumed capsule releases its tensor when collected
    del cap, m, dl
    gc.collect()
    assert D.live_count() == before


def test_a_consumer_calls_the_deleter(fake):
    from tapegrad.cuda import dlpack as D

    t = _gpu_tensor(np.arange(4, dtype=np.int64))
    before = D.live_count()
    cap = t.__dlpack__(max_version=(1, 1))
    m = _managed(cap)
    assert (m.dl_tensor.dtype.code, m.dl_tensor.dtype.bits) == (0, 64)
    # what a consumer does: take ownership (rename), later call the deleter
    assert _set_name(cap, b"used_dltensor_versioned") == 0
    m.deleter(ctypes.pointer(m))
    assert D.live_count() == before
    del cap, m
    gc.collect()
    assert D.live_count() == before                   # no double release


def test_legacy_consumers_and_copies_get_a_device_copy(fake):
    from tapegrad.cuda import dlpack as D

    t = _gpu_tensor(np.ones((3,), np.float64))
    cap = t.__dlpack__()                              # pre-1.0 consumer: no read-only flag
    m = _managed(cap, versioned=False)
    assert m.dl_tensor.data != t._data.ptr and m.dl_tensor.device.device_type == 2
    cap2 = t.__dlpack__(max_version=(1, 0), copy=True)
    m2 = _managed(cap2)
    assert m2.flags & D.FLAG_IS_COPIED and not m2.flags & D.FLAG_READ_ONLY
    assert m2.dl_tensor.data != t._data.ptr
    with pytest.raises(BufferError, match="copy=False"):
        t.__dlpack__(copy=False)
    with pytest.raises(BufferError, match="device"):
        t.__dlpack__(max_version=(1, 0), dl_device=(2, 1))
    # to the CPU: a host copy, as a CPU capsule
    host = np.from_dlpack(_HostOnly(t))
    assert host.shape == (3,)
    del cap, m, cap2, m2


class _HostOnly:
    """Asks the tensor for a CPU export, as a consumer passing dl_device would."""

    def __init__(self, t):
        self.t = t

    def __dlpack__(self, **kw):
        kw.pop("dl_device", None)
        return self.t.__dlpack__(dl_device=(1, 0), **kw)

    def __dlpack_device__(self):
        return (1, 0)
