"""The identity basis kept as diagonals (autodiff/_basis.py) under tg.hessian and
tg.jacobian: the same numbers as the dense vmap over eye(n) and as the row loop, and a
fallback for every op the diagonals do not cover."""

import numpy as np
import pytest

import tapegrad as tg
from tapegrad.autodiff import _basis, jacobians

RNG = np.random.default_rng(23)
A = RNG.standard_normal((7, 7))
C = RNG.standard_normal(7) + 3.0


def _c(a):
    return tg.constant(np.asarray(a, dtype=np.float64))


FUNCTIONS = {
    "sin_Ax_x4": lambda v: tg.reduce_sum(tg.sin(v) * (_c(A) @ v)) + tg.reduce_sum(v ** 4),
    "xA": lambda v: tg.reduce_sum(tg.tanh(tg.matmul(tg.reshape(v, (1, 7)), _c(A))) * v[0]),
    "rosenbrock": lambda v: tg.reduce_sum(100.0 * (v[1:] - v[:-1] ** 2) ** 2
                                          + (1.0 - v[:-1]) ** 2),
    "inner_slices": lambda v: tg.reduce_sum(v[1:-1] ** 3 * v[2:])
    - tg.reduce_sum(tg.exp(v[:3]) * v[4:]),
    "step_slice": lambda v: tg.reduce_sum(v[::2] ** 2) * tg.reduce_sum(v[1::2] ** 3),
    "divide": lambda v: tg.reduce_sum(v ** 3 / _c(C) + _c(C) / (v * v + 1.0)),
    "reductions": lambda v: tg.reduce_sum(v) ** 2 + tg.reduce_logsumexp(v * v),
    "softmax": lambda v: tg.reduce_sum(tg.nn.softmax(v) * _c(C)),
    "quadratic_form": lambda v: tg.reduce_sum(v * (_c(A.T @ A) @ v)) * 0.5,
    "zero_constant_product": lambda v: tg.reduce_sum(v * v * _c(np.r_[0.0, C[1:]])),
}


def _dense(f, x):
    saved = jacobians._structured_ok
    jacobians._structured_ok = lambda: False
    try:
        return tg.hessian(f)(x).numpy()
    finally:
        jacobians._structured_ok = saved


def _numeric_hessian(f, x, h=1e-5):
    g = tg.grad(f)
    n = x.shape[0]
    H = np.empty((n, n))
    for j in range(n):
        e = np.zeros(n)
        e[j] = h
        H[:, j] = (g(_c(x + e)).numpy() - g(_c(x - e)).numpy()) / (2 * h)
    return H


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_hessian_on_diagonals_matches_the_dense_basis(name):
    f = FUNCTIONS[name]
    x = RNG.standard_normal(7)
    got = tg.hessian(f)(_c(x)).numpy()
    # the same operations on the same numbers as the dense (n, n) batch: the same bits
    np.testing.assert_array_equal(got, _dense(f, _c(x)))
    np.testing.assert_allclose(got, _numeric_hessian(f, x), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(got, got.T, rtol=1e-12, atol=1e-12)


def test_hessian_against_torch():
    torch = pytest.importorskip("torch")
    x = RNG.standard_normal(7)

    def ft(v):
        return torch.sum(100.0 * (v[1:] - v[:-1] ** 2) ** 2 + (1.0 - v[:-1]) ** 2) + \
            torch.sum(torch.sin(v) * (torch.from_numpy(A) @ v))

    def fg(v):
        return FUNCTIONS["rosenbrock"](v) + tg.reduce_sum(tg.sin(v) * (_c(A) @ v))

    want = torch.func.hessian(ft)(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(tg.hessian(fg)(_c(x)).numpy(), want, rtol=1e-12, atol=1e-11)


def test_non_finite_shared_factor_falls_back_to_the_dense_batch():
    # 0 * inf is NaN in every dense row; the diagonals must not turn those into zeros
    c = np.r_[np.inf, np.ones(6)]

    def f(v):
        return tg.reduce_sum(v * v * _c(c))

    x = _c(RNG.standard_normal(7))
    got = tg.hessian(f)(x).numpy()
    np.testing.assert_array_equal(np.isnan(got), np.isnan(_dense(f, x)))
    np.testing.assert_allclose(got, _dense(f, x), rtol=0, atol=0)


def test_materialize_writes_each_offset():
    d = {k: _c(np.arange(1.0, 6.0) * (k + 3)) for k in (-2, 0, 1, 4)}
    band = _basis.Band(6, 5, (5,), d)
    got = _basis.materialize(band).numpy()
    want = np.zeros((6, 5))
    for k, t in d.items():
        for i in range(5):
            if 0 <= i + k < 6:
                want[i + k, i] = t.numpy()[i]
    np.testing.assert_array_equal(got, want)


JACOBIAN_CASES = {
    "square": (lambda v: tg.tanh(_c(A) @ v), (7,)),
    "wide_out": (lambda v: tg.reshape(tg.sin(v)[:, None] * v[None, :4], (7, 4)), (7,)),
    "narrow_out": (lambda v: tg.reduce_sum(tg.reshape(v, (3, 4)) ** 2, axis=1), (12,)),
    "matrix_in": (lambda X: tg.matmul(X, _c(A[:, :3])) * 2.0, (2, 7)),
    "scalar_out": (lambda v: tg.reduce_sum(v ** 3), (5,)),
    "slices": (lambda v: v[1:] * v[:-1] - tg.exp(v[2:4])[0], (6,)),
}


@pytest.mark.parametrize("mode", ["rev", "fwd", "auto"])
@pytest.mark.parametrize("name", sorted(JACOBIAN_CASES))
def test_jacobian_by_vmap_matches_the_row_loop(name, mode):
    f, shape = JACOBIAN_CASES[name]
    x = _c(RNG.standard_normal(shape))
    jac = tg.jacobian(f, mode=mode)
    first = jac(x).numpy()                  # the row loop (first call of f)
    assert jacobians._JAC_ROWS.get(f) is not None
    second = jac(x).numpy()                 # map_basis
    np.testing.assert_allclose(second, first, rtol=1e-12, atol=1e-13)
    x2 = _c(RNG.standard_normal(shape))
    saved = jacobians._structured_ok
    jacobians._structured_ok = lambda: False
    try:
        loop = jac(x2).numpy()
    finally:
        jacobians._structured_ok = saved
    np.testing.assert_allclose(jac(x2).numpy(), loop, rtol=1e-12, atol=1e-13)


def test_jacobian_by_vmap_against_torch():
    torch = pytest.importorskip("torch")
    x = RNG.standard_normal(7)
    f = JACOBIAN_CASES["square"][0]
    jac = tg.jacobian(f)
    jac(_c(x))
    want = torch.func.jacrev(lambda v: torch.tanh(torch.from_numpy(A) @ v))(
        torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(jac(_c(x)).numpy(), want, rtol=1e-12, atol=1e-13)


def test_jacobian_retraces_a_rebound_closure_and_survives_untraceable_functions():
    x = _c(RNG.standard_normal(4))
    w = _c(np.ones(4))

    def f(v):
        return v * w

    jac = tg.jacobian(f)
    jac(x)
    np.testing.assert_array_equal(jac(x).numpy(), np.eye(4))
    w = _c(np.full(4, 3.0))             # noqa: F841 - read by f's closure
    np.testing.assert_array_equal(jac(x).numpy(), 3 * np.eye(4))
    np.testing.assert_array_equal(jac(x).numpy(), 3 * np.eye(4))

    def g(v):       # a tensor's value in Python: not traceable, the row loop runs it
        return v * float(v.numpy()[0])

    for _ in range(2):
        got = tg.jacobian(g)(x).numpy()
        want = np.diag(np.full(4, x.numpy()[0]))
        want[:, 0] += x.numpy()
        # the value read through .numpy() is a constant to the tape as well
        np.testing.assert_allclose(got, np.diag(np.full(4, x.numpy()[0])), rtol=1e-15)


def test_jacobian_under_a_tape_stays_differentiable():
    f = JACOBIAN_CASES["square"][0]
    x = _c(RNG.standard_normal(7))
    jac = tg.jacobian(f)
    jac(x)
    with tg.GradientTape() as tape:
        tape.watch(x)
        s = tg.reduce_sum(jac(x))
    g = tape.gradient(s, x)
    assert g is not None
    saved = jacobians._structured_ok
    jacobians._structured_ok = lambda: False
    try:
        np.testing.assert_allclose(jac(x).numpy(), tg.jacobian(f)(x).numpy(), rtol=1e-12)
    finally:
        jacobians._structured_ok = saved


def test_jacobian_vmap_path_keys_on_python_arguments_and_holds_f_weakly():
    import gc
    import weakref

    x = _c(RNG.standard_normal(5))

    def f(v, k):
        return v[:k] * 2.0

    jac = tg.jacobian(f)
    for k in (2, 3, 2, 3, 4):
        np.testing.assert_array_equal(jac(x, k).numpy(), 2 * np.eye(5)[:k])

    def make():
        def g(v):
            return tg.reduce_sum(v ** 3)
        return g

    g = make()
    alive = weakref.ref(g)
    jg, hg = tg.jacobian(g), tg.hessian(g)
    for _ in range(2):
        jg(x), hg(x)
    del g, jg, hg
    gc.collect()
    assert alive() is None


def test_jacobian_takes_the_row_loop_when_the_batch_would_be_large(monkeypatch):
    from tapegrad.autodiff import vmap as vm

    def f(v):       # an (n, n) intermediate per example: n times that as a batch
        return tg.reduce_sum(tg.tanh(tg.reshape(v, (-1, 1)) * tg.reshape(v, (1, -1))),
                             axis=1)

    x = _c(RNG.standard_normal(40))
    jac = tg.jacobian(f)
    want = jac(x).numpy()
    runs = []
    real_run = vm.run
    monkeypatch.setattr(vm, "run", lambda *a, **k: runs.append(1) or real_run(*a, **k))
    np.testing.assert_allclose(jac(x).numpy(), want, rtol=1e-12, atol=1e-13)
    assert runs                                      # small enough: the vmap path
    runs.clear()
    monkeypatch.setattr(jacobians, "_JAC_VMAP_BYTES", 0)
    np.testing.assert_allclose(jac(x).numpy(), want, rtol=1e-12, atol=1e-13)
    assert not runs                                  # 40 x (40, 40) > 4 x the result
