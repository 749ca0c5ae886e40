"""The array ops (scans, sorting, scatters, segments) beside the NumPy calls they wrap.

``FORWARD`` / ``FORWARD_BACKWARD`` / ``ADJOINTS`` extend ops.py's tables (the meta-test
checks every primitive has an entry); ``VersusNumPy`` times each forward next to NumPy's
own function on the same array, which is the 1.3x budget bench/compare.py reports.
"""

import numpy as np

import tapegrad as tg

from . import DTYPES, Case, seed_all


def _vec(rng, n, dtype):
    return tg.constant(rng.uniform(-1.0, 1.0, n).astype(dtype))


def _mat(rng, n, dtype):
    side = max(2, int(np.sqrt(n)))
    return tg.constant(rng.uniform(-1.0, 1.0, (side, side)).astype(dtype))


def _b_cumsum(n, dtype, rng):
    return Case(tg.cumsum, _vec(rng, n, dtype))


def _b_cumprod(n, dtype, rng):
    return Case(tg.cumprod, tg.constant(rng.uniform(0.99, 1.01, n).astype(dtype)))


def _b_cumlse(n, dtype, rng):
    return Case(tg.cumulative_logsumexp, _vec(rng, n, dtype))


def _b_sort(n, dtype, rng):
    return Case(tg.sort, _vec(rng, n, dtype))


def _b_argsort(n, dtype, rng):
    return Case(tg.argsort, _vec(rng, n, dtype))


def _top_k_values(x, k):
    return tg.top_k(x, k)[0]


def _b_top_k(n, dtype, rng):
    return Case(_top_k_values, _mat(rng, n, dtype), k=2)


def _b_searchsorted(n, dtype, rng):
    seq = tg.constant(np.sort(rng.uniform(-1, 1, n)).astype(dtype))
    return Case(tg.searchsorted, seq, _vec(rng, n, dtype))


def _b_scatter_update(n, dtype, rng):
    t = _mat(rng, n, dtype)
    rows = rng.permutation(t.shape[0])[: max(1, t.shape[0] // 2)].reshape(-1, 1)
    upd = tg.constant(rng.uniform(-1, 1, (rows.shape[0], t.shape[1])).astype(dtype))
    return Case(tg.tensor_scatter_nd_update, t, rows, upd)


def _b_segment_prod(n, dtype, rng):
    ids = np.sort(rng.integers(0, max(1, n // 10), n))
    return Case(tg.unsorted_segment_prod, tg.constant(rng.uniform(0.9, 1.1, n).astype(dtype)),
                 ids, max(1, n // 10))


def _b_repeat(n, dtype, rng):
    return Case(tg.repeat, _vec(rng, n, dtype), 2)


def _ufunc(prim, low, high, binary=False):
    def build(n, dtype, rng):
        x = tg.constant(rng.uniform(low, high, n).astype(dtype))
        if binary:
            return Case(prim, x, tg.constant(rng.uniform(low, high, n).astype(dtype)))
        return Case(prim, x)
    return build


def _ufunc_table():
    from tapegrad.ops import ufuncs

    ranges = {"acosh": (1.5, 3.0), "log2": (0.5, 2.0), "log10": (0.5, 2.0)}
    table = {name: _ufunc(prim, *ranges.get(name, (-0.9, 0.9)))
             for name, prim in ufuncs.UNARY.items()}
    table.update({name: _ufunc(prim, 0.5, 2.0, binary=True)
                  for name, prim in ufuncs.BINARY.items()})
    return table


FORWARD = {
    "cumsum": _b_cumsum,
    "cumprod": _b_cumprod,
    "cumulative_logsumexp": _b_cumlse,
    "sort": _b_sort,
    "argsort": _b_argsort,
    "take_along_axis": _b_top_k,
    "searchsorted": _b_searchsorted,
    "tensor_scatter_update": _b_scatter_update,
    "unsorted_segment_prod": _b_segment_prod,
    "repeat": _b_repeat,
    **_ufunc_table(),
}

FORWARD_BACKWARD = (("cumsum", "cumprod", "cumulative_logsumexp", "sort", "take_along_axis",
                    "tensor_scatter_update", "unsorted_segment_prod", "repeat")
                    + tuple(_ufunc_table()))

SECOND_ORDER = ("take_along_axis", "cumprod")

ADJOINTS = {"take_along_axis_grad": "take_along_axis"}


# -- forwards next to NumPy ---------------------------------------------------------

def _pairs(x, rng):
    xn = x.numpy()
    ids = np.sort(rng.integers(0, 100, xn.size))
    return {
        "cumsum": (lambda: tg.cumsum(x), lambda: np.cumsum(xn)),
        "cumprod": (lambda: tg.cumprod(x), lambda: np.cumprod(xn)),
        "cumulative_logsumexp": (lambda: tg.cumulative_logsumexp(x),
                                 lambda: np.logaddexp.accumulate(xn)),
        "sort": (lambda: tg.sort(x), lambda: np.sort(xn)),
        "argsort": (lambda: tg.argsort(x), lambda: np.argsort(xn, kind="stable")),
        "reverse": (lambda: tg.reverse(x, [0]), lambda: np.flip(xn, 0)),
        "roll": (lambda: tg.roll(x, 7, 0), lambda: np.roll(xn, 7)),
        "repeat": (lambda: tg.repeat(x, 2), lambda: np.repeat(xn, 2)),
        "segment_sum": (lambda: tg.segment_sum(x, ids),
                        lambda: np.bincount(ids, xn, minlength=100)),
        "boolean_mask": (lambda: tg.boolean_mask(x, xn > 0), lambda: xn[xn > 0]),
        "gather_nd": (lambda: tg.gather_nd(x, ids[:, None]), lambda: xn[ids]),
    }


class VersusNumPy:
    """Forward of each array op at 10^5 elements, and the NumPy function it wraps."""

    params = [sorted(_pairs(tg.zeros((2,)), np.random.default_rng(0))), ["tapegrad", "numpy"],
              DTYPES]
    param_names = ["op", "impl", "dtype"]

    def setup(self, op, impl, dtype):
        rng = seed_all()
        x = _vec(rng, 100_000, dtype)
        ours, theirs = _pairs(x, rng)[op]
        self.fn = ours if impl == "tapegrad" else theirs
        self.fn()

    def time_forward(self, op, impl, dtype):
        self.fn()


class NamespaceExtensions:
    """tapegrad.numpy's linalg and fft extensions (compositions of the primitives)
    beside NumPy's own np.linalg / np.fft, forward only."""

    params = [["linalg.qr complex 64x64", "linalg.svdvals complex 64x64",
               "linalg.vector_norm ord=3 10^5", "fft.rfftn 256x256", "fft.fftn axes 64^3"],
              ["tapegrad", "numpy"]]
    param_names = ["op", "impl"]

    def setup(self, op, impl):
        import tapegrad.numpy as tnp

        rng = seed_all()
        c = rng.standard_normal((64, 64)) + 1j * rng.standard_normal((64, 64))
        v = rng.standard_normal(100_000)
        img = rng.standard_normal((256, 256))
        cube = rng.standard_normal((64, 64, 64)) + 0j
        t = {id(a): tnp.asarray(a) for a in (c, v, img, cube)}
        lib = tnp if impl == "tapegrad" else np
        arg = (lambda a: t[id(a)]) if impl == "tapegrad" else (lambda a: a)
        self.fn = {
            "linalg.qr complex 64x64": lambda: lib.linalg.qr(arg(c)),
            "linalg.svdvals complex 64x64": lambda: lib.linalg.svdvals(arg(c)),
            "linalg.vector_norm ord=3 10^5": lambda: lib.linalg.vector_norm(arg(v), ord=3),
            "fft.rfftn 256x256": lambda: lib.fft.rfftn(arg(img)),
            "fft.fftn axes 64^3": lambda: lib.fft.fftn(arg(cube), axes=(0, 2)),
        }[op]
        self.fn()

    def time_forward(self, op, impl):
        self.fn()
