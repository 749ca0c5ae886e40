"""compat.tf1 exposes tf.linalg, tf.math, tf.signal, tf.spectral and the TF 1.x top-level
names of the scientific ops (the same functions as the native namespaces)."""

import numpy as np

import tapegrad as tg
import tapegrad.compat.tf1 as tf


def test_namespaces_are_the_native_ones():
    assert tf.linalg is tg.linalg and tf.math is tg.math
    assert tf.signal is tg.signal and tf.spectral is tg.signal


def test_v1_top_level_names():
    pairs = {"matrix_inverse": tg.linalg.inv, "cholesky": tg.linalg.cholesky,
             "self_adjoint_eig": tg.linalg.eigh, "svd": tg.linalg.svd, "qr": tg.linalg.qr,
             "matrix_determinant": tg.linalg.det, "matrix_solve": tg.linalg.solve,
             "matrix_triangular_solve": tg.linalg.triangular_solve, "trace": tg.linalg.trace,
             "matrix_band_part": tg.linalg.band_part, "erf": tg.math.erf,
             "lgamma": tg.math.lgamma, "digamma": tg.math.digamma, "fft": tg.signal.fft,
             "ifft2d": tg.signal.ifft2d, "complex": tg.complex, "real": tg.real}
    for name, fn in pairs.items():
        assert getattr(tf, name) is fn, name
        assert name in dir(tf)
    assert tf.complex64 == np.complex64


def test_tf1_style_program():
    """A TF 1.x snippet: Cholesky solve and an FFT power spectrum, with gradients."""
    a = tf.constant([[4.0, 1.0], [1.0, 3.0]], dtype=tf.float64)
    b = tf.constant([[1.0], [2.0]], dtype=tf.float64)
    with tf.GradientTape() as tape:
        tape.watch(a)
        chol = tf.cholesky(a)
        x = tf.linalg.cholesky_solve(chol, b)
        loss = tf.reduce_sum(x) + tf.reduce_sum(tf.abs(tf.spectral.rfft(tf.reshape(x, [-1]))))
    np.testing.assert_allclose(x.numpy(), np.linalg.solve(a.numpy(), b.numpy()), rtol=1e-12)
    g = tape.gradient(loss, a)
    assert g.shape == (2, 2) and np.all(np.isfinite(g.numpy()))
