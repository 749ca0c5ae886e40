"""Complex numbers: tg.complex, real, imag, conj, angle and the complex magnitude.

Gradient convention (the user-visible one is PyTorch's and TensorFlow's): for a real
loss L of z = x + iy, ``tape.gradient(L, z)`` is dL/dx + i dL/dy, so ``z - lr * grad``
descends.  Internally every VJP follows JAX's convention, the conjugate of that one
(``g * f'(z)`` for a holomorphic f, plain transposes in matmul/einsum/linalg), because
then the VJPs of holomorphic real ops (multiply, exp, matmul, einsum, inv, solve, FFT
...) are already right for complex values with no change.  The tape conjugates complex
seeds on the way in and complex gradients on the way out (``_tape._conj_complex``), so
the two conventions meet in exactly one place.

The non-holomorphic ops below write their VJPs in that internal convention:
``real``: g -> g + 0i; ``imag``: g -> -i g; ``conj``: g -> conj(g); ``complex(x, y)``:
g -> (Re g, -Im g); ``abs``: g -> g conj(z)/|z| (0 at z = 0); ``angle``: g -> -i g
conj(z)/|z|^2 (0 at z = 0).  Casting complex to real takes the real part (as TF does),
so its gradient is the real cotangent as a complex number.
"""

import numpy as np

from tapegrad import _tape
from tapegrad.ops._registry import COMPLEX, FLOAT, primitive, tensor
from tapegrad.ops.elementwise import (
    abs as abs_,
)
from tapegrad.ops.elementwise import (
    add,
    divide,
    equal,
    maximum,
    multiply,
    negative,
    square,
    stop_gradient,
    where,
    zeros_like,
)

_COMPLEX_OF = {np.dtype(np.float32): np.dtype(np.complex64),
               np.dtype(np.float64): np.dtype(np.complex128)}


def _cdtype(real_dtype):
    return _COMPLEX_OF[np.dtype(real_dtype)]


@primitive("complex", dtypes=FLOAT, save_inputs=False, save_output=False)
def _complex(x, y):
    """x + i y: float32 -> complex64, float64 -> complex128."""
    dt = _COMPLEX_OF.get(x.dtype)
    if dt is None:
        raise TypeError("complex: real and imag must be float32 or float64, got %s"
                        % x.dtype.name)
    out = np.empty(np.broadcast_shapes(x.shape, y.shape), dtype=dt)
    out.real = x
    out.imag = y
    return out


@_complex.defvjp
def _complex_vjp(g, ans, x, y):
    return _real(g), negative(_imag(g))


@_complex.defjvp
def _complex_jvp(t, ans, x, y):
    tx, ty = t
    if tx is None:
        tx = zeros_like(ty)
    if ty is None:
        ty = zeros_like(tx)
    return _complex(tx, ty)


@primitive("real", dtypes=COMPLEX, save_inputs=False, save_output=False)
def _real(z):
    """Real part (float32 for complex64, float64 for complex128)."""
    return np.array(z.real, order="C")  # (ascontiguousarray makes a 0-d input 1-d)


@_real.defvjp
def _real_vjp(g, ans, z):
    return _complex(g, zeros_like(g))


@_real.defjvp
def _real_jvp(t, ans, z):
    return _real(t[0])


@primitive("imag", dtypes=COMPLEX, save_inputs=False, save_output=False)
def _imag(z):
    """Imaginary part."""
    return np.array(z.imag, order="C")  # (ascontiguousarray makes a 0-d input 1-d)


@_imag.defvjp
def _imag_vjp(g, ans, z):
    return _complex(zeros_like(g), negative(g))


@_imag.defjvp
def _imag_jvp(t, ans, z):
    return _imag(t[0])


@primitive("conj", dtypes=COMPLEX, save_inputs=False, save_output=False)
def _conj(z):
    """Complex conjugate."""
    return np.conj(z)


@_conj.defvjp
def _conj_vjp(g, ans, z):
    return _conj(g)


@_conj.defjvp
def _conj_jvp(t, ans, z):
    return _conj(t[0])


def _unit(z, r):
    # z / |z|, and 0 at z == 0
    zero = equal(r, 0)
    safe = where(zero, 1, r)
    return where(zero, zeros_like(z), divide(z, _complex(safe, zeros_like(safe))))


@primitive("complex_abs", dtypes=COMPLEX, save_output=True)
def _cabs(z):
    """|z| (a real tensor)."""
    return np.abs(z)


@_cabs.defvjp
def _cabs_vjp(g, ans, z):
    return multiply(_complex(g, zeros_like(g)), _conj(_unit(z, ans)))


@_cabs.defjvp
def _cabs_jvp(t, ans, z):
    return _real(multiply(_conj(_unit(z, ans)), t[0]))


@primitive("angle", dtypes=COMPLEX, save_output=False)
def _angle(z):
    """Argument of z in (-pi, pi]."""
    return np.angle(z)


def _angle_factor(z):
    # conj(z) / |z|^2, 0 at z == 0.  From z / m with m = max(|Re z|, |Im z|) held
    # constant (the factor is homogeneous of degree -1, so dividing by m afterwards is
    # exact, derivatives included): |z|^2 itself underflows at |z| ~ 1e-160, where the
    # factor came out 0, and overflows at ~1e155
    x, y = _real(z), _imag(z)
    m = stop_gradient(maximum(abs_(x), abs_(y)))
    zero = equal(m, 0)
    m = where(zero, 1, m)
    xs, ys = divide(x, m), divide(y, m)
    r2m = multiply(add(square(xs), square(ys)), m)
    return where(zero, zeros_like(z), _complex(divide(xs, r2m), negative(divide(ys, r2m))))


@_angle.defvjp
def _angle_vjp(g, ans, z):
    # -i g conj(z) / |z|^2
    f = _angle_factor(z)
    return multiply(_complex(zeros_like(g), negative(g)), f)


@_angle.defjvp
def _angle_jvp(t, ans, z):
    return _imag(multiply(_angle_factor(z), t[0]))


# ---------------------------------------------------------------------------
# public functions (real inputs are accepted where TF accepts them)

def complex(real, imag, name=None):  # noqa: A001
    """real + i imag (float32 -> complex64, float64 -> complex128; shapes broadcast)."""
    x = tensor(real, op="complex")
    y = tensor(imag, op="complex")
    if x.dtype != y.dtype:
        raise TypeError("complex: real and imag dtypes differ: %s vs %s"
                        % (x.dtype.name, y.dtype.name))
    return _complex(x, y)


def real(input, name=None):
    """Real part; a real tensor is returned as it is (TF)."""
    z = tensor(input, op="real")
    return _real(z) if z.dtype.kind == "c" else z


def imag(input, name=None):
    """Imaginary part; zeros for a real tensor (TF)."""
    z = tensor(input, op="imag")
    return _imag(z) if z.dtype.kind == "c" else zeros_like(z)


def conj(x, name=None):
    """Complex conjugate; a real tensor is returned as it is (TF)."""
    z = tensor(x, op="conj")
    return _conj(z) if z.dtype.kind == "c" else z


def angle(input, name=None):
    """Argument in (-pi, pi]; for real input 0 or pi (a constant, zero gradient)."""
    z = tensor(input, op="angle")
    if z.dtype.kind == "c":
        return _angle(z)
    from tapegrad.ops.elementwise import less

    return where(less(z, 0), np.pi, zeros_like(z))


def abs(x, name=None):  # noqa: A001
    """|x|: the magnitude (a real tensor) for complex input, elementwise abs otherwise."""
    z = tensor(x, op="abs")
    if z.dtype.kind == "c":
        return _cabs(z)
    from tapegrad.ops.elementwise import abs as real_abs

    return real_abs(z)


def complex_pow(x, y, name=None):
    """``x ** y`` with a complex operand (TF's pow on complex tensors; the operator
    ``**`` comes here): a whole-number constant exponent (one value 0..64) multiplies by
    repeated squaring, exact at x = 0 as NumPy is, and carries no derivative in y;
    any other exponent is exp(y log x) on the principal branch (NumPy's), differentiable
    in both.  Python numbers take the tensor's dtype; two tensors must share one."""
    from tapegrad.ops.elementwise import exp, log, ones_like
    from tapegrad.ops.shape import broadcast_to

    base = x if hasattr(x, "dtype") else None
    dt = next((a.dtype for a in (x, y) if hasattr(a, "dtype") and a.dtype.kind == "c"), None)
    if dt is None:
        raise TypeError("complex_pow: needs a complex operand, got %r and %r" % (x, y))
    x = tensor(x, op="pow") if base is not None else tensor(np.asarray(x, dt), op="pow")
    y = tensor(y, op="pow") if hasattr(y, "dtype") else tensor(np.asarray(y, dt), op="pow")
    if x.dtype != y.dtype:
        raise TypeError("pow: dtypes differ: %s vs %s (use tg.cast to convert)"
                        % (x.dtype.name, y.dtype.name))
    yv = np.asarray(y.numpy())
    shape = np.broadcast_shapes(x.shape, y.shape)
    if yv.size and np.all(yv.imag == 0) and np.all(yv.real == np.round(yv.real)) and \
            yv.real.min() >= 0 and yv.real.max() <= 64 and np.all(yv == yv.flat[0]):
        n = int(yv.real.flat[0])
        out, sq = None, x
        while n:
            if n & 1:
                out = sq if out is None else multiply(out, sq)
            n >>= 1
            if n:
                sq = multiply(sq, sq)
        out = ones_like(x) if out is None else out
        return out if tuple(out.shape) == shape else broadcast_to(out, shape)
    return exp(multiply(y, log(x)))


_tape._set_conj(_conj)


# ---------------------------------------------------------------------------
# rules of the other transforms (tg.jet, tg.vmap, tg.onnx), beside the forwards

def _transform_rules():
    from tapegrad import _core
    from tapegrad.ops import _batching as Bt
    from tapegrad.ops._registry import NotSupported

    reg = _core.registered()
    # complex(x, y), real, imag and conj are linear: Taylor coefficient by coefficient
    reg["complex"].defrule("taylor", lambda x, y: x + 1j * y)
    reg["real"].defrule("taylor", lambda z: z.real.copy())
    reg["imag"].defrule("taylor", lambda z: z.imag.copy())
    reg["conj"].defrule("taylor", np.conj)
    for name in ("complex_abs", "angle"):
        reg[name].defrule("taylor", NotSupported(
            "%s is not holomorphic; no Taylor rule (take real and imaginary parts)" % name))
    for name in ("complex", "real", "imag", "conj", "complex_abs", "angle"):
        reg[name].defrule("batch", Bt.elementwise)
        reg[name].defrule("onnx", NotSupported("ONNX has no complex tensor operators"))


_transform_rules()
