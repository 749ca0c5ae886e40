"""``tapegrad.numpy.fft``: the array API standard's ``fft`` extension (2024.12).

Every transform is one of the three differentiable DFT primitives of ops/fft.py
(complex-to-complex, real-to-complex, complex-to-real over the innermost axes), with
the standard's arguments composed around it: the transformed ``axes`` are moved to the
end and back (transposes), ``n`` / ``s`` crop or zero-pad the input (a slice and a
pad), and ``norm`` is a constant scale.  So gradients of every order flow through all
of them.  ``norm``: ``'backward'`` (forward unscaled, inverse 1/n: the default),
``'ortho'`` (1/sqrt(n) both ways) or ``'forward'`` (forward 1/n, inverse unscaled).

Real floating input to the complex transforms is promoted to the complex dtype of the
same precision (float32 -> complex64), integer input to complex128, as NumPy does.
"""

import builtins
import math

import numpy as np

from tapegrad.numpy import _base as B
from tapegrad.numpy import _functions as F
from tapegrad.ops import elementwise as E
from tapegrad.ops import fft as P
from tapegrad.ops import shape as S
from tapegrad.ops.complex import conj as _conj

__all__ = ["fft", "ifft", "fftn", "ifftn", "rfft", "irfft", "rfftn", "irfftn", "hfft",
           "ihfft", "fftfreq", "rfftfreq", "fftshift", "ifftshift"]

_NORMS = ("backward", "ortho", "forward")
_COMPLEX_OF = {np.dtype(np.float32): np.dtype(np.complex64),
               np.dtype(np.float64): np.dtype(np.complex128)}


def _complex(x, op):
    x = B.as_tensor(x, op=op)
    k = x.dtype.kind
    if k == "c":
        return x
    if k == "f":
        return E.cast(x, _COMPLEX_OF.get(x.dtype, np.dtype(np.complex128)))
    if k in "iu":
        return B.wrap(B.values(x).astype(np.complex128))
    raise TypeError("tapegrad.numpy.fft.%s: expected a numeric input, got %s" % (op, x.dtype))


def _real(x, op):
    x = B.as_tensor(x, op=op)
    k = x.dtype.kind
    if k == "f":
        return x
    if k in "iu":
        return B.cast(x, B.DEFAULT_FLOAT)
    raise TypeError("tapegrad.numpy.fft.%s: expected a real floating input, got %s (use "
                    "fft for complex input)" % (op, x.dtype))


def _check_norm(norm, op):
    if norm not in _NORMS:
        raise ValueError("tapegrad.numpy.fft.%s: norm must be one of %s, got %r"
                         % (op, ", ".join(_NORMS), norm))


def _scale(y, factor):
    if factor == 1:
        return y
    return E.multiply(y, B.wrap(np.asarray(factor, dtype=y.dtype)))


def _factor(norm, n, inverse):
    """The scale the standard asks for on top of the primitive's (the primitive's inverse
    already divides by n, its forward does not)."""
    if norm == "backward":
        return 1
    if norm == "ortho":
        return math.sqrt(n) if inverse else 1 / math.sqrt(n)
    return n if inverse else 1 / n  # "forward"


def _axes_and_sizes(x, s, axes, op, one_d=False):
    """The transformed axes (normalized, unique) and their target sizes (-1 in s: the
    input's size)."""
    nd = x.ndim
    if axes is None:
        axes = list(range(nd)) if s is None else list(range(nd - len(s), nd))
    else:
        axes = [axes] if isinstance(axes, (int, np.integer)) else list(axes)
    try:
        axes = [F._norm_axis(a, nd, op) for a in axes]
    except (ValueError, IndexError, np.exceptions.AxisError):
        raise ValueError("tapegrad.numpy.fft.%s: axes %r out of range for an input of "
                         "shape %s" % (op, axes, x.shape)) from None
    if len(set(axes)) != len(axes):
        raise ValueError("tapegrad.numpy.fft.%s: repeated axes %r" % (op, axes))
    if s is None:
        sizes = [None] * len(axes)
    else:
        s = [s] if isinstance(s, (int, np.integer)) else list(s)
        if len(s) != len(axes):
            raise ValueError("tapegrad.numpy.fft.%s: s (%r) and axes (%r) differ in length"
                             % (op, s, axes))
        sizes = []
        for v in s:
            if isinstance(v, builtins.bool) or not isinstance(v, (int, np.integer)) or \
                    (v < 1 and v != -1):
                raise ValueError("tapegrad.numpy.fft.%s: %s must hold positive ints (or "
                                 "-1), got %r" % (op, "n" if one_d else "s", s))
            sizes.append(None if v == -1 else int(v))
    return axes, sizes


def _to_end(x, axes):
    rest = [i for i in range(x.ndim) if i not in axes]
    perm = rest + list(axes)
    if perm == list(range(x.ndim)):
        return x, None
    return S.transpose(x, perm), perm


def _from_end(y, perm):
    if perm is None:
        return y
    return S.transpose(y, list(np.argsort(perm)))


def _moved(x, s, axes, norm, op, one_d, convert):
    """What every n-dimensional transform starts with: the checks, ``x`` converted, the
    transformed axes moved last.  Returns (x, y, perm, the axes' current lengths, the
    requested sizes (None: keep), axes); y is None when there are no axes."""
    _check_norm(norm, op)
    x = convert(x, op)
    axes, sizes = _axes_and_sizes(x, s, axes, op, one_d)
    if not axes:
        return x, None, None, (), sizes, axes
    y, perm = _to_end(x, axes)
    return x, y, perm, y.shape[-len(axes):], sizes, axes


def _lengths(inner, sizes, x, op):
    lengths = tuple(c if w is None else w for c, w in zip(inner, sizes))
    if 0 in lengths:
        raise ValueError("tapegrad.numpy.fft.%s: cannot transform an axis of length 0 "
                         "(shape %s)" % (op, x.shape))
    return lengths


def _c2c_n(x, s, axes, norm, inverse, op, one_d=False):
    x, y, perm, inner, sizes, axes = _moved(x, s, axes, norm, op, one_d, _complex)
    if y is None:
        return x
    lengths = _lengths(inner, sizes, x, op)
    y = P._fit(y, lengths)
    y = P._c2c(y, rank=len(axes), inverse=inverse)
    y = _scale(y, _factor(norm, int(np.prod(lengths)), inverse))
    return _from_end(y, perm)


def _r2c_n(x, s, axes, norm, op, one_d=False):
    x, y, perm, inner, sizes, axes = _moved(x, s, axes, norm, op, one_d, _real)
    if y is None:
        raise ValueError("tapegrad.numpy.fft.%s: needs at least one axis" % op)
    lengths = _lengths(inner, sizes, x, op)
    y = P._r2c(P._fit(y, lengths), rank=len(axes))
    y = _scale(y, _factor(norm, int(np.prod(lengths)), False))
    return _from_end(y, perm)


def _c2r_n(x, s, axes, norm, op, one_d=False):
    x, y, perm, inner, sizes, axes = _moved(x, s, axes, norm, op, one_d, _complex)
    if y is None:
        raise ValueError("tapegrad.numpy.fft.%s: needs at least one axis" % op)
    lengths = [c if w is None else w for c, w in zip(inner, sizes)]
    if sizes[-1] is None:
        lengths[-1] = 2 * (inner[-1] - 1)
    lengths = tuple(lengths)
    if builtins.min(lengths) < 1:
        raise ValueError("tapegrad.numpy.fft.%s: output length %s is not positive (input "
                         "shape %s); pass %s" % (op, lengths, x.shape, "n" if one_d else "s"))
    y = P._fit(y, lengths[:-1] + (lengths[-1] // 2 + 1,))
    y = P._c2r(y, lengths=lengths)
    y = _scale(y, _factor(norm, int(np.prod(lengths)), True))
    return _from_end(y, perm)


# ---------------------------------------------------------------------------
# the standard's functions

def fft(x, /, *, n=None, axis=-1, norm="backward"):
    """One-dimensional DFT along ``axis``; ``n`` crops or zero-pads that axis first."""
    return _c2c_n(x, None if n is None else [n], [axis], norm, False, "fft", True)


def ifft(x, /, *, n=None, axis=-1, norm="backward"):
    """One-dimensional inverse DFT along ``axis``."""
    return _c2c_n(x, None if n is None else [n], [axis], norm, True, "ifft", True)


def fftn(x, /, *, s=None, axes=None, norm="backward"):
    """n-dimensional DFT over ``axes`` (default: all, or the last len(s))."""
    return _c2c_n(x, s, axes, norm, False, "fftn")


def ifftn(x, /, *, s=None, axes=None, norm="backward"):
    """n-dimensional inverse DFT over ``axes``."""
    return _c2c_n(x, s, axes, norm, True, "ifftn")


def rfft(x, /, *, n=None, axis=-1, norm="backward"):
    """DFT of a real signal along ``axis``: n // 2 + 1 complex bins."""
    return _r2c_n(x, None if n is None else [n], [axis], norm, "rfft", True)


def irfft(x, /, *, n=None, axis=-1, norm="backward"):
    """Inverse of rfft: a real signal of length ``n`` (default 2 * (m - 1)) along axis."""
    return _c2r_n(x, None if n is None else [n], [axis], norm, "irfft", True)


def rfftn(x, /, *, s=None, axes=None, norm="backward"):
    """n-dimensional DFT of a real input; the last of ``axes`` is halved."""
    return _r2c_n(x, s, axes, norm, "rfftn")


def irfftn(x, /, *, s=None, axes=None, norm="backward"):
    """Inverse of rfftn; ``s`` gives the output sizes (default: the input's, the last
    one 2 * (m - 1))."""
    return _c2r_n(x, s, axes, norm, "irfftn")


def hfft(x, /, *, n=None, axis=-1, norm="backward"):
    """DFT of a signal with Hermitian symmetry, given by its first half ``x``: a real
    output of length ``n`` (default 2 * (m - 1)).  It is irfft of conj(x) scaled the
    forward way."""
    _check_norm(norm, "hfft")
    y = _c2r_n(_conj(_complex(x, "hfft")), None if n is None else [n], [axis], "forward",
               "hfft", True)
    length = y.shape[axis]
    return _scale(y, {"backward": 1, "ortho": 1 / math.sqrt(length), "forward": 1 / length}
                  [norm])


def ihfft(x, /, *, n=None, axis=-1, norm="backward"):
    """Inverse of hfft: the first n // 2 + 1 bins of the inverse DFT of a real signal
    (conj of rfft, scaled the inverse way)."""
    _check_norm(norm, "ihfft")
    x = _real(x, "ihfft")
    length = x.shape[axis] if n is None else int(n)
    y = _conj(_r2c_n(x, None if n is None else [n], [axis], "backward", "ihfft", True))
    return _scale(y, {"backward": 1 / length, "ortho": 1 / math.sqrt(length),
                      "forward": 1}[norm])


def _freq_dtype(dtype, op):
    if dtype is None:
        return B.DEFAULT_FLOAT
    dt = B.check_dtype(dtype, op)
    if dt.kind != "f":
        raise TypeError("tapegrad.numpy.fft.%s: dtype must be real floating, got %s"
                        % (op, dt))
    return dt


def fftfreq(n, /, *, d=1.0, dtype=None, device=None):
    """The sample frequencies of an n-point DFT with sample spacing d:
    [0, 1, ..., n/2 - 1, -n/2, ..., -1] / (d n)."""
    F._check_device(device)
    dt = _freq_dtype(dtype, "fftfreq")
    return B.wrap(np.fft.fftfreq(int(n), d=float(d)).astype(dt))


def rfftfreq(n, /, *, d=1.0, dtype=None, device=None):
    """The non-negative sample frequencies of rfft: [0, 1, ..., n // 2] / (d n)."""
    F._check_device(device)
    dt = _freq_dtype(dtype, "rfftfreq")
    return B.wrap(np.fft.rfftfreq(int(n), d=float(d)).astype(dt))


def _shift(x, axes, sign, op):
    x = B.as_tensor(x, op=op)
    if axes is None:
        axes = list(range(x.ndim))
    elif isinstance(axes, (int, np.integer)):
        axes = [axes]
    axes = [F._norm_axis(a, x.ndim, op) for a in axes]
    if not axes:
        return x
    shifts = [sign * (x.shape[a] // 2) for a in axes]
    return F.roll(x, tuple(shifts), axis=tuple(axes))


def fftshift(x, /, *, axes=None):
    """The zero-frequency bin moved to the centre (a roll by n // 2 on each axis)."""
    return _shift(x, axes, 1, "fftshift")


def ifftshift(x, /, *, axes=None):
    """The inverse of fftshift (a roll by -(n // 2))."""
    return _shift(x, axes, -1, "ifftshift")
