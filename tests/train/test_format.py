"""The checkpoint file format on its own: NumPy arrays in, the same bits out."""

import hashlib
import json
import os
import struct
import zlib

import numpy as np
import pytest

from tapegrad.train import format as fmt
from tapegrad.train.errors import CheckpointCorruptError, CheckpointNotFoundError

ALL_DTYPES = [
    "bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
    "float16", "float32", "float64", "complex64", "complex128",
]


def _encode(graph, tensors):
    return b"".join(bytes(chunk) for chunk in fmt.encode_chunks(graph, tensors))


def _sample_tensors():
    rng = np.random.default_rng(0)
    return [
        ("scalar", np.array(3.5, np.float32)),
        ("matrix", rng.standard_normal((3, 4)).astype(np.float64)),
        ("empty", np.zeros((0, 5), np.float32)),
        ("ints", np.arange(-5, 5, dtype=np.int64)),
        ("flags", np.array([True, False, True])),
    ]


def _rebuild(header, data, trailer_ok=True):
    """A file image from a (possibly tampered) header and data, with valid checksums."""
    header_bytes = json.dumps(header).encode()
    preamble = struct.pack("<8sII", fmt.MAGIC, fmt.FORMAT_VERSION, len(header_bytes))
    crc = zlib.crc32(header_bytes, zlib.crc32(preamble)) & 0xFFFFFFFF
    body = preamble + struct.pack("<I", crc) + header_bytes + data
    return body + hashlib.sha256(body).digest()


@pytest.mark.parametrize("dtype", ALL_DTYPES)
def test_every_dtype_round_trips_bit_exactly(dtype):
    rng = np.random.default_rng(1)
    raw = rng.integers(0, 256, size=6 * np.dtype(dtype).itemsize, dtype=np.uint8)
    if dtype == "bool":
        raw = raw % 2
    array = raw.view(dtype).reshape(2, 3)
    graph, tensors = fmt.decode(_encode({"k": [1, "x"]}, [("t", array)]))
    assert graph == {"k": [1, "x"]}
    (name, out), = tensors
    assert name == "t"
    assert out.dtype == np.dtype(dtype) and out.shape == (2, 3)
    assert out.tobytes() == array.tobytes()  # bitwise, NaN payloads included


def test_shapes_orders_and_byte_orders_round_trip():
    fortran = np.asfortranarray(np.arange(12.0).reshape(3, 4))
    strided = np.arange(20, dtype=np.int32)[::3]
    big_endian = np.arange(4, dtype=">f8")
    tensors = _sample_tensors() + [("f", fortran), ("s", strided), ("be", big_endian)]
    _, out = fmt.decode(_encode(None, tensors))
    assert [name for name, _ in out] == [name for name, _ in tensors]
    for (_, expected), (_, got) in zip(tensors, out):
        assert got.shape == expected.shape
        assert got.dtype == expected.dtype.newbyteorder("=")
        np.testing.assert_array_equal(got, expected)
        assert not got.flags.writeable


def test_file_layout_is_the_documented_one():
    image = _encode({"a": 1}, [("x", np.array([1.0, 2.0], np.float32))])
    assert image[:8] == b"\x89TGCKPT\n"
    version, header_len = struct.unpack_from("<II", image, 8)
    assert version == 1
    header = json.loads(image[20 : 20 + header_len])
    assert header["data_bytes"] == 8
    assert header["tensors"][0]["shape"] == [2]
    data = image[20 + header_len : 20 + header_len + 8]
    assert data == np.array([1.0, 2.0], "<f4").tobytes()
    assert header["tensors"][0]["crc32"] == zlib.crc32(data)
    assert image[-32:] == hashlib.sha256(image[:-32]).digest()
    assert len(image) == 20 + header_len + 8 + 32


def test_unsupported_dtypes_are_refused():
    for bad in [np.array(["a"]), np.array([object()]), np.zeros(2, dtype="M8[s]"),
                np.zeros(2, dtype=[("a", "f4")])]:
        with pytest.raises(TypeError, match="cannot store"):
            _encode(None, [("bad", bad)])
    with pytest.raises(TypeError, match="names must be str"):
        _encode(None, [(3, np.zeros(1))])


def test_graph_must_be_json():
    with pytest.raises(TypeError, match="JSON"):
        _encode({"x": object()}, [])
    with pytest.raises(TypeError, match="JSON"):
        _encode({"x": float("nan")}, [])


def test_write_and_read_file(tmp_path):
    path = tmp_path / "a.tgckpt"
    tensors = _sample_tensors()
    fmt.write_file(path, {"g": 1}, tensors)
    graph, out = fmt.read_file(path)
    assert graph == {"g": 1}
    for (_, expected), (_, got) in zip(tensors, out):
        np.testing.assert_array_equal(got, expected)
    assert os.listdir(tmp_path) == ["a.tgckpt"]  # no temp file left behind
    mode = os.stat(path).st_mode & 0o777
    assert mode & 0o600 == 0o600


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(CheckpointNotFoundError):
        fmt.read_file(tmp_path / "nope.tgckpt")
    with pytest.raises(CheckpointNotFoundError):
        fmt.read_file(tmp_path)
    with pytest.raises(FileNotFoundError):  # also catchable as the builtin
        fmt.read_file(tmp_path / "nope.tgckpt")


def test_failed_write_keeps_the_old_file_and_leaves_no_temp(tmp_path):
    path = tmp_path / "a.tgckpt"
    fmt.write_file(path, {"v": 1}, [("x", np.ones(3))])
    before = path.read_bytes()

    def exploding_chunks():
        yield b"partial data"
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        fmt.atomic_write(path, exploding_chunks())
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["a.tgckpt"]
    # an unsupported dtype fails inside the generator too: same guarantees
    with pytest.raises(TypeError):
        fmt.write_file(path, {}, [("s", np.array(["text"]))])
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["a.tgckpt"]


def test_header_size_limit_is_enforced_on_write(monkeypatch):
    monkeypatch.setattr(fmt, "MAX_HEADER_BYTES", 100)
    with pytest.raises(ValueError, match="exceeds"):
        _encode({"x": "y" * 200}, [])


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda h: h["tensors"][0].update(dtype="object"), "unsupported dtype"),
        (lambda h: h["tensors"][0].update(dtype="float64"), "do not fit"),
        (lambda h: h["tensors"][0].update(shape=[5]), "do not fit"),
        (lambda h: h["tensors"][0].update(shape=[-4]), "not a valid integer"),
        (lambda h: h["tensors"][0].update(shape=[True] * 4), "not a valid integer"),
        (lambda h: h["tensors"][0].update(offset=4), "starts at"),
        (lambda h: h["tensors"][0].update(nbytes=12, shape=[3]), "declares|runs past|checksum"),
        (lambda h: h["tensors"][0].update(crc32=12345), "checksum mismatch"),
        (lambda h: h["tensors"][0].update(crc32=2**40), "not a valid integer"),
        (lambda h: h["tensors"][0].pop("name"), "no string name"),
        (lambda h: h.update(data_bytes=99), "declares"),
        (lambda h: h.pop("graph"), "lacks"),
        (lambda h: h.update(tensors={}), "not a list"),
        (lambda h: h["tensors"].append(dict(h["tensors"][0])), "starts at|runs past"),
        (lambda h: h["tensors"][0].update(shape=[1] * 65), "invalid shape"),
    ],
)
def test_well_checksummed_but_inconsistent_headers_are_rejected(mutate, message):
    # An attacker can recompute every checksum: the schema checks must still hold.
    data = np.array([1.0, 2.0, 3.0, 4.0], "<f4").tobytes()
    header = {
        "graph": {},
        "data_bytes": 16,
        "tensors": [{"name": "x", "dtype": "float32", "shape": [4], "offset": 0,
                     "nbytes": 16, "crc32": zlib.crc32(data)}],
    }
    fmt.decode(_rebuild(header, data))  # the untampered image is valid
    mutate(header)
    with pytest.raises(CheckpointCorruptError, match=message):
        fmt.decode(_rebuild(header, data))


def test_hostile_json_is_rejected_cleanly():
    for text in [b"[" * 100000 + b"]" * 100000, b"{\"graph\": NaN}", b"\xff\xfe", b"{}",
                 b"{\"graph\":1,\"data_bytes\":1e400,\"tensors\":[]}"]:
        preamble = struct.pack("<8sII", fmt.MAGIC, fmt.FORMAT_VERSION, len(text))
        crc = zlib.crc32(text, zlib.crc32(preamble)) & 0xFFFFFFFF
        body = preamble + struct.pack("<I", crc) + text
        with pytest.raises(CheckpointCorruptError):
            fmt.decode(body + hashlib.sha256(body).digest())


def test_bad_magic_version_and_lengths():
    image = bytearray(_encode({}, [("x", np.zeros(2))]))
    with pytest.raises(CheckpointCorruptError, match="too short"):
        fmt.decode(b"")
    bad = bytearray(image)
    bad[0:8] = b"PK\x03\x04\x00\x00\x00\x00"
    with pytest.raises(CheckpointCorruptError, match="magic"):
        fmt.decode(bad)
    bad = bytearray(image)
    struct.pack_into("<I", bad, 8, 2)
    with pytest.raises(CheckpointCorruptError, match="version 2"):
        fmt.decode(bad)
    bad = bytearray(image)
    struct.pack_into("<I", bad, 12, 2**31)
    with pytest.raises(CheckpointCorruptError, match="out of bounds"):
        fmt.decode(bad)
    bad = bytearray(image)
    struct.pack_into("<I", bad, 12, len(image))
    with pytest.raises(CheckpointCorruptError, match="truncated"):
        fmt.decode(bad)
    with pytest.raises(CheckpointCorruptError):
        fmt.decode(bytes(image) + b"\x00")  # trailing garbage


def test_random_flips_and_truncations_always_raise():
    """Seeded fuzzing of the format layer: every damaged image must be rejected."""
    image = _encode({"nodes": [{"children": [["w", 1]]}, {"tensor": 0}]},
                    _sample_tensors())
    assert fmt.decode(image)  # intact
    rng = np.random.default_rng(1234)
    for _ in range(300):
        damaged = bytearray(image)
        kind = rng.integers(3)
        if kind == 0:
            position = int(rng.integers(len(image)))
            damaged[position] ^= int(rng.integers(1, 256))
        elif kind == 1:
            damaged = damaged[: int(rng.integers(len(image)))]
        else:
            for position in rng.choice(len(image), size=int(rng.integers(2, 9)), replace=False):
                damaged[int(position)] ^= int(rng.integers(1, 256))
        with pytest.raises(CheckpointCorruptError):
            fmt.decode(bytes(damaged))


def test_every_single_byte_flip_is_detected():
    """Exhaustive over positions for a small file: no byte is outside a checksum."""
    image = _encode({"g": [0]}, [("a", np.arange(3, dtype=np.int16)), ("b", np.ones(2))])
    for position in range(len(image)):
        damaged = bytearray(image)
        damaged[position] ^= 0x01
        with pytest.raises(CheckpointCorruptError):
            fmt.decode(bytes(damaged))
