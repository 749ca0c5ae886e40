"""numpy.linalg calls on small matrices run with NumPy's OpenBLAS held at one thread
(ops/linalg_base._lapack, like tapegrad's own products), and the user's thread count
comes back afterwards, also when the call raises."""

import numpy as np
import pytest

import tapegrad as tg
from tapegrad import _kernels
from tapegrad.ops import linalg_base

threadpoolctl = pytest.importorskip("threadpoolctl")


def _numpy_blas_threads():
    for info in threadpoolctl.threadpool_info():
        if info.get("internal_api") == "openblas" and "numpy" in info.get("filepath", ""):
            return info["num_threads"]
    return None


@pytest.fixture
def two_blas_threads():
    tg.matmul(tg.ones((2, 2)), tg.ones((2, 2)))          # binds NumPy's OpenBLAS
    if not _kernels.blas_bound() or _numpy_blas_threads() is None:
        pytest.skip("NumPy's BLAS is not a bound OpenBLAS")
    with threadpoolctl.threadpool_limits(2, user_api="blas"):
        yield


def test_small_factorizations_run_at_one_blas_thread(two_blas_threads):
    seen = []

    def probe(a):
        seen.append(_numpy_blas_threads())
        return np.linalg.inv(a)

    n = linalg_base._PIN_MIN + 1
    a = np.eye(n) * 2.0
    np.testing.assert_array_equal(linalg_base._lapack(probe, a), np.eye(n) / 2)
    linalg_base._lapack(probe, np.eye(linalg_base._PIN_MAX + 1))
    linalg_base._lapack(probe, np.eye(4))       # too small for OpenBLAS to thread
    assert seen == [1, 2, 2]
    assert _numpy_blas_threads() == 2
    tg.linalg.svd(np.ones((50, 40)))
    assert _numpy_blas_threads() == 2


def test_thread_count_restored_after_an_error(two_blas_threads):
    with pytest.raises(tg.linalg.LinAlgError, match="cholesky: matrix is not positive"):
        tg.linalg.cholesky(-np.eye(3))
    assert _numpy_blas_threads() == 2
