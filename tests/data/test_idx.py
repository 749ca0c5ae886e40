"""The IDX reader on hand-made files: round trips, and every kind of damaged file."""

import gzip

import numpy as np
import pytest

from tapegrad.data.datasets.idx import encode_idx, parse_idx, read_bytes, read_idx


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32,
                                   np.float64])
@pytest.mark.parametrize("shape", [(5,), (3, 4), (2, 3, 4), (1, 2, 1, 3)])
def test_round_trip_every_dtype_and_rank(dtype, shape):
    rng = np.random.default_rng(0)
    array = (rng.random(shape) * 100 - 50).astype(dtype)
    back = parse_idx(encode_idx(array), "x")
    assert back.dtype == np.dtype(dtype).newbyteorder("=")
    assert back.shape == shape
    np.testing.assert_array_equal(back, array)
    assert back.flags.writeable and back.flags.c_contiguous


def test_header_is_big_endian_as_published():
    data = encode_idx(np.array([[1, 2, 3], [4, 5, 6]], dtype=np.int32))
    assert data[:4] == b"\x00\x00\x0c\x02"
    assert data[4:12] == b"\x00\x00\x00\x02\x00\x00\x00\x03"
    assert data[12:16] == b"\x00\x00\x00\x01"
    hand = bytes([0, 0, 0x08, 1, 0, 0, 0, 3, 7, 8, 9])
    assert parse_idx(hand).tolist() == [7, 8, 9]


GOOD = encode_idx(np.arange(24, dtype=np.uint8).reshape(2, 3, 4))


@pytest.mark.parametrize("data, message", [
    (b"", "shorter than the 4-byte magic"),
    (b"\x00\x00", "shorter than the 4-byte magic"),
    (b"\x01\x00\x08\x01" + b"\x00" * 8, "two zero bytes"),
    (gzip.compress(GOOD)[:12], "gzip"),
    (b"\x00\x00\x07\x01\x00\x00\x00\x01\x00", "unknown IDX dtype code 0x07"),
    (b"\x00\x00\x08\x00", "0 dimensions"),
    (GOOD[:10], "truncated IDX header"),
    (GOOD[:-1], "truncated IDX data"),
    (GOOD[:16], "truncated IDX data"),
    (GOOD + b"\x00", "unexpected bytes"),
])
def test_malformed_files_raise_value_error_naming_the_file(data, message):
    with pytest.raises(ValueError, match=message) as info:
        parse_idx(data, "some-file-idx3-ubyte")
    assert "some-file-idx3-ubyte" in str(info.value)


def test_declared_size_larger_than_file():
    header = bytes([0, 0, 0x08, 3]) + np.array([60000, 28, 28], ">u4").tobytes()
    with pytest.raises(ValueError, match=r"shape \(60000, 28, 28\).*needs 47040000 bytes"):
        parse_idx(header + b"\x00" * 100, "f")


def test_read_raw_and_gzipped_files(tmp_path):
    array = np.arange(12, dtype=np.int16).reshape(3, 4)
    raw = tmp_path / "a-idx2"
    raw.write_bytes(encode_idx(array))
    gz = tmp_path / "a-idx2.gz"
    gz.write_bytes(gzip.compress(encode_idx(array)))
    np.testing.assert_array_equal(read_idx(raw), array)
    np.testing.assert_array_equal(read_idx(gz), array)
    # gzip is recognised by content, not by the name.
    renamed = tmp_path / "plain-name"
    renamed.write_bytes(gz.read_bytes())
    np.testing.assert_array_equal(read_idx(renamed), array)


def test_truncated_and_corrupt_gzip_name_the_file(tmp_path):
    packed = gzip.compress(encode_idx(np.arange(5000, dtype=np.int32)))
    truncated = tmp_path / "cut.gz"
    truncated.write_bytes(packed[: len(packed) // 2])
    with pytest.raises(ValueError, match="cut.gz: corrupt or truncated gzip"):
        read_bytes(truncated)
    damaged = bytearray(packed)
    damaged[len(damaged) // 2] ^= 0xFF
    damaged[len(damaged) // 2 + 1] ^= 0xFF
    corrupt = tmp_path / "bad.gz"
    corrupt.write_bytes(bytes(damaged))
    with pytest.raises(ValueError, match="bad.gz"):
        read_idx(corrupt)
    # A well-formed gzip holding a damaged IDX is caught by the IDX checks.
    short = tmp_path / "short.gz"
    short.write_bytes(gzip.compress(encode_idx(np.arange(10, dtype=np.uint8))[:-3]))
    with pytest.raises(ValueError, match="short.gz: truncated IDX data"):
        read_idx(short)


def test_encode_rejects_unstorable_dtypes():
    with pytest.raises(TypeError):
        encode_idx(np.zeros(3, dtype=np.int64))
    with pytest.raises(ValueError):
        encode_idx(np.float32(1.0))
