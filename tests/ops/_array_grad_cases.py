"""Gradient-sweep cases for the array-op primitives (merged into GRAD_CASES by
test_gradients.py; test_array_ops.py reruns them in forward mode too).

Each case is ``(label, fn, args)`` as in test_gradients.py; floating args are
differentiated in float64 to order 2.
"""

import zlib

import numpy as np

import tapegrad as tg


def _rng(*key):
    return np.random.default_rng(zlib.crc32(repr(key).encode()))


def normal(shape, *key):
    return _rng("normal", shape, *key).standard_normal(shape)


def distinct(shape, *key):
    n = int(np.prod(shape, dtype=np.int64))
    return (_rng("distinct", shape, *key).permutation(n) * 0.1 - 0.05 * n).reshape(shape)


def _named(fn, name):
    fn.__name__ = name
    return fn


def _with_zeros(shape, key):
    x = normal(shape, key)
    x.flat[1] = 0.0  # a zero inside the product: the gradient must stay exact, not NaN
    return x


def _scan_cases(op, gen):
    cases = []
    for shape, axis in [((5,), 0), ((3, 4), 1), ((3, 4), 0), ((2, 3, 4), -1)]:
        for excl in (False, True):
            for rev in (False, True):
                fn = _named(lambda x, a=axis, e=excl, r=rev: op(x, a, exclusive=e, reverse=r),
                            op.__name__)
                cases.append(("%s ax=%d ex=%d rev=%d" % (shape, axis, excl, rev), fn,
                              [gen(shape, op.__name__, axis, excl, rev)]))
    return cases


def _cumprod_gen(shape, *key):
    return _with_zeros(shape, key) if len(shape) > 1 else normal(shape, *key)


def _sort_cases():
    cases = []
    for shape, axis in [((6,), 0), ((3, 4), 1), ((3, 4), 0), ((2, 3, 4), 1)]:
        for d in ("ASCENDING", "DESCENDING"):
            fn = _named(lambda x, a=axis, d=d: tg.sort(x, a, d) * tg.constant(
                np.arange(1.0, 1.0 + x.shape[a]).reshape([-1 if i == a % x.ndim else 1
                                                          for i in range(x.ndim)])), "sort")
            cases.append(("%s ax=%d %s" % (shape, axis, d[:3]), fn, [distinct(shape, "s")]))
    return cases


def _take_along_cases():
    idx = np.array([[2, 0, 0], [1, 3, 1], [0, 0, 2]])
    return [
        ("top_k (3,5) k=2", _named(lambda x: tg.top_k(x, 2)[0] ** 2, "top_k"),
         [distinct((3, 5), "tk")]),
        ("(3,4) repeats", _named(lambda x: tg.take_along_axis(x, idx, axis=1), "tal"),
         [normal((3, 4), "ta")]),
        ("(2,3,4) ax0", _named(lambda x: tg.take_along_axis(
            x, np.zeros((1, 3, 4), np.int64), axis=0), "tal0"), [normal((2, 3, 4), "tb")]),
    ]


def _vjp(fn, wrt):
    def vjp(*args):
        *xs, ct = args
        with tg.GradientTape() as tape:
            tape.watch(xs[wrt])
            y = fn(*xs)
        return tape.gradient(y, xs[wrt], output_gradients=ct)

    vjp.__name__ = "vjp_" + fn.__name__
    return vjp


def _take_along_grad_cases():
    idx = np.array([[2, 0, 0], [1, 3, 1], [0, 0, 2]])
    f = _named(lambda x: tg.take_along_axis(x, idx, axis=1), "tal")
    return [("(3,4) repeats", _vjp(f, 0), [normal((3, 4), "tg"), normal((3, 3), "tc")])]


def _scatter_update_cases():
    idx = np.array([[0, 1], [2, 0], [0, 1]])  # a repeated index: the last update wins
    return [
        ("(3,2) rows dup", _named(lambda t, u: tg.tensor_scatter_nd_update(t, idx, u) ** 2,
                                   "tsu"), [normal((3, 2), "t"), normal((3,), "u")]),
        ("(3,4) rows", _named(lambda t, u: tg.tensor_scatter_nd_update(
            t, np.array([[2], [0]]), u) * t, "tsu_rows"), [normal((3, 4), "t2"),
                                                            normal((2, 4), "u2")]),
    ]


def _segment_prod_cases():
    ids = np.array([0, 0, 2, 2, 2, 1])
    x = normal((6, 2), "sp")
    x[0, 0] = 0.0   # one zero in a segment
    x[2, 1] = 0.0   # two zeros in a segment
    x[4, 1] = 0.0
    return [
        ("(6,2) zeros", _named(lambda d: tg.unsorted_segment_prod(d, ids, 4), "usp"), [x]),
        ("(6,) sorted", _named(lambda d: tg.segment_prod(d, ids[np.argsort(ids)]), "sp"),
         [normal((6,), "sp1")]),
    ]


def _ufunc_cases():
    from tapegrad.ops import ufuncs

    domain = {"acosh": lambda s, k: 1.5 + np.abs(normal(s, k)),
              "log2": lambda s, k: 0.5 + np.abs(normal(s, k)),
              "log10": lambda s, k: 0.5 + np.abs(normal(s, k)),
              "asin": lambda s, k: np.tanh(normal(s, k)) * 0.8,
              "acos": lambda s, k: np.tanh(normal(s, k)) * 0.8,
              "atanh": lambda s, k: np.tanh(normal(s, k)) * 0.8,
              "trunc": lambda s, k: np.round(normal(s, k) * 3) + 0.4}
    out = {}
    for name, prim in ufuncs.UNARY.items():
        gen = domain.get(name, normal)
        out[name] = [("%s" % (s,), _named(lambda x, p=prim: p(x), name), [gen(s, name)])
                     for s in [(), (3,), (2, 3)]]
    for name, prim in ufuncs.BINARY.items():
        out[name] = [("%s,%s" % (a, b), _named(lambda x, y, p=prim: p(x, y), name),
                      [normal(a, name, 1) + 0.1, normal(b, name, 2) - 0.1])
                     for a, b in [((3,), (3,)), ((2, 1), (3,)), ((), (2, 3))]]
    return out


ARRAY_GRAD_CASES = {
    "cumsum": _scan_cases(tg.cumsum, normal),
    "cumprod": _scan_cases(tg.cumprod, _cumprod_gen),
    "cumulative_logsumexp": _scan_cases(tg.cumulative_logsumexp, normal),
    "sort": _sort_cases(),
    "take_along_axis": _take_along_cases(),
    "take_along_axis_grad": _take_along_grad_cases(),
    "tensor_scatter_update": _scatter_update_cases(),
    "unsorted_segment_prod": _segment_prod_cases(),
    "repeat": [("1-D x3", _named(lambda x: tg.repeat(x, 3) ** 2, "rep"), [normal((4,), "r1")]),
               ("axis 1 x2", _named(lambda x: tg.repeat(x, [2], axis=1) ** 3, "rep1"),
                [normal((2, 3, 2), "r2")]),
               ("flattened", _named(lambda x: tg.repeat(x, 2) * tg.repeat(x, 2), "repf"),
                [normal((2, 2), "r3")])],
    **_ufunc_cases(),
}

# Compositions of existing primitives: a second-order check of each, both modes.
ARRAY_COMPOSITE_CASES = [
    ("gather batch_dims=1", _named(lambda p: tg.gather(p, np.array([[1, 0, 0], [2, 2, 1]]),
                                                       axis=1, batch_dims=1) ** 2, "gbd"),
     [normal((2, 3), "g")]),
    ("gather batch_dims=1 axis=2", _named(lambda p: tg.gather(
        p, np.array([[1, 0], [0, 0]]), axis=2, batch_dims=1) ** 2, "gbd2"),
     [normal((2, 3, 2, 2), "g2")]),
    ("gather_nd", _named(lambda p: tg.gather_nd(p, np.array([[0, 1], [2, 3], [0, 1]])) ** 3,
                         "gnd"), [normal((3, 4), "gn")]),
    ("gather_nd rows batch", _named(lambda p: tg.gather_nd(
        p, np.array([[[1]], [[0]]]), batch_dims=1) ** 2, "gndb"), [normal((2, 3, 2), "gb")]),
    ("scatter_nd", _named(lambda u: tg.scatter_nd(np.array([[1], [0], [1]]), u, [3, 2]) ** 2,
                          "snd"), [normal((3, 2), "sn")]),
    ("tensor_scatter_nd_add/sub", _named(lambda t, u: tg.tensor_scatter_nd_add(
        t, np.array([[1, 1], [0, 2]]), u) * tg.tensor_scatter_nd_sub(
        t, np.array([[1, 1], [1, 1]]), u), "tsa"), [normal((2, 3), "ta"), normal((2,), "ua")]),
    ("tensor_scatter_nd_max", _named(lambda t, u: tg.tensor_scatter_nd_max(
        t, np.array([[0], [2], [0]]), u) ** 2, "tsmax"), [distinct((3, 2), "tm"),
                                                           distinct((3, 2), "um") + 0.03]),
    ("tensor_scatter_nd_min", _named(lambda t, u: tg.tensor_scatter_nd_min(
        t, np.array([[0], [2], [0]]), u) ** 2, "tsmin"), [distinct((3, 2), "tn"),
                                                           distinct((3, 2), "un") + 0.03]),
    ("segment_sum/mean", _named(lambda d: tg.segment_sum(d, [0, 0, 1, 3]) ** 2 +
                                tg.segment_mean(d, [0, 0, 1, 3]) ** 3, "ssm"),
     [normal((4, 2), "ss")]),
    ("segment_max/min", _named(lambda d: tg.segment_max(d, [0, 0, 1, 1]) ** 2 *
                               tg.segment_min(d, [0, 0, 1, 1]), "smm"), [distinct((4, 2), "sm")]),
    ("unsorted_segment_sum/mean", _named(lambda d: tg.unsorted_segment_sum(
        d, [2, -1, 0, 2], 3) ** 2 + tg.unsorted_segment_mean(d, [2, 0, 0, 2], 3) ** 3, "usm"),
     [normal((4, 3), "us")]),
    ("unsorted_segment_max/min", _named(lambda d: tg.unsorted_segment_max(
        d, np.array([[1, 0], [1, 2]]), 3) ** 2 + tg.unsorted_segment_min(
        d, np.array([[1, 0], [1, 2]]), 3) ** 3, "usmm"), [distinct((2, 2, 3), "um")]),
    ("boolean_mask", _named(lambda x: tg.boolean_mask(x, np.array([True, False, True])) ** 2,
                            "bm"), [normal((3, 2), "bm")]),
    ("reverse/roll", _named(lambda x: tg.reverse(x, [1]) * tg.roll(x, [1, -1], [0, 1]),
                            "rr"), [normal((3, 4), "rr")]),
    ("repeat", _named(lambda x: tg.repeat(x, [1, 0, 2], axis=0) ** 2, "rep"),
     [normal((3, 2), "rp")]),
    ("meshgrid", _named(lambda a, b: tg.meshgrid(a, b)[0] * tg.meshgrid(a, b)[1] ** 2, "mg"),
     [normal((3,), "ma"), normal((2,), "mb")]),
    ("pad REFLECT/SYMMETRIC", _named(lambda x: tg.pad(x, [[1, 2], [2, 1]], "REFLECT") ** 2 *
                                     tg.pad(x, [[1, 2], [2, 1]], "SYMMETRIC"), "padr"),
     [normal((3, 4), "pr")]),
    ("cond/while_loop", _named(lambda x: tg.while_loop(
        lambda i, y: i < 3, lambda i, y: (i + 1, tg.cond(tg.reduce_sum(y) > 0,
                                                         lambda: y * x, lambda: y - x)),
        [0, x])[1], "cf"), [normal((3,), "cf")]),
]
