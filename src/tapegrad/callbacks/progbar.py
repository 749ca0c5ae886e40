"""ProgbarLogger: the per-epoch progress display of ``fit(verbose=...)``.

``verbose=1`` draws a bar per epoch with the running loss and metrics: a tqdm bar when
the output is a terminal, otherwise (logs, notebooks' captured output, CI) Keras' text
bar printed once when the epoch ends.  ``verbose=2`` prints one line per epoch.
"""

import sys
import time

from tapegrad.callbacks.base import Callback

__all__ = ["ProgbarLogger"]


def _format_logs(logs):
    parts = []
    for key, value in logs.items():
        if isinstance(value, float):
            parts.append(f"{key}: {value:.4f}" if abs(value) >= 1e-3 or value == 0
                         else f"{key}: {value:.4e}")
        elif isinstance(value, int):
            parts.append(f"{key}: {value}")
    return " - ".join(parts)


def _format_duration(seconds, steps):
    per_step = seconds / max(steps, 1)
    unit = f"{per_step * 1e3:.0f}ms/step" if per_step >= 1e-3 else f"{per_step * 1e6:.0f}us/step"
    return f"{seconds:.0f}s {unit}"


class ProgbarLogger(Callback):
    """Prints progress to ``stream`` (stdout by default) while ``fit`` runs.

    ``fit`` adds one when ``verbose`` is 1 or 2; ``params["steps"]`` (``None`` when a
    dataset's length is unknown) sizes the bar.
    """

    def __init__(self, count_mode="steps", stream=None, use_tqdm=None):
        super().__init__()
        self.stream = stream
        self.use_tqdm = use_tqdm
        self._bar = None

    def _out(self):
        return self.stream if self.stream is not None else sys.stdout

    def _interactive(self):
        if self.use_tqdm is not None:
            return bool(self.use_tqdm)
        isatty = getattr(self._out(), "isatty", None)
        try:
            return bool(isatty and isatty())
        except ValueError:
            return False

    def on_train_begin(self, logs=None):
        self.verbose = self.params.get("verbose", 1)
        self.epochs = self.params.get("epochs", 1)

    def on_epoch_begin(self, epoch, logs=None):
        self._seen = 0
        self._start = time.perf_counter()
        self._last_logs = {}
        if self.verbose and self.epochs > 1 or self.verbose == 1:
            print(f"Epoch {epoch + 1}/{self.epochs}", file=self._out(), flush=True)
        if self.verbose == 1 and self._interactive():
            from tqdm import tqdm

            self._bar = tqdm(total=self.params.get("steps"), file=self._out(), unit="step",
                             leave=True, dynamic_ncols=True)
        else:
            self._bar = None

    def on_train_batch_end(self, batch, logs=None):
        self._seen += 1
        self._last_logs = logs or {}
        if self._bar is not None:
            self._bar.update(1)
            self._bar.set_postfix_str(_format_logs(self._last_logs), refresh=False)

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        elapsed = time.perf_counter() - self._start
        steps = self.params.get("steps") or self._seen
        text = _format_logs(logs)
        if self._bar is not None:
            self._bar.set_postfix_str(text, refresh=True)
            self._bar.close()
            self._bar = None
        elif self.verbose == 1:
            width = 30
            bar = "[" + "=" * width + "]"
            print(f"{self._seen}/{steps} {bar} - {_format_duration(elapsed, self._seen)}"
                  + (f" - {text}" if text else ""), file=self._out(), flush=True)
        elif self.verbose == 2:
            print(f"{self._seen}/{steps} - {_format_duration(elapsed, self._seen)}"
                  + (f" - {text}" if text else ""), file=self._out(), flush=True)

    def on_train_end(self, logs=None):
        if self._bar is not None:
            self._bar.close()
            self._bar = None
