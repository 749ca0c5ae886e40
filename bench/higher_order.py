"""Issue 23's vmap / Hessian budgets: tapegrad against torch.func (and a hand-written NumPy
per-example computation) in one process, single-threaded, by interleaved paired runs.

    python bench/higher_order.py              # all rows, 25 rounds
    python bench/higher_order.py --rounds 40 --rows hess100,rosen300

Rows (the issue's definitions):
  hess100   Hessian of sum(sin(x) * (A @ x)) + sum(x**4), x in R^100   vs torch.func.hessian
  rosen300  Hessian of the 300-dimensional Rosenbrock function         vs torch.func.hessian
  pex32     per-example gradients (vmap(grad(loss), in_axes=(None,)*4 + (0, 0))) of a 32-32-10
            tanh MLP with softmax cross entropy, B=256                  vs one batched gradient
  pex784    the same for 784-128-10, B=256                              vs hand-written NumPy
  jac       tg.jacobian of tanh(W @ x) (64 -> 64)                        vs torch.func.jacrev

A round times every variant of a row once (each a loop of ``number`` calls, about 5 ms, in
alternating order), so background load hits both sides alike; the report gives min and
median per call over the rounds, the ratio of the medians, and the load average before
and after.  Both libraries run one thread (``torch.set_num_threads(1)``,
``tg.config.threading.set_intra_op_parallelism_threads(1)``, OMP/OPENBLAS threads 1).
"""

import argparse
import os
import statistics
import sys
import time

if __name__ == "__main__":     # before NumPy loads its BLAS (not when a test imports this)
    for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[_v] = "1"

import numpy as np  # noqa: E402

import tapegrad as tg  # noqa: E402

try:
    import torch  # noqa: E402
    import torch.func  # noqa: E402
except ImportError:      # pragma: no cover - torch is optional
    torch = None


def _number(fn, target=0.005):
    # short samples: on a loaded machine a sample that fits in one scheduler slice is
    # less often preempted, so the minimum over rounds stays meaningful
    for _ in range(3):      # warm: traces, and jacobian's vmap path from its 2nd call
        fn()
    t = time.perf_counter()
    fn()
    dt = max(time.perf_counter() - t, 1e-7)
    return max(1, int(target / dt))


def paired(variants, rounds):
    """{name: [seconds per call per round]} with the variants alternated each round."""
    numbers = {k: _number(f) for k, f in variants.items()}
    times = {k: [] for k in variants}
    names = list(variants)
    for r in range(rounds):
        order = names if r % 2 == 0 else names[::-1]
        for k in order:
            f, n = variants[k], numbers[k]
            t = time.perf_counter()
            for _ in range(n):
                f()
            times[k].append((time.perf_counter() - t) / n)
    return times


# -- rows ------------------------------------------------------------------------------------

def hess100():
    rng = np.random.default_rng(0)
    A = rng.standard_normal((100, 100)) / 10
    x = rng.standard_normal(100)
    At, xt = tg.constant(A), tg.constant(x)

    def f(v):
        return tg.reduce_sum(tg.sin(v) * (At @ v)) + tg.reduce_sum(v ** 4)

    h = tg.hessian(f)
    out = {"tapegrad": lambda: h(xt)}
    if torch is not None:
        Ap, xp = torch.from_numpy(A), torch.from_numpy(x)

        def fp(v):
            return torch.sum(torch.sin(v) * (Ap @ v)) + torch.sum(v ** 4)

        hp = torch.func.hessian(fp)
        out["torch.func"] = lambda: hp(xp)
        assert np.allclose(h(xt).numpy(), hp(xp).numpy(), rtol=1e-10, atol=1e-10)
    return out


def rosen300():
    x = np.random.default_rng(1).standard_normal(300)
    xt = tg.constant(x)

    def f(v):
        a, b = v[:-1], v[1:]
        return tg.reduce_sum(100.0 * (b - a ** 2) ** 2 + (1.0 - a) ** 2)

    h = tg.hessian(f)
    out = {"tapegrad": lambda: h(xt)}
    if torch is not None:
        xp = torch.from_numpy(x)

        def fp(v):
            a, b = v[:-1], v[1:]
            return torch.sum(100.0 * (b - a ** 2) ** 2 + (1.0 - a) ** 2)

        hp = torch.func.hessian(fp)
        out["torch.func"] = lambda: hp(xp)
        assert np.allclose(h(xt).numpy(), hp(xp).numpy(), rtol=1e-10, atol=1e-10)
    return out


def _mlp(d_in, d_h, d_out, B, seed):
    rng = np.random.default_rng(seed)
    W1 = rng.standard_normal((d_in, d_h)) / np.sqrt(d_in)
    b1 = np.zeros(d_h)
    W2 = rng.standard_normal((d_h, d_out)) / np.sqrt(d_h)
    b2 = np.zeros(d_out)
    X = rng.standard_normal((B, d_in))
    Y = np.eye(d_out)[rng.integers(0, d_out, B)]
    return [W1, b1, W2, b2], X, Y


def _tg_loss(W1, b1, W2, b2, x, y):
    """One example (x: (d_in,), y: one-hot (d_out,)) or a batch (x: (B, d_in))."""
    h = tg.tanh(tg.matmul(x, W1) + b1)
    z = tg.matmul(h, W2) + b2
    return tg.reduce_sum(tg.nn.softmax_cross_entropy_with_logits(labels=y, logits=z))


def _per_example(d_in, d_h, d_out, B, against):
    params, X, Y = _mlp(d_in, d_h, d_out, B, 2)
    P = [tg.constant(p) for p in params]
    Xt, Yt = tg.constant(X), tg.constant(Y)
    pex = tg.vmap(tg.grad(_tg_loss, argnums=(0, 1, 2, 3)), in_axes=(None,) * 4 + (0, 0))
    batched = tg.grad(_tg_loss, argnums=(0, 1, 2, 3))
    out = {"tapegrad vmap": lambda: pex(*P, Xt, Yt)}
    ref = _numpy_per_example(params, X, Y)
    got = pex(*P, Xt, Yt)
    for g, r in zip(got, ref):
        assert np.allclose(g.numpy(), r, rtol=1e-10, atol=1e-12)
    if against == "batched":
        out["tapegrad one batched grad"] = lambda: batched(*P, Xt, Yt)
    else:
        out["numpy per-example"] = lambda: _numpy_per_example(params, X, Y)
    if torch is not None:
        Pp = [torch.from_numpy(p) for p in params]
        Xp, Yp = torch.from_numpy(X), torch.from_numpy(Y)

        def lp(ps, x, y):
            W1, b1, W2, b2 = ps
            z = torch.tanh(x @ W1 + b1) @ W2 + b2
            return -(y * torch.log_softmax(z, -1)).sum()

        tp = torch.func.vmap(torch.func.grad(lp), in_dims=(None, 0, 0))
        out["torch.func vmap"] = lambda: tp(Pp, Xp, Yp)
    return out


def _numpy_per_example(params, X, Y):
    W1, b1, W2, b2 = params
    h = np.tanh(X @ W1 + b1)
    z = h @ W2 + b2
    z = z - z.max(1, keepdims=True)
    p = np.exp(z)
    p /= p.sum(1, keepdims=True)
    dz = p - Y
    dh = (dz @ W2.T) * (1 - h * h)
    return [np.einsum("bi,bj->bij", X, dh), dh, np.einsum("bi,bj->bij", h, dz), dz]


def pex32():
    return _per_example(32, 32, 10, 256, "batched")


def pex784():
    return _per_example(784, 128, 10, 256, "numpy")


def jac():
    rng = np.random.default_rng(3)
    W = rng.standard_normal((64, 64)) / 8
    x = rng.standard_normal(64)
    Wt, xt = tg.constant(W), tg.constant(x)

    def f(v):
        return tg.tanh(Wt @ v)

    out = {"tapegrad jacobian": lambda: tg.jacobian(f)(xt)}
    if torch is not None:
        Wp, xp = torch.from_numpy(W), torch.from_numpy(x)
        jp = torch.func.jacrev(lambda v: torch.tanh(Wp @ v))
        out["torch.func.jacrev"] = lambda: jp(xp)
    return out


ROWS = {"hess100": hess100, "rosen300": rosen300, "pex32": pex32, "pex784": pex784,
        "jac": jac}


def fmt(s):
    return "%.1f µs" % (s * 1e6) if s < 1e-3 else "%.2f ms" % (s * 1e3)


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=25)
    ap.add_argument("--rows", default=",".join(ROWS))
    args = ap.parse_args(argv)
    if torch is not None:
        torch.set_num_threads(1)
    tg.config.threading.set_intra_op_parallelism_threads(1)
    print("load average before: %.2f %.2f %.2f" % os.getloadavg())
    for name in args.rows.split(","):
        variants = ROWS[name]()
        times = paired(variants, args.rounds)
        base = statistics.median(next(iter(times.values())))
        print("%s (%d rounds)" % (name, args.rounds))
        for k, ts in times.items():
            med = statistics.median(ts)
            print("  %-28s min %-10s median %-10s  first/this %.2fx"
                  % (k, fmt(min(ts)), fmt(med), base / med))
        sys.stdout.flush()
    print("load average after: %.2f %.2f %.2f" % os.getloadavg())


if __name__ == "__main__":
    main()
