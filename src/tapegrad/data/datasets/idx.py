"""Reader for the IDX format of MNIST (http://yann.lecun.com/exdb/mnist/).

An IDX file is: two zero bytes, one dtype code, one byte giving the number of dimensions,
one big-endian uint32 per dimension, then the data, big-endian, C order. The reader
checks every part of that header against the file's actual length, so a truncated,
padded or otherwise damaged file raises ``ValueError`` naming the file instead of
turning into an array of garbage.
"""

import gzip
import os
import zlib

import numpy as np

IDX_DTYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_CODES = {d.newbyteorder("="): code for code, d in IDX_DTYPES.items()}
_GZIP_MAGIC = b"\x1f\x8b"


def _check_prefix(data, name):
    """Magic number, dtype code and rank from the first 4 bytes of ``data``."""
    if len(data) < 4:
        raise ValueError(f"{name}: not an IDX file: {len(data)} bytes is shorter than the "
                         "4-byte magic number")
    if data[0] != 0 or data[1] != 0:
        hint = " (it looks gzip-compressed)" if data[:2] == _GZIP_MAGIC else ""
        raise ValueError(f"{name}: not an IDX file: the magic number must start with two "
                         f"zero bytes, got {bytes(data[:4]).hex()}{hint}")
    code, ndim = data[2], data[3]
    if code not in IDX_DTYPES:
        raise ValueError(f"{name}: unknown IDX dtype code 0x{code:02x} (expected one of "
                         f"{', '.join(f'0x{c:02x}' for c in IDX_DTYPES)})")
    if ndim == 0:
        raise ValueError(f"{name}: IDX header declares 0 dimensions")
    return IDX_DTYPES[code], ndim


def _check_dims(dims, ndim, available, name):
    """The shape and the data size it declares, from the ``4 * ndim`` dimension bytes."""
    header = 4 + 4 * ndim
    if len(dims) < 4 * ndim:
        raise ValueError(f"{name}: truncated IDX header: {ndim} dimensions need {header} "
                         f"bytes, the file has {available}")
    return tuple(int(d) for d in np.frombuffer(dims, dtype=">u4", count=ndim)), header


def _size_error(name, shape, dtype, expected, actual):
    if actual < expected:
        return ValueError(f"{name}: truncated IDX data: shape {shape} of {dtype.name} needs "
                          f"{expected} bytes after the header, the file has {actual}")
    return ValueError(f"{name}: malformed IDX file: {actual - expected} unexpected bytes "
                      f"after the {expected} bytes of data for shape {shape}")


def parse_idx(data, name="<bytes>"):
    """Decode the bytes of one (uncompressed) IDX file into a native-endian ndarray."""
    dtype, ndim = _check_prefix(data, name)
    shape, header = _check_dims(bytes(data[4:4 + 4 * ndim]), ndim, len(data), name)
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    actual = len(data) - header
    if actual != expected:
        raise _size_error(name, shape, dtype, expected, actual)
    array = np.frombuffer(data, dtype=dtype, offset=header).reshape(shape)
    return array.astype(dtype.newbyteorder("="), copy=True)


# Reads are chunked so that memory follows the data actually present, not a size a
# damaged or hostile header declares.
_CHUNK = 1 << 20


def _read_stream(stream, name, size):
    """Read one IDX file from ``stream``: header first, then exactly the declared body.

    ``size`` is the file's length when known (uncompressed files): the declared size
    is then checked before any of the body is read.  A gzip stream is decompressed
    only up to the declared size (plus one byte, to detect trailing data), so a small
    compressed file cannot make this inflate gigabytes.
    """
    head = stream.read(4)
    dtype, ndim = _check_prefix(head, name)
    dims = stream.read(4 * ndim)
    shape, header = _check_dims(dims, ndim, 4 + len(dims), name)
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if size is not None and size - header != expected:
        raise _size_error(name, shape, dtype, expected, size - header)
    chunks, got = [], 0
    while got < expected:
        chunk = stream.read(min(_CHUNK, expected - got))
        if not chunk:
            raise _size_error(name, shape, dtype, expected, got)
        chunks.append(chunk)
        got += len(chunk)
    if stream.read(1):
        raise ValueError(f"{name}: malformed IDX file: unexpected bytes after the "
                         f"{expected} bytes of data for shape {shape}")
    body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
    del chunks
    array = np.frombuffer(body, dtype=dtype).reshape(shape)
    return array.astype(dtype.newbyteorder("="), copy=True)


def read_bytes(filename):
    """The content of ``filename``, decompressed when it is gzip (by its magic bytes)."""
    with open(filename, "rb") as f:
        raw = f.read()
    if raw[:2] != _GZIP_MAGIC:
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as e:
        raise ValueError(f"{filename}: corrupt or truncated gzip data: {e}") from e


def read_idx(filename):
    """Read an IDX file, gzipped or not (recognised by its content).

    Magic number and header are checked before the body is read, and no more than the
    header's declared size is read or decompressed; a damaged file raises ValueError
    naming it and returns nothing.
    """
    name = os.fspath(filename)
    with open(filename, "rb") as raw:
        size = os.fstat(raw.fileno()).st_size
        compressed = raw.read(2) == _GZIP_MAGIC
        raw.seek(0)
        if not compressed:
            return _read_stream(raw, name, size)
        try:
            with gzip.GzipFile(fileobj=raw, mode="rb") as stream:
                return _read_stream(stream, name, None)
        except (OSError, EOFError, zlib.error) as e:
            raise ValueError(f"{name}: corrupt or truncated gzip data: {e}") from e


def encode_idx(array):
    """The IDX bytes of ``array`` (the inverse of ``parse_idx``)."""
    array = np.asarray(array)
    code = _CODES.get(array.dtype.newbyteorder("="))
    if code is None:
        raise TypeError(f"encode_idx: IDX cannot store dtype {array.dtype}")
    if not 1 <= array.ndim <= 255:
        raise ValueError(f"encode_idx: IDX needs 1 to 255 dimensions, got {array.ndim}")
    header = bytes([0, 0, code, array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()
    return header + np.ascontiguousarray(array, dtype=IDX_DTYPES[code]).tobytes()
