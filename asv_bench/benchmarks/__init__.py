"""asv benchmarks for tapegrad: one module per area (ops, tape, layers, data, imports).

Shared conventions, as in NumPy's and SciPy's suites: every class names its ``params``
and ``param_names``; ``setup`` builds its inputs from fixed seeds (``seed_all``) so two
runs time the same arithmetic; a parameter combination that does not apply raises
``NotImplementedError`` in ``setup``, which asv reports as skipped.
"""

import numpy as np

import tapegrad as tg

SEED = 0
DTYPES = ["float32", "float64"]


def seed_all():
    """Seed tapegrad's generator; return the NumPy generator that builds inputs."""
    tg.random.set_seed(SEED)
    return np.random.default_rng(SEED)


def skip(reason):
    """Tell asv this parameter combination does not apply (reported as skipped)."""
    raise NotImplementedError(reason)


class Case:
    """One call of an op on fixed inputs; ``sources`` are the inputs gradients flow to."""

    __slots__ = ("fn", "args", "kwargs", "sources")

    def __init__(self, fn, *args, sources=None, **kwargs):
        self.fn = fn
        self.args = args
        self.kwargs = kwargs
        if sources is None:
            flat = []
            for a in args:
                flat.extend(a if isinstance(a, (list, tuple)) else [a])
            sources = [a for a in flat
                       if isinstance(a, tg.Tensor) and np.issubdtype(a.dtype, np.floating)]
        self.sources = list(sources)

    def __call__(self):
        return self.fn(*self.args, **self.kwargs)


def ones_like(y):
    return tg.constant(np.ones(y.shape, dtype=y.dtype))


def build_case(table, op, size, dtype):
    """The ``table[op]`` case on fixed-seed inputs, called once outside the timing (lazy
    imports, kernel caches)."""
    case = table[op](size, dtype, seed_all())
    case()
    return case


THREADS = [1, 2]


def set_intra_op_threads(n):
    """Give tapegrad's intra-op thread pool ``n`` threads (``tg.config.threading``, TF's
    names) and return the previous setting, for ``restore_intra_op_threads``.

    A tapegrad without the pool runs every kernel on the calling thread: ``n == 1`` is what
    it does anyway, so that case runs (and its history carries on once the pool lands);
    any other ``n`` is skipped."""
    threading = getattr(getattr(tg, "config", None), "threading", None)
    if threading is None or not hasattr(threading, "set_intra_op_parallelism_threads"):
        if n != 1:
            skip("this tapegrad has no intra-op thread pool (tg.config.threading)")
        return None
    previous = threading.get_intra_op_parallelism_threads()
    threading.set_intra_op_parallelism_threads(n)
    return previous


def restore_intra_op_threads(previous):
    if previous is not None:
        tg.config.threading.set_intra_op_parallelism_threads(previous)
