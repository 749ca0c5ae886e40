"""The two TF 1.x entry points that have no tapegrad counterpart to alias.

tapegrad is always eager, so ``enable_eager_execution`` has nothing to switch on; it
exists so that the guide's first line runs unchanged.
"""

__all__ = ["enable_eager_execution", "is_gpu_available"]


def enable_eager_execution(config=None, device_policy=None, execution_mode=None):
    """Accepted for TF 1.x compatibility and ignored: tapegrad only executes eagerly.

    Safe to call any number of times.  The arguments (a session config, a device
    placement policy, sync/async mode) have no meaning for an engine without graphs.
    """
    return None


def is_gpu_available(cuda_only=False, min_cuda_compute_capability=None):
    """True when tapegrad can run ops on a CUDA GPU (``tg.num_gpus() > 0``).

    ``min_cuda_compute_capability`` (a ``(major, minor)`` pair) is checked against the
    first GPU when given.
    """
    wanted = None
    if min_cuda_compute_capability is not None:
        try:
            wanted = tuple(int(v) for v in min_cuda_compute_capability)
        except (TypeError, ValueError):
            wanted = ()
        if len(wanted) != 2:
            raise ValueError("is_gpu_available: min_cuda_compute_capability must be a (major, "
                             "minor) pair of integers, got %r" % (min_cuda_compute_capability,))
    from tapegrad import cuda

    if not cuda.is_available():
        return False
    if wanted is None:
        return True
    from tapegrad.cuda import runtime

    # Device.arch is 10 * major + minor (minor versions stay below 10).
    return divmod(runtime.get_device(0).arch, 10) >= wanted
