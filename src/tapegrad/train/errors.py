"""Exceptions raised by checkpoint saving and restoring."""

__all__ = [
    "CheckpointError",
    "CheckpointNotFoundError",
    "CheckpointCorruptError",
    "CheckpointMismatchError",
    "MismatchReport",
]


class CheckpointError(ValueError):
    """Base class of every checkpoint failure."""


class CheckpointNotFoundError(CheckpointError, FileNotFoundError):
    """The checkpoint file (or the directory named for it) does not exist."""


class CheckpointCorruptError(CheckpointError):
    """The file is truncated, altered, or not a tapegrad checkpoint; nothing was loaded."""


class MismatchReport:
    """What did not line up between a checkpoint and the live objects, by object path.

    ``missing``: live variables the checkpoint has no value for.
    ``unexpected``: saved values no live variable took.
    ``mismatched``: ``(path, saved, live)`` where both exist but dtype/shape/kind differ.
    """

    def __init__(self, missing=(), unexpected=(), mismatched=()):
        self.missing = sorted(missing)
        self.unexpected = sorted(unexpected)
        self.mismatched = sorted(mismatched)

    def __bool__(self):
        return bool(self.missing or self.unexpected or self.mismatched)

    def __str__(self):
        lines = []
        if self.mismatched:
            lines.append("mismatched (path: checkpoint vs live):")
            lines.extend("  %s: %s vs %s" % entry for entry in self.mismatched)
        if self.missing:
            lines.append("missing from the checkpoint (live objects with no saved value):")
            lines.extend("  " + path for path in self.missing)
        if self.unexpected:
            lines.append("unexpected in the checkpoint (saved values no live object took):")
            lines.extend("  " + path for path in self.unexpected)
        return "\n".join(lines) if lines else "no mismatch"

    def __repr__(self):
        return "MismatchReport(missing=%r, unexpected=%r, mismatched=%r)" % (
            self.missing,
            self.unexpected,
            self.mismatched,
        )


class CheckpointMismatchError(CheckpointError, AssertionError):
    """The checkpoint does not fit the live objects; ``.report`` lists the paths.

    An ``AssertionError`` too, because the status objects' ``assert_*`` methods raise it
    where TensorFlow raises ``AssertionError``.
    """

    def __init__(self, message, report):
        super().__init__("%s\n%s" % (message, report))
        self.report = report
