"""IndexedSlices gradients of row lookups and their sparse application by optimizers."""

import numpy as np
import pytest

import tapegrad as tg
from tapegrad.ops.indexed_slices import IndexedSlices, sparse_gradients

RNG = np.random.default_rng(0)


def _grads(fn, variable, sparse):
    with tg.GradientTape() as tape:
        loss = fn(variable)
    if sparse:
        with sparse_gradients():
            return tape.gradient(loss, variable)
    return tape.gradient(loss, variable)


@pytest.mark.parametrize("fn", [
    lambda v: tg.reduce_sum(tg.square(tg.gather(v, [3, 1, 3, 5]))),
    lambda v: tg.reduce_sum(tg.gather(v, [[0, 2], [2, 2]]) * 3.0)
    + tg.reduce_sum(tg.gather(v, [4])),
    lambda v: tg.reduce_sum(tg.gather(v * 2.0, [1, 1])),          # lookup of an intermediate
    lambda v: tg.reduce_sum(tg.gather(v, [0])) + tg.reduce_sum(v),  # meets a dense gradient
])
def test_sparse_gradient_equals_the_dense_one(fn):
    v = tg.Variable(RNG.normal(size=(6, 3)))
    dense = _grads(fn, v, sparse=False)
    sparse = _grads(fn, v, sparse=True)
    assert isinstance(dense, tg.Tensor)
    np.testing.assert_allclose(np.asarray(sparse), dense.numpy(), rtol=1e-12)
    np.testing.assert_allclose(sparse.numpy(), dense.numpy(), rtol=1e-12)


def test_lookups_give_indexed_slices_with_the_touched_rows():
    v = tg.Variable(np.ones((100, 4)))
    g = _grads(lambda v: tg.reduce_sum(tg.gather(v, [7, 3, 7])), v, sparse=True)
    assert type(g) is IndexedSlices
    assert sorted(g.indices.tolist()) == [3, 7, 7] and g.dense_shape == (100, 4)
    assert g.values.shape == (3, 4)


def test_stays_dense_under_an_outer_tape_so_higher_orders_are_exact():
    v = tg.Variable(RNG.normal(size=(5, 2)))
    with tg.GradientTape() as outer:
        with tg.GradientTape() as inner:
            loss = tg.reduce_sum(tg.gather(v, [1, 2]) ** 3)
        with sparse_gradients():
            g = inner.gradient(loss, v)
        assert isinstance(g, tg.Tensor)
        total = tg.reduce_sum(g)
    gg = outer.gradient(total, v).numpy()
    expected = np.zeros((5, 2))
    expected[[1, 2]] = 6 * v.numpy()[[1, 2]]
    np.testing.assert_allclose(gg, expected, rtol=1e-12)


@pytest.mark.parametrize("make", [
    lambda: tg.optimizers.SGD(0.1),
    lambda: tg.optimizers.Momentum(0.1),
    lambda: tg.optimizers.Adam(0.1),
    lambda: tg.optimizers.Adam(0.1, amsgrad=True),
    lambda: tg.optimizers.RMSProp(0.1),
    lambda: tg.optimizers.Adagrad(0.1),
    lambda: tg.optimizers.AdamW(0.1),
    lambda: tg.optimizers.Adamax(0.1),
    lambda: tg.optimizers.Nadam(0.1),
    lambda: tg.optimizers.Ftrl(0.1),
])
def test_optimizers_update_only_the_touched_rows(make):
    w0 = RNG.normal(size=(8, 3))
    ids = [5, 1, 5]
    fn = lambda v: tg.reduce_sum(tg.square(tg.gather(v, ids)))  # noqa: E731
    sparse_var, rows_var = tg.Variable(w0.copy()), tg.Variable(w0[[1, 5]].copy())
    sparse_opt, rows_opt = make(), make()
    for _ in range(3):
        sparse_opt.apply_gradients([(_grads(fn, sparse_var, True), sparse_var)])
        # the same rule on just the touched rows (index 5 twice: twice the gradient)
        rows_grad = _grads(lambda v: tg.reduce_sum(tg.square(v) * np.array([[1.0], [2.0]])),
                           rows_var, False)
        rows_opt.apply_gradients([(rows_grad, rows_var)])
    got = sparse_var.numpy()
    np.testing.assert_allclose(got[[1, 5]], rows_var.numpy(), rtol=1e-10)
    untouched = [i for i in range(8) if i not in (1, 5)]
    np.testing.assert_array_equal(got[untouched], w0[untouched])


def test_sgd_sparse_step_equals_the_dense_step():
    w0 = RNG.normal(size=(50, 4))
    fn = lambda v: tg.reduce_sum(tg.gather(v, [3, 3, 10]) * np.arange(4.0))  # noqa: E731
    a, b = tg.Variable(w0.copy()), tg.Variable(w0.copy())
    tg.optimizers.SGD(0.3).apply_gradients([(_grads(fn, a, True), a)])
    tg.optimizers.SGD(0.3).apply_gradients([(_grads(fn, b, False), b)])
    np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-12)


def test_fit_trains_embeddings_sparsely():
    model = tg.Sequential([tg.layers.Embedding(1000, 4), tg.layers.Flatten(),
                           tg.layers.Dense(1)])
    model.compile(tg.optimizers.Adam(0.05), "mse")
    x = RNG.integers(0, 20, size=(64, 3))
    y = RNG.normal(size=(64, 1)).astype(np.float32)
    model(x[:1])
    before = model.layers[0].embeddings.numpy().copy()
    model.fit(x, y, epochs=2, batch_size=16, verbose=0)
    after = model.layers[0].embeddings.numpy()
    # lazy Adam: rows never looked up keep their values
    np.testing.assert_array_equal(after[20:], before[20:])
    assert not np.allclose(after[:20], before[:20])


def test_clipping_densifies_sparse_gradients():
    v = tg.Variable(np.ones((4, 2)))
    g = _grads(lambda v: tg.reduce_sum(tg.gather(v, [0, 0])) * 10.0, v, True)
    tg.optimizers.SGD(1.0, clipnorm=1.0).apply_gradients([(g, v)])
    expected = np.ones((4, 2))
    expected[0] -= 1 / np.sqrt(2)
    np.testing.assert_allclose(v.numpy(), expected, rtol=1e-12)


def test_indexed_slices_checks_its_shapes():
    with pytest.raises(ValueError, match="do not match"):
        IndexedSlices(tg.zeros((2, 3)), [0, 1, 2], (5, 3))
