"""DLPack exchange: ``tg.from_dlpack(obj)`` and the ``Tensor.__dlpack__`` protocol.

Both directions are zero-copy on the CPU:

* ``tg.from_dlpack(obj)`` wraps the producer's memory (a NumPy array, a PyTorch tensor,
  ...).  tapegrad never writes to it, but the producer still can: a later in-place write
  through ``obj`` shows up in the tensor, and in any tape that saved it.  Pass
  ``copy=True`` to detach the tensor from the producer.
* ``Tensor.__dlpack__`` exports tapegrad's own buffer with DLPack 1.0's read-only flag.
  NumPy honours it (``np.from_dlpack(t)`` is read-only); PyTorch 2.x ignores it, so
  ``torch.from_dlpack(t)`` is a writeable view and writing through it changes ``t`` in
  place -- which breaks the immutability that tapes rely on (a saved input would change
  under a recorded gradient).  Treat such views as read-only, or ask for
  ``t.__dlpack__(copy=True)`` / ``torch.from_dlpack(t).clone()`` before writing.
  A consumer that only speaks pre-1.0 DLPack (no read-only flag) gets a copy.

GPU tensors export their CUDA device pointer (``kDLCUDA``, the tensor's device index)
in a capsule built by ``cuda/dlpack.py``, after tapegrad's stream has finished; the
capsule keeps the buffer alive until the consumer's deleter runs.  ``dl_device=(1, 0)``
(the CPU) exports a host copy.  Importing GPU capsules is not supported.
"""

import numpy as np

from tapegrad import _core

_KDLCPU = 1
_KDLCUDA = 2


def from_dlpack(x, /, *, device=None, copy=None):
    """A tensor sharing ``x``'s memory (any object with ``__dlpack__``), zero-copy on CPU."""
    if isinstance(x, _core.Tensor):
        return x
    if not hasattr(x, "__dlpack__"):
        raise TypeError("from_dlpack: %s does not implement __dlpack__"
                        % type(x).__name__)
    if device not in (None, "cpu", "/cpu:0") and not (
            isinstance(device, tuple) and device[0] == _KDLCPU):
        raise ValueError("from_dlpack: only CPU is supported, got device=%r" % (device,))
    try:
        arr = np.from_dlpack(x, copy=copy)
    except (BufferError, RuntimeError, TypeError) as e:
        raise BufferError("from_dlpack: cannot import %s: %s" % (type(x).__name__, e)) from None
    if arr.dtype.kind not in "biuf":
        raise TypeError("from_dlpack: dtype %s is not supported" % arr.dtype)
    # a view of our own, so marking it read-only leaves the producer's array alone
    return _core.wrap(arr.view())


def dlpack_device(t):
    if t.device != "/cpu:0":
        return (_KDLCUDA, int(str(t.device).rsplit(":", 1)[-1]))
    return (_KDLCPU, 0)


def _dlpack_gpu(t, stream, max_version, dl_device, copy):
    from tapegrad.cuda import dlpack as D

    arr = t._data
    if dl_device is not None and tuple(dl_device) == (_KDLCPU, 0):
        if copy is False:
            raise BufferError("__dlpack__: a tensor on %s reaches the CPU only as a copy"
                              % t.device)
        return dlpack(_core.wrap(arr.to_numpy()), None, max_version, None, None)
    if dl_device is not None and tuple(dl_device) != (_KDLCUDA, arr.device_index):
        raise BufferError("__dlpack__: cannot export a tensor on %s to device %r"
                          % (t.device, dl_device))
    legacy = max_version is None or tuple(max_version) < (1, 0)
    if legacy and copy is False:
        raise BufferError("__dlpack__: copy=False needs a DLPack >= 1.0 consumer "
                          "(tapegrad's buffers are read-only)")
    copied = bool(copy) or legacy
    if copied:
        arr = arr.copy()
    # every op runs on tapegrad's one stream per device: once it is idle, the buffer is
    # final for any consumer stream (``stream`` needs no event then)
    arr.dev.synchronize()
    return D.export(arr, versioned=not legacy, read_only=not copied, copied=copied)


def dlpack(t, stream=None, max_version=None, dl_device=None, copy=None):
    """``Tensor.__dlpack__``: the buffer, read-only flagged (a copy when asked or needed)."""
    if t.device != "/cpu:0":
        return _dlpack_gpu(t, stream, max_version, dl_device, copy)
    if dl_device is not None and tuple(dl_device) != (_KDLCPU, 0):
        raise BufferError("__dlpack__: cannot export to device %r" % (dl_device,))
    arr = t.numpy()
    legacy = max_version is None or tuple(max_version) < (1, 0)
    if copy or legacy:
        if copy is False:
            raise BufferError("__dlpack__: copy=False needs a DLPack >= 1.0 consumer "
                              "(tapegrad's buffers are read-only)")
        arr = np.array(arr, copy=True)
    kw = {} if max_version is None else {"max_version": max_version}
    return arr.__dlpack__(stream=stream, **kw)
