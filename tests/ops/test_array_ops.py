"""Array ops (cumulative, sorting, scatter/gather, segments, manipulation) and eager
control flow: values against NumPy, gradients in both modes to order 2, index errors,
and gradients against PyTorch where it is installed."""

import numpy as np
import pytest
from _array_grad_cases import ARRAY_COMPOSITE_CASES, ARRAY_GRAD_CASES

import tapegrad as tg
import tapegrad.compat.tf1 as tf


def _flat(table):
    for name, cases in table.items():
        for label, fn, args in cases:
            yield pytest.param(fn, args, id="%s-%s" % (name, label))


@pytest.mark.parametrize("fn, args", list(_flat(ARRAY_GRAD_CASES)) + [
    pytest.param(f, a, id=n) for n, f, a in ARRAY_COMPOSITE_CASES])
def test_gradients_both_modes_order2(fn, args):
    tg.check_grads(fn, args, order=2, modes=("rev", "fwd"))


RNG = np.random.default_rng(0)
X = RNG.standard_normal((3, 5))


# ---------------------------------------------------------------------------
# cumulative

@pytest.mark.parametrize("axis", [0, 1, -1])
@pytest.mark.parametrize("dt", [np.float32, np.float64, np.int32])
def test_cumsum_cumprod_match_numpy(axis, dt):
    x = (X * 3).astype(dt)
    np.testing.assert_allclose(tg.cumsum(x, axis).numpy(), np.cumsum(x, axis, dtype=dt),
                               rtol=1e-6)
    np.testing.assert_allclose(tg.cumprod(x, axis).numpy(), np.cumprod(x, axis, dtype=dt),
                               rtol=1e-5)
    assert tg.cumsum(x, axis).dtype == dt


def test_cumsum_flags_match_tf_semantics():
    x = np.array([1.0, 2.0, 3.0, 4.0])
    np.testing.assert_array_equal(tg.cumsum(x, exclusive=True).numpy(), [0, 1, 3, 6])
    np.testing.assert_array_equal(tg.cumsum(x, reverse=True).numpy(), [10, 9, 7, 4])
    np.testing.assert_array_equal(tg.cumsum(x, exclusive=True, reverse=True).numpy(),
                                  [9, 7, 4, 0])
    np.testing.assert_array_equal(tg.cumprod(x, exclusive=True, reverse=True).numpy(),
                                  [24, 12, 4, 1])
    np.testing.assert_allclose(tg.cumulative_logsumexp(x, exclusive=True).numpy(),
                               [-np.inf, 1, np.logaddexp(1, 2), np.logaddexp.reduce([1, 2, 3])])


def test_cumprod_gradient_with_zeros_is_exact_not_nan():
    x = tg.constant([2.0, 0.0, 3.0, 0.0, 5.0], dtype=tg.float64)
    with tg.GradientTape() as tape:
        tape.watch(x)
        y = tg.reduce_sum(tg.cumprod(x))
    g = tape.gradient(y, x).numpy()
    # d/dx_k sum_i prod_{j<=i} x_j, by hand
    xv = x.numpy()
    want = [sum(np.prod([xv[j] for j in range(i + 1) if j != k]) for i in range(k, 5))
            for k in range(5)]
    np.testing.assert_allclose(g, want)
    assert np.isfinite(g).all()


def test_cumulative_logsumexp_is_stable_for_large_values():
    x = np.array([1000.0, 1000.0, -1000.0])
    out = tg.cumulative_logsumexp(x).numpy()
    np.testing.assert_allclose(out, np.logaddexp.accumulate(x))
    g = tg.grad(lambda v: tg.reduce_sum(tg.cumulative_logsumexp(v)))(tg.constant(x))
    assert np.isfinite(g.numpy()).all()


def test_cumsum_rejects_bad_input():
    with pytest.raises(ValueError, match="cumsum"):
        tg.cumsum(3.0)
    with pytest.raises(ValueError, match="axis 2"):
        tg.cumsum(X, axis=2)
    with pytest.raises(TypeError, match="cumulative_logsumexp"):
        tg.cumulative_logsumexp(np.array([1, 2]))


# ---------------------------------------------------------------------------
# sorting

def test_sort_argsort_top_k_match_numpy():
    x = np.array([[3.0, 1.0, 2.0, 1.0], [0.0, -1.0, 5.0, 5.0]], dtype=np.float32)
    np.testing.assert_array_equal(tg.sort(x).numpy(), np.sort(x))
    np.testing.assert_array_equal(tg.sort(x, direction="DESCENDING").numpy(),
                                  -np.sort(-x))
    np.testing.assert_array_equal(tg.argsort(x).numpy(), np.argsort(x, kind="stable"))
    # descending keeps equal values in index order (TF's stable argsort)
    np.testing.assert_array_equal(tg.argsort(x, direction="DESCENDING").numpy(),
                                  [[0, 2, 1, 3], [2, 3, 0, 1]])
    v, i = tg.top_k(x, k=2)
    np.testing.assert_array_equal(v.numpy(), [[3, 2], [5, 5]])
    np.testing.assert_array_equal(i.numpy(), [[0, 2], [2, 3]])
    assert i.dtype == np.int32
    v2, i2 = tf.nn.top_k(x, 2)
    np.testing.assert_array_equal(i2.numpy(), i.numpy())
    assert tg.argsort(np.array([3, 1, 2], np.int64), direction="DESCENDING").numpy().tolist() \
        == [0, 2, 1]


def test_sort_gradient_follows_the_permutation():
    x = tg.constant([3.0, 1.0, 2.0])
    w = tg.constant([1.0, 10.0, 100.0])
    g = tg.grad(lambda v: tg.reduce_sum(tg.sort(v) * w))(x)
    np.testing.assert_array_equal(g.numpy(), [100, 1, 10])


def test_searchsorted_and_unique():
    seq = np.array([[1.0, 3.0, 5.0], [0.0, 2.0, 2.0]])
    vals = np.array([[3.0, 6.0], [2.0, -1.0]])
    np.testing.assert_array_equal(tg.searchsorted(seq, vals).numpy(), [[1, 3], [1, 0]])
    np.testing.assert_array_equal(tg.searchsorted(seq, vals, side="right").numpy(),
                                  [[2, 3], [3, 0]])
    y, idx = tg.unique([4, 1, 4, 2, 1])
    np.testing.assert_array_equal(y.numpy(), [4, 1, 2])   # order of first appearance
    np.testing.assert_array_equal(idx.numpy(), [0, 1, 0, 2, 1])
    y, idx, count = tg.unique_with_counts(np.array([1.5, 1.5, 0.5]), out_idx=tg.int64)
    np.testing.assert_array_equal(count.numpy(), [2, 1])
    assert idx.dtype == np.int64
    with pytest.raises(ValueError, match="1-D"):
        tg.unique(np.zeros((2, 2)))


# ---------------------------------------------------------------------------
# gather / scatter

def test_gather_batch_dims_matches_loop():
    p = RNG.standard_normal((2, 4, 3))
    idx = np.array([[3, 0], [1, 1]])
    out = tg.gather(p, idx, axis=1, batch_dims=1).numpy()
    np.testing.assert_array_equal(out, np.stack([p[b][idx[b]] for b in range(2)]))
    out = tg.gather(p, np.array([[2, 0], [1, 1]]), axis=2, batch_dims=1).numpy()
    want = np.stack([np.take(p[b], [[2, 0], [1, 1]][b], axis=1) for b in range(2)])
    np.testing.assert_array_equal(out, want)


def test_gather_nd_and_scatter_nd_match_numpy():
    p = RNG.standard_normal((3, 4, 2))
    idx = np.array([[0, 1], [2, 3]])
    np.testing.assert_array_equal(tg.gather_nd(p, idx).numpy(), p[[0, 2], [1, 3]])
    np.testing.assert_array_equal(tg.gather_nd(p, [[1]]).numpy(), p[[1]])
    out = tg.scatter_nd([[1], [1], [3]], np.array([1.0, 2.0, 5.0]), [4]).numpy()
    np.testing.assert_array_equal(out, [0, 3, 0, 5])  # duplicates add
    t = np.arange(6.0).reshape(3, 2)
    np.testing.assert_array_equal(
        tg.tensor_scatter_nd_update(t, [[0], [2]], np.array([[9.0, 9.0], [7.0, 7.0]])).numpy(),
        [[9, 9], [2, 3], [7, 7]])
    np.testing.assert_array_equal(tg.tensor_scatter_nd_add(t, [[1, 1]], [10.0]).numpy(),
                                  [[0, 1], [2, 13], [4, 5]])
    np.testing.assert_array_equal(tg.tensor_scatter_nd_sub(t, [[1, 1]], [10.0]).numpy(),
                                  [[0, 1], [2, -7], [4, 5]])
    np.testing.assert_array_equal(
        tg.tensor_scatter_nd_max(t, [[0, 0], [0, 0], [2, 1]], [3.0, 1.0, 2.0]).numpy(),
        [[3, 1], [2, 3], [4, 5]])
    np.testing.assert_array_equal(
        tg.tensor_scatter_nd_min(t, [[0, 0], [2, 1]], [-3.0, 2.0]).numpy(),
        [[-3, 1], [2, 3], [4, 2]])


@pytest.mark.parametrize("call", [
    lambda: tg.gather_nd(np.zeros((3, 4)), [[0, 4]]),
    lambda: tg.gather_nd(np.zeros((3, 4)), [[-1, 0]]),
    lambda: tg.scatter_nd([[5]], [1.0], [4]),
    lambda: tg.tensor_scatter_nd_update(np.zeros(3), [[3]], [1.0]),
    lambda: tg.gather(np.zeros((2, 3)), [[0, 3], [0, 0]], axis=1, batch_dims=1),
    lambda: tg.unsorted_segment_sum(np.zeros(3), [0, 1, 2], 2),
    lambda: tg.segment_sum(np.zeros(3), [1, 0, 0]),
    lambda: tg.take_along_axis(np.zeros((2, 3)), np.array([[0], [3]]), axis=1),
])
def test_out_of_range_indices_raise(call):
    with pytest.raises(IndexError, match="out of range|sorted"):
        call()


def test_scatter_shape_errors_name_the_op():
    with pytest.raises(ValueError, match="scatter_nd: updates have shape"):
        tg.scatter_nd([[0], [1]], [1.0], [4])
    with pytest.raises(TypeError, match="gather_nd: indices must be integers"):
        tg.gather_nd(np.zeros(3), [[0.5]])


# ---------------------------------------------------------------------------
# segments

def test_segment_reductions_match_loops():
    d = RNG.standard_normal((6, 2))
    ids = np.array([0, 0, 1, 3, 3, 3])
    for name, red, empty in [("sum", np.sum, 0), ("mean", np.mean, 0), ("max", np.max, None),
                             ("min", np.min, None), ("prod", np.prod, 1)]:
        out = getattr(tg, "segment_" + name)(d, ids).numpy()
        assert out.shape == (4, 2)
        for s in (0, 1, 3):
            np.testing.assert_allclose(out[s], red(d[ids == s], axis=0), rtol=1e-12)
        lowest = {"max": np.finfo(np.float64).min, "min": np.finfo(np.float64).max}
        np.testing.assert_array_equal(out[2], lowest.get(name, empty))
    uids = np.array([2, -1, 0, 2, 0, 1])
    for name, red in [("sum", np.sum), ("mean", np.mean), ("max", np.max), ("min", np.min),
                      ("prod", np.prod)]:
        out = getattr(tg, "unsorted_segment_" + name)(d, uids, 4).numpy()
        for s in range(3):
            np.testing.assert_allclose(out[s], red(d[uids == s], axis=0), rtol=1e-12)


def test_segment_max_splits_gradient_among_ties():
    d = tg.constant([1.0, 3.0, 3.0, 2.0])
    g = tg.grad(lambda v: tg.reduce_sum(tg.unsorted_segment_max(v, [0, 0, 0, 1], 2)))(d)
    np.testing.assert_array_equal(g.numpy(), [0, 0.5, 0.5, 1])


def test_segment_int_data():
    out = tg.unsorted_segment_max(np.array([3, 7, 1], np.int32), [1, 1, 0], 3).numpy()
    np.testing.assert_array_equal(out, [1, 7, np.iinfo(np.int32).min])


# ---------------------------------------------------------------------------
# manipulation

def test_manipulation_matches_numpy():
    x = np.arange(12.0).reshape(3, 4)
    np.testing.assert_array_equal(tg.reverse(x, [0, 1]).numpy(), x[::-1, ::-1])
    np.testing.assert_array_equal(tg.roll(x, [1, -3], [0, 1]).numpy(),
                                  np.roll(x, (1, -3), (0, 1)))
    np.testing.assert_array_equal(tg.roll(x, 5, 1).numpy(), np.roll(x, 5, 1))
    np.testing.assert_array_equal(tg.repeat(x, 2).numpy(), np.repeat(x, 2))
    np.testing.assert_array_equal(tg.repeat(x, [1, 0, 3], axis=0).numpy(),
                                  np.repeat(x, [1, 0, 3], axis=0))
    for idx in ("xy", "ij"):
        for a, b in zip(tg.meshgrid([1, 2, 3], [4, 5], [6], indexing=idx),
                        np.meshgrid([1, 2, 3], [4, 5], [6], indexing=idx)):
            np.testing.assert_array_equal(a.numpy(), b)
    for mode in ("REFLECT", "SYMMETRIC"):
        np.testing.assert_array_equal(tg.pad(x, [[2, 1], [3, 0]], mode).numpy(),
                                      np.pad(x, [[2, 1], [3, 0]], mode.lower()))
    np.testing.assert_array_equal(tg.boolean_mask(x, [True, False, True]).numpy(),
                                  x[[0, 2]])
    np.testing.assert_array_equal(tg.boolean_mask(x, x > 4).numpy(), x[x > 4])
    np.testing.assert_array_equal(tg.boolean_mask(x, [1 > 0, 0 > 1, 1 > 0, 1 > 0],
                                                  axis=1).numpy(), x[:, [0, 2, 3]])
    np.testing.assert_array_equal(tg.where(x > 6).numpy(), np.argwhere(x > 6))
    np.testing.assert_array_equal(
        tg.clip_by_value(x, np.array([1.0, 2.0, 3.0, 4.0]), 7.0).numpy(),
        np.clip(x, [1, 2, 3, 4], 7))


def test_manipulation_errors():
    with pytest.raises(ValueError, match="REFLECT padding"):
        tg.pad(np.zeros((3,)), [[3, 0]], "REFLECT")
    with pytest.raises(ValueError, match="mode"):
        tg.pad(np.zeros((3,)), [[1, 0]], "WRAP")
    with pytest.raises(ValueError, match="boolean_mask: mask shape"):
        tg.boolean_mask(np.zeros((3, 2)), [True, False])
    with pytest.raises(ValueError, match="roll"):
        tg.roll(np.zeros(3), [1, 2], [0])
    with pytest.raises(ValueError, match="clip_by_value: bounds"):
        tg.clip_by_value(np.zeros(3), np.zeros((2, 3)), 1.0)


# ---------------------------------------------------------------------------
# control flow

def test_cond_case_switch_case_run_one_branch():
    calls = []

    def branch(v):
        def fn():
            calls.append(v)
            return tg.constant(v)
        return fn

    assert float(tg.cond(tg.constant(True), branch(1.0), branch(2.0))) == 1.0
    assert float(tf.cond(tg.constant(2.0) > 3.0, branch(1.0), branch(2.0))) == 2.0
    assert calls == [1.0, 2.0]
    x = tg.constant(5)
    assert float(tg.case([(x < 3, branch(3.0)), (x > 4, branch(4.0))], default=branch(0.0))) \
        == 4.0
    assert float(tg.case([(x < 3, branch(3.0))], default=branch(0.0))) == 0.0
    with pytest.raises(ValueError, match="exclusive"):
        tg.case([(x > 1, branch(1.0)), (x > 2, branch(2.0))], exclusive=True)
    assert float(tg.switch_case(tg.constant(1), [branch(10.0), branch(11.0)])) == 11.0
    assert float(tg.switch_case(7, [branch(10.0), branch(11.0)])) == 11.0  # out of range
    assert float(tg.switch_case(7, {0: branch(10.0)}, default=branch(-1.0))) == -1.0
    with pytest.raises(ValueError, match="scalar"):
        tg.cond(tg.constant([True, False]), branch(1.0), branch(2.0))
    with pytest.raises(TypeError, match="bool"):
        tg.cond(tg.constant(1.0), branch(1.0), branch(2.0))


def test_while_loop_signatures_and_gradient():
    i, acc = tg.while_loop(lambda i, a: i < 5, lambda i, a: (i + 1, a * 2.0),
                           (tg.constant(0), tg.constant(1.0)))
    assert int(i) == 5 and float(acc) == 32.0
    assert int(tg.while_loop(lambda i: i < 100, lambda i: i + 1, tg.constant(0),
                             maximum_iterations=7)) == 7
    x = tg.constant(1.5)
    with tg.GradientTape() as tape:
        tape.watch(x)
        _, y = tf.while_loop(lambda k, y: k < 3, lambda k, y: [k + 1, y * x], [0, x])
    np.testing.assert_allclose(float(tape.gradient(y, x)), 4 * 1.5 ** 3, rtol=1e-6)
    with pytest.raises(ValueError, match="returned 1 values for 2"):
        tg.while_loop(lambda i, a: i < 5, lambda i, a: i + 1, [0, 1])


# ---------------------------------------------------------------------------
# against PyTorch

def test_gradients_match_torch():
    torch = pytest.importorskip("torch")
    x = RNG.standard_normal((4, 5))
    x[1, 2] = 0.0
    ct = RNG.standard_normal((4, 5))
    cases = [
        (lambda v: tg.cumprod(v, axis=1), lambda v: torch.cumprod(v, dim=1)),
        (lambda v: tg.cumsum(v, axis=0, reverse=True),
         lambda v: torch.flip(torch.cumsum(torch.flip(v, [0]), 0), [0])),
        (lambda v: tg.cumulative_logsumexp(v, axis=1), lambda v: torch.logcumsumexp(v, 1)),
        (lambda v: tg.sort(v, axis=1), lambda v: torch.sort(v, dim=1).values),
        (lambda v: tg.roll(v, 2, 1), lambda v: torch.roll(v, 2, 1)),
    ]
    for ours, theirs in cases:
        xt = torch.tensor(x, requires_grad=True)
        (gt,) = torch.autograd.grad(theirs(xt), xt, torch.tensor(ct))
        xv = tg.constant(x)
        with tg.GradientTape() as tape:
            tape.watch(xv)
            y = ours(xv)
        np.testing.assert_allclose(y.numpy(), theirs(xt).detach().numpy(), rtol=1e-10)
        np.testing.assert_allclose(tape.gradient(y, xv, output_gradients=tg.constant(ct)).numpy(),
                                   gt.numpy(), rtol=1e-9, atol=1e-12)
    # top_k and segment sum (index_add)
    xt = torch.tensor(x, requires_grad=True)
    (gt,) = torch.autograd.grad(torch.topk(xt, 3, dim=1).values.sum(), xt)
    g = tg.grad(lambda v: tg.reduce_sum(tg.top_k(v, 3)[0]))(tg.constant(x))
    np.testing.assert_array_equal(g.numpy(), gt.numpy())


def test_segment_ids_written_after_the_forward_do_not_reach_the_tape():
    ids = np.array([0, 0, 1, 2], dtype=np.intp)
    x = tg.constant([1.0, 2.0, 3.0, 4.0], tg.float64)
    with tg.GradientTape() as tape:
        tape.watch(x)
        y = tg.segment_sum(x, ids)
        z = tg.unsorted_segment_max(x, ids, 3)
        loss = tg.reduce_sum(y * tg.constant([1.0, 2.0, 3.0], tg.float64)) + tg.reduce_sum(z)
    ids[:] = 0  # the caller's array stays theirs (writable), and the tape kept a copy
    np.testing.assert_array_equal(tape.gradient(loss, x).numpy(), [1.0, 2.0, 3.0, 4.0])
