"""The ``checkpoint`` index file of a directory (TensorFlow's CheckpointState text).

Example::

    model_checkpoint_path: "ckpt-3"
    all_model_checkpoint_paths: "ckpt-2"
    all_model_checkpoint_paths: "ckpt-3"
    all_model_checkpoint_timestamps: 1764000000.5
    all_model_checkpoint_timestamps: 1764000060.25
    last_preserved_timestamp: 1764000000.0

Paths inside the directory are stored relative to it, so a directory can be moved.  The
file is replaced atomically; a reader sees the previous version or the new one.
"""

import math
import os
import re
import warnings

from .format import FILE_SUFFIX, atomic_write

__all__ = ["INDEX_FILENAME", "CheckpointState", "latest_checkpoint", "read_state", "write_state"]

INDEX_FILENAME = "checkpoint"
_MAX_INDEX_BYTES = 16 * 1024 * 1024

_LINE = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*:\s*(.*?)\s*$")
_STRING = re.compile(r'^"((?:[^"\\]|\\.)*)"$', re.DOTALL)
_SIMPLE_ESCAPES = {"n": b"\n", "r": b"\r", "t": b"\t", "\\": b"\\", '"': b'"', "'": b"'"}
_ESCAPE_BYTES = {ord("\n"): "\\n", ord("\r"): "\\r", ord("\t"): "\\t", ord("\\"): "\\\\",
                 ord('"'): '\\"', ord("'"): "\\'"}


class CheckpointState:
    """The parsed index: the latest checkpoint and the ones still listed."""

    def __init__(self, model_checkpoint_path=None, all_model_checkpoint_paths=(),
                 all_model_checkpoint_timestamps=(), last_preserved_timestamp=None):
        self.model_checkpoint_path = model_checkpoint_path
        self.all_model_checkpoint_paths = list(all_model_checkpoint_paths)
        self.all_model_checkpoint_timestamps = list(all_model_checkpoint_timestamps)
        self.last_preserved_timestamp = last_preserved_timestamp

    def __repr__(self):
        return "CheckpointState(model_checkpoint_path=%r, all_model_checkpoint_paths=%r)" % (
            self.model_checkpoint_path,
            self.all_model_checkpoint_paths,
        )


def _quote(path):
    # Same escaping as protobuf's text format (CEscape), so TensorFlow tools read it.
    out = []
    for byte in os.fsencode(path):
        if byte in _ESCAPE_BYTES:
            out.append(_ESCAPE_BYTES[byte])
        elif 0x20 <= byte < 0x7F:
            out.append(chr(byte))
        else:
            out.append("\\%03o" % byte)
    return '"' + "".join(out) + '"'


def _unquote(token):
    match = _STRING.match(token)
    if match is None:
        raise ValueError("expected a quoted string, got %r" % token)
    body = match.group(1)
    out = bytearray()
    i = 0
    while i < len(body):
        char = body[i]
        if char != "\\":
            out += char.encode("utf-8")
            i += 1
            continue
        nxt = body[i + 1]
        if nxt in _SIMPLE_ESCAPES:
            out += _SIMPLE_ESCAPES[nxt]
            i += 2
        elif nxt in "01234567":
            digits = re.match(r"[0-7]{1,3}", body[i + 1 :]).group(0)
            value = int(digits, 8)
            if value > 0xFF:
                raise ValueError("octal escape \\%s out of range" % digits)
            out.append(value)
            i += 1 + len(digits)
        elif nxt == "x" and re.match(r"[0-9A-Fa-f]{1,2}", body[i + 2 :]):
            digits = re.match(r"[0-9A-Fa-f]{1,2}", body[i + 2 :]).group(0)
            out.append(int(digits, 16))
            i += 2 + len(digits)
        else:
            raise ValueError("unknown escape \\%s" % nxt)
    return os.fsdecode(bytes(out))


def _number(token):
    value = float(token)
    if not math.isfinite(value):
        raise ValueError("timestamp %r is not finite" % token)
    return value


def _parse(text):
    state = CheckpointState()
    for line_number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _LINE.match(line)
        if match is None:
            raise ValueError("line %d is not 'key: value': %r" % (line_number, line))
        key, value = match.groups()
        if key == "model_checkpoint_path":
            state.model_checkpoint_path = _unquote(value)
        elif key == "all_model_checkpoint_paths":
            state.all_model_checkpoint_paths.append(_unquote(value))
        elif key == "all_model_checkpoint_timestamps":
            state.all_model_checkpoint_timestamps.append(_number(value))
        elif key == "last_preserved_timestamp":
            state.last_preserved_timestamp = _number(value)
        # Other keys: written by a newer version; ignoring them keeps the file usable.
    return state


def _absolute(directory, path):
    return path if os.path.isabs(path) else os.path.join(directory, path)


def fspath(path, where):
    """``os.fspath(path)``, its TypeError naming the API that was given ``path``."""
    try:
        return os.fspath(path)
    except TypeError:
        raise TypeError("%s: expected a path (str or os.PathLike), got %s"
                        % (where, type(path).__name__)) from None


def read_state(directory):
    """The index of ``directory`` with paths joined to it, or ``None``.

    ``None`` when there is no index; an unreadable or malformed one is ignored with a
    warning (as TensorFlow does), since the checkpoints themselves may still be fine.
    """
    directory = fspath(directory, "checkpoint directory")
    filename = os.path.join(directory, INDEX_FILENAME)
    try:
        with open(filename, "rb") as handle:
            raw = handle.read(_MAX_INDEX_BYTES + 1)
    except FileNotFoundError:
        return None
    except OSError as exc:
        warnings.warn("checkpoint index %r cannot be read (%s); ignored" % (filename, exc))
        return None
    try:
        if len(raw) > _MAX_INDEX_BYTES:
            raise ValueError("larger than %d bytes" % _MAX_INDEX_BYTES)
        state = _parse(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        warnings.warn("checkpoint index %r is malformed (%s); ignored" % (filename, exc))
        return None
    if state.model_checkpoint_path is not None:
        state.model_checkpoint_path = _absolute(directory, state.model_checkpoint_path)
    state.all_model_checkpoint_paths = [
        _absolute(directory, path) for path in state.all_model_checkpoint_paths
    ]
    return state


def write_state(directory, model_checkpoint_path, all_model_checkpoint_paths,
                all_model_checkpoint_timestamps=None, last_preserved_timestamp=None):
    """Atomically replace the index of ``directory``.

    ``model_checkpoint_path`` is appended to the list if missing (it must be listed).
    Timestamps are written only when there is one per listed path.
    """
    directory = os.fspath(directory)
    paths = [os.fspath(path) for path in all_model_checkpoint_paths]
    timestamps = list(all_model_checkpoint_timestamps or [])
    if model_checkpoint_path is not None and model_checkpoint_path not in paths:
        paths.append(model_checkpoint_path)
        if timestamps:
            timestamps.append(timestamps[-1])
    real_directory = os.path.realpath(directory)

    def relative(path):
        if os.path.dirname(os.path.realpath(path)) == real_directory:
            return os.path.basename(path)
        return os.path.abspath(path)

    lines = []
    if model_checkpoint_path is not None:
        lines.append("model_checkpoint_path: %s" % _quote(relative(model_checkpoint_path)))
    lines.extend("all_model_checkpoint_paths: %s" % _quote(relative(p)) for p in paths)
    if len(timestamps) == len(paths):
        lines.extend("all_model_checkpoint_timestamps: %r" % float(t) for t in timestamps)
    if last_preserved_timestamp is not None:
        lines.append("last_preserved_timestamp: %r" % float(last_preserved_timestamp))
    content = ("\n".join(lines) + "\n").encode("ascii")
    atomic_write(os.path.join(directory, INDEX_FILENAME), [content])


def checkpoint_exists(prefix):
    return os.path.isfile(os.fspath(prefix) + FILE_SUFFIX)


def latest_checkpoint(checkpoint_dir, latest_filename=None):
    """Prefix of the newest checkpoint recorded in ``checkpoint_dir``'s index, or ``None``.

    ``None`` also when the index names a checkpoint whose file is gone.  Pass the result
    to ``Checkpoint.restore`` (which accepts ``None`` as "nothing to restore").
    """
    if latest_filename is not None and latest_filename != INDEX_FILENAME:
        raise ValueError(
            "latest_checkpoint: latest_filename must be %r (the only index name), got %r"
            % (INDEX_FILENAME, latest_filename)
        )
    state = read_state(fspath(checkpoint_dir, "latest_checkpoint"))
    if state is None or state.model_checkpoint_path is None:
        return None
    if not checkpoint_exists(state.model_checkpoint_path):
        return None
    return state.model_checkpoint_path
