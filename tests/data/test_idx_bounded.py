"""read_idx checks magic and header before the body and never decompresses more than
the header declares: a small gzip cannot inflate into gigabytes.  Corrupt files raise
and load nothing."""

import gzip
import tracemalloc
import zlib

import numpy as np
import pytest

from tapegrad.data.datasets.idx import encode_idx, read_idx


def _gzip_stream(parts, total_zero_bytes, path):
    """A gzip file of ``parts`` followed by ``total_zero_bytes`` zeros (compressed)."""
    comp = zlib.compressobj(9, zlib.DEFLATED, 31)  # 31: gzip container
    out = [comp.compress(b"".join(parts))]
    zeros = bytes(1 << 20)
    for _ in range(total_zero_bytes >> 20):
        out.append(comp.compress(zeros))
    out.append(comp.flush())
    path.write_bytes(b"".join(out))
    return path


def _peak_of(fn):
    tracemalloc.start()
    try:
        with pytest.raises(ValueError) as info:
            fn()
        return tracemalloc.get_traced_memory()[1], info.value
    finally:
        tracemalloc.stop()


def test_trailing_gigabytes_are_not_inflated(tmp_path):
    small = encode_idx(np.arange(10, dtype=np.uint8))
    bomb = _gzip_stream([small], 64 << 20, tmp_path / "bomb.gz")
    assert bomb.stat().st_size < 200_000  # 64 MiB of zeros compress to ~64 KiB
    peak, error = _peak_of(lambda: read_idx(bomb))
    assert "bomb.gz: malformed IDX file: unexpected bytes" in str(error)
    assert peak < 4 << 20, peak


def test_a_header_declaring_more_than_present_is_bounded_by_the_data(tmp_path):
    header = bytes([0, 0, 0x08, 3]) + np.array([60000, 28, 28], ">u4").tobytes()
    liar = _gzip_stream([header, b"\x01" * 1000], 0, tmp_path / "liar.gz")
    peak, error = _peak_of(lambda: read_idx(liar))
    assert "truncated IDX data" in str(error) and "needs 47040000 bytes" in str(error)
    assert peak < 4 << 20, peak
    # uncompressed: the file size is checked before the body is read at all
    plain = tmp_path / "liar-idx3"
    plain.write_bytes(header + b"\x01" * 1000)
    with pytest.raises(ValueError, match="the file has 1000"):
        read_idx(plain)


@pytest.mark.parametrize("damage", ["magic", "code", "ndim", "truncated", "trailing"])
@pytest.mark.parametrize("compress", [False, True])
def test_corrupt_files_raise_and_name_the_file(tmp_path, damage, compress):
    data = bytearray(encode_idx(np.arange(24, dtype=np.int16).reshape(2, 3, 4)))
    if damage == "magic":
        data[0] = 7
    elif damage == "code":
        data[2] = 0x42
    elif damage == "ndim":
        data[3] = 0
    elif damage == "truncated":
        data = data[:-5]
    else:
        data += b"\x00\x01"
    path = tmp_path / f"broken-{damage}"
    path.write_bytes(gzip.compress(bytes(data)) if compress else bytes(data))
    with pytest.raises(ValueError, match=f"broken-{damage}"):
        read_idx(path)


def test_good_files_still_read_in_chunks(tmp_path, monkeypatch):
    from tapegrad.data.datasets import idx

    monkeypatch.setattr(idx, "_CHUNK", 7)
    array = np.arange(1000, dtype=np.float32).reshape(10, 100)
    for data, suffix in [(encode_idx(array), ""), (gzip.compress(encode_idx(array)), ".gz")]:
        path = tmp_path / ("a" + suffix)
        path.write_bytes(data)
        np.testing.assert_array_equal(read_idx(path), array)
