"""Every rule of a primitive is declared beside its forward (docs/architecture.md §3).

Forward mode keeps no rules of its own: each differentiable primitive carries a JVP
written with ``@prim.defjvp``, the op itself for linear ops (``prim.deflinear()``), its
VJP for a symmetric Jacobian (``prim.defjvp_self_adjoint()``), or the transposed VJP
(``prim.defjvp_by_transposition()``).
"""

import importlib.util
import inspect

import numpy as np
import pytest

import tapegrad as tg
import tapegrad.autodiff.custom  # noqa: F401  (registers the custom_gradient primitive)
from tapegrad import _core
from tapegrad.ops._jvp import LinearJVP, SelfAdjointJVP, TransposedJVP

# The ops whose JVP is the op on the tangent; a change here is a decision, so it is listed.
LINEAR = {
    "add", "subtract", "negative", "identity", "add_n", "cast", "where",
    "reshape", "transpose", "broadcast_to", "tile", "getitem", "getitem_grad", "gather",
    "gather_grad", "concat", "reduce_sum", "repeat",
    "avg_pool2d", "avg_pool2d_grad", "max_pool2d_grad", "max_pool2d_select", "relu_grad",
}
# The ops with a symmetric Jacobian, whose VJP formula serves as their JVP.
SELF_ADJOINT = {
    "abs", "square", "exp", "expm1", "log", "log1p", "sqrt", "rsqrt", "reciprocal", "tanh",
    "sigmoid", "sin", "cos", "relu", "softmax",
    # tg.math's trigonometric, hyperbolic and special functions; tnp's log2/log10/trunc
    "tan", "asin", "acos", "atan", "sinh", "cosh", "asinh", "acosh", "atanh", "erf",
    "erfc", "erfinv", "ndtri", "lgamma", "digamma", "bessel_i0e", "bessel_i1e", "log2",
    "log10", "trunc",
}
# The ops forward mode differentiates by transposing the VJP, and why: a user's grad_fn
# is the only rule a custom gradient has; the fused cross-entropy pair's JVP would
# restate its VJP.
BY_TRANSPOSITION = {"custom_gradient", "sparse_softmax_xent", "sparse_softmax_xent_grad"}


def _differentiable():
    return sorted(n for n, p in _core.registry().items() if p.differentiable)


def test_no_string_keyed_rule_table_remains():
    assert importlib.util.find_spec("tapegrad.autodiff.jvp_rules") is None
    from tapegrad.autodiff import forward

    source = inspect.getsource(forward)
    assert "install(" not in source and ".vjp(" not in source


@pytest.mark.parametrize("name", _differentiable())
def test_every_jvp_lives_beside_its_forward(name):
    prim = _core.registry()[name]
    assert prim.jvp is not None     # (test_registry_meta.py says which rule is missing)
    if isinstance(prim.jvp, (LinearJVP, SelfAdjointJVP, TransposedJVP)):
        assert prim.jvp.prim is prim
    else:
        # a hand-written rule lives in the module of the forward it differentiates
        assert prim.jvp.__module__ == prim.__module__, (name, prim.jvp.__module__)


def test_linear_and_transposed_declarations_are_the_listed_ones():
    reg = _core.registry()
    assert {n for n, p in reg.items() if isinstance(p.jvp, LinearJVP)} == LINEAR
    assert {n for n, p in reg.items() if isinstance(p.jvp, TransposedJVP)} == BY_TRANSPOSITION
    assert {n for n, p in reg.items() if isinstance(p.jvp, SelfAdjointJVP)} == SELF_ADJOINT


@pytest.mark.parametrize("name", sorted(SELF_ADJOINT))
def test_self_adjoint_ops_have_a_symmetric_jacobian(name):
    """<u, J v> == <J u, v> through the JVP, for random u, v (a wrong declaration,
    e.g. log_softmax's non-symmetric Jacobian, fails this)."""
    rng = np.random.default_rng(5)
    prim = _core.registry()[name]
    shape = (2, 3)
    x = tg.constant(rng.uniform(0.5, 2.0, shape) * rng.choice([-1, 1], shape)
                    if name not in ("log", "log1p", "sqrt", "rsqrt") else
                    rng.uniform(0.5, 2.0, shape))
    params = {"axis": 1} if name == "softmax" else {}
    u, v = (tg.constant(rng.standard_normal(shape)) for _ in range(2))
    ju = tg.jvp(lambda x: prim(x, **params), [x], [u])[1].numpy()
    jv = tg.jvp(lambda x: prim(x, **params), [x], [v])[1].numpy()
    np.testing.assert_allclose(np.sum(u.numpy() * jv), np.sum(ju * v.numpy()), rtol=1e-12)


@pytest.mark.parametrize("name", sorted(LINEAR))
def test_linear_ops_really_are_linear(name):
    """The sweep checks derivatives; here: J(a t1 + b t2) = a J t1 + b J t2 for the
    declared ops (a non-linear op declared linear would still pass a single jvp)."""
    sweep = importlib.util.spec_from_file_location(
        "_tg_sweep_for_rules", __file__.replace("test_primitive_rules.py", "test_gradients.py"))
    module = importlib.util.module_from_spec(sweep)
    sweep.loader.exec_module(module)
    label, fn, arrays, *kw = module.GRAD_CASES[name][0]
    rng = np.random.default_rng(3)
    primals = [tg.constant(np.asarray(a, dtype=np.float64)) if np.asarray(a).dtype.kind == "f"
               else tg.constant(a) for a in arrays]
    floats = [k for k, p in enumerate(primals) if p.dtype.kind == "f"]

    def f(*xs):
        full = list(primals)
        for k, x in zip(floats, xs):
            full[k] = x
        return fn(*full)

    fp = [primals[k] for k in floats]
    t1 = [tg.constant(rng.standard_normal(p.shape)) for p in fp]
    t2 = [tg.constant(rng.standard_normal(p.shape)) for p in fp]
    j1 = tg.jvp(f, fp, t1)[1].numpy()
    j2 = tg.jvp(f, fp, t2)[1].numpy()
    j12 = tg.jvp(f, fp, [2.0 * a - 3.0 * b for a, b in zip(t1, t2)])[1].numpy()
    tol = 1e-5 if kw else 1e-10     # cases with their own tolerances go through float32
    np.testing.assert_allclose(j12, 2.0 * j1 - 3.0 * j2, rtol=tol, atol=tol)


def test_linear_jvp_fills_zeros_for_an_input_without_tangent():
    x = tg.constant(np.ones((3, 4)))
    y = tg.constant(np.arange(4.0))
    out, t = tg.jvp(lambda y: tg.add(x, y), [y], [tg.constant([1.0, 2.0, 3.0, 4.0],
                                                              dtype=tg.float64)])
    assert t.shape == (3, 4)
    np.testing.assert_array_equal(t.numpy(), np.tile([1.0, 2.0, 3.0, 4.0], (3, 1)))
    _, t = tg.jvp(lambda y: tg.concat([x, tg.reshape(y, (1, 4))], 0), [y],
                  [tg.ones((4,), dtype=tg.float64)])
    np.testing.assert_array_equal(t.numpy(), np.vstack([np.zeros((3, 4)), np.ones((1, 4))]))


def _cube_primitive():
    """A primitive made here, outside the registry: a forward and a VJP only."""

    def cube(x):
        return x ** 3

    prim = _core.Primitive("test_cube", cube, save_output=False)

    @prim.defvjp
    def _cube_vjp(g, ans, x):
        return g * 3.0 * x * x

    return prim


def test_defjvp_by_transposition_gives_forward_mode_from_the_vjp_alone():
    prim = _cube_primitive()
    assert prim.jvp is None
    assert prim.defjvp_by_transposition() is prim
    x = tg.constant([0.5, -2.0], dtype=tg.float64)
    v = tg.constant([1.0, 3.0], dtype=tg.float64)
    _, t = tg.jvp(lambda x: prim(x), [x], [v])
    np.testing.assert_allclose(t.numpy(), 3 * x.numpy() ** 2 * v.numpy(), rtol=1e-14)
    # and again under forward mode: the transposition is itself differentiable
    _, tt = tg.jvp(lambda x: tg.jvp(lambda y: prim(y), [x], [v])[1], [x], [v])
    np.testing.assert_allclose(tt.numpy(), 6 * x.numpy() * v.numpy() ** 2, rtol=1e-14)


def test_deflinear_gives_the_jvp_of_a_new_linear_primitive():
    def double(x):
        return x * 2

    prim = _core.Primitive("test_double", double, save_inputs=False, save_output=False)
    prim.defvjp(lambda g, ans, x: g * 2.0)
    prim.deflinear()
    x = tg.constant([1.0, 2.0], dtype=tg.float64)
    _, t = tg.jvp(lambda x: prim(x) * x, [x], [tg.ones_like(x)])
    np.testing.assert_allclose(t.numpy(), 4 * x.numpy())


def test_check_grads_forward_over_forward_catches_a_wrong_jvp_derivative(monkeypatch):
    """A JVP right at first order but treating the output as a constant: only a forward
    derivative of the forward derivative can see it."""
    from tapegrad.ops import elementwise as E

    prim = _core.registry()["tanh"]
    monkeypatch.setattr(prim, "jvp", lambda ts, ans, x: E.multiply(
        ts[0], E.subtract(1, E.square(tg.stop_gradient(ans)))))
    x = [np.array([0.3, -0.7])]
    tg.check_grads(tg.tanh, x, order=1, modes=("rev", "fwd"))
    tg.check_grads(tg.tanh, x, order=2, modes=("rev",))
    with pytest.raises(AssertionError, match="forward-mode"):
        tg.check_grads(tg.tanh, x, order=2, modes=("fwd",))
