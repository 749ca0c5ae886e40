"""Ready-made datasets (``tg.datasets``)."""

from . import mnist

__all__ = ["mnist"]
