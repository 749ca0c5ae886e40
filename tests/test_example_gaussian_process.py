"""examples/gaussian_process.py runs, its gradient descent converges, and its Hessian
equals finite differences of the exact gradient (and is positive definite there)."""

import importlib.util
import os

import numpy as np

import tapegrad as tg

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _example():
    spec = importlib.util.spec_from_file_location(
        "tapegrad_example_gp", os.path.join(ROOT, "examples", "gaussian_process.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_gaussian_process_example(capsys):
    gp = _example()
    theta, trace, h = gp.main(["--steps", "150", "--points", "30"])
    out = capsys.readouterr().out
    assert "NLML" in out and "Hessian eigenvalues" in out
    assert trace[-1] < trace[0] - 10
    x, y = gp.make_data(30)
    xt, yt = tg.constant(x), tg.constant(y)

    def grad(t):
        t = tg.constant(t)
        with tg.GradientTape() as tape:
            tape.watch(t)
            loss = gp.nlml(t, xt, yt)
        return tape.gradient(loss, t).numpy()

    # the gradient at the optimum is small next to where it started
    assert np.linalg.norm(grad(theta.numpy())) < 0.05 * np.linalg.norm(grad(np.zeros(3)))
    # Hessian: symmetric, positive definite, equal to central differences of the gradient
    h = h.numpy()
    np.testing.assert_allclose(h, h.T, rtol=1e-8, atol=1e-8)
    assert np.all(np.linalg.eigvalsh(h) > 0)
    eps = 1e-5
    fd = np.stack([(grad(theta.numpy() + eps * e) - grad(theta.numpy() - eps * e)) / (2 * eps)
                   for e in np.eye(3)])
    np.testing.assert_allclose(h, fd, rtol=1e-5, atol=1e-5)
    # the NLML value itself against a direct NumPy evaluation
    ell, s, sig = np.exp(theta.numpy())
    k = s ** 2 * np.exp(-0.5 * (x[:, None] - x[None, :]) ** 2 / ell ** 2) + \
        (sig ** 2 + 1e-6) * np.eye(30)
    ref = 0.5 * y @ np.linalg.solve(k, y) + 0.5 * np.linalg.slogdet(k)[1] + \
        15 * np.log(2 * np.pi)
    np.testing.assert_allclose(float(gp.nlml(theta, xt, yt)), ref, rtol=1e-10)
