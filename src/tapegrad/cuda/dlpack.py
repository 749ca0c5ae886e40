"""DLPack export of GPU tensors: a ``DLManagedTensorVersioned`` (DLPack 1.0) or legacy
``DLManagedTensor`` capsule whose ``data`` is the CUDA device pointer, built with ctypes.

The capsule keeps the ``CudaArray`` (and so its allocator block) alive until the
consumer calls the deleter, or until the capsule is collected unconsumed (its
destructor calls the deleter then).  tapegrad queues all work on one stream per device,
so the export waits for that stream first: whatever stream the consumer reads on then
sees finished data.  Tensors are immutable, so a DLPack 1.0 export carries the
read-only flag; a legacy (pre-1.0) consumer, which cannot be told, gets a device copy.
"""

import ctypes

import numpy as np

KDLCPU = 1
KDLCUDA = 2
FLAG_READ_ONLY = 1 << 0
FLAG_IS_COPIED = 1 << 1

# DLDataTypeCode
_CODES = {"i": 0, "u": 1, "f": 2, "c": 5, "b": 6}


class DLDevice(ctypes.Structure):
    _fields_ = [("device_type", ctypes.c_int32), ("device_id", ctypes.c_int32)]


class DLDataType(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint8), ("bits", ctypes.c_uint8), ("lanes", ctypes.c_uint16)]


class DLTensor(ctypes.Structure):
    _fields_ = [("data", ctypes.c_void_p), ("device", DLDevice), ("ndim", ctypes.c_int32),
                ("dtype", DLDataType), ("shape", ctypes.POINTER(ctypes.c_int64)),
                ("strides", ctypes.POINTER(ctypes.c_int64)), ("byte_offset", ctypes.c_uint64)]


class DLPackVersion(ctypes.Structure):
    _fields_ = [("major", ctypes.c_uint32), ("minor", ctypes.c_uint32)]


class DLManagedTensorVersioned(ctypes.Structure):
    pass


class DLManagedTensor(ctypes.Structure):
    pass


DELETER_VERSIONED = ctypes.CFUNCTYPE(None, ctypes.POINTER(DLManagedTensorVersioned))
DELETER = ctypes.CFUNCTYPE(None, ctypes.POINTER(DLManagedTensor))
DLManagedTensorVersioned._fields_ = [
    ("version", DLPackVersion), ("manager_ctx", ctypes.c_void_p),
    ("deleter", DELETER_VERSIONED), ("flags", ctypes.c_uint64), ("dl_tensor", DLTensor)]
DLManagedTensor._fields_ = [("dl_tensor", DLTensor), ("manager_ctx", ctypes.c_void_p),
                            ("deleter", DELETER)]

# address of a managed struct -> what it keeps alive (the struct, shape/strides, array)
_LIVE = {}


def _release(ptr):
    _LIVE.pop(ctypes.cast(ptr, ctypes.c_void_p).value, None)


_delete_versioned = DELETER_VERSIONED(_release)
_delete_legacy = DELETER(_release)

# capsule names: module-level bytes, because a capsule keeps the pointer, not a copy
NAME_VERSIONED = b"dltensor_versioned"
NAME_LEGACY = b"dltensor"


def _capi(name, restype, *argtypes):
    # private prototypes: setting argtypes on ctypes.pythonapi's shared attributes would
    # change them for every other user in the process
    return ctypes.PYFUNCTYPE(restype, *argtypes)((name, ctypes.pythonapi))


_capsule_new = _capi("PyCapsule_New", ctypes.py_object, ctypes.c_void_p, ctypes.c_char_p,
                     ctypes.c_void_p)
# on a dying capsule: raw pointers (a py_object argument would revive it)
_capsule_is_valid = _capi("PyCapsule_IsValid", ctypes.c_int, ctypes.c_void_p, ctypes.c_char_p)
_capsule_pointer = _capi("PyCapsule_GetPointer", ctypes.c_void_p, ctypes.c_void_p,
                         ctypes.c_char_p)

_DESTRUCTOR = ctypes.CFUNCTYPE(None, ctypes.c_void_p)


@_DESTRUCTOR
def _capsule_destructor(capsule):
    # the raw PyObject* of a dying capsule (no py_object: it must not be revived).  A
    # consumer renames the capsule to used_dltensor*; only an unconsumed one still owns
    # its tensor and must call the deleter.
    for name in (NAME_VERSIONED, NAME_LEGACY):
        if _capsule_is_valid(capsule, name):
            _release(_capsule_pointer(capsule, name))
            return


def dtype_of(dtype):
    dt = np.dtype(dtype)
    code = _CODES.get(dt.kind)
    if code is None:
        raise BufferError("__dlpack__: dtype %s has no DLPack code" % dt)
    return DLDataType(code, dt.itemsize * 8, 1)


def export(array, versioned, read_only=True, copied=False):
    """A DLPack capsule over ``array`` (a C-contiguous ``CudaArray``)."""
    nd = len(array.shape)
    shape = (ctypes.c_int64 * max(nd, 1))(*array.shape)
    strides = (ctypes.c_int64 * max(nd, 1))(*_c_strides(array.shape))
    tensor = DLTensor(ctypes.c_void_p(array.ptr or None), DLDevice(KDLCUDA, array.device_index),
                      nd, dtype_of(array.dtype), shape, strides, 0)
    if versioned:
        flags = (FLAG_READ_ONLY if read_only else 0) | (FLAG_IS_COPIED if copied else 0)
        managed = DLManagedTensorVersioned(DLPackVersion(1, 0), None, _delete_versioned,
                                           flags, tensor)
        name = NAME_VERSIONED
    else:
        managed = DLManagedTensor(tensor, None, _delete_legacy)
        name = NAME_LEGACY
    address = ctypes.addressof(managed)
    _LIVE[address] = (managed, shape, strides, array)
    return _capsule_new(address, name, ctypes.cast(_capsule_destructor, ctypes.c_void_p))


def _c_strides(shape):
    # in elements (DLPack's unit), C order
    out, step = [], 1
    for d in reversed(shape):
        out.append(step)
        step *= max(int(d), 1)
    return tuple(reversed(out))


def live_count():
    """How many exported capsules still hold their array (for tests)."""
    return len(_LIVE)
