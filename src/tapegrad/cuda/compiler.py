"""Getting PTX for kernels.cu: the build's nvcc output, or NVRTC with a disk cache.

Two paths (README.md beside this file):

1. ``setup.py`` runs ``nvcc -ptx`` at install time when nvcc exists and ships
   ``kernels.ptx`` beside ``kernels.cu``.  It is used when it is at least as new as
   the source (an edited source without a rebuild falls through to NVRTC).
2. Otherwise NVRTC compiles ``kernels.cu`` for the device's architecture at first
   use; the PTX is cached under ``~/.cache/tapegrad`` (``$TAPEGRAD_CACHE_DIR`` or
   ``$XDG_CACHE_HOME/tapegrad``), keyed by a hash of the source, the architecture
   and the NVRTC version, so later processes skip the compile.
"""
import ctypes
import hashlib
import os
import tempfile

from . import bindings

_HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_PATH = os.path.join(_HERE, "kernels.cu")
PREBUILT_PATH = os.path.join(_HERE, "kernels.ptx")

NVRTC_OPTIONS = ("-std=c++17", "-default-device")


def kernel_source():
    """The CUDA C source of the project's kernels (str)."""
    with open(SOURCE_PATH, encoding="utf-8") as f:
        return f.read()


def source_hash(source=None):
    """First 16 hex digits of the SHA-256 of the kernel source."""
    if source is None:
        source = kernel_source()
    return hashlib.sha256(source.encode("utf-8")).hexdigest()[:16]


def cache_dir():
    """Where NVRTC output is cached (created on demand)."""
    root = os.environ.get("TAPEGRAD_CACHE_DIR")
    if not root:
        xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        root = os.path.join(xdg, "tapegrad")
    return root


def cache_path(arch, nvrtc_version, source=None):
    """Cache file for PTX of ``source`` compiled for ``compute_<arch>`` by NVRTC
    ``nvrtc_version`` (a (major, minor) tuple)."""
    major, minor = nvrtc_version
    name = f"kernels-{source_hash(source)}-compute_{int(arch)}-nvrtc{major}.{minor}.ptx"
    return os.path.join(cache_dir(), name)


def prebuilt_ptx(source_path=SOURCE_PATH, ptx_path=PREBUILT_PATH):
    """The build-time PTX as bytes, or None if absent or older than the source."""
    try:
        if os.path.getmtime(ptx_path) < os.path.getmtime(source_path):
            return None
        with open(ptx_path, "rb") as f:
            data = f.read()
    except OSError:
        return None
    return data if b".entry" in data else None


def nvrtc_version():
    lib = bindings.nvrtc()
    major, minor = ctypes.c_int(), ctypes.c_int()
    bindings.check(lib.nvrtcVersion(ctypes.byref(major), ctypes.byref(minor)), "nvrtc",
                   "nvrtcVersion")
    return major.value, minor.value


def nvrtc_arch(arch):
    """The newest virtual architecture NVRTC supports that is <= ``arch`` (e.g. 90)."""
    lib = bindings.nvrtc()
    if not hasattr(lib, "nvrtcGetNumSupportedArchs"):
        return int(arch)
    n = ctypes.c_int()
    bindings.check(lib.nvrtcGetNumSupportedArchs(ctypes.byref(n)), "nvrtc",
                   "nvrtcGetNumSupportedArchs")
    archs = (ctypes.c_int * n.value)()
    bindings.check(lib.nvrtcGetSupportedArchs(archs), "nvrtc", "nvrtcGetSupportedArchs")
    ok = sorted(a for a in archs if a <= int(arch))
    if not ok:
        raise bindings.CudaError(
            f"NVRTC {nvrtc_version()} cannot target compute_{arch}: it supports "
            f"{sorted(archs)}", library="nvrtc")
    return ok[-1]


def compile_nvrtc(source, arch, name="kernels.cu", options=NVRTC_OPTIONS, cubin=False):
    """Compile CUDA C ``source`` with NVRTC: PTX for ``compute_<arch>``, or with
    ``cubin=True`` machine code for ``sm_<arch>`` (which, unlike PTX, a driver older
    than NVRTC can still load).  A compile error raises `CudaError` with NVRTC's log.
    """
    lib = bindings.nvrtc()
    prog = ctypes.c_void_p()
    bindings.check(lib.nvrtcCreateProgram(ctypes.byref(prog), source.encode("utf-8"),
                                          name.encode(), 0, None, None),
                   "nvrtc", "nvrtcCreateProgram")
    try:
        target = "sm" if cubin else "compute"
        opts = [f"--gpu-architecture={target}_{int(arch)}".encode()]
        opts += [o.encode() for o in options]
        arr = (ctypes.c_char_p * len(opts))(*opts)
        status = lib.nvrtcCompileProgram(prog, len(opts), arr)
        if status != 0:
            log = _program_log(lib, prog)
            try:
                bindings.check(status, "nvrtc", "nvrtcCompileProgram")
            except bindings.CudaError as e:
                raise bindings.CudaError(f"{e}\n{log}", status=e.status, library="nvrtc",
                                         name=e.name) from None
        size = ctypes.c_size_t()
        get_size, get = ((lib.nvrtcGetCUBINSize, lib.nvrtcGetCUBIN) if cubin
                         else (lib.nvrtcGetPTXSize, lib.nvrtcGetPTX))
        bindings.check(get_size(prog, ctypes.byref(size)), "nvrtc", "nvrtcGet*Size")
        buf = ctypes.create_string_buffer(size.value)
        bindings.check(get(prog, buf), "nvrtc", "nvrtcGetPTX/CUBIN")
        return buf.raw if cubin else buf.raw.rstrip(b"\0")
    finally:
        lib.nvrtcDestroyProgram(ctypes.byref(prog))


def _program_log(lib, prog):
    size = ctypes.c_size_t()
    if lib.nvrtcGetProgramLogSize(prog, ctypes.byref(size)) != 0 or size.value <= 1:
        return ""
    buf = ctypes.create_string_buffer(size.value)
    lib.nvrtcGetProgramLog(prog, buf)
    return buf.value.decode("utf-8", "replace")


def cached_nvrtc_ptx(arch, source=None, cubin=False):
    """PTX for ``compute_<arch>`` (or a cubin for exactly ``sm_<arch>``) from the disk
    cache, compiling with NVRTC on a miss."""
    if source is None:
        source = kernel_source()
    version = nvrtc_version()
    target = nvrtc_arch(arch)
    if cubin and target != int(arch):
        raise bindings.CudaError(f"NVRTC {version} cannot build machine code for sm_{arch}",
                                 library="nvrtc")
    path = cache_path(target, version, source)
    if cubin:
        path = path[:-len(".ptx")] + ".cubin"
    try:
        with open(path, "rb") as f:
            data = f.read()
        if data and (cubin or b".entry" in data):
            return data
    except OSError:
        pass
    data = compile_nvrtc(source, target, cubin=cubin)
    _atomic_write(path, data)
    return data


def _atomic_write(path, data):
    # A concurrent process may write the same file: write aside, then rename over.
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), suffix=".tmp")
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except OSError:
        pass  # a read-only home only costs a recompile next time


def ptx_candidates(arch):
    """Yield (origin, module image) in the order the runtime should try them.

    The prebuilt PTX comes first; NVRTC is only invoked (lazily) if the driver
    rejects it, e.g. a PTX ISA newer than the installed driver understands: then
    a cubin for the exact GPU (loadable by older drivers), then NVRTC's PTX.
    """
    data = prebuilt_ptx()
    if data is not None:
        yield "nvcc", data
    try:
        yield "nvrtc-cubin", cached_nvrtc_ptx(arch, cubin=True)
    except bindings.CudaError:
        pass  # NVRTC too old for this GPU's sm: PTX for the newest arch it knows
    yield "nvrtc", cached_nvrtc_ptx(arch)
