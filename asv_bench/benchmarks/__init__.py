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
