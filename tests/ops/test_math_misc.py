"""The rest of TF 1.x's tf.math (ops/math_misc.py): values against NumPy/SciPy, gradients
numerically (float64, reverse and forward mode, second order), and the errors."""

import numpy as np
import pytest
import scipy.special

import tapegrad as tg
import tapegrad.compat.tf1 as tf

RNG = np.random.default_rng(11)


def grads(fn, *args):
    tg.check_grads(fn, list(args), order=2, modes=("rev", "fwd"))


def test_tf_math_namespace_is_complete():
    # TF 1.15's tf.math, less what needs graphs or strings
    names = """abs accumulate_n acos acosh add add_n angle argmax argmin asin asinh atan
    atan2 atanh bessel_i0 bessel_i0e bessel_i1 bessel_i1e betainc bincount ceil
    confusion_matrix conj cos cosh count_nonzero cumprod cumsum cumulative_logsumexp
    digamma divide divide_no_nan equal erf erfc exp expm1 floor floordiv floormod greater
    greater_equal igamma igammac imag in_top_k invert_permutation is_finite is_inf is_nan
    is_non_decreasing is_strictly_increasing l2_normalize lbeta less less_equal lgamma log
    log1p log_sigmoid log_softmax logical_and logical_not logical_or logical_xor maximum
    minimum multiply multiply_no_nan negative not_equal polygamma polyval pow real
    reciprocal reciprocal_no_nan reduce_all reduce_any reduce_euclidean_norm
    reduce_logsumexp reduce_max reduce_mean reduce_min reduce_prod reduce_std reduce_sum
    reduce_variance rint round rsqrt scalar_mul segment_max segment_mean segment_min
    segment_prod segment_sum sigmoid sign sin sinh softmax softplus softsign sqrt square
    squared_difference subtract tan tanh top_k truediv unsorted_segment_max
    unsorted_segment_mean unsorted_segment_min unsorted_segment_prod
    unsorted_segment_sqrt_n unsorted_segment_sum xdivy xlogy zero_fraction zeta""".split()
    assert [n for n in names if not hasattr(tg.math, n)] == []
    assert [n for n in names if not hasattr(tf.math, n)] == []
    assert tg.math.cumsum is tg.cumsum and tg.math.softmax is tg.nn.softmax
    assert tf.nn.softsign is tg.math.softsign


def test_softsign_values_and_gradients():
    x = RNG.standard_normal((3, 4))
    np.testing.assert_allclose(tg.math.softsign(x).numpy(), x / (1 + np.abs(x)))
    grads(tg.math.softsign, x)
    with pytest.raises(TypeError, match="softsign: features must be floating, got int32"):
        tg.math.softsign(np.array([1], np.int32))


def test_reciprocal_no_nan():
    x = np.array([0.0, 2.0, -0.5, 0.0])
    np.testing.assert_array_equal(tg.math.reciprocal_no_nan(x).numpy(), [0, 0.5, -2, 0])
    with tg.GradientTape() as tape:
        t = tg.constant(x)
        tape.watch(t)
        y = tg.reduce_sum(tg.math.reciprocal_no_nan(t))
    np.testing.assert_array_equal(tape.gradient(y, t).numpy(), [0, -0.25, -4, 0])
    grads(tg.math.reciprocal_no_nan, RNG.uniform(0.5, 2, (5,)))


def test_polyval_rint_scalar_mul_accumulate_n():
    x = RNG.standard_normal((2, 3))
    c = [RNG.standard_normal() for _ in range(4)]
    np.testing.assert_allclose(tg.math.polyval(c, x).numpy(), np.polyval(c, x))
    grads(lambda x, a, b: tg.math.polyval([a, b, 2.0], x), x, 0.7, -1.3)
    np.testing.assert_array_equal(tg.math.polyval([], x).numpy(), np.zeros((2, 3)))
    np.testing.assert_array_equal(tg.math.rint([0.5, 1.5, -2.5, 2.6]).numpy(),
                                  np.rint([0.5, 1.5, -2.5, 2.6]))
    np.testing.assert_allclose(tg.math.scalar_mul(3.0, x).numpy(), 3 * x)
    with pytest.raises(ValueError, match="scalar_mul: scalar must be 0-d"):
        tg.math.scalar_mul([1.0, 2.0], x)
    np.testing.assert_allclose(tg.math.accumulate_n([x, x, 2 * x]).numpy(), 4 * x)
    with pytest.raises(ValueError, match="accumulate_n: the inputs have shape"):
        tg.math.accumulate_n([x], shape=(3, 2))


def test_bessel_i0_i1():
    x = np.array([-3.0, -0.4, 0.3, 1.0, 7.5])
    np.testing.assert_allclose(tg.math.bessel_i0(x).numpy(), scipy.special.i0(x), rtol=1e-13)
    np.testing.assert_allclose(tg.math.bessel_i1(x).numpy(), scipy.special.i1(x), rtol=1e-13)
    grads(tg.math.bessel_i0, x)
    grads(tg.math.bessel_i1, x)
    # I0' = I1, away from 0 and at it
    with tg.GradientTape() as tape:
        t = tg.constant(np.append(x, 0.0))
        tape.watch(t)
        y = tg.reduce_sum(tg.math.bessel_i0(t))
    np.testing.assert_allclose(tape.gradient(y, t).numpy(), scipy.special.i1(np.append(x, 0)),
                               rtol=1e-12, atol=1e-15)


def test_zero_fraction_and_monotonic_tests():
    assert float(tg.math.zero_fraction([0, 1, 0, 3]).numpy()) == 0.5
    assert tg.math.zero_fraction(np.zeros((2, 2))).dtype == np.float32
    assert bool(tg.math.is_non_decreasing([[1, 2], [2, 5]]).numpy())
    assert not bool(tg.math.is_strictly_increasing([[1, 2], [2, 5]]).numpy())
    assert bool(tg.math.is_strictly_increasing([1.0, 2.0, 3.5]).numpy())
    assert bool(tg.math.is_non_decreasing([]).numpy())      # vacuously, as in TF


def test_invert_permutation():
    p = RNG.permutation(7).astype(np.int32)
    inv = tg.math.invert_permutation(p).numpy()
    assert inv.dtype == np.int32
    np.testing.assert_array_equal(inv[p], np.arange(7))
    for bad in ([0, 0, 1], [0, 3, 1], [-1, 0, 1]):
        with pytest.raises(tg.errors.InvalidArgumentError, match="not a permutation"):
            tg.math.invert_permutation(bad)
    with pytest.raises(TypeError, match="invert_permutation: x must be integers"):
        tg.math.invert_permutation([0.0, 1.0])


def test_bincount_counts_weights_and_lengths():
    a = RNG.integers(0, 6, (4, 5))
    np.testing.assert_array_equal(tg.math.bincount(a).numpy(), np.bincount(a.ravel()))
    np.testing.assert_array_equal(tg.math.bincount(a, minlength=9).numpy(),
                                  np.bincount(a.ravel(), minlength=9))
    np.testing.assert_array_equal(tg.math.bincount(a, maxlength=3).numpy(),
                                  np.bincount(a.ravel())[:3])
    w = RNG.standard_normal((4, 5))
    np.testing.assert_allclose(tg.math.bincount(a, weights=w).numpy(),
                               np.bincount(a.ravel(), weights=w.ravel()))
    grads(lambda w: tg.math.bincount(a, weights=w, maxlength=4), w)
    with pytest.raises(tg.errors.InvalidArgumentError, match="bincount: arr must be non-neg"):
        tg.math.bincount([1, -2])
    with pytest.raises(ValueError, match="bincount: weights must have arr's shape"):
        tg.math.bincount([1, 2], weights=[1.0])


def test_confusion_matrix():
    lab, pred = RNG.integers(0, 4, 30), RNG.integers(0, 4, 30)
    expect = np.zeros((4, 4), np.int64)
    np.add.at(expect, (lab, pred), 1)
    np.testing.assert_array_equal(tg.math.confusion_matrix(lab, pred).numpy(), expect)
    np.testing.assert_array_equal(
        tg.math.confusion_matrix(lab, pred, num_classes=6).numpy()[:4, :4], expect)
    w = RNG.standard_normal(30)
    ew = np.zeros((4, 4))
    np.add.at(ew, (lab, pred), w)
    np.testing.assert_allclose(tg.math.confusion_matrix(lab, pred, weights=w,
                                                        dtype=np.float64).numpy(), ew)
    grads(lambda w: tg.math.confusion_matrix(lab, pred, weights=w, dtype=np.float64), w)
    with pytest.raises(tg.errors.InvalidArgumentError, match=">= num_classes"):
        tg.math.confusion_matrix([0, 5], [0, 1], num_classes=3)


def test_unsorted_segment_sqrt_n():
    x = RNG.standard_normal((6, 3))
    ids = np.array([0, 2, 2, 0, 2, -1])
    out = tg.math.unsorted_segment_sqrt_n(x, ids, 4).numpy()
    for s in range(4):
        rows = x[ids == s]
        expect = rows.sum(0) / np.sqrt(len(rows)) if len(rows) else np.zeros(3)
        np.testing.assert_allclose(out[s], expect, rtol=1e-13)
    grads(lambda x: tg.math.unsorted_segment_sqrt_n(x, ids, 4), x)
