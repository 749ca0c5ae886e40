"""Checkpoint files are checked (magic, version, header, declared size) before their
body is read; corrupt files raise and assign nothing."""

import struct
import tracemalloc

import numpy as np
import pytest

import tapegrad as tg
from tapegrad.train import Checkpoint
from tapegrad.train.errors import CheckpointCorruptError
from tapegrad.train.format import read_file


def _peak(fn, exc=CheckpointCorruptError, match=None):
    tracemalloc.start()
    try:
        with pytest.raises(exc, match=match):
            fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _sparse(path, size, head=b""):
    with open(path, "wb") as f:
        f.write(head)
        f.truncate(size)
    return path


def test_a_big_file_that_is_not_a_checkpoint_is_rejected_from_its_first_bytes(tmp_path):
    big = _sparse(tmp_path / "big.tgckpt", 256 << 20, b"not a checkpoint")
    v = tg.Variable([1.0, 2.0])
    peak = _peak(lambda: Checkpoint(v=v).restore(tmp_path / "big"), match="bad magic")
    assert peak < 1 << 20, peak
    assert big.stat().st_size == 256 << 20
    np.testing.assert_array_equal(v.numpy(), [1.0, 2.0])


def test_a_header_that_disagrees_with_the_file_size_is_rejected_before_the_body(tmp_path):
    v = tg.Variable(np.arange(6, dtype=np.float32))
    path = Checkpoint(v=v).write(tmp_path / "c") + ".tgckpt"
    good = open(path, "rb").read()
    # the same file padded to 128 MiB: preamble and header are intact and valid
    padded = tmp_path / "padded.tgckpt"
    padded.write_bytes(good)
    _sparse(padded, 128 << 20, good)
    peak = _peak(lambda: read_file(str(padded)), match="header declares")
    assert peak < 1 << 20, peak
    # a header length beyond the file
    bad = bytearray(good)
    struct.pack_into("<I", bad, 12, len(good))
    (tmp_path / "hlen.tgckpt").write_bytes(bytes(bad))
    with pytest.raises(CheckpointCorruptError, match="truncated"):
        read_file(str(tmp_path / "hlen.tgckpt"))
    # a flipped header byte: the header checksum, before the body
    bad = bytearray(good)
    bad[25] ^= 0x01
    (tmp_path / "hcrc.tgckpt").write_bytes(bytes(bad))
    with pytest.raises(CheckpointCorruptError, match="header checksum"):
        read_file(str(tmp_path / "hcrc.tgckpt"))
    # a flipped body byte: caught by the full verification that follows
    bad = bytearray(good)
    bad[-40] ^= 0x01
    (tmp_path / "body.tgckpt").write_bytes(bytes(bad))
    v.assign(np.zeros(6, np.float32))
    with pytest.raises(CheckpointCorruptError):
        Checkpoint(v=v).restore(tmp_path / "body")
    np.testing.assert_array_equal(v.numpy(), np.zeros(6))
    Checkpoint(v=v).restore(path[: -len(".tgckpt")]).assert_consumed()
    np.testing.assert_array_equal(v.numpy(), np.arange(6))


@pytest.mark.parametrize("size", [0, 5, 20, 51])
def test_tiny_files(tmp_path, size):
    path = tmp_path / "tiny.tgckpt"
    path.write_bytes(b"\x89TGCKPT\n" + bytes(max(0, size - 8)) if size >= 8 else bytes(size))
    with pytest.raises(CheckpointCorruptError):
        read_file(str(path))
