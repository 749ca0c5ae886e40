"""check_grads: compare autodiff derivatives with float64 central differences."""

import numpy as np

from tapegrad import _core
from tapegrad.autodiff.tape import GradientTape


def _f64(x):
    arr = np.asarray(x.numpy() if isinstance(x, (_core.Tensor, _core.BaseVariable)) else x)
    return arr.astype(np.float64) if arr.dtype.kind == "f" else arr


def _inner(outs, us):
    from tapegrad.ops.elementwise import add_n, multiply
    from tapegrad.ops.reductions import reduce_sum

    return add_n([reduce_sum(multiply(o, u)) for o, u in zip(outs, us)])


def _as_list(out):
    return list(out) if isinstance(out, (list, tuple)) else [out]


def _describe(f, args):
    name = getattr(f, "__name__", repr(f))
    return "%s(%s)" % (name, ", ".join("%s %s" % (a.shape, a.dtype) for a in args))


def check_grads(f, args, order=2, modes=("rev",), eps=None, rtol=None, atol=None, seed=0):
    """Check derivatives of ``f`` at ``args`` up to ``order`` against central differences.

    Inputs are promoted to float64.  ``f`` may return a tensor or a list of tensors; it
    is reduced to a scalar with random weights, and derivatives are compared along
    random directions (one joint direction over all floating inputs).  ``modes`` picks
    reverse ("rev") and/or forward ("fwd") mode; with "fwd", each higher order is also
    checked forward over forward (the forward derivative of a forward derivative).
    Raises AssertionError with the function, shapes and both numbers on a mismatch.
    """
    from tapegrad.ops.creation import constant

    rng = np.random.default_rng(seed)
    args = [constant(_f64(a)) for a in args]
    eps = 1e-6 if eps is None else eps
    rtol = 1e-5 if rtol is None else rtol
    atol = 1e-6 if atol is None else atol
    diff = [i for i, a in enumerate(args) if a.dtype.kind == "f"]
    if not diff:
        raise ValueError("check_grads: no floating-point arguments to differentiate")
    outs0 = [_core.convert(o, None, "check_grads") for o in _as_list(f(*args))]
    us = [constant(rng.standard_normal(o.shape)) for o in outs0]

    def scalar_f(*xs):
        return _inner([_core.convert(o, None, "check_grads") for o in _as_list(f(*xs))], us)

    _check(scalar_f, args, diff, order, modes, eps, rtol, atol, rng, _describe(f, args))


# ``_check`` recurses from the first derivative upwards: ``level`` is the order of the
# derivative being compared, ``order`` the highest one asked for.


def _numeric(fn, args, diff, vs, eps):
    from tapegrad.ops.creation import constant

    plus = list(args)
    minus = list(args)
    for i, v in zip(diff, vs):
        plus[i] = constant(args[i].numpy() + eps * v)
        minus[i] = constant(args[i].numpy() - eps * v)
    return (float(fn(*plus)) - float(fn(*minus))) / (2 * eps)


def _check(fn, args, diff, order, modes, eps, rtol, atol, rng, what, level=1):
    from tapegrad.ops.creation import constant

    if level > order:
        return
    vs = [rng.standard_normal(args[i].shape) for i in diff]
    numeric = _numeric(fn, args, diff, vs, eps)
    if "rev" in modes:
        with GradientTape() as tape:
            for i in diff:
                tape.watch(args[i])
            y = fn(*args)
        grads = tape.gradient(y, [args[i] for i in diff], unconnected_gradients="zero")
        analytic = sum(float(np.sum(g.numpy() * v)) for g, v in zip(grads, vs))
        _compare("reverse", what, level, analytic, numeric, rtol, atol)
    if "fwd" in modes:
        from tapegrad.autodiff.forward import jvp

        def fixed(*xs):
            full = list(args)
            for i, x in zip(diff, xs):
                full[i] = x
            return fn(*full)

        _, tangent = jvp(fixed, [args[i] for i in diff], [constant(v) for v in vs])
        _compare("forward", what, level, float(tangent), numeric, rtol, atol)
    if level < order:
        # next order: the directional derivative, computed by the tape, is itself a
        # differentiable function of the inputs
        vts = [constant(v) for v in vs]

        def directional(*xs):
            from tapegrad.ops.elementwise import add_n, multiply
            from tapegrad.ops.reductions import reduce_sum

            with GradientTape() as t:
                for i in diff:
                    t.watch(xs[i])
                y = fn(*xs)
            gs = t.gradient(y, [xs[i] for i in diff], unconnected_gradients="zero")
            return add_n([reduce_sum(multiply(g, v)) for g, v in zip(gs, vts)])

        _check(directional, args, diff, order, modes, eps, rtol, atol, rng, what, level + 1)
        if "fwd" in modes:
            # forward over forward: the directional derivative by jvp, differentiated
            # again in forward mode (the loop above covers forward over reverse)
            def fwd_directional(*xs):
                from tapegrad.autodiff.forward import jvp

                def along(*ds):
                    full = list(xs)
                    for i, d in zip(diff, ds):
                        full[i] = d
                    return fn(*full)

                return jvp(along, [xs[i] for i in diff], vts)[1]

            _check(fwd_directional, args, diff, order, ("fwd",), eps, rtol, atol, rng,
                   what, level + 1)


def _compare(mode, what, level, analytic, numeric, rtol, atol):
    if not np.isfinite(analytic) or abs(analytic - numeric) > atol + rtol * abs(numeric):
        raise AssertionError(
            "check_grads: %s-mode derivative of order %d of %s differs from central "
            "differences: autodiff %.12g vs numeric %.12g (abs err %.3g)"
            % (mode, level, what, analytic, numeric, abs(analytic - numeric)))
