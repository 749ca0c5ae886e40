"""Helpers for the CUDA tests: compile kernels.cu once, parse PTX kernel signatures."""
import functools
import re
import shutil
import subprocess

from tapegrad.cuda import bindings, compiler

_ENTRY = re.compile(r"\.entry\s+(\w+)\s*\(([^)]*)\)", re.S)
_PARAM = re.compile(r"\.param\s+(?:\.align\s+\d+\s+)?\.(\w+)(?:\s+\.ptr)?(?:\s+\.\w+)*"
                    r"(?:\s+\.align\s+\d+)?\s+\w+(?:\[(\d+)\])?")
_SIZES = {"u8": 1, "s8": 1, "b8": 1, "u16": 2, "s16": 2, "b16": 2, "f16": 2, "u32": 4, "s32": 4,
          "b32": 4, "f32": 4, "u64": 8, "s64": 8, "b64": 8, "f64": 8}


def nvcc():
    path = shutil.which("nvcc") or (shutil.which("nvcc", path="/usr/local/cuda/bin"))
    return path


def lowest_arch(nvcc_path):
    """The oldest virtual architecture this nvcc still targets (compute_70 before CUDA 13)."""
    out = subprocess.run([nvcc_path, "--list-gpu-arch"], capture_output=True, text=True,
                         timeout=60).stdout
    archs = sorted(int(a) for a in re.findall(r"compute_(\d+)", out))
    return max(archs[0], 70) if archs else 70


def entries(ptx):
    """{kernel name: [parameter sizes in bytes]} from PTX text."""
    out = {}
    for m in _ENTRY.finditer(ptx):
        sizes = []
        for p in _PARAM.finditer(m.group(2)):
            kind, count = p.group(1), p.group(2)
            sizes.append(_SIZES[kind] * (int(count) if count else 1))
        out[m.group(1)] = sizes
    return out


@functools.lru_cache(maxsize=1)
def kernel_ptx():
    """PTX of kernels.cu from nvcc, else NVRTC; None when neither is installed."""
    path = nvcc()
    if path:
        res = subprocess.run([path, "-ptx", "-O3", f"-arch=compute_{lowest_arch(path)}",
                              "-o", "-", compiler.SOURCE_PATH], capture_output=True,
                             text=True, timeout=600)
        if res.returncode != 0:
            raise AssertionError("nvcc failed on kernels.cu:\n" + res.stderr)
        return res.stdout
    try:
        bindings.nvrtc()
    except OSError:
        return None
    return compiler.compile_nvrtc(compiler.kernel_source(), 75).decode()
