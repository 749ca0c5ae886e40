"""tg.data.Dataset: sources, map/filter, batching, take/skip/repeat, zip/concatenate,
enumerate, cardinality and element_spec, each against hand-computed expectations."""

import numpy as np
import pytest

from tapegrad.data import Dataset, TensorSpec
from tapegrad.data.experimental import AUTOTUNE, INFINITE_CARDINALITY, UNKNOWN_CARDINALITY


def items(ds):
    return list(ds.as_numpy_iterator())


def as_lists(batches):
    return [b.tolist() for b in batches]


# ------------------------------------------------------------------------- sources


def test_from_tensor_slices_array_rows_in_order():
    x = np.arange(12, dtype=np.float32).reshape(4, 3)
    out = items(Dataset.from_tensor_slices(x))
    assert len(out) == 4
    for i, row in enumerate(out):
        np.testing.assert_array_equal(row, x[i])
        assert row.dtype == np.float32


def test_from_tensor_slices_tuple_and_dict_keep_structure():
    x = np.arange(6).reshape(3, 2)
    y = np.array([10, 20, 30])
    pairs = items(Dataset.from_tensor_slices((x, y)))
    assert [(a.tolist(), int(b)) for a, b in pairs] == [([0, 1], 10), ([2, 3], 20), ([4, 5], 30)]
    dicts = items(Dataset.from_tensor_slices({"y": y, "x": x}))
    assert all(isinstance(d, dict) and set(d) == {"x", "y"} for d in dicts)
    assert [int(d["y"]) for d in dicts] == [10, 20, 30]
    assert dicts[2]["x"].tolist() == [4, 5]


def test_from_tensor_slices_python_lists_follow_default_dtypes():
    ints = Dataset.from_tensor_slices([1, 2, 3])
    floats = Dataset.from_tensor_slices([[1.5, 2.0], [3.0, 4.0]])
    assert ints.element_spec == TensorSpec((), np.int32)
    assert floats.element_spec == TensorSpec((2,), np.float32)
    assert items(ints) == [1, 2, 3]
    assert Dataset.from_tensor_slices([2**40]).element_spec.dtype == np.int64


def test_from_tensor_slices_snapshots_user_data():
    x = np.arange(5.0)
    ds = Dataset.from_tensor_slices(x)
    x[:] = -1
    assert items(ds) == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert x.flags.writeable  # the user's array is never frozen by the dataset


def test_from_tensor_slices_mismatched_first_dimensions_names_shapes():
    with pytest.raises(ValueError, match=r"from_tensor_slices.*\(3, 2\).*\(4,\)"):
        Dataset.from_tensor_slices((np.zeros((3, 2)), np.zeros(4)))


def test_from_tensor_slices_rejects_scalars_strings_and_empty():
    with pytest.raises(ValueError, match="scalar"):
        Dataset.from_tensor_slices((np.zeros(3), 5.0))
    with pytest.raises(TypeError, match="unsupported dtype"):
        Dataset.from_tensor_slices(np.array(["a", "b"]))
    with pytest.raises(ValueError, match="no components"):
        Dataset.from_tensor_slices(())


def test_from_tensors_is_one_element():
    ds = Dataset.from_tensors((np.arange(3), 7))
    out = items(ds)
    assert len(out) == 1 and out[0][0].tolist() == [0, 1, 2] and out[0][1] == 7
    assert len(ds) == 1
    rep = as_lists(items(Dataset.from_tensors(np.arange(2)).repeat(3).batch(2)))
    assert rep == [[[0, 1], [0, 1]], [[0, 1]]]


@pytest.mark.parametrize("args, expected", [
    ((5,), [0, 1, 2, 3, 4]),
    ((2, 10, 3), [2, 5, 8]),
    ((5, 0, -2), [5, 3, 1]),
    ((3, 3), []),
])
def test_range(args, expected):
    ds = Dataset.range(*args)
    assert items(ds) == expected
    assert len(ds) == len(expected)
    assert ds.element_spec == TensorSpec((), np.int64)


def test_range_output_type_and_errors():
    assert items(Dataset.range(3, output_type=np.float32)) == [0.0, 1.0, 2.0]
    assert Dataset.range(3, output_type=np.int32).element_spec.dtype == np.int32
    with pytest.raises(ValueError):
        Dataset.range(0, 5, 0)
    with pytest.raises(TypeError):
        Dataset.range(2.5)


def test_from_generator_checks_and_converts():
    def gen():
        for i in range(3):
            yield i, [float(i)] * (i + 1)

    ds = Dataset.from_generator(gen, (np.int64, np.float32), ((), (None,)))
    out = items(ds)
    assert [int(a) for a, _ in out] == [0, 1, 2]
    assert [b.tolist() for _, b in out] == [[0.0], [1.0, 1.0], [2.0, 2.0, 2.0]]
    assert out[1][1].dtype == np.float32
    again = items(ds)  # each pass calls the generator again
    assert [b.tolist() for _, b in again] == [b.tolist() for _, b in out]
    spec = ds.element_spec
    assert spec == (TensorSpec((), np.int64), TensorSpec((None,), np.float32))
    with pytest.raises(TypeError, match="unknown"):
        len(ds)


def test_from_generator_wrong_dtype_and_shape_name_expected_and_got():
    def floats():
        yield np.array([1.5, 2.5])

    with pytest.raises(TypeError, match="element 0.*expected dtype int32, got float64"):
        items(Dataset.from_generator(floats, np.int32))

    def shapes():
        yield np.zeros(3, np.float32)
        yield np.zeros(4, np.float32)

    ds = Dataset.from_generator(shapes, np.float32, (3,))
    with pytest.raises(ValueError, match=r"element 1.*expected shape \(3,\), got \(4,\)"):
        items(ds)


def test_from_generator_structure_signature_and_args():
    def gen(n):
        for i in range(int(n)):
            yield {"a": i, "b": np.full(2, i, np.float32)}

    sig = {"a": TensorSpec((), np.int32), "b": TensorSpec((2,), np.float32)}
    out = items(Dataset.from_generator(gen, output_signature=sig, args=(3,)))
    assert [int(d["a"]) for d in out] == [0, 1, 2]
    with pytest.raises(TypeError, match="dict"):
        items(Dataset.from_generator(lambda: iter([(1, 2)]), {"a": np.int32, "b": np.int32}))
    with pytest.raises(TypeError, match="callable"):
        Dataset.from_generator(gen(3), np.int32)


# ------------------------------------------------------------------------- map / filter


def test_map_tuple_elements_are_unpacked():
    ds = Dataset.from_tensor_slices((np.arange(4), np.arange(4) * 10))
    out = items(ds.map(lambda a, b: (b, a + b)))
    assert [(int(p), int(q)) for p, q in out] == [(0, 0), (10, 11), (20, 22), (30, 33)]


def test_map_can_change_structure_and_return_python_values():
    ds = Dataset.range(3).map(lambda x: {"double": x * 2, "one": 1.0})
    out = items(ds)
    assert [int(d["double"]) for d in out] == [0, 2, 4]
    assert ds.element_spec == {"double": TensorSpec((), np.int64),
                               "one": TensorSpec((), np.float32)}


def test_map_copies_returned_user_arrays():
    table = np.array([1.0, 2.0])
    out = items(Dataset.range(2).map(lambda i: table))
    table[0] = 99.0
    assert out[0].tolist() == [1.0, 2.0]
    assert table.flags.writeable


def test_map_error_names_element_index_and_chains_original():
    def boom(x):
        if int(x) == 3:
            raise KeyError("bad element")
        return x

    with pytest.raises(KeyError, match="element 3") as info:
        items(Dataset.range(6).map(boom))
    assert isinstance(info.value.__cause__, KeyError)
    assert "bad element" in str(info.value)


def test_map_inconsistent_dtype_is_an_error():
    ds = Dataset.range(3).map(lambda x: 1 if int(x) == 0 else 1.5)
    with pytest.raises(TypeError, match="element 1"):
        items(ds)


@pytest.mark.parametrize("calls", [2, 4, AUTOTUNE])
def test_parallel_map_keeps_order_and_reports_errors(calls):
    base = Dataset.range(50)
    seq = items(base.map(lambda x: x * 3))
    par = items(base.map(lambda x: x * 3, num_parallel_calls=calls))
    assert par == seq == [3 * i for i in range(50)]

    def fail_at_17(x):
        if int(x) == 17:
            raise ValueError("nope")
        return x

    with pytest.raises(ValueError, match="element 17"):
        items(base.map(fail_at_17, num_parallel_calls=calls))


def test_filter_elements_and_chunks():
    ds = Dataset.range(20).filter(lambda x: x % 3 == 0)
    assert items(ds) == [0, 3, 6, 9, 12, 15, 18]
    batched = as_lists(items(Dataset.range(20).filter(lambda x: x % 3 == 0).batch(3)))
    assert batched == [[0, 3, 6], [9, 12, 15], [18]]
    assert ds.cardinality() == UNKNOWN_CARDINALITY
    with pytest.raises(TypeError, match="scalar bool"):
        items(Dataset.range(3).filter(lambda x: x))


# ------------------------------------------------------------------------- batching


@pytest.mark.parametrize("n, drop, expected", [
    (3, False, [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]),
    (3, True, [[0, 1, 2], [3, 4, 5], [6, 7, 8]]),
    (5, False, [[0, 1, 2, 3, 4], [5, 6, 7, 8, 9]]),
    (12, False, [list(range(10))]),
    (12, True, []),
])
def test_batch_counts_and_remainders(n, drop, expected):
    for ds in (Dataset.range(10),
               Dataset.from_generator(lambda: iter(range(10)), np.int64)):
        assert as_lists(items(ds.batch(n, drop_remainder=drop))) == expected
    ds = Dataset.range(10).batch(n, drop_remainder=drop)
    assert len(ds) == len(expected)


def test_batch_of_tuples_and_dicts():
    x = np.arange(10, dtype=np.float32).reshape(5, 2)
    y = np.arange(5, dtype=np.int32)
    (bx, by), (cx, cy) = items(Dataset.from_tensor_slices((x, y)).batch(3))
    np.testing.assert_array_equal(bx, x[:3])
    np.testing.assert_array_equal(cy, y[3:])
    d = items(Dataset.from_tensor_slices({"x": x, "y": y}).batch(4))[0]
    np.testing.assert_array_equal(d["x"], x[:4])


@pytest.mark.parametrize("bad", [0, -1])
def test_batch_size_must_be_positive(bad):
    with pytest.raises(ValueError, match="batch_size must be >= 1"):
        Dataset.range(3).batch(bad)


def test_batch_size_type_errors():
    with pytest.raises(TypeError):
        Dataset.range(3).batch(2.5)
    with pytest.raises(TypeError):
        Dataset.range(3).batch(True)


def test_batch_of_ragged_elements_suggests_padded_batch():
    def gen():
        yield np.zeros(2, np.float32)
        yield np.zeros(3, np.float32)

    with pytest.raises(ValueError, match="padded_batch"):
        items(Dataset.from_generator(gen, np.float32, (None,)).batch(2))


def test_padded_batch_pads_to_largest_or_given_shape():
    def gen():
        for n in (1, 3, 2):
            yield np.arange(1, n + 1)

    ds = Dataset.from_generator(gen, np.int64, (None,))
    assert as_lists(items(ds.padded_batch(2))) == [[[1, 0, 0], [1, 2, 3]], [[1, 2]]]
    fixed = as_lists(items(ds.padded_batch(3, padded_shapes=(4,), padding_values=-1)))
    assert fixed == [[[1, -1, -1, -1], [1, 2, 3, -1], [1, 2, -1, -1]]]
    with pytest.raises(ValueError, match="larger than the padded shape"):
        items(ds.padded_batch(3, padded_shapes=(2,)))


def test_unbatch_inverts_batch():
    x = np.arange(14).reshape(7, 2)
    ds = Dataset.from_tensor_slices((x, np.arange(7))).batch(3).unbatch()
    out = items(ds)
    assert [a.tolist() for a, _ in out] == x.tolist()
    assert [int(b) for _, b in out] == list(range(7))
    assert as_lists(items(Dataset.range(6).batch(4, drop_remainder=True).unbatch().batch(3))) \
        == [[0, 1, 2], [3]]
    assert len(Dataset.range(6).batch(2, drop_remainder=True).unbatch()) == 6


# ------------------------------------------------------------------------- take / skip / repeat


@pytest.mark.parametrize("make", [
    lambda: Dataset.range(10),
    lambda: Dataset.from_generator(lambda: iter(range(10)), np.int64),
    lambda: Dataset.range(10).map(lambda x: x),
])
def test_take_skip_on_planned_and_generic_sources(make):
    assert items(make().take(3)) == [0, 1, 2]
    assert items(make().take(0)) == []
    assert items(make().take(-1)) == list(range(10))
    assert items(make().take(50)) == list(range(10))
    assert items(make().skip(7)) == [7, 8, 9]
    assert items(make().skip(-1)) == []
    assert items(make().skip(3).take(2)) == [3, 4]
    assert as_lists(items(make().skip(2).batch(4))) == [[2, 3, 4, 5], [6, 7, 8, 9]]


def test_take_skip_cardinality():
    assert len(Dataset.range(10).take(3)) == 3
    assert len(Dataset.range(10).take(30)) == 10
    assert len(Dataset.range(10).skip(4)) == 6
    assert len(Dataset.range(10).skip(40)) == 0
    assert len(Dataset.range(10).repeat().take(25)) == 25


def test_repeat_counts_and_infinite():
    assert items(Dataset.range(3).repeat(2)) == [0, 1, 2, 0, 1, 2]
    assert items(Dataset.range(3).repeat(0)) == []
    assert items(Dataset.range(3).repeat().take(7)) == [0, 1, 2, 0, 1, 2, 0]
    gen = Dataset.from_generator(lambda: iter(range(2)), np.int64)
    assert items(gen.repeat(3)) == [0, 1, 0, 1, 0, 1]
    assert items(Dataset.range(0).repeat()) == []  # an empty pass ends infinite repetition
    assert as_lists(items(Dataset.range(5).repeat(2).batch(4))) == [
        [0, 1, 2, 3], [4, 0, 1, 2], [3, 4]]
    with pytest.raises(TypeError, match="infinite"):
        len(Dataset.range(3).repeat())
    assert Dataset.range(3).repeat().cardinality() == INFINITE_CARDINALITY
    assert len(Dataset.range(3).repeat(4)) == 12


def test_shard():
    assert items(Dataset.range(10).shard(3, 1)) == [1, 4, 7]
    gen = Dataset.from_generator(lambda: iter(range(10)), np.int64)
    assert items(gen.shard(3, 0)) == [0, 3, 6, 9]
    assert len(Dataset.range(10).shard(3, 1)) == 3
    assert len(Dataset.range(10).shard(3, 0)) == 4
    with pytest.raises(ValueError):
        Dataset.range(3).shard(2, 2)


# ---------------------------------------------------------------- zip / concatenate / enumerate


def test_zip_stops_at_shortest_and_keeps_structure():
    a = Dataset.range(5)
    b = Dataset.from_generator(lambda: iter([10, 20, 30]), np.int64)
    assert [(int(x), int(y)) for x, y in items(Dataset.zip((a, b)))] == [
        (0, 10), (1, 20), (2, 30)]
    d = items(Dataset.zip({"p": a, "q": a.map(lambda x: x * 2)}))
    assert [(int(e["p"]), int(e["q"])) for e in d] == [(i, 2 * i) for i in range(5)]
    assert len(Dataset.zip(a, Dataset.range(2))) == 2
    assert items(Dataset.zip(a)) == items(a)
    assert len(Dataset.zip(a, a.repeat())) == 5
    nested = items(Dataset.zip((Dataset.from_tensor_slices((np.arange(3), np.arange(3))), a)))
    assert [(int(x), int(y), int(z)) for (x, y), z in nested] == [(0, 0, 0), (1, 1, 1),
                                                                  (2, 2, 2)]


def test_zip_batch_aligns_chunks():
    x = np.arange(20000, dtype=np.float32)
    ds = Dataset.zip((Dataset.from_tensor_slices(x), Dataset.range(20000))).batch(1000)
    for bx, bi in items(ds):
        np.testing.assert_array_equal(bx, bi.astype(np.float32))


def test_concatenate():
    ds = Dataset.range(3).concatenate(Dataset.range(10, 12))
    assert items(ds) == [0, 1, 2, 10, 11]
    assert len(ds) == 5
    with pytest.raises(TypeError, match="structures"):
        Dataset.range(3).concatenate(Dataset.from_tensor_slices((np.arange(2), np.arange(2))))
    with pytest.raises(TypeError, match="dtypes"):
        items(Dataset.range(2).concatenate(Dataset.range(2, output_type=np.float32)))


def test_enumerate():
    pairs = items(Dataset.from_tensor_slices(np.array([5.0, 6.0])).enumerate(start=10))
    assert [(int(i), float(v)) for i, v in pairs] == [(10, 5.0), (11, 6.0)]
    nested = items(Dataset.from_tensor_slices((np.arange(3), np.arange(3) * 2)).enumerate())
    assert [(int(i), (int(a), int(b))) for i, (a, b) in nested] == [(0, (0, 0)), (1, (1, 2)),
                                                                    (2, (2, 4))]
    batched = items(Dataset.range(5).map(lambda x: x * 10).enumerate().batch(2))
    assert [(i.tolist(), v.tolist()) for i, v in batched] == [([0, 1], [0, 10]),
                                                              ([2, 3], [20, 30]),
                                                              ([4], [40])]


def test_flat_map_and_interleave():
    ds = Dataset.range(1, 4).flat_map(lambda n: Dataset.range(n))
    assert items(ds) == [0, 0, 1, 0, 1, 2]
    inter = Dataset.range(1, 4).interleave(
        lambda n: Dataset.from_tensors(n).repeat(n), cycle_length=2, block_length=1)
    # slots hold [1] and [2, 2]; when a slot runs dry the cycle moves on, and the slot
    # is refilled (with 3) when the cycle comes back to it.
    assert items(inter) == [1, 2, 2, 3, 3, 3]
    # tf.data's documented example.
    doc = Dataset.range(1, 6).interleave(lambda x: Dataset.from_tensors(x).repeat(6),
                                         cycle_length=2, block_length=4)
    assert items(doc) == [1, 1, 1, 1, 2, 2, 2, 2, 1, 1, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4,
                          3, 3, 4, 4, 5, 5, 5, 5, 5, 5]
    with pytest.raises(TypeError, match="must return a Dataset"):
        items(Dataset.range(2).flat_map(lambda n: n))


# ------------------------------------------------------------------------- inspection


def test_element_spec_through_transformations():
    x = np.zeros((10, 4), np.float32)
    y = np.zeros(10, np.int32)
    ds = Dataset.from_tensor_slices((x, y))
    assert ds.element_spec == (TensorSpec((4,), np.float32), TensorSpec((), np.int32))
    assert ds.batch(3).element_spec == (TensorSpec((None, 4), np.float32),
                                        TensorSpec((None,), np.int32))
    assert ds.batch(3, drop_remainder=True).element_spec[0] == TensorSpec((3, 4), np.float32)
    assert ds.shuffle(4, seed=1).repeat().take(3).element_spec == ds.element_spec
    mapped = ds.map(lambda a, b: a * 2)
    assert mapped.element_spec == TensorSpec((4,), np.float32)
    assert ds.output_types == (np.float32, np.int32)
    assert ds.output_shapes == ((4,), ())


def test_len_known_and_unknown():
    ds = Dataset.from_tensor_slices(np.zeros((100, 2)))
    assert len(ds) == 100
    assert len(ds.batch(32)) == 4
    assert len(ds.batch(32, drop_remainder=True)) == 3
    assert len(ds.shuffle(10, seed=0).map(lambda x: x).prefetch(2).cache()) == 100
    assert len(ds.concatenate(ds).enumerate()) == 200
    with pytest.raises(TypeError, match="unknown"):
        len(ds.filter(lambda x: True))
    assert bool(Dataset.range(0))
    assert "cardinality=4" in repr(ds.batch(32))
