# ruff: noqa: E501  (the op table: one tapegrad/PyTorch pair per line reads best)
"""Random programs, tapegrad against PyTorch: the loss, its gradient and a Hessian-vector
product (second order, the backward pass recorded by an outer tape), float64.

Each seed builds a random DAG of 2-8 ops over 1-3 inputs of mixed shapes (broadcasting,
reductions, shape ops, linear algebra on SPD matrices with distinct eigenvalues), and a
scalar loss from all intermediate values.  Where PyTorch's own result is not finite (a
0/0 it leaves as NaN, as in the std of a constant), the case says nothing and is
skipped.  QR, pinv and eigenvectors are left out: at the rank-deficient or degenerate
inputs random programs produce, their derivatives do not exist.
"""
import numpy as np
import pytest

import tapegrad as tg

torch = pytest.importorskip("torch")

def unary_ops():
    # (name, tg fn, torch fn, domain transform applied first so values stay in range)
    return [
        ("exp_tanh", lambda x: tg.exp(tg.tanh(x)), lambda x: torch.exp(torch.tanh(x))),
        ("tanh", tg.tanh, torch.tanh),
        ("sigmoid", tg.sigmoid, torch.sigmoid),
        ("sin", tg.sin, torch.sin),
        ("cos", tg.cos, torch.cos),
        ("softplus", tg.nn.softplus, torch.nn.functional.softplus),
        ("square", tg.square, torch.square),
        ("log1p_sq", lambda x: tg.log1p(x * x), lambda x: torch.log1p(x * x)),
        ("sqrt_sq1", lambda x: tg.sqrt(x * x + 1.0), lambda x: torch.sqrt(x * x + 1.0)),
        ("recip", lambda x: 1.0 / (x * x + 1.0), lambda x: 1.0 / (x * x + 1.0)),
        ("erf", tg.math.erf, torch.erf),
        ("relu", tg.nn.relu, torch.relu),
        ("abs", tg.abs, torch.abs),
        ("elu", tg.nn.elu, torch.nn.functional.elu),
        ("selu", tg.nn.selu, torch.nn.functional.selu),
        ("atan", tg.math.atan, torch.atan),
        ("asinh", tg.math.asinh, torch.asinh),
        ("pow3", lambda x: tg.pow(x, 3.0), lambda x: torch.pow(x, 3.0)),
        ("pow15", lambda x: tg.pow(x * x + 0.5, 1.5), lambda x: torch.pow(x * x + 0.5, 1.5)),
        ("neg", tg.negative, torch.neg),
        ("clip", lambda x: tg.clip_by_value(x, -0.5, 0.7), lambda x: torch.clamp(x, -0.5, 0.7)),
        ("gelu", lambda x: tg.nn.gelu(x, approximate=False), lambda x: torch.nn.functional.gelu(x)),
        ("swish", tg.nn.swish, torch.nn.functional.silu),
        ("lsm", lambda x: tg.nn.log_softmax(x, axis=-1), lambda x: torch.log_softmax(x, -1)),
        ("sm", lambda x: tg.nn.softmax(x, axis=-1), lambda x: torch.softmax(x, -1)),
        ("lse_keep", lambda x: tg.reduce_logsumexp(x, axis=-1, keepdims=True),
         lambda x: torch.logsumexp(x, -1, keepdim=True)),
        ("sum0k", lambda x: tg.reduce_sum(x, axis=0, keepdims=True), lambda x: x.sum(0, keepdim=True)),
        ("mean_last", lambda x: tg.reduce_mean(x, axis=-1, keepdims=True), lambda x: x.mean(-1, keepdim=True)),
        ("max_last", lambda x: tg.reduce_max(x, axis=-1, keepdims=True), lambda x: x.amax(-1, keepdim=True)),
        ("min0", lambda x: tg.reduce_min(x, axis=0, keepdims=True), lambda x: x.amin(0, keepdim=True)),
        ("prod_last", lambda x: tg.reduce_prod(x, axis=-1, keepdims=True), lambda x: x.prod(-1, keepdim=True)),
        ("std", lambda x: tg.math.reduce_std(x, axis=-1, keepdims=True), lambda x: x.std(-1, keepdim=True, unbiased=False)),
        ("var", lambda x: tg.math.reduce_variance(x, axis=0, keepdims=True), lambda x: x.var(0, keepdim=True, unbiased=False)),
        ("cumsum", lambda x: tg.cumsum(x, axis=-1), lambda x: torch.cumsum(x, -1)),
        ("cumprod", lambda x: tg.math.cumprod(x, axis=0), lambda x: torch.cumprod(x, 0)),
        ("rev", lambda x: tg.reverse(x, axis=[-1]), lambda x: torch.flip(x, [-1])),
        ("roll", lambda x: tg.roll(x, 1, axis=-1), lambda x: torch.roll(x, 1, -1)),
        ("slice", lambda x: x[..., ::2] if x.shape[-1] > 1 else x, lambda x: x[..., ::2] if x.shape[-1] > 1 else x),
        ("sort", lambda x: tg.sort(x, axis=-1), lambda x: torch.sort(x, -1).values),
        ("l2n", lambda x: tg.nn.l2_normalize(x, axis=-1), lambda x: x / torch.sqrt(torch.clamp((x * x).sum(-1, keepdim=True), min=1e-12))),
        ("norm", lambda x: tg.norm(x, axis=-1, keepdims=True), lambda x: torch.linalg.vector_norm(x, dim=-1, keepdim=True)),
        ("flat", lambda x: tg.reshape(x, [-1]), lambda x: x.reshape(-1)),
        ("tile", lambda x: tg.tile(x, [2] * x.ndim), lambda x: x.repeat(*([2] * x.ndim)) if x.ndim else x * 1.0),
        ("pad", lambda x: tg.pad(x, [[1, 0]] * x.ndim), lambda x: torch.nn.functional.pad(x, [1, 0] * x.ndim)),
        ("concat", lambda x: tg.concat([x, x * 2.0], axis=-1), lambda x: torch.cat([x, x * 2.0], -1)),
        ("stack", lambda x: tg.stack([x, tg.sin(x)], axis=0), lambda x: torch.stack([x, torch.sin(x)], 0)),
        ("gather", lambda x: tg.gather(x, [0, 0, x.shape[0] - 1], axis=0), lambda x: x[[0, 0, x.shape[0] - 1]]),
        ("lse_all", lambda x: tg.reduce_logsumexp(x), lambda x: torch.logsumexp(x.reshape(-1), 0)),
        ("clse", lambda x: tg.math.cumulative_logsumexp(x, axis=-1), lambda x: torch.logcumsumexp(x, -1)),
        ("lgamma", lambda x: tg.math.lgamma(x * x + 0.5), lambda x: torch.lgamma(x * x + 0.5)),
        ("digamma", lambda x: tg.math.digamma(x * x + 0.5), lambda x: torch.digamma(x * x + 0.5)),
        ("matT", lambda x: tg.transpose(x) if x.ndim == 2 else x, lambda x: x.T if x.ndim == 2 else x),
        ("gram", lambda x: tg.matmul(x, x, transpose_b=True) if x.ndim == 2 else x * x, lambda x: x @ x.T if x.ndim == 2 else x * x),
        ("inv", lambda x: tg.linalg.inv(_spd_tg(x)), lambda x: torch.linalg.inv(_spd_t(x))),
        ("chol", lambda x: tg.linalg.cholesky(_spd_tg(x)), lambda x: torch.linalg.cholesky(_spd_t(x))),
        ("slogdet", lambda x: tg.linalg.slogdet(_spd_tg(x))[1], lambda x: torch.linalg.slogdet(_spd_t(x))[1]),
        ("eigvalsh", lambda x: tg.linalg.eigvalsh(_spd_tg(x)), lambda x: torch.linalg.eigvalsh(_spd_t(x))),
        ("svals", lambda x: tg.linalg.svd(x, compute_uv=False) if x.ndim == 2 else x, lambda x: torch.linalg.svdvals(x) if x.ndim == 2 else x),
        ("solve", lambda x: tg.linalg.solve(_spd_tg(x), _rhs_tg(x)), lambda x: torch.linalg.solve(_spd_t(x), _rhs_t(x))),
        ("expm", lambda x: tg.linalg.expm(0.3 * _spd_tg(x)), lambda x: torch.linalg.matrix_exp(0.3 * _spd_t(x))),
        ("det", lambda x: tg.linalg.det(_spd_tg(x)), lambda x: torch.linalg.det(_spd_t(x))),
        ("fro", lambda x: tg.norm(x, "fro", axis=[-2, -1]) if x.ndim == 2 else tg.norm(x), lambda x: torch.linalg.matrix_norm(x) if x.ndim == 2 else torch.linalg.vector_norm(x)),
        ("nuc", lambda x: tg.norm(x, "nuc", axis=[-2, -1]) if x.ndim == 2 else x, lambda x: torch.linalg.matrix_norm(x, "nuc") if x.ndim == 2 else x),
        ("fftabs", lambda x: tg.abs(tg.signal.rfft(x)), lambda x: torch.abs(torch.fft.rfft(x))),
    ]

def _mat(x, lib):
    if x.ndim == 0:
        x = (tg.reshape(x, [1, 1]) if lib == "tg" else x.reshape(1, 1))
    elif x.ndim == 1:
        x = (tg.expand_dims(x, 0) if lib == "tg" else x[None])
    return x

def _spd_tg(x):
    m = _mat(x, "tg")
    n = m.shape[0]
    return tg.matmul(m, m, transpose_b=True) + tg.constant(
        np.diag(np.arange(1.0, n + 1)) * (n + 1.0), dtype=m.dtype)

def _spd_t(x):
    m = _mat(x, "t")
    n = m.shape[0]
    return m @ m.mT + torch.diag(torch.arange(1.0, n + 1, dtype=m.dtype)) * (n + 1.0)

def _rhs_tg(x):
    return _mat(x, "tg")

def _rhs_t(x):
    return _mat(x, "t")

def binary_ops():
    return [
        ("add", lambda a, b: a + b, lambda a, b: a + b),
        ("sub", lambda a, b: a - b, lambda a, b: a - b),
        ("mul", lambda a, b: a * b, lambda a, b: a * b),
        ("div", lambda a, b: a / (b * b + 1.0), lambda a, b: a / (b * b + 1.0)),
        ("max", tg.maximum, torch.maximum),
        ("min", tg.minimum, torch.minimum),
        ("where", lambda a, b: tg.where(a > b, a * b, a - b), lambda a, b: torch.where(a > b, a * b, a - b)),
        ("atan2", lambda a, b: tg.math.atan2(a, b * b + 0.5), lambda a, b: torch.atan2(a, b * b + 0.5)),
        ("sqdiff", tg.math.squared_difference, lambda a, b: (a - b) ** 2),
        ("pow", lambda a, b: tg.pow(a * a + 0.5, tg.tanh(b)), lambda a, b: torch.pow(a * a + 0.5, torch.tanh(b))),
        ("xlogy", lambda a, b: tg.math.xlogy(a, b * b + 0.5), lambda a, b: torch.xlogy(a, b * b + 0.5)),
        ("matmul", lambda a, b: tg.matmul(_mat(a, "tg"), _mat(b, "tg"), transpose_b=True) if _mat(a, "tg").shape[-1] == _mat(b, "tg").shape[-1] else a * 1.0,
         lambda a, b: _mat(a, "t") @ _mat(b, "t").T if _mat(a, "t").shape[-1] == _mat(b, "t").shape[-1] else a * 1.0),
        ("einsum", lambda a, b: tg.einsum("ij,kj->ik", _mat(a, "tg"), _mat(b, "tg")) if _mat(a, "tg").shape[-1] == _mat(b, "tg").shape[-1] else a * 1.0,
         lambda a, b: torch.einsum("ij,kj->ik", _mat(a, "t"), _mat(b, "t")) if _mat(a, "t").shape[-1] == _mat(b, "t").shape[-1] else a * 1.0),
    ]

SHAPES = [(3, 4), (4,), (3, 1), (1, 4), (), (3, 3), (4, 3)]

def broadcastable(s1, s2):
    try:
        np.broadcast_shapes(s1, s2)
        return True
    except ValueError:
        return False

def build_program(seed):
    """(inputs, a direction per input, evaluate(lib, inputs) -> scalar loss, description)."""
    rng = np.random.default_rng(seed)
    unary, binary = unary_ops(), binary_ops()
    n_in = rng.integers(1, 4)
    shapes = [SHAPES[rng.integers(0, len(SHAPES))] for _ in range(n_in)]
    xs = [rng.standard_normal(s) for s in shapes]
    vs = [rng.standard_normal(s) for s in shapes]
    prog = []
    n_ops = rng.integers(2, 9)
    vals = [torch.tensor(x) for x in xs]      # shapes as the program grows
    reducing = ("lsm", "sm", "lse_keep", "sum0k", "mean_last", "max_last", "min0",
                "prod_last", "std", "var", "cumsum", "cumprod", "rev", "roll", "slice",
                "sort", "l2n", "norm", "flat", "pad", "concat", "gather", "clse", "fftabs")
    while len(prog) < n_ops:
        if rng.random() < 0.55:
            i = int(rng.integers(0, len(vals)))
            k = int(rng.integers(0, len(unary)))
            if vals[i].ndim == 0 and unary[k][0] in reducing:
                continue
            prog.append(("u", k, (i,)))
            vals.append(unary[k][2](vals[i]))
        else:
            i, j = (int(v) for v in rng.choice(len(vals), 2))
            k = int(rng.integers(0, len(binary)))
            a, b = vals[i], vals[j]
            if not broadcastable(tuple(a.shape), tuple(b.shape)):
                b = b.sum()
            prog.append(("b", k, (i, j)))
            vals.append(binary[k][2](a, b))
    def evaluate(lib, inputs):
        pool = list(inputs)
        for kind, k, ops in prog:
            if kind == "u":
                fn = unary[k][1 if lib == "tg" else 2]
                pool.append(fn(pool[ops[0]]))
            else:
                fn = binary[k][1 if lib == "tg" else 2]
                a, b = pool[ops[0]], pool[ops[1]]
                sa, sb = tuple(a.shape), tuple(b.shape)
                if not broadcastable(sa, sb):
                    b = (tg.reduce_sum(b) if lib == "tg" else b.sum())
                pool.append(fn(a, b))
        total = 0.0
        for i, t in enumerate(pool[len(inputs):]):
            w = 0.1 * (i + 1)
            total = total + w * (tg.reduce_sum(tg.tanh(t)) if lib == "tg" else torch.tanh(t).sum())
        return total
    desc = [(kind, (unary if kind == "u" else binary)[k][0], ops) for kind, k, ops in prog]
    return xs, vs, evaluate, (shapes, desc)


def run(seed):
    xs, vs, evaluate, (shapes, desc) = build_program(seed)
    # torch
    txs = [torch.tensor(x, requires_grad=True) for x in xs]
    tl = evaluate("torch", txs)
    tgs = torch.autograd.grad(tl, txs, create_graph=True, allow_unused=True)
    tgs = [g if g is not None else torch.zeros_like(x) for g, x in zip(tgs, txs)]
    s = sum((g * torch.tensor(v)).sum() for g, v in zip(tgs, vs))
    if s.requires_grad:
        thv = torch.autograd.grad(s, txs, allow_unused=True)
        thv = [h if h is not None else torch.zeros_like(x) for h, x in zip(thv, txs)]
    else:
        thv = [torch.zeros_like(x) for x in txs]
    # tapegrad
    gxs = [tg.Variable(x) for x in xs]
    with tg.GradientTape() as t2:
        with tg.GradientTape() as t1:
            gl = evaluate("tg", gxs)
        ggs = t1.gradient(gl, gxs)
        ggs = [g if g is not None else tg.zeros_like(x) for g, x in zip(ggs, gxs)]
        gs_ = tg.add_n([tg.reduce_sum(g * tg.constant(v)) for g, v in zip(ggs, vs)])
    ghv = t2.gradient(gs_, gxs)
    ghv = [h if h is not None else tg.zeros_like(x) for h, x in zip(ghv, gxs)]
    bad = []
    def cmp(what, a, b):
        a = np.asarray(a)
        b = b.detach().numpy()
        if not np.isfinite(b).all():
            return
        if a.shape != b.shape or not np.allclose(a, b, rtol=1e-7, atol=1e-9):
            bad.append((what, a, b))
    cmp("loss", gl.numpy(), tl)
    for i in range(len(xs)):
        cmp("grad%d" % i, ggs[i].numpy(), tgs[i])
        cmp("hvp%d" % i, ghv[i].numpy(), thv[i])
    if bad:
        return shapes, desc, bad
    return None



@pytest.mark.parametrize("seed", range(150))
def test_random_program_matches_torch(seed):
    torch.set_default_dtype(torch.float64)
    with np.errstate(all="ignore"):
        result = run(seed)
    if result is not None:
        shapes, desc, bad = result
        what, a, b = bad[0]
        raise AssertionError("seed %d, inputs %s, program %s: %s differs\n tapegrad %s\n torch %s"
                             % (seed, shapes, desc, what, a.ravel()[:8], b.ravel()[:8]))
