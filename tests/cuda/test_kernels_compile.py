"""kernels.cu compiles with nvcc (PTX for the oldest supported arch and an sm_90 cubin)
and with NVRTC, and both expose the same kernels.  Skipped only without a compiler."""
import os
import subprocess

import pytest
from cuda_ptxinfo import entries, kernel_ptx, nvcc

from tapegrad.cuda import bindings, compiler


@pytest.fixture(scope="module")
def nvcc_path():
    path = nvcc()
    if path is None:
        pytest.skip("nvcc is not installed")
    return path


def _nvcc(nvcc_path, *args):
    res = subprocess.run([nvcc_path, *args, compiler.SOURCE_PATH], capture_output=True,
                         text=True, timeout=600)
    assert res.returncode == 0, res.stderr
    assert "warning" not in res.stderr.lower(), res.stderr
    return res


def test_nvcc_ptx_oldest_arch(nvcc_path):
    # kernel_ptx() runs `nvcc -ptx -arch=compute_<oldest>` once per session and raises
    # with nvcc's output on any error
    ents = entries(kernel_ptx())
    assert len(ents) > 150
    assert "unary_f32" in ents and "cast_b8_f16" in ents


def test_nvcc_sm90_cubin(nvcc_path, tmp_path):
    out = tmp_path / "k.cubin"
    _nvcc(nvcc_path, "-cubin", "-O3", "-arch=sm_90", "-o", str(out))
    assert out.stat().st_size > 100_000


def test_nvrtc_compiles_the_same_kernels(tmp_path, monkeypatch):
    try:
        bindings.nvrtc()
    except OSError:
        pytest.skip("NVRTC is not installed")
    monkeypatch.setenv("TAPEGRAD_CACHE_DIR", str(tmp_path))
    ptx = compiler.cached_nvrtc_ptx(75)
    ents = entries(ptx.decode())
    if nvcc():
        assert set(entries(kernel_ptx())) == set(ents)
    # second call is served from the cache, keyed by source hash + arch + NVRTC version
    cached = os.listdir(tmp_path)
    assert len(cached) == 1 and compiler.source_hash() in cached[0]
    assert compiler.cached_nvrtc_ptx(75) == ptx


def test_nvrtc_compile_error_carries_the_log():
    try:
        bindings.nvrtc()
    except OSError:
        pytest.skip("NVRTC is not installed")
    with pytest.raises(bindings.CudaError, match="NVRTC_ERROR_COMPILATION") as ei:
        compiler.compile_nvrtc('extern "C" __global__ void k() { undefined_name(); }', 75)
    assert "undefined_name" in str(ei.value)


def test_prebuilt_ptx_is_ignored_when_older_than_source(tmp_path):
    src = tmp_path / "kernels.cu"
    ptx = tmp_path / "kernels.ptx"
    ptx.write_text(".entry k()")
    src.write_text("// newer")
    os.utime(ptx, (1000, 1000))
    assert compiler.prebuilt_ptx(str(src), str(ptx)) is None
    os.utime(ptx, None)
    os.utime(src, (1000, 1000))
    assert compiler.prebuilt_ptx(str(src), str(ptx)) == b".entry k()"
    assert compiler.prebuilt_ptx(str(src), str(tmp_path / "missing.ptx")) is None


def test_cache_path_layout(monkeypatch, tmp_path):
    monkeypatch.setenv("TAPEGRAD_CACHE_DIR", str(tmp_path))
    p = compiler.cache_path(86, (12, 4), "src")
    assert p.startswith(str(tmp_path)) and p.endswith("compute_86-nvrtc12.4.ptx")
    assert compiler.source_hash("src") in p and compiler.source_hash("src2") not in p
    monkeypatch.delenv("TAPEGRAD_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert compiler.cache_dir() == str(tmp_path / "xdg" / "tapegrad")


def test_nvrtc_builds_cubins_for_an_exact_sm():
    try:
        bindings.nvrtc()
    except OSError:
        pytest.skip("NVRTC is not installed")
    image = compiler.compile_nvrtc('extern "C" __global__ void k(float* x) { x[0] = 1.f; }',
                                   compiler.nvrtc_arch(90), cubin=True)
    assert image[:4] == b"\x7fELF"
