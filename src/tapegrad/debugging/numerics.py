"""enable_check_numerics: the first op, forward or backward, that makes a NaN or Inf raises.

The check runs in the op dispatcher after every op (one pass over the output's bits in
C, no temporary array; on a GPU one predicate map and an all-reduce there); the error
names the primitive, its inputs' shapes and dtypes, whether an input already held
NaN/Inf (then the problem is upstream), the backward pass's VJP when it happened there,
and the user's file:line.
"""

import numpy as np

from tapegrad import _core, _kernels, _tape
from tapegrad.debugging.sites import call_site
from tapegrad.errors import InvalidArgumentError


class CheckNumericsError(InvalidArgumentError):
    """A NaN or Inf was produced while tg.debugging.enable_check_numerics() was on."""


def _values(x):
    if isinstance(x, _core.BaseVariable):
        x = x.read_value()
    if isinstance(x, _core.Tensor):
        if type(x._data) is np.ndarray:
            return np.asarray(x._data)
        to_numpy = getattr(x._data, "to_numpy", None)      # a GPU array, for the report
        return to_numpy() if to_numpy is not None else None
    if isinstance(x, (np.ndarray, np.generic, float, int, complex)):
        return np.asarray(x)
    return None


def _kinds(arr):
    if arr is None or arr.dtype.kind not in "fc":
        return ""
    found = []
    if np.isnan(arr).any():
        found.append("NaN")
    if np.isinf(arr).any():
        found.append("Inf")
    return " and ".join(found)


def _describe(x):
    arr = _values(x)
    if isinstance(x, _core.BaseVariable):
        label = "Variable %s %s" % (x.dtype, tuple(x.shape))
    elif isinstance(x, _core.Tensor):
        label = "%s %s" % (x.dtype, tuple(x.shape))
    else:
        label = type(x).__name__
    return label, _kinds(arr)


def _vjp_context():
    running = _tape.current_vjp()
    if running is None:
        return "in the forward pass"
    core, rec = running
    name = rec.prim.name
    call = (rec.params or {}).get("call")
    if name == "custom_gradient" and call is not None:
        name = "custom_gradient %s" % call.name
    dbg = core.debug
    site = dbg.sites.get(rec.output_id) if dbg is not None else None
    return "in the backward pass, inside the gradient (VJP) of %s%s" % (
        name, (" (forward op at %s)" % site) if site else "")


def report(prim, args, params, out):
    outs = out if isinstance(out, (tuple, list)) else (out,)
    bad = " and ".join(k for k in {_kinds(_values(o)) for o in outs} if k) or "NaN/Inf"
    parts, upstream = [], []
    for i, a in enumerate(args):
        label, kinds = _describe(a)
        parts.append(label)
        if kinds:
            upstream.append("input %d held %s already" % (i, kinds))
    msg = ("check_numerics: %s produced %s %s, at %s; inputs [%s]; %s" % (
        prim.name, bad, _vjp_context(), call_site(2), ", ".join(parts),
        "; ".join(upstream) + " (the problem is upstream)" if upstream
        else "all inputs were finite (this op made the first non-finite value)"))
    raise CheckNumericsError(msg)


def device_all_finite(arr):
    """Whether a GPU array holds only finite values: an is_finite map and an all-reduce
    on the device, one byte copied back (so each checked op synchronizes, as TF's GPU
    check_numerics does).  Non-float arrays are finite."""
    if np.dtype(arr.dtype).kind != "f":
        return True
    if arr.size == 0:
        return True
    from tapegrad.cuda import elementwise, reduce

    ok = reduce.reduce_bool("min", elementwise.predicate("is_finite", arr),
                            tuple(range(len(arr.shape))), False)
    return bool(ok.to_numpy())


def _finite(x):
    if isinstance(x, _core.BaseVariable):
        x = x.read_value()
    data = x._data if isinstance(x, _core.Tensor) else x
    if type(data) is not np.ndarray:
        return device_all_finite(data)
    return _kernels.all_finite(data)


def check_update(optimizer, variables):
    """After an optimizer step with check_numerics on.

    When every variable was updated by a fused kernel (SGD, Adam on CPU float32/64),
    the kernels' own report says whether one wrote a NaN/Inf: no extra pass.  Otherwise
    (other rules, float16, GPU) one bit-test pass per variable.  Slots are looked at only
    to name the culprit: a non-finite moment reaches the variable in the same update
    (m) or freezes it without a NaN (v = inf in Adam, not reported).
    """
    fused, bad = _kernels.take_update_report()
    if fused == len(variables) and not bad:
        # (float16 variables never take the fused kernels: their update is computed in
        # float32 and cast, so they always get the pass below)
        return
    for var in variables:
        if _finite(var):
            continue
        where = "variable %r %s" % (var.name, tuple(var.shape))
        for name in optimizer.get_slot_names():
            slot = optimizer.get_slot(var, name)
            if slot is not None and not _finite(slot):
                where += " (its %r slot is non-finite too)" % name
        raise CheckNumericsError("check_numerics: %s.apply_gradients made %s in %s at %s"
                                 % (type(optimizer).__name__, _kinds(_values(var)), where,
                                    call_site(2)))
