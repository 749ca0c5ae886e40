"""``tg.config``: runtime settings, under TensorFlow's names (``tf.config.threading``)."""

from tapegrad.config import threading

__all__ = ["threading"]
