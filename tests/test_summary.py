"""TensorBoard summaries: files are read back with tensorboard's own readers."""

import bisect
import os
import subprocess
import sys
import textwrap
import threading
import warnings
import zlib

import numpy as np
import pytest

from tapegrad import summary
from tapegrad.summary import encoding, policy

ea = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")


@pytest.fixture(autouse=True)
def _fresh_summary_state():
    """Each test starts with no default writer, recording on, and no global step."""
    state = policy._state
    state.writer, state.condition = None, True
    _reset_global_step()
    yield
    state.writer, state.condition = None, True
    _reset_global_step()


def _reset_global_step():
    global_step = sys.modules.get("tapegrad.train.global_step")
    if global_step is not None:
        global_step._reset_for_tests()


def _tg():
    """The core package; tests that need tensors or the global step use it."""
    import tapegrad

    return tapegrad


def _load(logdir):
    acc = ea.EventAccumulator(str(logdir), size_guidance=ea.STORE_EVERYTHING_SIZE_GUIDANCE)
    acc.Reload()
    return acc


def _event_files(logdir):
    return sorted(f for f in os.listdir(logdir) if f.startswith("events.out.tfevents."))


def _decode_png(data):
    """Minimal PNG decoder for 8-bit images, written independently of the encoder."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, header = 8, b"", None
    while pos < len(data):
        length = int.from_bytes(data[pos : pos + 4], "big")
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        crc = int.from_bytes(data[pos + 8 + length : pos + 12 + length], "big")
        assert zlib.crc32(kind + body) & 0xFFFFFFFF == crc
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    width = int.from_bytes(header[0:4], "big")
    height = int.from_bytes(header[4:8], "big")
    assert header[8] == 8
    channels = {0: 1, 4: 2, 2: 3, 6: 4}[header[9]]
    stride = width * channels
    raw = zlib.decompress(idat)
    out = np.zeros((height, stride), dtype=np.int64)
    prev = np.zeros(stride, dtype=np.int64)
    for r in range(height):
        line = raw[r * (stride + 1) : (r + 1) * (stride + 1)]
        kind, row = line[0], np.frombuffer(line[1:], dtype=np.uint8).astype(np.int64)
        if kind == 0:
            cur = row
        elif kind == 2:
            cur = (row + prev) % 256
        else:
            raise AssertionError(f"unexpected PNG filter {kind}")
        out[r] = cur
        prev = cur
    return out.reshape(height, width, channels).astype(np.uint8)


# --- writer and files -------------------------------------------------------------


def test_event_file_created_in_logdir(tmp_path):
    logdir = tmp_path / "a" / "b"
    writer = summary.create_file_writer(str(logdir), filename_suffix=".v2")
    writer.close()
    files = _event_files(logdir)
    assert len(files) == 1 and files[0].endswith(".v2")
    assert writer.logdir == str(logdir)
    # The header event written on creation marks a version-2 event file.
    assert _load(logdir).file_version == 2.0


def test_scalars_roundtrip(tmp_path):
    writer = summary.create_file_writer(tmp_path)
    values = [1.0 / 3.0 + 0.1 * i for i in range(5)]
    with writer.as_default():
        for step, v in enumerate(values):
            assert summary.scalar("loss", v, step=step) is True
            assert summary.scalar("acc", np.array([[step * 0.25]]), step=np.int64(step))
            assert summary.scalar("count", step * 7, step=step)
    writer.close()
    acc = _load(tmp_path)
    assert sorted(acc.Tags()["scalars"]) == ["acc", "count", "loss"]
    loss = acc.Scalars("loss")
    assert [e.step for e in loss] == list(range(5))
    # Values are written as float32: the read-back value is the float32 rounding.
    assert [e.value for e in loss] == [float(np.float32(v)) for v in values]
    assert [e.value for e in acc.Scalars("acc")] == [s * 0.25 for s in range(5)]
    assert [e.value for e in acc.Scalars("count")] == [float(s * 7) for s in range(5)]


def test_histograms_roundtrip_default_buckets(tmp_path):
    rng = np.random.default_rng(0)
    batches = [rng.normal(size=(20, 30)) * (step + 1) for step in range(3)]
    batches[1][0, :5] = 0.0  # exact zeros land in the bucket ending at the first positive edge
    writer = summary.create_file_writer(tmp_path)
    with writer.as_default():
        for step, values in enumerate(batches):
            assert summary.histogram("weights", values.astype(np.float32), step=step)
    writer.close()
    events = _load(tmp_path).Histograms("weights")
    assert [e.step for e in events] == [0, 1, 2]
    limits = encoding.default_bucket_limits().tolist()
    for event, values in zip(events, batches):
        h = event.histogram_value
        flat = values.astype(np.float32).astype(np.float64).ravel()
        assert h.num == flat.size
        assert h.min == flat.min() and h.max == flat.max()
        assert h.sum == pytest.approx(flat.sum(), rel=1e-12, abs=1e-9)
        assert h.sum_squares == pytest.approx((flat**2).sum(), rel=1e-12)
        # Brute force TensorFlow's bucketing: bucket = upper_bound(limits, v).
        expected = {}
        for v in flat:
            b = bisect.bisect_right(limits, v)
            expected[limits[b]] = expected.get(limits[b], 0) + 1
        nonempty = {lim: c for lim, c in zip(h.bucket_limit, h.bucket) if c > 0}
        assert nonempty == expected
        # Runs of empty buckets are collapsed: never two empty buckets in a row.
        assert all(a > 0 or b > 0 for a, b in zip(h.bucket, h.bucket[1:]))
        assert h.bucket_limit[-1] == sys.float_info.max
        assert all(x < y for x, y in zip(h.bucket_limit, h.bucket_limit[1:]))


def test_histogram_fixed_bucket_count(tmp_path):
    values = np.array([0.0, 1.0, 1.0, 2.5, 3.0, 4.0, 4.0, 4.0])
    writer = summary.create_file_writer(tmp_path)
    with writer.as_default():
        assert summary.histogram("h", values, step=1, buckets=4)
        assert summary.histogram("const", np.full(3, 2.0), step=1, buckets=2)
        assert summary.histogram("empty", np.zeros((0, 3)), step=1)
    writer.close()
    acc = _load(tmp_path)
    h = acc.Histograms("h")[0].histogram_value
    assert h.bucket == [1.0, 2.0, 1.0, 4.0]  # [0,1) [1,2) [2,3) [3,4]
    assert h.bucket_limit[:3] == [1.0, 2.0, 3.0]
    assert h.bucket_limit[3] == np.nextafter(4.0, np.inf)
    assert (h.min, h.max, h.num, h.sum) == (0.0, 4.0, 8, values.sum())
    const = acc.Histograms("const")[0].histogram_value
    assert const.bucket == [0.0, 3.0] and const.bucket_limit[0] == 2.0
    empty = acc.Histograms("empty")[0].histogram_value
    assert (empty.num, empty.sum, empty.bucket) == (0, 0.0, [0.0])


def test_default_bucket_limits_match_tensorflow_construction():
    limits = encoding.default_bucket_limits()
    n = limits.size // 2
    assert limits.size == 2 * n + 1 and limits[n] == 0.0
    assert np.array_equal(limits[:n], -limits[: n : -1])
    assert limits[n + 1] == 1e-12 and limits[-2] >= 1e20 / 1.1 and limits[-2] < 1e20
    assert limits[-1] == sys.float_info.max
    assert np.all(np.diff(limits) > 0)


def test_images_roundtrip(tmp_path):
    rng = np.random.default_rng(1)
    floats = rng.uniform(-0.2, 1.2, size=(4, 5, 7, 3)).astype(np.float32)
    grey = rng.integers(0, 256, size=(2, 4, 6, 1), dtype=np.uint8)
    rgba = rng.integers(0, 256, size=(1, 3, 2, 4), dtype=np.uint8)
    writer = summary.create_file_writer(tmp_path)
    with writer.as_default():
        assert summary.image("rgb", floats, step=3)
        assert summary.image("grey", grey, step=3, max_outputs=1)
        assert summary.image("rgba", rgba, step=4, max_outputs=5)
    writer.close()
    acc = _load(tmp_path)
    assert sorted(acc.Tags()["images"]) == [
        "grey/image", "rgb/image/0", "rgb/image/1", "rgb/image/2", "rgba/image/0",
    ]
    expected = np.rint(np.clip(floats, 0, 1) * 255).astype(np.uint8)
    for i in range(3):
        (event,) = acc.Images(f"rgb/image/{i}")
        assert (event.step, event.width, event.height) == (3, 7, 5)
        np.testing.assert_array_equal(_decode_png(event.encoded_image_string), expected[i])
    (event,) = acc.Images("grey/image")
    assert (event.width, event.height) == (6, 4)
    np.testing.assert_array_equal(_decode_png(event.encoded_image_string), grey[0])
    (event,) = acc.Images("rgba/image/0")
    np.testing.assert_array_equal(_decode_png(event.encoded_image_string), rgba[0])


def test_png_decodes_with_pillow():
    Image = pytest.importorskip("PIL.Image")
    import io

    rng = np.random.default_rng(2)
    for channels, mode in [(1, "L"), (2, "LA"), (3, "RGB"), (4, "RGBA")]:
        img = rng.integers(0, 256, size=(9, 11, channels), dtype=np.uint8)
        decoded = Image.open(io.BytesIO(encoding.encode_png(img)))
        assert decoded.mode == mode and decoded.size == (11, 9)
        np.testing.assert_array_equal(np.asarray(decoded).reshape(img.shape), img)


def test_text_roundtrip(tmp_path):
    from tensorboard.util import tensor_util

    writer = summary.create_file_writer(tmp_path)
    with writer.as_default():
        assert summary.text("note", "héllo **world**", step=2)
        assert summary.text("table", [["a", "b"], ["c", b"d"]], step=5)
    writer.close()
    acc = _load(tmp_path)
    (note,) = acc.Tensors("note")
    assert note.step == 2
    assert tensor_util.make_ndarray(note.tensor_proto).item().decode() == "héllo **world**"
    assert acc.SummaryMetadata("note").plugin_data.plugin_name == "text"
    (table,) = acc.Tensors("table")
    arr = tensor_util.make_ndarray(table.tensor_proto)
    assert arr.shape == (2, 2) and arr.tolist() == [[b"a", b"b"], [b"c", b"d"]]


def test_tensorboard_data_path_reads_every_kind(tmp_path):
    """TensorBoard's own server-side loader maps each value onto its plugin."""
    from tensorboard.backend.event_processing import plugin_event_accumulator as pea
    from tensorboard.util import tensor_util

    writer = summary.create_file_writer(tmp_path)
    with writer.as_default():
        summary.scalar("loss", 0.5, step=1)
        summary.histogram("w", np.arange(10.0), step=1)
        summary.image("img", np.zeros((1, 2, 3, 3), np.uint8), step=1, max_outputs=1)
        summary.text("t", "x", step=1)
    writer.close()
    acc = pea.EventAccumulator(str(tmp_path), size_guidance={pea.TENSORS: 0})
    acc.Reload()
    assert set(acc.PluginTagToContent("scalars")) == {"loss"}
    assert set(acc.PluginTagToContent("histograms")) == {"w"}
    assert set(acc.PluginTagToContent("images")) == {"img/image"}
    assert set(acc.PluginTagToContent("text")) == {"t"}
    (loss,) = acc.Tensors("loss")
    assert tensor_util.make_ndarray(loss.tensor_proto).item() == 0.5


def test_many_events_through_small_queue(tmp_path):
    writer = summary.create_file_writer(tmp_path, max_queue=2, flush_millis=3_600_000)
    with writer.as_default():
        for step in range(200):
            summary.scalar("x", step, step=step)
    writer.flush()
    assert [e.value for e in _load(tmp_path).Scalars("x")] == [float(s) for s in range(200)]
    writer.close()


def _run_python(code, tmp_path):
    """Run ``code`` in a fresh interpreter that imports this same tapegrad."""
    env = dict(os.environ)
    package_root = os.path.dirname(os.path.dirname(os.path.dirname(summary.__file__)))
    env["PYTHONPATH"] = os.pathsep.join([package_root, env.get("PYTHONPATH", "")])
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), str(tmp_path)], env=env, timeout=60,
        capture_output=True, text=True,
    )
    return proc.returncode, proc.stderr


def test_events_reach_disk_before_a_crash(tmp_path):
    # flush_millis is an hour and the process dies without flush/close/atexit:
    # the background thread has already appended every event that left the queue.
    rc, err = _run_python(
        """
        import os, sys, time
        from tapegrad import summary
        w = summary.create_file_writer(sys.argv[1], flush_millis=3_600_000)
        with w.as_default():
            for s in range(20):
                summary.scalar("x", s, step=s)
        time.sleep(1.0)
        os._exit(3)
        """,
        tmp_path,
    )
    assert rc == 3, err
    assert [e.step for e in _load(tmp_path).Scalars("x")] == list(range(20))


def test_pending_events_flushed_at_exit(tmp_path):
    rc, err = _run_python(
        """
        import sys
        from tapegrad import summary
        w = summary.create_file_writer(sys.argv[1], max_queue=1000, flush_millis=3_600_000)
        w.set_as_default()
        for s in range(300):
            summary.scalar("x", s, step=s)
        """,
        tmp_path,
    )
    assert rc == 0, err
    assert [e.step for e in _load(tmp_path).Scalars("x")] == list(range(300))


def test_closed_writer_raises_and_init_reopens(tmp_path):
    writer = summary.create_file_writer(tmp_path)
    writer.set_as_default()
    summary.scalar("x", 1.0, step=0)
    writer.close()
    writer.close()  # idempotent
    writer.flush()  # no-op once closed
    assert writer.closed
    with pytest.raises(RuntimeError, match="closed"):
        summary.scalar("x", 2.0, step=1)
    with pytest.raises(RuntimeError, match="closed"):
        writer.as_default().__enter__()
    writer.init()
    assert not writer.closed and len(_event_files(tmp_path)) == 2
    assert summary.scalar("x", 3.0, step=2)
    writer.init()  # no-op while open
    writer.close()
    assert len(_event_files(tmp_path)) == 2
    assert [(e.step, e.value) for e in _load(tmp_path).Scalars("x")] == [(0, 1.0), (2, 3.0)]


# --- policy and default writers ---------------------------------------------------


class _Unconvertible:
    def __array__(self, *args, **kwargs):
        raise AssertionError("the value was converted although nothing is recorded")


def test_no_writer_is_a_noop_without_conversion():
    assert not summary.should_record_summaries()
    bad = _Unconvertible()
    assert summary.scalar("x", bad) is False
    assert summary.histogram("x", bad) is False
    assert summary.image("x", bad) is False
    assert summary.text("x", bad) is False


def test_never_and_always(tmp_path):
    writer = summary.create_file_writer(tmp_path)
    with writer.as_default():
        assert summary.should_record_summaries()
        with summary.never_record_summaries():
            assert not summary.should_record_summaries()
            assert summary.scalar("x", _Unconvertible(), step=0) is False
            with summary.always_record_summaries():
                assert summary.scalar("x", 1.0, step=1) is True
            assert summary.scalar("x", 2.0, step=2) is False
        assert summary.scalar("x", 3.0, step=3) is True
    assert summary.scalar("x", 4.0, step=4) is False  # writer no longer the default
    writer.close()
    assert [e.step for e in _load(tmp_path).Scalars("x")] == [1, 3]


def test_record_if_callable_is_evaluated_per_call(tmp_path):
    calls = []

    def every_third():
        calls.append(None)
        return len(calls) % 3 == 0

    writer = summary.create_file_writer(tmp_path)
    with writer.as_default(), summary.record_if(every_third):
        recorded = [summary.scalar("x", float(s), step=s) for s in range(9)]
    with writer.as_default(), summary.record_if(np.bool_(False)):
        assert summary.scalar("x", 0.0, step=99) is False
    writer.close()
    assert recorded == [False, False, True] * 3
    assert [e.step for e in _load(tmp_path).Scalars("x")] == [2, 5, 8]


def test_every_n_steps_with_explicit_counter(tmp_path):
    counter = np.zeros((), dtype=np.int64)  # mutated in place, read at each call
    writer = summary.create_file_writer(tmp_path)
    with writer.as_default(), summary.record_summaries_every_n_global_steps(4, counter):
        for step in range(1, 18):
            counter[...] = step
            summary.scalar("x", step, step=step)
    writer.close()
    assert [e.step for e in _load(tmp_path).Scalars("x")] == [4, 8, 12, 16]


def test_nested_writers(tmp_path):
    w1 = summary.create_file_writer(tmp_path / "one")
    w2 = summary.create_file_writer(tmp_path / "two")
    with w1.as_default():
        summary.scalar("a", 1.0, step=0)
        with w2.as_default() as inner:
            assert inner is w2
            summary.scalar("b", 2.0, step=0)
        summary.scalar("c", 3.0, step=1)
    w1.close()
    w2.close()
    assert sorted(_load(tmp_path / "one").Tags()["scalars"]) == ["a", "c"]
    assert _load(tmp_path / "two").Tags()["scalars"] == ["b"]


def test_default_writer_is_thread_local(tmp_path):
    writer = summary.create_file_writer(tmp_path)
    writer.set_as_default()
    seen = []
    thread = threading.Thread(target=lambda: seen.append(summary.scalar("x", 1.0, step=0)))
    thread.start()
    thread.join()
    assert seen == [False]
    assert summary.scalar("x", 1.0, step=0) is True
    writer.close()


def test_device_values_are_fetched_with_numpy(tmp_path):
    class DeviceValue:  # stands in for a GPU tensor: only .numpy() reaches host memory
        def __init__(self, value):
            self._value = value

        def numpy(self):
            return np.asarray(self._value)

        def __array__(self, *args, **kwargs):
            raise AssertionError("device values must be read through .numpy()")

    writer = summary.create_file_writer(tmp_path)
    with writer.as_default():
        summary.scalar("x", DeviceValue(2.5), step=DeviceValue(np.int64(7)))
    writer.close()
    (event,) = _load(tmp_path).Scalars("x")
    assert (event.step, event.value) == (7, 2.5)


# --- errors -------------------------------------------------------------------------


def test_bad_arguments_raise_precise_errors(tmp_path):
    with pytest.raises(ValueError, match="max_queue"):
        summary.create_file_writer(tmp_path, max_queue=0)
    with pytest.raises(ValueError, match="flush_millis"):
        summary.create_file_writer(tmp_path, flush_millis=-1)
    with pytest.raises(TypeError, match="logdir"):
        summary.create_file_writer(3)
    with pytest.raises(ValueError, match="positive integer"):
        summary.record_summaries_every_n_global_steps(0, global_step=1)
    writer = summary.create_file_writer(tmp_path)
    with writer.as_default():
        with pytest.raises(ValueError, match=r"scalar: 'x' must hold exactly one value.*\(2,\)"):
            summary.scalar("x", [1.0, 2.0], step=0)
        with pytest.raises(TypeError, match="scalar: 'x' must be numeric"):
            summary.scalar("x", "high", step=0)
        with pytest.raises(TypeError, match="name"):
            summary.scalar("", 1.0, step=0)
        with pytest.raises(TypeError, match="step must be a single integer"):
            summary.scalar("x", 1.0, step=1.5)
        with pytest.raises(ValueError, match="NaN or Inf"):
            summary.histogram("h", [1.0, np.nan], step=0)
        with pytest.raises(ValueError, match="buckets"):
            summary.histogram("h", [1.0], step=0, buckets=0)
        with pytest.raises(ValueError, match=r"\(batch, height, width, channels\)"):
            summary.image("i", np.zeros((4, 4, 3)), step=0)
        with pytest.raises(ValueError, match="1 to 4 channels"):
            summary.image("i", np.zeros((1, 4, 4, 5)), step=0)
        with pytest.raises(TypeError, match="uint8"):
            summary.image("i", np.zeros((1, 4, 4, 3), np.int32), step=0)
        with pytest.raises(TypeError, match="text: 't' must contain str"):
            summary.text("t", [1, 2], step=0)
    writer.close()


# --- with the core: global step and tensors ------------------------------------------


def test_step_defaults_to_global_step(tmp_path):
    tg = _tg()
    from tapegrad.train import get_global_step, get_or_create_global_step

    assert get_global_step() is None
    writer = summary.create_file_writer(tmp_path)
    with writer.as_default():
        summary.scalar("x", tg.constant(1.5))  # creates the global step, at 0
        global_step = get_or_create_global_step()
        global_step.assign_add(5)
        summary.scalar("x", tg.constant([2.5]))
        summary.histogram("h", tg.constant([[1.0, 2.0], [3.0, 4.0]]))
        summary.scalar("y", 1.0, step=tg.Variable(11, dtype=tg.int64))
    writer.close()
    acc = _load(tmp_path)
    assert [(e.step, e.value) for e in acc.Scalars("x")] == [(0, 1.5), (5, 2.5)]
    (hist,) = acc.Histograms("h")
    assert (hist.step, hist.histogram_value.num, hist.histogram_value.sum) == (5, 4, 10.0)
    assert acc.Scalars("y")[0].step == 11


def test_guide_usage_records_every_100_steps(tmp_path):
    tg = _tg()
    writer = summary.create_file_writer(str(tmp_path))
    global_step = tg.train.get_or_create_global_step()
    writer.set_as_default()
    loss = tg.constant(0.25)
    recorded = []
    for _ in range(350):
        global_step.assign_add(1)
        with summary.record_summaries_every_n_global_steps(100):
            recorded.append(summary.scalar("loss", loss))
    writer.close()
    assert sum(recorded) == 3
    events = _load(tmp_path).Scalars("loss")
    assert [(e.step, e.value) for e in events] == [(100, 0.25), (200, 0.25), (300, 0.25)]


# ---------------------------------------------------------------- extreme values (issue 16)


@pytest.mark.parametrize("buckets", [None, 1, 3])
@pytest.mark.parametrize("values", [
    [np.finfo(np.float64).max],
    [-np.finfo(np.float64).max, np.finfo(np.float64).max],
    [1.0, np.finfo(np.float64).max],
    [np.finfo(np.float32).max, 0.0],
    [1e300],
])
def test_histogram_of_the_largest_floats(tmp_path, values, buckets):
    from tapegrad.summary.encoding import histogram_buckets

    data = np.array(values, dtype=np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow warnings either
        lo, hi, num, total, _, limits, counts = histogram_buckets(data, buckets)
    assert (lo, hi, num) == (data.min(), data.max(), data.size)
    assert counts.sum() == data.size and limits.size == counts.size
    assert np.all(np.isfinite(limits)) and np.all(np.diff(limits) >= 0)
    # every value lies in its bucket: [previous limit, limit), or the last bucket
    index = np.searchsorted(limits, data, side="right").clip(max=limits.size - 1)
    np.testing.assert_array_equal(np.bincount(index, minlength=limits.size), counts)
    writer = summary.create_file_writer(str(tmp_path))
    with writer.as_default():
        assert summary.histogram("big", data, step=1, buckets=buckets)
    writer.close()


@pytest.mark.parametrize("bad", [np.inf, -np.inf, np.nan])
def test_histogram_rejects_non_finite_values_clearly(tmp_path, bad):
    writer = summary.create_file_writer(str(tmp_path))
    with writer.as_default():
        with pytest.raises(ValueError, match=r"histogram: 'h' contains NaN or Inf"):
            summary.histogram("h", np.array([1.0, bad]), step=1)
    writer.close()
