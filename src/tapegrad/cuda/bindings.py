"""ctypes signatures for the CUDA driver API, cuBLAS (v2) and NVRTC.

This is the only module that knows C signatures.  Libraries are located
(`find_library`) and opened on first use (`driver()`, `cublas()`, `nvrtc()`),
never at import, so ``import tapegrad`` does not touch CUDA.  Every call's
status goes through one function, `check`, which raises `CudaError` with the
library's own error string.

Types follow the headers: handles (CUcontext, CUstream, CUmodule, CUfunction,
cublasHandle_t, nvrtcProgram) are pointers, CUdeviceptr is a 64-bit integer,
enums are C ints.  ``tests/cuda/test_bindings.py`` parses cuda.h, cublas_api.h
and nvrtc.h (when installed) and compares every signature below with them.
"""
import ctypes
import glob
import os
import site
import sys
import threading
from ctypes import (
    POINTER,
    c_char_p,
    c_double,
    c_float,
    c_int,
    c_int64,
    c_longlong,
    c_size_t,
    c_ubyte,
    c_uint,
    c_uint64,
    c_void_p,
)

from .errors import CudaError

CUdeviceptr = c_uint64
CUdevice = c_int
CUresult = c_int
_ptr = c_void_p  # every opaque handle type

# --------------------------------------------------------------------------- signatures
# name -> (restype, argtypes).  Names are the exported symbols (the _v2 forms
# that cuda.h / cublas_v2.h #define the plain names to).

DRIVER = {
    "cuInit": (CUresult, [c_uint]),
    "cuDriverGetVersion": (CUresult, [POINTER(c_int)]),
    "cuGetErrorString": (CUresult, [CUresult, POINTER(c_char_p)]),
    "cuGetErrorName": (CUresult, [CUresult, POINTER(c_char_p)]),
    "cuDeviceGetCount": (CUresult, [POINTER(c_int)]),
    "cuDeviceGet": (CUresult, [POINTER(CUdevice), c_int]),
    "cuDeviceGetName": (CUresult, [c_char_p, c_int, CUdevice]),
    "cuDeviceGetAttribute": (CUresult, [POINTER(c_int), c_int, CUdevice]),
    "cuDeviceTotalMem_v2": (CUresult, [POINTER(c_size_t), CUdevice]),
    "cuDevicePrimaryCtxRetain": (CUresult, [POINTER(_ptr), CUdevice]),
    "cuDevicePrimaryCtxRelease_v2": (CUresult, [CUdevice]),
    "cuCtxSetCurrent": (CUresult, [_ptr]),
    "cuCtxGetCurrent": (CUresult, [POINTER(_ptr)]),
    "cuCtxSynchronize": (CUresult, []),
    "cuMemGetInfo_v2": (CUresult, [POINTER(c_size_t), POINTER(c_size_t)]),
    "cuMemAlloc_v2": (CUresult, [POINTER(CUdeviceptr), c_size_t]),
    "cuMemFree_v2": (CUresult, [CUdeviceptr]),
    "cuMemcpyHtoD_v2": (CUresult, [CUdeviceptr, c_void_p, c_size_t]),
    "cuMemcpyDtoH_v2": (CUresult, [c_void_p, CUdeviceptr, c_size_t]),
    "cuMemcpyDtoD_v2": (CUresult, [CUdeviceptr, CUdeviceptr, c_size_t]),
    "cuMemcpyHtoDAsync_v2": (CUresult, [CUdeviceptr, c_void_p, c_size_t, _ptr]),
    "cuMemcpyDtoHAsync_v2": (CUresult, [c_void_p, CUdeviceptr, c_size_t, _ptr]),
    "cuMemcpyDtoDAsync_v2": (CUresult, [CUdeviceptr, CUdeviceptr, c_size_t, _ptr]),
    "cuMemcpyPeerAsync": (CUresult, [CUdeviceptr, _ptr, CUdeviceptr, _ptr, c_size_t, _ptr]),
    "cuMemsetD8_v2": (CUresult, [CUdeviceptr, c_ubyte, c_size_t]),
    "cuMemsetD8Async": (CUresult, [CUdeviceptr, c_ubyte, c_size_t, _ptr]),
    "cuStreamCreate": (CUresult, [POINTER(_ptr), c_uint]),
    "cuStreamDestroy_v2": (CUresult, [_ptr]),
    "cuStreamSynchronize": (CUresult, [_ptr]),
    "cuModuleLoadData": (CUresult, [POINTER(_ptr), c_void_p]),
    "cuModuleUnload": (CUresult, [_ptr]),
    "cuModuleGetFunction": (CUresult, [POINTER(_ptr), _ptr, c_char_p]),
    "cuLaunchKernel": (CUresult, [_ptr, c_uint, c_uint, c_uint, c_uint, c_uint, c_uint,
                                  c_uint, _ptr, POINTER(c_void_p), POINTER(c_void_p)]),
}

CUBLAS = {
    "cublasCreate_v2": (c_int, [POINTER(_ptr)]),
    "cublasDestroy_v2": (c_int, [_ptr]),
    "cublasSetStream_v2": (c_int, [_ptr, _ptr]),
    "cublasGetStatusString": (c_char_p, [c_int]),
    "cublasGetStatusName": (c_char_p, [c_int]),
    "cublasSgemm_v2": (c_int, [_ptr, c_int, c_int, c_int, c_int, c_int, POINTER(c_float),
                               _ptr, c_int, _ptr, c_int, POINTER(c_float),
                               _ptr, c_int]),
    "cublasDgemm_v2": (c_int, [_ptr, c_int, c_int, c_int, c_int, c_int, POINTER(c_double),
                               _ptr, c_int, _ptr, c_int, POINTER(c_double),
                               _ptr, c_int]),
    "cublasSgemmStridedBatched": (c_int, [_ptr, c_int, c_int, c_int, c_int, c_int,
                                          POINTER(c_float), _ptr, c_int, c_longlong,
                                          _ptr, c_int, c_longlong, POINTER(c_float),
                                          _ptr, c_int, c_longlong, c_int]),
    "cublasDgemmStridedBatched": (c_int, [_ptr, c_int, c_int, c_int, c_int, c_int,
                                          POINTER(c_double), _ptr, c_int, c_longlong,
                                          _ptr, c_int, c_longlong, POINTER(c_double),
                                          _ptr, c_int, c_longlong, c_int]),
}

NVRTC = {
    "nvrtcGetErrorString": (c_char_p, [c_int]),
    "nvrtcVersion": (c_int, [POINTER(c_int), POINTER(c_int)]),
    "nvrtcGetNumSupportedArchs": (c_int, [POINTER(c_int)]),
    "nvrtcGetSupportedArchs": (c_int, [POINTER(c_int)]),
    "nvrtcCreateProgram": (c_int, [POINTER(_ptr), c_char_p, c_char_p, c_int,
                                   POINTER(c_char_p), POINTER(c_char_p)]),
    "nvrtcDestroyProgram": (c_int, [POINTER(_ptr)]),
    "nvrtcCompileProgram": (c_int, [_ptr, c_int, POINTER(c_char_p)]),
    "nvrtcGetPTXSize": (c_int, [_ptr, POINTER(c_size_t)]),
    "nvrtcGetPTX": (c_int, [_ptr, c_char_p]),
    "nvrtcGetCUBINSize": (c_int, [_ptr, POINTER(c_size_t)]),
    "nvrtcGetCUBIN": (c_int, [_ptr, c_char_p]),
    "nvrtcGetProgramLogSize": (c_int, [_ptr, POINTER(c_size_t)]),
    "nvrtcGetProgramLog": (c_int, [_ptr, c_char_p]),
}

# cuBLAS enums used by the GEMM wrappers (cublas_api.h).
CUBLAS_OP_N = 0
CUBLAS_OP_T = 1
# CUdevice_attribute values (cuda.h).
CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK = 1
CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT = 16
CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR = 75
CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR = 76
CUDA_SUCCESS = 0
CUDA_ERROR_OUT_OF_MEMORY = 2
CUDA_ERROR_NO_DEVICE = 100

# Names used when the library is too old to export its own string function.
_CUBLAS_NAMES = {
    0: "CUBLAS_STATUS_SUCCESS", 1: "CUBLAS_STATUS_NOT_INITIALIZED",
    3: "CUBLAS_STATUS_ALLOC_FAILED", 7: "CUBLAS_STATUS_INVALID_VALUE",
    8: "CUBLAS_STATUS_ARCH_MISMATCH", 11: "CUBLAS_STATUS_MAPPING_ERROR",
    13: "CUBLAS_STATUS_EXECUTION_FAILED", 14: "CUBLAS_STATUS_INTERNAL_ERROR",
    15: "CUBLAS_STATUS_NOT_SUPPORTED", 16: "CUBLAS_STATUS_LICENSE_ERROR",
}

# --------------------------------------------------------------------------- discovery
# Linux sonames first (ldconfig knows them), then plain names; Windows DLL stems.
_SONAMES = {
    "cuda": (["libcuda.so.1", "libcuda.so"], ["nvcuda"]),
    "cublas": (["libcublas.so.13", "libcublas.so.12", "libcublas.so.11", "libcublas.so"],
               ["cublas64_13", "cublas64_12", "cublas64_11"]),
    "nvrtc": (["libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so.11.2", "libnvrtc.so"],
              ["nvrtc64_130_0", "nvrtc64_120_0", "nvrtc64_112_0"]),
}
# Libraries a library needs from its own directory when opened by absolute path
# (pip wheels rely on RPATH=$ORIGIN, which older loaders may not honour).
_COMPANIONS = {"cublas": "libcublasLt.so*", "nvrtc": "libnvrtc-builtins.so*"}


def _site_dirs():
    dirs = []
    try:
        dirs.extend(site.getsitepackages())
    except AttributeError:  # virtualenv's old site module
        pass
    user = getattr(site, "getusersitepackages", lambda: None)()
    if user:
        dirs.append(user)
    dirs.extend(p for p in sys.path if p.endswith("site-packages"))
    return list(dict.fromkeys(dirs))


def search_dirs():
    """Directories searched for CUDA libraries, in priority order.

    ``TAPEGRAD_CUDA_PATH`` / ``CUDA_HOME`` / ``CUDA_PATH`` first (their lib64/lib),
    then NVIDIA's pip wheels (``site-packages/nvidia/*/lib``), then the system
    toolkits ``/usr/local/cuda*/lib64``.  The dynamic loader's own path
    (ldconfig) is tried after these by soname.
    """
    dirs = []
    for var in ("TAPEGRAD_CUDA_PATH", "CUDA_HOME", "CUDA_PATH"):
        root = os.environ.get(var)
        if root:
            dirs += [os.path.join(root, "lib64"), os.path.join(root, "lib"),
                     os.path.join(root, "bin"), root]
    for sp in _site_dirs():
        dirs += sorted(glob.glob(os.path.join(sp, "nvidia", "*", "lib")))
        dirs += sorted(glob.glob(os.path.join(sp, "nvidia", "*", "bin")))
    cuda_roots = sorted(glob.glob("/usr/local/cuda*"), reverse=True)
    for root in ["/usr/local/cuda"] + cuda_roots:
        dirs += [os.path.join(root, "lib64"), os.path.join(root, "targets",
                                                            "x86_64-linux", "lib")]
    dirs += ["/usr/lib/x86_64-linux-gnu", "/usr/lib64", "/usr/lib/wsl/lib"]
    return [d for d in dict.fromkeys(dirs) if os.path.isdir(d)]


def find_library(name, dirs=None):
    """Candidate paths/sonames for library ``name`` ("cuda", "cublas" or "nvrtc").

    Returns a list ordered by preference: files found in `search_dirs` (newest
    soname first), then bare sonames for the dynamic loader.  The driver
    (libcuda) is only ever taken from the system, never a wheel: it must match
    the kernel module.
    """
    if name not in _SONAMES:
        raise ValueError(f"find_library: unknown CUDA library {name!r}; "
                         f"expected one of {sorted(_SONAMES)}")
    sonames, dll_stems = _SONAMES[name]
    if dirs is None:
        dirs = search_dirs()
    found = []
    for d in dirs:
        if name == "cuda" and os.sep + "nvidia" + os.sep in d:
            continue
        for so in sonames:
            path = os.path.join(d, so)
            if os.path.isfile(path):
                found.append(path)
        if sys.platform == "win32":
            for stem in dll_stems:
                found += sorted(glob.glob(os.path.join(d, stem + "*.dll")))
    loader = dll_stems if sys.platform == "win32" else sonames
    return list(dict.fromkeys(found + loader))


_libs = {}
_lock = threading.Lock()


def _open(name, table):
    with _lock:
        if name in _libs:
            return _libs[name]
        errors = []
        for cand in find_library(name):
            try:
                if os.path.isabs(cand) and name in _COMPANIONS:
                    for comp in sorted(glob.glob(os.path.join(os.path.dirname(cand),
                                                              _COMPANIONS[name]))):
                        try:
                            ctypes.CDLL(comp, mode=ctypes.RTLD_GLOBAL)
                        except OSError:
                            pass
                lib = ctypes.CDLL(cand)
            except OSError as e:
                errors.append(f"{cand}: {e}")
                continue
            _bind(lib, table)
            _libs[name] = lib
            return lib
        _libs[name] = None
        detail = "; ".join(errors[-3:]) if errors else "no candidate file found"
        raise OSError(f"could not load the CUDA library {name!r} ({detail}). "
                      "Install the NVIDIA driver, the CUDA toolkit, or the pip wheels "
                      "nvidia-cublas / nvidia-cuda-nvrtc, or set TAPEGRAD_CUDA_PATH.")


def _bind(lib, table):
    for fname, (restype, argtypes) in table.items():
        try:
            fn = getattr(lib, fname)
        except AttributeError:
            continue  # optional symbols (e.g. cublasGetStatusName before 11.4)
        fn.restype = restype
        fn.argtypes = argtypes


def _get(name, table):
    lib = _libs.get(name, False)
    if lib is False:
        return _open(name, table)
    if lib is None:
        raise OSError(f"the CUDA library {name!r} is not available on this machine")
    return lib


def driver():
    """The CUDA driver (libcuda), opened and bound on first call."""
    return _get("cuda", DRIVER)


def cublas():
    """cuBLAS, opened and bound on first call."""
    return _get("cublas", CUBLAS)


def nvrtc():
    """NVRTC, opened and bound on first call."""
    return _get("nvrtc", NVRTC)


def loaded():
    """Names of the CUDA libraries this process has opened through this module."""
    return sorted(k for k, v in _libs.items() if v is not None)


# --------------------------------------------------------------------------- errors
def error_string(status, lib="cuda"):
    """(name, description) of a status code, from the library itself when possible."""
    if lib not in ("cuda", "cublas", "nvrtc"):
        raise ValueError(f"error_string: unknown library {lib!r}; expected 'cuda', "
                         "'cublas' or 'nvrtc'")
    status = int(status)
    try:
        if lib == "cuda":
            d = _libs.get("cuda")
            if d:
                name, desc = c_char_p(), c_char_p()
                if (d.cuGetErrorName(status, ctypes.byref(name)) == 0
                        and d.cuGetErrorString(status, ctypes.byref(desc)) == 0):
                    return name.value.decode(), desc.value.decode()
            return f"CUDA_ERROR_{status}", "unknown CUDA driver error"
        if lib == "cublas":
            b = _libs.get("cublas")
            name = _CUBLAS_NAMES.get(status, f"CUBLAS_STATUS_{status}")
            if b and hasattr(b, "cublasGetStatusString"):
                if hasattr(b, "cublasGetStatusName"):
                    name = b.cublasGetStatusName(status).decode()
                return name, b.cublasGetStatusString(status).decode()
            return name, "cuBLAS call failed"
        if lib == "nvrtc":
            r = _libs.get("nvrtc")
            if r:
                s = r.nvrtcGetErrorString(status).decode()
                return s, s
        return f"NVRTC_ERROR_{status}", "NVRTC call failed"
    except (OSError, AttributeError, UnicodeDecodeError):
        return f"{lib.upper()}_ERROR_{status}", "(the library's error string is unavailable)"


def check(status, lib="cuda", what=""):
    """Raise `CudaError` unless ``status`` is success (0) for library ``lib``."""
    status = int(status)
    if status == 0:
        return
    name, desc = error_string(status, lib)
    where = f" in {what}" if what else ""
    raise CudaError(f"{lib} error {status} ({name}){where}: {desc}",
                    status=status, library=lib, name=name)


# Re-exported for modules that build kernel arguments.
__all__ = ["CUBLAS", "DRIVER", "NVRTC", "CUdeviceptr", "check", "cublas", "driver",
           "error_string", "find_library", "loaded", "nvrtc", "search_dirs",
           "c_int64", "c_double", "c_float", "c_int", "c_uint64"]
