"""What a debug tape notes while it records (GradientTape(debug=True) or max_bytes=).

- the call site (``file:line``) of every recorded op, when call sites are on;
- *cuts*: ops on a watched tensor that the tape does not record (``stop_gradient``,
  ``argmax``, comparisons, casts to integers), with their sites;
- *escapes*: watched tensors converted to NumPy arrays while recording;
- bytes held for the backward pass (each saved tensor counted once), by primitive and
  by site, and their peak; ``max_bytes`` turns the count into a limit.
"""

from tapegrad import _core
from tapegrad.debugging.sites import call_site, short


class TapeMemoryError(MemoryError):
    """A recording would hold more than the tape's ``max_bytes`` for the backward pass."""


def _nbytes(t):
    data = t._data
    return int(getattr(data, "nbytes", 0))


class TapeDebug:
    def __init__(self, tape, sites, max_bytes):
        if max_bytes is not None:
            if isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes < 0:
                raise ValueError("GradientTape: max_bytes must be a non-negative int, got %r"
                                 % (max_bytes,))
        _core._mark_debug()
        self.sites_on = bool(sites)
        self.max_bytes = max_bytes
        self.sites = {}             # output tensor id -> site of the op that made it
        self.cuts = []              # (primitive name, site, input ids, output id)
        self.escapes = []           # (tensor id, how, site, tensor counter then)
        self.held = {}              # saved tensor id -> nbytes
        self.bytes = 0
        self.peak = 0
        self.by_prim = {}           # name -> [ops, bytes]
        self.by_site = {}           # site -> [ops, bytes]
        self.first_id = None
        self.last_id = None
        self.enters = 0

    # -- block boundaries: tensor ids only grow, so a with block is an id range
    def on_enter(self):
        if self.first_id is None:
            self.first_id = _core._tensor_counter()
        self.last_id = None
        self.enters += 1

    def on_exit(self):
        self.last_id = _core._tensor_counter()

    def inside(self, tensor_id):
        """True/False when the block's id range tells, None when it cannot."""
        if self.first_id is None:
            return None
        if tensor_id < self.first_id:
            return False
        if self.last_id is not None and tensor_id >= self.last_id and self.enters == 1:
            return False
        return True

    def on_record(self, core, rec, inputs, out):
        site = call_site(2) if self.sites_on else None
        if site is not None:
            self.sites[out._id] = site
        saved = list(rec.inputs) if rec.inputs is not None else []
        if rec.output is not None:
            saved.append(rec.output)
        new = {}
        for t in saved:
            if type(t) is _core.Tensor and t._id not in self.held:
                new[t._id] = _nbytes(t)
        added = sum(new.values())
        name = rec.prim.name
        if self.max_bytes is not None and self.bytes + added > self.max_bytes:
            # undo this record so the tape stays consistent, then say who holds what
            del core.producers[out._id]
            raise TapeMemoryError(self._limit_message(name, site, added))
        self.held.update(new)
        self.bytes += added
        self.peak = max(self.peak, self.bytes)
        entry = self.by_prim.setdefault(name, [0, 0])
        entry[0] += 1
        entry[1] += added
        if site is not None:
            entry = self.by_site.setdefault(site, [0, 0])
            entry[0] += 1
            entry[1] += added

    def _limit_message(self, name, site, added):
        top = sorted(self.by_prim.items(), key=lambda kv: -kv[1][1])[:3]
        holders = ", ".join("%s %s in %d ops" % (k, _fmt(v[1]), v[0]) for k, v in top)
        msg = ("GradientTape(max_bytes=%s): recording %s%s would hold %s for the backward "
               "pass (%s already held)" % (_fmt(self.max_bytes), name,
                                            " at %s" % site if site else "",
                                            _fmt(self.bytes + added), _fmt(self.bytes)))
        if holders:
            msg += "; the biggest holders: " + holders
        if self.by_site:
            sites = sorted(self.by_site.items(), key=lambda kv: -kv[1][1])[:3]
            msg += "; by call site: " + ", ".join("%s %s" % (short(k), _fmt(v[1]))
                                                  for k, v in sites)
        else:
            msg += " (GradientTape(debug=True) adds the call sites)"
        return msg

    def on_release(self):
        self.held = {}
        self.bytes = 0

    def on_cut(self, core, prim, inputs, out):
        ids = tuple(t._id for t in inputs if type(t) is _core.Tensor)
        self.cuts.append((prim.name, call_site(2) if self.sites_on else None, ids, out._id))

    def on_escape(self, tensor, how, site):
        # the tensor counter stands for "when": ids only grow
        self.escapes.append((tensor._id, how, site, _core._tensor_counter()))


def _fmt(n):
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return ("%d %s" % (n, unit)) if unit == "B" else ("%.1f %s" % (n, unit))
        n /= 1024.0
    return str(n)
