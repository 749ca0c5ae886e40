"""``import tapegrad`` defers the op families and transformations it does not need
(issue 25: import time within NumPy's + 0.05 s); what it defers must still be reachable
under the same names and complete wherever the registry is enumerated."""

import subprocess
import sys

import tapegrad as tg
from tapegrad import ops
from tapegrad.ops import array


def _run(code):
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_import_tapegrad_defers_the_heavy_modules():
    _run("import sys, tapegrad\n"
         "from tapegrad.ops import _DEFERRED\n"
         "late = ['tapegrad.ops.' + m for m in _DEFERRED] + ['numpy.random',\n"
         "        'tapegrad.ops.array', 'tapegrad.autodiff.jet', 'tapegrad.autodiff.vmap',\n"
         "        'tapegrad.autodiff.tape_jacobians']\n"
         "loaded = [m for m in late if m in sys.modules]\n"
         "assert not loaded, loaded")


def test_registry_loads_the_deferred_families():
    # a fresh process: registry() is complete without importing any op family first
    _run("import sys, tapegrad\n"
         "from tapegrad import _core\n"
         "from tapegrad.ops import _DEFERRED\n"
         "before = set(_core.registered())\n"
         "assert 'svd' not in before and 'conv2d' not in before\n"
         "reg = _core.registry()\n"
         "for name in ('svd', 'conv2d', 'random_normal', 'erf', 'cumsum', 'sort',\n"
         "             'fft_c2c', 'matrix_diag', 'hypot', 'unsorted_segment_prod',\n"
         "             'tensor_scatter_update'):\n"
         "    assert name in reg, name\n"
         "assert all('tapegrad.ops.' + m in sys.modules for m in _DEFERRED)")


def test_unpickling_a_deferred_primitive_in_a_fresh_process():
    import pickle

    from tapegrad import _core

    blob = pickle.dumps([_core.registry()["relu"], _core.registry()["svd"]])
    _run("import pickle, tapegrad\n"
         "relu, svd = pickle.loads(%r)\n"
         "assert (relu.name, svd.name) == ('relu', 'svd') and relu is tapegrad.nn.relu" % blob)


def test_lazy_top_level_names_match_their_modules():
    from tapegrad.autodiff import jet, vmap

    array_names = {n for n, m in tg._LAZY_FUNCTIONS.items() if m.startswith("ops.")}
    assert array_names == set(array.__all__)
    for name in array.__all__:
        assert getattr(tg, name) is getattr(array, name), name
    assert tg.jet is jet.jet and tg.derivatives is jet.derivatives
    assert tg.taylor_coefficients is jet.taylor_coefficients
    assert tg.vmap is vmap.vmap and tg.vectorized_map is vmap.vectorized_map
    assert tg.nn is ops.nn and tg.random is ops.random


def test_deferred_names_are_listed():
    names = dir(tg)
    assert {"nn", "random", "vmap", "jet", "cumsum", "while_loop"} <= set(names)
    assert {"nn", "linalg_decomp", "special", "nn_extra", "array"} <= set(dir(ops))
    assert {"jet", "vmap", "tape_jacobians"} <= set(dir(tg.autodiff))
    _run("import tapegrad as tg\n"
         "assert tg.ops.linalg_decomp.svd is not None and tg.autodiff.jet.jet is tg.jet\n"
         "x = tg.constant([[2.0, 0.0], [0.0, 3.0]])\n"
         "with tg.GradientTape() as t:\n"
         "    t.watch(x)\n"
         "    y = tg.nn.relu(x) @ x\n"
         "assert t.jacobian(y, x).shape == (2, 2, 2, 2)\n"
         "assert float(tg.reduce_sum(tg.cumsum(tg.sort([3.0, 1.0])))) == 5.0")


def test_eager_op_reaching_a_deferred_primitive():
    # tg.norm (ops/linalg.py, loaded by import tapegrad) takes the spectral norm from
    # linalg_decomp's singular_values by name: the registry loads it on that first use
    _run("import sys, tapegrad as tg\n"
         "assert 'tapegrad.ops.linalg_decomp' not in sys.modules\n"
         "x = tg.constant([[2.0, 0.0], [0.0, 3.0]])\n"
         "assert abs(float(tg.norm(x, ord=2, axis=[-2, -1])) - 3.0) < 1e-5")


def _family_is_self_contained(family):
    # loading the other families later changes none of the rules this one registered, so
    # a family loaded alone (tg.nn before anything else) behaves as when all load at once
    _run("import importlib\n"
         "from tapegrad import _core\n"
         "importlib.import_module('tapegrad.ops.%s')\n"
         "state = lambda p: (p.vjp, p.jvp, dict(p.rules), dict(p.impls))\n"
         "alone = {n: state(p) for n, p in _core.registered().items()}\n"
         "full = _core.registry()\n"
         "changed = [n for n, s in alone.items() if state(full[n]) != s]\n"
         "assert not changed, changed" % family)


def test_deferred_families_do_not_change_each_others_rules():
    for family in ops._DEFERRED:
        _family_is_self_contained(family)
