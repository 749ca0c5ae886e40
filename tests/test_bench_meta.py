"""The asv suite covers every registered primitive, and every benchmark runs.

The benchmark package is imported from asv_bench/benchmarks (not grepped): its tables
(``FORWARD``, ``FORWARD_BACKWARD``, ``SECOND_ORDER``, ``ADJOINTS``) are checked against
``tapegrad._core.registry()``, and each entry is run with every primitive's forward and
VJP instrumented, so an entry filed under the wrong primitive fails too.
"""

import importlib
import importlib.util
import itertools
import numbers
import os
import subprocess
import sys
import textwrap

import pytest

import tapegrad  # noqa: F401  (registers the core primitives)
import tapegrad.autodiff.custom  # noqa: F401  (registers custom_gradient)
from tapegrad import _core

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH_DIR = os.path.join(ROOT, "asv_bench", "benchmarks")
PACKAGE = "_tg_asv_benchmarks"  # a private name: no clash with other "benchmarks" packages
MODULES = ["ops", "tape", "layers", "data", "imports", "traced", "scientific", "threads"]
BENCH_PREFIXES = ("time_", "peakmem_", "track_", "mem_", "timeraw_")


def _load_package():
    if PACKAGE not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            PACKAGE, os.path.join(BENCH_DIR, "__init__.py"),
            submodule_search_locations=[BENCH_DIR])
        package = importlib.util.module_from_spec(spec)
        sys.modules[PACKAGE] = package
        spec.loader.exec_module(package)
    return {name: importlib.import_module(f"{PACKAGE}.{name}") for name in MODULES}


BENCH = _load_package()
OPS = BENCH["ops"]
SCI = BENCH["scientific"]  # linalg, special functions, complex, FFT: same table layout
TABLES = (OPS, SCI)


def _registry():
    return _core.registry()


# -- coverage of the registry ----------------------------------------------------------

def test_registry_and_tables_are_populated():
    assert len(_registry()) > 50
    assert len(OPS.FORWARD) > 50
    assert set(OPS.FORWARD_BACKWARD) <= set(OPS.FORWARD)
    assert set(OPS.SECOND_ORDER) <= set(OPS.FORWARD_BACKWARD)


def test_every_primitive_has_a_forward_benchmark():
    missing = sorted(name for name in _registry()
                     if not any(name in t.FORWARD or name in t.ADJOINTS for t in TABLES))
    assert not missing, ("registered primitives without a forward benchmark in "
                         "asv_bench/benchmarks/ops.py FORWARD (or ADJOINTS): %s" % missing)


def test_every_differentiable_primitive_has_a_forward_backward_benchmark():
    missing = sorted(name for name, prim in _registry().items()
                     if prim.differentiable and not any(
                         name in t.FORWARD_BACKWARD or name in t.ADJOINTS for t in TABLES))
    assert not missing, ("registered differentiable primitives without a forward+backward "
                         "benchmark in asv_bench/benchmarks/ops.py FORWARD_BACKWARD (or "
                         "ADJOINTS): %s" % missing)


def test_tables_name_only_registered_primitives():
    reg = _registry()
    unknown = sorted(set(OPS.FORWARD) - set(reg)) + sorted(set(OPS.ADJOINTS) - set(reg))
    assert not unknown, "benchmark tables name unregistered primitives: %s" % unknown
    not_diff = sorted(n for n in OPS.FORWARD_BACKWARD if not reg[n].differentiable)
    assert not not_diff, "FORWARD_BACKWARD lists non-differentiable primitives: %s" % not_diff
    for adjoint, parent in OPS.ADJOINTS.items():
        assert parent in OPS.FORWARD_BACKWARD, (adjoint, parent)
        assert adjoint not in OPS.FORWARD, "%s is both public and an adjoint" % adjoint


# -- each entry runs the primitive it is filed under -----------------------------------

class _Calls:
    """Counts forward and VJP calls of every primitive while installed."""

    def __init__(self):
        self.forward = set()
        self.vjp = set()
        self._saved = []

    def _wrap(self, seen, name, fn):
        def counted(*args, **kwargs):
            seen.add(name)
            return fn(*args, **kwargs)
        return counted

    def install(self):
        for name, prim in _registry().items():
            self._saved.append((prim, prim.cpu, prim.vjp, prim.fast_code, prim.unary_code))
            prim.cpu = self._wrap(self.forward, name, prim.cpu)
            if prim.vjp is not None:
                prim.vjp = self._wrap(self.vjp, name, prim.vjp)
            # route same-shape binaries and the dispatcher's one-input fast paths through
            # prim.cpu too
            prim.fast_code = -1
            prim.unary_code = -1

    def restore(self):
        for prim, cpu, vjp, fast_code, unary_code in self._saved:
            prim.cpu, prim.vjp, prim.fast_code, prim.unary_code = cpu, vjp, fast_code, \
                unary_code
        self._saved = []

    def reset(self):
        self.forward.clear()
        self.vjp.clear()


@pytest.fixture
def calls():
    tracker = _Calls()
    tracker.install()
    try:
        yield tracker
    finally:
        tracker.restore()


SMALL = OPS.SIZES[0]
DTYPE = OPS.DTYPES[0]


def _run(cls, op, calls):
    bench = cls()
    bench.setup(op, SMALL, DTYPE)
    calls.reset()
    method = next(getattr(bench, m) for m in dir(bench) if m.startswith("time_"))
    method(op, SMALL, DTYPE)


def test_forward_entries_run_their_primitive(calls):
    wrong = []
    for table, op in [(t, op) for t in TABLES for op in sorted(t.FORWARD)]:
        _run(table.Forward, op, calls)
        # custom_gradient and function_call record their call directly instead of
        # dispatching a forward; their VJPs are checked below
        if op not in calls.forward and op not in ("custom_gradient", "function_call"):
            wrong.append("%s (ran %s)" % (op, sorted(calls.forward)))
    assert not wrong, "Forward entries that never run their primitive: %s" % wrong


def test_forward_backward_entries_run_their_vjp(calls):
    wrong = []
    for table, op in [(t, op) for t in TABLES for op in sorted(t.FORWARD_BACKWARD)]:
        _run(table.ForwardBackward, op, calls)
        if op not in calls.vjp:
            wrong.append("%s (VJPs run: %s)" % (op, sorted(calls.vjp)))
    assert not wrong, "ForwardBackward entries that never run their VJP: %s" % wrong


@pytest.mark.parametrize("OPS", TABLES, ids=["ops", "scientific"])
def test_adjoints_run_in_their_parents_benchmarks(calls, OPS):
    reg = _registry()
    first_order, second_order = {}, {}
    for parent in set(OPS.ADJOINTS.values()):
        _run(OPS.ForwardBackward, parent, calls)
        first_order[parent] = set(calls.forward)
        if parent in OPS.SECOND_ORDER:
            _run(OPS.SecondOrder, parent, calls)
            second_order[parent] = (set(calls.forward), set(calls.vjp))
    for adjoint, parent in OPS.ADJOINTS.items():
        forwards, vjps = second_order.get(parent, (set(), set()))
        assert adjoint in first_order[parent] | forwards, (
            "%s never runs in the benchmarks of %s" % (adjoint, parent))
        if adjoint in first_order[parent] and reg[adjoint].differentiable:
            assert adjoint in vjps, (
                "the VJP of %s never runs in SecondOrder[%s]" % (adjoint, parent))


# -- smoke: every benchmark's setup and one call ----------------------------------------

ALL_VALUES = {"op", "optimizer"}  # table keys: every entry is a different benchmark


def _smallest(param_names, params):
    """Every table entry, otherwise the smallest number / first value of each param."""
    chosen = []
    for name, values in zip(param_names, params):
        if name in ALL_VALUES:
            chosen.append(list(values))
        elif all(isinstance(v, numbers.Number) for v in values):
            chosen.append([min(values)])
        else:
            chosen.append([values[0]])
    return list(itertools.product(*chosen))


def _benchmarks(module):
    """(holder, method names) like asv discovers them: functions and classes' methods."""
    found = []
    functions = [n for n in vars(module) if n.startswith(BENCH_PREFIXES)
                 and callable(getattr(module, n))]
    if functions:
        found.append((None, functions))
    for obj in list(vars(module).values()):
        if isinstance(obj, type) and obj.__module__ == module.__name__:
            methods = [m for m in dir(obj) if m.startswith(BENCH_PREFIXES)]
            if methods:
                found.append((obj, methods))
    return found


def _run_timeraw(code):
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=60, cwd=ROOT)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("module_name", MODULES)
def test_every_benchmark_runs_once(module_name):
    module = BENCH[module_name]
    found = _benchmarks(module)
    assert found, "no benchmarks discovered in %s" % module_name
    ran = 0
    for holder, methods in found:
        if holder is None:
            for name in methods:
                out = getattr(module, name)()
                if name.startswith("timeraw_"):
                    _run_timeraw(textwrap.dedent(out))
                ran += 1
            continue
        params = getattr(holder, "params", [])
        names = getattr(holder, "param_names", [])
        if params and not isinstance(params[0], (list, tuple)):
            params = [params]
        for combo in _smallest(names, params) if params else [()]:
            bench = holder()
            try:
                if hasattr(bench, "setup"):
                    bench.setup(*combo)
            except NotImplementedError:
                continue  # asv's "skipped": the combination does not apply
            for name in methods:
                result = getattr(bench, name)(*combo)
                if name.startswith("track_"):
                    assert isinstance(result, numbers.Number), (holder, name, result)
                ran += 1
            if hasattr(bench, "teardown"):
                bench.teardown(*combo)
    assert ran > 0
