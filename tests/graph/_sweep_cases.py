"""The gradient sweep's cases (tests/ops/test_gradients.py), for the graph tests that
replay each of them: loaded by path, since the sweep is a test module, not a package."""

import importlib.util
import os

import numpy as np
import pytest

import tapegrad as tg


def load_sweep(name):
    path = os.path.join(os.path.dirname(__file__), "..", "ops", "test_gradients.py")
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def sweep_params(sweep):
    """One pytest.param per sweep case (those with marks left out) and composite case."""
    return [pytest.param(case[1], case[2], id="%s-%s" % (name, case[0]))
            for name, cases in sorted(sweep.GRAD_CASES.items())
            for case in cases if not (len(case) > 3 and "marks" in case[3])] + [
        pytest.param(f, a, id="composite-" + n) for n, f, a in sweep.COMPOSITE_CASES]


def flatten(x):
    """The tensors of a (nested) result, in order."""
    if isinstance(x, (list, tuple)):
        return [t for a in x for t in flatten(a)]
    return [x] if isinstance(x, tg.Tensor) else []


def as_inputs(args):
    """A case's arguments as constants, floating ones in float64."""
    return [tg.constant(np.asarray(a, dtype=np.float64)) if np.asarray(a).dtype.kind == "f"
            else tg.constant(np.asarray(a)) for a in args]


def assert_same_bits(a, b):
    """Two results equal tensor for tensor: shapes, dtypes and every bit."""
    fa, fb = flatten(a), flatten(b)
    assert len(fa) == len(fb)
    for x, y in zip(fa, fb):
        assert x.shape == y.shape and x.dtype == y.dtype
        np.testing.assert_array_equal(x.numpy(), y.numpy(), strict=True)
