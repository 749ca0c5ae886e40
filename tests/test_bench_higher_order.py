"""bench/higher_order.py (issue 23's rows): every row builds, checks its values against
the reference (the rows assert agreement with torch.func / NumPy when they are built)
and runs each variant once."""

import importlib.util
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _module():
    spec = importlib.util.spec_from_file_location(
        "_tg_bench_higher_order", os.path.join(ROOT, "bench", "higher_order.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.parametrize("row", ["hess100", "rosen300", "pex32", "jac"])
def test_rows_build_and_run(row):
    mod = _module()
    variants = mod.ROWS[row]()
    assert "tapegrad" in next(iter(variants))
    for fn in variants.values():
        fn()
    times = mod.paired(variants, 1)
    assert set(times) == set(variants) and all(len(t) == 1 for t in times.values())
