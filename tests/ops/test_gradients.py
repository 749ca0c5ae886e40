"""The gradient sweep: every registered differentiable primitive, checked to order 2.

``GRAD_CASES`` (built in _grad_cases.py) maps each differentiable primitive name
(``tapegrad._core.registry()``) to a list of cases.  A case is ``(label, fn, args)``:
``fn`` calls the public API and ``args`` are NumPy arrays (floating ones are
differentiated, others passed as-is).
``tg.check_grads(fn, args, order=2, modes=("rev", "fwd"))`` compares reverse- and
forward-mode derivatives, and the derivatives of those (reverse over reverse, forward
over reverse, forward over forward), with float64 central differences.

Inputs are drawn away from kinks: abs/relu/sign away from 0, maximum/minimum and
reduce_max/min/max_pool without ties, floor/ceil/round/floormod away from jumps,
log/sqrt/pow/reciprocal on positive values.  Primitives that only appear inside
backward passes (conv2d_backprop_*, *_grad, max_pool2d_select) are reached through
the public API by differentiating a tape gradient (``_vjp``).

``test_registry_meta.py`` fails when a registered differentiable primitive has no entry.
"""


import numpy as np
import pytest

import tapegrad as tg


def _load_cases():
    import importlib.util
    import os

    path = os.path.join(os.path.dirname(__file__), "_grad_cases.py")
    spec = importlib.util.spec_from_file_location("_tg_grad_cases", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_CASES = _load_cases()
GRAD_CASES, COMPOSITE_CASES, SHAPES = _CASES.GRAD_CASES, _CASES.COMPOSITE_CASES, _CASES.SHAPES


def _flat(table):
    for name, cases in table.items():
        for label, fn, args, *kw in cases:
            kw = dict(kw[0]) if kw else {}
            marks = kw.pop("marks", ())
            yield pytest.param(fn, args, kw, id="%s-%s" % (name, label), marks=marks)


@pytest.mark.parametrize("fn, args, tol", list(_flat(GRAD_CASES)))
def test_check_grads_order2(fn, args, tol):
    # reverse, forward, forward-over-reverse and forward-over-forward, each to order 2
    tg.check_grads(fn, args, order=2, modes=("rev", "fwd"), **tol)


@pytest.mark.parametrize("fn, args", [pytest.param(f, a, id=n) for n, f, a in COMPOSITE_CASES])
def test_composites_order2(fn, args):
    tg.check_grads(fn, args, order=2, modes=("rev", "fwd"))


def _primitives_used(fn, args):
    """Names of the primitives an outer tape records while fn runs (incl. inner VJPs)."""
    xs = [tg.constant(a) if np.asarray(a).dtype.kind != "f" else
          tg.constant(np.asarray(a, dtype=np.float64)) for a in args]
    # not persistent: a replayed tg.function call is one op only on such a tape
    with tg.GradientTape() as tape:
        for x in xs:
            if x.dtype.kind == "f":
                tape.watch(x)
        fn(*xs)
    return {rec.prim.name for rec in tape._core.producers.values() if rec is not None}


@pytest.mark.parametrize("name", sorted(GRAD_CASES))
def test_entry_exercises_its_primitive(name):
    """Every entry really runs (and records) the primitive it is filed under."""
    for label, fn, args, *kw in GRAD_CASES[name]:
        if kw and "marks" in kw[0]:
            continue  # a known core bug, reported by the sweep itself
        assert name in _primitives_used(fn, args), (
            "GRAD_CASES[%r] case %r never records primitive %r" % (name, label, name))


def test_check_grads_catches_a_wrong_gradient():
    """The sweep can fail: a custom gradient off by a factor is reported."""

    @tg.custom_gradient
    def bad_square(x):
        def grad(dy):
            return dy * 3.0 * x

        return x * x, grad

    with pytest.raises(AssertionError, match="differs from central differences"):
        tg.check_grads(bad_square, [np.array([0.5, 1.5])], order=1)


def test_check_grads_catches_a_wrong_second_derivative():
    """Order 2 sees a gradient whose own derivative is wrong (treated as constant here)."""

    @tg.custom_gradient
    def frozen(x):
        slope = tg.stop_gradient(2.0 * x)

        def grad(dy):
            return dy * slope

        return x * x, grad

    tg.check_grads(frozen, [np.array([0.5, 1.5])], order=1)
    with pytest.raises(AssertionError, match="order"):
        tg.check_grads(frozen, [np.array([0.5, 1.5])], order=2)


def test_prod_gradient_with_zeros_matches_numeric():
    """reduce_prod's gradient is exact with one zero (product of the others) and two."""
    for vals, expected in [([2.0, 0.0, 3.0], [0.0, 6.0, 0.0]),
                           ([0.0, 0.0, 3.0], [0.0, 0.0, 0.0])]:
        x = tg.constant(vals)
        with tg.GradientTape() as tape:
            tape.watch(x)
            y = tg.reduce_prod(x)
        np.testing.assert_array_equal(tape.gradient(y, x).numpy(), expected)


def test_extremum_ties_share_gradient_equally():
    x = tg.constant([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]])
    with tg.GradientTape() as tape:
        tape.watch(x)
        y = tg.reduce_max(x, axis=1)
    np.testing.assert_allclose(tape.gradient(y, x).numpy(),
                               [[0, 0.5, 0.5], [1 / 3, 1 / 3, 1 / 3]], rtol=1e-6)


def test_subgradients_at_ties_and_kinks():
    """Documented choices: maximum/minimum send ties to x; abs and relu use 0 at 0."""
    x = tg.constant([1.0, 0.0, -1.0])
    y = tg.constant([1.0, 0.0, 2.0])
    with tg.GradientTape(persistent=True) as tape:
        tape.watch([x, y])
        mx = tg.maximum(x, y)
        mn = tg.minimum(x, y)
        ab = tg.abs(x)
        re = tg.nn.relu(x)
    gx, gy = tape.gradient(mx, [x, y])
    np.testing.assert_array_equal(gx.numpy(), [1, 1, 0])
    np.testing.assert_array_equal(gy.numpy(), [0, 0, 1])
    gx, gy = tape.gradient(mn, [x, y])
    np.testing.assert_array_equal(gx.numpy(), [1, 1, 1])
    np.testing.assert_array_equal(gy.numpy(), [0, 0, 0])
    np.testing.assert_array_equal(tape.gradient(ab, x).numpy(), [1, 0, -1])
    np.testing.assert_array_equal(tape.gradient(re, x).numpy(), [1, 0, 0])


def test_max_pool_ties_route_to_first_maximum():
    x = tg.constant(np.ones((1, 2, 2, 1)))
    with tg.GradientTape() as tape:
        tape.watch(x)
        y = tg.nn.max_pool2d(x, 2, 2, "VALID")
    np.testing.assert_array_equal(tape.gradient(y, x).numpy().ravel(), [1, 0, 0, 0])


def test_gradients_in_float32_match_float64():
    """The sweep runs in float64; float32 gradients follow the same code path."""
    rng = np.random.default_rng(3)
    a = rng.standard_normal((3, 4))
    b = rng.standard_normal((4, 2))
    out = {}
    for dt in (np.float32, np.float64):
        x, w = tg.constant(a.astype(dt)), tg.constant(b.astype(dt))
        with tg.GradientTape() as tape:
            tape.watch([x, w])
            y = tg.reduce_sum(tg.tanh(tg.matmul(x, w)) * tg.exp(-tg.square(x[:, :2])))
        gx, gw = tape.gradient(y, [x, w])
        assert gx.dtype == dt and gw.dtype == dt
        out[dt] = (gx.numpy(), gw.numpy())
    np.testing.assert_allclose(out[np.float32][0], out[np.float64][0], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(out[np.float32][1], out[np.float64][1], rtol=1e-4, atol=1e-5)
