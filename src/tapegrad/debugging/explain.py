"""tape.explain(target, source): why tape.gradient(target, source) is what it is."""

from tapegrad import _core
from tapegrad.debugging.sites import short

HOW_TO = ("call sites are off: GradientTape(debug=True) or "
          "tg.debugging.enable_tracebacks() records where each op ran")

_ESCAPES = {"array": "a NumPy conversion (np.asarray / a NumPy function)",
            "numpy": ".numpy()"}


class Explanation:
    """The answer of ``tape.explain``; ``str()`` reads as a report.

    ``connected``: whether a recorded chain links source to target. ``reason``: one of
    'connected', 'tape_used', 'integer_dtype', 'not_watched', 'not_read',
    'outside_tape', 'cut', 'numpy_escape', 'not_recorded', 'unconnected'.
    ``chain``: [(primitive, site)] from source to target; ``site``: where the path was
    cut or left tapegrad.
    """

    def __init__(self, connected, reason, lines, chain=(), site=None):
        self.connected = connected
        self.reason = reason
        self.lines = list(lines)
        self.chain = list(chain)
        self.site = site

    def __str__(self):
        return "\n".join(self.lines)

    __repr__ = __str__


def _describe(x):
    if isinstance(x, _core.BaseVariable):
        return "Variable %r %s %s" % (x.name, x.dtype, tuple(x.shape))
    return "tensor %s %s" % (x.dtype, tuple(x.shape))


def _head(target, source):
    return "tape.explain: gradient of %s with respect to %s" % (
        _describe(target), _describe(source))


def explain(tape, target, source):
    core = tape._core
    dbg = core.debug
    head = _head(target, source)
    if tape._used and not tape._persistent:
        return Explanation(False, "tape_used", [
            head, "  None: this tape was already used. A non-persistent tape releases "
            "what it recorded after its first gradient() call; use "
            "GradientTape(persistent=True) to take several gradients."])
    if isinstance(target, _core.BaseVariable):
        target = target.read_value()
    if not isinstance(target, _core.Tensor):
        raise TypeError("explain: target must be a tensor, got %s" % type(target).__name__)
    if not isinstance(source, (_core.Tensor, _core.BaseVariable)):
        raise TypeError("explain: source must be a tensor or a variable, got %s"
                        % type(source).__name__)
    if source.dtype.kind != "f":
        return Explanation(False, "integer_dtype", [
            head, "  None: the source has dtype %s; only floating-point tensors have "
            "gradients (cast it to a float dtype before the computation, and watch that)"
            % source.dtype])
    if isinstance(source, _core.BaseVariable):
        ids = list(core.var_reads.get(source._uid, []))
        if not ids:
            if not source.trainable:
                why = ("the variable is not trainable, so the tape does not watch it when "
                       "it is read; call tape.watch(variable)")
            elif not core.watch_accessed:
                why = ("the tape was created with watch_accessed_variables=False and the "
                       "variable was never passed to tape.watch")
            else:
                why = ("the variable was never read while the tape recorded: it was read "
                       "before the with block (its value captured as a tensor), or not at "
                       "all")
            return Explanation(False, "not_read", [head, "  None: " + why])
    else:
        if source._id not in core.producers:
            return Explanation(False, "not_watched", [
                head, "  None: the source was never watched. A tensor (unlike a trainable "
                "Variable) is recorded only after tape.watch(tensor) inside the with "
                "block, before it is used."])
        ids = [source._id]
    sites = dbg.sites if dbg is not None else {}
    chain = _chain(core.producers, target._id, set(ids))
    if chain is not None:
        steps = [(rec.prim.name, sites.get(rec.output_id)) for rec in chain]
        lines = [head, "  connected through %d recorded op%s, from the source:"
                 % (len(steps), "" if len(steps) == 1 else "s")]
        for i, (name, site) in enumerate(steps, 1):
            lines.append("  %3d. %-26s %s" % (i, name, ("at " + site) if site else ""))
        if not sites:
            lines.append("  (" + HOW_TO + ")")
        return Explanation(True, "connected", lines, steps)
    # no chain: find where the path from the source ended
    if target._id not in core.producers and dbg is not None and \
            dbg.inside(target._id) is False:
        return Explanation(False, "outside_tape", [
            head, "  None: the target was computed outside the tape's with block; only "
            "ops run inside the block are recorded."])
    reach = _forward(core.producers, set(ids))
    if dbg is not None:
        found = _ends(dbg, reach, target._id)
        if found:
            kind, name, site = found[0]
            others = ["%s at %s" % (n, s or "?") for _, n, s in found[1:4]]
            more = ("  (the source's path also ends at: %s)" % "; ".join(others)) if others \
                else None
            if kind == "cut":
                what = ("stop_gradient" if name == "stop_gradient" else
                        "%s, which is not differentiable (its result is not recorded)"
                        % name)
                lines = [head, "  None: the path from the source was cut by %s%s." % (
                    what, (" at " + site) if site else ""),
                    "  Everything computed from that result is a constant to the tape."
                    + ("" if site else " (" + HOW_TO + ")")]
                return Explanation(False, "cut", lines + ([more] if more else []), site=site)
            lines = [head, "  None: the value left tapegrad through %s at %s; what was "
                     "computed from the NumPy array is a constant to the tape. Keep the "
                     "computation in tapegrad ops (tg.* or tensor methods)."
                     % (_ESCAPES.get(name, name), site)]
            return Explanation(False, "numpy_escape", lines + ([more] if more else []),
                               site=site)
    if target._id not in core.producers:
        lines = [head, "  None: the target was not recorded by this tape: nothing it was "
                 "computed from was watched%s." % (
                     "" if dbg is not None else
                     ", or it was computed outside the with block, or the path was cut "
                     "(stop_gradient, argmax, a comparison, a cast to int, a NumPy "
                     "conversion)")]
        if dbg is None:
            lines.append("  To see where: " + HOW_TO.split(": ", 1)[1])
        return Explanation(False, "not_recorded", lines)
    lines = [head, "  None: the target was recorded, but no recorded op connects it to "
             "the source: it was computed from other watched values."]
    if dbg is None:
        lines.append("  If it should depend on the source, the path was cut somewhere; "
                     + HOW_TO.split(": ", 1)[1] + " to see where.")
    return Explanation(False, "unconnected", lines)


def _ends(dbg, reach, target_id):
    """Where the source's path left the tape, most likely first for this target.

    The target itself was not recorded from them, so which end it came through is
    inferred from time: tensor ids only grow, and the last end before the target was
    made is the likeliest.  Returns [(kind, name, site)].
    """
    events = []
    for name, site, in_ids, out_id in dbg.cuts:
        if reach.intersection(in_ids):
            events.append((out_id, "cut", name, site))
    for tid, how, site, when in dbg.escapes:
        if tid in reach:
            events.append((when, "escape", how, site))
    before = sorted((e for e in events if e[0] <= target_id), key=lambda e: -e[0])
    after = sorted((e for e in events if e[0] > target_id), key=lambda e: e[0])
    return [(kind, name, site) for _, kind, name, site in before + after]


def _chain(producers, target_id, source_ids):
    """Records from a source to the target (shortest, by a backward search), or None."""
    parent = {target_id: None}
    frontier = [target_id]
    found = None
    if target_id in source_ids:
        return []
    while frontier and found is None:
        nxt = []
        for tid in frontier:
            rec = producers.get(tid)
            if rec is None:
                continue
            for iid in rec.input_ids:
                if iid in parent:
                    continue
                parent[iid] = tid
                if iid in source_ids:
                    found = iid
                    break
                nxt.append(iid)
            if found is not None:
                break
        frontier = nxt
    if found is None:
        return None
    chain = []
    tid = parent[found]
    while tid is not None:
        chain.append(producers[tid])
        tid = parent[tid]
    return chain


def _forward(producers, ids):
    """Tensor ids computed (on the tape) from ``ids``, ``ids`` included."""
    reach = set(ids)
    # records are stored in recording order, so one pass in insertion order suffices
    for oid, rec in producers.items():
        if rec is not None and reach.intersection(rec.input_ids):
            reach.add(oid)
    return reach


def site_table(items, limit=8):
    rows = sorted(items, key=lambda kv: -kv[1][1])[:limit]
    return ["    %-40s %6d ops %12s" % (short(k), v[0], _fmt(v[1])) for k, v in rows]


def _fmt(n):
    from tapegrad.debugging.tapedebug import _fmt as fmt

    return fmt(n)
