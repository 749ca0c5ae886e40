"""tg.data: shuffle, prefetch, cache, and iteration into tapegrad Tensors."""

import gc
import threading
import time

import numpy as np
import pytest

import tapegrad as tg
from tapegrad.data import Dataset, Iterator, OutOfRangeError
from tapegrad.data.shuffle import shuffle_block, shuffle_stream


def items(ds):
    return list(ds.as_numpy_iterator())


def epoch(ds):
    return [int(v) for v in ds.as_numpy_iterator()]


# ------------------------------------------------------------------------- shuffle


def reference_shuffle(values, buffer_size, slots, tail_order):
    """The sliding buffer, one step at a time, driven by given draws."""
    buffer = list(values[:buffer_size])
    out = []
    for t, v in enumerate(values[buffer_size:]):
        j = slots[t]
        out.append(buffer[j])
        buffer[j] = v
    return out + [buffer[k] for k in tail_order]


def test_shuffle_block_matches_step_by_step_loop():
    rng = np.random.default_rng(0)
    for _ in range(300):
        b = int(rng.integers(1, 9))
        n = int(rng.integers(1, 40))
        buffer = rng.permutation(1000)[:b].astype(np.int64)
        incoming = np.arange(1000, 1000 + n, dtype=np.int64)
        slots = rng.integers(0, b, n)
        emitted, after = shuffle_block(buffer, incoming, slots)
        ref_buffer, ref = list(buffer), []
        for t in range(n):
            ref.append(ref_buffer[slots[t]])
            ref_buffer[slots[t]] = incoming[t]
        assert emitted.tolist() == [int(v) for v in ref]
        assert after.tolist() == [int(v) for v in ref_buffer]


class _Recorder:
    """A Generator stand-in that records what shuffle_stream asked for."""

    def __init__(self, seed):
        self.rng = np.random.default_rng(seed)
        self.slots, self.tail = [], None

    def integers(self, low, high, size):
        draws = self.rng.integers(low, high, size)
        self.slots.extend(draws.tolist())
        return draws

    def permutation(self, n):
        self.tail = self.rng.permutation(n)
        return self.tail


@pytest.mark.parametrize("buffer_size, block_sizes", [
    (1, [10]), (3, [10]), (4, [1, 2, 3, 4, 5]), (7, [3, 3, 3]), (25, [10, 10]), (10, [10]),
])
def test_shuffle_stream_equals_sliding_buffer(buffer_size, block_sizes):
    total = sum(block_sizes)
    values = np.arange(total, dtype=np.int64)
    blocks = np.split(values, np.cumsum(block_sizes)[:-1])
    rec = _Recorder(1)
    got = np.concatenate(list(shuffle_stream(iter(blocks), buffer_size, rec))).tolist()
    expected = reference_shuffle(values.tolist(), buffer_size, rec.slots, rec.tail.tolist())
    assert got == expected


def test_shuffle_is_a_permutation_and_changes_per_epoch():
    ds = Dataset.range(100).shuffle(100, seed=5)
    first, second = epoch(ds), epoch(ds)
    assert sorted(first) == sorted(second) == list(range(100))
    assert first != second
    assert first != list(range(100))


def test_shuffle_with_seed_is_reproducible_and_reshuffle_false_repeats():
    a = Dataset.range(50).shuffle(10, seed=42)
    b = Dataset.range(50).shuffle(10, seed=42)
    assert [epoch(a) for _ in range(3)] == [epoch(b) for _ in range(3)]
    fixed = Dataset.range(50).shuffle(10, seed=42, reshuffle_each_iteration=False)
    assert epoch(fixed) == epoch(fixed)
    assert epoch(Dataset.range(50).shuffle(10, seed=43)) != epoch(Dataset.range(50)
                                                                  .shuffle(10, seed=42))


def test_shuffle_repeat_reshuffles_each_pass():
    out = epoch(Dataset.range(20).shuffle(20, seed=3).repeat(2))
    assert sorted(out[:20]) == sorted(out[20:]) == list(range(20))
    assert out[:20] != out[20:]


def test_small_buffer_only_reaches_buffer_size_ahead():
    b = 8
    out = epoch(Dataset.range(500).shuffle(b, seed=0))
    assert sorted(out) == list(range(500))
    # output position t can only hold inputs that entered the buffer: index < t + b.
    assert all(v < t + b for t, v in enumerate(out))
    assert out != list(range(500))


def test_buffer_of_one_keeps_order():
    assert epoch(Dataset.range(30).shuffle(1, seed=9)) == list(range(30))


def test_shuffle_of_generic_elements():
    gen = Dataset.from_generator(lambda: iter(range(300)), np.int64)
    first = epoch(gen.shuffle(50, seed=1))
    assert sorted(first) == list(range(300)) and first != list(range(300))
    assert all(v < t + 50 for t, v in enumerate(first))
    assert epoch(gen.shuffle(50, seed=1)) == first
    batches = items(gen.map(lambda x: (x, x * 2)).shuffle(1000, seed=2).batch(64))
    xs = np.concatenate([x for x, _ in batches])
    assert sorted(xs.tolist()) == list(range(300))
    assert all((y == 2 * x).all() for x, y in batches)


def test_shuffle_then_batch_keeps_components_aligned():
    x = np.arange(1000, dtype=np.float32).reshape(500, 2)
    y = np.arange(500, dtype=np.int32)
    seen = []
    for bx, by in items(Dataset.from_tensor_slices((x, y)).shuffle(64, seed=0).batch(32)):
        np.testing.assert_array_equal(bx, x[by])
        seen.extend(by.tolist())
    assert sorted(seen) == list(range(500)) and seen != list(range(500))


def test_unseeded_shuffle_follows_global_seed():
    tg.random.set_seed(1234)
    a = epoch(Dataset.range(64).shuffle(64))
    tg.random.set_seed(1234)
    b = epoch(Dataset.range(64).shuffle(64))
    assert a == b and sorted(a) == list(range(64))


def test_shuffle_buffer_size_validation():
    with pytest.raises(ValueError, match="buffer_size"):
        Dataset.range(3).shuffle(0)


# ------------------------------------------------------------------------- prefetch


def _prefetch_threads():
    return {t for t in threading.enumerate() if t.name == "tapegrad-prefetch" and t.is_alive()}


def _all_stopped(threads):
    for _ in range(250):
        if not any(t.is_alive() for t in threads):
            return True
        time.sleep(0.02)
    return False


def test_prefetch_yields_the_same_sequence():
    base = Dataset.range(1000).shuffle(100, seed=7).map(lambda x: x + 1).batch(7)
    plain = [b.tolist() for b in items(base)]
    ahead = Dataset.range(1000).shuffle(100, seed=7).map(lambda x: x + 1).batch(7).prefetch(3)
    assert [b.tolist() for b in items(ahead)] == plain
    assert len(ahead) == len(base)


def test_prefetch_propagates_errors_after_good_elements():
    def gen():
        for i in range(5):
            yield i
        raise RuntimeError("source broke")

    ds = Dataset.from_generator(gen, np.int64).prefetch(2)
    got = []
    with pytest.raises(RuntimeError, match="source broke"):
        for v in ds.as_numpy_iterator():
            got.append(int(v))
    assert got == [0, 1, 2, 3, 4]
    map_error = Dataset.range(10).map(lambda x: 1 // 0 if int(x) == 4 else x).prefetch(1)
    with pytest.raises(ZeroDivisionError, match="element 4"):
        items(map_error)


def test_prefetch_thread_stops_when_iterator_is_dropped():
    before = _prefetch_threads()
    it = iter(Dataset.range(10**9).prefetch(4))
    next(it)
    started = _prefetch_threads() - before
    assert len(started) == 1
    del it
    gc.collect()
    assert _all_stopped(started)
    before = _prefetch_threads()
    nested = iter(Dataset.range(10**9).prefetch(2).map(lambda x: x).prefetch(2))
    next(nested)
    started = _prefetch_threads() - before
    assert len(started) == 2
    nested.close()
    assert _all_stopped(started)


def test_prefetch_stops_after_take():
    producers = []

    def endless():
        producers.append(threading.current_thread())
        i = 0
        while True:
            yield i
            i += 1

    ds = Dataset.from_generator(endless, np.int64).prefetch(8).take(5)
    assert epoch(ds) == [0, 1, 2, 3, 4]
    assert len(producers) == 1 and producers[0].name == "tapegrad-prefetch"
    assert _all_stopped(producers)


def test_prefetch_zero_and_autotune():
    ds = Dataset.range(5)
    assert ds.prefetch(0) is ds
    assert epoch(ds.prefetch(tg.data.experimental.AUTOTUNE)) == [0, 1, 2, 3, 4]
    with pytest.raises(ValueError):
        ds.prefetch(-3)


# ------------------------------------------------------------------------- cache


def test_cache_replays_the_first_pass_without_rerunning_upstream():
    calls = []

    def gen():
        calls.append(1)
        yield from range(4)

    ds = Dataset.from_generator(gen, np.int64).map(lambda x: x * 10).cache()
    assert epoch(ds) == [0, 10, 20, 30]
    assert epoch(ds) == [0, 10, 20, 30]
    assert len(calls) == 1


def test_cache_freezes_shuffle_order_and_drops_partial_passes():
    ds = Dataset.range(40).shuffle(40, seed=0).cache()
    first = epoch(ds)
    assert sorted(first) == list(range(40)) and first != list(range(40))
    assert epoch(ds) == first == epoch(ds)  # without the cache every pass would differ
    calls = []

    def gen():
        calls.append(1)
        yield from range(6)

    counted = Dataset.from_generator(gen, np.int64).cache()
    assert epoch(counted.take(2)) == [0, 1]
    assert epoch(counted) == list(range(6))  # the interrupted pass was not kept
    assert epoch(counted) == list(range(6))
    assert len(calls) == 2
    batched = Dataset.range(10).batch(3).cache()
    assert [b.tolist() for b in items(batched)] == [b.tolist() for b in items(batched)]
    cached = items(batched)
    with pytest.raises(ValueError):
        cached[0][0] = 5  # replayed arrays are read-only, so nobody can alter the cache


# ------------------------------------------------------------------------- tensors out


def test_iteration_yields_tensors_with_the_source_structure():
    x = np.arange(6, dtype=np.float32).reshape(3, 2)
    y = np.array([1, 2, 3], dtype=np.int32)
    for (a, b), i in zip(Dataset.from_tensor_slices((x, y)), range(3)):
        assert isinstance(a, tg.Tensor) and isinstance(b, tg.Tensor)
        assert a.shape == (2,) and a.dtype == np.float32 and b.dtype == np.int32
        np.testing.assert_array_equal(a.numpy(), x[i])
    d = next(iter(Dataset.from_tensor_slices({"x": x, "y": y}).batch(2)))
    assert isinstance(d, dict) and d["x"].shape == (2, 2)
    np.testing.assert_array_equal(d["y"].numpy(), [1, 2])


def test_guide_iteration_patterns():
    images = np.random.default_rng(0).random((10, 4)).astype(np.float32)
    labels = np.arange(10, dtype=np.int64)
    dataset_train = Dataset.from_tensor_slices((images, labels)).shuffle(10, seed=1).batch(4)
    x, y = iter(dataset_train).next()
    assert x.shape == (4, 4) and y.shape == (4,)
    np.testing.assert_array_equal(x.numpy(), images[y.numpy()])
    steps = [i for (i, (bx, by)) in enumerate(dataset_train)]
    assert steps == [0, 1, 2]
    it = Iterator(dataset_train)
    assert iter(it) is it
    assert it.get_next()[0].shape == (4, 4)
    assert it.next()[0].shape == (4, 4)
    assert next(it)[0].shape == (2, 4)
    with pytest.raises(OutOfRangeError):
        it.get_next()
    with pytest.raises(StopIteration):
        next(it)
    with pytest.raises(TypeError):
        Iterator([1, 2])


def test_map_receives_tensors_and_may_return_tensors():
    seen = []

    def f(a, b):
        seen.append((type(a), type(b)))
        return tg.cast(a, tg.float32) * 2.0, b

    out = items(Dataset.from_tensor_slices((np.arange(3), np.arange(3))).map(f))
    assert all(t == (tg.Tensor, tg.Tensor) for t in seen)
    assert [float(a) for a, _ in out] == [0.0, 2.0, 4.0]


def test_from_tensor_slices_of_tensors_and_variables():
    t = tg.constant([[1.0, 2.0], [3.0, 4.0]])
    assert [r.tolist() for r in items(Dataset.from_tensor_slices(t))] == [[1.0, 2.0],
                                                                          [3.0, 4.0]]
    v = tg.Variable([1.0, 2.0, 3.0])
    ds = Dataset.from_tensor_slices(v)
    v.assign([7.0, 8.0, 9.0])
    assert [float(e) for e in items(ds)] == [1.0, 2.0, 3.0]  # a snapshot, like a tensor


def test_throughput_smoke(capsys):
    """Prints the epoch time of the MNIST-shaped pipeline; asserts only correctness."""
    x = np.random.default_rng(0).random((60000, 784), dtype=np.float32)
    y = np.arange(60000, dtype=np.int32)
    ds = Dataset.from_tensor_slices((x, y)).shuffle(60000, seed=0).batch(128)
    start = time.perf_counter()
    count, checked = 0, 0
    for bx, by in ds:
        count += bx.shape[0]
        if checked < 3:
            np.testing.assert_array_equal(bx.numpy(), x[by.numpy()])
            checked += 1
    elapsed = time.perf_counter() - start
    assert count == 60000
    with capsys.disabled():
        print(f"\n60000x784 float32, shuffle(60000).batch(128): one epoch in {elapsed:.3f} s")
