"""Shape and indexing ops against NumPy: reshape, transpose, concat/stack/split/unstack,
expand_dims/squeeze, tile, broadcast_to, gather, one_hot, pad, shape/size/rank."""

import numpy as np
import pytest
from _tg_layouts import FLOATS, LAYOUTS, SHAPES, ZERO_SIZE, assert_matches, operand, sample

import tapegrad as tg

ALL_DTYPES = FLOATS + [np.float16, np.int32, np.int64, np.bool_]


def _x(shape, dtype, seed=0):
    return sample(shape, dtype, np.random.default_rng(seed))


@pytest.mark.parametrize("dtype", ALL_DTYPES)
def test_reshape(dtype):
    for shape in SHAPES + ZERO_SIZE:
        x = _x(shape, dtype)
        n = x.size
        targets = [[-1], [n], [1, -1, 1]]
        if n == 1:
            targets.append(())
        elif n == 0:
            targets.append([0, 5])
        elif n % 2 == 0:
            targets.append([2, -1])
        for target in targets:
            expected = x.reshape(target)
            for layout in LAYOUTS:
                assert_matches(tg.reshape(operand(x, layout), target), expected)
    x = _x((2, 3, 4), dtype)
    assert_matches(tg.reshape(x, tg.constant([4, -1])), x.reshape(4, -1))
    assert_matches(tg.reshape(x, np.array([6, 4])), x.reshape(6, 4))


def test_reshape_errors():
    x = tg.zeros((2, 3))
    for bad in ([4], [-1, -1], [-2, 3], [0, -1], [7, -1]):
        with pytest.raises(ValueError, match="reshape"):
            tg.reshape(x, bad)
    for bad in ("ab", [1.5, 4], [None, 6], {"a": 1}):
        with pytest.raises((TypeError, ValueError), match="reshape"):
            tg.reshape(x, bad)


@pytest.mark.parametrize("dtype", ALL_DTYPES)
def test_transpose(dtype):
    for shape in SHAPES + ZERO_SIZE:
        x = _x(shape, dtype)
        perms = [None] + [tuple(np.roll(np.arange(x.ndim), k)) for k in range(1, x.ndim)]
        for perm in perms:
            for layout in LAYOUTS:
                assert_matches(tg.transpose(operand(x, layout), perm), np.transpose(x, perm))
    x = _x((2, 3, 4), dtype)
    assert_matches(tg.matrix_transpose(x), np.swapaxes(x, -1, -2))
    with pytest.raises(ValueError, match="transpose"):
        tg.transpose(x, (0, 1))
    with pytest.raises(ValueError, match="transpose"):
        tg.transpose(x, (0, 1, 1))
    with pytest.raises(ValueError, match="matrix_transpose"):
        tg.matrix_transpose(np.ones(3))


@pytest.mark.parametrize("dtype", ALL_DTYPES)
def test_concat(dtype):
    for shape in SHAPES[1:] + ZERO_SIZE:
        for axis in range(-len(shape), len(shape)):
            other = list(shape)
            other[axis] = 2
            parts = [_x(shape, dtype, 1), _x(tuple(other), dtype, 2), _x(shape, dtype, 3)]
            expected = np.concatenate(parts, axis=axis)
            for layout in ("C", "T", "slice"):
                assert_matches(tg.concat([operand(p, layout) for p in parts], axis), expected)
    x = _x((2, 3), dtype)
    assert_matches(tg.concat([x], 0), x)
    assert_matches(tg.concat([x, tg.constant(x)], axis=tg.constant(1)),
                   np.concatenate([x, x], 1))


def test_concat_errors():
    a, b = tg.zeros((2, 3)), tg.zeros((2, 4))
    with pytest.raises(ValueError, match="concat"):
        tg.concat([a, b], 0)
    with pytest.raises(ValueError, match="concat"):
        tg.concat([a, tg.zeros((2, 3, 1))], 0)
    with pytest.raises(ValueError, match="concat"):
        tg.concat([], 0)
    with pytest.raises(ValueError, match="concat"):
        tg.concat([tg.constant(1.0), tg.constant(2.0)], 0)
    with pytest.raises(ValueError, match="concat"):
        tg.concat([a, a], 2)
    with pytest.raises(TypeError, match="concat"):
        tg.concat([a, tg.zeros((2, 3), tg.float64)], 0)
    with pytest.raises(TypeError, match="concat"):
        tg.concat([a, None], 0)


@pytest.mark.parametrize("dtype", ALL_DTYPES)
def test_stack_unstack(dtype):
    for shape in SHAPES + ZERO_SIZE:
        parts = [_x(shape, dtype, i) for i in range(3)]
        for axis in range(-len(shape) - 1, len(shape) + 1):
            expected = np.stack(parts, axis=axis)
            r = tg.stack([operand(p, "slice") for p in parts], axis=axis)
            assert_matches(r, expected)
            back = tg.unstack(r, axis=axis)
            assert len(back) == 3
            for b, p in zip(back, parts):
                assert_matches(b, p)
    with pytest.raises(ValueError, match="stack"):
        tg.stack([tg.zeros((2,)), tg.zeros((3,))])
    with pytest.raises(ValueError, match="stack"):
        tg.stack([])
    with pytest.raises(ValueError, match="unstack"):
        tg.unstack(tg.zeros((2, 3)), num=3)


@pytest.mark.parametrize("dtype", FLOATS + [np.int32])
def test_split(dtype):
    x = _x((6, 4), dtype)
    for k, axis in ((2, 0), (3, 0), (4, 1), (1, -1)):
        got = tg.split(operand(x, "T"), k, axis=axis)
        for g, e in zip(got, np.split(x, k, axis=axis)):
            assert_matches(g, e)
    got = tg.split(x, [1, 2, 3], axis=0)
    for g, e in zip(got, np.split(x, [1, 3], axis=0)):
        assert_matches(g, e)
    got = tg.split(x, [1, -1], axis=1)
    assert [g.shape for g in got] == [(6, 1), (6, 3)]
    assert_matches(got[1], x[:, 1:])
    got = tg.split(x, [0, 4], axis=1)
    assert got[0].shape == (6, 0)
    with pytest.raises(ValueError, match="split"):
        tg.split(x, 4, axis=0)
    with pytest.raises(ValueError, match="split"):
        tg.split(x, [1, 2], axis=0)
    with pytest.raises(ValueError, match="split"):
        tg.split(x, 0, axis=0)


def test_expand_dims_and_squeeze():
    for shape in SHAPES + ZERO_SIZE:
        x = _x(shape, np.float32)
        for axis in range(-x.ndim - 1, x.ndim + 1):
            assert_matches(tg.expand_dims(operand(x, "T"), axis), np.expand_dims(x, axis))
        assert_matches(tg.squeeze(operand(x, "slice")), np.squeeze(x))
    x = _x((1, 3, 1, 2), np.float32)
    assert_matches(tg.squeeze(x, 0), np.squeeze(x, 0))
    assert_matches(tg.squeeze(x, [-2, 0]), np.squeeze(x, (0, 2)))
    with pytest.raises(ValueError, match="squeeze"):
        tg.squeeze(x, 1)
    with pytest.raises(ValueError, match="expand_dims"):
        tg.expand_dims(x, 5)


@pytest.mark.parametrize("dtype", ALL_DTYPES)
def test_tile(dtype):
    for shape in SHAPES + ZERO_SIZE:
        x = _x(shape, dtype)
        for mult in ([1] * x.ndim, [2] * x.ndim, list(range(1, x.ndim + 1)),
                     [0] + [1] * (x.ndim - 1) if x.ndim else []):
            for layout in ("C", "F", "neg"):
                assert_matches(tg.tile(operand(x, layout), mult), np.tile(x, mult)
                               if x.ndim else np.asarray(x))
    with pytest.raises(ValueError, match="tile"):
        tg.tile(tg.zeros((2, 3)), [2])
    with pytest.raises(ValueError, match="tile"):
        tg.tile(tg.zeros((2,)), [-1])


@pytest.mark.parametrize("dtype", ALL_DTYPES)
def test_broadcast_to(dtype):
    cases = {(): [(2, 3), ()], (3,): [(2, 3), (4, 1, 3)], (3, 1): [(3, 5), (2, 3, 4)],
             (1, 4): [(3, 4), (2, 1, 4)], (2, 3, 4): [(5, 2, 3, 4)], (3, 4): [(3, 4)],
             (0,): [(2, 0)], (1, 0): [(4, 0)]}
    for shape, targets in cases.items():
        x = _x(shape, dtype)
        for target in targets:
            for layout in ("C", "T", "slice"):
                assert_matches(tg.broadcast_to(operand(x, layout), target),
                               np.broadcast_to(x, target))
    for shape, target in (((3,), (4,)), ((2, 3), (3,)), ((3, 1), (3, 0, 2, 2)[:1])):
        with pytest.raises(ValueError, match="broadcast_to"):
            tg.broadcast_to(tg.zeros(shape), target)


# ---------------------------------------------------------------------------
# gather, one_hot, pad


@pytest.mark.parametrize("dtype", ALL_DTYPES)
def test_gather(dtype):
    p = _x((4, 3, 5), dtype)
    for idx, axis in (([3, 0, 3], 0), ([[1, 1], [0, 2]], 1), (2, 2), ([], 0),
                      (np.array([[4], [0]]), -1), ([0, 2], None)):
        for idt in (np.int32, np.int64):
            i = np.asarray(idx, dtype=idt)
            expected = np.take(p, i, axis=0 if axis is None else axis)
            for layout in ("C", "T", "slice"):
                assert_matches(tg.gather(operand(p, layout), i, axis=axis), expected)
    assert_matches(tg.gather(p, tg.constant([1, 2])), p[[1, 2]])


def test_gather_errors():
    p = tg.zeros((3, 4))
    with pytest.raises(IndexError, match="gather"):
        tg.gather(p, [3])
    with pytest.raises(IndexError, match="gather"):
        tg.gather(p, [-4])
    with pytest.raises(TypeError, match="gather"):
        tg.gather(p, [0.5])
    with pytest.raises(TypeError, match="gather"):
        tg.gather(p, [True])
    with pytest.raises(ValueError, match="gather"):
        tg.gather(p, [0], axis=2)
    with pytest.raises(ValueError, match="gather"):
        tg.gather(tg.constant(1.0), [0])
    with pytest.raises(TypeError, match="gather"):
        tg.gather(p, None)


@pytest.mark.parametrize("idt", [np.int32, np.int64])
def test_one_hot(idt):
    idx = np.array([[0, 2], [1, 5]], idt)   # 5 is out of range: an all-off row
    eye = np.eye(3, dtype=np.float32)
    expected = np.zeros((2, 2, 3), np.float32)
    for i in range(2):
        for j in range(2):
            if idx[i, j] < 3:
                expected[i, j] = eye[idx[i, j]]
    assert_matches(tg.one_hot(idx, 3), expected)
    assert_matches(tg.one_hot(idx, 3, axis=0), np.moveaxis(expected, -1, 0))
    assert_matches(tg.one_hot(idx, 3, axis=1), np.moveaxis(expected, -1, 1))
    r = tg.one_hot(idx, 3, on_value=5, off_value=-1, dtype=tg.int32)
    assert_matches(r, np.where(expected > 0, 5, -1).astype(np.int32))
    assert_matches(tg.one_hot(np.array(1, idt), 4), np.eye(4, dtype=np.float32)[1])
    assert_matches(tg.one_hot(np.zeros(0, idt), 2), np.zeros((0, 2), np.float32))
    assert_matches(tg.one_hot(idx, 3, dtype=tg.float64), expected.astype(np.float64))
    with pytest.raises(TypeError, match="one_hot"):
        tg.one_hot(tg.constant([1.0]), 3)
    with pytest.raises(ValueError, match="one_hot"):
        tg.one_hot(idx, -1)


@pytest.mark.parametrize("dtype", FLOATS + [np.int32])
def test_pad(dtype):
    for shape in SHAPES + ZERO_SIZE:
        x = _x(shape, dtype)
        pads = np.array([[i % 2, (i + 1) % 3] for i in range(x.ndim)], np.int64).reshape(-1, 2)
        for cv in (0, 3):
            for layout in ("C", "T", "slice"):
                expected = np.pad(x, pads, constant_values=cv) if x.ndim else x
                assert_matches(tg.pad(operand(x, layout), pads, constant_values=cv), expected)
    with pytest.raises(ValueError, match="pad"):
        tg.pad(tg.zeros((2,)), [[1, 1], [1, 1]])
    with pytest.raises(ValueError, match="pad"):
        tg.pad(tg.zeros((2,)), [[-1, 1]])
    with pytest.raises(ValueError, match="pad"):
        tg.pad(tg.zeros((2,)), [[1, 1]], mode="WRAP")


def test_pad_scalar():
    assert_matches(tg.pad(tg.constant(2.0), np.zeros((0, 2), np.int32)), np.float32(2.0))


def test_shape_size_rank():
    x = tg.zeros((2, 3, 4))
    assert_matches(tg.shape(x), np.array([2, 3, 4], np.int32))
    assert_matches(tg.shape(x, out_type=tg.int64), np.array([2, 3, 4], np.int64))
    assert_matches(tg.size(x), np.int32(24))
    assert_matches(tg.rank(x), np.int32(3))
    assert_matches(tg.shape(tg.constant(1.0)), np.zeros(0, np.int32))
    assert_matches(tg.rank(tg.constant(1.0)), np.int32(0))
    assert_matches(tg.size(tg.zeros((0, 5))), np.int32(0))


def test_views_do_not_alias_mutable_memory():
    """Shape ops may return views, but only of read-only tensor buffers."""
    x = tg.constant(np.arange(12.0).reshape(3, 4))
    for r in (tg.reshape(x, [12]), tg.transpose(x), x[1:], tg.broadcast_to(x, (2, 3, 4)),
              tg.expand_dims(x, 0), tg.squeeze(tg.expand_dims(x, 0))):
        assert not r.numpy().flags.writeable
        with pytest.raises(ValueError):
            r.numpy().flags.writeable = True


def test_pad_reflect_in_a_fresh_process():
    # REFLECT/SYMMETRIC live in a deferred op family (ops/manip.py); tg.pad must load it
    # itself, not rely on something else having imported it
    import subprocess
    import sys

    code = ("import numpy as np, tapegrad as tg\n"
            "x = tg.constant(np.arange(4.0))\n"
            "print(tg.pad(x, [[1, 2]], mode='REFLECT').numpy().tolist(),"
            " tg.pad(x, [[1, 2]], mode='SYMMETRIC').numpy().tolist())\n")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == ("[1.0, 0.0, 1.0, 2.0, 3.0, 2.0, 1.0] "
                                  "[0.0, 0.0, 1.0, 2.0, 3.0, 3.0, 2.0]")
