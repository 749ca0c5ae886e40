"""A parallel map whose function raises on element k yields elements 0..k-1 first, then
raises: the same elements and the same error as the sequential map (and TF)."""

import numpy as np
import pytest

import tapegrad as tg


def _run(ds):
    got = []
    with pytest.raises(Exception) as info:
        for element in ds:
            got.append(int(np.asarray(element)))
    return got, info.value


def _fails_at(k, exc=ValueError):
    def fn(x):
        if int(np.asarray(x)) == k:
            raise exc(f"bad element {k}")
        return x * 2

    return fn


@pytest.mark.parametrize("k", [0, 1, 5, 37, 63, 64, 99])
@pytest.mark.parametrize("parallel", [1, 2, 4, tg.data.experimental.AUTOTUNE])
def test_elements_before_the_failure_are_yielded(k, parallel):
    ds = tg.data.Dataset.range(100).map(_fails_at(k), num_parallel_calls=parallel)
    got, error = _run(ds)
    assert got == [2 * i for i in range(k)]
    assert isinstance(error, ValueError) and f"bad element {k}" in str(error)
    assert f"element {k}" in str(error)


def test_same_as_sequential_for_other_exception_types():
    fn = _fails_at(21, KeyError)
    seq = tg.data.Dataset.range(50).map(fn)
    par = tg.data.Dataset.range(50).map(fn, num_parallel_calls=3)
    got_seq, err_seq = _run(seq)
    got_par, err_par = _run(par)
    assert got_seq == got_par == [2 * i for i in range(21)]
    assert type(err_seq) is type(err_par)
