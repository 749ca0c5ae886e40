"""Build the Cython extensions.

Compiler directives are fixed here once (docs/architecture.md §7): bounds checking and
negative-index wraparound are off in release builds.  Set TAPEGRAD_DEBUG=1 at
build time to turn them back on (plus initialized-check and -O0 -g) when
hunting a memory error.

The CPU kernels (``_kernels``) are compiled for AVX2 (``-march=x86-64-v3``) when the
building machine has it: the baseline x86-64 target has no vector blend, so the
branch-free pooling and selection loops stay scalar (the max-pool gradient measured
10.4 ms against 1.65 ms).  AVX-512 (``native`` on this machine) gains little more and
cannot run under valgrind.  TAPEGRAD_MARCH overrides the target: ``native``, another
``-march`` value, or ``none`` for the compiler's default (a wheel for other machines).
A compiler that rejects the flag gets its default.
"""
import os
import shutil
import subprocess
import sys

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext
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
    # No errno from sqrt & co. and no trapping floating-point exceptions: neither is
    # ever read (NumPy's errstate governs its own ufuncs, not these loops), and either
    # one stops GCC from vectorising loops with square roots (Adam) or with selects
    # between floats (the max-pool routing, 10x slower scalar).
    cflags = ["-O0", "-g"] if DEBUG else ["-O3", "-fno-math-errno", "-fno-trapping-math"]
    cflags += ["-Wno-unused-function", "-Wno-unreachable-code"]

macros = [("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")]


def ext(name):
    path = "src/" + name.replace(".", "/") + ".pyx"
    # the kernels' thread pool (_threadpool.h) is POSIX threads
    threads = ["-pthread"] if name == "tapegrad._kernels" and sys.platform != "win32" else []
    return Extension(name, [path], include_dirs=[np.get_include()],
                     extra_compile_args=cflags + threads, extra_link_args=threads,
                     define_macros=macros, depends=["src/tapegrad/_threadpool.h",
                                                      "src/tapegrad/_rnn_rows.h"])


def _default_march():
    """x86-64-v3 on an x86-64 machine with AVX2 and FMA, else none."""
    import platform
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return "none"
    try:
        from numpy._core._multiarray_umath import __cpu_features__ as features
    except ImportError:
        try:
            from numpy.core._multiarray_umath import __cpu_features__ as features
        except ImportError:
            return "none"
    return "x86-64-v3" if features.get("AVX2") and features.get("FMA3") else "none"


class BuildExtKernels(build_ext):
    """Add the -march flag (see the module docstring) to the kernels module when the
    compiler accepts it.  (The kernels' thread pool is POSIX threads: ``-pthread`` in
    ``ext``; docs/architecture.md §5.4 says why it is not OpenMP.)
    """

    def build_extensions(self):
        march = os.environ.get("TAPEGRAD_MARCH") or _default_march()
        if sys.platform != "win32" and not DEBUG and march not in ("", "none"):
            # -ffp-contract=off: no FMA contraction, so results match NumPy's
            # separately rounded operations whatever the machine
            candidates = [["-march=" + march]]
            if march == "x86-64-v3":
                # compilers older than GCC 11 / Clang 12 do not know the level names
                candidates.append(["-mavx2", "-mfma"])
            for arch in candidates:
                flags = arch + ["-ffp-contract=off"]
                if self._accepts(flags):
                    for e in self.extensions:
                        if e.name == "tapegrad._kernels":
                            e.extra_compile_args = list(e.extra_compile_args) + flags
                    break
            else:
                print("warning: the compiler rejects %s; building for its default target"
                      % " ".join(candidates[0]))
        super().build_extensions()

    def _accepts(self, flags):
        import tempfile
        with tempfile.TemporaryDirectory() as tmp:
            src = os.path.join(tmp, "probe.c")
            with open(src, "w") as f:
                f.write("int main(void) { return 0; }\n")
            try:
                self.compiler.compile([src], output_dir=tmp, extra_postargs=flags)
            except Exception:  # CompileError or OSError: treat as unsupported
                return False
        return True


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
        [ext("tapegrad._kernels"), ext("tapegrad._core"), ext("tapegrad._tape"),
         ext("tapegrad._graph")],
        compiler_directives=directives,
        include_path=["src"],
        annotate=bool(os.environ.get("TAPEGRAD_ANNOTATE")),
    ),
    cmdclass={"build_py": BuildPyWithKernels, "build_ext": BuildExtKernels},
)
