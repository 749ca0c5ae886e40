"""AdamW, Adam(amsgrad=True), Adamax, Nadam, Ftrl against NumPy references of their
update rules over several steps; clipnorm/clipvalue/global_clipnorm on every optimizer;
checkpoint round trips of the new state."""

import numpy as np
import pytest

import tapegrad as tg

STEPS = 5


def _problem(seed=0):
    rng = np.random.default_rng(seed)
    w0 = rng.normal(size=(3, 4))
    grads = [rng.normal(size=(3, 4)) for _ in range(STEPS)]
    return w0, grads


def _run(opt, w0, grads, dtype=np.float64):
    var = tg.Variable(w0.astype(dtype), dtype=dtype)
    for g in grads:
        opt.apply_gradients([(tg.constant(g.astype(dtype)), var)])
    return var.numpy()


def _adam_ref(w0, grads, lr=1e-3, b1=0.9, b2=0.999, eps=1e-7, wd=0.0, amsgrad=False):
    w = w0.copy()
    m = np.zeros_like(w)
    v = np.zeros_like(w)
    vhat = np.zeros_like(w)
    for t, g in enumerate(grads, 1):
        w = w - lr * wd * w
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        vhat = np.maximum(vhat, v)
        lr_t = lr * np.sqrt(1 - b2 ** t) / (1 - b1 ** t)
        w = w - lr_t * m / (np.sqrt(vhat if amsgrad else v) + eps)
    return w


def test_adamw_decoupled_weight_decay_and_exclusions():
    w0, grads = _problem()
    got = _run(tg.optimizers.AdamW(0.01, weight_decay=0.1), w0, grads)
    np.testing.assert_allclose(got, _adam_ref(w0, grads, lr=0.01, wd=0.1), rtol=1e-12)
    # zero gradients: only the decay acts
    opt = tg.optimizers.AdamW(0.1, weight_decay=0.5)
    var = tg.Variable(np.ones(3))
    opt.apply_gradients([(tg.zeros(3, dtype=tg.float64), var)])
    np.testing.assert_allclose(var.numpy(), 0.95)
    bias = tg.Variable(np.ones(3), name="dense/bias")
    opt.exclude_from_weight_decay(var_names=["bias"])
    opt.apply_gradients([(tg.zeros(3, dtype=tg.float64), bias)])
    np.testing.assert_allclose(bias.numpy(), 1.0)


def test_adamw_matches_torch_when_epsilon_is_negligible():
    torch = pytest.importorskip("torch")
    w0, grads = _problem(1)
    p = torch.nn.Parameter(torch.from_numpy(w0.copy()))
    t_opt = torch.optim.AdamW([p], lr=0.01, weight_decay=0.1, eps=1e-12)
    for g in grads:
        p.grad = torch.from_numpy(g.copy())
        t_opt.step()
    got = _run(tg.optimizers.AdamW(0.01, weight_decay=0.1, epsilon=1e-12), w0, grads)
    np.testing.assert_allclose(got, p.detach().numpy(), rtol=1e-9, atol=1e-12)


def test_amsgrad():
    w0, grads = _problem(2)
    grads = [g * s for g, s in zip(grads, [3.0, 0.1, 0.1, 2.0, 0.1])]  # v decreases at times
    got = _run(tg.optimizers.Adam(0.01, epsilon=1e-7, amsgrad=True), w0, grads)
    np.testing.assert_allclose(got, _adam_ref(w0, grads, lr=0.01, amsgrad=True), rtol=1e-12)
    plain = _run(tg.optimizers.Adam(0.01, epsilon=1e-7), w0, grads)
    assert not np.allclose(got, plain)
    opt = tg.optimizers.Adam(amsgrad=True)
    assert opt.get_slot_names() == ["m", "v", "vhat"]


def test_adamax():
    w0, grads = _problem(3)
    w, m, u = w0.copy(), np.zeros_like(w0), np.zeros_like(w0)
    for t, g in enumerate(grads, 1):
        m = 0.9 * m + 0.1 * g
        u = np.maximum(0.999 * u, np.abs(g))
        w = w - 0.01 / (1 - 0.9 ** t) * m / (u + 1e-7)
    np.testing.assert_allclose(_run(tg.optimizers.Adamax(0.01), w0, grads), w, rtol=1e-12)


def test_nadam_and_its_checkpointed_schedule(tmp_path):
    w0, grads = _problem(4)
    w, m, v, prod = w0.copy(), np.zeros_like(w0), np.zeros_like(w0), 1.0
    for t, g in enumerate(grads, 1):
        mu = 0.9 * (1 - 0.5 * 0.96 ** (0.004 * t))
        mu1 = 0.9 * (1 - 0.5 * 0.96 ** (0.004 * (t + 1)))
        prod *= mu
        m = 0.9 * m + 0.1 * g
        v = 0.999 * v + 0.001 * g * g
        m_hat = mu1 * m / (1 - prod * mu1) + (1 - mu) * g / (1 - prod)
        v_hat = v / (1 - 0.999 ** t)
        w = w - 0.01 * m_hat / (np.sqrt(v_hat) + 1e-7)
    np.testing.assert_allclose(_run(tg.optimizers.Nadam(0.01), w0, grads), w, rtol=1e-12)
    torch = pytest.importorskip("torch")
    p = torch.nn.Parameter(torch.from_numpy(w0.copy()))
    t_opt = torch.optim.NAdam([p], lr=0.01, eps=1e-7)
    for g in grads:
        p.grad = torch.from_numpy(g.copy())
        t_opt.step()
    # torch puts epsilon outside the bias correction of v; close, not identical
    np.testing.assert_allclose(w, p.detach().numpy(), rtol=1e-4, atol=1e-6)
    # resuming from a checkpoint continues the momentum schedule exactly
    opt = tg.optimizers.Nadam(0.01)
    var = tg.Variable(w0.copy())
    for g in grads[:3]:
        opt.apply_gradients([(tg.constant(g), var)])
    prefix = tg.train.Checkpoint(opt=opt, var=var).write(str(tmp_path / "c"))
    opt2 = tg.optimizers.Nadam(0.01)
    var2 = tg.Variable(np.zeros_like(w0))
    tg.train.Checkpoint(opt=opt2, var=var2).restore(prefix)
    for g in grads[3:]:
        opt2.apply_gradients([(tg.constant(g), var2)])
    np.testing.assert_allclose(var2.numpy(), w, rtol=1e-12)


def _ftrl_ref(w0, grads, lr, p, init, l1, l2, shrink, beta):
    w, n, z = w0.copy(), np.full_like(w0, init), np.zeros_like(w0)
    for g in grads:
        gs = g + 2 * shrink * w
        n_new = n + g * g
        z = z + gs - (n_new ** p - n ** p) / lr * w
        q = n_new ** p / lr + 2 * (l2 + beta / (2 * lr))
        w = np.where(np.abs(z) > l1, (np.sign(z) * l1 - z) / q, 0.0)
        n = n_new
    return w


@pytest.mark.parametrize("kwargs", [
    {},
    {"l1_regularization_strength": 0.05, "l2_regularization_strength": 0.1},
    {"l2_shrinkage_regularization_strength": 0.2, "beta": 0.5, "learning_rate_power": -0.7},
])
def test_ftrl(kwargs):
    w0, grads = _problem(5)
    opt = tg.optimizers.Ftrl(0.1, **kwargs)
    ref = _ftrl_ref(w0, grads, 0.1, -opt.learning_rate_power, opt.initial_accumulator_value,
                    opt.l1, opt.l2, opt.l2_shrinkage, opt.beta)
    np.testing.assert_allclose(_run(opt, w0, grads), ref, rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("make", [
    lambda **k: tg.optimizers.SGD(0.1, **k),
    lambda **k: tg.optimizers.Momentum(0.1, **k),
    lambda **k: tg.optimizers.Adam(0.1, **k),
    lambda **k: tg.optimizers.RMSProp(0.1, **k),
    lambda **k: tg.optimizers.Adagrad(0.1, **k),
    lambda **k: tg.optimizers.AdamW(0.1, **k),
    lambda **k: tg.optimizers.Adamax(0.1, **k),
    lambda **k: tg.optimizers.Nadam(0.1, **k),
    lambda **k: tg.optimizers.Ftrl(0.1, **k),
])
def test_clipping_on_every_optimizer(make):
    rng = np.random.default_rng(6)
    w0 = rng.normal(size=(2, 3))
    g1, g2 = rng.normal(size=(2, 3)) * 5, rng.normal(size=(3,)) * 5
    b0 = rng.normal(size=(3,))

    def run(opt, grads):
        a, b = tg.Variable(w0.copy()), tg.Variable(b0.copy())
        opt.apply_gradients(zip([tg.constant(g) for g in grads], [a, b]))
        return a.numpy(), b.numpy()

    # clipnorm: each gradient rescaled to norm 1
    got = run(make(clipnorm=1.0), [g1, g2])
    ref = run(make(), [g1 / np.linalg.norm(g1), g2 / np.linalg.norm(g2)])
    for x, y in zip(got, ref):
        np.testing.assert_allclose(x, y, rtol=1e-10)
    # global_clipnorm: both rescaled by one factor
    total = np.sqrt((g1 ** 2).sum() + (g2 ** 2).sum())
    got = run(make(global_clipnorm=2.0), [g1, g2])
    ref = run(make(), [g1 * 2 / total, g2 * 2 / total])
    for x, y in zip(got, ref):
        np.testing.assert_allclose(x, y, rtol=1e-10)
    # clipvalue: elementwise
    got = run(make(clipvalue=0.5), [g1, g2])
    ref = run(make(), [np.clip(g1, -0.5, 0.5), np.clip(g2, -0.5, 0.5)])
    for x, y in zip(got, ref):
        np.testing.assert_allclose(x, y, rtol=1e-10)


def test_clipping_arguments_are_checked():
    with pytest.raises(ValueError, match="not both"):
        tg.optimizers.SGD(0.1, clipnorm=1.0, global_clipnorm=1.0)
    with pytest.raises(ValueError, match="clipvalue"):
        tg.optimizers.Adam(clipvalue=-1.0)
    with pytest.raises(TypeError):
        tg.optimizers.Adam(clipnorm="big")


def test_compile_accepts_the_new_names():
    model = tg.Sequential([tg.layers.Dense(1, input_shape=(2,))])
    for name, cls in [("adamw", tg.optimizers.AdamW), ("nadam", tg.optimizers.Nadam),
                      ("adamax", tg.optimizers.Adamax), ("ftrl", tg.optimizers.Ftrl)]:
        model.compile(name, "mse")
        assert isinstance(model.optimizer, cls)
