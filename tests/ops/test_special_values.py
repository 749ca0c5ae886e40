"""floor_divide and expm1 at the array API standard's (2024.12) special cases.

NumPy gives Python's divmod quotient for an infinity against a finite number (NaN, or
-1 for opposite signs) where the standard asks for floor(x1 / x2), and its complex expm1
misses several of the standard's special values (-0 + 0j -> -0 + 0j, +inf + 0j ->
inf + NaN j, ...).  tapegrad's primitives fix those elements in C (_kernels_ufuncs.pxi)
and leave every other element bit-identical to NumPy's.  Checked for every spelling:
tg.math.floordiv, the Tensor's // (and its reflected form), tnp.floor_divide; tg.expm1,
tg.math.expm1 and tnp.expm1; and on the raw ufuncs (strides, broadcasting, in place).
"""

import numpy as np
import pytest

import tapegrad as tg
import tapegrad.numpy as tnp
from tapegrad import _kernels

INF, NAN = np.inf, np.nan


def _same(got, want):
    """Equal values, NaN where NaN is expected, and the sign of every zero."""
    got = np.asarray(got)
    want = np.asarray(want, dtype=got.dtype)
    if got.dtype.kind == "c":
        return _same(got.real, want.real) and _same(got.imag, want.imag)
    nan = np.isnan(want)
    return bool(np.array_equal(np.isnan(got), nan)
                and np.array_equal(got[~nan], want[~nan])
                and np.array_equal(np.signbit(got[~nan]), np.signbit(want[~nan])))


def _bits_equal(a, b):
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


# ---------------------------------------------------------------------------
# floor_divide: the standard's table for floating operands

def _floordiv_table(dtype):
    fi = np.finfo(dtype)
    pos = [1.0, 2.5, float(fi.max), float(fi.smallest_subnormal)]
    neg = [-v for v in pos]
    rows = []
    for v in (NAN, 0.0, -3.0, INF):
        rows += [(NAN, v, NAN), (v, NAN, NAN)]
    for a in (INF, -INF):
        for b in (INF, -INF):
            rows.append((a, b, NAN))
    for a in (0.0, -0.0):
        for b in (0.0, -0.0):
            rows.append((a, b, NAN))
    for b in pos + [INF]:
        rows += [(0.0, b, 0.0), (-0.0, b, -0.0)]
    for b in neg + [-INF]:
        rows += [(0.0, b, -0.0), (-0.0, b, 0.0)]
    for a in pos + [INF]:
        rows += [(a, 0.0, INF), (a, -0.0, -INF)]
    for a in neg + [-INF]:
        rows += [(a, 0.0, -INF), (a, -0.0, INF)]
    # the four cases NumPy gives as NaN, and the two it gives as -1
    for b in pos:
        rows += [(INF, b, INF), (-INF, b, -INF)]
    for b in neg:
        rows += [(INF, b, -INF), (-INF, b, INF)]
    for a in pos:
        rows += [(a, INF, 0.0), (a, -INF, -0.0)]
    for a in neg:
        rows += [(a, INF, -0.0), (a, -INF, 0.0)]
    # nonzero finite operands: the sign of the quotient, floor() of it
    rows += [(7.0, 2.0, 3.0), (-7.0, 2.0, -4.0), (7.0, -2.0, -4.0), (-7.0, -2.0, 3.0)]
    x1, x2, want = (np.array(c, dtype) for c in zip(*rows))
    return x1, x2, want


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_floordiv_special_cases_every_spelling(dtype):
    x1, x2, want = _floordiv_table(dtype)
    a, b = tg.constant(x1), tg.constant(x2)
    for got in (tg.math.floordiv(a, b), tg.floordiv(a, b), a // b):
        assert got.dtype == dtype
        assert _same(got.numpy(), want)
    if dtype is not np.float16:          # not an array API dtype
        assert _same(np.asarray(tnp.floor_divide(tnp.asarray(x1), tnp.asarray(x2))), want)
        assert _same(np.asarray(tnp.asarray(x1).__floordiv__(tnp.asarray(x2))), want)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_floordiv_special_cases_with_scalars(dtype):
    x = tg.constant(np.array([INF, -INF, 3.0, -3.0, 0.0], dtype))
    assert _same((x // 2.0).numpy(), np.array([INF, -INF, 1.0, -2.0, 0.0], dtype))
    assert _same((x // -INF).numpy(), np.array([NAN, NAN, -0.0, 0.0, -0.0], dtype))
    # the reflected operator: a Python number over the tensor
    y = tg.constant(np.array([INF, -INF, 2.0], dtype))
    assert _same((5.0 // y).numpy(), np.array([0.0, -0.0, 2.0], dtype))
    assert _same((-5.0 // y).numpy(), np.array([-0.0, 0.0, -3.0], dtype))
    assert _same(np.asarray(tnp.floor_divide(tnp.asarray(np.array([INF], dtype)), 2)),
                 np.array([INF], dtype))


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64, np.longdouble])
def test_floordiv_leaves_every_other_element_to_numpy(dtype):
    rng = np.random.default_rng(3)
    vals = np.array([0.0, -0.0, 1.0, -1.0, 0.1, -0.1, 3.0, 1e300, 1e-300, INF, -INF, NAN])
    g1, g2 = np.meshgrid(vals, vals)
    finite = rng.standard_normal(3000) * 10.0 ** rng.uniform(-4, 4, 3000)
    with np.errstate(all="ignore"):        # (float16 overflows to inf: more specials)
        # over 256 elements with specials inside: the chunked fix-up path
        x1 = np.concatenate([finite, g1.ravel(), finite[::-1]]).astype(dtype)
        x2 = np.concatenate([rng.permutation(finite), g2.ravel(), finite]).astype(dtype)
        ref = np.floor_divide(x1, x2)
        got = tg.floordiv(x1, x2).numpy()
    special = (np.isinf(x1) != np.isinf(x2)) & ~np.isnan(x1) & ~np.isnan(x2)
    assert special.any() and (~special).sum() > 6000
    assert _same(got[~special], ref[~special])
    if dtype is not np.longdouble:        # (80-bit values: compare values, not padding)
        assert _bits_equal(got[~special], ref[~special])
    assert _same(got[special], np.floor(x1[special] / x2[special]))
    # finite operands only: the unchanged whole-array path
    with np.errstate(all="ignore"):
        assert _same(tg.floordiv(x1[:3000], x2[:3000]).numpy(), ref[:3000])
        if dtype is not np.longdouble:
            assert _bits_equal(tg.floordiv(x1[:3000], x2[:3000]).numpy(), ref[:3000])


def test_floordiv_ufunc_strides_broadcasting_and_in_place():
    rng = np.random.default_rng(4)
    x = rng.standard_normal(1000) * 100
    x[[5, 300, 999]] = [INF, -INF, NAN]
    y = rng.standard_normal(1000)
    y[[7, 301, 600]] = [-INF, INF, 0.0]
    with np.errstate(all="ignore"):
        want = np.where((np.isinf(x) != np.isinf(y)) & ~np.isnan(x) & ~np.isnan(y),
                        np.floor(x / y), np.floor_divide(x, y))
        assert _same(_kernels.floor_divide(x, y), want)
        assert _same(_kernels.floor_divide(x[::3], y[::3]), want[::3])
        assert _same(_kernels.floor_divide(x[::-1], y[::-1]), want[::-1])
        col = _kernels.floor_divide(x[:40, None], y[None, 280:320])
        assert _same(col, np.where(
            (np.isinf(x[:40, None]) != np.isinf(y[None, 280:320])) &
            ~np.isnan(x[:40, None]) & ~np.isnan(y[None, 280:320]),
            np.floor(x[:40, None] / y[None, 280:320]),
            np.floor_divide(x[:40, None], y[None, 280:320])))
        assert _same(_kernels.floor_divide(x, -INF), np.floor(x / -INF))
        assert _same(_kernels.floor_divide(INF, y), np.floor(INF / y))
        for out_is in (0, 1):              # the output overwriting an input
            a, b = x.copy(), y.copy()
            _kernels.floor_divide(a, b, out=(a, b)[out_is])
            assert _same((a, b)[out_is], want)


def test_floordiv_integers_unchanged():
    a = np.array([7, -7, 0, 5, np.iinfo(np.int64).min], np.int64)
    b = np.array([2, 2, 3, -3, -1], np.int64)
    with np.errstate(all="ignore"):
        assert _bits_equal(tg.floordiv(a, b).numpy(), np.floor_divide(a, b))
        assert _bits_equal(np.asarray(tnp.floor_divide(tnp.asarray(a), tnp.asarray(b))),
                           np.floor_divide(a, b))
    with pytest.raises(tg.errors.InvalidArgumentError, match="integer division by zero"):
        tg.floordiv(a, np.zeros(5, np.int64))


def test_floordiv_has_no_gradient():
    x = tg.Variable(np.array([INF, 3.0]))
    with tg.GradientTape() as tape:
        y = x // 2.0
    assert tape.gradient(y, x) is None
    assert _same(y.numpy(), [INF, 1.0])


# ---------------------------------------------------------------------------
# expm1: the standard's complex special cases

def _c(re, im, dtype):
    z = np.empty(np.broadcast(re, im).shape, dtype)
    z.real, z.imag = re, im
    return z


def _expm1_cases(dtype):
    """(input, expected, imaginary sign specified, real sign specified)"""
    cases = []

    def add(a, b, want, im_sign=True, re_sign=True):
        cases.append((a, b, want, im_sign, re_sign))

    add(0.0, 0.0, (0.0, 0.0))
    add(-0.0, 0.0, (0.0, 0.0))
    for a in (0.0, -1.5, 2.0):
        add(a, INF, (NAN, NAN))
        add(a, NAN, (NAN, NAN))
    add(INF, 0.0, (INF, 0.0))
    for b in (1.0, -2.5, 0.5, 3.0):
        # +0 cis(b) - 1, and +inf cis(b) - 1
        add(-INF, b, (-1.0, np.copysign(0.0, np.sin(b))))
        add(INF, b, (np.copysign(INF, np.cos(b)), np.copysign(INF, np.sin(b))))
    add(-INF, 0.0, (-1.0, 0.0))
    add(-INF, INF, (-1.0, 0.0), im_sign=False)
    add(INF, INF, (INF, NAN), re_sign=False)
    add(-INF, NAN, (-1.0, 0.0), im_sign=False)
    add(INF, NAN, (INF, NAN), re_sign=False)
    add(NAN, 0.0, (NAN, 0.0))
    for b in (1.0, -2.0, INF):
        add(NAN, b, (NAN, NAN))
    add(NAN, NAN, (NAN, NAN))
    # expm1(conj(z)) == conj(expm1(z))
    for a, b, (wr, wi), ims, res in list(cases):
        cases.append((a, -b, (wr, -wi), ims, res))
    return cases


def _check_expm1(got, dtype):
    for (a, b, (wr, wi), im_sign, re_sign), g in zip(_expm1_cases(dtype), got):
        g = np.asarray(g)
        gr, gi = g.real, g.imag
        ok_re = _same(gr, wr) if re_sign else _same(np.abs(gr), abs(wr))
        ok_im = _same(gi, wi) if im_sign else _same(np.abs(gi), abs(wi))
        assert ok_re and ok_im, "expm1(%r%+rj) = %r, want %r%+rj" % (a, b, g, wr, wi)


@pytest.mark.parametrize("dtype", [np.complex64, np.complex128])
def test_expm1_complex_special_cases_every_spelling(dtype):
    cases = _expm1_cases(dtype)
    z = _c(np.array([c[0] for c in cases]), np.array([c[1] for c in cases]), dtype)
    for fn in (tg.expm1, tg.math.expm1):
        got = fn(tg.constant(z))
        assert got.dtype == dtype
        _check_expm1(got.numpy(), dtype)
    _check_expm1(np.asarray(tnp.expm1(tnp.asarray(z))), dtype)
    # one element at a time (0-d), as the conformance suite calls it
    _check_expm1([tg.expm1(tg.constant(v)).numpy() for v in z], dtype)


@pytest.mark.parametrize("dtype", [np.complex64, np.complex128, np.clongdouble])
def test_expm1_complex_leaves_every_other_element_to_numpy(dtype):
    rng = np.random.default_rng(5)
    n = 4000
    re = rng.standard_normal(n) * 10.0 ** rng.uniform(-6, 2.5, n)
    im = rng.standard_normal(n) * 10.0 ** rng.uniform(-6, 2.5, n)
    re[:50], im[50:100] = -0.0, 0.0            # a zero part but not both
    z = _c(re, im, dtype)
    with np.errstate(all="ignore"):
        ref = np.expm1(z)
    got = tg.expm1(z).numpy()
    assert _same(got, ref)
    if dtype is not np.clongdouble:
        assert _bits_equal(got, ref)
    # specials scattered over several chunks: the others stay NumPy's
    zs = z.copy()
    at = rng.choice(n, 300, replace=False)
    specials = _c(np.array([INF, -INF, NAN, -0.0, 0.0, 1.0]),
                  np.array([0.0, INF, 0.0, 0.0, -0.0, INF]), dtype)
    zs[at] = specials[np.arange(300) % 6]
    with np.errstate(all="ignore"):
        got = _kernels.expm1(zs)
        keep = np.ones(n, bool)
        keep[at] = False
        assert _same(got[keep], ref[keep])
        assert _same(got[at], _kernels.expm1(zs[at]))
        # strided, reversed, in place
        assert _same(_kernels.expm1(zs[::3]), got[::3])
        assert _same(_kernels.expm1(zs[::-1]), got[::-1])
        zi = zs.copy()
        _kernels.expm1(zi, out=zi)
        assert _same(zi, got)


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_expm1_real_is_numpys(dtype):
    rng = np.random.default_rng(6)
    # 1 << 16 elements: a large float array still splits over the thread pool
    x = (rng.standard_normal(1 << 16) * 20).astype(dtype)
    x[:6] = [0.0, -0.0, INF, -INF, NAN, 1e-30]
    with np.errstate(all="ignore"):
        ref = np.expm1(x)
    assert _bits_equal(tg.expm1(x).numpy(), ref)
    assert _bits_equal(tg.expm1(x[:100]).numpy(), ref[:100])
    # still a ufunc forward: eager dispatch keeps its ufunc paths for it
    assert tg.expm1.cpu is _kernels.expm1 and isinstance(_kernels.expm1, np.ufunc)


def test_expm1_gradient_is_exp():
    z = _c(np.array([-0.0, 0.0, 1.0, -INF, -2.0]), np.array([0.0, -0.0, 2.0, 1.0, 0.5]),
           np.complex128)
    v = tg.Variable(z)
    with tg.GradientTape() as tape:
        y = tg.reduce_sum(tg.math.real(tg.expm1(v)))
    g = tape.gradient(y, v).numpy()
    # d real(expm1(z)) / dz under tapegrad's convention: conj(exp(z))
    np.testing.assert_allclose(g, np.conj(np.exp(z)), rtol=1e-15, atol=0)
    x = tg.Variable(np.array([-0.0, 0.5, -INF]))
    with tg.GradientTape() as tape:
        y = tg.reduce_sum(tg.expm1(x))
    np.testing.assert_array_equal(tape.gradient(y, x).numpy(), np.exp([-0.0, 0.5, -INF]))
