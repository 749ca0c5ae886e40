"""tg.linalg.expm's kernel (Al-Mohy & Higham 2009 degree and scaling choice): values
against SciPy across norms, against a 50-digit reference, and the non-normal matrices
on which choosing the scaling from ||A|| alone loses digits."""

import numpy as np
import pytest

import tapegrad as tg

scipy_linalg = pytest.importorskip("scipy.linalg")
RNG = np.random.default_rng(11)


@pytest.mark.parametrize("scale", [1e-5, 1e-2, 0.2, 0.8, 1.5, 4.0, 20.0, 200.0])
@pytest.mark.parametrize("kind", ["real", "complex", "triangular"])
def test_expm_matches_scipy_over_every_degree(scale, kind):
    # the scales reach each Padé degree (3, 5, 7, 9, 13) and 13 with squarings
    n = 6
    a = RNG.standard_normal((n, n)) * scale / np.sqrt(n)
    if kind == "complex":
        a = a + 1j * RNG.standard_normal((n, n)) * scale / np.sqrt(n)
    elif kind == "triangular":
        a = np.triu(a) * 3
    ref = scipy_linalg.expm(a)
    got = tg.linalg.expm(a).numpy()
    np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-13 * np.abs(ref).max())


def test_expm_non_normal_is_not_over_scaled():
    # exp([[1, b], [0, -1]]) = [[e, b sinh(1)], [0, 1/e]]: ||A|| ~ b would ask for ~log2(b)
    # squarings, each losing accuracy; the norms of the powers stay ~1
    for b in (1e2, 1e4, 1e6, 1e8):
        a = np.array([[1.0, b], [0.0, -1.0]])
        exact = np.array([[np.e, b * np.sinh(1.0)], [0.0, np.exp(-1.0)]])
        np.testing.assert_allclose(tg.linalg.expm(a).numpy(), exact, rtol=4e-15, atol=0)


def test_expm_batch_of_mixed_norms_against_high_precision():
    mpmath = pytest.importorskip("mpmath")
    a = RNG.standard_normal((6, 4, 4)) * np.array([1e-3, 0.1, 1, 3, 10, 30])[:, None, None]
    got = tg.linalg.expm(a).numpy()
    with mpmath.workdps(50):
        exact = np.stack([np.array(mpmath.expm(mpmath.matrix(x.tolist())).tolist(),
                                   dtype=float) for x in a])
    for g, e in zip(got, exact):
        # normwise relative error within a small multiple of cond * u
        assert np.abs(g - e).max() / np.abs(e).max() < 1e-13
    # each matrix of the batch is computed as when alone
    for i in range(len(a)):
        np.testing.assert_allclose(got[i], tg.linalg.expm(a[i]).numpy(), rtol=1e-14,
                                   atol=1e-14 * np.abs(got[i]).max())
