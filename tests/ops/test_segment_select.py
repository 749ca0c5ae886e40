"""The one-pass extremum kernel behind unsorted_segment_max/min on 1-D data: values as
np.maximum.at / np.minimum.at give them, the gradient to each segment's unique winner,
and ties, NaN, infinities and empty segments as the general path treats them."""

import numpy as np
import pytest

import tapegrad as tg
from tapegrad import _kernels


def _reference(x, ids, num, is_max):
    info = np.finfo(x.dtype)
    m = np.full(num, info.min if is_max else info.max, x.dtype)
    (np.maximum if is_max else np.minimum).at(m, ids, x)
    return m


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("is_max", [True, False])
def test_kernel_matches_ufunc_at(dtype, is_max):
    rng = np.random.default_rng(3)
    x = rng.standard_normal(5000).astype(dtype)
    x[[5, 77]] = np.nan
    x[[9, 10]] = np.inf
    x[[11, 12]] = -np.inf
    x[100:110] = 0.25                       # ties inside segments
    ids = rng.integers(0, 60, 5000).astype(np.intp)       # segments 60..69 stay empty
    m, arg, cnt = _kernels.segment_select(x, ids, 70, is_max)
    np.testing.assert_array_equal(m, _reference(x, ids, 70, is_max))
    for s in range(70):
        members = np.flatnonzero(ids == s)
        if np.isnan(m[s]):
            assert cnt[s] == 0 and arg[s] == -1
            continue
        eq = members[x[members] == m[s]]
        assert cnt[s] == len(eq)
        assert arg[s] == (eq[0] if len(eq) else -1)


def test_kernel_checks_its_arguments():
    x = np.ones(3, np.float32)
    with pytest.raises(IndexError, match="out of range"):
        _kernels.segment_select(x, np.array([0, 1, 2], np.intp), 2, True)
    with pytest.raises(ValueError, match="x has 3 entries, ids 2"):
        _kernels.segment_select(x, np.array([0, 1], np.intp), 2, True)
    assert _kernels.segment_select(x.astype(np.int32), np.zeros(3, np.intp), 1, True) is None


@pytest.mark.parametrize("op, is_max", [(tg.unsorted_segment_max, True),
                                        (tg.unsorted_segment_min, False)])
def test_values_and_gradients(op, is_max):
    rng = np.random.default_rng(4)
    x = rng.standard_normal(300)
    ids = rng.integers(-1, 20, 300)             # -1 drops the row; 20..24 are empty
    keep = ids >= 0
    np.testing.assert_array_equal(op(x, ids, 25).numpy(),
                                  _reference(x[keep], ids[keep].astype(np.intp), 25, is_max))
    tg.check_grads(lambda v: op(v, ids, 25), [x], order=2, modes=("rev", "fwd"))
    # a tie splits the gradient between the tied entries (as in TF)
    t = tg.constant(np.array([1.0, 3.0, 3.0, 2.0]))
    with tg.GradientTape() as tape:
        tape.watch(t)
        y = tg.reduce_sum(op(t * (1 if is_max else -1), np.array([0, 0, 0, 1]), 2))
    g = tape.gradient(y, t).numpy()
    np.testing.assert_allclose(g, [0, 0.5, 0.5, 1] if is_max else [0, -0.5, -0.5, -1])
