"""Jacobians and Hessians: tg.jacobian / jacrev / jacfwd, tg.hessian, tg.hvp, and the
work behind GradientTape.jacobian / batch_jacobian (tape_jacobians.py, which tape.py
imports without importing this module).

Cost model.  From the second call with an argument signature on, when no tape
records and nothing traces, ``jacobian`` of one argument with one floating output is
one ``vmap`` of the VJP over the output basis ("rev") or of the JVP over the input
basis ("fwd"), with the basis kept as diagonals while the ops allow
(autodiff/_basis.py; docs/architecture.md §3.5); ``hessian`` of a vector argument
likewise maps the second-order backward pass.
Otherwise (first call, under a tape, several arguments or outputs, ``has_aux``,
``max_bytes``, a function that cannot be traced or batched) the row loop runs: one
backward pass per output element (reverse mode) or per input element (forward mode),
but the function itself runs once: every pass replays the same recording
(``_tape.imperative_grad`` on one persistent tape, or forward.py's ``ForwardPlan``
over its records).  ``mode="auto"`` picks the side with fewer passes.  Where the
structure allows better, it is used: ``batch_jacobian`` of a per-example function seeds
feature ``j`` of *every* example at once, so it costs one pass per output feature, not
per (example, feature).

Memory.  Rows are written into the result as they are produced.  When no tape is
recording around the call the result is one preallocated array (result + one row
of peak memory); under an outer tape (a Jacobian differentiated again) rows are
stacked with tapegrad ops so the result stays differentiable.  ``max_bytes`` bounds
the rows held at once: they are stacked in chunks of at most ``max_bytes`` and a
single row larger than the budget is a ValueError.

Complex numbers.  A real output's row with respect to a complex input z = x + iy is
its gradient in the tape's convention, dy/dx + i dy/dy (what ``tg.grad`` returns), so
``jacobian`` of a real scalar function is its gradient; forward mode pushes the
tangents 1 and i per input element.  A complex output has a Jacobian only when the
function is holomorphic (``holomorphic=True``, JAX's flag): dy/dz, with complex inputs.
Anything else (a complex output of a non-holomorphic function, the Hessian of a real
function of complex inputs, which is a real 2N x 2N matrix, not a complex N x N one) is
a TypeError saying to split the complex values with ``tg.real``/``tg.imag``/
``tg.complex``.
"""

import functools
import math
import weakref

import numpy as np

from tapegrad import _core
from tapegrad.autodiff import nest
from tapegrad.autodiff._args import as_tensor as _tensor
from tapegrad.autodiff.forward import ForwardPlan, _fresh
from tapegrad.autodiff.tape import GradientTape
from tapegrad.autodiff.tape_jacobians import _backward, _collect, _recording, _seed, _zeros

# ---------------------------------------------------------------------------
# function transformations

def _argnums(argnums, nargs, what):
    single = isinstance(argnums, (int, np.integer))
    nums = (int(argnums),) if single else tuple(int(a) for a in argnums)
    if not nums:
        raise ValueError("%s: argnums is empty" % what)
    for i in nums:
        if not -nargs <= i < nargs:
            raise ValueError("%s: argnums %d but the function got %d positional arguments"
                             % (what, i, nargs))
    return single, tuple(i % nargs for i in nums)


_SPLIT = ("split complex values into parts: differentiate lambda x, y: "
          "f(tg.complex(x, y)) with respect to x and y, or take tg.real/tg.imag of "
          "the output")


def _prepare(args, nums, what, holomorphic=False):
    """Fresh recorded copies of the differentiated arguments, and their flat leaves."""
    args = list(args)
    leaves = []
    for i in nums:
        arg_leaves = [_fresh(_tensor(x, what)) for x in nest.flatten(args[i])]
        for x in arg_leaves:
            if x.dtype.kind not in "fc":
                raise TypeError("%s: argument %d has dtype %s; only floating-point or "
                                "complex arguments can be differentiated"
                                % (what, i, x.dtype.name))
            if holomorphic and x.dtype.kind != "c":
                raise TypeError("%s: holomorphic=True needs complex arguments, argument %d "
                                "has dtype %s" % (what, i, x.dtype.name))
        args[i] = arg_leaves[0] if not nest._is_seq(args[i]) else \
            nest.pack_sequence_as(args[i], arg_leaves)
        leaves.append(arg_leaves)
    return args, leaves


def _check_outputs(out, holomorphic, what):
    for k, y in enumerate(out):
        if y.dtype.kind == "c" and not holomorphic:
            raise TypeError("%s: output %d is %s; the Jacobian of a complex output is "
                            "defined for holomorphic functions only (pass holomorphic=True "
                            "for dy/dz), otherwise %s" % (what, k, y.dtype.name, _SPLIT))
        if holomorphic and y.dtype.kind == "f":
            raise TypeError("%s: holomorphic=True needs complex outputs, output %d is %s "
                            "(a real function of z is not holomorphic)"
                            % (what, k, y.dtype.name))


def _conj_rows(rows):
    from tapegrad.ops.complex import _conj

    return [None if r is None else _conj(r) for r in rows]


def _rev_blocks(tape, out, sources, max_bytes, what):
    """[[d out_i / d source_k] per source] per output, each out_i.shape + source.shape."""
    from tapegrad.ops.shape import reshape

    ids = [[s._id] for s in sources]
    blocks = [(s.shape, s) for s in sources]
    result = []
    for y in out:
        if y.dtype.kind not in "fc":
            got = [_zeros((y.size,) + s.shape, s) for s in sources]
        else:
            # a holomorphic output's seed 1 comes back as conj(dy/dz) (the tape's
            # convention conjugates complex gradients): conjugate the rows back
            fix = _conj_rows if y.dtype.kind == "c" else (lambda rows: rows)
            got = _collect(y.size,
                           lambda i, y=y, fix=fix: fix(_backward(tape._core, [y], [_seed(y, i)],
                                                                 ids)),
                           blocks, True, max_bytes, what)
        result.append([reshape(g, y.shape + s.shape) for g, s in zip(got, sources)])
    return result


def _fwd_blocks(tape, out, sources, max_bytes, what):
    """The same blocks, one tangent pushed over the recording per source element (two,
    1 and i, for a complex source of real outputs)."""
    from tapegrad.ops.complex import _complex
    from tapegrad.ops.shape import reshape, transpose

    result = [[None] * len(sources) for _ in out]
    float_out = [y if y.dtype.kind in "fc" else None for y in out]
    plan = ForwardPlan(tape._core, [y for y in float_out if y is not None])

    def column(s, j):
        tans = iter(plan.push({s._id: _seed(s, j)}))
        col = [None if y is None else next(tans) for y in float_out]
        if s.dtype.kind != "c" or all(y is None or y.dtype.kind == "c" for y in float_out):
            return col
        # real outputs of a complex source: dy/dx_j + i dy/dy_j (the gradient convention)
        tans = iter(plan.push({s._id: _seed(s, j, 1j)}))
        im = [None if y is None else next(tans) for y in float_out]
        return [c if y is None or y.dtype.kind == "c" else
                _complex(_zeros(y.shape, y) if c is None else c,
                         _zeros(y.shape, y) if d is None else d)
                for y, c, d in zip(float_out, col, im)]

    for k, s in enumerate(sources):
        blocks = [(y.shape, s if s.dtype.kind == "c" or y.dtype.kind not in "fc" else y)
                  for y in out]
        got = _collect(s.size, lambda j, s=s: column(s, j), blocks, True, max_bytes, what)
        for i, (y, g) in enumerate(zip(out, got)):
            # [s.size, *y.shape] -> [*y.shape, s.size] -> y.shape + s.shape
            perm = tuple(range(1, g.ndim)) + (0,)
            g = transpose(g, perm) if g.ndim > 1 else g
            result[i][k] = reshape(g, y.shape + s.shape)
    return result


def jacobian(f, argnums=0, mode="rev", max_bytes=None, has_aux=False, holomorphic=False):
    """JAX-style Jacobian: ``tg.jacobian(f)(x)`` has shape ``out.shape + x.shape``.

    ``mode`` is "rev" (one backward pass per output element), "fwd" (one pushed tangent
    per input element) or "auto" (whichever needs fewer passes).  Outputs may be nested
    structures; with a tuple ``argnums`` each output's entry is a tuple of Jacobians, one
    per argument; a nested argument gives a Jacobian per leaf in its structure.
    Unconnected entries are zeros.  ``max_bytes`` bounds the rows held at once (see the
    module docstring).  With ``has_aux``, ``f`` returns ``(out, aux)`` and the result is
    ``(jacobian, aux)``.  Complex inputs: a real output's rows are its gradients
    (dy/dx + i dy/dy); complex outputs need ``holomorphic=True`` (dy/dz, complex
    inputs), see the module docstring.
    """
    if mode not in ("rev", "fwd", "auto"):
        raise ValueError("jacobian: mode must be 'rev', 'fwd' or 'auto', got %r" % (mode,))
    what = "jacobian(mode=%r)" % mode

    @functools.wraps(f)
    def jac_fn(*args, **kwargs):
        fast = not kwargs and not has_aux and not holomorphic and max_bytes is None and \
            isinstance(argnums, (int, np.integer)) and _structured_ok()
        if fast:
            got = _jacobian_by_vmap(f, int(argnums), args, mode)
            if got is not None:
                return got
            call_args = args
        single, nums = _argnums(argnums, len(args), "jacobian")
        args, leaves = _prepare(args, nums, "jacobian", holomorphic)
        sources = [x for group in leaves for x in group]
        tape = GradientTape(persistent=True, watch_accessed_variables=False)
        with tape:
            tape.watch(sources)
            res = f(*args, **kwargs)
        if has_aux:
            if not (isinstance(res, (tuple, list)) and len(res) == 2):
                raise ValueError("jacobian(has_aux=True): the function must return "
                                 "(out, aux)")
            res, aux = res
        if fast:
            _remember_output(f, int(argnums), call_args, res)
        out = [_tensor(y, "jacobian") for y in nest.flatten(res)]
        _check_outputs(out, holomorphic, "jacobian")
        use = mode
        if mode == "auto":
            use = "fwd" if sum(s.size for s in sources) < sum(y.size for y in out) else "rev"
        try:
            if use == "rev":
                blocks = _rev_blocks(tape, out, sources, max_bytes, what)
            else:
                blocks = _fwd_blocks(tape, out, sources, max_bytes, what)
        finally:
            tape._core.release()
        per_out = []
        for row in blocks:
            it = iter(row)
            per_arg = [nest.pack_sequence_as(args[i], [next(it) for _ in group])
                       for i, group in zip(nums, leaves)]
            per_out.append(per_arg[0] if single else tuple(per_arg))
        jac = nest.pack_sequence_as(res, per_out)
        return (jac, aux) if has_aux else jac

    return jac_fn


_JAC_ROWS = weakref.WeakKeyDictionary()
_JAC_VMAP_BYTES = 1 << 28       # a vmap batch bound (256 MiB) below which size is no concern


class _JacRows:
    """What the vmap path of ``jacobian`` keeps per function and argument: the VJP row
    and JVP column functions (their traces are reused) and the output shape and dtype
    that the row loop saw for each argument signature (f itself is never traced)."""

    def __init__(self, f, argnums, cells):
        from tapegrad.autodiff.forward import jvp
        from tapegrad.ops.shape import reshape

        fref = weakref.ref(f)    # f only weakly: the row functions live in trace caches

        def vjp_row(u, *args):
            x = args[argnums]
            with GradientTape(watch_accessed_variables=False) as tape:
                tape.watch(x)
                y = fref()(*args)
            return tape.gradient(y, x, output_gradients=reshape(u, y.shape))

        def jvp_col(t, *args):
            args = list(args)
            x = args[argnums]

            def g(v):
                args[argnums] = v
                return fref()(*args)

            return jvp(g, [x], [reshape(t, x.shape)])[1]

        self.vjp_row, self.jvp_col = vjp_row, jvp_col
        # the closure's objects are held so that their ids (the cache key) stay theirs
        self.cells = tuple(c.cell_contents for c in cells)
        self.outputs = {}


def _jacobian_rows(f, argnums):
    """``f``'s _JacRows for ``argnums`` and its closure's current objects (created on
    first use), or None when f cannot be cached."""
    # the traces are reused like tg.function's: a closure rebound to other objects
    # (another tensor, another Python number) gets new ones
    cells = getattr(f, "__closure__", None) or ()
    try:
        key = (argnums,) + tuple(id(c.cell_contents) for c in cells)
        entry = _JAC_ROWS.get(f, {}).get(key)
    except (ValueError, TypeError):     # an empty cell; f not weakly referenceable
        return None
    if entry is None:
        entry = _JacRows(f, argnums, cells)
        rows = {k: v for k, v in _JAC_ROWS.get(f, {}).items() if k[0] != argnums}
        rows[key] = entry
        _JAC_ROWS[f] = rows
    return entry


def _signature(args):
    """A hashable description of a call's arguments (shapes and dtypes of tensors, the
    values of Python scalars), or None."""
    sig = []
    for a in args:
        if isinstance(a, _core.Tensor):
            sig.append((tuple(a.shape), a.dtype.str))
        elif a is None or type(a) in (int, float, bool, str):
            sig.append((type(a), a))
        else:
            return None
    return tuple(sig)


def _remember_output(f, argnums, args, res):
    """After a row-loop call: the output's shape and dtype for this signature, which
    lets the next call take the vmap path."""
    entry = _jacobian_rows(f, argnums)
    sig = _signature(args)
    if entry is None or sig is None or not isinstance(res, _core.Tensor) or \
            sig in entry.outputs:
        return
    if len(entry.outputs) >= 16:
        entry.outputs.pop(next(iter(entry.outputs)))
    entry.outputs[sig] = (tuple(res.shape), res.dtype)


def _jacobian_by_vmap(f, argnums, args, mode):
    """The Jacobian of a single-tensor ``f`` in one argument by ``map_basis`` (vmap over
    an identity basis kept as diagonals): VJPs over the output basis ("rev") or JVPs
    over the input basis ("fwd"); None where this does not apply (then the row loop):
    the first call with a signature, several or non-floating outputs."""
    from tapegrad.autodiff.vmap import map_basis
    from tapegrad.ops.shape import reshape, transpose

    if not 0 <= argnums < len(args):
        return None
    entry = _jacobian_rows(f, argnums)
    sig = _signature(args)
    if entry is None or sig is None:
        return None
    out = entry.outputs.get(sig)
    if out is None or out[1].kind != "f":      # unseen signature, or not for this path
        return None
    args = [_tensor(a, "jacobian") for a in args]
    x = args[argnums]
    if x.dtype.kind != "f":
        return None
    yshape = out[0]
    m, n = math.prod(yshape), math.prod(x.shape)
    use = mode if mode != "auto" else ("fwd" if n < m else "rev")
    # the row loop holds one row at a time: where the batch's intermediates could hold
    # far more than the result, it is the safer way
    limit = max(_JAC_VMAP_BYTES, 4 * m * n * x.dtype.itemsize)
    try:
        if use == "rev":
            got, _ = map_basis(entry.vjp_row, 0, [None] + args, m, x.dtype, limit)
            if got is None:
                return None
            return reshape(got[0], yshape + tuple(x.shape))
        got, _ = map_basis(entry.jvp_col, 0, [None] + args, n, x.dtype, limit)
        if got is None:
            return None
        cols = got[0]                         # (n, *y.shape)
        if len(cols.shape) > 1:
            cols = transpose(cols, tuple(range(1, len(cols.shape))) + (0,))
        return reshape(cols, yshape + tuple(x.shape))
    except Exception:   # noqa: BLE001 - not traceable or not batchable: the row loop
        entry.outputs[sig] = (yshape, np.dtype("O"))    # runs it now and from now on,
        return None                                     # raising what is really wrong


def jacrev(f, argnums=0, max_bytes=None, has_aux=False, holomorphic=False):
    """Reverse-mode Jacobian (``jacobian(f, argnums, mode="rev")``)."""
    return jacobian(f, argnums, mode="rev", max_bytes=max_bytes, has_aux=has_aux,
                    holomorphic=holomorphic)


def jacfwd(f, argnums=0, max_bytes=None, has_aux=False, holomorphic=False):
    """Forward-mode Jacobian (``jacobian(f, argnums, mode="fwd")``)."""
    return jacobian(f, argnums, mode="fwd", max_bytes=max_bytes, has_aux=has_aux,
                    holomorphic=holomorphic)


def hessian(f, argnums=0, max_bytes=None):
    """Hessian of a scalar function.

    Shape ``x.shape + x.shape``; with a tuple ``argnums``, a tuple of tuples of blocks
    ``d2f / dx_i dx_j``.  For one argument the rows are computed together: the
    second-order backward pass is mapped over the basis vectors with ``tg.vmap`` (the
    forward and first backward run once); a function vmap cannot batch, a tuple
    ``argnums`` or ``max_bytes`` use forward-over-reverse columns (``jacfwd(grad(f))``).

    A complex argument is a TypeError: the Hessian of a real function of z = x + iy is
    the real 2N x 2N matrix of x and y, which a complex N x N array cannot hold; take it
    of ``lambda x, y: f(tg.complex(x, y))`` with ``argnums=(0, 1)`` (or use ``tg.hvp``,
    which takes complex tangents).
    """
    from tapegrad.autodiff.functional import grad

    fallback_ = jacobian(grad(f, argnums), argnums, mode="fwd", max_bytes=max_bytes)

    @functools.wraps(f)
    def fallback(*args, **kwargs):
        nums = argnums if isinstance(argnums, (tuple, list)) else (argnums,)
        for i in nums:
            for x in nest.flatten(args[i]) if -len(args) <= i < len(args) else ():
                x = _tensor(x, "hessian")
                if x.dtype.kind == "c":
                    raise TypeError(
                        "hessian: argument %d is %s; the Hessian of a real function of "
                        "complex z = x + iy is a real 2N x 2N matrix, not a complex N x N "
                        "one: take hessian(lambda x, y: f(tg.complex(x, y)), argnums=(0, 1)) "
                        "or use tg.hvp with a complex tangent" % (i, x.dtype.name))
        return fallback_(*args, **kwargs)

    if isinstance(argnums, (tuple, list)) or max_bytes is not None:
        return fallback

    def hess_fn(*args, **kwargs):
        if kwargs or not 0 <= argnums < len(args) or _recording():
            return fallback(*args, **kwargs)
        try:
            return _hessian_by_vmap(f, argnums, args)
        except (TypeError, ValueError) as e:
            from tapegrad.autodiff.vmap import BatchingError

            if isinstance(e, BatchingError):
                return fallback(*args)
            raise

    return hess_fn


_HESSIAN_ROWS = weakref.WeakKeyDictionary()


def _hessian_rows(f, argnums):
    """d/dx <grad f(x), v>: one Hessian row per basis vector v (cached per f, so the
    vmapped trace is reused)."""
    from tapegrad.autodiff.tape import GradientTape
    from tapegrad.ops.elementwise import multiply
    from tapegrad.ops.reductions import reduce_sum

    try:
        cached = _HESSIAN_ROWS.get(f, {}).get(argnums)
    except TypeError:
        cached = None
    if cached is not None:
        return cached
    # f only weakly: row is the value of f's own weak-keyed cache entry
    try:
        fref = weakref.ref(f)
    except TypeError:
        def fref():
            return f

    def row(v, *args):
        x = args[argnums]
        with GradientTape() as outer:
            outer.watch(x)
            with GradientTape() as inner:
                inner.watch(x)
                y = fref()(*args)
            if not isinstance(y, _core.Tensor) or tuple(y.shape) != ():
                raise ValueError("hessian: the function must return a scalar, got %s"
                                 % (("shape %s" % (tuple(y.shape),)) if isinstance(
                                     y, _core.Tensor) else type(y).__name__))
            # zeros where y does not depend on x, as tg.grad and tg.jacobian give
            g = inner.gradient(y, x, unconnected_gradients="zero")
            s = reduce_sum(multiply(g, v))
        return outer.gradient(s, x, unconnected_gradients="zero")

    try:
        _HESSIAN_ROWS.setdefault(f, {})[argnums] = row
    except TypeError:
        pass
    return row


def _hessian_by_vmap(f, argnums, args):
    from tapegrad.autodiff.vmap import map_basis, vmap
    from tapegrad.ops.creation import eye
    from tapegrad.ops.shape import reshape

    args = [_tensor(a, "hessian") for a in args]
    x = args[argnums]
    if x.dtype.kind == "c":
        raise TypeError("hessian: argument %d is %s; the Hessian of a real function of "
                        "complex z = x + iy is a real 2N x 2N matrix, not a complex N x N "
                        "one: take hessian(lambda x, y: f(tg.complex(x, y)), argnums=(0, 1)) "
                        "or use tg.hvp with a complex tangent" % (argnums, x.dtype.name))
    if x.dtype.kind != "f":
        raise TypeError("hessian: argument %d has dtype %s; only floating-point arguments "
                        "can be differentiated" % (argnums, x.dtype.name))
    n = math.prod(x.shape)
    row = _hessian_rows(f, argnums)
    if len(x.shape) == 1 and _structured_ok():
        # the basis kept as diagonals while the ops allow (autodiff/_basis.py)
        got, _ = map_basis(row, 0, [None] + args, n, x.dtype)
        if got is not None:
            return got[0]           # (n, n) already
    basis = reshape(eye(n, dtype=x.dtype), (n,) + tuple(x.shape))
    rows = vmap(row, in_axes=(0,) + (None,) * len(args))(basis, *args)
    if rows is None:
        raise ValueError("hessian: the function does not depend on argument %d" % argnums)
    return reshape(rows, tuple(x.shape) + tuple(x.shape))


def _structured_ok():
    """Whether results may skip differentiability (autodiff/_basis.py materializes
    with NumPy): no tape records and no tg.function traces."""
    return not _recording() and _core._get_tracer() is None


def hvp(f, primals, tangents):
    """Hessian-vector product ``H(x) @ v`` of a scalar ``f`` without forming ``H``.

    ``primals`` is a tensor (``f(x)``) or a list/tuple of tensors (``f(*primals)``);
    ``tangents`` has the same structure, and so does the result.  Forward-over-reverse:
    the tangent of ``grad f`` along ``v`` (one recorded gradient, one forward push),
    the same scheme as ``hessian``; differentiable again under outer tapes.

    Complex primals: ``v`` is a complex tangent and the result is the derivative of the
    gradient (dy/dx + i dy/dy) along it, i.e. the real 2N x 2N Hessian of (x, y) applied
    to (Re v, Im v), packed back as complex.
    """
    from tapegrad.autodiff.forward import jvp
    from tapegrad.autodiff.functional import grad

    multi = isinstance(primals, (list, tuple))
    xs = list(primals) if multi else [primals]
    vs = list(tangents) if multi and isinstance(tangents, (list, tuple)) else [tangents]
    if len(vs) != len(xs):
        raise ValueError("hvp: got %d tangents for %d primals" % (len(vs), len(xs)))
    xs = [_tensor(x, "hvp") for x in xs]
    for k, x in enumerate(xs):
        if x.dtype.kind not in "fc":
            raise TypeError("hvp: primal %d has dtype %s; only floating-point or complex "
                            "primals can be differentiated" % (k, x.dtype.name))
    _, hv = _jvp_named(jvp, grad(f, argnums=tuple(range(len(xs)))), xs, vs)
    return list(hv) if isinstance(primals, list) else tuple(hv) if multi else hv[0]


def _jvp_named(jvp, fn, xs, vs):
    # errors about tangents should name hvp, not the jvp it runs
    try:
        return jvp(fn, xs, vs)
    except (TypeError, ValueError) as e:
        msg = str(e)
        if msg.startswith("jvp:"):
            raise type(e)("hvp:" + msg[4:]) from None
        raise
