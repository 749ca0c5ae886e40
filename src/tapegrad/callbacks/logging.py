"""Callbacks that write logs: CSVLogger and TensorBoard."""

import io
import math
import os

from tapegrad.callbacks.base import Callback

__all__ = ["CSVLogger", "TensorBoard"]


def _csv_field(value):
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else str(value)
    return str(value)


class CSVLogger(Callback):
    """Writes one CSV row per epoch: ``epoch`` then the logs' keys in sorted order.

    ``append=True`` continues an existing file (its header is kept).  The file is
    rewritten atomically after each epoch, so a crash never leaves half a row.
    """

    def __init__(self, filename, separator=",", append=False):
        super().__init__()
        self.filename = os.fspath(filename)
        if not isinstance(separator, str) or len(separator) != 1:
            raise ValueError(f"CSVLogger: separator must be one character, got {separator!r}")
        self.sep = separator
        self.append = bool(append)
        self.keys = None
        self._lines = []

    def on_train_begin(self, logs=None):
        self._lines = []
        self.keys = None
        if self.append and os.path.isfile(self.filename):
            with open(self.filename, encoding="utf-8") as handle:
                self._lines = handle.read().splitlines()
            if self._lines:
                self.keys = self._lines[0].split(self.sep)[1:]

    def on_epoch_end(self, epoch, logs=None):
        from tapegrad.train.format import atomic_write

        logs = logs or {}
        if self.keys is None:
            self.keys = sorted(logs)
            self._lines.append(self.sep.join(["epoch"] + self.keys))
        row = [str(epoch)] + [_csv_field(logs[k]) if k in logs else "NA" for k in self.keys]
        self._lines.append(self.sep.join(row))
        directory = os.path.dirname(self.filename)
        if directory:
            os.makedirs(directory, exist_ok=True)
        text = io.StringIO()
        for line in self._lines:
            text.write(line + "\n")
        atomic_write(self.filename, [text.getvalue().encode("utf-8")])


class TensorBoard(Callback):
    """Writes the logs as TensorBoard scalars through ``tg.summary``.

    Training values go to ``log_dir/train`` and validation values (``val_*``, without
    the prefix) to ``log_dir/validation``, tagged ``epoch_<name>`` at the epoch index.
    ``update_freq="batch"`` (or an int N: every N batches) also writes ``batch_<name>``
    at the global batch index.  ``histogram_freq=N`` writes a histogram of every
    variable of the model every N epochs.
    """

    def __init__(self, log_dir="logs", histogram_freq=0, update_freq="epoch",
                 write_graph=True, write_images=False, profile_batch=0):
        super().__init__()
        self.log_dir = os.fspath(log_dir)
        if isinstance(histogram_freq, bool) or not isinstance(histogram_freq, int) \
                or histogram_freq < 0:
            raise ValueError(
                f"TensorBoard: histogram_freq must be an int >= 0, got {histogram_freq!r}")
        self.histogram_freq = histogram_freq
        if update_freq == "batch":
            update_freq = 1
        if update_freq != "epoch" and (isinstance(update_freq, bool)
                                       or not isinstance(update_freq, int) or update_freq <= 0):
            raise ValueError(
                f"TensorBoard: update_freq must be 'epoch', 'batch' or a positive int, "
                f"got {update_freq!r}")
        self.update_freq = update_freq
        self._writers = {}
        self._batch = 0

    def _writer(self, which):
        import tapegrad as tg

        writer = self._writers.get(which)
        if writer is None:
            writer = tg.summary.create_file_writer(os.path.join(self.log_dir, which))
            self._writers[which] = writer
        return writer

    def _write(self, which, values, step):
        import tapegrad as tg

        with self._writer(which).as_default(), tg.summary.always_record_summaries():
            for name, value in values:
                tg.summary.scalar(name, value, step=step)

    def on_train_begin(self, logs=None):
        self._batch = 0

    def on_train_batch_end(self, batch, logs=None):
        self._batch += 1
        if self.update_freq == "epoch" or self._batch % self.update_freq:
            return
        values = [(f"batch_{k}", v) for k, v in (logs or {}).items()
                  if isinstance(v, (int, float)) and k not in ("batch", "size")]
        self._write("train", values, self._batch)

    def on_epoch_end(self, epoch, logs=None):
        import tapegrad as tg

        logs = logs or {}
        train = [(f"epoch_{k}", v) for k, v in logs.items() if not k.startswith("val_")]
        val = [(f"epoch_{k[4:]}", v) for k, v in logs.items() if k.startswith("val_")]
        self._write("train", train, epoch)
        if val:
            self._write("validation", val, epoch)
        if self.histogram_freq and epoch % self.histogram_freq == 0:
            with self._writer("train").as_default(), tg.summary.always_record_summaries():
                for variable in self.model.variables:
                    name = variable.name.replace(":", "_")
                    tg.summary.histogram(name, variable.numpy(), step=epoch)
        for writer in self._writers.values():
            writer.flush()

    def on_train_end(self, logs=None):
        for writer in self._writers.values():
            writer.close()
        self._writers = {}
