"""The on-disk checkpoint format: one self-checking file per checkpoint.

Layout (all integers little-endian)::

    offset      size  field
    0           8     magic  b"\\x89TGCKPT\\n"
    8           4     format version (uint32), currently 1
    12          4     header length H (uint32), 2 <= H <= MAX_HEADER_BYTES
    16          4     CRC-32 of bytes [0, 16) followed by the header bytes
    20          H     header: UTF-8 JSON object
                        {"graph": <opaque JSON from the caller>,
                         "data_bytes": D,
                         "tensors": [{"name", "dtype", "shape", "offset", "nbytes",
                                      "crc32"}, ...]}
    20 + H      D     tensor bytes, C order, little-endian, back to back in header order
    20 + H + D  32    SHA-256 of bytes [0, 20 + H + D)

Every byte is covered by a checksum and every length is cross-checked against the file
size, so a truncation or a flipped byte anywhere is detected before anything is used.
Nothing in the file is executed: the header is JSON read with a strict schema, the
payload is raw numbers of an allow-listed dtype.  The per-tensor CRC-32 localises damage
in the error message; the SHA-256 trailer makes the whole file "CRC32C or stronger".
"""

import contextlib
import hashlib
import json
import math
import os
import re
import socket
import struct
import tempfile
import threading
import time
import zlib

import numpy as np

from .errors import CheckpointCorruptError, CheckpointNotFoundError

__all__ = [
    "FILE_SUFFIX",
    "FORMAT_VERSION",
    "MAGIC",
    "MAX_HEADER_BYTES",
    "atomic_file",
    "atomic_write",
    "decode",
    "encode_chunks",
    "read_file",
    "write_file",
]

MAGIC = b"\x89TGCKPT\n"
FORMAT_VERSION = 1
MAX_HEADER_BYTES = 64 * 1024 * 1024
MAX_NDIM = 64
FILE_SUFFIX = ".tgckpt"

_PREAMBLE = struct.Struct("<8sII")
_PREAMBLE_SIZE = _PREAMBLE.size + 4  # plus the header CRC
_TRAILER_SIZE = 32

# Only plain numeric dtypes may be stored: no object arrays, so no code on load.
_DTYPES = {
    name: np.dtype(name).newbyteorder("<")
    for name in (
        "bool",
        "int8",
        "int16",
        "int32",
        "int64",
        "uint8",
        "uint16",
        "uint32",
        "uint64",
        "float16",
        "float32",
        "float64",
        "complex64",
        "complex128",
    )
}


def _crc(data, value=0):
    return zlib.crc32(data, value) & 0xFFFFFFFF


def _as_bytes_view(array):
    # A flat uint8 view: zlib, hashlib and file.write all take it without copying.
    return memoryview(array.reshape(-1).view(np.uint8))


def _prepare_tensor(name, value):
    if not isinstance(name, str):
        raise TypeError("checkpoint format: tensor names must be str, got %r" % (name,))
    array = np.asarray(value)
    dtype_name = array.dtype.name if array.dtype.kind in "biufc" else None
    if dtype_name not in _DTYPES or array.dtype.fields is not None:
        raise TypeError(
            "checkpoint format: cannot store %r of dtype %s; supported dtypes: %s"
            % (name, array.dtype, ", ".join(_DTYPES))
        )
    # astype rather than ascontiguousarray, which would turn a 0-d array into 1-d.
    array = array.astype(_DTYPES[dtype_name], order="C", copy=False)
    return name, dtype_name, array


def encode_chunks(graph, tensors):
    """Yield the bytes of a checkpoint file holding ``graph`` and ``tensors``.

    ``graph`` is any JSON-serialisable value; ``tensors`` is ``[(name, array), ...]``.
    Chunks alias the arrays (no copy of the tensor data is made).
    """
    prepared = [_prepare_tensor(name, value) for name, value in tensors]
    entries = []
    offset = 0
    for name, dtype_name, array in prepared:
        view = _as_bytes_view(array)
        entries.append(
            {
                "name": name,
                "dtype": dtype_name,
                "shape": list(array.shape),
                "offset": offset,
                "nbytes": view.nbytes,
                "crc32": _crc(view),
            }
        )
        offset += view.nbytes
    header = {"graph": graph, "data_bytes": offset, "tensors": entries}
    try:
        header_bytes = json.dumps(
            header, ensure_ascii=True, allow_nan=False, separators=(",", ":")
        ).encode("utf-8")
    except (TypeError, ValueError) as exc:
        raise TypeError("checkpoint format: graph is not JSON-serialisable: %s" % exc) from exc
    if len(header_bytes) > MAX_HEADER_BYTES:
        raise ValueError(
            "checkpoint format: header of %d bytes exceeds the %d-byte limit (too many objects)"
            % (len(header_bytes), MAX_HEADER_BYTES)
        )
    preamble = _PREAMBLE.pack(MAGIC, FORMAT_VERSION, len(header_bytes))
    header_crc = struct.pack("<I", _crc(header_bytes, _crc(preamble)))
    digest = hashlib.sha256()
    for chunk in [preamble, header_crc, header_bytes]:
        digest.update(chunk)
        yield chunk
    for _, _, array in prepared:
        view = _as_bytes_view(array)
        digest.update(view)
        yield view
    yield digest.digest()


def _corrupt(where, message):
    return CheckpointCorruptError("checkpoint %s is corrupt: %s" % (where, message))


def _require_int(value, where, what, low=0, high=None):
    if type(value) is not int or value < low or (high is not None and value > high):
        raise _corrupt(where, "header field %s=%r is not a valid integer" % (what, value))
    return value


def _reject_constant(token):
    raise ValueError("non-finite number %s" % token)


def _parse_header(header_bytes, where):
    try:
        header = json.loads(header_bytes.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise _corrupt(where, "header is not valid JSON (%s)" % exc) from None
    if not isinstance(header, dict) or not {"graph", "data_bytes", "tensors"} <= set(header):
        raise _corrupt(where, "header lacks 'graph', 'data_bytes' or 'tensors'")
    if not isinstance(header["tensors"], list):
        raise _corrupt(where, "header field 'tensors' is not a list")
    return header


def _check_tensor_entry(entry, index, expected_offset, where):
    if not isinstance(entry, dict):
        raise _corrupt(where, "tensor entry %d is not an object" % index)
    name = entry.get("name")
    if not isinstance(name, str):
        raise _corrupt(where, "tensor entry %d has no string name" % index)
    label = "tensor %r" % name
    dtype = _DTYPES.get(entry.get("dtype")) if isinstance(entry.get("dtype"), str) else None
    if dtype is None:
        raise _corrupt(where, "%s has unsupported dtype %r" % (label, entry.get("dtype")))
    shape = entry.get("shape")
    if not isinstance(shape, list) or len(shape) > MAX_NDIM:
        raise _corrupt(where, "%s has an invalid shape %r" % (label, shape))
    for dim in shape:
        _require_int(dim, where, label + " shape")
    offset = _require_int(entry.get("offset"), where, label + " offset")
    nbytes = _require_int(entry.get("nbytes"), where, label + " nbytes")
    _require_int(entry.get("crc32"), where, label + " crc32", high=0xFFFFFFFF)
    if nbytes != math.prod(shape) * dtype.itemsize:
        raise _corrupt(
            where, "%s: %d bytes do not fit shape %s of %s" % (label, nbytes, shape, dtype.name)
        )
    # Back to back, in order: no gaps (unchecked bytes) and no overlaps.
    if offset != expected_offset:
        raise _corrupt(where, "%s starts at %d, expected %d" % (label, offset, expected_offset))
    return dtype, tuple(shape)


def _check_preamble(preamble, size, where):
    """Check magic, version and header length against a file of ``size`` bytes."""
    if size < _PREAMBLE_SIZE + _TRAILER_SIZE or len(preamble) < _PREAMBLE_SIZE:
        raise _corrupt(where, "file is %d bytes, too short to be a checkpoint" % size)
    magic, version, header_len = _PREAMBLE.unpack_from(preamble, 0)
    if magic != MAGIC:
        raise _corrupt(where, "not a tapegrad checkpoint (bad magic %r)" % bytes(magic))
    if version != FORMAT_VERSION:
        raise _corrupt(
            where, "format version %d is not supported (this build reads %d)"
            % (version, FORMAT_VERSION)
        )
    if not 2 <= header_len <= MAX_HEADER_BYTES:
        raise _corrupt(where, "header length %d is out of bounds" % header_len)
    if _PREAMBLE_SIZE + header_len + _TRAILER_SIZE > size:
        raise _corrupt(where, "file is truncated (%d bytes, header alone needs %d)"
                       % (size, _PREAMBLE_SIZE + header_len + _TRAILER_SIZE))
    return header_len


def _check_header_crc(preamble, header_bytes, where):
    (header_crc,) = struct.unpack_from("<I", preamble, _PREAMBLE.size)
    if _crc(header_bytes, _crc(preamble[: _PREAMBLE.size])) != header_crc:
        raise _corrupt(where, "header checksum mismatch")


def decode(buffer, where="<buffer>"):
    """Verify a whole checkpoint image and return ``(graph, [(name, array), ...])``.

    Arrays are read-only NumPy arrays in native byte order viewing ``buffer`` where
    possible.  Any defect raises ``CheckpointCorruptError`` before anything is returned.
    """
    data = memoryview(buffer).cast("B")
    size = data.nbytes
    header_len = _check_preamble(data, size, where)
    data_start = _PREAMBLE_SIZE + header_len
    header_bytes = data[_PREAMBLE_SIZE:data_start]
    _check_header_crc(data[:_PREAMBLE_SIZE], header_bytes, where)
    body_end = size - _TRAILER_SIZE
    if hashlib.sha256(data[:body_end]).digest() != bytes(data[body_end:]):
        raise _corrupt(where, "SHA-256 of the file does not match (truncated or altered)")
    header = _parse_header(bytes(header_bytes), where)
    data_bytes = _require_int(header["data_bytes"], where, "data_bytes")
    if data_start + data_bytes != body_end:
        raise _corrupt(
            where, "file holds %d data bytes, header declares %d"
            % (body_end - data_start, data_bytes)
        )
    tensors = []
    offset = 0
    for index, entry in enumerate(header["tensors"]):
        dtype, shape = _check_tensor_entry(entry, index, offset, where)
        nbytes = entry["nbytes"]
        if offset + nbytes > data_bytes:
            raise _corrupt(where, "tensor %r runs past the end of the data" % entry["name"])
        raw = data[data_start + offset : data_start + offset + nbytes]
        if _crc(raw) != entry["crc32"]:
            raise _corrupt(where, "checksum mismatch in tensor %r" % entry["name"])
        array = np.frombuffer(raw, dtype=dtype).reshape(shape)
        if not dtype.isnative:
            array = array.astype(dtype.newbyteorder("="))
        array.flags.writeable = False
        tensors.append((entry["name"], array))
        offset += nbytes
    if offset != data_bytes:
        raise _corrupt(where, "tensors cover %d of %d data bytes" % (offset, data_bytes))
    return header["graph"], tensors


def read_file(filename):
    """Read and fully verify the checkpoint file ``filename``; see :func:`decode`.

    The preamble (magic, version, header length) and the header (checksum, schema,
    declared data size against the file size) are checked before the body is read, so
    a file that is not a checkpoint, or lies about its size, costs a few bytes of
    reading, not the whole file.
    """
    where = repr(filename)
    try:
        with open(filename, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            preamble = handle.read(_PREAMBLE_SIZE)
            header_len = _check_preamble(preamble, size, where)
            header_bytes = handle.read(header_len)
            if len(header_bytes) != header_len:
                raise _corrupt(where, "file changed size while being read")
            _check_header_crc(preamble, header_bytes, where)
            header = _parse_header(header_bytes, where)
            data_bytes = _require_int(header["data_bytes"], where, "data_bytes")
            expected = _PREAMBLE_SIZE + header_len + data_bytes + _TRAILER_SIZE
            if expected != size:
                raise _corrupt(where, "file is %d bytes, its header declares %d"
                               % (size, expected))
            buffer = bytearray(size)
            start = _PREAMBLE_SIZE + header_len
            buffer[:_PREAMBLE_SIZE] = preamble
            buffer[_PREAMBLE_SIZE:start] = header_bytes
            got = handle.readinto(memoryview(buffer)[start:])
    except FileNotFoundError:
        raise CheckpointNotFoundError("checkpoint file %r does not exist" % filename) from None
    except IsADirectoryError:
        raise CheckpointNotFoundError("checkpoint path %r is a directory" % filename) from None
    if got != size - start:
        raise _corrupt(where, "file changed size while being read")
    return decode(buffer, where)


_umask_lock = threading.Lock()
_umask = None


def _file_mode():
    # mkstemp creates 0600 files; give checkpoints the mode open() would have given.
    global _umask
    with _umask_lock:
        if _umask is None:
            _umask = os.umask(0o022)
            os.umask(_umask)
    return 0o666 & ~_umask


def fsync_directory(directory):
    """Make a rename inside ``directory`` durable (no-op where directories can't be opened)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _host_tag():
    host = re.sub(r"[^A-Za-z0-9.-]", "", socket.gethostname())[:32]
    return host or "host"


def temp_prefix(basename):
    """Name prefix of ``atomic_write``'s temp file for ``basename``.

    ``.<basename>.p<pid>@<host>.`` (then mkstemp's random part and ``.tmp``): a crash
    leaves the temp file behind, and the writer's process id and host let
    :func:`stale_temporaries` tell a dead writer's leftovers from a live write.
    """
    return ".%s.p%d@%s." % (basename, os.getpid(), _host_tag())


# Temp files older than this are stale whoever wrote them (a write takes seconds).
STALE_TEMP_SECONDS = 3600.0


def stale_temporaries(directory, basename_pattern, now=None):
    """Paths of ``atomic_write`` temp files in ``directory`` whose writer is gone.

    ``basename_pattern`` is a regular expression the target file's name must match in
    full.  A temp file is stale when its writer process (same host) no longer runs, or
    when it is older than ``STALE_TEMP_SECONDS`` (other hosts, older name formats).
    """
    pattern = re.compile(
        r"\.(?:%s)\.(?:p(?P<pid>\d+)@(?P<host>[A-Za-z0-9.-]*)\.)?[A-Za-z0-9_]+\.tmp"
        % basename_pattern)
    now = time.time() if now is None else now
    host = _host_tag()
    try:
        names = os.listdir(directory)
    except OSError:
        return []
    stale = []
    for name in names:
        match = pattern.fullmatch(name)
        if match is None:
            continue
        path = os.path.join(directory, name)
        try:
            age = now - os.lstat(path).st_mtime
        except OSError:
            continue  # removed meanwhile
        pid = match.group("pid")
        if age > STALE_TEMP_SECONDS or (
                pid is not None and match.group("host") == host and not _running(int(pid))):
            stale.append(path)
    return stale


def _running(pid):
    if pid == os.getpid():
        return True  # another thread of this process may be writing it now
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError, OverflowError):
        return True  # exists (another user's) or unknown: not provably gone
    return True


@contextlib.contextmanager
def atomic_file(filename):
    """Open a temp file beside ``filename`` for writing (``"w+b"``: the writer may read
    back what it wrote); on a clean exit it becomes ``filename`` atomically.

    Temp file in the same directory, flush + fsync, ``os.replace``, fsync the directory.
    An exception inside the block leaves ``filename`` untouched and removes the temp file.
    """
    filename = os.fspath(filename)
    directory = os.path.dirname(os.path.abspath(filename))
    fd, tmp = tempfile.mkstemp(
        prefix=temp_prefix(os.path.basename(filename)), suffix=".tmp", dir=directory
    )
    try:
        with os.fdopen(fd, "w+b") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, _file_mode())
        os.replace(tmp, filename)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    fsync_directory(directory)


def atomic_write(filename, chunks):
    """Write the byte ``chunks`` to ``filename`` so readers see the old file or the new one
    (see :func:`atomic_file`); an exception from ``chunks`` leaves ``filename`` untouched."""
    with atomic_file(filename) as handle:
        for chunk in chunks:
            handle.write(chunk)


def write_file(filename, graph, tensors):
    """Atomically write a checkpoint file; see :func:`encode_chunks` for the arguments."""
    atomic_write(filename, encode_chunks(graph, tensors))
