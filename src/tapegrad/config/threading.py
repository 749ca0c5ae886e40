"""Thread counts, as ``tf.config.threading``.

tapegrad's kernels, the matrix products included, share one thread pool
(docs/architecture.md §5.4).  Its size is the *intra-op parallelism*: by default the CPUs
this process may run on, or ``OMP_NUM_THREADS`` when that is set (its first number).
Kernels that are not reductions give the same bits at every thread count; reductions
(sums, matrix products, the filter gradient of a convolution) are deterministic for a
fixed thread count.  The setting governs tapegrad's calls only: NumPy code of your own
keeps NumPy's threading.
"""

from tapegrad import _kernels

_requested = 0


def set_intra_op_parallelism_threads(num_threads):
    """Use ``num_threads`` threads inside each op (0: the default, see the module doc;
    counts above 64, the pool's limit, use 64)."""
    global _requested
    if isinstance(num_threads, bool) or not isinstance(num_threads, int) \
            and not hasattr(num_threads, "__index__"):
        raise TypeError("set_intra_op_parallelism_threads: num_threads must be an int, "
                        "got %s" % type(num_threads).__name__)
    n = int(num_threads.__index__())
    if n < 0:
        raise ValueError("set_intra_op_parallelism_threads: num_threads must be >= 0 "
                         "(0 = default), got %d" % n)
    _kernels.set_threads(min(n, _kernels.MAX_THREADS) if n else _kernels.default_threads())
    _requested = n


def get_intra_op_parallelism_threads():
    """The value last set, 0 when it is the default (as TensorFlow reports it)."""
    return _requested


def get_num_threads():
    """The number of threads ops actually use now."""
    return _kernels.get_threads()

