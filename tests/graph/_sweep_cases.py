"""The gradient sweep's cases (tests/ops/test_gradients.py), for the graph tests that
replay each of them: loaded by path, since the sweep is a test module, not a package."""

import importlib.util
import os

import pytest


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
