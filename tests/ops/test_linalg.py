"""matmul (BLAS, transpose flags, batching, layouts, dtypes), einsum, tensordot, norms
and clipping, against NumPy."""

import itertools

import numpy as np
import pytest
from _tg_layouts import assert_matches, operand

import tapegrad as tg

MM_DTYPES = [np.float32, np.float64, np.int32, np.int64, np.float16]

# (a shape, b shape) before any transposition: a is [..., m, k], b is [..., k, n]
MM_SHAPES = [((2, 3), (3, 4)), ((1, 1), (1, 1)), ((1, 5), (5, 1)), ((5, 1), (1, 5)),
             ((4, 2, 3), (3, 5)), ((2, 3), (4, 3, 5)), ((2, 1, 2, 3), (4, 3, 2)),
             ((3, 1, 2, 3), (1, 2, 3, 4)), ((0, 3), (3, 4)), ((2, 0), (0, 4)),
             ((2, 3), (3, 0)), ((0, 2, 3), (3, 4)), ((7, 33), (33, 17))]


def _rand(shape, dtype, rng):
    if np.dtype(dtype).kind == "f":
        return rng.standard_normal(shape).astype(dtype)
    return rng.integers(-4, 5, shape).astype(dtype)


def _ref(a, b, ta, tb):
    a64 = a.astype(np.float64) if a.dtype.kind == "f" else a
    b64 = b.astype(np.float64) if b.dtype.kind == "f" else b
    if ta:
        a64 = np.swapaxes(a64, -1, -2)
    if tb:
        b64 = np.swapaxes(b64, -1, -2)
    return np.matmul(a64, b64).astype(a.dtype)


def _tol(dtype):
    return {np.float16: dict(rtol=1e-2, atol=1e-2), np.float32: dict(rtol=1e-5, atol=1e-5),
            np.float64: dict(rtol=1e-12, atol=1e-12)}.get(dtype, {})


@pytest.mark.parametrize("dtype", MM_DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("ta, tb", list(itertools.product([False, True], repeat=2)))
def test_matmul_all_transpose_combos_layouts_batches(dtype, ta, tb):
    rng = np.random.default_rng(0)
    for sa, sb in MM_SHAPES:
        a = _rand(sa, dtype, rng)
        b = _rand(sb, dtype, rng)
        # stored transposed when the flag is set, so that the flag undoes it
        a_st = np.swapaxes(a, -1, -2).copy() if ta else a
        b_st = np.swapaxes(b, -1, -2).copy() if tb else b
        expected = _ref(a_st, b_st, ta, tb)
        for la, lb in (("C", "C"), ("F", "F"), ("T", "C"), ("C", "T"), ("slice", "neg"),
                       ("neg", "slice"), ("T", "slice")):
            got = tg.matmul(operand(a_st, la), operand(b_st, lb), transpose_a=ta,
                            transpose_b=tb)
            try:
                assert_matches(got, expected, **_tol(dtype))
            except AssertionError as e:
                raise AssertionError("%s @ %s ta=%s tb=%s layouts=%s,%s: %s"
                                     % (sa, sb, ta, tb, la, lb, e)) from None


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_matmul_batch_views(dtype):
    """Batch axes that are themselves transposed, broadcast (stride 0) or reversed."""
    rng = np.random.default_rng(1)
    a = tg.constant(_rand((3, 4, 5), dtype, rng))
    b = tg.constant(_rand((3, 5, 2), dtype, rng))
    views_a = {
        "perm": tg.transpose(tg.constant(_rand((4, 3, 5), dtype, rng)), (1, 0, 2)),
        "bcast": tg.broadcast_to(a[:1], (3, 4, 5)),
        "bcast_rows": tg.broadcast_to(a[:, :1, :], (3, 4, 5)),
        "rev": a[::-1],
        "step": tg.constant(_rand((6, 4, 10), dtype, rng))[::2, :, ::2],
    }
    for va in views_a.values():
        for tb_view in (b, tg.transpose(tg.constant(_rand((3, 2, 5), dtype, rng)), (0, 2, 1)),
                        tg.broadcast_to(b[:1, :, :], (3, 5, 2))):
            expected = np.matmul(va.numpy().astype(np.float64),
                                 tb_view.numpy().astype(np.float64)).astype(dtype)
            assert_matches(tg.matmul(va, tb_view), expected, **_tol(dtype))
            expected_t = np.matmul(np.swapaxes(va.numpy(), -1, -2).astype(np.float64),
                                   va.numpy().astype(np.float64)).astype(dtype)
            assert_matches(tg.matmul(va, va, transpose_a=True), expected_t, **_tol(dtype))


def test_matmul_vectors_like_numpy():
    rng = np.random.default_rng(2)
    v = rng.standard_normal(3).astype(np.float32)
    m = rng.standard_normal((3, 4)).astype(np.float32)
    bm = rng.standard_normal((2, 4, 3)).astype(np.float32)
    assert_matches(tg.matmul(v, m), v @ m, rtol=1e-5)
    assert_matches(tg.matmul(m.T.copy(), v), m.T @ v, rtol=1e-5)
    assert_matches(tg.matmul(v, v), np.float32(v @ v), rtol=1e-5)
    assert_matches(tg.matmul(bm, v), bm @ v, rtol=1e-5)


def test_matmul_large_float32_against_numpy():
    rng = np.random.default_rng(3)
    a = rng.standard_normal((130, 257)).astype(np.float32)
    b = rng.standard_normal((257, 65)).astype(np.float32)
    assert_matches(tg.matmul(a, b), _ref(a, b, False, False), rtol=1e-4, atol=1e-4)
    assert_matches(tg.matmul(tg.transpose(a), a), _ref(a, a, True, False), rtol=1e-4,
                   atol=1e-3)


def test_matmul_special_values():
    a = np.array([[np.inf, 1.0], [np.nan, 0.0]], np.float64)
    b = np.array([[1.0, 0.0], [2.0, 3.0]], np.float64)
    got = tg.matmul(a, b).numpy()
    with np.errstate(all="ignore"):
        expected = a @ b
    np.testing.assert_array_equal(np.isnan(got), np.isnan(expected))
    np.testing.assert_array_equal(got[~np.isnan(got)], expected[~np.isnan(expected)])


def test_matmul_adjoint_flags_alias_transpose():
    rng = np.random.default_rng(4)
    a = rng.standard_normal((3, 2))
    b = rng.standard_normal((4, 3))
    assert_matches(tg.matmul(a, b, adjoint_a=True, adjoint_b=True), (b @ a).T, rtol=1e-12)
    # for complex operands the adjoint is the conjugate transpose (TF's), not .T
    ca = a + 1j * rng.standard_normal(a.shape)
    cb = b + 1j * rng.standard_normal(b.shape)
    assert_matches(tg.matmul(ca, cb, adjoint_a=True, adjoint_b=True),
                   ca.conj().T @ cb.conj().T, rtol=1e-12)
    assert_matches(tg.matmul(ca, ca, adjoint_a=True), ca.conj().T @ ca, rtol=1e-12)
    assert_matches(tg.matmul(ca, ca, transpose_a=True), ca.T @ ca, rtol=1e-12)


@pytest.mark.parametrize("sa, sb, ta, tb, msg", [
    ((2, 3), (4, 5), False, False, r"matmul: inner dimensions differ: \(2, 3\) @ \(4, 5\)"),
    ((2, 3), (2, 3), False, False, r"matmul: inner dimensions differ"),
    ((2, 3), (2, 3), True, True, r"matmul: inner dimensions differ"),
    ((2, 2, 3), (3, 3, 4), False, False, r"matmul: batch dimensions"),
    ((), (3, 4), False, False, r"matmul: .*rank"),
    ((3,), (4,), False, False, r"matmul: inner dimensions differ"),
])
def test_matmul_shape_errors(sa, sb, ta, tb, msg):
    with pytest.raises(ValueError, match=msg):
        tg.matmul(tg.zeros(sa), tg.zeros(sb), transpose_a=ta, transpose_b=tb)


def test_matmul_type_errors():
    with pytest.raises(TypeError, match="matmul.*float32.*float64"):
        tg.matmul(tg.zeros((2, 2)), tg.zeros((2, 2), tg.float64))
    with pytest.raises(TypeError, match="matmul"):
        tg.matmul(tg.zeros((2, 2), tg.bool), tg.zeros((2, 2), tg.bool))
    with pytest.raises(TypeError, match="matmul"):
        tg.matmul(None, tg.zeros((2, 2)))
    with pytest.raises(TypeError, match="matmul"):
        tg.matmul("ab", tg.zeros((2, 2)))


# ---------------------------------------------------------------------------
# einsum and tensordot


@pytest.mark.parametrize("eq, shapes", [
    ("ij,jk->ik", [(2, 3), (3, 4)]), ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]),
    ("i,i->", [(3,), (3,)]), ("ij->ji", [(3, 4)]), ("ijk->k", [(2, 3, 4)]),
    ("ij,kj->ikj", [(3, 4), (2, 4)]), ("i,j->ij", [(3,), (4,)]), ("ij,jk,kl->il",
                                                                  [(2, 3), (3, 4), (4, 2)]),
    ("ij,jk", [(2, 3), (3, 4)]), ("ii->i", [(3, 3)]), ("->", [()]), ("ij,ij->ij", [(0, 3),
                                                                                  (0, 3)])])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32])
def test_einsum_matches_numpy(eq, shapes, dtype):
    rng = np.random.default_rng(5)
    xs = [_rand(s, dtype, rng) for s in shapes]
    expected = np.einsum(eq, *xs)
    for layout in ("C", "T", "slice"):
        assert_matches(tg.einsum(eq, *[operand(x, layout) for x in xs]), expected,
                       **_tol(dtype))


def test_einsum_errors():
    with pytest.raises(ValueError, match="einsum"):
        tg.einsum("ij,jk->ik", tg.zeros((2, 3)))
    with pytest.raises(ValueError, match="einsum"):
        tg.einsum("ij->i", tg.zeros((2, 3, 4)))
    with pytest.raises(ValueError, match="einsum"):
        tg.einsum("...ij->ij", tg.zeros((2, 3)))
    with pytest.raises(ValueError, match="einsum"):
        tg.einsum("ij,jk->ik", tg.zeros((2, 3)), tg.zeros((4, 5)))
    with pytest.raises(ValueError, match="einsum"):
        tg.einsum("i1->i", tg.zeros((2, 3)))
    with pytest.raises(TypeError, match="einsum"):
        tg.einsum("ij->ij", tg.zeros((2, 3)), bogus=1)


@pytest.mark.parametrize("eq, sa, sb", [("ij,ij->", (1, 4), (3, 4)),
                                        ("ij,jk->ik", (3, 4), (1, 2)),
                                        ("bij,bjk->bik", (1, 3, 4), (2, 4, 5)),
                                        ("ij,ij->j", (3, 1), (1, 4))])
def test_einsum_gradient_where_a_size_1_letter_broadcasts(eq, sa, sb):
    # np.einsum broadcasts a letter of size 1; its gradient sums over the positions it
    # stood for, as with the operand broadcast explicitly
    rng = np.random.default_rng(7)
    a, b = rng.standard_normal(sa), rng.standard_normal(sb)
    subs = eq.split("->")[0].split(",")
    size = {}
    for sub, shape in zip(subs, (sa, sb)):
        for c, d in zip(sub, shape):
            size[c] = max(size.get(c, 1), d)
    full = [tuple(size[c] for c in sub) for sub in subs]
    xs = [tg.constant(a), tg.constant(b)]
    with tg.GradientTape() as tape:
        tape.watch(xs)
        y = tg.reduce_sum(tg.einsum(eq, *xs) ** 2)
    got = tape.gradient(y, xs)
    ys = [tg.constant(np.broadcast_to(a, full[0])), tg.constant(np.broadcast_to(b, full[1]))]
    with tg.GradientTape() as tape:
        tape.watch(ys)
        y2 = tg.reduce_sum(tg.einsum(eq, *ys) ** 2)
    want = tape.gradient(y2, ys)
    np.testing.assert_allclose(y.numpy(), y2.numpy(), rtol=1e-12)
    for g, w, x in zip(got, want, (a, b)):
        np.testing.assert_allclose(g.numpy(), np.sum(w.numpy(), axis=tuple(
            k for k, d in enumerate(x.shape) if d == 1), keepdims=True), rtol=1e-12)


@pytest.mark.parametrize("axes, sa, sb", [(1, (2, 3), (3, 4)), (2, (2, 3, 4), (3, 4, 5)),
                                          (0, (2,), (3,)), (([0], [1]), (3, 2), (4, 3)),
                                          (([1, 0], [0, 1]), (2, 3), (3, 2)),
                                          (([0], [-2]), (2, 3), (2, 4)),
                                          (([-1, 0], [0, -1]), (2, 3), (3, 5, 2))])
def test_tensordot(axes, sa, sb):
    rng = np.random.default_rng(6)
    a, b = rng.standard_normal(sa), rng.standard_normal(sb)
    assert_matches(tg.tensordot(a, b, axes), np.tensordot(a, b, axes), rtol=1e-12)


# ---------------------------------------------------------------------------
# norms and clipping


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_norm(dtype):
    rng = np.random.default_rng(7)
    x = rng.standard_normal((3, 4)).astype(dtype)
    tol = dict(rtol=1e-5) if dtype == np.float32 else dict(rtol=1e-12)
    assert_matches(tg.norm(x), np.asarray(np.linalg.norm(x), dtype), **tol)
    assert_matches(tg.norm(operand(x, "T"), axis=1), np.linalg.norm(x, axis=1).astype(dtype),
                   **tol)
    assert_matches(tg.norm(x, ord=1, axis=0, keepdims=True),
                   np.sum(np.abs(x), axis=0, keepdims=True), **tol)
    assert_matches(tg.norm(x, ord=np.inf, axis=-1), np.max(np.abs(x), axis=-1), **tol)
    with pytest.raises(ValueError, match="norm"):
        tg.norm(x, ord=0.5)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_clip_by_norm(dtype):
    x = np.array([[3.0, 4.0], [0.3, 0.4]], dtype)
    assert_matches(tg.clip_by_norm(x, 1.0), x / np.sqrt(25.25).astype(dtype), rtol=1e-6)
    assert_matches(tg.clip_by_norm(x, 10.0), x, rtol=1e-6)
    assert_matches(tg.clip_by_norm(x, 1.0, axes=[1]), np.array([[0.6, 0.8], [0.3, 0.4]],
                                                               dtype), rtol=1e-6)
    zero = np.zeros((2, 2), dtype)
    assert_matches(tg.clip_by_norm(zero, 1.0), zero)
    t = tg.constant(zero)
    with tg.GradientTape() as tape:
        tape.watch(t)
        y = tg.reduce_sum(tg.clip_by_norm(t, 1.0))
    assert np.all(np.isfinite(tape.gradient(y, t).numpy()))


def test_global_norm_and_clip_by_global_norm():
    a = np.array([3.0, 0.0], np.float32)
    b = np.array([[4.0]], np.float32)
    assert_matches(tg.global_norm([a, None, b]), np.float32(5.0))
    clipped, norm = tg.clip_by_global_norm([a, None, b], 1.0)
    assert clipped[1] is None
    assert_matches(norm, np.float32(5.0))
    assert_matches(clipped[0], a / 5)
    assert_matches(clipped[2], b / 5)
    clipped, _ = tg.clip_by_global_norm([a, b], 10.0)
    assert_matches(clipped[0], a)
    with pytest.raises(ValueError, match="global_norm"):
        tg.global_norm([None])
