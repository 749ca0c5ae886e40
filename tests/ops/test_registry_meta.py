"""Meta-tests over the op registry: nothing registered escapes the gradient sweep."""

import importlib.util
import os

import pytest

import tapegrad as tg
import tapegrad.autodiff.custom  # noqa: F401  (registers the custom_gradient primitive)
from tapegrad import _core

# Primitives that are declared not differentiable, on purpose.  Adding a primitive to
# the registry without listing it here or in GRAD_CASES fails test_every_primitive_is_filed.
NON_DIFFERENTIABLE = {
    "argmax", "argmin",
    "equal", "not_equal", "less", "less_equal", "greater", "greater_equal",
    "logical_and", "logical_or", "logical_xor", "logical_not",
    "is_finite", "is_inf", "is_nan",
    "floordiv",
    "one_hot", "stop_gradient",
    "reduce_all", "reduce_any",
    "fill", "eye", "range", "zeros_like", "ones_like",
    "random_normal", "random_truncated_normal", "random_uniform",
    "argsort", "searchsorted",  # array ops (h18): integer results
}


def _load_sweep():
    # by path, so the module name cannot clash with another tests/**/test_gradients.py
    path = os.path.join(os.path.dirname(__file__), "test_gradients.py")
    spec = importlib.util.spec_from_file_location("_tg_ops_gradient_sweep", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


SWEEP = _load_sweep()


def _registry():
    return _core.registry()


def test_registry_is_populated():
    reg = _registry()
    for name in ("add", "matmul", "conv2d", "reduce_sum", "getitem", "where", "argmax"):
        assert name in reg, name
    assert all(isinstance(p, _core.Primitive) for p in reg.values())
    assert all(p.name == name for name, p in reg.items())


def test_every_differentiable_primitive_has_a_gradient_entry():
    missing = sorted(name for name, prim in _registry().items()
                     if prim.differentiable and name not in SWEEP.GRAD_CASES)
    assert not missing, ("registered differentiable primitives without an entry in "
                         "tests/ops/test_gradients.py GRAD_CASES: %s" % missing)


def test_every_non_differentiable_primitive_is_listed():
    reg = _registry()
    unlisted = sorted(name for name, prim in reg.items()
                      if not prim.differentiable and name not in NON_DIFFERENTIABLE)
    assert not unlisted, ("primitives declared not_differentiable but missing from "
                          "NON_DIFFERENTIABLE in %s: %s" % (__file__, unlisted))


def test_no_stale_entries():
    reg = _registry()
    stale = sorted(n for n in SWEEP.GRAD_CASES if n not in reg or not reg[n].differentiable)
    assert not stale, "GRAD_CASES entries for unknown or non-differentiable ops: %s" % stale
    stale = sorted(n for n in NON_DIFFERENTIABLE if n not in reg or reg[n].differentiable)
    assert not stale, "NON_DIFFERENTIABLE lists unknown or differentiable ops: %s" % stale


def test_every_entry_has_cases():
    for name, cases in SWEEP.GRAD_CASES.items():
        assert cases, "GRAD_CASES[%r] is empty" % name
        for case in cases:
            label, fn, args = case[:3]
            assert callable(fn) and isinstance(args, list), (name, label)


@pytest.mark.parametrize("name", sorted(n for n, p in _core.registry().items() if p.differentiable))
def test_differentiable_primitives_have_a_vjp(name):
    assert _registry()[name].vjp is not None, "%s is differentiable but has no VJP" % name


@pytest.mark.parametrize("name", sorted(n for n, p in _core.registry().items() if p.differentiable))
def test_differentiable_primitives_have_a_jvp(name):
    """A JVP beside the forward: @prim.defjvp, prim.deflinear() or the explicit
    prim.defjvp_by_transposition() marker (docs/architecture.md §3)."""
    assert _registry()[name].jvp is not None, (
        "%s is differentiable but declares no JVP (defjvp, deflinear or "
        "defjvp_by_transposition beside its forward)" % name)


def test_sweep_covers_the_shape_groups():
    """Elementwise entries run over every shape group (docs/architecture.md §6)."""
    wanted = {str(s) for s in SWEEP.SHAPES}
    for name in ("abs", "exp", "log", "sqrt", "tanh", "sigmoid", "square", "negative", "sin",
                 "cos", "reciprocal", "rsqrt", "expm1", "log1p", "floor", "ceil", "round",
                 "sign", "identity"):
        labels = {c[0] for c in SWEEP.GRAD_CASES[name]}
        assert wanted <= labels, (name, wanted - labels)
    for name in ("add", "subtract", "multiply", "divide", "pow", "maximum", "minimum"):
        labels = {c[0] for c in SWEEP.GRAD_CASES[name]}
        assert "(3, 1),(1, 4)" in labels and "(),(2, 3, 4)" in labels, name


def test_non_differentiable_outputs_are_never_recorded():
    """Declared non-differentiable ops produce tensors no tape records."""
    x = tg.constant([1.0, 2.0, 3.0])
    with tg.GradientTape(persistent=True) as tape:
        tape.watch(x)
        outs = [tg.argmax(x), tg.equal(x, 2.0), tg.less(x, 2.0), tg.stop_gradient(x),
                tg.zeros_like(x), tg.ones_like(x), tg.is_nan(x), tg.floordiv(x, 2.0)]
    for out in outs:
        assert out._id not in tape._core.producers or tape._core.producers[out._id] is None
        g = tape.gradient(out, x) if out.dtype.kind == "f" else None
        assert g is None


def test_public_namespace_exposes_architecture_ops():
    """The public op names (docs/architecture.md §4) are reachable under tg / tg.nn /
    tg.random."""
    names = ("add subtract multiply divide negative pow square sqrt exp log log1p tanh sigmoid "
             "sin cos abs sign maximum minimum where matmul reduce_sum reduce_mean reduce_max "
             "reduce_min reduce_prod argmax argmin equal less greater cast reshape transpose "
             "concat stack split expand_dims squeeze tile broadcast_to gather one_hot "
             "clip_by_value clip_by_norm norm einsum stop_gradient identity constant "
             "convert_to_tensor zeros ones zeros_like ones_like fill range eye").split()
    missing = [n for n in names if not callable(getattr(tg, n, None))]
    assert not missing, missing
    nn = ("relu softmax log_softmax softplus sigmoid conv2d max_pool2d avg_pool2d dropout "
          "sparse_softmax_cross_entropy_with_logits softmax_cross_entropy_with_logits").split()
    assert not [n for n in nn if not callable(getattr(tg.nn, n, None))]
    assert not [n for n in ("set_seed", "normal", "uniform", "truncated_normal")
                if not callable(getattr(tg.random, n, None))]
    for dt in ("float16", "float32", "float64", "int32", "int64", "bool"):
        assert getattr(tg, dt) == getattr(__import__("numpy"), dt if dt != "bool" else "bool_")


# ---------------------------------------------------------------------------
# the other transforms' rules (docs/architecture.md §3): every primitive declares one,
# or NotSupported with its reason, beside its forward; nothing is silently missing

def _rule_status(kind, only_differentiable=False):
    import tapegrad.linalg  # noqa: F401  (registers the scientific primitives)
    import tapegrad.math  # noqa: F401
    import tapegrad.signal  # noqa: F401

    missing = []
    for name, prim in sorted(_registry().items()):
        if only_differentiable and not prim.differentiable:
            continue
        if prim.rule(kind) is None:
            missing.append(name)
    return missing


@pytest.mark.parametrize("kind,only_differentiable", [("taylor", True), ("batch", False),
                                                      ("onnx", False)])
def test_every_primitive_declares_its_transform_rules(kind, only_differentiable):
    missing = _rule_status(kind, only_differentiable)
    assert not missing, ("primitives with neither a %r rule nor NotSupported(reason) beside "
                         "their forward: %s" % (kind, missing))
