"""Forwards of the array ops at 10^5 elements next to the NumPy function each wraps
(``python bench/compare.py --array-ops``).  Both sides run in one process on the same
float64 input, interleaved sample by sample so background load hits both alike; the
table gives the median ratio and its spread (min..max of per-sample ratios).
"""

import statistics
import time

import numpy as np

N = 100_000


def pairs():
    import tapegrad as tg
    import tapegrad.numpy as tnp

    rng = np.random.default_rng(0)
    xn = rng.standard_normal(N)
    x = tg.constant(xn)
    ids = np.sort(rng.integers(0, 1000, N))
    mask = xn > 0
    rows = xn.reshape(1000, 100)
    xr = tg.constant(rows)
    idx2 = rng.integers(0, 1000, (N, 1))
    upd = rng.standard_normal(N)
    return [
        ("cumsum", lambda: tg.cumsum(x), lambda: np.cumsum(xn)),
        ("cumprod", lambda: tg.cumprod(x), lambda: np.cumprod(xn)),
        ("cumulative_logsumexp", lambda: tg.cumulative_logsumexp(x),
         lambda: np.logaddexp.accumulate(xn)),
        ("sort", lambda: tg.sort(x), lambda: np.sort(xn)),
        ("argsort (stable)", lambda: tg.argsort(x), lambda: np.argsort(xn, kind="stable")),
        ("top_k k=5 (rows of 100)", lambda: tg.top_k(xr, 5),
         lambda: np.argsort(-rows, axis=1, kind="stable")[:, :5]),
        ("reverse", lambda: tg.reverse(x, [0]), lambda: np.flip(xn)),
        ("roll", lambda: tg.roll(x, 7, 0), lambda: np.roll(xn, 7)),
        ("repeat x2", lambda: tg.repeat(x, 2), lambda: np.repeat(xn, 2)),
        ("boolean_mask", lambda: tg.boolean_mask(x, mask), lambda: xn[mask]),
        ("gather_nd", lambda: tg.gather_nd(xr, idx2), lambda: rows[idx2[:, 0]]),
        ("scatter_nd", lambda: tg.scatter_nd(idx2[:, :1] % 1000, upd, [1000]),
         lambda: np.bincount(idx2[:, 0] % 1000, upd, minlength=1000)),
        ("segment_sum", lambda: tg.segment_sum(x, ids),
         lambda: np.bincount(ids, xn, minlength=1000)),
        ("unsorted_segment_max", lambda: tg.unsorted_segment_max(x, ids, 1000),
         lambda: np.maximum.at(np.full(1000, -np.inf), ids, xn)),
        ("pad REFLECT", lambda: tg.pad(x, [[5, 5]], "REFLECT"),
         lambda: np.pad(xn, 5, "reflect")),
        ("tnp.sinh", lambda: tnp.sinh(x), lambda: np.sinh(xn)),
        ("tnp.logaddexp", lambda: tnp.logaddexp(x, x), lambda: np.logaddexp(xn, xn)),
        ("tnp.sum", lambda: tnp.sum(x), lambda: np.sum(xn)),
        ("tnp.var", lambda: tnp.var(x), lambda: np.var(xn)),
    ]


def _time(fn, number):
    t0 = time.perf_counter()
    for _ in range(number):
        fn()
    return (time.perf_counter() - t0) / number


def measure(repeats=15):
    rows = []
    for name, ours, theirs in pairs():
        ours()
        theirs()
        per = _time(theirs, 3)
        number = max(1, int(0.01 / max(per, 1e-7)))
        t_ours, t_np, ratios = [], [], []
        for _ in range(repeats):
            a = _time(ours, number)
            b = _time(theirs, number)
            t_ours.append(a)
            t_np.append(b)
            ratios.append(a / b)
        rows.append((name, statistics.median(t_ours), statistics.median(t_np),
                     statistics.median(ratios), min(ratios), max(ratios)))
    return rows


def main(quick=False):
    import os

    rows = measure(5 if quick else 15)
    print("Array-op forwards at 10^5 float64 elements vs NumPy (load average %.1f)"
          % os.getloadavg()[0])
    print("| op | tapegrad | NumPy | ratio (median) | ratio spread | <= 1.3x |")
    print("| --- | ---: | ---: | ---: | ---: | :---: |")
    for name, a, b, r, lo, hi in rows:
        print("| %s | %.1f us | %.1f us | %.2fx | %.2f-%.2f | %s |"
              % (name, a * 1e6, b * 1e6, r, lo, hi, "yes" if r <= 1.3 else "no"))


if __name__ == "__main__":
    main()
