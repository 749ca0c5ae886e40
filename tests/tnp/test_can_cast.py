"""tnp.can_cast: the standard's promotion lattice within a kind; across kinds, the casts
NumPy and PyTorch call safe (bool to any number, integers to a float that promotion
reaches), never a float or complex to an integer, nor a number to bool."""

import itertools

import numpy as np
import pytest

import tapegrad.numpy as tnp

DTYPES = [tnp.bool, tnp.int8, tnp.int16, tnp.int32, tnp.int64, tnp.uint8, tnp.uint16,
          tnp.uint32, tnp.uint64, tnp.float32, tnp.float64, tnp.complex64, tnp.complex128]


@pytest.mark.parametrize("src, dst", list(itertools.product(DTYPES, DTYPES)))
def test_can_cast_table(src, dst):
    src, dst = np.dtype(src), np.dtype(dst)
    out = tnp.can_cast(src, dst)
    if src == dst or src.kind == "b":
        assert out
    elif dst.kind == "b" or (src.kind in "fc" and dst.kind in "iu") or \
            (src.kind == "c" and dst.kind == "f"):
        assert not out
    elif src.kind in "iu" and dst.kind == "f":
        assert out == (np.promote_types(src, dst) == dst)
    else:
        assert out == np.can_cast(src, dst, casting="safe")


def test_can_cast_reads_arrays():
    assert tnp.can_cast(tnp.asarray([True]), tnp.float32)
    assert not tnp.can_cast(tnp.asarray([1.5]), tnp.int64)
