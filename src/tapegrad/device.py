"""Device placement: ``tg.device`` scopes, ``Tensor.gpu()/cpu()/to()``, GPU discovery.

The CUDA package is imported only when a GPU is actually asked for, so ``import
tapegrad`` never touches a CUDA library.
"""

import contextlib
import re
import threading

from tapegrad import _core

_CPU = "/cpu:0"
_local = threading.local()


def _parse(device):
    if device is None:
        return None
    if not isinstance(device, str):
        raise TypeError("device: expected a string like '/gpu:0', got %r" % (device,))
    s = device.strip().lower()
    m = re.fullmatch(r"/?(?:job:[^/]+/)?(?:replica:\d+/)?(?:task:\d+/)?(?:device:)?(cpu|gpu)"
                     r"(?::(\d+))?", s)
    if m is None:
        raise ValueError("device: cannot parse %r (use '/cpu:0' or '/gpu:N')" % (device,))
    kind, idx = m.group(1), int(m.group(2) or 0)
    if kind == "cpu":
        if idx != 0:
            raise ValueError("device: only /cpu:0 exists, got %r" % (device,))
        return _CPU
    _require_gpu(idx)
    return "/gpu:%d" % idx


def num_gpus():
    """Number of CUDA devices (0 when no driver or GPU is present)."""
    try:
        from tapegrad import cuda
    except ImportError:
        return 0
    return cuda.device_count()


def _require_gpu(idx):
    n = num_gpus()
    if n == 0:
        raise RuntimeError("no CUDA device is available (requested /gpu:%d); tg.num_gpus() "
                           "is 0 on this machine" % idx)
    if idx >= n:
        raise RuntimeError("no CUDA device /gpu:%d: this machine has %d GPU(s)" % (idx, n))


def list_devices():
    return [_CPU] + ["/gpu:%d" % i for i in range(num_gpus())]


@contextlib.contextmanager
def device(name):
    """Place new tensors and ops on ``name`` ('/cpu:0', '/gpu:0', ...) inside the block."""
    dev = _parse(name)
    prev = _core._get_default_device()
    _core._set_default_device(dev)
    try:
        yield
    finally:
        _core._set_default_device(prev)


def _to_device(t, dev):
    """Copy a tensor to ``dev`` (a no-op if it is already there)."""
    dev = _parse(dev) if dev is not None else _CPU
    cur = t.device
    if cur == dev:
        return t
    from tapegrad.cuda import array as cuda_array

    if dev == _CPU:
        return _core.wrap(t._data.to_numpy())
    idx = int(dev.split(":")[1])
    if cur == _CPU:
        return _core._wrap_device(cuda_array.CudaArray.from_numpy(t._data, idx))
    return _core._wrap_device(cuda_array.CudaArray.from_numpy(t._data.to_numpy(), idx))


def _gpu_impl(name):
    from tapegrad.cuda import ops as cuda_ops

    impl = cuda_ops.IMPLS.get(name)
    if impl is None:
        raise RuntimeError("op %r has no GPU implementation" % name)
    return impl


_core._set_device_hooks(_to_device, _gpu_impl)


def executing_eagerly():
    return True
