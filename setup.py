"""Build the Cython extensions.

Compiler directives are fixed here once (ARCHITECTURE §7): bounds checking and
negative-index wraparound are off in release builds.  Set TAPEGRAD_DEBUG=1 at
build time to turn them back on (plus initialized-check and -O0 -g) when
hunting a memory error.
"""
import os
import shutil
import subprocess
import sys

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_py import build_py

DEBUG = os.environ.get("TAPEGRAD_DEBUG", "") not in ("", "0")

directives = {
    "language_level": 3,
    "boundscheck": DEBUG,
    "wraparound": DEBUG,
    "initializedcheck": DEBUG,
    "cdivision": True,
    "embedsignature": True,
}

if sys.platform == "win32":
    cflags = ["/O2"]
else:
    cflags = ["-O0", "-g"] if DEBUG else ["-O3"]
    cflags += ["-Wno-unused-function", "-Wno-unreachable-code"]

macros = [("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")]


def ext(name):
    path = "src/" + name.replace(".", "/") + ".pyx"
    return Extension(name, [path], include_dirs=[np.get_include()],
                     extra_compile_args=cflags, define_macros=macros)


def _lowest_arch(nvcc):
    """Oldest virtual architecture this nvcc supports (>= compute_70), for portable PTX."""
    try:
        out = subprocess.run([nvcc, "--list-gpu-arch"], check=True, capture_output=True,
                             text=True, timeout=60).stdout.split()
        archs = sorted(int(a.split("_")[1]) for a in out if a.startswith("compute_"))
        archs = [a for a in archs if a >= 70]
        if archs:
            return "compute_%d" % archs[0]
    except (OSError, subprocess.SubprocessError, ValueError):
        pass
    return "compute_75"


class BuildPyWithKernels(build_py):
    """Compile cuda/kernels.cu to PTX when nvcc exists, so the GPU path needs no NVRTC.

    Without nvcc the PTX is simply absent and the CUDA backend compiles the same
    source with NVRTC on first use (cached on disk).
    """

    def run(self):
        super().run()
        nvcc = shutil.which("nvcc") or next(
            (p for p in ("/usr/local/cuda/bin/nvcc",) if os.path.exists(p)), None)
        if nvcc is None or os.environ.get("TAPEGRAD_NO_NVCC"):
            return
        src = os.path.join("src", "tapegrad", "cuda", "kernels.cu")
        if not os.path.exists(src):
            return
        for out_dir in {os.path.join(self.build_lib, "tapegrad", "cuda"),
                        os.path.join("src", "tapegrad", "cuda")}:
            os.makedirs(out_dir, exist_ok=True)
            out = os.path.join(out_dir, "kernels.ptx")
            cmd = [nvcc, "-ptx", "-O3", "-arch=" + _lowest_arch(nvcc), "-o", out, src]
            try:
                subprocess.run(cmd, check=True, capture_output=True, timeout=600)
            except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as e:
                print("warning: nvcc could not build kernels.ptx (NVRTC will be used):", e)


setup(
    ext_modules=cythonize(
        [ext("tapegrad._kernels"), ext("tapegrad._core"), ext("tapegrad._tape")],
        compiler_directives=directives,
        include_path=["src"],
        annotate=bool(os.environ.get("TAPEGRAD_ANNOTATE")),
    ),
    cmdclass={"build_py": BuildPyWithKernels},
)
