"""The ctypes signatures against the CUDA headers, library discovery, error mapping.

No GPU needed.  Each header is looked for in the CUDA toolkit (CUDA_HOME, /usr/local/cuda)
and in NVIDIA's pip wheels; a signature test is skipped only when its header is absent.
"""
import ctypes
import glob
import os
import re
import site
import subprocess
import sys

import pytest

from tapegrad.cuda import bindings
from tapegrad.cuda.errors import CudaError


def _include_dirs():
    dirs = []
    for var in ("CUDA_HOME", "CUDA_PATH"):
        if os.environ.get(var):
            dirs.append(os.path.join(os.environ[var], "include"))
    dirs += sorted(glob.glob("/usr/local/cuda*/include"))
    for sp in site.getsitepackages() + [p for p in sys.path if p.endswith("site-packages")]:
        dirs += sorted(glob.glob(os.path.join(sp, "nvidia", "*", "include")))
    return [d for d in dict.fromkeys(dirs) if os.path.isdir(d)]


def _find_header(name):
    for d in _include_dirs():
        path = os.path.join(d, name)
        if os.path.isfile(path):
            return path
    return None


def _strip_comments(text):
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    return re.sub(r"//[^\n]*", " ", text)


def parse_header(path):
    """{function name: [parameter type strings]} of every declaration, plus the
    ``#define plain versioned`` aliases (cuda.h and cublas_v2.h rename functions)."""
    text = _strip_comments(open(path, encoding="utf-8", errors="replace").read())
    aliases = {}
    for m in re.finditer(r"#\s*define\s+(\w+)\s+(?:__CUDA_API_PT\w+\()?(\w+)\)?\s*$", text,
                         flags=re.M):
        aliases.setdefault(m.group(2), m.group(1))
    decls = {}
    body = re.sub(r"#[^\n]*", " ", text)
    for m in re.finditer(r"\b(\w+)\s*\(([^;{}()]*(?:\([^()]*\)[^;{}()]*)*)\)\s*;", body):
        name, params = m.group(1), m.group(2).strip()
        if name in decls:
            continue  # first declaration wins (later ones are legacy _v1 blocks)
        if params in ("", "void"):
            decls[name] = []
        else:
            decls[name] = [p.strip() for p in _split_params(params)]
    return decls, aliases


def _split_params(params):
    depth, cur, out = 0, "", []
    for ch in params:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            out.append(cur)
            cur = ""
        else:
            cur += ch
    out.append(cur)
    return out


_INT_TYPES = {"int": 4, "CUdevice": 4, "CUresult": 4, "CUdevice_attribute": 4,
              "cublasOperation_t": 4, "cublasStatus_t": 4, "nvrtcResult": 4,
              "unsigned int": 4, "unsigned char": 1, "size_t": 8, "CUdeviceptr": 8,
              "long long int": 8, "long long": 8, "int64_t": 8, "float": 4, "double": 8}
_HANDLES = {"CUcontext", "CUstream", "CUmodule", "CUfunction", "cublasHandle_t",
            "nvrtcProgram", "cudaStream_t"}


def _expected_kind(param):
    """('ptr', None) | ('float', size) | ('int', size) for a C parameter declaration."""
    p = re.sub(r"\b(const|CUDARTAPI|__restrict__|restrict)\b", " ", param)
    p = re.sub(r"\s+", " ", p).strip()
    if "*" in p or "[" in p:
        return ("ptr", None)
    # drop the parameter name
    words = p.split(" ")
    typ = " ".join(words[:-1]) if len(words) > 1 else words[0]
    if typ in _HANDLES:
        return ("ptr", None)
    if typ in ("float", "double"):
        return ("float", _INT_TYPES[typ])
    if typ in _INT_TYPES:
        return ("int", _INT_TYPES[typ])
    raise AssertionError(f"unmapped C type {typ!r} in {param!r}")


def _actual_kind(ctype):
    if ctype in (ctypes.c_void_p, ctypes.c_char_p) or hasattr(ctype, "_type_") and \
            isinstance(getattr(ctype, "_type_", None), type):
        return ("ptr", None)
    if ctype in (ctypes.c_float, ctypes.c_double):
        return ("float", ctypes.sizeof(ctype))
    return ("int", ctypes.sizeof(ctype))


def _check_table(table, header):
    path = _find_header(header)
    if path is None:
        pytest.skip(f"{header} not installed")
    decls, aliases = parse_header(path)
    checked = 0
    for name, (_, argtypes) in table.items():
        declared = name if name in decls else aliases.get(name)
        assert declared in decls, f"{name} is not declared in {path}"
        params = decls[declared]
        assert len(params) == len(argtypes), (
            f"{name}: {len(argtypes)} ctypes args, header declares {len(params)}: {params}")
        for i, (p, t) in enumerate(zip(params, argtypes)):
            assert _expected_kind(p) == _actual_kind(t), (
                f"{name} argument {i}: header {p!r} vs ctypes {t}")
        checked += 1
    return checked


def test_driver_signatures_match_cuda_h():
    assert _check_table(bindings.DRIVER, "cuda.h") == len(bindings.DRIVER)


def test_cublas_signatures_match_cublas_api_h():
    assert _check_table(bindings.CUBLAS, "cublas_api.h") == len(bindings.CUBLAS)


def test_nvrtc_signatures_match_nvrtc_h():
    assert _check_table(bindings.NVRTC, "nvrtc.h") == len(bindings.NVRTC)


def test_header_parser_sees_aliases_and_counts():
    path = _find_header("cuda.h")
    if path is None:
        pytest.skip("cuda.h not installed")
    decls, aliases = parse_header(path)
    assert aliases["cuMemAlloc_v2"] == "cuMemAlloc"
    assert len(decls["cuLaunchKernel"]) == 11
    assert decls["cuCtxSynchronize"] == []


def test_enum_values_match_headers():
    path = _find_header("cuda.h")
    if path is None:
        pytest.skip("cuda.h not installed")
    text = open(path, encoding="utf-8", errors="replace").read()
    for name in ("CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT",
                 "CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR",
                 "CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR", "CUDA_ERROR_OUT_OF_MEMORY",
                 "CUDA_ERROR_NO_DEVICE"):
        m = re.search(rf"\b{name}\s*=\s*(\d+)", text)
        assert m and int(m.group(1)) == getattr(bindings, name), name
    cub = _find_header("cublas_api.h")
    if cub:
        text = open(cub, encoding="utf-8", errors="replace").read()
        assert re.search(r"CUBLAS_OP_N\s*=\s*0", text) and re.search(r"CUBLAS_OP_T\s*=\s*1", text)


# ------------------------------------------------------------------ discovery
def test_find_library_prefers_search_dirs_then_sonames(tmp_path):
    wheel = tmp_path / "site" / "nvidia" / "cublas" / "lib"
    wheel.mkdir(parents=True)
    (wheel / "libcublas.so.12").write_bytes(b"")
    system = tmp_path / "cuda" / "lib64"
    system.mkdir(parents=True)
    (system / "libcublas.so.13").write_bytes(b"")
    found = bindings.find_library("cublas", dirs=[str(wheel), str(system)])
    assert found[0] == str(wheel / "libcublas.so.12")
    assert found[1] == str(system / "libcublas.so.13")
    assert "libcublas.so.13" in found[2:]  # then the dynamic loader's own search


def test_driver_is_never_taken_from_a_wheel(tmp_path):
    wheel = tmp_path / "nvidia" / "cu13" / "lib"
    wheel.mkdir(parents=True)
    (wheel / "libcuda.so.1").write_bytes(b"")
    found = bindings.find_library("cuda", dirs=[str(wheel)])
    assert str(wheel / "libcuda.so.1") not in found
    assert found[0] == "libcuda.so.1"


def test_find_library_rejects_unknown_names():
    with pytest.raises(ValueError, match="unknown CUDA library 'cudnn'"):
        bindings.find_library("cudnn")


def test_search_dirs_include_pip_wheels_when_installed():
    dirs = bindings.search_dirs()
    wheels = [d for sp in site.getsitepackages()
              for d in glob.glob(os.path.join(sp, "nvidia", "*", "lib"))]
    for d in wheels:
        assert d in dirs


def test_env_override_comes_first(tmp_path, monkeypatch):
    (tmp_path / "lib64").mkdir()
    monkeypatch.setenv("TAPEGRAD_CUDA_PATH", str(tmp_path))
    assert bindings.search_dirs()[0] == str(tmp_path / "lib64")


# ------------------------------------------------------------------ errors
def test_check_passes_success_and_raises_cuda_error():
    bindings.check(0, "cuda")
    with pytest.raises(CudaError) as ei:
        bindings.check(2, "cuda", "cuMemAlloc(64)")
    e = ei.value
    assert isinstance(e, RuntimeError)
    assert (e.status, e.library) == (2, "cuda")
    assert "cuMemAlloc(64)" in str(e)


def test_cublas_error_names_without_the_library():
    name, _ = bindings.error_string(13, "cublas") if bindings._libs.get("cublas") is None \
        else ("CUBLAS_STATUS_EXECUTION_FAILED", "")
    assert name == "CUBLAS_STATUS_EXECUTION_FAILED"


def test_error_string_rejects_unknown_library():
    with pytest.raises(ValueError, match="unknown library"):
        bindings.error_string(1, "cudnn")


def _nvrtc_or_skip():
    try:
        return bindings.nvrtc()
    except OSError:
        pytest.skip("NVRTC is not installed")


def test_nvrtc_error_string_comes_from_the_library():
    _nvrtc_or_skip()
    with pytest.raises(CudaError, match="NVRTC_ERROR_COMPILATION"):
        bindings.check(6, "nvrtc", "nvrtcCompileProgram")


def test_cublas_error_string_comes_from_the_library():
    try:
        bindings.cublas()
    except OSError:
        pytest.skip("cuBLAS is not installed")
    with pytest.raises(CudaError, match="CUBLAS_STATUS_INVALID_VALUE") as ei:
        bindings.check(7, "cublas")
    assert ei.value.library == "cublas"


def test_importing_the_package_loads_no_library():
    code = ("import sys, tapegrad, tapegrad.cuda, tapegrad.cuda.bindings as b\n"
            "maps = open('/proc/self/maps').read()\n"
            "bad = [n for n in ('libcuda.so', 'libcublas', 'libnvrtc') if n in maps]\n"
            "print(b.loaded(), bad)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, check=True).stdout.strip()
    assert out == "[] []"
