"""Side effects that a traced graph keeps: ``tg.print`` (tapegrad/printing.py) prints on
every call of a traced function."""

from tapegrad.printing import print_

__all__ = ["print_"]
