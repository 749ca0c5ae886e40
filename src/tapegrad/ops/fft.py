"""Discrete Fourier transforms over the innermost 1, 2 or 3 axes (TF's ``tf.signal``).

Kernels are ``numpy.fft`` (pocketfft: no BLAS, no thread pool).  Three primitives:
complex-to-complex (``fft_c2c``, forward or inverse), real-to-complex (``fft_r2c``) and
complex-to-real (``fft_c2r``).  All are linear, so their JVPs are the same transform of
the tangent; their VJPs are transposes in the engine's internal complex convention
(ops/complex.py): the DFT matrix is symmetric, so the transpose of fft is fft; rfft's is
the real part of an fft of the zero-padded cotangent; irfft's is JAX's: conj(rfft(g))
scaled by 1/N, with the weight 2 on the bins that stand for two conjugate frequencies.
"""

import numpy as np

from tapegrad.ops._registry import COMPLEX, FLOAT, primitive, tensor
from tapegrad.ops.complex import _cdtype, _conj, _real
from tapegrad.ops.creation import constant
from tapegrad.ops.elementwise import multiply
from tapegrad.ops.indexing import pad
from tapegrad.ops.shape import _fmt, concat

_REAL_OF = {np.dtype(np.complex64): np.dtype(np.float32),
            np.dtype(np.complex128): np.dtype(np.float64)}


def _axes(rank):
    return tuple(range(-rank, 0))


@primitive("fft_c2c", dtypes=COMPLEX, save_inputs=False, save_output=False)
def _c2c(x, rank, inverse):
    """n-dimensional (i)DFT over the last ``rank`` axes (np.fft.fftn / ifftn)."""
    if rank == 1:  # the 1-D functions skip fftn's axes bookkeeping (small signals)
        out = np.fft.ifft(x) if inverse else np.fft.fft(x)
    else:
        out = (np.fft.ifftn if inverse else np.fft.fftn)(x, axes=_axes(rank))
    return out.astype(x.dtype, copy=False)


@_c2c.defvjp
def _c2c_vjp(g, ans, x, rank, inverse):
    return _c2c(g, rank=rank, inverse=inverse)


@_c2c.defjvp
def _c2c_jvp(t, ans, x, rank, inverse):
    return _c2c(t[0], rank=rank, inverse=inverse)


@primitive("fft_r2c", dtypes=FLOAT, save_inputs=False, save_output=False)
def _r2c(x, rank):
    """Real-input DFT over the last ``rank`` axes: [..., n] -> [..., n // 2 + 1]."""
    out = np.fft.rfft(x) if rank == 1 else np.fft.rfftn(x, axes=_axes(rank))
    return out.astype(_cdtype(x.dtype), copy=False)


def _pad_last(g, n_full):
    extra = n_full - g.shape[-1]
    if extra <= 0:
        return g
    return concat([g, constant(np.zeros(tuple(g.shape[:-1]) + (extra,), dtype=g.dtype))],
                  axis=-1)


@_r2c.defvjp
def _r2c_vjp(g, ans, x, rank):
    return _real(_c2c(_pad_last(g, x.shape[-1]), rank=rank, inverse=False))


@_r2c.defjvp
def _r2c_jvp(t, ans, x, rank):
    return _r2c(t[0], rank=rank)


@primitive("fft_c2r", dtypes=COMPLEX, save_inputs=False, save_output=False)
def _c2r(y, lengths):
    """Inverse of rfft over the last len(lengths) axes: [..., n // 2 + 1] -> [..., n]
    (np.fft.irfftn; the imaginary parts of the self-conjugate bins are ignored)."""
    if len(lengths) == 1:
        out = np.fft.irfft(y, n=lengths[0])
    else:
        out = np.fft.irfftn(y, s=lengths, axes=_axes(len(lengths)))
    return out.astype(_REAL_OF[y.dtype], copy=False)


def _c2r_weights(lengths, dtype):
    n = lengths[-1]
    h = n // 2 + 1
    w = np.full(h, 2.0)
    w[0] = 1.0
    if n % 2 == 0:
        w[-1] = 1.0
    return constant((w / float(np.prod(lengths))).astype(dtype))


@_c2r.defvjp
def _c2r_vjp(g, ans, y, lengths):
    x = _r2c(g, rank=len(lengths))
    return _conj(multiply(x, _c2r_weights(lengths, y.dtype)))


@_c2r.defjvp
def _c2r_jvp(t, ans, y, lengths):
    return _c2r(t[0], lengths=lengths)


# ---------------------------------------------------------------------------
# public API (TF signatures)

def _need_rank(x, rank, op):
    if x.ndim < rank:
        raise ValueError("%s: needs rank >= %d (the transform runs over the innermost %d "
                         "axes), got shape %s" % (op, rank, rank, _fmt(x.shape)))


def _complex_input(x, rank, op):
    x = tensor(x, op=op)
    if x.dtype.kind != "c":
        raise TypeError("%s: expected complex64 or complex128 input, got %s (cast with "
                        "tg.cast(x, tg.complex64), or use rfft for real input)"
                        % (op, x.dtype.name))
    _need_rank(x, rank, op)
    return x


def _lengths(fft_length, rank, op, default):
    if fft_length is None:
        return default
    if hasattr(fft_length, "numpy"):
        fft_length = np.asarray(fft_length.numpy()).tolist()
    if isinstance(fft_length, (int, np.integer)):
        fft_length = [fft_length]
    vals = list(fft_length)
    if len(vals) != rank or any(isinstance(v, bool) or not isinstance(v, (int, np.integer))
                                or v < 1 for v in vals):
        raise ValueError("%s: fft_length must be %d positive ints, got %r"
                         % (op, rank, fft_length))
    return tuple(int(v) for v in vals)


def _fit(x, sizes):
    """Crop or zero-pad the last len(sizes) axes of x to ``sizes`` (differentiable)."""
    rank = len(sizes)
    cur = tuple(x.shape[-rank:])
    if cur == tuple(sizes):
        return x
    key = (Ellipsis,) + tuple(slice(0, min(c, s)) for c, s in zip(cur, sizes))
    x = x[key]
    pads = [[0, 0]] * (x.ndim - rank) + [[0, max(0, s - c)] for c, s in zip(cur, sizes)]
    if any(p[1] for p in pads):
        x = pad(x, pads)
    return x


def _c2c_public(rank, inverse, name):
    def op(input, name=None):
        x = _complex_input(input, rank, name_)
        return _c2c(x, rank=rank, inverse=inverse)

    name_ = name
    op.__name__ = name
    op.__doc__ = ("%s-dimensional %sDFT over the innermost %d axis(es) of a complex tensor%s."
                  % (rank, "inverse " if inverse else "", rank,
                     " (scaled by 1/N, so ifft(fft(x)) == x)" if inverse else " (unscaled)"))
    return op


fft = _c2c_public(1, False, "fft")
ifft = _c2c_public(1, True, "ifft")
fft2d = _c2c_public(2, False, "fft2d")
ifft2d = _c2c_public(2, True, "ifft2d")
fft3d = _c2c_public(3, False, "fft3d")
ifft3d = _c2c_public(3, True, "ifft3d")


def _rfft_n(input_tensor, fft_length, rank, op):
    x = tensor(input_tensor, op=op)
    if x.dtype.kind != "f" or x.dtype.itemsize < 4:
        raise TypeError("%s: expected float32 or float64 input, got %s" % (op, x.dtype.name))
    _need_rank(x, rank, op)
    lengths = _lengths(fft_length, rank, op, tuple(x.shape[-rank:]))
    return _r2c(_fit(x, lengths), rank=rank)


def _irfft_n(input_tensor, fft_length, rank, op):
    y = _complex_input(input_tensor, rank, op)
    inner = tuple(y.shape[-rank:])
    default = inner[:-1] + (2 * (inner[-1] - 1),)
    lengths = _lengths(fft_length, rank, op, default)
    if lengths[-1] < 1:
        raise ValueError("%s: cannot infer fft_length from an innermost dimension of %d; "
                         "pass fft_length" % (op, inner[-1]))
    sizes = lengths[:-1] + (lengths[-1] // 2 + 1,)
    return _c2r(_fit(y, sizes), lengths=lengths)


def rfft(input_tensor, fft_length=None, name=None):
    """DFT of a real signal over the innermost axis: [..., n] -> [..., n // 2 + 1] complex
    (fft_length crops or zero-pads the signal first)."""
    return _rfft_n(input_tensor, fft_length, 1, "rfft")


def irfft(input_tensor, fft_length=None, name=None):
    """Inverse of rfft: [..., n // 2 + 1] complex -> [..., n] real; n defaults to
    2 * (inner - 1).  The imaginary parts of the DC and Nyquist bins are ignored."""
    return _irfft_n(input_tensor, fft_length, 1, "irfft")


def rfft2d(input_tensor, fft_length=None, name=None):
    """2-D real-input DFT over the innermost two axes."""
    return _rfft_n(input_tensor, fft_length, 2, "rfft2d")


def irfft2d(input_tensor, fft_length=None, name=None):
    """Inverse of rfft2d."""
    return _irfft_n(input_tensor, fft_length, 2, "irfft2d")


def rfft3d(input_tensor, fft_length=None, name=None):
    """3-D real-input DFT over the innermost three axes."""
    return _rfft_n(input_tensor, fft_length, 3, "rfft3d")


def irfft3d(input_tensor, fft_length=None, name=None):
    """Inverse of rfft3d."""
    return _irfft_n(input_tensor, fft_length, 3, "irfft3d")


# ---------------------------------------------------------------------------
# rules of the other transforms: the DFTs are linear and map over leading axes

def _transform_rules():
    from tapegrad import _core
    from tapegrad.ops import _batching as Bt
    from tapegrad.ops._registry import NotSupported

    reg = _core.registered()

    def linear(forward):
        def rule(x, **params):
            return np.stack([forward(x[k], **params) for k in range(x.shape[0])])

        return rule

    for name in ("fft_c2c", "fft_r2c", "fft_c2r"):
        reg[name].defrule("taylor", linear(reg[name].cpu))
        reg[name].defrule("batch", Bt.leading)
        reg[name].defrule("onnx", NotSupported("complex FFTs are not exported (ONNX's DFT "
                                               "has no complex tensors)"))


_transform_rules()
