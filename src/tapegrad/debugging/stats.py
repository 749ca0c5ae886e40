"""tape.stats(): what a tape holds for its backward pass."""

from tapegrad import _core
from tapegrad.debugging.sites import short
from tapegrad.debugging.tapedebug import _fmt


class TapeStats:
    """``ops`` recorded, ``tensors`` and ``bytes`` held for the backward pass (each
    saved tensor counted once), ``peak_bytes`` (None unless the tape accounts as it
    records: debug=True or max_bytes), ``by_primitive`` and ``by_site``
    ({name: (ops, bytes)}; sites need call sites on)."""

    def __init__(self, ops, tensors, nbytes, peak, by_primitive, by_site):
        self.ops = ops
        self.tensors = tensors
        self.bytes = nbytes
        self.peak_bytes = peak
        self.by_primitive = by_primitive
        self.by_site = by_site

    def __str__(self):
        lines = ["tape: %d ops recorded, %d tensors (%s) held for the backward pass%s"
                 % (self.ops, self.tensors, _fmt(self.bytes),
                    "" if self.peak_bytes is None else ", peak %s" % _fmt(self.peak_bytes))]
        if self.by_primitive:
            lines.append("  by primitive:")
            for k, (n, b) in sorted(self.by_primitive.items(), key=lambda kv: -kv[1][1]):
                lines.append("    %-28s %6d ops %12s" % (k, n, _fmt(b)))
        if self.by_site:
            lines.append("  by call site:")
            for k, (n, b) in sorted(self.by_site.items(), key=lambda kv: -kv[1][1])[:20]:
                lines.append("    %-40s %6d ops %12s" % (short(k), n, _fmt(b)))
        return "\n".join(lines)

    __repr__ = __str__


def stats(tape):
    core = tape._core
    dbg = core.debug
    sites = dbg.sites if dbg is not None else {}
    held = set()
    nbytes = 0
    ops = 0
    by_prim, by_site = {}, {}
    for oid, rec in core.producers.items():
        if rec is None:
            continue
        ops += 1
        saved = list(rec.inputs) if rec.inputs is not None else []
        if rec.output is not None:
            saved.append(rec.output)
        # a replayed tg.function call (graph/calls.py) also holds its forward's values
        saved.extend(getattr(rec.params.get("call"), "saved_tensors", ()))
        added = 0
        for t in saved:
            if type(t) is _core.Tensor and t._id not in held:
                held.add(t._id)
                added += int(getattr(t._data, "nbytes", 0))
        nbytes += added
        entry = by_prim.setdefault(rec.prim.name, [0, 0])
        entry[0] += 1
        entry[1] += added
        site = sites.get(oid)
        if site is not None:
            entry = by_site.setdefault(site, [0, 0])
            entry[0] += 1
            entry[1] += added
    peak = None if dbg is None else max(dbg.peak, nbytes)
    return TapeStats(ops, len(held), nbytes, peak,
                     {k: tuple(v) for k, v in by_prim.items()},
                     {k: tuple(v) for k, v in by_site.items()})
