"""``tg.signal`` (TF's ``tf.signal``, formerly ``tf.spectral``): discrete Fourier
transforms over the innermost axes.  A namespace only; the ops live in ops/fft.py."""

from tapegrad.ops.fft import (
    fft,
    fft2d,
    fft3d,
    ifft,
    ifft2d,
    ifft3d,
    irfft,
    irfft2d,
    irfft3d,
    rfft,
    rfft2d,
    rfft3d,
)

__all__ = ["fft", "ifft", "fft2d", "ifft2d", "fft3d", "ifft3d", "rfft", "irfft", "rfft2d",
           "irfft2d", "rfft3d", "irfft3d"]
