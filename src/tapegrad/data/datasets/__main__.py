"""``python -m tapegrad.data.datasets make-slice DIR``: rebuild the shipped MNIST slice."""

from .mnist import main

main()
