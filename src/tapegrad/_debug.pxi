# Included by _core.pyx: the hooks of tapegrad.debugging (docs/architecture.md,
# "Debugging gradients").  Off, each costs one C flag test on the paths it watches;
# the work itself is done in Python, in tapegrad/debugging/, and only when asked for.

cdef bint _numerics_on = False      # enable_check_numerics(): check every op's output
cdef bint _any_debug = False        # some tape took debug notes: watch cuts and escapes
cdef object _numerics_report = None # debugging.numerics.report(prim, args, params, out)
cdef object _device_finite = None   # debugging.numerics.device_all_finite(array) (GPU)
cdef object _escape_report = None   # debugging.hooks.on_escape(tape_list, tensor, how)
cdef set _warned_sites = set()      # array-conversion warnings already given, by site


def _set_numerics(bint on, report, device_finite=None):
    global _numerics_on, _numerics_report, _device_finite
    _numerics_report = report
    _device_finite = device_finite
    _numerics_on = on


def _numerics_enabled():
    return _numerics_on


def _set_debug_hooks(escape_report):
    """Installed by tapegrad.debugging."""
    global _escape_report
    _escape_report = escape_report


def _mark_debug():
    """A debug tape exists: from now on cuts and .numpy() escapes are looked at."""
    global _any_debug
    _any_debug = True


def _tensor_counter():
    """The id the next tensor will get (ids only grow: a tape's block is an id range)."""
    return _next_id


cdef int _note_cut(Primitive prim, tuple inputs, Tensor out) except -1:
    # An op on a watched tensor that the tape does not record (not differentiable, or
    # an integer/bool result): a debug tape notes where the gradient path ends.
    cdef TapeCore tape
    for tape in current_state().tapes:
        if tape.debug is not None and not tape.paused and tape.records(inputs):
            tape.debug.on_cut(tape, prim, inputs, out)
    return 0


cdef int _note_escape(Tensor t, str how) except -1:
    # A watched tensor converted to an ndarray while a tape records: its gradient path
    # ends here silently.  `how` is "array" (__array__/NumPy functions: a warning once
    # per call site) or "numpy" (.numpy(): noted by debug tapes only, no warning, as
    # reading a value inside a tape is common and legitimate).
    cdef TapeCore tape
    cdef list watching = None
    for tape in current_state().tapes:
        if not tape.paused and t._id in tape.producers:
            if watching is None:
                watching = []
            watching.append(tape)
    if watching is not None and (how == "array" or _any_debug) and _escape_report is not None:
        _escape_report(watching, t, how, _warned_sites)
    return 0


cdef bint _all_finite(object arr) except -1:
    if type(arr) is not ndarray:
        # a device array: the installed device check (one predicate map and one
        # all-reduce on the GPU, a byte back), or none
        return _device_finite is None or bool(_device_finite(arr))
    if (<cnp.dtype>arr.dtype).kind not in (b"f", b"c"):
        return True
    return _kernels.all_finite(arr)


cdef int _check_numerics(Primitive prim, tuple args, dict params, object out) except -1:
    cdef bint ok = True
    if type(out) is Tensor:
        ok = _all_finite((<Tensor>out)._data)
    elif type(out) is tuple or type(out) is list:
        for o in out:
            if type(o) is Tensor and not _all_finite((<Tensor>o)._data):
                ok = False
                break
    if not ok and _numerics_report is not None:
        _numerics_report(prim, args, params, out)
    return 0
