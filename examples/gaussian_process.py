"""Gaussian-process regression: fit the kernel's hyperparameters by the exact gradient of
the negative log marginal likelihood, then take its Hessian at the optimum.

    python examples/gaussian_process.py [--steps 150] [--points 40]

The model: y = f(x) + noise, f ~ GP(0, k), k(x, x') = s^2 exp(-(x - x')^2 / (2 l^2)),
noise ~ N(0, sigma^2).  With K = k(X, X) + sigma^2 I and its Cholesky factor L,

    NLML = 1/2 |L^-1 y|^2 + 1/2 log det K + n/2 log(2 pi)

(``tg.linalg.cholesky``, ``triangular_solve``, ``logdet``).  The hyperparameters live in
log space (theta = [log l, log s, log sigma]).  Adam follows the exact gradient; the
Hessian (``tg.hessian``: forward over reverse through the Cholesky factorization) gives
the curvature at the optimum — a Laplace approximation's covariance is its inverse.
"""

import argparse
import math

import numpy as np

import tapegrad as tg


def make_data(n, seed=0):
    rng = np.random.default_rng(seed)
    x = np.sort(rng.uniform(-3.0, 3.0, n))
    y = np.sin(2.0 * x) + 0.5 * x + 0.2 * rng.standard_normal(n)
    return x, y


def nlml(theta, x, y):
    """Negative log marginal likelihood of y at log-hyperparameters theta (a 3-vector)."""
    lengthscale, signal, noise = tg.unstack(tg.exp(theta))
    d = x[:, None] - x[None, :]
    k = tg.square(signal) * tg.exp(-0.5 * tg.square(d / lengthscale))
    n = x.shape[0]
    k = k + (tg.square(noise) + 1e-6) * tg.eye(n, dtype=theta.dtype)
    chol = tg.linalg.cholesky(k)
    alpha = tg.linalg.triangular_solve(chol, y[:, None], lower=True)
    return (0.5 * tg.reduce_sum(tg.square(alpha)) + 0.5 * tg.linalg.logdet(k)
            + 0.5 * n * math.log(2.0 * math.pi))


def fit(x, y, steps=150, learning_rate=0.05):
    """Adam on the exact gradient; returns (theta, loss trace)."""
    x = tg.constant(x)
    y = tg.constant(y)
    theta = tg.Variable(np.zeros(3))
    opt = tg.optimizers.Adam(learning_rate)
    trace = []
    for _ in range(steps):
        with tg.GradientTape() as tape:
            loss = nlml(theta, x, y)
        opt.apply_gradients([(tape.gradient(loss, theta), theta)])
        trace.append(float(loss))
    return tg.constant(theta.numpy()), trace


def hessian_at(theta, x, y):
    """The 3 x 3 Hessian of the NLML in the log-hyperparameters."""
    x = tg.constant(x)
    y = tg.constant(y)
    return tg.hessian(lambda t: nlml(t, x, y))(theta)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--points", type=int, default=40)
    args = parser.parse_args(argv)
    x, y = make_data(args.points)
    theta, trace = fit(x, y, steps=args.steps)
    h = hessian_at(theta, x, y)
    ell, s, sigma = np.exp(theta.numpy())
    print("NLML: %.4f -> %.4f" % (trace[0], trace[-1]))
    print("lengthscale %.3f  signal %.3f  noise %.3f" % (ell, s, sigma))
    print("Hessian eigenvalues:", np.round(tg.linalg.eigvalsh(h).numpy(), 4))
    return theta, trace, h


if __name__ == "__main__":
    main()
