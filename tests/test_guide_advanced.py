"""The guide's samples, continued: advanced automatic differentiation (dynamic models,
gradients_function, custom gradients), performance and devices, and py_func; same rules
as test_guide.py (copied as written apart from the import)."""

import re

import numpy as np
import pytest

import tapegrad as tg
from _guide_common import FLOAT, _fresh_state, _lines, needs_gpu, tf, tfe  # noqa: F401

# ----------------------------------------------------------------------------- advanced autodiff


def line_search_step(fn, init_x, rate=1.0):
  with tf.GradientTape() as tape:
    # Variables are automatically recorded, but manually watch a tensor
    tape.watch(init_x)
    value = fn(init_x)
  grad = tape.gradient(value, init_x)
  grad_norm = tf.reduce_sum(grad * grad)
  init_value = value
  while value > init_value - rate * grad_norm:
    x = init_x - rate * grad
    value = fn(x)
    rate /= 2.0
  return x, value


def test_line_search_step():
    target = np.array([1.0, -2.0], np.float32)

    def fn(x):
        return tf.reduce_sum(tf.square(x - target))

    init_x = tf.constant([3.0, 1.0])
    # grad = 2 (x - target) = [4, 6]; rate 1 overshoots to [-1, -5] (same value 13),
    # rate 0.5 lands exactly on the minimum.
    x, value = line_search_step(fn, init_x)
    np.testing.assert_allclose(x.numpy(), target)
    assert float(value) == 0.0

    # With a steeper function the loop halves the rate several times.
    def steep(x):
        return tf.reduce_sum(5.0 * tf.square(x))

    x, value = line_search_step(steep, tf.constant([1.0]))
    # grad 10: rates 1, 1/2, 1/4, 1/8 fail the Armijo-like test; 1/16 gives x = 0.375.
    np.testing.assert_allclose(x.numpy(), [1.0 - 10.0 / 16.0])
    assert float(value) == pytest.approx(5 * 0.375 ** 2)


def test_gradients_function():
    def square(x):
      return tf.multiply(x, x)

    grad = tfe.gradients_function(square)

    assert float(square(3.)) == 9.0  # => 9.0
    assert [float(g) for g in grad(3.)] == [6.0]    # => [6.0]

    # The second-order derivative of square:
    gradgrad = tfe.gradients_function(lambda x: grad(x)[0])
    assert [float(g) for g in gradgrad(3.)] == [2.0]  # => [2.0]

    # The third-order derivative is None:
    gradgradgrad = tfe.gradients_function(lambda x: gradgrad(x)[0])
    assert gradgradgrad(3.) == [None]  # => [None]


    # With flow control:
    def abs(x):
      return x if x > 0. else -x

    grad = tfe.gradients_function(abs)

    assert [float(g) for g in grad(3.)] == [1.0]   # => [1.0]
    assert [float(g) for g in grad(-3.)] == [-1.0]  # => [-1.0]


@tf.custom_gradient
def clip_gradient_by_norm(x, norm):
  y = tf.identity(x)
  def grad_fn(dresult):
    return [tf.clip_by_norm(dresult, norm), None]
  return y, grad_fn


def test_clip_gradient_by_norm():
    x = tf.constant([3.0, 4.0])
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = clip_gradient_by_norm(x, 1.0)
        loss = tf.reduce_sum(10.0 * y)
    np.testing.assert_array_equal(y.numpy(), x.numpy())
    # The incoming gradient [10, 10] has norm 14.14; it is clipped to norm 1.
    np.testing.assert_allclose(tape.gradient(loss, x).numpy(), [0.5 ** 0.5] * 2, rtol=1e-6)

    # A gradient already within the norm passes unchanged.
    with tf.GradientTape() as tape:
        tape.watch(x)
        loss = tf.reduce_sum(0.1 * clip_gradient_by_norm(x, 1.0))
    np.testing.assert_allclose(tape.gradient(loss, x).numpy(), [0.1, 0.1], rtol=1e-6)


def test_log1pexp_naive_and_custom():
    def log1pexp(x):
      return tf.log(1 + tf.exp(x))
    grad_log1pexp = tfe.gradients_function(log1pexp)

    # The gradient computation works fine at x = 0.
    assert [float(g) for g in grad_log1pexp(0.)] == [0.5]  # => [0.5]

    # However, x = 100 fails because of numerical instability.
    assert np.isnan(float(grad_log1pexp(100.)[0]))  # => [nan]

    @tf.custom_gradient
    def log1pexp(x):
      e = tf.exp(x)
      def grad(dy):
        return dy * (1 - 1 / (1 + e))
      return tf.log(1 + e), grad

    grad_log1pexp = tfe.gradients_function(log1pexp)

    # As before, the gradient computation works fine at x = 0.
    assert [float(g) for g in grad_log1pexp(0.)] == [0.5]  # => [0.5]

    # And the gradient computation also works at x = 100.
    assert [float(g) for g in grad_log1pexp(100.)] == [1.0]  # => [1.0]

    # The custom gradient matches the analytic sigmoid elsewhere.
    for v in (-3.0, 0.7, 5.0):
        assert float(grad_log1pexp(v)[0]) == pytest.approx(1 / (1 + np.exp(-v)), rel=1e-6)


# ----------------------------------------------------------------------------- performance


def test_measure_matmul(capsys):
    import time

    def measure(x, steps):
      # TensorFlow initializes a GPU the first time it's used, exclude from timing.
      tf.matmul(x, x)
      start = time.time()
      for i in range(steps):  # noqa: B007
        x = tf.matmul(x, x)
        _ = x.numpy()  # Make sure to execute op and not just enqueue it
      end = time.time()
      return end - start

    shape = (200, 200)  # the guide: (1000, 1000), 200 steps
    steps = 10
    print("Time to multiply a {} matrix by itself {} times:".format(shape, steps))

    # Run on CPU:
    with tf.device("/cpu:0"):
      print("CPU: {} secs".format(measure(tf.random_normal(shape), steps)))

    # Run on GPU, if available:
    if tfe.num_gpus() > 0:
      with tf.device("/gpu:0"):
        print("GPU: {} secs".format(measure(tf.random_normal(shape), steps)))
    else:
      print("GPU: not found")

    lines = _lines(capsys)
    assert lines[0] == "Time to multiply a (200, 200) matrix by itself 10 times:"
    assert re.fullmatch(r"CPU: \d+\.\d+(e-\d+)? secs", lines[1])
    if tg.num_gpus() > 0:
        assert re.fullmatch(r"GPU: \d+\.\d+(e-\d+)? secs", lines[2])
    else:
        assert lines[2] == "GPU: not found"


@needs_gpu
def test_copy_between_devices():
    x = tf.random_normal([10, 10])

    x_gpu0 = x.gpu()
    x_cpu = x.cpu()

    _ = tf.matmul(x_cpu, x_cpu)    # Runs on CPU
    _ = tf.matmul(x_gpu0, x_gpu0)  # Runs on GPU:0

    if tfe.num_gpus() > 1:
      x_gpu1 = x.gpu(1)
      _ = tf.matmul(x_gpu1, x_gpu1)  # Runs on GPU:1

    assert x_gpu0.device == "/gpu:0" and x_cpu.device == "/cpu:0"
    on_cpu = tf.matmul(x_cpu, x_cpu)
    on_gpu = tf.matmul(x_gpu0, x_gpu0)
    assert on_gpu.device == "/gpu:0"
    np.testing.assert_allclose(on_gpu.numpy(), on_cpu.numpy(), rtol=1e-4, atol=1e-4)


# ----------------------------------------------------------------------------- py_func


def test_py_func_called_eagerly(capsys):
    def my_py_func(x):
      x = tf.matmul(x, x)  # You can use tf ops
      print(x)  # but it's eager!
      return x

    # The guide builds a graph with tf.Session and tf.placeholder; under eager
    # execution the same call simply runs.
    x = tf.constant([[2.0]])
    pf = tfe.py_func(my_py_func, [x], tf.float32)

    assert _lines(capsys) == ["tg.Tensor([[4.]], shape=(1, 1), dtype=float32)"]
    np.testing.assert_array_equal(pf.numpy(), [[4.0]])  # [[4.0]]
    assert pf.dtype == tf.float32


def test_graph_mode_names_are_absent():
    for name in ("Session", "placeholder"):
        with pytest.raises(AttributeError, match=name):
            getattr(tf, name)
