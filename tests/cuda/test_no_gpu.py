"""Behaviour without a GPU (every CI machine here): clear errors, nothing loaded."""
import subprocess
import sys

import numpy as np
import pytest

import tapegrad as tg

pytestmark = pytest.mark.skipif(tg.num_gpus() > 0, reason="checks the no-GPU behaviour")


def test_num_gpus_is_zero_and_only_the_cpu_is_listed():
    assert tg.num_gpus() == 0
    assert tg.list_devices() == ["/cpu:0"]


def test_cuda_package_reports_unavailable():
    from tapegrad import cuda
    from tapegrad.cuda import runtime
    assert cuda.device_count() == 0 and not cuda.is_available()
    assert runtime.init_error() is not None  # why: no driver / no device


def test_gpu_copy_raises_runtime_error():
    x = tg.constant([1.0, 2.0])
    with pytest.raises(RuntimeError, match="no CUDA device"):
        x.gpu()
    with pytest.raises(RuntimeError, match="no CUDA device"):
        x.to("/gpu:0")


def test_device_scope_raises_runtime_error():
    with pytest.raises(RuntimeError, match="no CUDA device"):
        with tg.device("/gpu:0"):
            tg.zeros([2])


def test_cpu_scope_still_works():
    with tg.device("/cpu:0"):
        z = tg.zeros([2])
    assert z.device == "/cpu:0"
    np.testing.assert_array_equal(z.numpy(), [0.0, 0.0])


def test_cuda_array_without_device_raises():
    from tapegrad.cuda.array import CudaArray
    with pytest.raises(RuntimeError, match="no CUDA device"):
        CudaArray.empty((2,), np.float32)


def test_memory_stats_without_device_raises():
    from tapegrad import cuda
    with pytest.raises(RuntimeError, match="no CUDA device"):
        cuda.memory_stats()


def _run(code):
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, check=True).stdout.strip()


def test_import_tapegrad_loads_no_cuda_library():
    out = _run("import sys, ctypes, tapegrad as tg\n"
               "x = tg.constant([1.0]) + 1\n"
               "maps = open('/proc/self/maps').read()\n"
               "print(any(n in maps for n in ('libcuda.so', 'libcublas', 'libnvrtc')),\n"
               "      'tapegrad.cuda.runtime' in sys.modules)\n")
    assert out == "False False"


def test_num_gpus_loads_only_the_driver():
    out = _run("import tapegrad as tg\n"
               "n = tg.num_gpus()\n"
               "maps = open('/proc/self/maps').read()\n"
               "print(n, 'libcublas' in maps, 'libnvrtc' in maps)\n")
    assert out == "0 False False"
