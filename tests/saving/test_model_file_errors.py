"""A model file that is missing, truncated, altered in any byte, of another format, or
inconsistent with its own config raises a tapegrad checkpoint error and hands back
nothing: no model, no restore left listening for variables; a failed save leaves the
previous file as it was."""

import hashlib
import io
import json
import os
import zipfile

import numpy as np
import pytest

import tapegrad as tg
from tapegrad import tracking
from tapegrad.saving import archive
from tapegrad.train import (
    CheckpointCorruptError,
    CheckpointError,
    CheckpointMismatchError,
    CheckpointNotFoundError,
)


def _saved(tmp_path, name="m.keras"):
    model = tg.Sequential([tg.layers.Dense(4, input_shape=(3,)), tg.layers.Dense(2)])
    model.compile("adam", "mse")
    model.train_on_batch(np.ones((2, 3), np.float32), np.zeros((2, 2), np.float32))
    path = os.path.join(tmp_path, name)
    model.save(path)
    return model, path


def _write(path, data):
    with open(path, "wb") as f:
        f.write(data)


def _fails(path, error=CheckpointCorruptError, match=None):
    before = len(tracking._pending_restores)
    with pytest.raises(error, match=match):
        tg.models.load_model(path)
    assert len(tracking._pending_restores) == before  # nothing left half-restored


def _reseal(members):
    """A well-sealed archive of ``members`` ({name: bytes}), to reach the checks
    behind the checksums."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
        z.comment = archive.SEAL + b"0" * 64
    data = buffer.getvalue()
    return data[:-64] + hashlib.sha256(data[:-64]).hexdigest().encode()


def _members(path):
    with zipfile.ZipFile(path) as z:
        return {name: z.read(name) for name in z.namelist()}


def test_missing_file_and_directory(tmp_path):
    _fails(os.path.join(tmp_path, "nope.keras"), CheckpointNotFoundError)
    with pytest.raises(FileNotFoundError):
        tg.models.load_model(os.path.join(tmp_path, "nope.keras"))
    _fails(str(tmp_path), CheckpointNotFoundError, "directory")


def test_truncated_files(tmp_path):
    _, path = _saved(tmp_path)
    data = open(path, "rb").read()
    bad = os.path.join(tmp_path, "bad.keras")
    for size in (0, 3, 30, len(data) // 2, len(data) - 65, len(data) - 1):
        _write(bad, data[:size])
        _fails(bad)


def test_every_flipped_byte_is_caught(tmp_path):
    _, path = _saved(tmp_path)
    data = open(path, "rb").read()
    bad = os.path.join(tmp_path, "bad.keras")
    # every byte of the last 200 (central directory, end record, seal) and a spread
    # over the rest (local headers, JSON members, the weights image)
    positions = sorted(set(range(len(data) - 200, len(data))) |
                       set(range(0, len(data), max(1, len(data) // 150))))
    for i in positions:
        flipped = bytearray(data)
        flipped[i] ^= 0x10
        _write(bad, bytes(flipped))
        with pytest.raises(CheckpointCorruptError):
            tg.models.load_model(bad)


def test_other_formats_are_named(tmp_path):
    model, _ = _saved(tmp_path)
    weights = model.save_weights(os.path.join(tmp_path, "w")) + ".tgckpt"
    _fails(weights, match="load_weights")
    other = os.path.join(tmp_path, "other.keras")
    _write(other, b"\x89HDF\r\n\x1a\n" + b"\0" * 100)
    _fails(other, match="HDF5")
    _write(other, b"model weights, honest")
    _fails(other, match="not a zip")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:  # a zip without tapegrad's seal
        z.writestr("config.json", "{}")
    _write(other, buffer.getvalue())
    _fails(other, match="seal")


def test_sealed_but_inconsistent_contents(tmp_path):
    _, path = _saved(tmp_path)
    members = _members(path)
    bad = os.path.join(tmp_path, "bad.keras")

    def variant(**changes):
        changed = dict(members)
        changed.update(changes)
        _write(bad, _reseal({k: v for k, v in changed.items() if v is not None}))

    meta = json.loads(members["metadata.json"])
    variant(**{"metadata.json": json.dumps(dict(meta, format_version=99)).encode()})
    _fails(bad, match="version 99")
    variant(**{"metadata.json": json.dumps(dict(meta, format="other")).encode()})
    _fails(bad, match="format")
    variant(**{"config.json": b"{not json"})
    _fails(bad, match="JSON")
    config = json.loads(members["config.json"])
    del config["config"]["layers"][0]["class_name"]
    variant(**{"config.json": json.dumps(config).encode()})
    _fails(bad, match="does not describe a model")
    variant(**{"model.weights.tgckpt": None})
    _fails(bad, match="members")
    variant(**{"model.weights.tgckpt": members["model.weights.tgckpt"][:-1]})
    _fails(bad)
    # a config whose layers do not fit the saved weights: rebuilt, then refused
    config = json.loads(members["config.json"])
    config["config"]["layers"][0]["config"]["units"] = 5
    variant(**{"config.json": json.dumps(config).encode()})
    _fails(bad, CheckpointMismatchError)
    assert issubclass(CheckpointMismatchError, CheckpointError)


def test_a_failed_save_keeps_the_previous_file(tmp_path, monkeypatch):
    model, path = _saved(tmp_path)
    before = open(path, "rb").read()

    def broken(graph, tensors):
        yield b"partial"
        raise OSError("disk full")

    monkeypatch.setattr("tapegrad.train.format.encode_chunks", broken)
    with pytest.raises(OSError, match="disk full"):
        model.save(path)
    assert open(path, "rb").read() == before
    assert sorted(os.listdir(tmp_path)) == ["m.keras"]  # no temp file left behind
    monkeypatch.undo()
    loaded = tg.models.load_model(path)
    assert loaded.count_params() == model.count_params()


def test_the_archive_is_an_ordinary_zip(tmp_path):
    _, path = _saved(tmp_path)
    with zipfile.ZipFile(path) as z:
        assert z.testzip() is None
        assert sorted(z.namelist()) == sorted(archive.MEMBERS)
        meta = json.loads(z.read("metadata.json"))
    assert meta["format"] == "tapegrad.model" and meta["format_version"] == 1
    assert meta["tapegrad_version"] == tg.__version__ and meta["optimizer_state"] is True
