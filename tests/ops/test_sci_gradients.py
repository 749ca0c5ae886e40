"""The scientific primitives' gradient sweep in both modes, to second order (float64).

The cases live in _sci_cases.py (merged into test_gradients.GRAD_CASES as well, where the
registry meta-tests see them); here each runs with reverse and forward mode.
"""

import importlib.util
import os

import pytest

import tapegrad as tg


def _load(name):
    path = os.path.join(os.path.dirname(__file__), name + ".py")
    spec = importlib.util.spec_from_file_location("_tg_" + name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


CASES = _load("_sci_cases").SCI_GRAD_CASES


def _params():
    for name, cases in sorted(CASES.items()):
        for label, fn, args in cases:
            yield pytest.param(fn, args, id="%s-%s" % (name, label))


@pytest.mark.parametrize("fn, args", list(_params()))
def test_order2_both_modes(fn, args):
    tg.check_grads(fn, args, order=2, modes=("rev", "fwd"))


def test_every_scientific_primitive_has_its_rules_beside_it():
    """VJP and JVP registered (both written in tapegrad ops, so they differentiate again);
    the sweep above checks both numerically to second order."""
    from tapegrad import _core
    from tapegrad.ops._jvp import SelfAdjointJVP

    reg = _core.registry()
    for name in CASES:
        prim = reg[name]
        assert prim.differentiable and prim.vjp is not None and prim.jvp is not None, name
        assert prim.vjp.__module__.startswith("tapegrad.ops."), name
        if isinstance(prim.jvp, SelfAdjointJVP):
            # one-input op: its JVP is its VJP applied to the tangent, declared beside it
            assert prim.jvp.prim is prim, name
        else:
            assert prim.jvp.__module__ == prim.vjp.__module__, name
