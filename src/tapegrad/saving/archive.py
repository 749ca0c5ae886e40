"""The model file: a zip archive (Keras 3's ``.keras`` layout) sealed by a SHA-256.

Members::

    metadata.json           {"format": "tapegrad.model", "format_version": 1,
                             "tapegrad_version", "date_saved", "optimizer_state": bool}
    config.json             {"class_name", "config", ["build_config"], ["compile_config"]}
    model.weights.tgckpt    a tapegrad checkpoint image (train/format.py) of
                            Checkpoint(model=..., [optimizer=...]), stored uncompressed

The archive's comment, its last bytes, is ``b"tapegrad-model sha256:"`` and the hex
SHA-256 of every byte before those 64 hex digits, so any truncation or flipped byte,
the zip's own headers included, is caught before anything is parsed; the members'
CRC-32s and the checkpoint image's own checksums are checked as well.  The file stays
an ordinary zip (``unzip -l model.keras`` lists it).  It is written with
``train.format.atomic_file``: a temp file, fsync, rename.
"""

import hashlib
import io
import os
import time
import zipfile

from tapegrad.train.errors import CheckpointCorruptError, CheckpointNotFoundError
from tapegrad.train.format import MAGIC as CHECKPOINT_MAGIC
from tapegrad.train.format import atomic_file

__all__ = ["MEMBERS", "read_archive", "write_archive"]

SEAL = b"tapegrad-model sha256:"
_HEX = 64
MEMBERS = ("metadata.json", "config.json", "model.weights.tgckpt")
# JSON members are deflated: cap what a (crafted) member may inflate to.
MAX_JSON_BYTES = 64 * 1024 * 1024
_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"


def _corrupt(where, message):
    return CheckpointCorruptError(f"model file {where} is corrupt or not a tapegrad model: "
                                  f"{message}; nothing was loaded")


def write_archive(filename, json_members, weight_chunks):
    """Write ``json_members`` (``[(name, bytes)]``) and the checkpoint image
    ``weight_chunks`` (an iterable of bytes-like) to ``filename`` atomically."""
    stamp = time.localtime()[:6]
    with atomic_file(filename) as handle:
        with zipfile.ZipFile(handle, "w") as archive:
            for name, data in json_members:
                info = zipfile.ZipInfo(name, stamp)
                info.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(info, data)
            info = zipfile.ZipInfo(MEMBERS[2], stamp)
            info.compress_type = zipfile.ZIP_STORED
            with archive.open(info, "w", force_zip64=True) as member:
                for chunk in weight_chunks:
                    member.write(chunk)
            # placeholder digits, replaced below once the bytes before them are final
            archive.comment = SEAL + b"0" * _HEX
        end = handle.seek(0, os.SEEK_END)
        handle.seek(0)
        digest = hashlib.sha256()
        remaining = end - _HEX
        while remaining:
            chunk = handle.read(min(remaining, 1 << 20))
            if not chunk:
                raise OSError(f"save: {filename!r} shrank while being sealed")
            digest.update(chunk)
            remaining -= len(chunk)
        handle.seek(end - _HEX)
        handle.write(digest.hexdigest().encode("ascii"))


def _read_bytes(filename):
    try:
        with open(filename, "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        raise CheckpointNotFoundError(f"load_model: no file at {filename!r}") from None
    except IsADirectoryError:
        raise CheckpointNotFoundError(
            f"load_model: {filename!r} is a directory; tapegrad models are single files "
            "written by model.save('name.keras')") from None


def _check_kind(data, where):
    """Name the wrong format precisely: the most common mistakes get their fix."""
    if data.startswith(CHECKPOINT_MAGIC):
        raise _corrupt(where, "this is a weights checkpoint (save_weights / "
                       "tg.train.Checkpoint); load it with model.load_weights(path)")
    if data.startswith(_HDF5_MAGIC):
        raise _corrupt(where, "this is an HDF5 file (Keras .h5); tapegrad reads only the "
                       "archives model.save writes")
    if not data.startswith(b"PK\x03\x04"):
        raise _corrupt(where, "not a zip archive")
    tail = data[-(len(SEAL) + _HEX):]
    if not tail.startswith(SEAL):
        raise _corrupt(where, "no tapegrad seal at the end (truncated, or a .keras file "
                       "written by another program)")


def read_archive(filename):
    """``{member name: bytes}`` of a verified model file; raises before returning
    anything if a single byte is off."""
    where = repr(os.fspath(filename))
    data = _read_bytes(filename)
    _check_kind(data, where)
    body, seal = data[:-_HEX], data[-_HEX:]
    if hashlib.sha256(body).hexdigest().encode("ascii") != seal:
        raise _corrupt(where, "SHA-256 mismatch (the file was truncated or altered)")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = archive.infolist()
        names = [info.filename for info in infos]
        if sorted(names) != sorted(MEMBERS):
            raise _corrupt(where, f"members {names}, expected {list(MEMBERS)}")
        members = {}
        for info in infos:
            if info.filename != MEMBERS[2] and info.file_size > MAX_JSON_BYTES:
                raise _corrupt(where, f"{info.filename} declares {info.file_size} bytes")
            if info.filename == MEMBERS[2] and info.compress_type != zipfile.ZIP_STORED:
                raise _corrupt(where, "the weights member is compressed")
            members[info.filename] = archive.read(info)  # checks the member's CRC-32
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError,
            NotImplementedError) as exc:
        if isinstance(exc, CheckpointCorruptError):
            raise
        raise _corrupt(where, f"bad zip structure ({exc})") from None
    return members
