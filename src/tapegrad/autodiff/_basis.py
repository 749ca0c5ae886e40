"""Structured batches for vmap over an identity basis (tg.hessian, tg.jacobian).

A Hessian or Jacobian maps a linear map (the second-order backward pass, a VJP, a JVP)
over the basis vectors e_0 .. e_{n-1}.  Pushed densely, every op of that map works on
an (n, n) batch that is almost all zeros: the 300-dimensional Rosenbrock Hessian is
tridiagonal, yet each of its ~20 batched ops touched 90,000 numbers.  Here a batched
value is kept as a few diagonals while it stays one:

    Band: value[b, i] = sum over offsets k of  [b == i + k] * d[k][i]

(per example a vector of length m, possibly with unit axes; ``d[k]`` a length-m
tensor).  The identity basis is one band, offset 0, of ones.  Ops linear in the banded
operand keep it banded at O(m) cost: scaling by a shared operand (multiply, safe_mul,
divide by it), negation, sums of bands, slicing with step 1 (a shift of the offsets),
the slice's adjoint (getitem_grad), reshapes that only add or drop unit axes.  A product
with a shared matrix turns a single diagonal band into the (scaled) matrix itself, in
O(m^2) instead of a GEMM.  Anything else gets the band materialized (zeros with its
diagonals written in) and the primitive's ordinary batching rule.

Exactness: each entry the band keeps is computed by the same floating-point operation
on the same numbers as the dense batch would; the dense batch's other entries are
exact zeros (x + 0 == x, 0 * c == 0), so the results agree bit for bit apart from the
sign of zeros -- provided the shared operands are finite, which ``multiply``/``divide``
check (0 * inf is NaN in the dense batch; those fall back to it).

Materializing writes NumPy arrays directly, so this mode is used only where the result
need not be differentiable: ``hessian`` and ``jacobian`` enable it only when no tape is
recording and no ``tg.function`` is tracing.
"""

import math

import numpy as np

from tapegrad import _core, _kernels


def _p(name):
    return _core.registered()[name]


class Band:
    """A batch of B per-example tensors of shape ``shape`` (one axis of length m, the
    others 1), stored as diagonals ``d`` {offset: length-m tensor} (see the module doc)."""

    __slots__ = ("B", "m", "shape", "d", "dense")

    def __init__(self, B, m, shape, d):
        self.B, self.m, self.shape, self.d = B, m, tuple(shape), d
        self.dense = None

    def with_(self, d, shape=None, m=None):
        return Band(self.B, self.m if m is None else m,
                    self.shape if shape is None else shape, d)


_ONES = {}


def identity(n, dtype):
    """The basis e_0 .. e_{n-1} as a Band (its vector of ones is cached: tensors are
    immutable)."""
    key = (n, np.dtype(dtype))
    ones = _ONES.get(key)
    if ones is None:
        if len(_ONES) >= 32:
            _ONES.pop(next(iter(_ONES)))
        ones = _ONES[key] = _core.convert(np.ones(n, dtype=dtype), None, "vmap")
    return Band(n, n, (n,), {0: ones})


def materialize(band):
    """The dense (B,) + shape tensor (cached on the band)."""
    if band.dense is None:
        B, m = band.B, band.m
        dtype = np.result_type(*[t.dtype for t in band.d.values()])
        out = np.zeros((B, m), dtype=dtype)
        flat = out.reshape(-1)
        for k, t in band.d.items():
            lo, hi = max(0, -k), min(m, B - k)
            if lo < hi:
                # entry (i + k, i) of a row-major (B, m) array is flat index k*m + i*(m+1)
                start = (lo + k) * m + lo
                flat[start:start + (hi - lo - 1) * (m + 1) + 1:m + 1] = t.numpy()[lo:hi]
        # wrap, not convert: the array is ours (convert's defensive copy of a fresh
        # 720 KB array page-faulted ~320 times a call here)
        band.dense = _core.wrap(out.reshape((B,) + band.shape))
    return band.dense


def _finite(c, nonzero=False):
    a = c.numpy() if isinstance(c, _core.Tensor) else np.asarray(c)
    # one pass over the exponent bits, no temporary (the check_numerics kernel)
    if not _kernels.all_finite(a):
        return False
    return not nonzero or bool((a != 0).all())


def _shared_vector(c, band):
    """The shared operand as a scalar or a length-m vector aligned with the band's
    axis, or None when it does not broadcast that way."""
    if not isinstance(c, _core.Tensor):
        return c if np.ndim(c) == 0 else None
    shape = tuple(c.shape)
    if len(shape) > len(band.shape):
        return None
    if all(s == 1 for s in shape):
        return c if shape == () else _p("reshape")(c, shape=())
    padded = (1,) * (len(band.shape) - len(shape)) + shape
    if padded != band.shape:
        return None
    return c if shape == (band.m,) else _p("reshape")(c, shape=(band.m,))


def _union(op, bands, signs=None):
    """Sum (or difference) of bands: diagonals with the same offset combined in order."""
    first = bands[0]
    d = {}
    for j, b in enumerate(bands):
        neg = signs is not None and signs[j]
        for k, t in b.d.items():
            if k in d:
                d[k] = _p("subtract" if neg else "add")(d[k], t)
            else:
                d[k] = _p("negative")(t) if neg else t
    return first.with_(d)


def _add_diagonals(flat_view, band, m):
    for k, t in band.d.items():
        lo, hi = max(0, -k), min(m, band.B - k)
        if lo < hi:
            start = (lo + k) * m + lo
            sl = slice(start, start + (hi - lo - 1) * (m + 1) + 1, m + 1)
            flat_view[sl] += t.numpy()[lo:hi]


def _add_n_mixed(args, bds):
    """add_n of bands and dense batches (the Hessian's sum of a diagonal term and
    matrix terms) in add_n's own order, adding a band's diagonals in place instead of
    materializing it: each entry sees the same additions in the same order (the
    skipped ones add exact zeros)."""
    first = next(i for i, bd in enumerate(bds) if bd == 0)
    dense = args[first]
    band_args = [a for a, bd in zip(args, bds) if bd == "band"]
    if any(bd not in (0, "band") for bd in bds) or \
            any(tuple(a.shape) != (b.B,) + b.shape for a in [dense] for b in band_args):
        return None
    m = math.prod(tuple(dense.shape)[1:])
    out = np.array(dense.numpy(), copy=True, order="C")
    flat = out.reshape(-1)
    lead = args[:first]
    if lead:
        # bands before the first dense operand: their own sum first (as add_n would)
        _add_diagonals(flat, lead[0] if len(lead) == 1 else _union("add_n", lead), m)
    for a, bd in zip(args[first + 1:], bds[first + 1:]):
        if bd == "band":
            _add_diagonals(flat, a, m)
        else:
            np.add(out, a.numpy(), out=out)
    return ("dense", _core.wrap(out))


def _slice(key, m):
    if not (isinstance(key, tuple) and len(key) == 1 and type(key[0]) is slice):
        return None
    start, stop, step = key[0].indices(m)
    if step != 1:
        return None
    return start, max(stop, start)


def apply(op, prim, args, bds, params):
    """The node's result: a Band, ("dense", batched tensor), or None (then the caller
    materializes the bands and runs the ordinary batching rule)."""
    if 0 in bds:
        return _add_n_mixed(args, bds) if op == "add_n" else None
    rule = _RULES.get(op)
    return None if rule is None else rule(prim, args, bds, params)


def _scale(prim, args, bds, params):
    # multiply / safe_mul / divide of one band by a shared operand
    if len(args) != 2 or bds[0] == bds[1]:
        return None
    i = 0 if bds[0] == "band" else 1
    band, c = args[i], args[1 - i]
    op = prim.name
    if op == "divide" and i == 1:
        return None
    cv = _shared_vector(c, band)
    if cv is None:
        return None
    # 0 * inf and 0 / 0 are NaN in the dense batch: exact only for finite operands
    # (safe_mul is exactly 0 wherever its first operand is 0)
    if not (i == 0 and op == "safe_mul") and not _finite(cv, nonzero=op == "divide"):
        return None
    if i == 0:
        return band.with_({k: prim(t, cv) for k, t in band.d.items()})
    return band.with_({k: prim(cv, t) for k, t in band.d.items()})


def _negative(prim, args, bds, params):
    band = args[0]
    return band.with_({k: prim(t) for k, t in band.d.items()})


def _sum(prim, args, bds, params):
    if all(bd == "band" for bd in bds) and len({(a.m, a.shape) for a in args}) == 1:
        return _union(prim.name, args, [False, True] if prim.name == "subtract" else None)
    return None


def _reshape(prim, args, bds, params):
    band = args[0]
    shape = tuple(params["shape"])
    if [s for s in shape if s != 1] != [s for s in band.shape if s != 1] or band.m == 1:
        return None                                 # only unit axes added or dropped
    return band.with_(band.d, shape=shape)


def _getitem(prim, args, bds, params):
    band = args[0]
    sl = _slice(params["key"], band.m) if len(band.shape) == 1 else None
    if sl is None:
        return None
    start, stop = sl
    return band.with_({k + start: prim(t, key=params["key"]) for k, t in band.d.items()},
                      shape=(stop - start,), m=stop - start)


def _getitem_grad(prim, args, bds, params):
    band = args[0]
    shape = tuple(params["shape"])
    if len(band.shape) != 1 or len(shape) != 1:
        return None
    sl = _slice(params["key"], shape[0])
    if sl is None or sl[1] - sl[0] != band.m:
        return None
    return band.with_({k - sl[0]: prim(t, shape=shape, key=params["key"])
                       for k, t in band.d.items()}, shape=shape, m=shape[0])


def _matmul(prim, args, bds, params):
    """A single main diagonal (a scaled identity, B == m) against a shared matrix: the
    product of e_b * d[b] is row or column b of the matrix times d[b].  The dense GEMM
    sums that one product with exact zeros, so the values agree."""
    if bds[0] == bds[1]:
        return None
    i = 0 if bds[0] == "band" else 1
    band, W = args[i], args[1 - i]
    if set(band.d) != {0} or band.B != band.m or not isinstance(W, _core.Tensor) \
            or len(W.shape) != 2 or not _finite(W):
        return None
    d = band.d[0]
    ta, tb = params.get("transpose_a", False), params.get("transpose_b", False)
    m = band.m
    if i == 1 and band.shape == (m, 1) and not tb:
        # out[b] = op(W)[:, b] * d[b], shape (p, 1)
        if ta:          # op(W) = W^T: column b of W^T is row b of W
            rows = _p("multiply")(W, _p("reshape")(d, shape=(m, 1)))
        else:
            rows = _p("transpose")(_p("multiply")(W, d), perm=(1, 0))
        return ("dense", _p("reshape")(rows, shape=(m, int(rows.shape[1]), 1)))
    if i == 0 and band.shape == (1, m) and not ta:
        # out[b] = d[b] * op(W)[b, :], shape (1, q)
        if tb:          # op(W) = W^T: row b of W^T is column b of W
            rows = _p("transpose")(_p("multiply")(W, d), perm=(1, 0))
        else:
            rows = _p("multiply")(W, _p("reshape")(d, shape=(m, 1)))
        return ("dense", _p("reshape")(rows, shape=(m, 1, int(rows.shape[1]))))
    return None


_RULES = {"multiply": _scale, "safe_mul": _scale, "divide": _scale, "negative": _negative,
          "add": _sum, "subtract": _sum, "add_n": _sum, "reshape": _reshape,
          "getitem": _getitem, "getitem_grad": _getitem_grad, "matmul": _matmul,
          "identity": lambda prim, args, bds, params: args[0]}
